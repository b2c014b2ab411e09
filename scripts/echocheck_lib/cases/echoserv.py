"""echoserv.py - the contract of docs/protocol.md beyond plain echo: quit,
the line limit and its error line, the idle and line timeouts, capacity
and the per-address limit.  The limits are the ones given to echocheck
(--max-line, --idle-timeout, --line-timeout, --max-conns, --max-per-addr),
which must be the server's.  A timeout or limit that was not given is not
checked (verdict INFO), since checking echoserv's defaults (300 s idle)
would take minutes.
"""

import time

from ..registry import case
from ..verdict import failed, info, passed, show
from ..wire import Reply
from .common import judge, numbered

ECHOSERV = ("echoserv",)
LINGER_HINT = ("a reset after quit or an error destroys the replies still in "
               "flight: the server closed with unread input; send FIN, then "
               "read and discard until the client closes (docs/protocol.md "
               "3.8)")


def _conversation(ctx, send, want, what, hints=None, half_close=False):
    """Send, then read to the server's close; the reply must be want then
    a FIN."""
    c = ctx.connect()
    c.send(send)
    if half_close:
        c.half_close()
    reply = c.read(until_close=True)
    return _closing_verdict(ctx, want, reply, what, hints)


def _closing_verdict(ctx, want, reply, what, hints=None):
    hints = hints or {}
    if reply.data == want and reply.end == "eof":
        return passed("%s, then the server closed (FIN)" % what)
    if reply.data == want and reply.end == "reset":
        return failed("%s, but then the connection was reset" % what,
                      hints.get("reset", LINGER_HINT))
    if reply.data == want:
        return failed("%s, but the server did not close in %.0f s" % (
            what, ctx.timeout), hints.get("open", "the server does not end "
                                          "the conversation here"))
    result = judge(ctx, want, reply, "the reply", hints)
    if result.verdict == "pass":  # same bytes, wrong ending: handled above
        result = failed("the reply ended badly (%s)" % reply.end, LINGER_HINT)
    if result.verdict == "non-strict":
        result = failed(result.detail, "echoserv answers byte for byte")
    return result


QUIT_NOT_DONE = ("quit was echoed as a line: the server does not end the "
                 "conversation on a line whose content is exactly quit "
                 "(docs/protocol.md 3.3)")


@case("quit", ECHOSERV, "a quit line ends the conversation: the replies "
      "before it come back, quit and what follows do not, then a FIN")
def quit_line(ctx):
    return _conversation(ctx, b"before quit\nquit\nafter quit\n",
                         b"before quit\n", "only the line before quit came "
                         "back", hints={"extra": QUIT_NOT_DONE})


@case("quit-crlf", ECHOSERV, "quit followed by CR LF ends the conversation "
      "too")
def quit_crlf(ctx):
    return _conversation(ctx, b"telnet\r\nquit\r\n", b"telnet\r\n",
                         "the line before quit\\r came back", hints={
                             "extra": "quit CR LF was echoed: the CR before "
                             "the LF must not stop it being quit"})


@case("quit-lookalikes", ECHOSERV, "QUIT, 'quit ' and ' quit' are ordinary "
      "lines and come back")
def quit_lookalikes(ctx):
    data = b"QUIT\nquit \n quit\nquitquit\nlast\n"
    c = ctx.connect()
    c.send(data)
    reply = c.read(lines=5)
    return judge(ctx, data, reply, "the five lines", hints={
        "short": "a line that only looks like quit ended the conversation: "
        "compare the whole content (case, spaces) with quit",
        "nothing": "a line that only looks like quit ended the "
        "conversation"})


@case("quit-eof", ECHOSERV, "quit without an LF at end of input is an "
      "ordinary last line and comes back")
def quit_eof(ctx):
    return _conversation(ctx, b"quit", b"quit", "the unterminated quit came "
                         "back", half_close=True, hints={
                             "eof": "an unterminated quit at end of input "
                             "ended the conversation: only a complete line "
                             "is quit (docs/protocol.md 3.3, 3.6)"})


@case("quit-discards", ECHOSERV, "256 KiB sent after quit are discarded and "
      "the close is clean (no reset)")
def quit_discards(ctx):
    fleet = ctx.fleet()
    (p,) = fleet.connect(1)
    p.queue(b"kept\nquit\n" + numbered(b"q", 4096, width=64))
    p.shut_when_sent = True
    fleet.run(lambda: p.end is not None, ctx.timeout + 5)
    got = bytes(p.got)
    if got == b"kept\n" and p.end == "eof":
        return passed("only the line before quit came back, and the server "
                      "closed with a FIN although the client kept sending")
    if got.startswith(b"kept\n") and p.end == "reset":
        return failed("the line before quit came back, then the connection "
                      "was reset while the client was still sending",
                      LINGER_HINT)
    if p.end is None:
        return failed("the server did not close in %.0f s after quit (%d "
                      "bytes back)" % (ctx.timeout + 5, len(got)),
                      "after quit, the server must close once it has "
                      "delivered the replies owed")
    return _closing_verdict(ctx, b"kept\n", Reply(got, p.end, 0),
                            "the line before quit", {"extra": QUIT_NOT_DONE})


def _too_long_line(ctx):
    return b"error: line too long (limit %d bytes)\r\n" % ctx.settings.max_line


@case("too-long", ECHOSERV, "a line over --max-line gets the error line "
      "after the replies owed, then a clean close")
def too_long(ctx):
    max_line = ctx.settings.max_line
    fleet = ctx.fleet()
    (p,) = fleet.connect(1)
    p.queue(b"short\n" + b"x" * (max_line + 100) + b"\nafter\n")
    p.shut_when_sent = True
    fleet.run(lambda: p.end is not None, ctx.timeout + 5)
    want = b"short\n" + _too_long_line(ctx)
    reply = Reply(bytes(p.got), p.end or "timeout", 0)
    return _closing_verdict(ctx, want, reply,
                            "the line before, then %s" % show(
                                _too_long_line(ctx)), hints={
        "short": "no error line: the server does not limit lines to "
        "--max-line %d, or does not say so before closing" % max_line,
        "extra": "the long line was echoed (in part): the limit is not "
        "enforced at --max-line %d (or pass the server's own)" % max_line,
        "changed": "the error line is not the expected one: %s" % show(
            _too_long_line(ctx))})


@case("too-long-early", ECHOSERV, "the line-too-long error comes as soon as "
      "--max-line bytes without an LF are held, without waiting for more")
def too_long_early(ctx):
    c = ctx.connect()
    c.send(b"y" * ctx.settings.max_line)
    reply = c.read(until_close=True)
    return _closing_verdict(ctx, _too_long_line(ctx), reply, "the error line "
                            "came with no more input", hints={
        "nothing": "the server waits for the LF (or more bytes) before it "
        "decides the line is too long: it must say so as soon as it holds "
        "--max-line bytes of one line (docs/protocol.md 3.5)"})


# ------------------------------------------------------------ timeouts

@case("idle-timeout", ECHOSERV, "a silent client gets 'error: idle "
      "timeout' after --idle-timeout, not before; one that talks is kept",
      limit=30)
def idle_timeout(ctx):
    t = ctx.settings.idle_timeout
    if not t:
        return info("not checked: give --idle-timeout SECS (the server's "
                    "setting; start it with a short one, e.g. -t 3)")
    silent = ctx.connect()
    talker = ctx.connect()
    start = time.monotonic()
    time.sleep(max(0.0, min(t * 0.6, ctx.left() - 1)))
    talker.send(b"still here\n")
    got = talker.read(lines=1)
    if got.data != b"still here\n":
        return judge(ctx, b"still here\n", got, "the talking client's line")
    reply = silent.read(until_close=True, timeout=t + ctx.timeout)
    took = time.monotonic() - start
    want = b"error: idle timeout\r\n"
    if reply.end not in ("eof", "reset"):
        return failed("the silent client was still connected after %.1f s "
                      "(--idle-timeout %d)" % (took, t), "no idle timeout: "
                      "the server must close a client that made no progress "
                      "for --idle-timeout s (the nearest deadline as "
                      "select()'s timeout)")
    if took < t - 0.5:
        return failed("the silent client was closed after %.1f s, before "
                      "--idle-timeout %d" % (took, t), "the idle clock runs "
                      "fast: whole seconds rounded, or counted from the "
                      "wrong event")
    if reply.data != want:
        return failed("the silent client was closed after %.1f s with %s, "
                      "not %s" % (took, show(reply.data), show(want)),
                      "the idle timeout must send its error line before "
                      "closing")
    # The talker made progress at 0.6 t: it must outlive the silent one.
    alive = talker.quiet(0.2)
    if alive.end != "timeout":
        return failed("the client that talked at %.1f s was closed too "
                      "(%s)" % (t * 0.6, alive.end), "progress must restart "
                      "the idle clock: the deadline is from the last read or "
                      "write, not from accept")
    return passed("the silent client got %s after %.1f s (limit %d s); the "
                  "one that talked was kept" % (show(want), took, t))


@case("line-timeout", ECHOSERV, "a line trickled without its LF gets "
      "'error: line timeout' after --line-timeout", limit=30)
def line_timeout(ctx):
    t = ctx.settings.line_timeout
    if not t:
        return info("not checked: give --line-timeout SECS (the server's "
                    "setting, e.g. --line-timeout 2 on both)")
    idle = ctx.settings.idle_timeout
    gap = min(0.5, idle / 3.0) if idle else 0.5
    c = ctx.connect(nodelay=True)
    start = time.monotonic()
    sent = 0
    reply = None
    # A byte every `gap` seconds: progress for the idle timeout, never a
    # whole line.
    while time.monotonic() - start < t + ctx.timeout:
        if c.send(b"z", log=sent < 3):
            break
        sent += 1
        reply = c.read(nbytes=1, timeout=gap, log=True)
        if reply.data or reply.end in ("eof", "reset"):
            break
    took = time.monotonic() - start
    ctx.note("trickled %d bytes, one every %.1f s" % (sent, gap))
    if reply is None or (not reply.data and reply.end not in ("eof",
                                                              "reset")):
        return failed("no line timeout: after %.1f s of a line trickled a "
                      "byte at a time the connection was still open "
                      "(--line-timeout %d)" % (took, t), "the server has no "
                      "line deadline (the defence against slow-loris "
                      "clients): a line must be whole within --line-timeout "
                      "of its first byte")
    rest = c.read(until_close=True)
    data = reply.data + rest.data
    want = b"error: line timeout\r\n"
    if took < t - 0.5:
        return failed("the trickling client was cut after %.1f s, before "
                      "--line-timeout %d" % (took, t), "the line clock runs "
                      "fast, or another limit cut it")
    return _closing_verdict(ctx, want, Reply(data, rest.end, 0),
                            "%s came after %.1f s (limit %d s)" % (
                                show(want), took, t))


# ------------------------------------------------------------ capacity

def _admit(ctx, fleet, n, what):
    """Open n connections and have each echo a line; the peers, or a
    failed Result.  A connection turned away is tried again, twice, a
    moment later: the server may not have finished closing the
    connections of the case before."""
    peers = [None] * n
    for attempt in range(3):
        todo = [i for i in range(n) if peers[i] is None or
                bytes(peers[i].got) != b"admitted %d\n" % i]
        if not todo:
            break
        if attempt:
            ctx.note("%d turned away; again in 0.5 s" % len(todo))
            time.sleep(0.5)
        try:
            fresh = fleet.connect(len(todo), log=False)
        except Exception as e:  # ConnectFailed
            return None, failed("%s: %s" % (what, e), "the server stopped "
                                "accepting before its limit")
        for i, p in zip(todo, fresh):
            if peers[i] is not None:
                peers[i].close()
            peers[i] = p
            p.queue(b"admitted %d\n" % i)
        fleet.run(lambda: all(p.lines() >= 1 or p.end for p in fresh),
                  ctx.timeout + n / 200.0)
    bad = [p for p in peers if p.got != b"admitted %d\n" % peers.index(p)]
    if bad:
        p = bad[0]
        return None, failed("%s: %d of %d were not served (the first: %s, "
                            "%s)" % (what, len(bad), n, show(p.got),
                                     p.end or "no reply"),
                            "the server turned away or ignored clients below "
                            "its limit: is the limit given to echocheck the "
                            "server's?")
    ctx.note("%d connections open, each had a line echoed" % n)
    return peers, None


def _turned_away(ctx, want, what, n):
    c = ctx.connect()
    reply = c.read(until_close=True)
    if reply.data == want and reply.end in ("eof", "reset"):
        return passed("connection %d got %s and was closed" % (n + 1,
                                                               show(want)))
    if reply.end == "timeout" and not reply.data:
        c.send(b"over the limit\n")
        late = c.read(lines=1, timeout=2)
        if late.data:
            return failed("connection %d was admitted and served: %s is not "
                          "enforced at %d" % (n + 1, what, n),
                          "no limit on %s, or it is higher than %d" % (what,
                                                                       n))
    return failed("connection %d got %s (%s), not %s and a close" % (
        n + 1, show(reply.data), reply.end, show(want)),
        "over %s the server must say %s and close" % (what, show(want)))


@case("server-full", ECHOSERV, "with --max-conns N, connection N+1 is told "
      "'error: server full' and closed; the N others go on", limit=30,
      settle=0.3)
def server_full(ctx):
    n = ctx.settings.max_conns
    if not ctx.settings.max_conns_given:
        return info("not checked: give --max-conns N, the server's "
                    "--max-clients")
    if ctx.too_few(n + 1):
        return ctx.too_few(n + 1)
    fleet = ctx.fleet(log=False)
    peers, bad = _admit(ctx, fleet, n, "filling the server")
    if bad:
        return bad
    result = _turned_away(ctx, b"error: server full\r\n", "--max-clients", n)
    last = peers[-1]
    last.queue(b"still served\n")
    fleet.run(lambda: last.got.endswith(b"still served\n") or last.end,
              ctx.timeout)
    if result.verdict == "pass" and not last.got.endswith(b"still served\n"):
        return failed("an admitted client was not served after one was "
                      "turned away", "turning a client away must not "
                      "disturb the others")
    return result


@case("per-addr", ECHOSERV, "with --max-per-addr N, connection N+1 from one "
      "address is told 'error: too many connections'; a slot freed is "
      "reused", limit=30)
def per_addr(ctx):
    n = ctx.settings.max_per_addr
    if not n:
        return info("not checked: give --max-per-addr N, the server's")
    fleet = ctx.fleet(log=False)
    peers, bad = _admit(ctx, fleet, n, "opening %d connections" % n)
    if bad:
        return bad
    result = _turned_away(ctx, b"error: too many connections\r\n",
                          "--max-per-addr", n)
    if result.verdict != "pass":
        return result
    peers[0].close()
    ctx.note("closed one of the %d" % n)
    end = time.monotonic() + ctx.timeout
    while time.monotonic() < end:
        c = ctx.connect()
        c.send(b"in the freed slot\n")
        reply = c.read(lines=1, timeout=1)
        if reply.data == b"in the freed slot\n":
            return passed(result.detail + "; after one closed, a new one was "
                          "served")
        c.close()
        time.sleep(0.2)
    return failed("after one of the %d closed, a new connection was still "
                  "turned away" % n, "the per-address count is not "
                  "decremented when a client leaves")
