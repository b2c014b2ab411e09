"""raw.py - RFC 862 over TCP: every byte back, in order, as soon as it
comes, whatever it is; no lines, no quit, no limit.
"""

import random

from ..registry import case
from ..verdict import failed, passed
from .common import echo, first_echo_gate, judge

RAW = ("raw",)
WAITS_FOR_LF = ("the bytes were held back until an LF: the server frames "
                "lines; RFC 862 sends every byte back as soon as it is read")


@case("raw-one", RAW, "a few bytes come back, byte for byte",
      needs_echo=False)
def raw_one(ctx):
    return first_echo_gate(ctx, echo(ctx, b"hello, echo server\n",
                                     "the bytes"))


@case("raw-bytes", RAW, "every byte value, LF, CR LF and NUL included, comes "
      "back unchanged")
def raw_bytes(ctx):
    data = bytes(range(256)) + bytes(range(255, -1, -1)) + b"\r\n\n\0quit\n"
    return echo(ctx, data, "the 518 bytes of every value", hints={
        "short": "the reply stops early: a byte taken for the end (string "
        "functions stop at NUL; a line server stops at LF or quit)",
        "changed": "bytes came back changed: a text conversion (CR LF, "
        "signed char) on what must be passed through untouched"})


@case("raw-unframed", RAW, "bytes without any LF come back without waiting "
      "for one")
def raw_unframed(ctx):
    return echo(ctx, b"no line end in these bytes", "the unterminated bytes",
                hints={"nothing": WAITS_FOR_LF, "short": WAITS_FOR_LF})


@case("raw-byte-by-byte", RAW, "each byte sent alone comes back before the "
      "next is sent")
def raw_byte_by_byte(ctx):
    c = ctx.connect(nodelay=True)
    data = b"12345678"
    for i in range(len(data)):
        one = data[i:i + 1]
        why = c.send(one)
        if why:
            return failed("sending byte %d failed: %s" % (i + 1, why),
                          "the server closed on a one-byte read")
        reply = c.read(nbytes=1)
        if reply.data != one:
            return judge(ctx, one, reply, "byte %d alone" % (i + 1), hints={
                "nothing": WAITS_FOR_LF + " (or it waits to fill a buffer)"})
    return passed("each of %d bytes came back on its own" % len(data))


@case("raw-eof", RAW, "64 KiB of binary data sent before a half-close all "
      "comes back, then the server closes")
def raw_eof(ctx):
    data = random.Random(862).randbytes(65536) \
        if hasattr(random.Random, "randbytes") else \
        bytes(random.Random(862).getrandbits(8) for _ in range(65536))
    c = ctx.connect()
    c.send(data)
    c.half_close()
    reply = c.read(until_close=True)
    result = judge(ctx, data, reply, "the 64 KiB", hints={
        "short": "the server closed at end of input with bytes still owed: "
        "finish writing, then close"})
    if result.verdict == "pass" and reply.end != "eof":
        return failed("everything came back, but the server %s" % (
            "reset the connection" if reply.end == "reset" else
            "did not close after the client's end of input"),
            "on read() returning 0, write out what is owed, then close")
    if result.verdict == "pass":
        return passed("all 65536 bytes came back, then the server closed")
    return result


@case("raw-stream", RAW, "4 MiB of binary data streamed while reading comes "
      "back in order (full duplex)", limit=30)
def raw_stream(ctx):
    rng = random.Random(7)
    block = bytes(rng.getrandbits(8) for _ in range(65536))
    data = block * 64
    fleet = ctx.fleet()
    (p,) = fleet.connect(1)
    p.queue(data)
    done = fleet.run(lambda: len(p.got) >= len(data) or p.end is not None,
                     ctx.timeout + 20, stall=ctx.timeout)
    result = judge(ctx, data, bytes(p.got), "the 4 MiB stream")
    if result.verdict == "fail" and not done:
        result.detail += " (%d bytes sent, %d back when the time ran out)" % (
            p.sent, len(p.got))
    return result
