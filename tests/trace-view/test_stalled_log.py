#!/usr/bin/env python3
"""test_stalled_log.py SERVER OUT - a real trace with lines missing, drawn.

SERVER runs with -T and its stderr on a pipe this test does not read while
a client makes a few thousand rounds of the loop: the pipe and the server's
log buffer fill, the server drops lines and later says "N log lines
dropped".  The trace (saved in OUT) then contradicts itself where lines
are missing; scripts/trace-view must still draw it, without calling it two
servers mixed, with a warning that names the dropped lines, and with every
round the trace holds.
"""

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

from viewer import load_viewer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
WAIT_S = 10
ROUNDS = 4000


def read_some(fd, until, timeout=WAIT_S):
    """Read from fd until the bytes read match the regex until."""
    data, end = b"", time.monotonic() + timeout
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
            m = re.search(until, data)
            if m:
                return data, m
    raise RuntimeError("the server did not print %r" % until)


def record(server, out):
    srv = subprocess.Popen([server, "-T", "-b", "127.0.0.1", "0"],
                           stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    fd = srv.stderr.fileno()
    try:
        data, m = read_some(fd, rb"listening on 127\.0\.0\.1:(\d+)\n")
        c = socket.create_connection(("127.0.0.1", int(m.group(1))),
                                     timeout=WAIT_S)
        for i in range(ROUNDS):  # one line, its echo: a round or more each
            line = b"line %d\n" % i
            c.sendall(line)
            got = b""
            while len(got) < len(line):
                got += c.recv(100)
        c.close()
        srv.send_signal(signal.SIGTERM)
        end = time.monotonic() + WAIT_S
        while time.monotonic() < end:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                data += chunk
        status = srv.wait(WAIT_S)
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait(WAIT_S)
    with open(out, "wb") as f:
        f.write(data)
    return status, data.decode(errors="replace")


def main(argv):
    if len(argv) != 3:
        print("usage: test_stalled_log.py SERVER OUT", file=sys.stderr)
        return 2
    tv = load_viewer()
    status, text = record(argv[1], argv[2])
    failures = []
    if status != 0:
        failures.append("the server exited %d after SIGTERM" % status)
    dropped = sum(int(n) for n in re.findall(r"(\d+) log lines? dropped",
                                             text))
    if dropped == 0:
        failures.append("no line was dropped: the test did not stall the log")
    page = os.path.splitext(argv[2])[0] + ".html"
    try:
        parser, rounds = tv.write_page(argv[2], page)
    except tv.TraceError as e:
        failures.append("refused as mixed: %s" % e)
    else:
        if rounds != text.count("select: waiting"):
            failures.append("%d rounds drawn, the trace has %d" %
                            (rounds, text.count("select: waiting")))
        if parser.dropped != dropped:
            failures.append("the viewer counted %d dropped lines, the trace "
                            "says %d" % (parser.dropped, dropped))
        print("trace-view stalled log: %d rounds, %d lines dropped by the "
              "server, %d warning(s), e.g. %s" % (
                  rounds, dropped, len(parser.warnings),
                  parser.warnings[0] if parser.warnings else "none"))
    for f in failures:
        print("FAIL: trace-view stalled log: " + f, file=sys.stderr)
    if failures:
        return 1
    print("ok: a trace with dropped lines is drawn, not refused")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
