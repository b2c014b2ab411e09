#!/usr/bin/env python3
"""test_models.py - what each comparison server's I/O model promises.

The protocol itself is checked for every server by the integration suite
(make protocol-check), and the policy (timeouts, limits, lingering, the
drain, a stalled log) for the event loops over the connection core by the
policy suites (make policy-check).  These tests check what is particular
to a model:

  iterative  the second client waits in the listen queue, unanswered, and is
             served once the first leaves; --idle-timeout frees the server
             from a silent client
  poll,      their own wait lines (-T): an idle server sleeps until the
  epoll,     nearest deadline, the idle timeout ~300 s away, instead of
  sigio      going round its loop (what select's trace tests show for
             echoserv)
  nonblock   many clients at once, byte-exact; a client holding half a line
             delays no one; it never sleeps (the trace counts its empty
             rounds) and still keeps its deadlines; out of descriptors it
             sheds the waiting client with "server full"
  sigio      nothing is lost when the realtime signal queue overflows
             (RLIMIT_SIGPENDING lowered before exec): byte-exact under many
             clients, and the overflow really happened (its log line)
  aio        holds --max-clients idle clients (one glibc helper thread each)
             and serves another client meanwhile; the next is turned away;
             lingering clients hold helper threads too, yet as many new
             clients are served
  textbook   echoes lines exactly and nothing more: pipelined, half-closed,
             a line of any length, quit as an ordinary line; no log line
             but the listening one; its --facts say so
  all        --raw (RFC 862) echoes every byte, quit and binary included;
             50 clients pipelining and quitting at once on every event loop
             (their sockets linger; each is closed once; the loop goes on);
             on the connection core (uring, threads) out of descriptors
             (EMFILE), the waiting client is shed with "server full" when
             clients in conversation hold the descriptors, and when
             lingerers hold them the oldest gives its up and the newcomer
             is served (make policy-check tests the same for the loops)
  uring      refused by the kernel (a seccomp filter makes io_uring_setup
             fail with EPERM, as container runtimes do): exit 1 with one line
             saying "io_uring unavailable"; skipped with a note where io_uring
             is unavailable anyway; out of descriptors (EMFILE), the waiting
             client is shed with "server full", not left to spin the loop

Real binaries, real sockets on 127.0.0.1, port 0, every wait bounded.

usage: tests/models/test_models.py [BUILD_DIR] [TEST_NAME_PATTERN]
"""
import ctypes
import fnmatch
import os
import platform
import random
import re
import resource
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
PATTERN = sys.argv[2] if len(sys.argv) > 2 else "*"
LISTENING = re.compile(rb"echoserv: listening on (\S+):(\d+)")


class Skip(Exception):
    """The test cannot run here; the reason is printed."""


class Server:
    """A server process started on port 0, its stderr in a file."""

    def __init__(self, name, args=(), preexec=None):
        self.path = os.path.join(BUILD, name)
        self.err = tempfile.NamedTemporaryFile(prefix=name + "-", suffix=".err",
                                               delete=False)
        self.proc = subprocess.Popen([self.path, *args, "0"],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=self.err, preexec_fn=preexec)
        self.port = None

    def log(self):
        with open(self.err.name, "rb") as f:
            return f.read()

    def wait_listening(self, timeout=5.0):
        """The port from the listening line; None if the process exited."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = LISTENING.search(self.log())
            if m:
                self.port = int(m.group(2))
                return self.port
            if self.proc.poll() is not None:
                return None
            time.sleep(0.02)
        raise AssertionError("no listening line within %.0f s" % timeout)

    def wait_log(self, pattern, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if re.search(pattern, self.log()):
                return
            time.sleep(0.02)
        raise AssertionError("no log line matching %r within %.1f s:\n%s" %
                             (pattern, timeout, self.log().decode(errors="replace")))

    def wait_count(self, text, count, timeout=5.0):
        """Wait until text appears count times in the log."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.log().count(text) >= count:
                return
            time.sleep(0.02)
        raise AssertionError("%r seen %d times, not %d, within %.1f s" %
                             (text, self.log().count(text), count, timeout))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(3)
        self.err.close()
        os.unlink(self.err.name)


def start(name, args=(), preexec=None):
    srv = Server(name, args, preexec)
    if srv.wait_listening() is None:
        log = srv.log().decode(errors="replace")
        srv.stop()
        raise AssertionError("%s exited at start:\n%s" % (name, log))
    return srv


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s, n, timeout=5.0):
    """n bytes from s, or fewer if it closed or the time ran out."""
    got = b""
    end = time.monotonic() + timeout
    while len(got) < n:
        left = end - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            chunk = s.recv(n - len(got))
        except socket.timeout:
            break
        if not chunk:
            break
        got += chunk
    return got


def silent_for(s, seconds):
    """True if nothing arrives on s for seconds (and it stays open)."""
    s.settimeout(seconds)
    try:
        return s.recv(1, socket.MSG_PEEK) == b"" and False
    except socket.timeout:
        return True


def closed_within(s, seconds):
    s.settimeout(seconds)
    try:
        return s.recv(1) == b""
    except (socket.timeout, ConnectionResetError):
        return False


def expect(cond, message):
    if not cond:
        raise AssertionError(message)


def converse_many(port, clients, lines_each, seconds=30.0, seed=1):
    """clients connections at once, each sending lines_each lines of random
    length and bytes (pipelined, all at once) then quit, and reading the echo
    as it comes; every byte checked.  Returns how many were exact."""
    rnd = random.Random(seed)
    sel = selectors.DefaultSelector()
    state = {}
    for i in range(clients):
        lines = []
        for _ in range(lines_each):
            body = bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz0123456789\r\x00\xff")
                         for _ in range(rnd.randrange(1, 200)))
            lines.append(body.replace(b"\n", b"") + b"\n")
        want = b"".join(lines)
        s = connect(port)
        s.setblocking(False)
        state[s] = {"out": want + b"quit\n", "want": want, "got": bytearray(),
                    "eof": False}
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    end = time.monotonic() + seconds
    open_ = len(state)
    while open_ and time.monotonic() < end:
        for key, ev in sel.select(timeout=0.5):
            s, st = key.fileobj, state[key.fileobj]
            if ev & selectors.EVENT_WRITE and st["out"]:
                try:
                    n = s.send(st["out"][:65536])
                    st["out"] = st["out"][n:]
                except BlockingIOError:
                    pass
                if not st["out"]:
                    sel.modify(s, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                try:
                    chunk = s.recv(65536)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    chunk = b""
                if chunk:
                    st["got"] += chunk
                else:
                    st["eof"] = True
                    sel.unregister(s)
                    open_ -= 1
    exact = sum(1 for st in state.values()
                if st["eof"] and bytes(st["got"]) == st["want"])
    for s in state:
        s.close()
    sel.close()
    return exact


# ------------------------------------------------------------- iterative

def test_iterative_second_client_waits_until_the_first_leaves():
    srv = start("echoserv-iterative")
    try:
        a = connect(srv.port)
        a.sendall(b"first\n")
        expect(recv_exact(a, 6) == b"first\n", "client A not echoed")
        b = connect(srv.port)  # the kernel completes the handshake
        b.sendall(b"second\n")
        expect(silent_for(b, 0.5),
               "client B was answered while A was still connected")
        expect(b"connected" in srv.log() and srv.log().count(b"connected") == 1,
               "the server accepted B while serving A")
        a.sendall(b"quit\n")
        expect(closed_within(a, 3), "A not closed after quit")
        expect(recv_exact(b, 7, 3.0) == b"second\n",
               "client B not served once A left")
        a.close()
        b.close()
    finally:
        srv.stop()


def test_iterative_idle_timeout_frees_the_server():
    srv = start("echoserv-iterative", ["-t", "1"])
    try:
        a = connect(srv.port)
        a.sendall(b"half a li")  # and then nothing
        b = connect(srv.port)
        b.sendall(b"waiting\n")
        t0 = time.monotonic()
        got = recv_exact(a, len(b"error: idle timeout\r\n"), 4.0)
        waited = time.monotonic() - t0
        expect(got == b"error: idle timeout\r\n",
               "silent client got %r, not the idle timeout" % got)
        expect(waited >= 0.8, "timed out after %.2f s, before 1 s" % waited)
        expect(recv_exact(b, 8, 3.0) == b"waiting\n",
               "the next client not served after the timeout")
        srv.wait_log(rb"closed \(fd \d+\): timeout")
        a.close()
        b.close()
    finally:
        srv.stop()


# ------------------------------------------------------------- nonblock

def test_nonblock_many_clients_byte_exact():
    srv = start("echoserv-nonblock")
    try:
        n = converse_many(srv.port, 50, 40)
        expect(n == 50, "%d of 50 clients got their bytes back exactly" % n)
    finally:
        srv.stop()


def test_nonblock_half_a_line_delays_no_one():
    srv = start("echoserv-nonblock")
    try:
        a = connect(srv.port)
        a.sendall(b"no end in sight")
        b = connect(srv.port)
        b.sendall(b"hello\n")
        expect(recv_exact(b, 6, 2.0) == b"hello\n",
               "B waited behind A's unfinished line")
        a.sendall(b"\n")
        expect(recv_exact(a, 16, 2.0) == b"no end in sight\n",
               "A's line not echoed once complete")
        a.close()
        b.close()
    finally:
        srv.stop()


def trace_lines(srv, prefix):
    return [line for line in srv.log().decode(errors="replace").splitlines()
            if line.startswith(prefix)]


def test_nonblock_never_sleeps_and_keeps_its_deadlines():
    srv = start("echoserv-nonblock", ["-T", "-t", "1"])
    try:
        a = connect(srv.port)
        a.sendall(b"one\n")
        expect(recv_exact(a, 4) == b"one\n", "not echoed")
        t0 = time.monotonic()
        got = recv_exact(a, len(b"error: idle timeout\r\n"), 4.0)
        waited = time.monotonic() - t0
        expect(got == b"error: idle timeout\r\n",
               "an idle client got %r, not the idle timeout" % got)
        expect(0.8 <= waited <= 3.0,
               "timed out after %.2f s, not about 1 s" % waited)
        expect(closed_within(a, 3), "not closed after its timeout")
        empty = [int(m.group(1)) for m in re.finditer(
            rb"nonblock \(after (\d+) empty rounds\)", srv.log())]
        expect(empty and max(empty) >= 100,
               "no sign of the busy loop in the trace: %r" % empty[-3:])
        a.close()
    finally:
        srv.stop()


def ceiling_of(name, limit=None):
    """The --max-clients ceiling the server's --facts state (under that
    descriptor limit)."""
    out = subprocess.run([os.path.join(BUILD, name), "--facts"],
                         capture_output=True, timeout=5,
                         preexec_fn=nofile(limit) if limit else None).stdout
    return int(re.search(rb"^ceiling=(\d+)$", out, re.M).group(1))


def test_nonblock_out_of_descriptors_sheds_the_waiting_client():
    """Out of descriptors with no lingerer to give way (every client is
    still talking), accept() fails with EMFILE; the waiting client is shed
    with "server full".  (make policy-check tests the same of poll, epoll
    and sigio, and that they do not spin meanwhile; this one spins
    anyway.)"""
    limit = 24
    n = ceiling_of("echoserv-nonblock", limit)
    srv = start("echoserv-nonblock", preexec=nofile(limit))
    try:
        held = []
        for i in range(n):
            s = connect(srv.port)
            s.sendall(b"x\n")
            expect(recv_exact(s, 2, 3.0) == b"x\n", "client %d not served" % i)
            held.append(s)
        late = connect(srv.port)
        got = recv_exact(late, 20, 3.0)
        expect(got == b"error: server full\r\n",
               "out of descriptors, a new client got %r, not server full" % got)
        srv.wait_log(rb"accept: Too many open files: shedding client")
        held.pop().close()
        srv.wait_log(rb"closed \(fd \d+\): eof")
        again = connect(srv.port)
        again.sendall(b"again\n")
        expect(recv_exact(again, 6, 3.0) == b"again\n",
               "not served once a descriptor was free again")
        for s in held + [late, again]:
            s.close()
    finally:
        srv.stop()


# ---------------------------------------------------- poll, epoll, sigio

WAIT_LINES = {"echoserv-poll": "poll: waiting",
              "echoserv-epoll": "epoll_wait: waiting",
              "echoserv-sigio": "sigtimedwait: waiting"}


def test_idle_loops_sleep_until_the_nearest_deadline():
    """One idle client, nothing to do: the loop must sleep, its wait's
    timeout the client's idle deadline, about 300 s away."""
    for name, waiting in WAIT_LINES.items():
        srv = start(name, ["-T", "-t", "300"])
        try:
            a = connect(srv.port)
            a.sendall(b"hello\n")
            expect(recv_exact(a, 6) == b"hello\n", "%s: not echoed" % name)
            srv.wait_log(rb"WRITING -> READING")
            time.sleep(0.2)  # a sigio round that finds the socket drained
            before = len(trace_lines(srv, waiting))
            time.sleep(1.0)
            lines = trace_lines(srv, waiting)
            expect(len(lines) - before <= 1,
                   "%s: an idle server went round its loop %d times in 1 s"
                   % (name, len(lines) - before))
            m = re.search(r"timeout=([0-9.]+)s", lines[-1])
            expect(m and 290 <= float(m.group(1)) <= 300.05,
                   "%s: its wait should last until the idle deadline "
                   "(~300 s): %s" % (name, lines[-1]))
            a.close()
        finally:
            srv.stop()


# ------------------------------------------------------------- textbook

def test_textbook_echoes_lines_exactly_and_nothing_more():
    srv = start("echoserv-textbook")
    try:
        a = connect(srv.port)
        lines = b"".join(b"line %d\r\n" % i for i in range(1000))
        a.sendall(lines + b"quit\n" + b"x" * 100000 + b"\n")
        want = lines + b"quit\n" + b"x" * 100000 + b"\n"
        expect(recv_exact(a, len(want)) == want,
               "pipelined lines, quit and a 100,000-byte line not all "
               "echoed exactly")
        a.sendall(b"half a li")
        expect(silent_for(a, 0.3), "echoed before the LF")
        a.sendall(b"ne\nand a tail")
        a.shutdown(socket.SHUT_WR)
        got = recv_exact(a, 30, 3.0)
        expect(got == b"half a line\nand a tail",
               "after a half-close got %r" % got)
        expect(closed_within(a, 3), "not closed after the replies")
        a.close()
        expect(srv.log().count(b"\n") == 1,
               "more than the listening line in its log:\n%s"
               % srv.log().decode(errors="replace"))
        out = subprocess.run([srv.path, "--facts"], capture_output=True,
                             timeout=5).stdout
        expect(b"protocol=lines" in out and b"options=port" in out,
               "its --facts do not say lines only: %r" % out)
    finally:
        srv.stop()


# ------------------------------------------------------------- sigio

def low_sigpending():
    # One queued realtime signal at most: nearly every notification
    # overflows the queue and arrives as a plain SIGIO.
    resource.setrlimit(resource.RLIMIT_SIGPENDING, (1, 1))


def test_sigio_loses_nothing_when_the_queue_overflows():
    srv = start("echoserv-sigio", preexec=low_sigpending)
    try:
        n = converse_many(srv.port, 100, 30, seed=7)
        expect(n == 100, "%d of 100 clients got their bytes back exactly" % n)
        expect(b"realtime signal queue full" in srv.log(),
               "the queue never overflowed: the test proved nothing")
    finally:
        srv.stop()


def test_sigio_many_clients_byte_exact():
    srv = start("echoserv-sigio")
    try:
        n = converse_many(srv.port, 100, 30, seed=8)
        expect(n == 100, "%d of 100 clients got their bytes back exactly" % n)
    finally:
        srv.stop()


# ------------------------------------------------------------- aio

def test_aio_holds_max_clients_idle_and_serves_another():
    srv = start("echoserv-aio", ["-c", "60"])
    try:
        idle = [connect(srv.port) for _ in range(59)]
        srv.wait_count(b" connected ", 59)
        busy = connect(srv.port)
        busy.sendall(b"still served\n")
        expect(recv_exact(busy, 13, 3.0) == b"still served\n",
               "a client beside 59 idle ones was not served")
        extra = connect(srv.port)
        got = recv_exact(extra, 20, 3.0)
        expect(got == b"error: server full\r\n",
               "the 61st client got %r, not server full" % got)
        for s in idle:
            s.sendall(b"x\n")
        expect(all(recv_exact(s, 2, 3.0) == b"x\n" for s in idle),
               "an idle client was not served once it spoke")
        for s in idle + [busy, extra]:
            s.close()
    finally:
        srv.stop()


def test_aio_lingerers_hold_threads_yet_clients_are_served():
    """A lingering client's read (its input is discarded until it closes,
    or is quiet for 1 s) holds a glibc helper thread too: with
    --max-clients of them lingering, as many new clients must be served at
    once, not when the lingers end (aio_threads is twice --max-clients)."""
    srv = start("echoserv-aio", ["-c", "20"])
    try:
        lingering = []
        first_quit = time.monotonic()
        for _ in range(20):
            s = connect(srv.port)
            s.sendall(b"quit\n")
            expect(closed_within(s, 3), "a client that said quit not closed")
            lingering.append(s)
        fresh = [connect(srv.port) for _ in range(20)]
        for s in fresh:
            s.sendall(b"hi\n")
        # Served before the first linger can end: 0.8 s after its quit.
        left = lambda: max(0.0, first_quit + 0.8 - time.monotonic())
        served = sum(recv_exact(s, 3, left()) == b"hi\n" for s in fresh)
        expect(served == 20, "%d of 20 clients waited behind the lingerers' "
               "helper threads" % (20 - served))
        for s in lingering + fresh:
            s.close()
    finally:
        srv.stop()


# ------------------------------------------------------------- uring

SECCOMP_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
NR_IO_URING_SETUP = 425  # the same on every architecture since Linux 5.1


def deny_io_uring():
    """In the child before exec: a seccomp filter making io_uring_setup fail
    with EPERM, as the default profiles of Docker and podman do."""
    libc = ctypes.CDLL(None, use_errno=True)
    arch = SECCOMP_ARCH[platform.machine()]
    ld_abs, jeq, ret = 0x20, 0x15, 0x06
    prog = [(ld_abs, 0, 0, 4),            # A = seccomp_data.arch
            (jeq, 0, 3, arch),            # another arch: allow
            (ld_abs, 0, 0, 0),            # A = seccomp_data.nr
            (jeq, 0, 1, NR_IO_URING_SETUP),
            (ret, 0, 0, 0x00050000 | 1),  # SECCOMP_RET_ERRNO | EPERM
            (ret, 0, 0, 0x7FFF0000)]      # SECCOMP_RET_ALLOW
    raw = b"".join(struct.pack("HBBI", *ins) for ins in prog)
    buf = ctypes.create_string_buffer(raw, len(raw))

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = Fprog(len(prog), ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        os._exit(99)
    if libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) != 0:  # SECCOMP_MODE_FILTER
        os._exit(99)


def test_uring_refused_exits_1_with_one_clear_line():
    if platform.machine() not in SECCOMP_ARCH:
        raise Skip("no seccomp filter written for %s" % platform.machine())
    srv = Server("echoserv-uring", preexec=deny_io_uring)
    try:
        srv.proc.wait(5)
        log = srv.log().decode(errors="replace")
        expect(srv.proc.returncode == 1,
               "exit status %s, not 1:\n%s" % (srv.proc.returncode, log))
        lines = log.splitlines()
        expect(len(lines) == 1 and "io_uring unavailable" in lines[0],
               "not one line saying io_uring unavailable:\n%s" % log)
        expect("listening" not in log, "it listened before giving up")
    finally:
        srv.stop()


def test_uring_serves_where_io_uring_is_allowed():
    srv = Server("echoserv-uring")
    try:
        if srv.wait_listening() is None:
            log = srv.log().decode(errors="replace")
            expect("io_uring unavailable" in log and srv.proc.returncode == 1,
                   "exited without saying io_uring is unavailable:\n" + log)
            raise Skip("io_uring unavailable here: " + log.strip())
        n = converse_many(srv.port, 50, 40, seed=3)
        expect(n == 50, "%d of 50 clients got their bytes back exactly" % n)
    finally:
        srv.stop()


# ------------------------------------------------------------- all

EVENT_LOOPS = ["echoserv-poll", "echoserv-epoll", "echoserv-co",
               "echoserv-nonblock", "echoserv-sigio", "echoserv-aio",
               "echoserv-uring"]


def test_event_loops_many_clients_quitting_byte_exact():
    """50 clients at once pipeline 40 lines and quit: their sockets linger
    while the loop goes on serving the others, and nothing of a closed
    client may come back to the loop (for aio and io_uring: no request of
    a closed client completes into freed memory)."""
    for name in EVENT_LOOPS:
        srv = Server(name)
        try:
            if srv.wait_listening() is None:
                expect(b"io_uring unavailable" in srv.log(),
                       "%s exited at start" % name)
                print("  %s: skipped, io_uring unavailable" % name)
                continue
            n = converse_many(srv.port, 50, 40, seed=11)
            expect(n == 50, "%s: %d of 50 clients got their bytes back "
                   "exactly" % (name, n))
            time.sleep(0.3)  # the clients' FINs reach the lingering sockets
            expect(srv.proc.poll() is None, "%s died:\n%s" %
                   (name, srv.log()[-300:].decode(errors="replace")))
            log = srv.log()
            expect(log.count(b" closed (fd ") == 50 and
                   log.count(b" connected (fd ") == 50,
                   "%s: not 50 clients connected and closed once each" % name)
            after = connect(srv.port)
            after.sendall(b"still there\n")
            expect(recv_exact(after, 12, 3.0) == b"still there\n",
                   "%s: not serving after the clients left" % name)
            after.close()
        finally:
            srv.stop()


ALL_SERVERS = ["echoserv-iterative", "echoserv-threads", "echoserv-fork"] + \
    EVENT_LOOPS


def test_every_server_raw_mode_echoes_every_byte():
    """--raw (RFC 862): no framing, no quit, no line limit: every byte back,
    then EOF after the client's half-close."""
    rnd = random.Random(5)
    data = b"quit\n" + bytes(rnd.randrange(256) for _ in range(100000)) + b"tail"
    for name in ALL_SERVERS:
        srv = Server(name, ["--raw", "-l", "16"])
        try:
            if srv.wait_listening() is None:
                expect(b"io_uring unavailable" in srv.log(),
                       "%s exited at start" % name)
                print("  %s: skipped, io_uring unavailable" % name)
                continue
            s = connect(srv.port)
            sel = selectors.DefaultSelector()
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
            out, got, end = data, bytearray(), time.monotonic() + 10
            while time.monotonic() < end:
                events = sel.select(0.5)
                for _, ev in events:
                    if ev & selectors.EVENT_WRITE and out:
                        try:
                            out = out[s.send(out[:65536]):]
                        except BlockingIOError:
                            pass
                        if not out:
                            s.shutdown(socket.SHUT_WR)
                            sel.modify(s, selectors.EVENT_READ)
                    if ev & selectors.EVENT_READ:
                        try:
                            chunk = s.recv(65536)
                        except BlockingIOError:
                            continue
                        if not chunk:
                            end = 0
                            break
                        got += chunk
            sel.close()
            s.close()
            expect(bytes(got) == data, "%s --raw: %d of %d bytes back%s" %
                   (name, len(got), len(data),
                    "" if bytes(got) == data[:len(got)] else ", altered"))
        finally:
            srv.stop()


def nofile(n):
    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    return limit


def check_core_out_of_descriptors(name):
    """For a server on the connection core: out of descriptors (EMFILE),
    what happens depends on who holds them.  Clients in conversation: the
    waiting client is shed with "server full", not left to spin the loop.
    Lingering clients (they said quit but keep their end open): the oldest
    gives its descriptor up and the newcomer is served."""
    limit = 24
    n = ceiling_of(name, limit)
    srv = start(name, ["-T"], preexec=nofile(limit))
    try:
        held = []
        for i in range(n):
            s = connect(srv.port)
            s.sendall(b"x\n")
            expect(recv_exact(s, 2, 3.0) == b"x\n", "client %d not served" % i)
            held.append(s)
        late = connect(srv.port)
        got = recv_exact(late, 20, 3.0)
        expect(got == b"error: server full\r\n",
               "out of descriptors, a new client got %r, not server full" % got)
        srv.wait_log(rb"accept: Too many open files: shedding client")
        late.close()
        for s in held:
            s.sendall(b"quit\n")
        srv.wait_count(b"-> LINGERING", n)
        newcomer = connect(srv.port)
        newcomer.sendall(b"served\n")
        expect(recv_exact(newcomer, 7, 3.0) == b"served\n",
               "a newcomer was not served when lingerers held the descriptors")
        srv.wait_log(rb"LINGERING -> CLOSED \(descriptors needed\)")
        expect(srv.log().count(b"shedding client") == 1 and
               b"turned away" not in srv.log(),
               "a client was turned away while lingerers could give way")
        for s in held + [newcomer]:
            s.close()
    finally:
        srv.stop()


def test_uring_out_of_descriptors_sheds_or_lingerers_give_way():
    probe = Server("echoserv-uring")
    try:
        if probe.wait_listening() is None:
            raise Skip("io_uring unavailable here")
    finally:
        probe.stop()
    check_core_out_of_descriptors("echoserv-uring")


def test_threads_out_of_descriptors_sheds_or_lingerers_give_way():
    check_core_out_of_descriptors("echoserv-threads")


def main():
    tests = [(k, v) for k, v in globals().items()
             if k.startswith("test_") and fnmatch.fnmatch(k[5:], PATTERN)]
    failed = 0
    for name, fn in tests:
        t0 = time.monotonic()
        try:
            fn()
            verdict = "ok"
        except Skip as e:
            verdict = "skipped: %s" % e
        except Exception as e:  # a failed expectation or a broken socket
            verdict = "FAILED: %s: %s" % (type(e).__name__, e)
            failed += 1
        print("%-60s %s (%.1f s)" % (name[5:], verdict, time.monotonic() - t0),
              flush=True)
    print("models: %d of %d failed" % (failed, len(tests)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
