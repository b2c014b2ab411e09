#!/usr/bin/env python3
"""test_usage.py BUILD - echocheck's command line and exit statuses.

  2  bad usage, each kind: nothing given, an unknown option or profile, a
     value out of its range, a bad port, HOST PORT and --server together,
     --server without {PORT}, --expect-model without a process, a --pid
     that does not exist, a --cases that matches nothing, a report in a
     folder that does not exist; always one line naming the problem and
     the usage, on stderr, and nothing on stdout
  0  --help, --version, --list; a run where nothing fails (echoserv,
     started here on a free port)
  1  a run where something fails: nobody listening on the port; a --server
     command that exits at once

Everything on 127.0.0.1; every process bounded in time and stopped by
its pid.
"""

import os
import re
import socket
import subprocess
import sys

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
ECHOCHECK = os.path.join(BUILD, "echocheck")
failures = []


def fail(what):
    failures.append(what)
    print("FAIL: echocheck usage: " + what, file=sys.stderr)


def run(*args, timeout=60):
    p = subprocess.run([ECHOCHECK] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, universal_newlines=True)
    return p.returncode, p.stdout, p.stderr


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def bad_usage(why, args, mentions):
    code, out, err = run(*args)
    if code != 2:
        fail("%s: exit %d, expected 2 (stderr: %s)" % (why, code, err.strip()))
        return
    lines = err.strip().splitlines()
    if not lines or not lines[0].startswith("echocheck: ") or \
            mentions not in lines[0] or "usage: echocheck" not in err:
        fail("%s: stderr is %r, expected 'echocheck: ...%s...' and the "
             "usage" % (why, err, mentions))
    if out:
        fail("%s: printed on stdout: %r" % (why, out))


def main():
    port = str(free_port())
    for why, args, mentions in [
            ("nothing given", [], "missing HOST PORT"),
            ("unknown option", ["--bogus", "127.0.0.1", port], "--bogus"),
            ("unknown profile", ["-p", "http", "127.0.0.1", port], "http"),
            ("--max-line out of range", ["--max-line", "5", "127.0.0.1",
                                         port], "16..1048576"),
            ("--timeout not a number", ["--timeout", "soon", "127.0.0.1",
                                        port], "soon"),
            ("port out of range", ["127.0.0.1", "70000"], "70000"),
            ("port missing", ["127.0.0.1"], "missing HOST PORT"),
            ("extra argument", ["127.0.0.1", port, "x"], "'x'"),
            ("HOST PORT and --server", ["--server", "x {PORT}", "127.0.0.1",
                                        port], "not both"),
            ("--server without {PORT}", ["--server", "x 7"], "{PORT}"),
            ("--expect-model without a process", ["--expect-model",
                                                  "threads", "127.0.0.1",
                                                  port], "--pid"),
            ("unknown model", ["--expect-model", "actors", "--server",
                               "x {PORT}"], "actors"),
            ("no such process", ["--pid", "2147483647", "127.0.0.1", port],
             "2147483647"),
            ("--cases matches nothing", ["--cases", "nosuch", "127.0.0.1",
                                         port], "nosuch"),
            ("report folder missing", ["--json", "/nonexistent/r.json",
                                       "127.0.0.1", port], "/nonexistent")]:
        bad_usage(why, args, mentions)

    code, out, _ = run("--help")
    if code != 0 or not out.startswith("usage: echocheck"):
        fail("--help: exit %d, %r" % (code, out[:40]))
    code, out, _ = run("--version")
    if code != 0 or not re.match(r"echocheck \d+\.\d+\.\d+\n$", out):
        fail("--version: exit %d, %r" % (code, out))
    for profile, at_least in (("raw", 15), ("line", 20), ("echoserv", 30)):
        code, out, _ = run("--list", "--profile", profile)
        ids = [l.split()[0] for l in out.splitlines()]
        if code != 0 or len(ids) < at_least or len(set(ids)) != len(ids):
            fail("--list --profile %s: exit %d, %d ids" % (profile, code,
                                                           len(ids)))

    # 1: nobody listens on the port (connection refused, at once).
    code, out, _ = run("--cases", "line-one,still-alive", "127.0.0.1", port)
    if code != 1 or "2 fail" not in out:
        fail("nobody listening: exit %d, expected 1 and 2 failures: %r"
             % (code, out[-200:]))
    # 1: a server command that exits at once.
    code, out, err = run("--server", "false {PORT}", "--cases", "line-one")
    if code != 1 or "exited" not in err:
        fail("--server false: exit %d, expected 1 and a word on why: %r"
             % (code, err))

    # 0: a real server, started here on port 0 (its listening line says
    # which), checked by HOST PORT, stopped by its pid.
    server = subprocess.Popen([os.path.join(BUILD, "echoserv"), "-q", "-b",
                               "127.0.0.1", "0"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE,
                              universal_newlines=True)
    try:
        line = server.stderr.readline()
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if not m:
            fail("echoserv did not say where it listens: %r" % line)
        else:
            code, out, _ = run("--cases", "line-*,model", "--pid",
                               str(server.pid), "127.0.0.1", m.group(1))
            if code != 0 or " 0 fail" not in out:
                fail("a passing run: exit %d, %r" % (code, out[-300:]))
    finally:
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)

    print("test_usage: %d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
