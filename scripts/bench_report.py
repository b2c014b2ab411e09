#!/usr/bin/env python3
"""bench_report.py - turn a benchmark folder's CSV files into results.md
and PNG charts.

usage: scripts/bench_report.py RESULTS_DIR [--no-chart]

Reads what scripts/bench_run.py wrote (servers.csv, results.csv,
idle.csv, syscalls.csv, scaling.csv, machine.txt; whichever exist) and
what scripts/bench_cores.py wrote (cores.csv, cores-servers.csv,
cores-plan.csv), every column by its name, and writes
RESULTS_DIR/results.md, chart.png (the matrix), scaling.png (the scaling
run) and cores.png (the multi-core track) with gnuplot.  It can be run
again on a committed folder: it only reads the CSV files.
"""

import argparse
import csv
import math
import os
import shutil
import subprocess
import sys
import tempfile

# The order of the tables (and of the charts' colours): the kit's one list.
SERVERS_LIST = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "..", "bench", "servers.list")


def kit_order():
    """The names of bench/servers.list, in its order."""
    try:
        with open(SERVERS_LIST) as f:
            return [line.split()[0] for line in f
                    if line.strip() and not line.startswith("#")]
    except OSError:
        return []


ONE_CLIENT_NOTE = "one client at a time"
URING_TARGET = 1.3


def read_csv(folder, name):
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def num(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def ratio(a, b):
    """a / b rounded down to three decimals (a verdict is never flattered
    by rounding), or None."""
    a, b = num(a), num(b)
    if a is None or b is None or b <= 0:
        return None
    return math.floor(a / b * 1000) / 1000


def thousands(text):
    v = num(text)
    return "–" if v is None else f"{v:,.0f}"


def table(header, rows, align=None):
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


class Run:
    """Everything one results folder holds, indexed for the report."""

    def __init__(self, folder):
        self.folder = folder
        self.info = {r["server"]: r for r in read_csv(folder, "servers.csv")}
        order = kit_order()
        self.servers = sorted(self.info, key=lambda s: order.index(s)
                              if s in order else len(order))
        self.results = {(r["server"], r["scenario"]): r
                        for r in read_csv(folder, "results.csv")}
        self.scenarios = []
        for r in read_csv(folder, "results.csv"):
            if r["scenario"] not in self.scenarios:
                self.scenarios.append(r["scenario"])
        self.rounds = max([int(r.get("rounds") or 1)
                           for r in self.results.values()] or [0])
        self.idle = {r["server"]: r for r in read_csv(folder, "idle.csv")}
        self.syscalls = {(r["server"], r["scenario"]): r
                         for r in read_csv(folder, "syscalls.csv")}
        self.scaling = read_csv(folder, "scaling.csv")
        self.cores = read_csv(folder, "cores.csv")
        self.cores_servers = {r["server"]: r for r in
                              read_csv(folder, "cores-servers.csv")}
        self.cores_plan = read_csv(folder, "cores-plan.csv")
        path = os.path.join(folder, "machine.txt")
        self.machine = open(path).read().rstrip() if os.path.exists(path) \
            else ""

    def one_client(self, s):
        return self.info.get(s, {}).get("one_client") == "1"

    def unavailable(self, s):
        return self.info.get(s, {}).get("check") == "unavailable"

    def cell(self, s, scenario, column):
        """One matrix value, or why there is none."""
        if self.unavailable(s):
            return "unavailable"
        r = self.results.get((s, scenario))
        if r is None:
            return ONE_CLIENT_NOTE if self.one_client(s) else "–"
        v = r.get(column) or "–"
        if r.get("status") != "ok":
            v = f"{v} ({r.get('status')})"
        return v

    def reached(self, s):
        """Highest connection count the scaling run reached without an
        error, and what stopped it."""
        rows = [r for r in self.scaling if r["server"] == s]
        if not rows:
            return None, ""
        best, why = 0, []
        for r in rows:
            n = int(r["connections"]) if r["connections"] else None
            if n is None:
                why.append(r["status"])
            elif r["status"] == "ok":
                best = max(best, n)
            else:
                why.append(f"{r['mode']} failed at {n:,}: {r['status']}")
        return best, "; ".join(dict.fromkeys(why))


# ------------------------------------------------------------ sections

def summary(run):
    head = ["model", "lines/s, 100 clients", "server CPU µs/line",
            "idle CPU, 1,000 idle clients", "syscalls/line",
            "highest connections reached"]
    rows = []
    # What each server is, as its --facts said (servers.csv; folders
    # written before it had them show the name alone).
    desc = {s: run.info[s].get("model") or "" for s in run.servers}
    for s in run.servers:
        if run.unavailable(s):
            rows.append([f"`{s}`", "unavailable: " +
                         run.info[s].get("detail", "")] + [""] * 4)
            continue
        scen = "c1-p1" if run.one_client(s) else "c100-p1"
        note = " (1 client)" if run.one_client(s) else ""
        r = run.results.get((s, scen), {})
        rate = thousands(r.get("msgs_per_s")) + note
        cpu = (r.get("cpu_us_per_line") or "–") + note
        i = run.idle.get(s, {})
        idle = f"{i['cpu_percent']} %" if i.get("cpu_percent") else "–"
        if i and not i.get("status", "").startswith("ok"):
            idle += f" ({i.get('status')})"
        elif i.get("status", "").endswith(")"):
            idle += " (" + i["status"].split("(", 1)[1]
        sc = run.syscalls.get((s, scen), {})
        calls = sc.get("syscalls_per_line") or "–"
        if num(sc.get("sqes_per_line")):
            calls = f"{sc['ops_per_line']} ({calls} syscalls + " \
                f"{sc['sqes_per_line']} SQEs)"
        calls += note
        best, why = run.reached(s)
        if best is None:
            most = "–"
        elif run.one_client(s):
            most = "1 (" + ONE_CLIENT_NOTE + ")"
        else:
            most = f"{best:,}" + (f" ({why})" if why and best < 10000 else "")
        rows.append([f"`{s}` {desc[s]}".rstrip(), rate, cpu, idle, calls,
                     most])
    return table(head, rows)


def targets(run):
    out = []
    rows = []
    ep = "echoserv-epoll"
    if "echoserv-uring" in run.servers and ep in run.servers:
        for scen in ("c100-p1", "c1000-p1", "c100-p16", "c1000-p16"):
            if (ep, scen) not in run.results:
                continue
            r = ratio(run.results.get(("echoserv-uring", scen), {})
                      .get("msgs_per_s"),
                      run.results[(ep, scen)].get("msgs_per_s"))
            must = scen.endswith("-p1")
            verdict = "n/a" if r is None else (
                "met" if r >= URING_TARGET else "**not met**")
            rows.append([f"uring / epoll lines/s, {scen}" +
                         (f" ≥ {URING_TARGET}" if must else " (shown)"),
                         "n/a" if r is None else f"{r:.3f}",
                         verdict if must else ""])
    if "echoserv" in run.servers and ep in run.servers:
        for scen in run.scenarios:
            if scen.startswith("c1000-"):
                least = 0.85
            elif scen.split("-")[0] in ("c1", "c10", "c100") and \
                    scen.split("-")[1].startswith("p"):
                least = 0.95
            else:
                continue
            r = ratio(run.results.get(("echoserv", scen), {})
                      .get("msgs_per_s"),
                      run.results.get((ep, scen), {}).get("msgs_per_s"))
            rows.append([f"echoserv / epoll lines/s, {scen} ≥ {least}",
                         "n/a" if r is None else f"{r:.3f}",
                         "n/a" if r is None else
                         ("met" if r >= least else "**not met**")])
    if rows:
        out.append("Ratios from this run (lines/s of one server over "
                   "another's, in the same run; rounded down):\n")
        out.append(table(["target", "measured", "verdict"], rows,
                         ["---", "---:", "---"]))
    return "\n".join(out)


def matrix_tables(run):
    if not run.results:
        return ""
    out = []
    head = ["scenario"] + [s for s in run.servers]
    specs = [
        ("Lines per second, best of %d round(s) (64-byte lines unless noted; "
         "'cN-pP' = N connections with P lines in flight on each; "
         "idle1000+10 = 1,000 idle connections and 10 active):"
         % run.rounds, lambda s, n: thousands(run.results[(s, n)]
                                               ["msgs_per_s"])
         if (s, n) in run.results and run.results[(s, n)]["status"] == "ok"
         else run.cell(s, n, "msgs_per_s")),
        ("Latency p50 / p99 in microseconds (write of a line's last byte to "
         "its echo's last byte):",
         lambda s, n: f"{run.results[(s, n)]['p50_us']} / "
         f"{run.results[(s, n)]['p99_us']}"
         if (s, n) in run.results and run.results[(s, n)]["p50_us"]
         else run.cell(s, n, "p50_us")),
        ("Server CPU time per echoed line in microseconds (the scheduler's "
         "run time of every thread and child process of the server, from "
         "echobench's 'connections open' to its 'closing' line, over the "
         "lines echoed in between):",
         lambda s, n: run.cell(s, n, "cpu_us_per_line")),
        ("echobench's own CPU, % of its core over the same interval (near "
         "100: the load generator is the limit, not the server):",
         lambda s, n: run.cell(s, n, "load_cpu_percent")),
        ("Peak server memory in MiB (the larger of VmHWM and the sampled "
         "sum of Pss over the server's processes):",
         lambda s, n: "%.1f" % (int(run.results[(s, n)]["peak_rss_kib"])
                                / 1024)
         if (s, n) in run.results and run.results[(s, n)]["peak_rss_kib"]
         else run.cell(s, n, "peak_rss_kib")),
    ]
    for title, fn in specs:
        out.append(title + "\n")
        out.append(table(head, [[n] + [fn(s, n) for s in run.servers]
                                for n in run.scenarios]))
        out.append("")
    return "\n".join(out)


def idle_table(run):
    if not run.idle:
        return ""
    rows = []
    for s in run.servers:
        i = run.idle.get(s)
        if i is None:
            continue
        pss = num(i.get("pss_kib"))
        rows.append([s, (i.get("cpu_percent") or "–") + " %",
                     i.get("threads") or "–", i.get("processes") or "–",
                     "–" if pss is None else "%.1f" % (pss / 1024),
                     i.get("status") or ""])
    n = next(iter(run.idle.values())).get("idle_clients", "1000")
    return (f"Server CPU with {int(n):,} idle clients and no traffic (CPU "
            "time over wall time, after the connections are open and "
            "have settled), and what the server holds for them:\n\n" +
            table(["server", "CPU", "threads", "processes", "memory MiB",
                   "status"], rows,
                  ["---", "---:", "---:", "---:", "---:", "---"]))


def syscall_table(run):
    if not run.syscalls:
        return ""
    scen = []
    for (_, n) in run.syscalls:
        if n != "baseline" and n not in scen:
            scen.append(n)
    tool = next((r["tool"] for r in run.syscalls.values() if r.get("tool")),
                "")
    rows = []
    for s in run.servers:
        row = [s]
        for n in scen:
            r = run.syscalls.get((s, n))
            if r is None:
                row.append(ONE_CLIENT_NOTE if run.one_client(s) else "–")
                continue
            v = r.get("syscalls_per_line") or "–"
            if num(r.get("sqes_per_line")):
                v += f" + {r['sqes_per_line']} SQEs = {r['ops_per_line']}"
            if r.get("status") != "ok":
                v += f" ({r.get('status')})"
            row.append(v)
        rows.append(row)
    what = ("perf stat: every system call the server's threads and child "
            "processes entered (raw_syscalls:sys_enter), and every "
            "io_uring submission queue entry the kernel took "
            "(io_uring:io_uring_submit_req)") if tool == "perf" else \
        "strace -f -c (io_uring's SQEs not counted)"
    return ("System calls per echoed line (" + what + "), over the "
            "server's whole life less a start and stop with no client, "
            "divided by the lines echoed; accepts and closes included. "
            "For io_uring a line costs its io_uring_enter calls plus "
            "the SQEs submitted through them: both are shown, and the "
            "summary counts their sum:\n\n" + table(["server"] + scen, rows))


def scaling_tables(run):
    if not run.scaling:
        return ""
    out = []
    counts = sorted({int(r["connections"]) for r in run.scaling
                     if r["connections"]})
    names = {"idle": "10 active connections and the rest idle",
             "active": "all connections active"}
    servers = [s for s in run.servers
               if any(r["server"] == s and r["connections"]
                      for r in run.scaling)]
    for mode in ("idle", "active"):
        rows = []
        for n in counts:
            row = [f"{n:,}"]
            for s in servers:
                r = next((r for r in run.scaling if r["server"] == s and
                          r["mode"] == mode and r["connections"] == str(n)),
                         None)
                if r is None:
                    row.append("")
                elif r["status"] == "ok":
                    busy = num(r.get("load_cpu_percent"))
                    mark = " †" if busy is not None and busy >= 90 else ""
                    row.append(f"{thousands(r['msgs_per_s'])} "
                               f"({r['cpu_us_per_line']} µs){mark}")
                else:
                    row.append(f"**{r['status']}**")
            rows.append(row)
        notes = ["stopped"]
        for s in servers:
            why = [r["status"] for r in run.scaling if r["server"] == s and
                   r["mode"] == mode and not r["connections"]]
            notes.append("; ".join(why))
        rows.append(notes)
        out.append(f"Scaling, {names[mode]}: lines/s (server CPU µs per "
                   "line), pipeline 1, 64-byte lines:\n")
        out.append(table(["connections"] + servers, rows))
        out.append("")
    out.append("† echobench itself used 90 % or more of its core there: the "
               "load generator, not only the server, set the pace.\n")
    for s in run.servers:
        why = {r["status"] for r in run.scaling
               if r["server"] == s and not r["connections"]}
        if s not in servers and why:
            out.append(f"`{s}`: {'; '.join(sorted(why))}.\n")
    return "\n".join(out)


def point_name(r):
    n = int(r["cores"])
    return f"{n} core{'s' if n > 1 else ''}" + \
        (", shared" if r["placement"] == "shared" else "")


def cores_points(run):
    """The track's points in the order run, as (cores, placement)."""
    seen = []
    for r in run.cores:
        key = (r["cores"], r["placement"])
        if key not in seen:
            seen.append(key)
    return seen


def how_run(r):
    """How a server used the point's cores, in a few words."""
    if r["design"] == "threaded":
        return "as it is (threads/processes)"
    if r["workers_option"] == "yes":
        return f"--workers {r['workers']}" if r["workers"] != "1" else \
            "one process (no --workers)"
    if r["workers_option"] == "ignored":
        return "1 worker only (--workers ignored)"
    return "1 worker only, no --workers"


def rate_cell(r):
    v = r.get("rate_cpu_us")
    if not v:
        return f"**{r['status']}**" if r.get("status") != "ok" else "–"
    cell = v
    if r.get("rate_cpu_us_min") != r.get("rate_cpu_us_max"):
        cell += f" ({r['rate_cpu_us_min']}–{r['rate_cpu_us_max']})"
    if r.get("rate_held") == "0":
        cell += f" ‡ {thousands(r.get('rate_echoed_min'))}/s"
    return cell


def sat_cell(r):
    v = r.get("sat_msgs_per_s")
    if not v:
        return f"**{r['status']}**" if r.get("status") != "ok" else "–"
    cell = thousands(v)
    if r.get("sat_msgs_per_s_min") != v:
        cell += f" ({thousands(r.get('sat_msgs_per_s_min'))}–)"
    busy = num(r.get("load_busy_max"))
    return cell + (" †" if busy is not None and busy >= 90 else "")


def ratio_cell(r, col):
    v = r.get(col)
    if not v:
        return "–"
    lo, hi = r.get(col + "_min"), r.get(col + "_max")
    return f"×{v}" + (f" ({lo}–{hi})" if lo != hi else "")


def cores_tables(run):
    if not run.cores:
        return ""
    out = ["## The multi-core track", ""]
    def plan(what):
        return [r["text"] for r in run.cores_plan if r["what"] == what]
    notes, where = plan("note"), plan("point")
    timing = (plan("timing") or [""])[0]
    rate = thousands(run.cores[0].get("rate"))
    conns = run.cores[0].get("connections")
    out.append(f"{conns} connections, pipeline 1, 64-byte lines; {timing}; "
               "every server started afresh for every run, at each point "
               "one after the other inside each round. Where each ran "
               "(taskset):\n")
    out += [f"- {w}" for w in where] + [""]
    if notes:
        out += ["What this machine could not run as asked:", ""]
        out += [f"- {n}" for n in notes] + [""]
    out.append("How each server was given the cores (its `--workers` "
               "found by starting it with `--workers 2` and counting its "
               "worker processes):\n")
    out.append(table(["server", "design", "--workers", "detail"],
                     [[s, r["design"], r["workers_option"], r["detail"]]
                      for s, r in run.cores_servers.items()],
                     ["---", "---", "---", "---"]))
    out.append("")
    points = cores_points(run)
    for cores, placement in points:
        if cores == "1":
            continue
        base = ("1", placement)
        if base not in points:
            continue
        rows = []
        for r in run.cores:
            if (r["cores"], r["placement"]) != (cores, placement):
                continue
            b = next((x for x in run.cores if x["server"] == r["server"] and
                      (x["cores"], x["placement"]) == base), {})
            rows.append([f"`{r['server']}`", how_run(r), rate_cell(b),
                         rate_cell(r), ratio_cell(r, "cpu_ratio"),
                         sat_cell(b), sat_cell(r),
                         ratio_cell(r, "sat_ratio"),
                         r.get("worker_split") or "–"])
        n = int(cores)
        shared = placement == "shared"
        out.append(
            f"From 1 core to {n}{', shared' if shared else ''}: server CPU "
            f"µs per line at a fixed {rate} lines/s (median of the rounds, "
            "range), saturation lines/s (best round, worst), and the ratio "
            f"{n} / 1 taken round by round (median, range)" +
            (". **Shared: echobench ran on the server's CPUs at both "
             "points, so the ratios are the whole machine's, server and "
             "load generator together, not the server's scaling**"
             if shared else "") + ":\n")
        out.append(table(
            ["server", f"at {n} cores", f"CPU µs/line, 1 core",
             f"{n} cores", "ratio", "lines/s, 1 core", f"{n} cores",
             "ratio", "worker CPU split"], rows,
            ["---", "---"] + ["---:"] * 6 + ["---"]))
        out.append("")
    rows = []
    for r in run.cores:
        rows.append([f"`{r['server']}`", point_name(r),
                     f"{r['server_cpus']} / {r['load_cpus']} "
                     f"({r['load_threads']})", how_run(r), rate_cell(r),
                     thousands(r.get("rate_echoed_min")), sat_cell(r),
                     r.get("sat_cpu_us") or "–",
                     (r.get("load_busy_max") or "–") + " %",
                     (r.get("cpu_pressure") or "–") + " %",
                     r.get("rounds_ok") or "0", r.get("status") or ""])
    out.append("Every point (CPUs: the server's / echobench's, and its "
               "threads; echobench busy: the most, over the saturation "
               "rounds, of its CPUs' time; CPU pressure: the median over "
               "the point's runs of the share of time in which some task "
               "on the machine, ours included, waited for a CPU, from "
               "/proc/pressure/cpu, a measure of how crowded it was):\n")
    out.append(table(["server", "point", "CPUs", "run as",
                      f"CPU µs/line at {rate}/s", "echoed/s (worst)",
                      "saturation lines/s", "CPU µs/line there",
                      "echobench busy", "CPU pressure", "runs ok", "status"],
                     rows,
                     ["---", "---", "---", "---"] + ["---:"] * 7 + ["---"]))
    out.append("")
    out.append(f"‡ the rate was not held in some round (under 95 % of "
               f"{rate} lines/s echoed; the worst shown): that CPU per line "
               "is at a lower rate. † echobench used 90 % or more of its "
               "CPUs in some saturation round: the load generator, not only "
               "the server, set the pace.\n")
    return "\n".join(out)


# ------------------------------------------------------------ charts

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
          "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#000000"]


def series_block(f, title, points):
    f.write(f'"{title}"\n')
    for x, y in points:
        f.write(f"{x} {y}\n")
    if not points:
        f.write("nan nan\n")
    f.write("\n\n")


def plot_cmd(first, servers, styles):
    parts = []
    for k, s in enumerate(servers):
        parts.append(f'"DATA" index {first + k} using 1:2 with linespoints '
                     f"{styles[s]} title columnhead(1)")
    return "plot " + ", \\\n     ".join(parts)


def styles_for(run):
    order = kit_order()
    st = {}
    for s in run.servers:
        k = order.index(s) if s in order else len(st)
        st[s] = (f'lc rgb "{COLORS[k % len(COLORS)]}" lw 1.6 pt {k % 13 + 1}'
                 f" dt {1 if k < 6 else 2}")
    return st


def title_line(run):
    get = dict(line.split(":", 1) for line in run.machine.splitlines()
               if ":" in line)
    return (f"loopback, {get.get('cpu', '').strip()}, "
            f"{get.get('cores', '').split(';')[0].strip()} cores; "
            f"{get.get('date', '').strip()}")


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script, text=True, check=True,
                   timeout=120)


def matrix_chart(run):
    servers = [s for s in run.servers if any(k[0] == s for k in run.results)]
    if not servers:
        return False
    data = os.path.join(run.folder, "chart.dat")
    blocks = 0
    with open(data, "w") as f:
        for col, pipe in (("msgs_per_s", "1"), ("msgs_per_s", "16"),
                          ("cpu_us_per_line", "1")):
            for s in servers:
                pts = sorted((int(r["connections"]), r[col])
                             for (srv, _), r in run.results.items()
                             if srv == s and r["pipeline"] == pipe and
                             r["size"] == "64" and r["idle"] == "0" and
                             r["status"] == "ok" and r[col])
                series_block(f, s, pts)
                blocks += 1
    n = len(servers)
    st = styles_for(run)
    script = f"""
set terminal pngcairo size 1650,560 noenhanced font ",10"
set output "{os.path.join(run.folder, 'chart.png')}"
set multiplot layout 1,3 title "every model, 64-byte lines, {title_line(run)}"
set logscale x
set xrange [0.8:1300]
set xlabel "connections"
set ylabel "lines/s"
set format y "%.1s%c"
set key top left font ",8"
set grid
set title "pipeline 1"
{plot_cmd(0, servers, st)}
set title "pipeline 16"
{plot_cmd(n, servers, st)}
set title "server CPU per echoed line, pipeline 1 (lower is better)"
set ylabel "microseconds"
set format y "%g"
set logscale y
{plot_cmd(2 * n, servers, st)}
unset multiplot
""".replace('"DATA"', f'"{data}"')
    gnuplot(script)
    return True


def scaling_chart(run):
    servers = [s for s in run.servers
               if any(r["server"] == s and r["connections"]
                      for r in run.scaling)]
    if not servers:
        return False
    data = os.path.join(run.folder, "scaling.dat")
    with open(data, "w") as f:
        for mode, col in (("idle", "msgs_per_s"), ("active", "msgs_per_s"),
                          ("idle", "cpu_us_per_line"),
                          ("active", "cpu_us_per_line")):
            for s in servers:
                pts = sorted((int(r["connections"]), r[col])
                             for r in run.scaling
                             if r["server"] == s and r["mode"] == mode and
                             r["connections"] and r["status"] == "ok" and
                             r[col])
                series_block(f, s, pts)
    n = len(servers)
    st = styles_for(run)
    script = f"""
set terminal pngcairo size 1500,1050 noenhanced font ",10"
set output "{os.path.join(run.folder, 'scaling.png')}"
set multiplot layout 2,2 title "scaling to 10,000 connections, pipeline 1, {title_line(run)}"
set logscale x
set xrange [8:12500]
set xlabel "connections"
set key outside right font ",8"
set grid
set ylabel "lines/s"
set logscale y
set format y "%.1s%c"
set title "10 active, the rest idle"
{plot_cmd(0, servers, st)}
set title "all active"
{plot_cmd(n, servers, st)}
set ylabel "server CPU per line, microseconds (lower is better)"
set format y "%g"
set title "10 active, the rest idle"
{plot_cmd(2 * n, servers, st)}
set title "all active"
{plot_cmd(3 * n, servers, st)}
unset multiplot
""".replace('"DATA"', f'"{data}"')
    gnuplot(script)
    return True


def cores_chart(run):
    points = cores_points(run)
    servers = []
    for r in run.cores:
        if r["server"] not in servers:
            servers.append(r["server"])
    if not servers or not points:
        return False
    # The chart's data go to a scratch file: the folder keeps results.md,
    # the CSV files and the chart.
    with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as f:
        data = f.name
        for col in ("sat_msgs_per_s", "rate_cpu_us"):
            f.write("server " + " ".join(
                '"%s core%s, %s"' % (c, "s" if c != "1" else "", p)
                for c, p in points) + "\n")
            for s in servers:
                vals = []
                for key in points:
                    r = next((x for x in run.cores if x["server"] == s and
                              (x["cores"], x["placement"]) == key), {})
                    vals.append(r.get(col) or "nan")
                f.write(f"{s} " + " ".join(vals) + "\n")
            f.write("\n\n")
    cols = ", ".join(
        f'"{data}" index IDX using {k + 2}:xtic(1) title columnhead({k + 2})'
        for k in range(len(points)))
    rate = thousands(run.cores[0].get("rate"))
    script = f"""
set terminal pngcairo size 1500,560 noenhanced font ",10"
set output "{os.path.join(run.folder, 'cores.png')}"
set multiplot layout 1,2 title "the multi-core track, {title_line(run)}"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -35 font ",8"
set key top left font ",8"
set grid ytics
set yrange [0:*]
set title "saturation lines/s (best round), {run.cores[0].get('connections')} connections, pipeline 1"
set format y "%.1s%c"
plot {cols.replace("IDX", "0")}
set title "server CPU µs per line at a fixed {rate} lines/s (median; lower is better)"
set format y "%g"
plot {cols.replace("IDX", "1")}
unset multiplot
"""
    try:
        gnuplot(script)
    finally:
        os.unlink(data)
    return True


# ------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(prog="bench_report.py")
    ap.add_argument("folder")
    ap.add_argument("--no-chart", action="store_true")
    a = ap.parse_args()
    run = Run(a.folder)

    charts = []
    if not a.no_chart:
        if shutil.which("gnuplot") is None:
            print("bench_report: gnuplot not found, no charts "
                  "(scripts/install-test-deps.sh installs it)",
                  file=sys.stderr)
        else:
            if run.results and matrix_chart(run):
                charts.append(("every model against connections",
                               "chart.png"))
            if run.scaling and scaling_chart(run):
                charts.append(("scaling to 10,000 connections",
                               "scaling.png"))
            if run.cores and cores_chart(run):
                charts.append(("the multi-core track", "cores.png"))

    parts = ["# echoserv benchmark", "", "```", run.machine, "```", ""]
    checks = [f"{s}: {run.info[s]['check']} ({run.info[s]['detail']})"
              for s in run.servers]
    parts += ["Protocol check (`echobench --check`):", "", "```"] + checks + \
        ["```", ""]
    if run.results or run.idle or run.scaling:
        parts += ["## Every model", "", summary(run), "",
                  "lines/s and CPU per line: the c100-p1 cell of the matrix "
                  "(100 connections, one line in flight each); idle CPU: "
                  "1,000 connections open, nothing sent; syscalls: "
                  "c100-p1 under perf; highest connections: the scaling "
                  "run's largest count served without an error.", ""]
    for section in (targets(run), matrix_tables(run), idle_table(run),
                    syscall_table(run), scaling_tables(run),
                    cores_tables(run)):
        if section:
            parts += [section, ""]
    for title, png in charts:
        parts += [f"![{title}]({png})", ""]
    with open(os.path.join(a.folder, "results.md"), "w") as f:
        f.write("\n".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
