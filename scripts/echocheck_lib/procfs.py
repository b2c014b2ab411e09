"""procfs.py - read a server process out of /proc and name its I/O model.

What Linux shows of a process, without stopping or tracing it:

  /proc/PID/task/*            its threads; each one's syscall (the system
                              call it is blocked in, by number) and wchan
                              (the kernel function it sleeps in); comm
                              tells io_uring's kernel workers (iou-wrk-N),
                              which are not the server's threads
  /proc/*/stat                every process's parent, for its children
  /proc/PID/fd/*              readlink: socket:[INODE], anon_inode:[eventpoll],
                              anon_inode:[io_uring], anon_inode:[eventfd]...
  /proc/PID/fdinfo/N          "flags:" in octal: O_NONBLOCK, O_ASYNC
  /proc/PID/net/tcp, tcp6     which socket inode is which connection: its
                              local and remote port and its TCP state

A Sample is one look at all of that.  name_model() compares a look taken
with no client of ours connected and one taken while we hold some
connections that have each had a line echoed: threads or children that
come with the clients make the model "threads" or "processes"; one thread
holding every client socket is an "event-loop", named after what it waits
in (select, poll, epoll, io_uring, signals, or nothing: busy polling); one
thread that holds one client at a time on a blocking socket is
"iterative".  It is a reading of evidence, so the facts behind the name
are reported with it.
"""

import os
import platform

O_NONBLOCK = 0o4000
O_ASYNC = 0o20000
TCP_ESTABLISHED = "01"
TCP_LISTEN = "0A"

# The system calls a server waits in, by number, for the machines where
# /proc/PID/syscall is common.  Anything else is shown by number.
SYSCALLS = {
    "x86_64": {0: "read", 1: "write", 7: "poll", 23: "select", 34: "pause",
               35: "nanosleep", 43: "accept", 44: "sendto", 45: "recvfrom",
               61: "wait4", 128: "rt_sigtimedwait", 130: "rt_sigsuspend",
               202: "futex", 230: "clock_nanosleep", 232: "epoll_wait",
               270: "pselect6", 271: "ppoll", 281: "epoll_pwait",
               288: "accept4", 426: "io_uring_enter", 441: "epoll_pwait2"},
    "aarch64": {22: "epoll_pwait", 63: "read", 64: "write", 72: "pselect6",
                73: "ppoll", 98: "futex", 101: "nanosleep",
                115: "clock_nanosleep", 133: "rt_sigsuspend",
                137: "rt_sigtimedwait", 202: "accept", 206: "sendto",
                207: "recvfrom", 242: "accept4", 260: "wait4",
                426: "io_uring_enter", 441: "epoll_pwait2"},
}

WAITS = {
    "select": "select", "pselect6": "select", "poll": "poll",
    "ppoll": "poll", "epoll_wait": "epoll", "epoll_pwait": "epoll",
    "epoll_pwait2": "epoll", "io_uring_enter": "io_uring",
    "rt_sigtimedwait": "signals", "rt_sigsuspend": "signals",
    "pause": "signals",
}
BLOCKING_IO = ("read", "recvfrom", "write", "sendto", "accept", "accept4")


def syscall_name(number, machine=None):
    table = SYSCALLS.get(machine or platform.machine(), {})
    return table.get(number, "syscall %d" % number)


def _read(path):
    with open(path) as f:
        return f.read()


class Sample:
    """One look at process pid (and its children) from /proc."""

    def __init__(self, pid, port, proc="/proc", machine=None):
        self.pid = pid
        self.port = port
        self.proc = proc
        self.machine = machine or platform.machine()
        self.problems = []
        self.kernel_workers = 0
        self.threads = self._threads(pid)
        self.children = self._children(pid)
        self.sockets = self._socket_table(pid)
        self.fds = self._fds(pid)
        self.child_clients = sum(
            sum(1 for fd in self._fds(c, quiet=True) if fd["role"] == "client")
            for c in self.children)

    # ---------------------------------------------------------- reading

    def _threads(self, pid):
        out = []
        base = "%s/%d/task" % (self.proc, pid)
        try:
            tids = sorted(int(t) for t in os.listdir(base))
        except OSError as e:
            self.problems.append("cannot list threads: %s" % e.strerror)
            return out
        for tid in tids:
            t = {"tid": tid, "syscall": "", "wchan": ""}
            try:
                comm = _read("%s/%d/comm" % (base, tid)).strip()
            except OSError:
                comm = ""
            if comm.startswith("iou-"):
                # io_uring's kernel workers (iou-wrk-N, iou-sqp-N) show
                # as threads of the process; they are not the server's.
                self.kernel_workers += 1
                continue
            try:
                t["wchan"] = _read("%s/%d/wchan" % (base, tid)).strip()
            except OSError:
                pass
            try:
                first = _read("%s/%d/syscall" % (base, tid)).split()[0]
                t["syscall"] = first if not first.lstrip("-").isdigit() else \
                    syscall_name(int(first), self.machine)
            except (OSError, IndexError):
                pass
            out.append(t)
        return out

    def _children(self, pid):
        kids = []
        try:
            names = os.listdir(self.proc)
        except OSError:
            return kids
        for name in names:
            if not name.isdigit():
                continue
            try:
                stat = _read("%s/%s/stat" % (self.proc, name))
            except OSError:
                continue
            # The command may hold spaces and parentheses: fields follow
            # the last ")".
            fields = stat.rsplit(")", 1)[-1].split()
            if len(fields) > 1 and fields[1] == str(pid):
                kids.append(int(name))
        return sorted(kids)

    def _socket_table(self, pid):
        table = {}
        for name in ("tcp", "tcp6"):
            try:
                text = _read("%s/%d/net/%s" % (self.proc, pid, name))
            except OSError:
                continue
            for line in text.splitlines()[1:]:
                f = line.split()
                if len(f) < 10:
                    continue
                local_port = int(f[1].rsplit(":", 1)[1], 16)
                remote_port = int(f[2].rsplit(":", 1)[1], 16)
                table[f[9]] = (local_port, remote_port, f[3])
        return table

    def _fds(self, pid, quiet=False):
        out = []
        base = "%s/%d" % (self.proc, pid)
        try:
            names = os.listdir(base + "/fd")
        except OSError as e:
            if not quiet:
                self.problems.append("cannot read its descriptors (%s): run "
                                     "echocheck as the server's user"
                                     % e.strerror)
            return out
        for name in sorted(names, key=int):
            try:
                link = os.readlink("%s/fd/%s" % (base, name))
                info = _read("%s/fdinfo/%s" % (base, name))
            except OSError:
                continue
            flags = 0
            for line in info.splitlines():
                if line.startswith("flags:"):
                    flags = int(line.split()[1], 8)
            out.append({"fd": int(name), "link": link, "flags": flags,
                        "role": self._role(link)})
        return out

    def _role(self, link):
        if link.startswith("socket:["):
            entry = self.sockets.get(link[8:-1])
            if entry is None:
                return "socket"
            local, _, state = entry
            if local == self.port and state == TCP_LISTEN:
                return "listening"
            if local == self.port and state == TCP_ESTABLISHED:
                return "client"
            return "socket"
        if link.startswith("anon_inode:"):
            return link[len("anon_inode:"):].strip("[]")
        return "file"

    # ---------------------------------------------------------- derived

    def count(self, role):
        return sum(1 for fd in self.fds if fd["role"] == role)

    def clients(self):
        return [fd for fd in self.fds if fd["role"] == "client"]

    def main_wait(self):
        """(syscall, wchan) of the main thread."""
        for t in self.threads:
            if t["tid"] == self.pid:
                return t["syscall"], t["wchan"]
        return "", ""


def _plural(n, word):
    if n == 1:
        return "%d %s" % (n, word)
    return "%d %s%s" % (n, word, "es" if word.endswith("s") else "s")


def describe(sample):
    """Short facts about one sample, as a dict of strings."""
    clients = sample.clients()
    nb = sum(1 for fd in clients if fd["flags"] & O_NONBLOCK)
    asy = sum(1 for fd in clients if fd["flags"] & O_ASYNC)
    listening = [fd for fd in sample.fds if fd["role"] == "listening"]
    special = []
    for kind in ("eventpoll", "io_uring", "eventfd", "signalfd", "timerfd"):
        n = sample.count(kind)
        if n:
            special.append("%d %s" % (n, "epoll" if kind == "eventpoll"
                                      else kind))
    syscall, wchan = sample.main_wait()
    facts = {
        "threads": str(len(sample.threads)),
        "children": str(len(sample.children)),
        "listening": ", ".join(
            "fd %d (%s)" % (fd["fd"], "nonblocking" if fd["flags"] &
                            O_NONBLOCK else "blocking")
            for fd in listening) or "none found on port %d" % sample.port,
        "client sockets": "%d (%d nonblocking%s)" % (
            len(clients), nb, ", %d O_ASYNC" % asy if asy else ""),
        "event descriptors": ", ".join(special) or "none",
        "main thread waits in": "%s%s" % (
            syscall or "?", " (wchan %s)" % wchan if wchan and wchan != "0"
            else ""),
    }
    if sample.kernel_workers:
        facts["threads"] += " (and %d io_uring kernel workers, not " \
            "counted)" % sample.kernel_workers
    if sample.child_clients:
        facts["client sockets"] += "; %d in child processes" % \
            sample.child_clients
    waits = {}
    for t in sample.threads:
        waits[t["syscall"] or "?"] = waits.get(t["syscall"] or "?", 0) + 1
    if len(sample.threads) > 1:
        facts["threads wait in"] = ", ".join(
            "%s: %d" % (k, v) for k, v in sorted(waits.items()))
    return facts


def name_model(idle, busy, held):
    """(model, how, reason): model is event-loop, threads, processes,
    iterative or unknown; how names the mechanism; reason one sentence.
    idle and busy are Samples before and while we held `held` clients."""
    if busy.problems and not busy.fds:
        return "unknown", "", "; ".join(busy.problems)
    more_threads = len(busy.threads) - len(idle.threads)
    more_children = len(busy.children) - len(idle.children)
    clients = len(busy.clients())
    half = max(1, held // 2)
    syscall, wchan = busy.main_wait()
    if more_children >= half or busy.child_clients >= half:
        return "processes", "a process per client", (
            "%s appeared with our %d clients" % (
                _plural(more_children, "child process"), held))
    if more_threads >= half:
        return "threads", "a thread per client", (
            "%s appeared with our %d clients" % (
                _plural(more_threads, "thread"), held))
    # A fixed pool of threads doing blocking I/O for the clients, as
    # opposed to one loop with a helper thread or two beside it (a
    # lingering-close thread, say): the pool's threads sit in read().
    in_io = [t for t in busy.threads if t["tid"] != busy.pid and
             t["syscall"] in BLOCKING_IO]
    if len(in_io) >= 2 and clients >= half:
        return "threads", "a pool of %d threads" % len(busy.threads), (
            "%d threads share our %d clients, %d of them in blocking I/O" % (
                len(busy.threads), held, len(in_io)))
    if clients < half and clients <= 1:
        how = "blocking" if not any(fd["flags"] & O_NONBLOCK
                                    for fd in busy.clients()) else ""
        return "iterative", "one client at a time%s" % (
            " on a blocking socket" if how else ""), (
            "it holds %d of our %d connections and waits in %s" % (
                clients, held, syscall or "?"))
    mech = WAITS.get(syscall)
    if busy.count("io_uring"):
        mech = "io_uring"
    elif busy.count("eventpoll") and mech in (None, "epoll"):
        mech = "epoll"
    if mech == "signals":
        asy = sum(1 for fd in busy.clients() if fd["flags"] & O_ASYNC)
        mech = "signal-driven I/O" if asy else "signals"
    if mech is None:
        nb = all(fd["flags"] & O_NONBLOCK for fd in busy.clients())
        if syscall in ("running", "") and nb:
            mech = "busy polling"
        else:
            mech = "waits in %s" % (syscall or wchan or "?")
    waits = "never waits (always running)" if syscall == "running" else \
        "waits in %s" % (syscall or "?")
    helpers = len(busy.threads) - 1
    return "event-loop", mech, (
        "one thread holds all %d of our connections and %s%s" % (
            clients, waits, "" if helpers < 1 else
            " (%s beside it)" % _plural(helpers, "other thread")))
