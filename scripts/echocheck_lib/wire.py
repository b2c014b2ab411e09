"""wire.py - the wire log of a case, and one logged client connection.

Everything a case sends and receives goes through a Conn, which notes it
in the case's Wire: the time since the case began, which connection (c1,
c2...), which way, how many bytes and the first of them, escaped.  A Wire
shows the first HEAD entries and the last TAIL, and of the ones in between
only echocheck's notes of what it was doing, so a case that moves
megabytes still has a log a person can read.

A Conn is a blocking socket with a timeout on every operation, and every
timeout is also cut to the case's deadline: no call here waits longer than
the case may last.  Reads end in one of five ways (Reply.end): "done" (what
was asked for arrived), "eof" (the server closed: FIN), "reset" (RST),
"timeout", or "error" (any other socket error).
"""

import errno
import socket
import struct
import time

from .verdict import show

HEAD, TAIL = 60, 20
KEEP = 100000  # entries held at most while a case runs
PREVIEW = 40  # payload bytes shown per entry


class Wire:
    """The log of one case: entries (t, conn, dir, text).  While the case
    runs every entry is kept (up to KEEP); entries() then shows the first
    HEAD, the last TAIL, and, from the stretch between, echocheck's own
    notes, which say what the case was doing."""

    def __init__(self):
        self.start = time.monotonic()
        self.all = []
        self.dropped = 0
        self.names = 0

    def new_name(self):
        self.names += 1
        return "c%d" % self.names

    def add(self, conn, direction, text):
        """direction: "send", "recv", "event" (a connection's state) or
        "note" (echocheck's own remark)."""
        entry = (time.monotonic() - self.start, conn, direction, text)
        if len(self.all) < KEEP or direction == "note":
            self.all.append(entry)
        else:
            self.dropped += 1

    def note(self, text):
        self.add("", "note", text)

    def entries(self):
        """The entries to show, as dicts, with a "gap" entry wherever some
        were left out."""
        if len(self.all) <= HEAD + TAIL and not self.dropped:
            return [_entry(e) for e in self.all]
        out = [_entry(e) for e in self.all[:HEAD]]
        left = 0
        for e in self.all[HEAD:-TAIL]:
            if e[2] == "note":
                if left:
                    out.append(_gap(left))
                    left = 0
                out.append(_entry(e))
            else:
                left += 1
        left += self.dropped
        if left:
            out.append(_gap(left))
        out += [_entry(e) for e in self.all[-TAIL:]]
        return out


def _gap(n):
    return {"t": None, "conn": "", "dir": "gap",
            "text": "... %d entries left out ..." % n}


def _entry(e):
    return {"t": round(e[0], 4), "conn": e[1], "dir": e[2], "text": e[3]}


def payload(data):
    return "%d bytes %s" % (len(data), show(data, PREVIEW))


class Reply:
    """What a read brought: data, how it ended, and when (seconds since
    the read began)."""

    def __init__(self, data, end, elapsed, error=""):
        self.data = bytes(data)
        self.end = end
        self.elapsed = elapsed
        self.error = error

    def __repr__(self):
        return "Reply(%r, %s)" % (self.data[:40], self.end)


class ConnectFailed(Exception):
    """A connection could not be made; str() says why."""


def end_of(err):
    """The end of a read for a socket error."""
    if isinstance(err, socket.timeout):
        return "timeout"
    if isinstance(err, ConnectionResetError) or \
            getattr(err, "errno", None) == errno.ECONNRESET:
        return "reset"
    return "error"


def describe_error(err):
    if isinstance(err, socket.timeout):
        return "timed out"
    if getattr(err, "errno", None):
        return "%s (%s)" % (errno.errorcode.get(err.errno, err.errno),
                            err.strerror)
    return str(err)


class Conn:
    """One client connection, logged in wire, bounded by ctx's deadline."""

    def __init__(self, ctx, name=None, rcvbuf=None, nodelay=False):
        self.ctx = ctx
        self.wire = ctx.wire
        self.name = name or self.wire.new_name()
        self.sock = None
        self.closed = False
        self.server_closed = False
        self.received = 0
        self.sent = 0
        target = ctx.target
        sock = socket.socket(target.family, socket.SOCK_STREAM)
        try:
            if rcvbuf:
                # Before connect, so the window is small from the start.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            if nodelay:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(ctx.wait(ctx.timeout))
            sock.connect(target.sockaddr)
        except OSError as e:
            sock.close()
            self.wire.add(self.name, "event",
                          "connect failed: " + describe_error(e))
            raise ConnectFailed("connecting to %s failed: %s"
                                % (target.display, describe_error(e)))
        self.sock = sock
        ctx.track(self)
        self.wire.add(self.name, "event",
                      "connected from port %d" % sock.getsockname()[1])

    # ---------------------------------------------------------- sending

    def send(self, data, log=True):
        """Send all of data; returns "" or why it could not (the bytes
        that did go are counted in self.sent)."""
        data = memoryview(bytes(data))
        total = len(data)
        done = 0
        try:
            while done < total:
                self.sock.settimeout(self.ctx.wait(self.ctx.timeout))
                n = self.sock.send(data[done:])
                done += n
        except OSError as e:
            self.sent += done
            why = describe_error(e)
            self.wire.add(self.name, "event", "send failed after %d of %d "
                          "bytes: %s" % (done, total, why))
            return why
        self.sent += done
        if log:
            self.wire.add(self.name, "send", payload(data.tobytes()))
        return ""

    def send_bytewise(self, data, pause):
        """Send data one byte per write, pause seconds apart (with
        TCP_NODELAY so each goes in a segment of its own)."""
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(data)):
            why = self.send(data[i:i + 1])
            if why:
                return why
            if i + 1 < len(data):
                time.sleep(pause)
        return ""

    def half_close(self):
        """shutdown(SHUT_WR): the server's next read sees end of input."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
            self.wire.add(self.name, "event",
                          "shutdown(SHUT_WR): end of input")
        except OSError as e:
            self.wire.add(self.name, "event",
                          "shutdown failed: " + describe_error(e))

    # ---------------------------------------------------------- receiving

    def read(self, nbytes=None, lines=None, until_close=False,
             timeout=None, log=True):
        """Read until nbytes have come, or lines LFs, or (until_close) the
        server closes; or a timeout.  Returns a Reply."""
        timeout = self.ctx.timeout if timeout is None else timeout
        start = time.monotonic()
        end_at = start + timeout
        buf = bytearray()
        seen = [0]  # LFs in buf

        def satisfied():
            if nbytes is not None and len(buf) >= nbytes:
                return True
            return lines is not None and seen[0] >= lines

        while not satisfied():
            left = min(end_at, self.ctx.deadline) - time.monotonic()
            if left <= 0:
                return self._ended(buf, "timeout", start, log)
            try:
                self.sock.settimeout(left)
                chunk = self.sock.recv(65536)
            except OSError as e:
                return self._ended(buf, end_of(e), start, log,
                                   describe_error(e))
            if not chunk:
                self.server_closed = True
                return self._ended(buf, "eof", start, log)
            buf += chunk
            seen[0] += chunk.count(b"\n")
            self.received += len(chunk)
            if log:
                self.wire.add(self.name, "recv", payload(chunk))
        return self._ended(buf, "done", start, log)

    def _ended(self, buf, end, start, log, error=""):
        elapsed = time.monotonic() - start
        if end == "eof":
            self.wire.add(self.name, "event", "server closed (FIN)")
        elif end == "reset":
            self.server_closed = True
            self.wire.add(self.name, "event", "connection reset (RST)")
        elif end == "timeout" and log:
            self.wire.add(self.name, "event",
                          "nothing more after %.1f s" % elapsed)
        elif end == "error":
            self.wire.add(self.name, "event", "read failed: " + error)
        return Reply(buf, end, elapsed, error)

    def quiet(self, seconds):
        """Read for seconds; a Reply whose end is "timeout" when nothing
        came and the connection stayed open."""
        return self.read(nbytes=1, timeout=seconds)

    # ---------------------------------------------------------- closing

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass
            self.wire.add(self.name, "event", "closed")

    def reset(self):
        """Close with SO_LINGER 0: the server gets a reset, not a FIN."""
        if not self.closed:
            self.closed = True
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
            self.sock.close()
            self.wire.add(self.name, "event", "reset (SO_LINGER 0, RST sent)")

    def close_quietly(self):
        """Close at the end of a case, without a log entry."""
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass
