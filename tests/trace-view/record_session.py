#!/usr/bin/env python3
"""record_session.py SERVER OUT - record a -T trace of a scripted real session.

Starts SERVER (build/echoserv) with -T on 127.0.0.1 port 0, its stderr going
to OUT, and plays a session the viewer's browser test then draws:

  A and B connect; A sends one line; B sends three lines in one write
  (pipelined); C, whose receive buffer is tiny and which does not read,
  floods until the server's writes to it come back short (a partial write)
  and the server stops reading it (backpressure: C is only in writefds);
  D is turned away (the server is started with -c 3); C then drains,
  and the server reads it again; B says quit; A half-closes after an
  unterminated line.  Every echo is checked byte for byte, every wait is
  bounded, and the server is stopped by its PID with SIGTERM.

Exits 0 when the session went as scripted and the trace shows it; prints
what went wrong otherwise.
"""

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

WAIT_S = 5.0


class Failure(Exception):
    pass


def until(what, check, timeout=WAIT_S):
    """Poll check() until it is true, at most timeout seconds."""
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise Failure("timed out waiting for " + what)
        time.sleep(0.02)


def trace_text(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def connect(port, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(WAIT_S)
    s.connect(("127.0.0.1", port))
    return s


def read_exactly(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise Failure("connection closed after %d of %d bytes" %
                          (len(data), n))
        data += chunk
    return data


def read_to_eof(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def expect(got, want, what):
    if got != want:
        raise Failure("%s: got %r, want %r" % (what, got[:80], want[:80]))


def session(server, out):
    args = [server, "-T", "-c", "3", "-b", "127.0.0.1", "0"]
    help_text = subprocess.run([server, "--help"], capture_output=True,
                               text=True, timeout=WAIT_S).stdout
    if "--log-time" in help_text:
        args.insert(1, "--log-time")  # time stamps, when the server has them
    err = open(out, "w")
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=err)
    err.close()
    try:
        m = until("the listening line", lambda: re.search(
            r"echoserv: listening on 127\.0\.0\.1:(\d+)", trace_text(out)))
        port = int(m.group(1))
        play(port, out)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            status = proc.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(WAIT_S)
            raise Failure("the server ignored SIGTERM")
    if status != 0:
        raise Failure("the server exited %d after SIGTERM" % status)


def play(port, out):
    a = connect(port)
    b = connect(port)
    until("two accepts", lambda: len(re.findall(
        r"accepted fd", trace_text(out))) >= 2)

    a.sendall(b"hello from A\n")
    expect(read_exactly(a, 13), b"hello from A\n", "A's echo")

    pipelined = b"one\ntwo\nthree\n"
    b.sendall(pipelined)
    expect(read_exactly(b, len(pipelined)), pipelined, "B's pipelined echo")

    # C: a receive buffer as small as the kernel allows, and no reading,
    # while it sends far more than the socket buffers hold.
    c = connect(port, rcvbuf=1024)
    c.setblocking(False)
    line = b"x" * 999 + b"\n"
    sent = 0
    budget = 8 * 1024 * 1024
    deadline = time.monotonic() + WAIT_S
    while sent < budget and time.monotonic() < deadline:
        _, w, _ = select.select([], [c], [], 0.2)
        if not w:
            text = trace_text(out)
            if "(partial)" in text and stops_reading(text):
                break
            continue
        try:
            sent += c.send(line * 16)
        except BlockingIOError:
            pass
    text = trace_text(out)
    if "(partial)" not in text:
        raise Failure("no partial write after sending %d bytes to C" % sent)
    if not stops_reading(text):
        raise Failure("the server did not stop reading C (no backpressure)")

    # D arrives while the server holds three clients: turned away.
    d = connect(port)
    got = read_to_eof(d)
    expect(got, b"error: server full\r\n", "D's greeting")
    d.close()

    # C drains: every byte it sent comes back, then it says quit.
    c.setblocking(True)
    c.settimeout(WAIT_S)
    while sent % len(line):
        n = c.send(line[sent % len(line):])
        sent += n
    echoed = 0
    while echoed < sent:
        chunk = c.recv(65536)
        if not chunk:
            raise Failure("C closed after %d of %d bytes" % (echoed, sent))
        if chunk.strip(b"x\n"):
            raise Failure("C got bytes it did not send")
        echoed += len(chunk)
    c.sendall(b"quit\n")
    expect(read_to_eof(c), b"", "C after quit")
    c.close()

    b.sendall(b"quit\n")
    expect(read_to_eof(b), b"", "B after quit")
    b.close()

    a.sendall(b"last words, no newline")
    a.shutdown(socket.SHUT_WR)
    expect(read_to_eof(a), b"last words, no newline", "A after half-close")
    a.close()
    until("A's close", lambda: trace_text(out).count("-> DONE (eof)") >= 1)
    until("A, B and C closed", lambda: len(re.findall(
        r"echoserv: client \S+ closed \(fd", trace_text(out))) >= 3)


def stops_reading(text):
    """A round in which some client is watched for writing only."""
    for m in re.finditer(r"select: waiting  read=\{([\d,]*)\} "
                         r"write=\{([\d,]+)\}", text):
        reads = set(m.group(1).split(","))
        if set(m.group(2).split(",")) - reads - {"2"}:
            return True
    return False


def main(argv):
    if len(argv) != 3:
        print("usage: record_session.py SERVER OUT", file=sys.stderr)
        return 2
    os.makedirs(os.path.dirname(os.path.abspath(argv[2])), exist_ok=True)
    try:
        session(argv[1], argv[2])
    except (Failure, OSError) as e:
        print("FAIL: record_session: %s" % e, file=sys.stderr)
        return 1
    n = trace_text(argv[2]).count("select: waiting")
    print("ok: recorded a session of %d rounds in %s" % (n, argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
