"""load.py - many clients at once and clients that misbehave: a hundred
taking turns, one that never reads, one that reads slowly, two that
reset, a thousand idle ones, ten thousand that come and go, and at the
end the question whether the server still answers.
"""

import resource
import socket
import time

from ..registry import ALL, case
from ..verdict import failed, passed, show
from ..wire import ConnectFailed, describe_error
from .common import echoed, judge, numbered

ONE_AT_A_TIME = ("the server serves one client at a time: it is busy in a "
                 "blocking read() or write() on one connection while the "
                 "others wait in the listen queue")
CROSSED = ("replies crossed between connections: a buffer shared by all "
           "clients (a global, or one static buffer used by every thread), "
           "or a reply written to the wrong descriptor")


def _done_lines(ctx, peer, line_len):
    """How many lines of line_len bytes peer has had back."""
    if ctx.raw:
        return len(peer.got) // line_len
    return peer.lines()


def _crossed(peers, tag_of):
    """(peer, other) when a peer got a line that belongs to another."""
    tags = {tag_of(i): i for i in range(len(peers))}
    for i, p in enumerate(peers):
        for line in bytes(p.got).split(b"\n"):
            tag = line[:5]
            if tag in tags and tags[tag] != i:
                return p, peers[tags[tag]]
    return None


def _line(i, r, width=40):
    head = b"c%03d r%02d " % (i, r)
    return head + b"." * (width - len(head) - 1) + b"\n"


@case("clients-100", ALL, "100 clients connected at once, taking turns, "
      "each get exactly their own 10 lines back", limit=30, settle=0.2)
def clients_100(ctx):
    n, rounds, width = 100, 10, 40
    if ctx.too_few(n):
        return ctx.too_few(n)
    fleet = ctx.fleet()
    peers = fleet.connect(n, log=False)
    ctx.note("%d connections open" % n)
    want = [b"".join(_line(i, r) for r in range(rounds)) for i in range(n)]

    def next_line(p):
        done = _done_lines(ctx, p, width)
        queued = p.sent + len(p.out)
        if done < rounds and queued < (done + 1) * width:
            p.queue(_line(p.index, queued // width))

    for i, p in enumerate(peers):
        p.index = i
        p.on_input = next_line
        p.queue(_line(i, 0))
    start = time.monotonic()
    fleet.run(lambda: all(_done_lines(ctx, p, width) >= rounds or p.end
                          for p in peers), ctx.timeout + 10, stall=ctx.timeout)
    took = time.monotonic() - start
    crossed = _crossed(peers, lambda i: b"c%03d" % i)
    if crossed:
        p, other = crossed
        return failed("client %s (c%03d) got a line of c%03d: %s" % (
            p.name, peers.index(p), peers.index(other),
            show(bytes(p.got)[:80])), CROSSED)
    silent = [p for p in peers if not p.got]
    if silent:
        served = n - len(silent)
        return failed("after %.0f s, %d of %d clients had had no reply at "
                      "all (%d served)" % (took, len(silent), n, served),
                      ONE_AT_A_TIME if served <= 2 else
                      "some clients are never served: a select()/poll() set "
                      "that leaves some out, or a fixed table of clients "
                      "smaller than 100")
    for i, p in enumerate(peers):
        if bytes(p.got) != want[i]:
            result = judge(ctx, want[i], bytes(p.got), "client c%03d's 10 "
                           "lines" % i, hints={"changed": CROSSED})
            if result.verdict != "pass":
                return result
    return passed("all %d clients got their %d lines back, in order, in %.1f "
                  "s" % (n, rounds, took))


NON_READER_HINT = ("while one client was not reading, the others got nothing "
                   "for %.0f s: a blocking write (write() to the client that "
                   "does not read waits, and every other client with it), or "
                   "no writefds (writing without waiting for the socket to "
                   "be writable)")


def _flood(ctx, fleet, peer, most, seconds, stall=0.5):
    """Queue and send up to `most` bytes on peer without reading, until the
    server stops taking them for `stall` seconds; returns bytes sent."""
    block = numbered(b"flood", 1024, width=64)
    while len(peer.out) < most:
        peer.queue(block)
    fleet.run(lambda: not peer.out or peer.end is not None or
              (peer.sent and time.monotonic() - peer.last_sent_at > stall),
              seconds)
    peer.out.clear()
    return peer.sent


@case("non-reader", ALL, "while one client sends and never reads, 9 others "
      "are still served (the event-driven litmus test)", limit=30)
def non_reader(ctx):
    if ctx.too_few(10):
        return ctx.too_few(10)
    fleet = ctx.fleet()
    (flooder,) = fleet.connect(1, rcvbuf=16384)
    flooder.reading = False
    sent = _flood(ctx, fleet, flooder, 32 << 20, 5.0)
    ctx.note("the non-reader %s sent %d bytes, then %s" % (
        flooder.name, sent, "the server stopped taking more"
        if sent < 32 << 20 else "stopped (the server took all)"))
    others = fleet.connect(9)
    lines = {p: b"other %d wants its echo\n" % i for i, p in enumerate(others)}
    for p in others:
        p.queue(lines[p])
    start = time.monotonic()
    done = [echoed(ctx, p, lines[p]) for p in others]
    fleet.run(lambda: all(d() or p.end for d, p in zip(done, others)),
              ctx.timeout)
    took = time.monotonic() - start
    served = [p for p in others if bytes(p.got) == lines[p]]
    if len(served) == len(others):
        return passed("the 9 others were served within %.2f s while %s had "
                      "%.1f MB in flight, unread" % (took, flooder.name,
                                                      sent / 1e6))
    wrong = [p for p in others if p.got and p not in served]
    if wrong:
        p = wrong[0]
        return judge(ctx, lines[p], bytes(p.got), "%s's line" % p.name,
                     hints={"changed": CROSSED, "extra": CROSSED})
    return failed("while %s was not reading (%.1f MB sent), %d of the other "
                  "9 got nothing for %.0f s" % (flooder.name, sent / 1e6,
                                               len(others) - len(served),
                                               took),
                  NON_READER_HINT % took)


@case("slow-reader", ALL, "a client that reads slower than it sends (a small "
      "receive window) gets all of its 8 MiB back, in order", limit=30)
def slow_reader(ctx):
    # More than the kernel buffers between the server and the client hold
    # (on Linux the server's send buffer grows to 4 MiB), so that the
    # server's writes do come up short and it has to keep the rest.
    data = numbered(b"s", 131072, width=64)
    rate = 6 << 20
    fleet = ctx.fleet()
    (p,) = fleet.connect(1, rcvbuf=16384)
    p.rate = rate
    p.queue(data)
    done = echoed(ctx, p, data)
    fleet.run(lambda: done() or p.end is not None,
              len(data) / rate * 3 + ctx.timeout, stall=ctx.timeout)
    return judge(ctx, data, bytes(p.got), "the 8 MiB read at %d MiB/s" % (
        rate >> 20), hints={
        "short": "the server stopped sending to the slow reader: replies "
        "queued but the socket not watched for writing again once it "
        "could take more (writefds), or a short write()'s rest dropped",
        "hole": "bytes are missing in the middle: write() wrote less than "
        "asked (the reader's window was full) and the rest was dropped "
        "instead of kept for the next write"})


RESET_HINT = ("after a client reset, the server stopped answering: a write "
              "to the reset client killed it (SIGPIPE not ignored: "
              "signal(SIGPIPE, SIG_IGN) or MSG_NOSIGNAL), or ECONNRESET or "
              "EPIPE was taken as fatal, or it is stuck on the dead "
              "connection")


def _served_after(ctx, what):
    try:
        c = ctx.connect()
    except ConnectFailed as e:
        return failed("%s, a new client could not connect: %s" % (what, e),
                      RESET_HINT)
    line = b"a new client after the reset\n"
    c.send(line)
    reply = c.read(lines=1)
    result = judge(ctx, line, reply, "a new client's line " + what, hints={
        "nothing": RESET_HINT, "eof": RESET_HINT, "reset": RESET_HINT})
    return result


@case("reset-mid-line", ALL, "a client that resets in the middle of a line "
      "harms nobody: the next client is served")
def reset_mid_line(ctx):
    b = ctx.connect()
    b.send(b"half a li")
    time.sleep(0.2)
    b.reset()
    time.sleep(0.1)
    result = _served_after(ctx, "after one reset mid-line")
    if result.verdict == "pass":
        result.detail = "a client reset with half a line sent; the next " \
            "client was served"
    return result


@case("reset-owed", ALL, "a client that resets while the server owes it "
      "replies harms nobody (no SIGPIPE death)")
def reset_owed(ctx):
    fleet = ctx.fleet()
    (b,) = fleet.connect(1, rcvbuf=16384)
    b.reading = False
    sent = _flood(ctx, fleet, b, 2 << 20, 3.0, stall=0.3)
    ctx.note("%s sent %d bytes without reading; now it resets" % (b.name,
                                                                  sent))
    b.reset()
    time.sleep(0.3)
    result = _served_after(ctx, "after a reset with replies owed")
    if result.verdict == "pass":
        result.detail = "a client reset with %.1f MB of replies owed; the " \
            "next client was served" % (sent / 1e6)
    return result


def _fd_room():
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft - 64


OPEN_BUDGET = 20.0   # seconds to open the idle connections (0.1 s is usual)
CHURN_BUDGET = 20.0  # seconds for the cycles (1 s is usual, a fork each too)


@case("idle-1000", ALL, "1,000 idle connections (or --max-conns less one) "
      "are held while one active client is served", limit=30, settle=0.3)
def idle_1000(ctx):
    n = min(1000, ctx.budget() - 1)
    if _fd_room() < n + 2:
        n = max(1, _fd_room() - 2)
        ctx.note("echocheck may open only %d descriptors (ulimit -n): %d "
                 "idle" % (_fd_room() + 64, n))
    fleet = ctx.fleet(log=False)
    start = time.monotonic()
    try:
        idle = fleet.connect(n, budget=OPEN_BUDGET)
    except ConnectFailed as e:
        return failed("opening %d idle connections: %s" % (n, e),
                      "the server did not take that many: a limit below "
                      "%d (pass --max-conns with the server's), or a listen "
                      "queue full because it does not accept while busy"
                      % (n + 1))
    ctx.note("%d idle connections open in %.1f s" % (n, time.monotonic()
                                                      - start))
    active = ctx.connect()
    for r in range(5):
        line = b"active line %d among %d idle\n" % (r, n)
        active.send(line)
        reply = active.read(lines=1)
        if reply.data != line:
            result = judge(ctx, line, reply, "the active client's line %d"
                           % (r + 1), hints={
                               "nothing": ONE_AT_A_TIME + "; or a select() "
                               "set past FD_SETSIZE, a cost per round that "
                               "grows with the idle connections, or a server "
                               "that no longer accepts new connections",
                               "eof": "the active client was turned away: "
                               "a limit on clients below %d" % (n + 1)})
            if result.verdict != "pass":
                return result
    # The idle ones must still be there: the first, a middle one, the last,
    # each in turn.
    for i in sorted({0, n // 2, n - 1}):
        want = b"idle %d speaks\n" % i
        p = idle[i]
        p.queue(want)
        done = echoed(ctx, p, want)
        fleet.run(lambda: done() or p.end, ctx.timeout)
        if bytes(p.got) != want:
            closed = p.end
            return failed("idle connection %d of %d was not served when it "
                          "spoke (%s%s)" % (i + 1, n, show(bytes(p.got)),
                                            ", closed: " + closed if closed
                                            else ""),
                          "the server dropped or forgot idle connections: a "
                          "table of clients too small, or a select() set "
                          "past FD_SETSIZE (descriptors above 1023 are not "
                          "watched)" if not closed else
                          "the server closed idle connections: an idle "
                          "timeout shorter than this case, or a limit")
    return passed("with %d idle connections open, the active client was "
                  "served 5 times and the idle ones were still there" % n)


@case("churn-10000", ALL, "10,000 connect/close cycles (a line echoed every "
      "100th) are all accepted", limit=30)
def churn(ctx):
    cycles = ctx.settings.cycles
    target = ctx.target
    start = time.monotonic()
    line = b"churn\n"
    for i in range(cycles):
        if time.monotonic() - start > CHURN_BUDGET:
            return failed("only %d of %d cycles in %.0f s" % (
                i, cycles, CHURN_BUDGET), "each connection costs the server "
                "%.1f ms: a slow accept (a listen queue too short, a process "
                "started per connection), or a scan of every client per "
                "accept" % ((time.monotonic() - start) * 1000.0 / max(1, i)))
        s = socket.socket(target.family, socket.SOCK_STREAM)
        try:
            s.settimeout(ctx.wait(ctx.timeout))
            s.connect(target.sockaddr)
            if i % 100 == 99 or i == cycles - 1:
                s.sendall(line)
                got = b""
                while b"\n" not in got:
                    chunk = s.recv(64)
                    if not chunk:
                        break
                    got += chunk
                if not got.startswith(b"churn"):
                    ctx.wire.add("c%d" % (i + 1), "event",
                                 "no echo, got %s" % show(got))
                    return failed("connection %d was accepted by the kernel "
                                  "but not answered (%s)" % (
                                      i + 1, show(got) if got else
                                      "closed without a reply"),
                                  "the server stopped serving new clients "
                                  "after %d connections: descriptors leaked "
                                  "(a close() missing on some path), or a "
                                  "cap on connections ever accepted" % i)
        except OSError as e:
            ctx.wire.add("c%d" % (i + 1), "event", "failed: %s" %
                         describe_error(e))
            return failed("connection %d of %d failed: %s" % (
                i + 1, cycles, describe_error(e)),
                "the server stopped accepting after %d connections: "
                "descriptors leaked (a close() missing on some path; "
                "ls /proc/PID/fd), a cap on connections ever accepted, or "
                "it died" % i)
        finally:
            s.close()
        if (i + 1) % 2000 == 0:
            ctx.note("%d cycles in %.1f s" % (i + 1, time.monotonic() - start))
    took = time.monotonic() - start
    return passed("%d connect/close cycles in %.1f s (%.0f per second), every "
                  "100th echoed a line" % (cycles, took, cycles / took))


@case("still-alive", ALL, "the server still answers a new client at the end "
      "of the run")
def still_alive(ctx):
    try:
        c = ctx.connect()
    except ConnectFailed as e:
        return failed(str(e), "the server is gone or no longer accepts: see "
                      "the first case that failed")
    line = b"still there?\n"
    c.send(line)
    return judge(ctx, line, c.read(lines=1), "the last line", hints={
        "nothing": "the server no longer answers after the run: it leaked "
        "descriptors, stopped accepting or is stuck (see the first case "
        "that failed)"})
