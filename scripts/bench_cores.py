#!/usr/bin/env python3
"""bench_cores.py - the multi-core track: every design on the same N
pinned cores, at 1 core and at N, side by side.

Called by scripts/bench.sh --cores N (which builds, raises the descriptor
limit and notes the machine); scripts/bench_report.py turns the CSV files
into results.md and cores.png.  Python standard library only.

The fairness rule (BENCHMARKS.md, "The multi-core track"): every design
gets the same cores.  The event loops get one worker per core
(`--workers N`, where the server really starts N worker processes with
it); the thread- and process-per-client servers run as they are, since
they use every core they are given by themselves; all are pinned with
taskset to CPUs 0..N-1 (the first N this process may use).  The load
generator, echobench with one thread per core it has, runs on the
remaining CPUs.  Where there are too few for that the run says so and
does what fits: a point whose server would leave the load generator no
CPU of its own is not run unless --share is given, and then it is run
with echobench on the server's CPUs and labelled "shared" everywhere.

Each point measures two loads on 100 connections, pipeline 1, 64-byte
lines:
  rate        echobench --rate: a fixed rate every design can hold on one
              core; the figure is the server's CPU time per echoed line
              (the honest figure on a small machine: it does not depend on
              what the load generator can do)
  saturation  unpaced: lines/s as fast as server and generator go, and the
              CPU per line there
Every round runs each server at 1 core and at N one after the other, so
the ratio N / 1 is taken from two runs seconds apart; the rounds repeat
everything, and the CSV keeps every run.

  cores-plan.csv     the CPUs, the timing, where each point ran, and
                     what could not be run as asked (what, text)
  cores-servers.csv  each server's design and how it takes --workers
  cores-runs.csv     every run
  cores.csv          per server and point: the medians and ranges over
                     the rounds, and the ratios to the 1-core point
  servers.csv        the protocol check (as bench_run.py writes it)
"""

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import time

# No __pycache__ beside the scripts in the work tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_run as br  # noqa: E402  (the runner's processes and clocks)

# Thread- and process-per-client designs: run as they are, never with
# --workers, whatever their --help says.
THREADED = {
    "echoserv-threads": "a thread per client",
    "echoserv-fork": "a process per client",
}
# (warm-up s, window s, rounds) per mode.
TIMING = {"full": (0.5, 2.0, 3), "quick": (0.3, 1.0, 2),
          "smoke": (0.1, 0.3, 1)}
# The servers of a smoke run when none are named.
SMOKE_SERVERS = ["echoserv", "echoserv-threads"]
# A fixed-rate run echoing less than this share of the rate did not hold
# it: its CPU per line is flagged.
HELD = 0.95
# The load generator this busy (of the CPUs it has) set the pace.
BUSY = 90

RUN_COLUMNS = [
    "run", "server", "kind", "cores", "workers", "server_cpus", "load_cpus",
    "load_threads", "placement", "connections", "rate", "msgs_per_s",
    "late", "cpu_us_per_line", "load_busy_percent", "worker_processes",
    "worker_split", "server_affinity", "load_affinity",
    "cpu_pressure_percent", "p50_us", "p99_us", "measured_s", "status",
]
SUMMARY_COLUMNS = [
    "server", "design", "workers_option", "cores", "workers", "server_cpus",
    "load_cpus", "load_threads", "placement", "connections", "rate",
    "rate_cpu_us", "rate_cpu_us_min", "rate_cpu_us_max", "rate_echoed_min",
    "rate_held", "sat_msgs_per_s", "sat_msgs_per_s_min",
    "sat_cpu_us", "load_busy_max", "worker_split", "cpu_pressure",
    "rounds_ok",
    "sat_ratio", "sat_ratio_min", "sat_ratio_max", "cpu_ratio",
    "cpu_ratio_min", "cpu_ratio_max", "ratio_rounds", "status",
]


def log(msg):
    print(msg, flush=True)


def cpulist(cpus):
    return ",".join(str(c) for c in cpus)


def affinity(pid):
    """The CPUs pid may run on, as "0,1,2" (Cpus_allowed_list expanded),
    or "" if it is gone: what taskset really did."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return ""
    m = re.search(r"^Cpus_allowed_list:\s*(\S+)", text, re.M)
    if not m:
        return ""
    cpus = []
    for part in m.group(1).split(","):
        lo, _, hi = part.partition("-")
        cpus += range(int(lo), int(hi or lo) + 1)
    return cpulist(cpus)


def cpu_pressure_us():
    """The kernel's count of microseconds in which some runnable task
    waited for a CPU (/proc/pressure/cpu, "some total"), or None."""
    try:
        with open("/proc/pressure/cpu") as f:
            m = re.search(r"^some .*total=(\d+)", f.read(), re.M)
        return int(m.group(1)) if m else None
    except OSError:
        return None


# ------------------------------------------------------------ the plan

class Point:
    """One core count: where the server and the load generator run."""

    def __init__(self, cores, server_cpus, load_cpus, shared):
        self.cores = cores
        self.server_cpus = cpulist(server_cpus)
        self.load_cpus = cpulist(load_cpus)
        self.load_threads = len(load_cpus)
        self.shared = shared

    def placement(self):
        threads = f"{self.load_threads} thread" + \
            ("s" if self.load_threads > 1 else "")
        if self.shared:
            return (f"shared: echobench ({threads}) on the server's CPUs "
                    f"{self.load_cpus}")
        return f"separate: echobench ({threads}) on CPUs {self.load_cpus}"


def plan(cores, allowed, share):
    """The points to run for --cores N on the CPUs allowed, and a note for
    each one that cannot be run as asked (and what was run instead).

    With a CPU to spare for the load generator: 1 core and N, echobench on
    the CPUs the server does not have.  Without one, the N-core point is
    not run, and the most cores that do leave one are run instead, unless
    --share: then both 1 core and N are also run with echobench on the
    server's own CPUs, so that the ratio N / 1 compares two shared points
    (sharing a CPU changes the cost of every wake-up, so a shared point is
    never compared with a separate one)."""
    m = len(allowed)
    points, notes = [], []

    def add(c, shared):
        if not any(p.cores == c and p.shared == shared for p in points):
            load = allowed[:c] if shared else allowed[c:]
            points.append(Point(c, allowed[:c], load, shared))

    top = cores
    if cores > m:
        notes.append(f"{cores} cores asked: this machine has {m} "
                     f"CPU{'s' if m > 1 else ''}, the most it can give")
        top = m
    if m >= 2:
        add(1, False)
    if top + 1 <= m:
        add(top, False)
        return sorted(points, key=lambda p: p.cores), notes
    cpus = f"{top} core{'s' if top > 1 else ''}"
    if share:
        add(1, True)
        add(top, True)
        notes.append(
            f"{cpus}: this machine's {m} CPU{'s' if m > 1 else ''} "
            f"leave{'' if m > 1 else 's'} none for the load generator, so "
            "echobench runs on the "
            "server's CPUs (--share), at 1 core" +
            (f" and at {top}" if top > 1 else "") + ", labelled shared" +
            ("; their ratio is the whole machine's (server and load "
             "generator together), not the server's scaling"
             if top > 1 else ""))
    else:
        notes.append(
            f"{cpus}: not run: the server on {top} of this machine's {m} "
            f"CPU{'s' if m > 1 else ''} leaves none for the load generator "
            "(--share runs it with echobench on the server's CPUs, "
            "labelled shared)")
    if m - 1 > 1:
        add(m - 1, False)
        notes.append(f"{m - 1} cores run, separate: the most that leave "
                     "the load generator a CPU of its own")
    points.sort(key=lambda p: (p.shared, p.cores))
    return points, notes


def base_of(p, points):
    """The 1-core point p is compared with (same placement), or None."""
    if p.cores == 1:
        return None
    return next((b for b in points if b.cores == 1 and b.shared == p.shared),
                None)


# ------------------------------------------------------------ --workers

def help_text(name):
    try:
        out = subprocess.run([os.path.join(br.BUILD, name), "--help"],
                             capture_output=True, text=True, timeout=5)
        return out.stdout + out.stderr
    except (OSError, subprocess.TimeoutExpired):
        return ""


def facts(name, text):
    """The server's --facts (key=value lines) if its --help offers them."""
    if "--facts" not in text:
        return {}
    try:
        out = subprocess.run([os.path.join(br.BUILD, name), "--facts"],
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return dict(line.split("=", 1) for line in out.stdout.splitlines()
                if "=" in line)


def wait_workers(pid, want, limit):
    """How many worker processes pid has within limit s (want at most)."""
    deadline = time.monotonic() + limit
    seen = 0
    while time.monotonic() < deadline:
        seen = len(br.children(pid))
        if seen >= want:
            break
        time.sleep(0.02)
    return seen


def workers_support(name, logs):
    """(design, how it takes --workers, detail).  design is "threaded"
    (run as it is) or "event loop"; how is "yes" (with --workers 2 it
    really starts two worker processes), "no" (no --workers in its
    --help) or "ignored" (--help lists it, but no worker starts)."""
    if name in THREADED:
        return "threaded", "not used", (
            f"{THREADED[name]}: uses every core it is given; run as it is")
    text = help_text(name)
    known = facts(name, text)
    said = f"; --facts: workers={known['workers']}" \
        if "workers" in known else ""
    if not re.search(r"--workers\b", text):
        return "event loop", "no", "1 worker only: no --workers" + said
    srv = br.Server(name, f"{logs}/{name}-workers-probe.err",
                    ["--workers", "2"], cpus=None)
    seen = wait_workers(srv.pid(), 2, 2.0) if srv.port else 0
    srv.stop()
    if srv.port is None:
        return "event loop", "no", ("1 worker only: it does not start with "
                                    "--workers 2" + said)
    if seen >= 2:
        return "event loop", "yes", ("--workers N: N worker processes "
                                     "(2 seen with --workers 2)" + said)
    return "event loop", "ignored", (
        "1 worker only: --help lists --workers, but with --workers 2 it "
        "started no worker process (the option is parsed and ignored)"
        + said)


# ------------------------------------------------------------ one run

class WorkerClock(br.CpuClock):
    """The runner's CPU clock, and each worker's own CPU time at both
    ends, to show how the kernel spread the load over the workers."""

    def __init__(self, pid, split):
        super().__init__(pid)
        self.split = split
        self.per0 = self.per1 = {}
        self.psi0 = self.psi1 = None
        self.load_affinity = ""

    def per_worker(self):
        return {c: br.tree_cpu_s(c) for c in br.children(self.pid)} \
            if self.split else {}

    def open(self, _line=None):
        super().open()
        self.per0 = self.per_worker()
        self.psi0 = cpu_pressure_us()
        # echobench itself by now (taskset has set its CPUs and exec'd).
        self.load_affinity = affinity(self.load_pid) if self.load_pid \
            else ""

    def closing(self):
        super().closing()
        self.per1 = self.per_worker()
        self.psi1 = cpu_pressure_us()

    def pressure(self):
        """The share of the interval in which something on the machine
        waited for a CPU: how crowded it was (our own tasks count too)."""
        if None in (self.psi0, self.psi1) or not self.interval():
            return ""
        return "%.0f" % ((self.psi1 - self.psi0) / 1e4 / self.interval())

    def shares(self):
        """Each worker's share of the workers' CPU time, largest first
        ("52/48"), or "" (a worker replaced meanwhile counts as gone)."""
        used = [self.per1[p] - self.per0[p] for p in self.per1
                if p in self.per0]
        total = sum(used)
        if len(used) < 2 or total <= 0:
            return ""
        return "/".join("%.0f" % (u / total * 100)
                        for u in sorted(used, reverse=True))


def run_one(name, rnd, kind, point, workers, conns, rate, warmup, duration,
            logs):
    """Start name on the point's CPUs, put one load on it; a row of
    cores-runs.csv."""
    row = dict(run=rnd, server=name, kind=kind, cores=point.cores,
               workers=workers, server_cpus=point.server_cpus,
               load_cpus=point.load_cpus, load_threads=point.load_threads,
               placement=at(point),
               connections=conns, rate=rate if kind == "rate" else "")
    tag = f"cores{point.cores}{'-shared' if point.shared else ''}-{kind}-{rnd}"
    args = ["--workers", str(workers)] if workers > 1 else []
    srv = br.Server(name, f"{logs}/{name}-{tag}.err", args,
                    cpus=point.server_cpus)
    if srv.port is None:
        srv.stop()
        row["status"] = "unavailable" if srv.unavailable else \
            "did not start"
        return row
    if workers > 1:
        row["worker_processes"] = wait_workers(srv.pid(), workers, 3.0)
        if row["worker_processes"] < workers:
            srv.stop()
            row["status"] = (f"{row['worker_processes']} of {workers} "
                             "workers started")
            return row
    # What taskset did, read back: the server and every worker.
    pins = {affinity(p) for p in br.tree(srv.pid())}
    row["server_affinity"] = pins.pop() if len(pins) == 1 else \
        "differ: " + " ".join(sorted(pins))
    clock = WorkerClock(srv.pid(), workers > 1)
    lg = ["-c", conns, "-P", 1, "-t", point.load_threads, "-w", warmup,
          "-d", duration, "--connect-timeout", 10]
    if kind == "rate":
        lg += ["-r", rate]
    load = br.Load(srv.port, lg, f"{logs}/{name}-{tag}.out",
                   br.load_timeout(10, warmup, duration),
                   on_start=clock.open, on_closing=clock.closing,
                   cpus=point.load_cpus, clock=clock)
    rc = load.wait()
    row["load_affinity"] = clock.load_affinity
    alive = srv.proc.poll() is None
    srv.stop()
    r = load.result
    for k in ("msgs_per_s", "late", "p50_us", "p99_us"):
        row[k] = r.get(k, "")
    status = load.status(rc)
    if not alive:
        status = "server exited" + ("" if status == "ok" else "; " + status)
    row["status"] = status
    cpu = clock.seconds(0.8 * (warmup + duration))
    if clock.interval() is not None:
        row["measured_s"] = "%.2f" % clock.interval()
    echoed = int(r.get("echoed", "0") or 0) - \
        int(r.get("before_start", "0") or 0)
    if cpu is not None and echoed > 0:
        row["cpu_us_per_line"] = "%.2f" % (cpu * 1e6 / echoed)
    busy = clock.load_percent()
    if cpu is not None and busy is not None:
        row["load_busy_percent"] = "%.0f" % (busy / point.load_threads)
    row["worker_split"] = clock.shares()
    row["cpu_pressure_percent"] = clock.pressure()
    if status == "ok" and (row["server_affinity"] != point.server_cpus or
                           row["load_affinity"] != point.load_cpus):
        row["status"] = (f"pinned wrongly: server on {row['server_affinity']}"
                         f", echobench on {row['load_affinity']}")
    return row


def fmt_run(row):
    what = (f"{row['kind']} {row['rate']}/s" if row["kind"] == "rate"
            else "saturation")
    return ("   %-19s %d core%s %-8s %-5s %-17s %9s lines/s  cpu %6s us/line"
            "  echobench %3s %%  CPU pressure %3s %%  %s%s" % (
                row["server"], row["cores"],
                "s" if row["cores"] > 1 else " ", row["placement"],
                f"w={row['workers']}", what, row.get("msgs_per_s", ""),
                row.get("cpu_us_per_line", ""),
                row.get("load_busy_percent", ""),
                row.get("cpu_pressure_percent", ""), row.get("status", ""),
                f"  split {row['worker_split']}"
                if row.get("worker_split") else ""))


# ------------------------------------------------------------ summary

def floats(rows, col):
    return [float(r[col]) for r in rows if r.get(col) not in (None, "")]


def spread(values, fmt="%.2f"):
    """(median, min, max) formatted, or blanks."""
    if not values:
        return "", "", ""
    return (fmt % statistics.median(values), fmt % min(values),
            fmt % max(values))


def at(p):
    """A run's placement column for point p."""
    return "shared" if p.shared else "separate"


def summarize(runs, servers, info, points, rate):
    """cores.csv: per server and point, over the rounds; and at every
    point of more than one core, the ratios to the 1-core point of the
    same placement, round by round (then their median and range)."""
    rows = []
    for name in servers:
        design, how, _ = info[name]
        for p in points:
            mine = [r for r in runs if r["server"] == name and
                    r["cores"] == p.cores and r["placement"] == at(p)]
            ok = [r for r in mine if r.get("status") == "ok"]
            rate_ok = [r for r in ok if r["kind"] == "rate"]
            sat_ok = [r for r in ok if r["kind"] == "saturation"]
            row = dict(server=name, design=design, workers_option=how,
                       cores=p.cores,
                       workers=mine[0]["workers"] if mine else "",
                       server_cpus=p.server_cpus, load_cpus=p.load_cpus,
                       load_threads=p.load_threads,
                       placement=at(p),
                       connections=mine[0]["connections"] if mine else "",
                       rate=rate)
            (row["rate_cpu_us"], row["rate_cpu_us_min"],
             row["rate_cpu_us_max"]) = spread(floats(rate_ok,
                                                     "cpu_us_per_line"))
            echoed = floats(rate_ok, "msgs_per_s")
            if echoed:
                row["rate_echoed_min"] = "%.0f" % min(echoed)
                row["rate_held"] = int(min(echoed) >= HELD * rate)
            sat = floats(sat_ok, "msgs_per_s")
            if sat:
                row["sat_msgs_per_s"] = "%.0f" % max(sat)
                row["sat_msgs_per_s_min"] = "%.0f" % min(sat)
            row["sat_cpu_us"] = spread(floats(sat_ok, "cpu_us_per_line"))[0]
            busy = floats(sat_ok, "load_busy_percent")
            row["load_busy_max"] = "%.0f" % max(busy) if busy else ""
            best = max(sat_ok, key=lambda r: float(r["msgs_per_s"] or 0),
                       default={})
            row["worker_split"] = best.get("worker_split", "")
            row["cpu_pressure"] = spread(floats(mine, "cpu_pressure_percent"),
                                         "%.0f")[0]
            row["rounds_ok"] = len(ok)
            bad = sorted({r["status"] for r in mine if r["status"] != "ok"})
            row["status"] = "; ".join(bad) if bad else (
                "ok" if mine else "not run")
            base = base_of(p, points)
            if base is not None:
                ratios(row, runs, name, base, p)
            rows.append(row)
    return rows


def ratios(row, runs, name, base, p):
    """Round by round, point p's saturation lines/s and fixed-rate CPU
    per line over those of base (its 1-core point); median and range."""
    def value(kind, point, rnd, col):
        r = next((r for r in runs if r["server"] == name and
                  r["kind"] == kind and r["cores"] == point.cores and
                  r["placement"] == at(point) and r["run"] == rnd and
                  r.get("status") == "ok" and r.get(col)), None)
        return float(r[col]) if r else None
    sat, cpu = [], []
    for rnd in sorted({r["run"] for r in runs}):
        a = value("saturation", p, rnd, "msgs_per_s")
        b = value("saturation", base, rnd, "msgs_per_s")
        if a and b:
            sat.append(a / b)
        a = value("rate", p, rnd, "cpu_us_per_line")
        b = value("rate", base, rnd, "cpu_us_per_line")
        if a and b:
            cpu.append(a / b)
    row["sat_ratio"], row["sat_ratio_min"], row["sat_ratio_max"] = \
        spread(sat)
    row["cpu_ratio"], row["cpu_ratio_min"], row["cpu_ratio_max"] = \
        spread(cpu)
    row["ratio_rounds"] = min(len(sat), len(cpu))


# ------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(prog="bench_cores.py")
    ap.add_argument("--cores", type=int, required=True)
    ap.add_argument("--mode", choices=sorted(TIMING), default="full")
    ap.add_argument("--share", action="store_true",
                    help="run a point with too few CPUs left for echobench "
                    "anyway, echobench on the server's CPUs (labelled)")
    ap.add_argument("--rate", type=int, default=20000,
                    help="the fixed rate, lines/s in all (default 20000)")
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--servers", default="")
    ap.add_argument("--out", required=True)
    ap.add_argument("--logs", required=True)
    a = ap.parse_args()
    if a.cores < 1 or a.rate < 1 or a.connections < 1:
        sys.exit("bench_cores: --cores, --rate and --connections are "
                 "1 or more")

    try:
        os.setpriority(os.PRIO_PROCESS, 0, -10)
    except OSError:
        pass
    if subprocess.run(["sh", "-c", "command -v taskset"],
                      capture_output=True).returncode != 0:
        sys.exit("bench_cores: taskset is needed to pin the servers "
                 "(util-linux)")
    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.logs, exist_ok=True)
    allowed = sorted(os.sched_getaffinity(0))
    # A smoke run checks the path, not speed: it shares when it must.
    share = a.share or a.mode == "smoke"
    points, notes = plan(a.cores, allowed, share)
    log(f"== multi-core track: --cores {a.cores} on {len(allowed)} CPUs "
        f"({cpulist(allowed)})")
    for n in notes:
        log(f"   {n}")
    if not points:
        log("bench_cores: nothing fits on this machine")
        return 1
    if not any(base_of(p, points) for p in points):
        notes.append("no scaling ratio: only 1-core points can run here")
        log(f"   {notes[-1]}")

    if a.servers:
        servers = a.servers.split()
    elif a.mode == "smoke":
        servers = SMOKE_SERVERS
    else:
        servers = [s for s in br.listed_servers()
                   if os.access(os.path.join(br.BUILD, s), os.X_OK)]
    missing = [s for s in servers
               if not os.access(os.path.join(br.BUILD, s), os.X_OK)]
    if missing:
        sys.exit(f"bench_cores: not built: {' '.join(missing)}")

    def interrupted(signum, _frame):
        br.PROCS.stop_all()
        sys.exit(128 + signum)
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)

    failures = 0
    try:
        log("== protocol check, and how each server takes --workers")
        checks, usable, info = [], [], {}
        for name in servers:
            if br.one_client(name):
                checks.append(dict(server=name, check="not run",
                                   detail="one client at a time",
                                   one_client=1))
                info[name] = ("one client", "not used",
                              "not run: one client at a time")
                log(f"   {name}: not run: one client at a time")
                continue
            result, detail = br.run_check(name, a.logs)
            checks.append(dict(server=name, check=result, detail=detail,
                               one_client=0))
            # "exempt": the textbook's check is lines only; its loads are
            # still verified byte for byte, so it is measured like the rest.
            if result not in ("ok", "exempt"):
                info[name] = ("", "", f"{result}: {detail}")
                log(f"   {name}: {result}: {detail}")
                failures += result != "unavailable"
                continue
            info[name] = workers_support(name, a.logs)
            usable.append(name)
            log(f"   {name}: {info[name][2]}")
        br.write_csv(f"{a.out}/servers.csv", ["server", "check", "detail",
                                              "ceiling", "one_client"],
                     checks)
        br.write_csv(f"{a.out}/cores-servers.csv",
                     ["server", "design", "workers_option", "detail"],
                     [dict(server=s, design=d, workers_option=w, detail=t)
                      for s, (d, w, t) in info.items()])
        if "echoserv" in usable and info["echoserv"][1] != "yes":
            log("bench_cores: echoserv does not start workers with "
                "--workers 2 (docs/protocol.md section 8)")
            failures += 1

        # The check and the probe above ran where the kernel put them
        # (bench_run.py's CPUs 0 and 1 may not exist); the loads are pinned.
        br.PIN = True
        warmup, duration, rounds = TIMING[a.mode]
        log(f"== {rounds} round(s); each: every server at "
            f"{', '.join(f'{p.cores} ({at(p)})' for p in points)} core(s), "
            f"{a.connections} connections, pipeline 1: at {a.rate} lines/s "
            f"and unpaced, {duration} s after {warmup} s")
        for p in points:
            log(f"   {p.cores} core{'s' if p.cores > 1 else ''}: server on "
                f"CPUs {p.server_cpus}; {p.placement()}")
        plan_rows = [dict(what="cores asked", text=a.cores),
                     dict(what="cpus", text=cpulist(allowed)),
                     dict(what="timing", text=f"{warmup} s warm-up, "
                          f"{duration} s window, {rounds} round(s)")]
        plan_rows += [dict(what="point", text=f"{p.cores} core"
                           f"{'s' if p.cores > 1 else ''}: server on CPUs "
                           f"{p.server_cpus}; {p.placement()}")
                      for p in points]
        plan_rows += [dict(what="note", text=n) for n in notes]
        br.write_csv(f"{a.out}/cores-plan.csv", ["what", "text"], plan_rows)
        runs = []
        passing = {"ok", "unavailable"}
        if a.mode == "smoke":
            # Correctness only: on a crowded machine a 0.3 s window may
            # see no echo, although every line was echoed (a server
            # that stopped would leave lines unanswered: an error).
            passing.add("no line echoed in the window")
        for rnd in range(1, rounds + 1):
            for name in usable:
                for kind in ("rate", "saturation"):
                    for p in points:
                        workers = p.cores if info[name][1] == "yes" else 1
                        row = run_one(name, rnd, kind, p, workers,
                                      a.connections, a.rate, warmup,
                                      duration, a.logs)
                        runs.append(row)
                        log(fmt_run(row))
                        if row["status"] not in passing:
                            failures += 1
        for name in usable if a.mode == "smoke" else []:
            if not any(r["server"] == name and r["status"] == "ok"
                       for r in runs):
                log(f"bench_cores: {name}: no run echoed a line in its "
                    "window")
                failures += 1
        br.write_csv(f"{a.out}/cores-runs.csv", RUN_COLUMNS, runs)
        summary = summarize(runs, usable, info, points, a.rate)
        br.write_csv(f"{a.out}/cores.csv", SUMMARY_COLUMNS, summary)
    finally:
        br.PROCS.stop_all()
    if failures:
        log(f"bench_cores: {failures} failure(s): see above and {a.logs}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
