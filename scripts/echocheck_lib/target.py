"""target.py - where the server is: the one address echocheck talks to,
and a local server it starts itself from a command with {PORT}.

echocheck sends only to the host it is given: the name is resolved once,
here, and every connection of every case goes to that one address.

For `--server 'COMMAND {PORT}'` echocheck picks the port: a port that is
free on 127.0.0.1 and outside the system's ephemeral range (so that none
of echocheck's own client sockets can be holding it by chance), puts it
in place of {PORT}, starts the command without a shell, and waits until a
connection to 127.0.0.1 on that port succeeds.  Port 0 and the server's
"listening on" line would work only for servers that print one; a chosen
port works for any.  If the command exits before it listens (another
program took the port in between), it is tried again with another port,
three times at most.  At the end the server is sent SIGTERM, and SIGKILL
if it is still there 3 seconds later; only that process, by its pid.
"""

import os
import random
import shlex
import signal
import socket
import subprocess
import tempfile
import time


class Target:
    """The server's address: family, sockaddr, and how to show it."""

    def __init__(self, host, port, family, sockaddr):
        self.host = host
        self.port = port
        self.family = family
        self.sockaddr = sockaddr
        addr = sockaddr[0]
        self.display = ("[%s]:%d" if ":" in addr else "%s:%d") % (addr, port)
        self.loopback = addr.startswith("127.") or addr in ("::1",
                                                            "::ffff:127.0.0.1")


class TargetError(Exception):
    pass


def resolve(host, port):
    """The first TCP address of host:port, or TargetError."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise TargetError("cannot resolve host '%s': %s" % (host, e.strerror))
    if not infos:
        raise TargetError("cannot resolve host '%s'" % host)
    family, _, _, _, sockaddr = infos[0]
    return Target(host, port, family, sockaddr)


# ------------------------------------------------------------ watching

class PidWatch:
    """A server known by its pid (--pid): gone() says whether it exited."""

    def __init__(self, pid):
        self.pid = pid

    def gone(self):
        if os.path.exists("/proc/%d" % self.pid):
            return ""
        try:
            os.kill(self.pid, 0)
            return ""
        except ProcessLookupError:
            return "process %d no longer exists" % self.pid
        except PermissionError:
            return ""


# ------------------------------------------------------------ starting

def ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def pick_port(rng=random):
    """A port free on 127.0.0.1 right now, outside the ephemeral range."""
    lo, hi = ephemeral_range()
    choices = [(10000, lo - 1)] if lo > 11000 else [(hi + 1, 65535)]
    for _ in range(200):
        a, b = choices[0]
        port = rng.randint(a, b)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise TargetError("found no free port")


class LocalServer:
    """A server command echocheck started; its pid, log and fate."""

    def __init__(self, template, start_timeout=10.0):
        if "{PORT}" not in template:
            raise TargetError("--server command has no {PORT} in it: '%s'"
                              % template)
        self.template = template
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.command = None
        self.log = tempfile.NamedTemporaryFile(prefix="echocheck-server-",
                                               suffix=".log", delete=False)
        self.stopped = False

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self):
        """Start the command on a free port; "" or why it did not start."""
        why = ""
        for _ in range(3):
            self.port = pick_port()
            self.command = self.template.replace("{PORT}", str(self.port))
            try:
                argv = shlex.split(self.command)
            except ValueError as e:
                raise TargetError("cannot split --server command: %s" % e)
            try:
                self.proc = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=self.log,
                    stderr=subprocess.STDOUT, start_new_session=True)
            except OSError as e:
                raise TargetError("cannot run '%s': %s" % (argv[0],
                                                           e.strerror))
            why = self._wait_listening()
            if not why:
                return ""
            if self.proc.poll() is None:
                return why  # running but not listening: no point retrying
        return why

    def _wait_listening(self):
        end = time.monotonic() + self.start_timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return "the server command exited (%s) before it listened; " \
                    "its output: %s" % (self.fate(), self.output_tail())
            s = socket.socket()
            s.settimeout(1.0)
            try:
                s.connect(("127.0.0.1", self.port))
                return ""
            except OSError:
                time.sleep(0.05)
            finally:
                s.close()
        return "the server was not listening on 127.0.0.1:%d after %.0f s" % (
            self.port, self.start_timeout)

    def fate(self):
        code = self.proc.poll()
        if code is None:
            return "running"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = "signal %d" % -code
            return "killed by %s" % name
        return "exit status %d" % code

    def gone(self):
        """Why the server is gone, or "" while it runs."""
        if self.proc is None or self.proc.poll() is None:
            return ""
        return "the server process %s" % (
            "exited with status %d" % self.proc.returncode
            if self.proc.returncode >= 0 else self.fate())

    def output_tail(self, lines=5):
        try:
            with open(self.log.name, "rb") as f:
                text = f.read()[-4000:].decode("utf-8", "replace")
        except OSError:
            return ""
        tail = text.strip().splitlines()[-lines:]
        return " | ".join(tail) if tail else "(none)"

    def signal(self, sig):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self):
        """SIGTERM, then SIGKILL after 3 s; only our own process."""
        if self.stopped or self.proc is None:
            return
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(3)
        try:
            os.unlink(self.log.name)
        except OSError:
            pass
        self.log.close()
