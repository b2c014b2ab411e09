#!/usr/bin/env python3
"""bench_run.py - run the benchmark measurements and write their CSV files.

Called by scripts/bench.sh (which builds the programs and raises the
descriptor limit first); scripts/bench_report.py turns the CSV files into
results.md and the charts.  Python standard library only.

Every server is started afresh for every measurement, on an ephemeral
loopback port, pinned to CPU 0 while build/echobench runs on CPU 1 (when
there are two).  Every load is bounded in time twice: by echobench's own
window and drain, and by a deadline here after which echobench is killed.
Every process started here is stopped by its PID, also when the run is
interrupted.

What is measured (each part writes one CSV file in the results folder):

  checks.csv    echobench --check against every server (the protocol).
  runs.csv      the matrix: connections x pipeline depth, every round;
  results.csv   ... and the best round of each cell.
  idle.csv      server CPU while it holds 1,000 idle clients, no traffic.
  syscalls.csv  system calls per echoed line (perf stat, else strace -c);
                for io_uring also the submitted SQEs.
  scaling.csv   lines/s and CPU per line against connections, 10 active
                and the rest idle, and all active (the best round of each
                point; scaling-runs.csv has every round).
  servers.csv   each server's facts (NAME --facts: model, what it waits
                with, its client ceiling, one client or many, the protocol
                it speaks) and whether it could run.

Which servers there are, in the order of the tables, is bench/servers.list
(the one list: mk/bench.mk builds from it too); what each one is, it says
itself with --facts, key=value lines (src/startup.c).
"""

import argparse
import csv
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time

BUILD = "build"
CLK_TCK = os.sysconf("SC_CLK_TCK")

SERVERS_LIST = "bench/servers.list"
# Each server's --facts, read once (facts()).
FACTS = {}


def listed_servers():
    """Every server of the kit, in the order the tables show them: the
    first word of each line of bench/servers.list that is not a comment."""
    with open(SERVERS_LIST) as f:
        return [line.split()[0] for line in f
                if line.strip() and not line.startswith("#")]


def facts(name):
    """What `build/NAME --facts` says, as a dict ({} if it says nothing),
    under the raised descriptor limit: some ceilings follow RLIMIT_NOFILE."""
    if name not in FACTS:
        try:
            out = subprocess.run([os.path.join(BUILD, name), "--facts"],
                                 capture_output=True, text=True, timeout=5,
                                 preexec_fn=raise_nofile).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        FACTS[name] = dict(line.split("=", 1) for line in out.splitlines()
                           if "=" in line)
    return FACTS[name]


def one_client(name):
    """It holds one client at a time: it runs only where that makes sense
    (one connection); elsewhere the tables say so."""
    return facts(name).get("clients") == "one"


def takes_options(name):
    """It takes echoserv's command line (echoserv-textbook takes a port
    and nothing else)."""
    return facts(name).get("options", "echoserv") == "echoserv"


# A server that may be refused by the kernel (io_uring under seccomp or
# kernel.io_uring_disabled) exits 1 with this text; its rows are skipped.
UNAVAILABLE_TEXT = "io_uring unavailable"

# Matrix scenarios: name, connections, pipeline, line size, idle ones.
MATRIX = {
    "full": [
        ("c1-p1", 1, 1, 64, 0), ("c1-p16", 1, 16, 64, 0),
        ("c10-p1", 10, 1, 64, 0), ("c10-p16", 10, 16, 64, 0),
        ("c100-p1", 100, 1, 64, 0), ("c100-p16", 100, 16, 64, 0),
        ("c1000-p1", 1000, 1, 64, 0), ("c1000-p16", 1000, 16, 64, 0),
        ("c10-16k", 10, 1, 16384, 0), ("idle1000+10", 10, 1, 64, 1000),
    ],
    "quick": [
        ("c1-p1", 1, 1, 64, 0), ("c100-p1", 100, 1, 64, 0),
        ("c100-p16", 100, 16, 64, 0), ("c1000-p1", 1000, 1, 64, 0),
        ("idle1000+10", 10, 1, 64, 1000),
    ],
    "smoke": [
        ("c1-p1", 1, 1, 64, 0), ("c10-p16", 10, 16, 64, 0),
        ("c100-p1", 100, 1, 64, 0), ("c10-16k", 10, 1, 16384, 0),
        ("idle1000+10", 10, 1, 64, 1000),
    ],
}
# (warm-up s, window s, rounds) of the matrix.
TIMING = {"full": (0.3, 1.0, 3), "quick": (0.2, 0.5, 1), "smoke": (0.1, 0.3, 1)}
SYSCALL_SCENARIOS = {
    "full": [("c1-p1", 1, 1), ("c100-p1", 100, 1), ("c100-p16", 100, 16)],
    "quick": [("c100-p1", 100, 1)],
}
SCALING_COUNTS = [10, 100, 1000, 3000, 10000]
SCALING_ACTIVE_WHEN_IDLE = 10

RUN_COLUMNS = [
    "server", "scenario", "connections", "pipeline", "size", "idle",
    "msgs_per_s", "mb_per_s", "p50_us", "p99_us", "p999_us", "errors",
    "peak_rss_kib", "cpu_us_per_line", "load_cpu_percent", "measured_s",
    "status",
]


def log(msg):
    print(msg, flush=True)


# ------------------------------------------------------------ processes

class Processes:
    """Every process this run started, so all can be stopped by PID."""

    def __init__(self):
        self.live = {}

    def start(self, argv, **kw):
        p = subprocess.Popen(argv, **kw)
        self.live[p.pid] = p
        return p

    def stop(self, p, grace=4.0):
        """SIGTERM, then SIGKILL if it has not gone within grace s."""
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            except ProcessLookupError:
                pass
        self.live.pop(p.pid, None)
        return p.returncode

    def stop_all(self):
        for p in list(self.live.values()):
            self.stop(p, grace=2.0)


PROCS = Processes()


def raise_nofile():
    """In the child: the descriptor limit up to the hard one (servers that
    can hold more than 1,024 clients need it; select() ones turn the rest
    away at their ceiling whatever the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # The runner raised its own priority (see main); what it starts runs
    # at the ordinary one, like everything else on the machine.
    try:
        os.setpriority(os.PRIO_PROCESS, 0, 0)
    except OSError:
        pass


def pinned(cpus, argv):
    """argv under taskset -c CPUS (a CPU number or a list such as "0-3")."""
    if PIN and cpus is not None:
        return ["taskset", "-c", str(cpus)] + argv
    return argv


class Server:
    """One comparison server started on port 0; .port once it listens.
    It runs on CPU 0 unless cpus says otherwise (scripts/bench_cores.py)."""

    def __init__(self, name, errfile, args=(), wrapper=(), cpus=0):
        self.name = name
        self.errfile = errfile
        self.err = open(errfile, "wb")
        opts = ["-q"] + list(args) if takes_options(name) else []
        argv = list(wrapper) + [os.path.join(BUILD, name)] + opts + ["0"]
        self.proc = PROCS.start(pinned(cpus, argv), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=self.err,
                                preexec_fn=raise_nofile)
        self.port = None
        self.unavailable = False
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            text = self.stderr_text()
            m = re.search(r"^echoserv: listening on .*:(\d+)$", text, re.M)
            if m:
                self.port = m.group(1)
                break
            if self.proc.poll() is not None:
                self.unavailable = UNAVAILABLE_TEXT in text
                break
            time.sleep(0.02)

    def stderr_text(self):
        with open(self.errfile, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def pid(self):
        """The server's own PID (a wrapper's child if there is one)."""
        return self.proc.pid

    def stop(self):
        rc = PROCS.stop(self.proc)
        self.err.close()
        return rc


def children(pid):
    """pid's child processes.  Only its main thread's list is read: the
    servers fork from their main thread, and reading one file per thread
    of a server with 10,000 threads would take longer than a window."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def tree(pid):
    """pid and all its descendants."""
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += children(p)
    return seen


def stat_fields(pid):
    """The fields of /proc/pid/stat after the command name (field 3 on)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def proc_cpu_s(pid):
    """CPU seconds of one live process (all its threads, exited ones too)
    and of its reaped children, from at most two files.

    utime + stime in /proc/PID/stat cover every thread the process ever
    had, in whole clock ticks: good enough for a process with many busy
    threads, not for a forked child that echoed 200 lines in less than a
    tick.  So a single-threaded process is read from /proc/PID/schedstat,
    the scheduler's run time in nanoseconds.  Reaped children exist only
    as the parent's cutime + cstime.
    """
    fields = stat_fields(pid)
    if fields is None:
        return 0.0
    ticks = (int(fields[11]) + int(fields[12])) / CLK_TCK
    reaped = (int(fields[13]) + int(fields[14])) / CLK_TCK
    if int(fields[17]) == 1:  # num_threads
        try:
            with open(f"/proc/{pid}/schedstat") as f:
                ticks = max(ticks, int(f.read().split()[0]) / 1e9)
        except (OSError, ValueError, IndexError):
            pass
    return ticks + reaped


def tree_cpu_s(pid):
    """CPU seconds of pid, its live descendants and the reaped ones."""
    return sum(proc_cpu_s(p) for p in tree(pid))


def status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pss_kib(pid):
    """Proportional set size of pid and its descendants: pages children
    share with their parent count once."""
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            total += status_kib(p, "VmRSS")
    return total


class MemorySampler(threading.Thread):
    """The largest tree Pss seen, sampled until stopped: every 0.3 s, or
    less often when a sample is slow (thousands of forked children), so
    that sampling never takes more than a tenth of a core from the run."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()
        self.start()

    def run(self):
        while not self.done.is_set():
            t = time.monotonic()
            self.peak = max(self.peak, tree_pss_kib(self.pid))
            self.done.wait(max(0.3, 10 * (time.monotonic() - t)))

    def stop(self):
        self.done.set()
        self.join()
        # The kernel's own high-water mark, for a single process.
        return max(self.peak, status_kib(self.pid, "VmHWM"))


# ------------------------------------------------------------ echobench

class Load:
    """One echobench run against port, its output copied to outfile.

    on_open, on_start and on_closing are called (from the reader thread)
    when echobench says its connections are open, that every active one
    has been answered once (its clock starts), and that the load is over,
    before it closes them: the clock of CPU measurements.  clock (a
    CpuClock) is told echobench's PID before any of them can be called.
    It runs on CPU 1 unless cpus says otherwise.
    """

    def __init__(self, port, args, outfile, timeout, on_open=None,
                 on_start=None, on_closing=None, cpus=1, clock=None):
        argv = pinned(cpus, [os.path.join(BUILD, "echobench"), "-p", port]
                      + [str(a) for a in args])
        self.out = open(outfile, "w")
        self.proc = PROCS.start(argv, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                errors="replace", preexec_fn=raise_nofile)
        if clock is not None:
            clock.load_pid = self.proc.pid
        self.result = {}
        self.opened = threading.Event()
        self.on_open, self.on_start = on_open, on_start
        self.on_closing = on_closing
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()
        self.timeout = timeout
        self.timed_out = False

    def read(self):
        for line in self.proc.stdout:
            self.out.write(line)
            if " connections open in " in line:
                if self.on_open:
                    self.on_open(line)
                self.opened.set()
            elif line.startswith("echobench: every active connection"):
                if self.on_start:
                    self.on_start()
            elif line.startswith("echobench: closing the connections"):
                if self.on_closing:
                    self.on_closing()
            elif line.startswith("msgs_per_s="):
                self.result = dict(kv.split("=", 1) for kv in line.split())

    def wait(self):
        try:
            rc = self.proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.timed_out = True
            self.proc.kill()
            rc = self.proc.wait()
        PROCS.live.pop(self.proc.pid, None)
        self.reader.join(timeout=5)
        self.out.close()
        return rc

    def status(self, rc):
        r = self.result
        if self.timed_out:
            return "echobench killed after %.0f s" % self.timeout
        if not r:
            return "no result (echobench exit %d)" % rc
        if r.get("errors") == "0" and r.get("connections") != "0" and \
                r.get("messages") == "0":
            return "no line echoed in the window"
        if r.get("errors") != "0":
            parts = [(r.get("mismatches"), "wrong"), (r.get("closed"), "closed"),
                     (r.get("lost"), "unanswered 2 s after the window"),
                     (r.get("connect_failed"), "not connected"),
                     (r.get("idle_dropped"), "idle dropped")]
            return "errors: " + "; ".join(f"{n} {what}" for n, what in parts
                                          if n not in (None, "0"))
        return "ok"


def load_timeout(connect, warmup, duration):
    # connect + warm-up + window + echobench's 2 s drain + slack.
    return connect + warmup + duration + 2 + 10


# ------------------------------------------------------------ measurements

def accept_queue(port):
    """Connections waiting in the accept queue of the listening socket(s)
    on port (rx_queue of a LISTEN socket in /proc/net/tcp*), or None."""
    total, found = 0, False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A" and \
                            fields[1].endswith(":%04X" % int(port)):
                        total += int(fields[4].split(":")[1], 16)
                        found = True
        except (OSError, StopIteration, IndexError, ValueError):
            pass
    return total if found else None


def wait_accepted(port, limit):
    """Until the server has accepted every connection made (its accept
    queue is empty), at most limit s."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not accept_queue(port):
            return True
        time.sleep(0.05)
    return False


def server_ceiling(name):
    """The client ceiling the server states in its facts."""
    try:
        return int(facts(name)["ceiling"])
    except (KeyError, ValueError):
        return None


def run_check(name, logs):
    if facts(name).get("protocol", "echoserv") != "echoserv":
        # echoserv-textbook: lines and nothing more, so no quit and no line
        # limit to check; the loads verify every byte it echoes.
        return "exempt", "it echoes lines and nothing more (its --facts)"
    srv = Server(name, f"{logs}/{name}-check.err")
    if srv.unavailable:
        srv.stop()
        return "unavailable", srv.stderr_text().strip().splitlines()[-1]
    if srv.port is None:
        srv.stop()
        return "did not start", srv.stderr_text().strip()
    out = subprocess.run(pinned(1, [os.path.join(BUILD, "echobench"), "-p",
                                    srv.port, "--check", "-q"]),
                         capture_output=True, text=True, timeout=60)
    srv.stop()
    with open(f"{logs}/{name}-check.out", "w") as f:
        f.write(out.stdout + out.stderr)
    lines = (out.stdout + out.stderr).strip().splitlines()
    return ("ok" if out.returncode == 0 else "FAILED"), \
        (lines[-1] if lines else "")


class CpuClock:
    """Server CPU seconds between echobench's 'load starts' and 'closing'
    lines, and how busy echobench itself was meanwhile (a load generator
    near 100 % of its core is the limit, not the server)."""

    def __init__(self, pid):
        self.pid = pid
        self.load_pid = None
        self.t0 = self.t1 = None
        self.c0 = self.c1 = self.l0 = self.l1 = self.w0 = self.w1 = 0.0

    def sample(self):
        """(time, server CPU, echobench CPU, seconds the walk took)."""
        t = time.monotonic()
        load = proc_cpu_s(self.load_pid) if self.load_pid else 0.0
        cpu = tree_cpu_s(self.pid)
        return t, cpu, load, time.monotonic() - t

    def open(self, _line=None):
        self.t0, self.c0, self.l0, self.w0 = self.sample()

    def closing(self):
        self.t1, self.c1, self.l1, self.w1 = self.sample()

    def interval(self):
        if self.t0 is None or self.t1 is None:
            return None
        return self.t1 - self.t0

    def seconds(self, least):
        """The server's CPU seconds, or None if the two samples were not
        at least `least` s apart: the runner was kept off the CPU and read
        both of echobench's lines late, so they bracket nothing."""
        if self.interval() is None or self.interval() < least:
            return None
        # A walk over thousands of processes that took a tenth of the
        # interval has read them at too different moments to subtract.
        if max(self.w0, self.w1) > 0.1 * self.interval():
            return None
        return self.c1 - self.c0

    def load_percent(self):
        if self.t0 is None or self.t1 is None or self.t1 <= self.t0:
            return None
        # Whole ticks against live threads' run time: never below 0.
        return max(0.0, (self.l1 - self.l0) / (self.t1 - self.t0) * 100)


def run_load(name, tag, logs, conns, pipe, size, idle, warmup, duration,
             connect_timeout=10):
    """Start name, put one load on it; a dict of runs.csv's columns."""
    row = dict(server=name, scenario=tag, connections=conns, pipeline=pipe,
               size=size, idle=idle)
    args = ["-l", "65536"] if size > 4096 else []
    srv = Server(name, f"{logs}/{name}-{tag}.err", args)
    if srv.port is None:
        srv.stop()
        row["status"] = "unavailable" if srv.unavailable else "did not start"
        return row
    mem = MemorySampler(srv.pid())
    clock = CpuClock(srv.pid())
    load = Load(srv.port, ["-c", conns, "-P", pipe, "-s", size, "-i", idle,
                           "-w", warmup, "-d", duration, "--connect-timeout",
                           connect_timeout],
                f"{logs}/{name}-{tag}.out",
                load_timeout(connect_timeout, warmup, duration),
                on_start=clock.open, on_closing=clock.closing, clock=clock)
    rc = load.wait()
    row["peak_rss_kib"] = mem.stop()
    alive = srv.proc.poll() is None
    srv.stop()
    r = load.result
    for k in ("msgs_per_s", "mb_per_s", "p50_us", "p99_us", "p999_us",
              "errors"):
        row[k] = r.get(k, "")
    status = load.status(rc)
    if not alive:
        status = "server exited" + ("" if status == "ok" else "; " + status)
    row["status"] = status
    # The samples bracket the warm-up, the window and the drain.
    cpu = clock.seconds(0.8 * (warmup + duration))
    if clock.interval() is not None:
        row["measured_s"] = "%.2f" % clock.interval()
    echoed = int(r.get("echoed", "0") or 0) - \
        int(r.get("before_start", "0") or 0)
    if cpu is not None and echoed > 0:
        row["cpu_us_per_line"] = "%.2f" % (cpu * 1e6 / echoed)
    if cpu is not None and clock.load_percent() is not None:
        row["load_cpu_percent"] = "%.0f" % clock.load_percent()
    return row


def fmt_row(row):
    return "   %-19s %-16s %9s lines/s  p99 %9s us  cpu %6s us/line  %s" % (
        row["server"], row["scenario"], row.get("msgs_per_s", ""),
        row.get("p99_us", ""), row.get("cpu_us_per_line", ""),
        row.get("status", ""))


def matrix(mode, servers, out, logs):
    warmup, duration, rounds = TIMING[mode]
    rows = []
    log(f"== load: {rounds} round(s) of {duration} s after {warmup} s "
        f"warm-up; server on {'CPU 0' if PIN else 'any CPU'}, echobench on "
        f"{'CPU 1' if PIN else 'any CPU'}")
    # Rounds over the whole matrix, servers interleaved inside each
    # scenario, so a neighbour's burst of load hits every server alike.
    for rnd in range(1, rounds + 1):
        for tag, conns, pipe, size, idle in MATRIX[mode]:
            for name in servers:
                if one_client(name) and conns + idle > 1:
                    continue
                row = run_load(name, f"{tag}-{rnd}", logs, conns, pipe, size,
                               idle, warmup, duration)
                row["scenario"] = tag
                row["run"] = rnd
                rows.append(row)
                log(fmt_row(row))
    write_csv(f"{out}/runs.csv", ["run"] + RUN_COLUMNS, rows)
    # results.csv: the best round per cell (a neighbour only ever slows a
    # run down, so the best is the nearest to the undisturbed figure); a
    # failed round anywhere marks the cell, and the peak RSS is the
    # largest seen.
    best = {}
    for row in rows:
        key = (row["server"], row["scenario"])
        b = best.setdefault(key, dict(row, rounds=0, bad=""))
        b["rounds"] += 1
        b["peak_rss_kib"] = max(int(b.get("peak_rss_kib") or 0),
                                int(row.get("peak_rss_kib") or 0))
        if row["status"] != "ok":
            b["bad"] = row["status"]
        if float(row.get("msgs_per_s") or 0) > float(b.get("msgs_per_s") or 0):
            keep = b["rounds"], b["peak_rss_kib"], b["bad"]
            b.update(row)
            b["rounds"], b["peak_rss_kib"], b["bad"] = keep
    for b in best.values():
        if b["bad"]:
            b["status"] = b["bad"]
    write_csv(f"{out}/results.csv", RUN_COLUMNS + ["rounds"],
              list(best.values()))
    return sum(1 for b in best.values() if b["status"] != "ok")


def idle_cpu(servers, out, logs, settle, measure, count=1000):
    """Server CPU while it holds count idle clients and nothing is sent."""
    log(f"== idle: server CPU with {count} idle clients, no traffic, "
        f"over {measure} s")
    rows, failures = [], 0
    for name in servers:
        row = dict(server=name, idle_clients=count)
        srv = Server(name, f"{logs}/idle-{name}.err")
        if srv.port is None:
            srv.stop()
            row["status"] = "unavailable" if srv.unavailable else \
                "did not start"
            rows.append(row)
            continue
        pid = srv.pid()
        sample = {}
        measured = threading.Event()

        def measure_now(_line, pid=pid, sample=sample, port=srv.port,
                        queued=one_client(name)):
            # The server may still be accepting (or forking) when the
            # connects have completed: wait for its accept queue to empty
            # (an iterative server's never does), then let it settle.
            if not queued:
                sample["accepted"] = wait_accepted(port, 10)
            time.sleep(settle)
            t0, c0 = time.monotonic(), tree_cpu_s(pid)
            time.sleep(measure)
            t1, c1 = time.monotonic(), tree_cpu_s(pid)
            sample["cpu"] = (c1 - c0) / (t1 - t0) * 100
            sample["threads"] = sum(status_kib(p, "Threads")
                                    for p in tree(pid))
            sample["procs"] = len(tree(pid))
            sample["rss"] = tree_pss_kib(pid)
            measured.set()

        hold = 10 + settle + measure + 0.5
        load = Load(srv.port, ["-c", 0, "-i", count, "-w", 0, "-d", hold,
                               "--connect-timeout", 10],
                    f"{logs}/idle-{name}.out", load_timeout(10, 0, hold),
                    on_open=measure_now)
        # Measured: end echobench's hold (it then checks that no idle
        # connection was dropped, and closes them).
        if measured.wait(timeout=hold + 10) and load.proc.poll() is None:
            load.proc.send_signal(signal.SIGUSR1)
        rc = load.wait()
        alive = srv.proc.poll() is None
        srv.stop()
        status = load.status(rc)
        if one_client(name):
            # It serves the first; the rest wait in the listen queue,
            # which echobench cannot tell from being served.
            status += " (one served, the rest queued)"
        if not alive:
            status = "server exited; " + status
        if "cpu" in sample:
            row.update(cpu_percent="%.1f" % sample["cpu"],
                       threads=sample["threads"], processes=sample["procs"],
                       pss_kib=sample["rss"])
        row["connected"] = count - int(load.result.get("connect_failed", 0)
                                       or 0) if load.result else ""
        row["status"] = status
        if not status.startswith("ok"):
            failures += 1
        rows.append(row)
        log("   %-19s %6s %% CPU  %5s threads  %7s KiB  %s" % (
            name, row.get("cpu_percent", ""), row.get("threads", ""),
            row.get("pss_kib", ""), status))
    write_csv(f"{out}/idle.csv", ["server", "idle_clients", "connected",
                                  "cpu_percent", "threads", "processes",
                                  "pss_kib", "status"], rows)
    return failures


# ------------------------------------------------------------ syscalls

def syscall_tool():
    """perf stat counting the raw_syscalls tracepoint (plus io_uring's
    submissions when the kernel has that tracepoint), else strace -c."""
    def works(argv):
        try:
            return subprocess.run(argv, capture_output=True,
                                  timeout=20).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False
    base = ["perf", "stat", "-x", ",", "-e", "raw_syscalls:sys_enter"]
    if works(base + ["-e", "io_uring:io_uring_submit_req", "true"]):
        return "perf", ["raw_syscalls:sys_enter", "io_uring:io_uring_submit_req"]
    if works(base + ["true"]):
        return "perf", ["raw_syscalls:sys_enter"]
    if works(["strace", "-f", "-c", "-o", "/dev/null", "true"]):
        return "strace", []
    return None, []


def count_once(name, tag, logs, tool, events, conns, pipe, warmup, duration):
    """Run name under the counter for its whole life, with one load (none
    when conns is 0); (syscalls, sqes, lines echoed, status)."""
    count = f"{logs}/syscalls-{name}-{tag}.count"
    if tool == "perf":
        wrapper = ["perf", "stat", "-x", ",", "-o", count]
        for e in events:
            wrapper += ["-e", e]
        wrapper += ["--"]
    else:
        wrapper = ["strace", "-f", "-c", "-o", count]
    srv = Server(name, f"{logs}/syscalls-{name}-{tag}.err", wrapper=wrapper)
    if srv.port is None:
        srv.stop()
        return None, None, 0, "unavailable" if srv.unavailable else \
            "did not start"
    lines, status = 0, "ok"
    if conns > 0:
        load = Load(srv.port, ["-c", conns, "-P", pipe, "-w", warmup, "-d",
                               duration], f"{logs}/syscalls-{name}-{tag}.out",
                    load_timeout(10, warmup, duration))
        rc = load.wait()
        status = load.status(rc)
        lines = int(load.result.get("echoed", 0) or 0)
    # SIGTERM the server itself; the counter writes its totals once the
    # server has exited.
    for pid in children(srv.proc.pid):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        srv.proc.wait(timeout=6)
    except subprocess.TimeoutExpired:
        pass
    srv.stop()
    calls = sqes = None
    try:
        with open(count) as f:
            text = f.read()
    except OSError:
        return None, None, lines, "no count written"
    if tool == "perf":
        for row in csv.reader(l for l in text.splitlines()
                              if l and not l.startswith("#")):
            if len(row) > 2 and row[2] == "raw_syscalls:sys_enter":
                calls = int(row[0]) if row[0].isdigit() else None
            elif len(row) > 2 and row[2] == "io_uring:io_uring_submit_req":
                sqes = int(row[0]) if row[0].isdigit() else None
    else:
        m = re.search(r"^\s*100\.00\s+\S+\s+\S+\s+(\d+)\s+(\d+\s+)?total",
                      text, re.M)
        calls = int(m.group(1)) if m else None
    return calls, sqes, lines, status


def syscalls(mode, servers, out, logs):
    tool, events = syscall_tool()
    cols = ["server", "scenario", "connections", "pipeline", "lines",
            "syscalls", "sqes", "syscalls_per_line", "sqes_per_line",
            "ops_per_line", "tool", "status"]
    rows = []
    if tool is None:
        log("== syscalls per line: neither perf nor strace works here; "
            "skipped")
        write_csv(f"{out}/syscalls.csv", cols, rows)
        return 0
    what = " + ".join(events) if tool == "perf" else "strace -f -c"
    log(f"== system calls per echoed line ({tool}: {what})")
    warmup, duration = (0.3, 1.0) if mode == "full" else (0.2, 0.5)
    failures = 0
    for name in servers:
        # Start-up and shutdown alone, subtracted from the runs below.
        b_calls, b_sqes, _, st = count_once(name, "baseline", logs, tool,
                                            events, 0, 0, 0, 0)
        if b_calls is None:
            rows.append(dict(server=name, scenario="baseline", status=st))
            log(f"   {name:19s} {st}")
            continue
        plan = SYSCALL_SCENARIOS[mode]
        if one_client(name):
            # One client at a time: one connection is all it can be asked.
            plan = [p for p in plan if p[1] == 1] or [("c1-p1", 1, 1)]
        for tag, conns, pipe in plan:
            calls, sqes, lines, st = count_once(name, tag, logs, tool, events,
                                                conns, pipe, warmup, duration)
            row = dict(server=name, scenario=tag, connections=conns,
                       pipeline=pipe, lines=lines, tool=tool, status=st)
            if calls is not None and lines > 0:
                net_calls = calls - b_calls
                row["syscalls"] = net_calls
                row["syscalls_per_line"] = "%.3f" % (net_calls / lines)
                net_sqes = 0
                if sqes is not None and b_sqes is not None:
                    net_sqes = sqes - b_sqes
                    row["sqes"] = net_sqes
                    row["sqes_per_line"] = "%.3f" % (net_sqes / lines)
                row["ops_per_line"] = "%.3f" % ((net_calls + net_sqes) / lines)
            if st != "ok":
                failures += 1
            rows.append(row)
            log("   %-19s %-9s %7s syscalls + %6s SQEs per line  (%s lines)"
                "  %s" % (name, tag, row.get("syscalls_per_line", "n/a"),
                          row.get("sqes_per_line", "-"), lines, st))
    write_csv(f"{out}/syscalls.csv", cols, rows)
    return failures


# ------------------------------------------------------------ scaling

def scaling(mode, servers, ceilings, out, logs):
    """Lines/s and CPU per line against connections, each model up to
    where it can go: past its ceiling it is not run (and the CSV says
    why), and after a failed point it is not pushed further."""
    warmup, duration, rounds = (0.5, 1.5, 2) if mode == "full" else \
        (0.2, 0.5, 1)
    log(f"== scaling: {SCALING_COUNTS} connections, "
        f"{SCALING_ACTIVE_WHEN_IDLE} active + the rest idle, and all active; "
        f"{duration} s after {warmup} s, best of {rounds}")
    cols = ["server", "mode", "connections", "active", "idle", "msgs_per_s",
            "cpu_us_per_line", "load_cpu_percent", "measured_s", "p50_us",
            "p99_us", "peak_rss_kib", "status"]
    rows, every = [], []
    for kind in ("idle", "active"):
        for name in servers:
            if one_client(name):
                rows.append(dict(server=name, mode=kind, connections="",
                                 status="not run: one client at a time"))
                continue
            ceiling = ceilings.get(name)
            counts = list(SCALING_COUNTS)
            # The last point of a model with a ceiling is the ceiling
            # itself, so the table shows how far it really goes.
            if ceiling is not None and ceiling < counts[-1]:
                counts = [n for n in counts if n < ceiling] + [ceiling]
            for n in counts:
                active = SCALING_ACTIVE_WHEN_IDLE if kind == "idle" else n
                tries = []
                # The best of the rounds, as in the matrix; a failed round
                # is the point's result (and the model's last point).
                for rnd in range(1, rounds + 1):
                    row = run_load(name, f"scale-{kind}-{n}-{rnd}", logs,
                                   active, 1, 64, n - active, warmup,
                                   duration, connect_timeout=20)
                    row = {k: row.get(k, "") for k in cols}
                    row.update(mode=kind, connections=n, active=active,
                               idle=n - active, run=rnd)
                    tries.append(row)
                    every.append(row)
                    if row["status"] != "ok":
                        break
                row = tries[-1] if tries[-1]["status"] != "ok" else max(
                    tries, key=lambda r: float(r["msgs_per_s"] or 0))
                rows.append(row)
                log("   %-19s %-6s %6d conns %9s lines/s  cpu %6s us/line  "
                    "echobench %3s %%  %s"
                    % (name, kind, n, row["msgs_per_s"],
                       row["cpu_us_per_line"], row["load_cpu_percent"],
                       row["status"]))
                if row["status"] != "ok":
                    break
            else:
                if ceiling is not None and ceiling < SCALING_COUNTS[-1]:
                    rows.append(dict(server=name, mode=kind,
                                     connections="",
                                     status=f"stops at its ceiling of "
                                     f"{ceiling:,} clients"))
    write_csv(f"{out}/scaling.csv", cols, rows)
    write_csv(f"{out}/scaling-runs.csv", ["run"] + cols, every)
    return 0


# ------------------------------------------------------------ main

def write_csv(path, columns, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)


def main():
    global PIN
    ap = argparse.ArgumentParser(prog="bench_run.py")
    ap.add_argument("--mode", choices=["full", "quick", "smoke"],
                    default="full")
    ap.add_argument("--matrix", action="store_true")
    ap.add_argument("--scaling", action="store_true")
    ap.add_argument("--servers", default="")
    ap.add_argument("--out", required=True)
    ap.add_argument("--logs", help="where the servers' and echobench's logs "
                    "go (default build/bench/logs/<name of --out>)")
    a = ap.parse_args()

    # Above the load, so that its samples of the server's CPU are taken
    # when echobench announces the start and the end, not a scheduler
    # slice later (it sleeps almost all the time; its children do not
    # inherit this, see raise_nofile).
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -10)
    except OSError:
        pass
    PIN = (os.cpu_count() or 1) >= 2 and \
        subprocess.run(["sh", "-c", "command -v taskset"],
                       capture_output=True).returncode == 0
    # Logs stay in build/, out of the results a run may commit.
    logs = a.logs or os.path.join(
        BUILD, "bench", "logs",
        os.path.basename(os.path.normpath(a.out)))
    os.makedirs(a.out, exist_ok=True)
    os.makedirs(logs, exist_ok=True)
    if a.servers:
        servers = a.servers.split()
        missing = [s for s in servers
                   if not os.access(os.path.join(BUILD, s), os.X_OK)]
        if missing:
            sys.exit(f"bench: not built: {' '.join(missing)}")
    else:
        every = listed_servers()
        servers = [s for s in every
                   if os.access(os.path.join(BUILD, s), os.X_OK)]
        absent = [s for s in every if s not in servers]
        if absent:
            log(f"bench: not built, left out: {' '.join(absent)}")

    def interrupted(signum, _frame):
        PROCS.stop_all()
        sys.exit(128 + signum)
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)

    failures = 0
    try:
        log("== protocol check (echo, quit, EOF, every byte, line too long)")
        usable, info = [], []
        for name in servers:
            result, detail = run_check(name, logs)
            ceiling = server_ceiling(name)
            f = facts(name)
            info.append(dict(server=name, check=result, detail=detail,
                             ceiling=ceiling if ceiling else "",
                             one_client=int(one_client(name)),
                             model=f.get("model", ""),
                             waits_with=f.get("waits-with", ""),
                             protocol=f.get("protocol", "")))
            log(f"   {name}: {result}: {detail}")
            if result in ("ok", "exempt"):
                usable.append(name)
            elif result == "unavailable":
                log(f"   {name}: skipped everywhere below (not a failure)")
            else:
                failures += 1
        write_csv(f"{a.out}/servers.csv",
                  ["server", "check", "detail", "ceiling", "one_client",
                   "model", "waits_with", "protocol"], info)
        ceilings = {i["server"]: i["ceiling"] or None for i in info}
        if a.mode == "smoke":
            # Correctness only: a short verified load on two servers.
            smoke = [s for s in ("echoserv", "echoserv-threads")
                     if s in usable] if not a.servers else usable
            failures += matrix("smoke", smoke, a.out, logs)
        else:
            if a.matrix:
                failures += matrix(a.mode, usable, a.out, logs)
                settle, measure = (0.5, 2.0) if a.mode == "full" else \
                    (0.3, 0.7)
                failures += idle_cpu(usable, a.out, logs, settle, measure)
                failures += syscalls(a.mode, usable, a.out, logs)
            if a.scaling:
                failures += scaling(a.mode, usable, ceilings, a.out, logs)
    finally:
        PROCS.stop_all()
    if failures:
        log(f"bench: {failures} failure(s): see above and {logs}")
    return 1 if failures else 0


PIN = False

if __name__ == "__main__":
    sys.exit(main())
