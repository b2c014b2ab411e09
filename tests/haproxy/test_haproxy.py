#!/usr/bin/env python3
"""test_haproxy.py - echoserv behind a real HAProxy, on loopback.

Two echoserv servers (--proxy-from 127.0.0.1 --max-per-addr 1) behind
Debian's haproxy, run with the shipped contrib/haproxy/echoserv.cfg itself:
the environment variables the file reads point it at the two servers, a
listening socket this test holds (fd@N: no port is picked and then lost to
a race), a stats socket and HAProxy's log in a temporary directory under
BUILD_DIR/haproxy-check/.  HAProxy runs in the foreground (-db), as a child
of this test; every process here is started by it and stopped by its PID.

Clients connect to HAProxy from source addresses of their own (127.0.0.2,
127.0.0.3, ...; all of 127/8 is local on Linux) and the steps check:

  health checks  HAProxy's checks pass against echoserv --proxy-from: both
                 servers UP with check status L7OK on the stats socket, and
                 each server logs a check as a client of 127.0.0.1 (the v2
                 LOCAL header keeps the real peer) that quit after 1 line
  echoed         clients through HAProxy get their lines back byte for byte
  own addresses  each client is logged by one server as ADDR:PORT, its own
                 source address and port; every client logged as 127.0.0.1
                 (HAProxy's address) is a health check
  max-per-addr   a second client from one address gets "error: too many
                 connections" (balance source keeps an address on one
                 server); a client from another address is served
  drain          a server stopped with SIGTERM while its client has replies
                 owed delivers them all (its trace shows them written after
                 the signal; the client gets, whole lines in order, the
                 bytes its close line counts), exits 0, and meanwhile, while
                 it still drains, new clients, the first from the
                 draining client's own address (which hashes to it), are
                 echoed and logged by the other server (HAProxy's log shows
                 the first redispatched there); HAProxy marks the
                 stopped one DOWN and the other stays UP

The steps run in that order and stop at the first failure (each builds on
the one before); the logs are printed then and kept.  Every wait is
bounded.  The total time is printed; it is about 5 s, most of it waiting
for HAProxy's checks (one every 2 s in the file) to find the stopped
server DOWN.

usage: tests/haproxy/test_haproxy.py [BUILD_DIR]
"""
import csv
import grp
import os
import pwd
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONFIG = os.path.join(REPO, "contrib", "haproxy", "echoserv.cfg")
LISTENING = re.compile(rb"echoserv: listening on (\S+):(\d+)")
# The health check's line in the file, CRLF included: 23 bytes.
CHECK_LINE = b"echoserv health check\r\n"
# What a check looks like in a server's close line.
CHECK_CLOSE = ("quit; echoed 1 line, %d bytes" % len(CHECK_LINE)).encode()


def expect(cond, message):
    if not cond:
        raise AssertionError(message)


def wait_until(cond, timeout, what):
    """Poll cond() until it returns something true; return that."""
    end = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= end:
            raise AssertionError("%s: not within %.1f s" % (what, timeout))
        time.sleep(0.05)


class Backend:
    """One echoserv on 127.0.0.1, port 0, its stderr in a file."""

    def __init__(self, name, tmp, program):
        self.name = name
        self.err_path = os.path.join(tmp, name + ".log")
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(
            [program, "--proxy-from", "127.0.0.1", "--max-per-addr", "1",
             "--trace", "-b", "127.0.0.1", "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self.err)
        m = wait_until(lambda: LISTENING.search(self.log()) or
                       self.proc.poll() is not None, 5.0,
                       "%s's listening line" % name)
        expect(m is not True, "%s exited at start:\n%s" %
               (name, self.log().decode(errors="replace")))
        self.port = int(m.group(2))
        self.addr = "127.0.0.1:%d" % self.port

    def log(self):
        with open(self.err_path, "rb") as f:
            return f.read()

    def logged(self, text):
        return text.encode() in self.log()

    def stop(self):
        """SIGTERM (its graceful shutdown), SIGKILL after 5 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.err.close()


class HAProxy:
    """Debian's haproxy with the shipped file, in the foreground (-db)."""

    def __init__(self, program, tmp, backends):
        self.tmp = tmp
        self.stats = os.path.join(tmp, "stats.sock")
        self.err_path = os.path.join(tmp, "haproxy.log")
        self.err = open(self.err_path, "wb")
        # The frontend's socket is ours, passed down: its port is known
        # before HAProxy starts, and nobody else can take it meanwhile.
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        fd = self.listener.fileno()
        env = dict(os.environ,
                   ECHOSERV_LB_BIND="fd@%d" % fd,
                   ECHOSERV_LB_SERVER1=backends[0].addr,
                   ECHOSERV_LB_SERVER2=backends[1].addr,
                   ECHOSERV_LB_STATS=self.stats,
                   ECHOSERV_LB_LOG="stderr",
                   ECHOSERV_LB_USER=pwd.getpwuid(os.getuid()).pw_name,
                   ECHOSERV_LB_GROUP=grp.getgrgid(os.getgid()).gr_name)
        self.proc = subprocess.Popen([program, "-db", "-f", CONFIG],
                                     env=env, pass_fds=[fd],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.err, stderr=self.err)
        self.listener.close()  # HAProxy has its own copy
        wait_until(lambda: self.proc.poll() is not None or
                   self.ask("show info"), 5.0, "HAProxy's stats socket")
        expect(self.proc.poll() is None, "haproxy exited at start:\n%s" %
               self.log().decode(errors="replace"))
        # The socket answering is this test's HAProxy, not another one.
        pid = re.search(r"^Pid: (\d+)$", self.ask("show info"), re.M)
        expect(pid and int(pid.group(1)) == self.proc.pid,
               "the stats socket is not our HAProxy's (pid %d)" %
               self.proc.pid)

    def log(self):
        with open(self.err_path, "rb") as f:
            return f.read()

    def ask(self, command):
        """One runtime API command on the stats socket; "" if it is not
        there (yet)."""
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2.0)
        try:
            s.connect(self.stats)
            s.sendall(command.encode() + b"\n")
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out.decode(errors="replace")
                out += chunk
        except OSError:
            return ""
        finally:
            s.close()

    def servers(self):
        """{server name: row of `show stat`} for the backend echoservs."""
        text = self.ask("show stat")
        rows = csv.DictReader(text.lstrip("# ").splitlines())
        return {r["svname"]: r for r in rows
                if r.get("pxname") == "echoservs" and
                r["svname"] not in ("FRONTEND", "BACKEND")}

    def server_is(self, name, status, check_status=None):
        row = self.servers().get(name)
        return (row is not None and row["status"] == status and
                (check_status is None or row["check_status"] == check_status))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.err.close()


class Client:
    """A connection to HAProxy from a source address of its own."""

    def __init__(self, source, port, timeout=5.0):
        self.sock = socket.socket()
        self.sock.settimeout(timeout)
        self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.name = "%s:%d" % self.sock.getsockname()

    def recv_exact(self, n, timeout=5.0):
        """n bytes, or fewer if the connection ended or time ran out."""
        got = b""
        end = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < end:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                chunk = self.sock.recv(n - len(got))
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            got += chunk
        return got

    def echo(self, line):
        self.sock.sendall(line)
        got = self.recv_exact(len(line))
        expect(got == line, "%s sent %r through HAProxy, got back %r" %
               (self.name, line, got))

    def at_eof(self, timeout=5.0):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except (socket.timeout, ConnectionResetError):
            return False

    def close(self):
        self.sock.close()


class Setup:
    """The two servers and HAProxy; stop() stops whatever has started."""

    def __init__(self):
        self.backends = []
        self.haproxy = None

    def start(self, tmp):
        program = os.path.join(BUILD, "echoserv")
        haproxy = shutil.which("haproxy") or shutil.which(
            "haproxy", path="/usr/sbin:/usr/local/sbin")
        expect(haproxy is not None,
               "haproxy is not installed (make deps installs it)")
        self.backends.append(Backend("echo1", tmp, program))
        self.backends.append(Backend("echo2", tmp, program))
        self.haproxy = HAProxy(haproxy, tmp, self.backends)
        self.port = self.haproxy.port

    def client(self, source):
        return Client(source, self.port)

    def who_logged(self, text):
        """The backends whose log holds text."""
        return [b for b in self.backends if b.logged(text)]

    def served_by(self, client):
        """The one backend that logged client as connected."""
        found = wait_until(lambda: self.who_logged(
            "client %s connected (fd " % client.name), 5.0,
            "a server's log naming %s" % client.name)
        expect(len(found) == 1, "%s logged by %d servers" %
               (client.name, len(found)))
        return found[0]

    def stop(self):
        if self.haproxy is not None:
            self.haproxy.stop()
        for b in self.backends:
            b.stop()

    def dump_logs(self):
        """The last log lines of each (the servers' without their trace;
        the files are kept whole)."""
        parts = [(b.name, b.err_path, "echoserv: ") for b in self.backends]
        if self.haproxy is not None:
            parts.append(("haproxy", self.haproxy.err_path, ""))
        for name, path, prefix in parts:
            with open(path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
            tail = [line for line in lines if line.startswith(prefix)][-30:]
            print("---- %s (%s), last lines:" % (name, path))
            print("\n".join(tail))


# ---------------------------------------------------------------- the steps

def step_health_checks_pass(s):
    for b in s.backends:
        wait_until(lambda: s.haproxy.server_is(b.name, "UP", "L7OK"), 10.0,
                   "HAProxy seeing %s UP with check status L7OK" % b.name)
    # Each server served a check as a client of HAProxy's own address.
    pattern = re.compile(rb"client 127\.0\.0\.1:\d+ closed \(fd \d+\): " +
                         re.escape(CHECK_CLOSE))
    for b in s.backends:
        wait_until(lambda: pattern.search(b.log()), 5.0,
                   "%s logging a health check that quit after its line" %
                   b.name)
        expect(not b.logged("bad proxy header"),
               "%s turned a connection away: bad proxy header" % b.name)


def step_clients_are_echoed(s):
    s.echoed = []
    for i in range(2, 6):
        c = s.client("127.0.0.%d" % i)
        lines = [b"hello from 127.0.0.%d\n" % i,
                 b"bytes \x00\xff\r as they are\r\n"]
        for line in lines:
            c.echo(line)
        c.bytes_echoed = sum(map(len, lines))
        s.echoed.append(c)


def step_logged_with_their_own_addresses(s):
    for c in s.echoed:
        b = s.served_by(c)
        c.sock.shutdown(socket.SHUT_WR)
        expect(c.at_eof(), "%s: no end of input after its half-close" % c.name)
        c.close()
        wait_until(lambda: b.logged("client %s closed (fd " % c.name), 5.0,
                   "%s logging %s's close" % (b.name, c.name))
        line = re.search(rb"client " + re.escape(c.name.encode()) +
                         rb" closed \(fd \d+\): ([^\n]*)", b.log()).group(1)
        want = b"eof; echoed 2 lines, %d bytes" % c.bytes_echoed
        expect(line == want,
               "%s's close line on %s: %r" % (c.name, b.name, line))
    # Every client a server logged as HAProxy's address was a check: it
    # quit after the check's line, or is being checked right now.
    for b in s.backends:
        log = b.log().decode(errors="replace")
        for port in re.findall(r"client 127\.0\.0\.1:(\d+) connected", log):
            closed = re.search(r"client 127\.0\.0\.1:%s closed \(fd \d+\): "
                               r"(.*)" % port, log)
            expect(closed is None or closed.group(1) == CHECK_CLOSE.decode(),
                   "%s served 127.0.0.1:%s (HAProxy's address) as a client: "
                   "%s" % (b.name, port, closed and closed.group(0)))


def step_max_per_addr_counts_each_client(s):
    first = s.client("127.0.0.6")
    first.echo(b"first from 127.0.0.6\n")
    b = s.served_by(first)
    second = s.client("127.0.0.6")
    got = second.recv_exact(len(b"error: too many connections\r\n"))
    expect(got == b"error: too many connections\r\n",
           "a second client from 127.0.0.6 got %r" % got)
    expect(second.at_eof(), "the second client from 127.0.0.6 was not closed")
    wait_until(lambda: b.logged("client %s turned away: too many connections"
                                % second.name), 5.0,
               "%s logging %s turned away" % (b.name, second.name))
    other = s.client("127.0.0.7")
    other.echo(b"from 127.0.0.7 meanwhile\n")
    s.served_by(other)
    for c in (first, second, other):
        c.close()


def flood(c, seconds=10.0, cap=256 << 20):
    """Send numbered 64-byte lines without reading until the whole path
    (HAProxy's buffers and the kernel's, both ways) is full and the server
    holds replies it cannot send.  Returns the bytes sent."""
    sent = bytearray()
    n = 0
    c.sock.setblocking(False)
    end = time.monotonic() + seconds
    pending = b""
    while time.monotonic() < end and len(sent) < cap:
        if not pending:
            pending = b"".join(b"drain %08d %s\n" % (n + i, b"." * 48)
                               for i in range(256))
            n += 256
        try:
            k = c.sock.send(pending)
            sent += pending[:k]
            pending = pending[k:]
        except BlockingIOError:
            _, writable, _ = select.select([], [c.sock], [], 0.3)
            if not writable:
                c.sock.setblocking(True)
                # sent may end in part of a line: the server drops it at
                # its shutdown (only whole lines are echoed).
                return bytes(sent)
    raise AssertionError("%d bytes sent and the path never filled" %
                         len(sent))


def read_to_eof(c, into, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        c.sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            chunk = c.sock.recv(1 << 20)
        except (socket.timeout, ConnectionResetError) as e:
            into["error"] = repr(e)
            return
        if not chunk:
            into["eof"] = True
            return
        into["data"] += chunk


def owed_at_the_signal(x, a):
    """From x's trace: the bytes x owed a when the signal came (what its
    last write before it left unsent) and the bytes it wrote to a after."""
    log = x.log().decode(errors="replace")
    fd = re.search(r"client %s connected \(fd (\d+)\)" % re.escape(a.name),
                   log)
    expect(fd is not None, "%s's trace: %s never connected" %
           (x.name, a.name))
    before, sep, after = log[fd.end():].partition(
        "echoserv: shutting down:")
    expect(sep, "%s never logged its shutdown" % x.name)
    wrote = re.compile(r"^fd %s: wrote (\d+) of (\d+) bytes" % fd.group(1),
                       re.M)
    last = wrote.findall(before)[-1:]
    owed = int(last[0][1]) - int(last[0][0]) if last else 0
    return owed, sum(int(w) for w, _ in wrote.findall(after))


def step_sigterm_drains_while_new_clients_move(s):
    a = s.client("127.0.0.8")
    first = b"before the signal\n"
    a.echo(first)
    x = s.served_by(a)
    y = [b for b in s.backends if b is not x][0]
    sent = flood(a)

    x.proc.send_signal(signal.SIGTERM)
    # Its listening socket is closed before it logs this (a connection
    # still in its accept queue then would be reset, not moved).
    wait_until(lambda: x.logged("echoserv: shutting down:"), 2.0,
               "%s logging its shutdown" % x.name)
    # New clients while x drains (it cannot finish: a reads nothing yet),
    # the first from a's own address, which balance source sends to x
    # for as long as HAProxy believes x is up.
    t0 = time.monotonic()
    first_new = None
    for i in (8, 9, 10, 11):
        c = s.client("127.0.0.%d" % i)
        first_new = first_new or c.name
        c.echo(b"a new client from 127.0.0.%d\n" % i)
        expect(s.served_by(c) is y, "%s not served by %s" % (c.name, y.name))
        c.close()
    moved = time.monotonic() - t0
    expect(x.proc.poll() is None, "%s ended before its client read" % x.name)
    # Now a reads, within what is left of the drain's 2 s.
    got = {"data": bytearray(), "eof": False}
    read_to_eof(a, got, 5.0)
    expect(got["eof"], "the draining client's conversation ended with %s, "
           "not an end of input" % got.get("error"))
    # All it got after the signal: replies owed, whole lines, in order.
    data = bytes(got["data"])
    expect(sent.startswith(data), "the draining client's echo differs from "
           "what it sent after byte %d" % next(
               (i for i, (p, q) in enumerate(zip(data, sent)) if p != q),
               min(len(data), len(sent))))
    expect(data.endswith(b"\n"),
           "the draining client got %d bytes back after the signal, not "
           "whole lines" % len(data))
    status = x.proc.wait(5)
    expect(status == 0, "%s exited %s after SIGTERM" % (x.name, status))
    close = re.search(rb"client " + re.escape(a.name.encode()) +
                      rb" closed \(fd \d+\): shutdown; echoed (\d+) lines, "
                      rb"(\d+) bytes", x.log())
    expect(close is not None, "no shutdown close line for %s on %s" %
           (a.name, x.name))
    owed, delivered = owed_at_the_signal(x, a)
    expect(owed > 0, "%s owed %s nothing at SIGTERM: the path was not full" %
           (x.name, a.name))
    expect(delivered == owed, "%s owed %s %d bytes at SIGTERM and wrote %d "
           "after it" % (x.name, a.name, owed, delivered))
    # The server's count (its first line too) is what the client got.
    lines, size = 1 + data.count(b"\n"), len(first) + len(data)
    expect(int(close.group(1)) == lines and int(close.group(2)) == size,
           "%s says it echoed %s lines, %s bytes; the client got %d, %d" %
           (x.name, close.group(1).decode(), close.group(2).decode(),
            lines, size))
    # HAProxy's log line for the first says it tried x, then went to y:
    # a retry, redispatched ("+1" in the connection counts).
    moved_line = re.compile(re.escape(first_new.encode()) +
                            rb" \[[^]]*\] echo echoservs/" +
                            re.escape(y.name.encode()) + rb" .* \d+/\d+/\d+/"
                            rb"\d+/\+1 ")
    wait_until(lambda: moved_line.search(s.haproxy.log()), 5.0,
               "HAProxy logging %s redispatched to %s" % (first_new, y.name))
    a.close()
    wait_until(lambda: s.haproxy.server_is(x.name, "DOWN"), 10.0,
               "HAProxy marking %s DOWN" % x.name)
    expect(s.haproxy.server_is(y.name, "UP", "L7OK"),
           "%s is not UP: %s" % (y.name, s.haproxy.servers().get(y.name)))
    after = s.client("127.0.0.8")
    after.echo(b"once it is down\n")
    expect(s.served_by(after) is y, "%s not served by %s" %
           (after.name, y.name))
    after.close()
    print("  %s owed %s %d bytes at SIGTERM and wrote them after it; the "
          "client read %d bytes (%d lines) in flight; 4 new clients served "
          "by %s in %.0f ms meanwhile" % (x.name, a.name, owed, len(data),
                                          data.count(b"\n"), y.name,
                                          moved * 1000))


STEPS = [
    ("health checks pass through the PROXY header", step_health_checks_pass),
    ("clients through HAProxy are echoed", step_clients_are_echoed),
    ("logged with their own addresses", step_logged_with_their_own_addresses),
    ("--max-per-addr counts each client",
     step_max_per_addr_counts_each_client),
    ("SIGTERM drains; new clients move to the other",
     step_sigterm_drains_while_new_clients_move),
]


def main():
    t_start = time.monotonic()
    top = os.path.join(BUILD, "haproxy-check")
    os.makedirs(top, exist_ok=True)
    tmp = os.path.abspath(tempfile.mkdtemp(prefix="run-", dir=top))
    failed = None
    s = Setup()
    try:
        s.start(tmp)
        print("haproxy-check: HAProxy (pid %d) on 127.0.0.1:%d, %s "
              "servers %s and %s" % (s.haproxy.proc.pid, s.port, CONFIG,
                                     s.backends[0].addr, s.backends[1].addr))
        for name, fn in STEPS:
            t0 = time.monotonic()
            try:
                fn(s)
            except Exception as e:  # a failed expectation or a socket error
                failed = "%s: %s: %s" % (name, type(e).__name__, e)
                print("%-50s FAILED (%.1f s): %s: %s" %
                      (name, time.monotonic() - t0, type(e).__name__, e))
                break
            print("%-50s ok (%.1f s)" % (name, time.monotonic() - t0),
                  flush=True)
    except Exception as e:
        failed = "set-up: %s: %s" % (type(e).__name__, e)
        print("haproxy-check: set-up failed: %s" % failed)
    finally:
        if failed:
            s.dump_logs()
        s.stop()
    elapsed = time.monotonic() - t_start
    if failed:
        print("haproxy-check: FAILED in %.1f s (logs kept in %s)" %
              (elapsed, tmp))
        return 1
    shutil.rmtree(tmp)
    print("haproxy-check: %d steps passed in %.1f s" % (len(STEPS), elapsed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
