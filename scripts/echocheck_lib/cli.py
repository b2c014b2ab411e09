"""cli.py - the command line: options, the run, the reports, the exit
status (0 nothing failed, 1 something did, 2 bad usage).

The help text below is the man page's OPTIONS (man/echocheck.1), which
`make man-check` compares with it.
"""

import argparse
import datetime
import fnmatch
import os
import resource
import signal
import sys
import time

from . import VERSION, registry
from .report_html import write_html
from .report_json import document, write_json, write_junit
from .report_text import Terminal, use_colour
from .target import LocalServer, PidWatch, TargetError, resolve

USAGE = """usage: echocheck [options] HOST PORT
       echocheck [options] --server 'COMMAND {PORT}'"""

HELP = USAGE + """
Check an echo server case by case (framing, every byte, end of input, many
clients, clients that misbehave) and say what is wrong and why.

  -p, --profile NAME         raw, line or echoserv (default: line)
  -s, --server COMMAND       start COMMAND here, {PORT} replaced by a free
                             port, check it on 127.0.0.1, then stop it
      --max-line BYTES       longest line the server takes, LF included,
                             16..1048576 (default 8192)
      --idle-timeout SECS    the server's idle timeout, to check it, 0..60
                             (default 0 = not checked)
      --line-timeout SECS    the server's line timeout, to check it, 0..60
                             (default 0 = not checked)
      --max-conns N          connections the server holds at once, 2..10000
                             (default 1001: 1,000 idle and one active);
                             given with --profile echoserv, connection N+1
                             must be told "server full"
      --max-per-addr N       the server's limit per client address,
                             0..10000 (default 0 = not checked)
      --cycles N             connect/close cycles of churn-10000, 1..100000
                             (default 10000)
  -t, --timeout SECS         how long to wait for a reply, 1..60 (default 5)
      --pid PID              the server's process on this machine: name its
                             I/O model from /proc
      --expect-model MODEL   event-loop, threads or processes: the model
                             case fails if the server is not that
  -c, --cases LIST           only these cases: ids or patterns (line-*),
                             comma-separated
  -l, --list                 list the profile's cases and exit
      --json FILE            write the results as JSON
      --junit FILE           write them as JUnit XML, for CI
      --html FILE            write them as one self-contained HTML page
  -v, --verbose              show the wire log of every case that did not
                             pass
  -q, --quiet                print only the summary line
      --no-color             no colour, even on a terminal
  -h, --help                 print this help and exit
  -V, --version              print the version and exit

echocheck connects only to HOST (or, with --server, to 127.0.0.1).  Exit
status: 0 if no case failed, 1 if one did, 2 on bad usage.
"""

MODELS = ("event-loop", "threads", "processes")


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        # "argument --max-line: invalid ..." -> "invalid ..."
        if message.startswith("argument ") and ": " in message:
            message = message.split(": ", 1)[1]
        raise UsageError(message)


def _number(lo, hi, what):
    def parse(text):
        if not text.isdigit():
            raise argparse.ArgumentTypeError(
                "invalid %s '%s' (expected %d..%d)" % (what, text, lo, hi))
        n = int(text)
        if not lo <= n <= hi:
            raise argparse.ArgumentTypeError(
                "invalid %s '%s' (expected %d..%d)" % (what, text, lo, hi))
        return n
    return parse


def build_parser():
    p = Parser(prog="echocheck", add_help=False, allow_abbrev=False)
    p.add_argument("-p", "--profile", default="line")
    p.add_argument("-s", "--server")
    p.add_argument("--max-line", type=_number(16, 1048576, "--max-line"),
                   default=8192)
    p.add_argument("--idle-timeout", type=_number(0, 60, "--idle-timeout"),
                   default=0)
    p.add_argument("--line-timeout", type=_number(0, 60, "--line-timeout"),
                   default=0)
    p.add_argument("--max-conns", type=_number(2, 10000, "--max-conns"),
                   default=None)
    p.add_argument("--max-per-addr", type=_number(0, 10000,
                                                  "--max-per-addr"),
                   default=0)
    p.add_argument("--cycles", type=_number(1, 100000, "--cycles"),
                   default=10000)
    p.add_argument("-t", "--timeout", type=_number(1, 60, "--timeout"),
                   default=5)
    p.add_argument("--pid", type=_number(1, 2 ** 31, "--pid"))
    p.add_argument("--expect-model")
    p.add_argument("-c", "--cases")
    p.add_argument("-l", "--list", action="store_true")
    p.add_argument("--json")
    p.add_argument("--junit")
    p.add_argument("--html")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--no-color", action="store_true")
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("-V", "--version", action="store_true")
    p.add_argument("where", nargs="*")
    return p


def parse(argv):
    """Settings from argv, or UsageError."""
    s = build_parser().parse_intermixed_args(argv)
    if s.help or s.version:
        return s
    if s.profile not in registry.PROFILES:
        raise UsageError("unknown profile '%s' (raw, line or echoserv)"
                         % s.profile)
    if s.expect_model and s.expect_model not in MODELS:
        raise UsageError("unknown model '%s' (event-loop, threads or "
                         "processes)" % s.expect_model)
    s.max_conns_given = s.max_conns is not None
    if s.max_conns is None:
        s.max_conns = 1001
    if s.list:
        return s
    if s.server:
        if s.where:
            raise UsageError("give HOST PORT or --server, not both")
        if "{PORT}" not in s.server:
            raise UsageError("the --server command needs {PORT} where the "
                             "port goes")
        if s.pid:
            raise UsageError("--pid is the server echocheck starts with "
                             "--server: give one or the other")
        s.host, s.port = "127.0.0.1", None
    else:
        if len(s.where) != 2:
            raise UsageError("missing HOST PORT" if len(s.where) < 2 else
                             "unexpected argument '%s'" % s.where[2])
        s.host, port = s.where
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise UsageError("invalid port '%s' (expected 1..65535)" % port)
        s.port = int(port)
    if s.expect_model and not (s.pid or s.server):
        raise UsageError("--expect-model needs --pid PID or --server")
    if s.pid and not os.path.exists("/proc/%d" % s.pid):
        raise UsageError("no process %d on this machine" % s.pid)
    for opt in ("json", "junit", "html"):
        path = getattr(s, opt)
        if path is not None:
            folder = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(folder):
                raise UsageError("--%s %s: no folder %s" % (opt, path, folder))
    return s


def select_cases(s):
    cases = registry.cases_for(s.profile)
    if not s.cases:
        return cases
    patterns = [p.strip() for p in s.cases.split(",") if p.strip()]
    chosen = [c for c in cases if any(fnmatch.fnmatchcase(c.id, p)
                                      for p in patterns)]
    for p in patterns:
        if not any(fnmatch.fnmatchcase(c.id, p) for c in cases):
            raise UsageError("no case of profile %s matches '%s' (see "
                             "--list)" % (s.profile, p))
    return chosen


def raise_fd_limit():
    """As many descriptors as allowed: idle-1000 holds 1,000 sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    want = min(want, 65536)
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass


def usage_error(message):
    sys.stderr.write("echocheck: %s\n%s\n" % (message, USAGE))
    return 2


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    # SIGTERM ends echocheck as Ctrl-C does: the server it started is
    # stopped first.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        s = parse(argv)
        if s.help:
            sys.stdout.write(HELP)
            return 0
        if s.version:
            sys.stdout.write("echocheck %s\n" % VERSION)
            return 0
        cases = select_cases(s)
        if s.list:
            for c in cases:
                sys.stdout.write("%-18s %s\n" % (c.id, c.summary))
            return 0
        target = resolve(s.host, s.port or 1)
    except UsageError as e:
        return usage_error(str(e))
    except TargetError as e:
        return usage_error(str(e))
    try:
        return run(s, cases, target)
    except KeyboardInterrupt:
        sys.stderr.write("echocheck: interrupted\n")
        if getattr(s, "local_server", None):
            s.local_server.stop()
        return 130


def run(s, cases, target):
    raise_fd_limit()
    s.local_server = None
    watch = None
    if s.server:
        try:
            s.local_server = LocalServer(s.server)
        except TargetError as e:
            return usage_error(str(e))
        try:
            why = s.local_server.start()
        except TargetError as e:
            s.local_server.stop()
            return usage_error(str(e))
        target = resolve("127.0.0.1", s.local_server.port)
        if why:
            sys.stderr.write("echocheck: %s\n" % why)
        s.pid = s.local_server.pid
        watch = s.local_server
    elif s.pid:
        watch = PidWatch(s.pid)
        if not target.loopback:
            sys.stderr.write("echocheck: note: --pid %d is read on this "
                             "machine, the server is %s\n" % (
                                 s.pid, target.display))
    term = Terminal(sys.stdout, use_colour(sys.stdout, s.no_color),
                    quiet=s.quiet, verbose=s.verbose)
    started = datetime.datetime.now(datetime.timezone.utc)
    info = {"version": VERSION, "target": target.display,
            "profile": s.profile, "count": len(cases),
            "command": s.local_server.command if s.local_server else None,
            "pid": s.pid,
            "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "settings": settings_dict(s)}
    term.header(info)
    t0 = time.monotonic()
    try:
        records = registry.run_all(cases, s, target, watch, term.row)
    finally:
        if s.local_server:
            s.local_server.stop()
    summary = registry.summarize(records, time.monotonic() - t0)
    term.footer(records, summary)
    doc = document(info, records, summary)
    if s.json:
        write_json(s.json, doc)
    if s.junit:
        write_junit(s.junit, doc)
    if s.html:
        write_html(s.html, doc)
    return 1 if summary["fail"] else 0


def settings_dict(s):
    keys = ("max_line", "idle_timeout", "line_timeout", "max_conns",
            "max_per_addr", "cycles", "timeout", "pid", "expect_model")
    return {k: getattr(s, k) for k in keys}


if __name__ == "__main__":
    sys.exit(main())
