"""fleet.py - many client connections driven together by one selector.

The load cases need clients that act at the same time: a hundred taking
turns, one flooding while others talk, one reading slowly while it
sends.  Threads would make the timing hard to reason about, so a Fleet is
one loop over nonblocking sockets, like the servers it checks: each round
it writes what each Peer has queued (while the socket takes it), reads
from each Peer that is reading, and calls the Peer's on_input hook, which
may queue more.  Fleet.run() returns when the case's condition holds or
its time is up, never later than the case's deadline.

A Peer reads at full speed unless it is told otherwise: reading=False
(a client that never reads) or rate=BYTES_PER_SECOND (a slow reader).
"""

import selectors
import socket
import struct
import time

from .wire import ConnectFailed, describe_error, end_of, payload

CHUNK = 65536


class Peer:
    """One connection of a fleet and what it has sent and received."""

    def __init__(self, fleet, sock, name):
        self.fleet = fleet
        self.sock = sock
        self.name = name
        self.out = bytearray()
        self.got = bytearray()
        self.nl = 0                  # LFs in got, counted as they come
        self.sent = 0
        self.shut_when_sent = False  # shutdown(SHUT_WR) once out is empty
        self.shut = False
        self.reading = True
        self.rate = None             # bytes per second, None: full speed
        self.allowance = 0.0
        self.on_input = None         # hook(peer) after each read
        self.end = None              # None (open), "eof", "reset", "error"
        self.error = ""
        self.closed = False
        self.last_sent_at = time.monotonic()
        self.first_byte_at = None

    def queue(self, data):
        self.out += data

    def lines(self):
        return self.nl

    def close(self):
        if not self.closed:
            self.closed = True
            self.fleet.forget(self)
            try:
                self.sock.close()
            except OSError:
                pass

    def reset(self):
        """Close with SO_LINGER 0, so that the server gets a reset."""
        if not self.closed:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
            self.close()
            self.fleet.wire.add(self.name, "event",
                                "reset (SO_LINGER 0, RST sent)")


class Fleet:
    """The peers of one case; ctx gives the target, wire and deadline."""

    def __init__(self, ctx, log=True):
        self.ctx = ctx
        self.wire = ctx.wire
        self.log = log
        self.peers = []
        self.sel = selectors.DefaultSelector()
        self.registered = {}
        self.last_input = time.monotonic()
        ctx.track(self)

    def connect(self, n, rcvbuf=None, log=None, budget=None):
        """Open n connections, one after another (each within the
        timeout, all within budget seconds if given); returns their
        Peers.  Raises ConnectFailed, with the peers made so far in .made,
        if one cannot be opened or the budget runs out."""
        log = self.log if log is None else log
        made = []
        target = self.ctx.target
        start = time.monotonic()
        for _ in range(n):
            if budget is not None and time.monotonic() - start > budget:
                err = ConnectFailed("only %d of %d connections were made in "
                                    "%.0f s" % (len(made), n, budget))
                err.made = made
                raise err
            name = self.wire.new_name()
            sock = socket.socket(target.family, socket.SOCK_STREAM)
            try:
                if rcvbuf:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                    rcvbuf)
                sock.settimeout(self.ctx.wait(self.ctx.timeout))
                sock.connect(target.sockaddr)
                sock.setblocking(False)
            except OSError as e:
                sock.close()
                self.wire.add(name, "event",
                              "connect failed: " + describe_error(e))
                err = ConnectFailed("connection %d of %d could not be made: "
                                    "%s" % (len(made) + 1, n,
                                            describe_error(e)))
                err.made = made
                raise err
            peer = Peer(self, sock, name)
            self.peers.append(peer)
            made.append(peer)
            if log:
                self.wire.add(name, "event", "connected from port %d"
                              % sock.getsockname()[1])
        return made

    # ------------------------------------------------------------ the loop

    def run(self, until, seconds, stall=None):
        """Move bytes until until() is true (True returned) or seconds
        pass or the case's deadline comes (False); with stall, also stop
        (False) when no peer has received a byte for stall seconds."""
        end_at = min(time.monotonic() + seconds, self.ctx.deadline)
        last = self.last_input = time.monotonic()
        while True:
            if until():
                return True
            now = time.monotonic()
            if now >= end_at:
                return False
            if stall is not None and now - self.last_input > stall:
                self.wire.note("no peer received anything for %.0f s"
                               % stall)
                return False
            for p in self.peers:
                if p.rate is not None:
                    p.allowance = min(p.allowance + (now - last) * p.rate,
                                      max(p.rate / 10.0, 4096.0))
            last = now
            self._register()
            if not self.registered:
                time.sleep(min(0.01, end_at - now))
                continue
            for key, events in self.sel.select(min(0.02, end_at - now)):
                p = key.data
                if events & selectors.EVENT_WRITE:
                    self._write(p)
                if events & selectors.EVENT_READ and not p.closed:
                    self._read(p)

    def _wants(self, p):
        if p.closed or p.end in ("reset", "error"):
            return 0
        ev = 0
        if p.out:
            ev |= selectors.EVENT_WRITE
        if p.reading and p.end is None and \
                (p.rate is None or p.allowance >= 1):
            ev |= selectors.EVENT_READ
        return ev

    def _register(self):
        for p in self.peers:
            if p.shut_when_sent and not p.out and not p.shut and \
                    not p.closed and p.end is None:
                self._shut(p)
            ev = self._wants(p)
            old = self.registered.get(p)
            if ev == old:
                continue
            if old:
                self.sel.unregister(p.sock)
                del self.registered[p]
            if ev:
                self.sel.register(p.sock, ev, p)
                self.registered[p] = ev

    def forget(self, p):
        if p in self.registered:
            self.sel.unregister(p.sock)
            del self.registered[p]

    def _write(self, p):
        try:
            n = p.sock.send(p.out[:CHUNK])
        except BlockingIOError:
            return
        except OSError as e:
            p.end, p.error = end_of(e), describe_error(e)
            self.wire.add(p.name, "event", "send failed: " + p.error)
            self.forget(p)
            return
        if self.log:
            self.wire.add(p.name, "send", payload(p.out[:n]))
        del p.out[:n]
        p.sent += n
        p.last_sent_at = time.monotonic()

    def _shut(self, p):
        p.shut = True
        try:
            p.sock.shutdown(socket.SHUT_WR)
            self.wire.add(p.name, "event", "shutdown(SHUT_WR): end of input")
        except OSError as e:
            self.wire.add(p.name, "event",
                          "shutdown failed: " + describe_error(e))

    def _read(self, p):
        size = CHUNK if p.rate is None else max(1, min(CHUNK,
                                                       int(p.allowance)))
        try:
            chunk = p.sock.recv(size)
        except BlockingIOError:
            return
        except OSError as e:
            p.end, p.error = end_of(e), describe_error(e)
            self.wire.add(p.name, "event", "connection reset (RST)"
                          if p.end == "reset" else "read failed: " + p.error)
            self.forget(p)
            return
        if not chunk:
            p.end = "eof"
            self.wire.add(p.name, "event", "server closed (FIN)")
            self.forget(p)
            return
        self.last_input = time.monotonic()
        if p.first_byte_at is None:
            p.first_byte_at = self.last_input
        if p.rate is not None:
            p.allowance -= len(chunk)
        p.got += chunk
        p.nl += chunk.count(b"\n")
        if self.log:
            self.wire.add(p.name, "recv", payload(chunk))
        if p.on_input:
            p.on_input(p)

    def close(self):
        for p in self.peers:
            p.close()
        self.sel.close()

    def close_quietly(self):
        self.close()
