"""common.py - what the cases share: payloads, reading an echo back, and
turning what came back into a verdict with the right hint.

Payloads are printable and never hold a line whose content is "quit", so
that every case except the ones about quit means the same to any line
echo server.  Numbered lines ("c7 000123 ...") make a loss or a mix-up
visible in the wire log.
"""

from ..verdict import FAIL, NON_STRICT, PASS, failed, non_strict, passed, show

FILL = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

# What a reply looks like when nothing useful came, and the usual reasons.
NOTHING_HINT = ("nothing came back: the server never wrote the reply (a write "
                "through a stdio FILE* without fflush(), output queued but "
                "the socket never watched for writing), or it waits for more "
                "than one line, or for the client to close, before it "
                "answers")
EOF_HINT = ("the server closed the connection instead of answering: it may "
            "treat a short read() as the end, or give up on an error it "
            "should retry (EAGAIN, EINTR)")
RESET_HINT = ("the connection was reset: the server closed with unread input, "
              "or crashed (a child or thread per client dying shows as a "
              "reset)")
SHORT_HINT = ("the end of the reply is missing: an ignored short count from "
              "write(), or a close() before everything queued was written")
HOLE_HINT = ("bytes are missing from the middle: a write() that wrote less "
             "than asked and whose rest was dropped (the short count "
             "ignored), or a buffer overwritten before it was sent")
CHANGED_HINT = ("the bytes came back changed: a transformation of the data "
                "(string functions, case or line-end conversion) or a buffer "
                "shared between clients")
EXTRA_HINT = ("more came back than was sent: a buffer sent twice, or stale "
              "bytes of an earlier read sent again (the length of the read "
              "not used)")
NUL_HINT = ("it goes wrong at a NUL byte: string functions (strlen, strcpy, "
            "printf's %s, fputs) on binary data; use the byte counts read() "
            "returns")


def numbered(tag, count, width=64, first=0):
    """count lines of width bytes (LF included): b"TAG 000001 abc...\\n"."""
    head_len = len(tag) + 8
    body = (FILL * (width // len(FILL) + 1))[:max(0, width - head_len - 1)]
    line = b"%s %%06d %s\n" % (tag, body)
    return b"".join(line % i for i in range(first, first + count))


def echoed(ctx, peer, want):
    """A test of whether peer (a fleet Peer) has all of want's echo: as
    many bytes in raw mode, as many LFs in line mode (a CR LF rewrite
    makes it longer).  Cheap to call often: the LFs are counted once."""
    if ctx.raw or not want.endswith(b"\n"):
        n = len(want)
        return lambda: len(peer.got) >= n
    lines = want.count(b"\n")
    return lambda: peer.lines() >= lines


def read_echo(ctx, conn, want, timeout=None):
    """Read what the echo of want should be: len(want) bytes in raw mode;
    in line mode as many LFs as want has (so that a CR LF rewrite still
    ends the read), plus the unterminated rest when want has one."""
    if ctx.raw or not want.endswith(b"\n"):
        return conn.read(nbytes=len(want), timeout=timeout)
    return conn.read(lines=want.count(b"\n"), timeout=timeout)


def judge(ctx, want, reply, what, hints=None, ok=None):
    """The verdict on reply (a Reply, or bytes) as the echo of want.

    what names the echo in a sentence ("the line"); hints may override
    the hint for a diff kind (short, hole, at-nul, extra, changed) or an
    end (nothing, eof, reset); ok is the detail of a pass."""
    hints = hints or {}
    got = reply if isinstance(reply, (bytes, bytearray)) else reply.data
    end = "done" if isinstance(reply, (bytes, bytearray)) else reply.end
    verdict, diff = ctx.compare(want, got)
    if verdict == PASS:
        return passed(ok or "%s came back byte for byte (%d bytes)"
                      % (what, len(want)))
    if verdict == NON_STRICT:
        return non_strict("%s came back with its line ends changed: %s"
                          % (what, diff.text))
    assert verdict == FAIL
    if not got:
        key = {"timeout": "nothing", "eof": "eof", "reset": "reset"}.get(
            end, "nothing")
        default = {"nothing": NOTHING_HINT, "eof": EOF_HINT,
                   "reset": RESET_HINT}[key]
        how = {"nothing": "nothing came back in %.0f s" % ctx.timeout,
               "eof": "the server closed the connection without a reply",
               "reset": "the connection was reset without a reply"}[key]
        return failed("%s: %s" % (what, how), hints.get(key, default))
    default = {"short": SHORT_HINT, "hole": HOLE_HINT, "at-nul": NUL_HINT,
               "extra": EXTRA_HINT, "changed": CHANGED_HINT,
               "line-ends": CHANGED_HINT}[diff.kind]
    if diff.kind == "short" and end in ("eof", "reset"):
        default = EOF_HINT if end == "eof" else RESET_HINT
    tail = {"timeout": "; then nothing more in %.0f s" % ctx.timeout,
            "eof": "; then the server closed",
            "reset": "; then the connection was reset"}.get(end, "")
    return failed("%s: %s%s" % (what, diff.text, tail),
                  hints.get(diff.kind, default), difference=diff.kind)


def echo(ctx, data, what, hints=None, conn=None):
    """Send data on a new (or the given) connection and judge its echo."""
    c = conn or ctx.connect()
    why = c.send(data)
    if why:
        return failed("%s: sending failed: %s" % (what, why), RESET_HINT)
    return judge(ctx, data, read_echo(ctx, c, data), what, hints)


def first_echo_gate(ctx, result):
    """After the first echo case: if nothing at all came back, later cases
    that need an echo fail at once instead of each waiting its timeout."""
    silent = ("nothing came back", "closed the connection without",
              "reset without a reply", "sending failed")
    if result.verdict == FAIL and any(s in result.detail for s in silent):
        ctx.shared["no_echo"] = "the server did not echo one line (%s)" % \
            result.detail
        ctx.shared["first_case"] = ctx.case.id
    return result


__all__ = ["numbered", "echoed", "read_echo", "judge", "echo", "show",
           "first_echo_gate"]
