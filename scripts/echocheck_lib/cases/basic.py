"""basic.py - one client's conversation: a line, many lines, a line cut
into pieces, every byte value, the longest line, silence, and end of
input (half-close) with the replies that must still come before the
server's close.
"""

import time

from ..registry import ALL, LINE, case
from ..verdict import (FAIL, NON_STRICT, PASS, failed, non_strict, passed,
                       show, unsupported)
from .common import (echo, echoed, first_echo_gate, judge, numbered,
                     read_echo)


@case("line-one", LINE, "one short line comes back byte for byte",
      needs_echo=False)
def line_one(ctx):
    return first_echo_gate(ctx, echo(ctx, b"hello, echo server\n",
                                     "the line"))


@case("line-empty", LINE, "an empty line (a lone LF) comes back, and the "
      "line after it")
def line_empty(ctx):
    return echo(ctx, b"\nafter the empty line\n", "the empty line and the "
                "next", hints={"short": "the empty line was skipped: a "
                               "loop that stops at a zero-length line, or "
                               "a check for 'no content' that drops it"})


@case("line-crlf", LINE, "a line ending in CR LF (as telnet sends) comes "
      "back with its CR")
def line_crlf(ctx):
    return echo(ctx, b"a telnet line\r\n", "the CR LF line")


@case("line-pipelined", LINE, "200 lines sent in one write come back whole "
      "and in order")
def line_pipelined(ctx):
    data = numbered(b"p", 200, width=40)
    return echo(ctx, data, "the 200 lines", hints={
        "short": "only the first lines of the write came back: the server "
        "answers one line per read() and throws away the rest of what the "
        "read brought, or waits for another read that never comes",
        "hole": "lines are missing from the middle: the rest of a read after "
        "the first line was dropped, or a partial write's remainder lost"})


@case("line-byte-by-byte", LINE, "a line sent one byte per write comes back "
      "whole")
def line_byte_by_byte(ctx):
    data = b"one byte at a time\n"
    c = ctx.connect()
    why = c.send_bytewise(data, pause=0.02)
    if why:
        return failed("sending failed: " + why, "the server closed on a "
                      "read of one byte: it takes a short read for the end")
    return judge(ctx, data, read_echo(ctx, c, data), "the line", hints={
        "short": "only the first bytes came back: the server treats each "
        "read() as a whole line, or keeps only the first read of a line",
        "changed": "the pieces came back out of order or mixed: a line "
        "buffer that is reset, or appended at the wrong offset, between "
        "reads"})


@case("line-split-writes", LINE, "lines split across writes at odd places "
      "(mid-line, right after an LF) come back whole")
def line_split_writes(ctx):
    pieces = [b"first li", b"ne\nsecond", b" line\n", b"third ", b"line\nfo",
              b"urth line\n"]
    c = ctx.connect(nodelay=True)
    for p in pieces:
        why = c.send(p)
        if why:
            return failed("sending failed: " + why, "the server closed "
                          "while a line was incomplete")
        time.sleep(0.05)
    data = b"".join(pieces)
    return judge(ctx, data, read_echo(ctx, c, data), "the four lines",
                 hints={"short": "a line whose start and end came in "
                        "different reads was lost or cut: the line buffer "
                        "is not carried from one read to the next"})


@case("line-all-bytes", LINE, "every byte value but LF (NUL, CR, DEL, "
      "0x80-0xff), in one line, comes back unchanged")
def line_all_bytes(ctx):
    body = bytes(b for b in range(256) if b != 10)
    data = b"all bytes: " + body + b"\n"
    return echo(ctx, data, "the line of every byte value", hints={
        "short": "the reply stops early: a NUL or other byte taken for "
        "the end of the data (string functions on binary data)",
        "eof": "the server closed when the line held a NUL, a CR or a byte "
        "above 127: it may have crashed (a child per client dying shows "
        "as a close) or refuse binary input",
        "reset": "the connection was reset when the line held binary bytes: "
        "the server (or its child for this client) probably crashed on one",
        "changed": "bytes came back changed: signed char arithmetic on bytes "
        "above 127, a CR or DEL handled as a control, or a text conversion"})


def _sizes(max_line):
    sizes = {1, 2, 80, 1023, 1024, 1025, 2048, 4095, 4096, 4097, 8191, 8192,
             max_line - 1, max_line}
    return sorted(s for s in sizes if 1 <= s <= max_line)


@case("line-max", LINE, "lines of 1 byte up to the maximum (--max-line, LF "
      "included) each come back whole")
def line_max(ctx):
    max_line = ctx.settings.max_line
    c = ctx.connect()
    checked = []
    for size in _sizes(max_line):
        data = (b"%d:" % size + b"m" * size)[:size - 1] + b"\n"
        why = c.send(data)
        if why:
            return failed("sending a line of %d bytes failed: %s" % (size,
                                                                    why),
                          "the server closed on a long line: a fixed "
                          "buffer that gives up when full")
        reply = read_echo(ctx, c, data)
        verdict, _ = ctx.compare(data, reply.data)
        if verdict == FAIL:
            longest = max(checked) if checked else 0
            result = judge(ctx, data, reply, "the line of %d bytes" % size,
                           hints={k: "lines up to %d bytes came back, this "
                                  "one did not: a fixed line buffer of about "
                                  "%d bytes that cuts, splits or drops longer "
                                  "lines (or, if that is its limit, pass "
                                  "--max-line %d)" % (longest, size - 1,
                                                      longest)
                                  for k in ("short", "changed", "extra",
                                            "hole", "nothing", "eof")})
            return result
        checked.append(size)
        if verdict == NON_STRICT:
            return judge(ctx, data, reply, "the line of %d bytes" % size)
    return passed("lines of %s bytes came back whole" % ", ".join(
        str(s) for s in checked))


@case("no-greeting", ALL, "a client that sends nothing receives nothing "
      "(no banner, no early close)", needs_echo=False)
def no_greeting(ctx):
    c = ctx.connect()
    reply = c.quiet(1.0)
    if reply.end == "timeout" and not reply.data:
        return passed("nothing came in 1 s of silence, and the connection "
                      "stayed open")
    if reply.data:
        return failed("the server spoke first: %s" % show(reply.data),
                      "a greeting or banner breaks every echo client: the "
                      "first bytes it reads are not its own")
    return failed("the server closed a silent connection at once (%s)"
                  % reply.end, "it may read once at accept and close when "
                  "nothing is there (a nonblocking read's EAGAIN taken for "
                  "the end), or accept only to close")


# ------------------------------------------------------------ end of input

def _eof_result(ctx, want, reply, what, drop_hint):
    """The verdict on what came after a half-close: want, then a FIN."""
    got = reply.data
    verdict, diff = ctx.compare(want, got)
    if reply.end == "timeout":
        if verdict == FAIL and diff.kind not in ("short", "equal"):
            return judge(ctx, want, reply, what)
        return unsupported(
            "%s; after the client's end of input the server did not close "
            "in %.0f s (%s)" % (
                "everything came back" if verdict != FAIL else
                "%d of %d bytes came back" % (len(got), len(want)),
                ctx.timeout, "half-close is not acted on" if verdict != FAIL
                else "it waits for more before answering the last line"))
    if reply.end == "reset":
        return failed("%s: the connection was reset after %d of %d bytes"
                      % (what, len(got), len(want)),
                      "a reset at end of input: the server closed with "
                      "input it had not read, or crashed")
    if verdict == PASS:
        return passed("%s came back, then the server closed (FIN)" % what)
    if verdict == NON_STRICT:
        return non_strict("%s came back with line ends changed (%s), then "
                          "the server closed" % (what, diff.text))
    if diff.kind == "extra" and got[:len(want)] == want and \
            got[len(want):] == b"\n":
        return non_strict("%s came back with an LF added to the last, "
                          "unterminated line, then the server closed" % what)
    return failed("%s: %s; then the server closed" % (what, diff.text),
                  drop_hint)


@case("eof-lines", LINE, "complete lines sent just before a half-close all "
      "come back, then the server closes")
def eof_lines(ctx):
    data = numbered(b"e", 3, width=24)
    c = ctx.connect()
    c.send(data)
    c.half_close()
    reply = c.read(until_close=True)
    return _eof_result(ctx, data, reply, "the 3 lines",
                       "on end of input the server closed before answering "
                       "the lines it had: read() returning 0 must not skip "
                       "the lines already in the buffer")


@case("eof-partial", LINE, "the last line, unterminated, comes back as it is "
      "when the client half-closes")
def eof_partial(ctx):
    data = b"a complete line\nthe last line, no LF"
    c = ctx.connect()
    c.send(data)
    c.half_close()
    reply = c.read(until_close=True)
    return _eof_result(ctx, data, reply, "the line and the unterminated "
                       "rest", "the final unterminated line was dropped at "
                       "end of input: when read() returns 0, whatever is "
                       "left in the line buffer must still be sent "
                       "(docs/protocol.md 3.6)")


@case("close-delivers", ALL, "replies to 8 MiB sent just before a "
      "half-close are all delivered before the server closes (FIN, not RST)",
      limit=30)
def close_delivers(ctx):
    # More than the kernel buffers hold (the server's send buffer alone
    # grows to 4 MiB on Linux), so that replies are still queued in the
    # server when its read sees end of input.
    data = numbered(b"d", 131072, width=64)
    fleet = ctx.fleet()
    (p,) = fleet.connect(1, rcvbuf=32768)
    # First the client only sends, as fast as the server takes it, and
    # reads nothing for half a second: the replies pile up in the server.
    # Then it reads everything until the server closes.
    p.reading = False
    p.queue(data)
    p.shut_when_sent = True
    fleet.run(lambda: False, 0.5)
    ctx.note("after 0.5 s without reading: %d of %d bytes sent" % (
        p.sent, len(data)))
    p.reading = True
    want_lines = data.count(b"\n")
    done = echoed(ctx, p, data)
    fleet.run(lambda: p.end is not None or done(), ctx.timeout + 10,
              stall=ctx.timeout)
    if p.end is None:  # everything (or all that will come) is in: the close
        fleet.run(lambda: p.end is not None, ctx.timeout)
    got = bytes(p.got)
    end = p.end or "timeout"
    verdict, diff = ctx.compare(data, got)
    if end == "eof" and verdict != FAIL:
        return passed("all %d bytes came back, then the server closed (FIN)"
                      % len(data)) if verdict == PASS else non_strict(
            "everything came back with line ends changed (%s), then the "
            "server closed" % diff.text)
    if end == "timeout":
        if verdict != FAIL:
            return unsupported("everything came back, but the server did "
                               "not close after the client's end of input")
        return failed("%d of %d lines had come back, then nothing more for "
                      "%.0f s, and the server had not closed" % (
                          got.count(b"\n"), want_lines, ctx.timeout),
                      "the server stopped sending: replies queued but the "
                      "socket no longer watched for writing, or a blocking "
                      "write stuck")
    if end == "reset":
        return failed("the connection was reset after %d of %d bytes" % (
            len(got), len(data)), "a reset at the close destroys replies "
            "still in flight: the server closed while input was unread, "
            "or crashed; read and discard until end of input, then close "
            "(docs/protocol.md 3.8)")
    hint = {"short": "the server closed with replies still queued: on "
            "end of input it must first write out everything it owes "
            "(and the rest of the last line), then close; or it dropped "
            "what a short write() did not take, while the client was not "
            "reading",
            "hole": "bytes are missing from the middle: a write() that "
            "wrote less than asked and whose rest was dropped (the short "
            "count ignored)"}.get(diff.kind, "the replies came back wrong")
    return failed("%s; then the server closed" % diff.text, hint,
                  difference=diff.kind)
