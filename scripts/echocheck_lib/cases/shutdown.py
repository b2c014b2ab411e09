"""shutdown.py - graceful shutdown (docs/protocol.md section 4): on SIGTERM
the server stops taking input, delivers the replies it has queued, closes
every connection with a FIN and exits 0 within 3 seconds.

Only for a server echocheck started itself (--server): it is the one
process echocheck may signal, and the case ends it, so it runs last.
"""

import signal
import time

from ..registry import case
from ..verdict import failed, info, passed, show

GRACE = 3.0   # the contract's bound
SLACK = 2.0   # a loaded machine's share on top, for the exit only


@case("shutdown-drain", ("echoserv",), "on SIGTERM the server delivers the "
      "replies it has queued, closes with a FIN and exits 0 within 3 s",
      limit=20, ends_server=True)
def shutdown_drain(ctx):
    server = ctx.settings.local_server
    if server is None:
        return info("not checked: only a server started with --server is "
                    "signalled")
    fleet = ctx.fleet()
    owed, quiet = fleet.connect(2, rcvbuf=16384)
    owed.reading = False
    # More than the kernel buffers hold (8 MiB), so that at the signal the
    # server has both replies queued and input unread.
    block = b"".join(b"drain %06d ........................................"
                     b"...\n" % i for i in range(131072))  # 8 MiB of lines
    owed.queue(block)
    quiet.queue(b"idle but connected\n")
    fleet.run(lambda: (owed.sent and time.monotonic() - owed.last_sent_at >
                       0.3) or not owed.out, 3.0)
    fleet.run(lambda: quiet.lines() >= 1, ctx.timeout)
    ctx.note("%s sent %d bytes without reading; sending SIGTERM to pid %d"
             % (owed.name, owed.sent, server.pid))
    owed.out.clear()
    start = time.monotonic()
    server.signal(signal.SIGTERM)
    owed.reading = True
    fleet.run(lambda: owed.end and quiet.end, GRACE + SLACK)
    try:
        server.proc.wait(max(0.1, GRACE + SLACK - (time.monotonic() - start)))
    except Exception:
        pass
    took = time.monotonic() - start
    got = bytes(owed.got)
    if server.proc.poll() is None:
        return failed("the server was still running %.1f s after SIGTERM"
                      % took, "no graceful shutdown: catch SIGTERM (a flag "
                      "or a self-pipe watched by select()), stop accepting, "
                      "drain for at most 2 s, then exit")
    code = server.proc.returncode
    ctx.note("the server exited (%s) %.1f s after SIGTERM" % (server.fate(),
                                                            took))
    sent = block[:owed.sent]
    if not sent.startswith(got):
        i = next((i for i in range(0, len(got), 64)
                  if not sent.startswith(got[:i + 64])), 0)
        rest = got[i:]
        said = rest[rest.find(b"error: "):] if b"error: " in rest else b""
        return failed("%d bytes came back before the close, the echo %s" % (
            len(got), "cut by the server's %s" % show(said[:40]) if said
            else "wrong from byte %d on" % i),
            "the server gave up on the client that was not reading before "
            "the signal came (its idle timeout?): rerun with a longer one"
            if said else "replies were mangled during the drain")
    if not got or not got.endswith(b"\n"):
        return failed("%d bytes came back before the close, %s" % (
            len(got), "none" if not got else "ending mid-line"),
            "the replies queued at the signal were not delivered: on "
            "SIGTERM keep writing what is owed (for up to 2 s) before "
            "closing")
    if owed.end != "eof" or quiet.end != "eof":
        return failed("the connections ended with %s and %s, not FINs"
                      % (owed.end, quiet.end), "close the connections "
                      "gracefully at shutdown, not by exiting with unread "
                      "input (a reset)")
    if code != 0:
        return failed("the server exited with %s after SIGTERM" %
                      server.fate(), "a graceful shutdown exits 0")
    if took > GRACE + SLACK:
        return failed("the server took %.1f s to exit after SIGTERM" % took,
                      "the drain must be bounded (2 s, then give up)")
    return passed("%d bytes of replies delivered after SIGTERM, both "
                  "connections closed with a FIN, exit 0 after %.1f s"
                  % (len(got), took))
