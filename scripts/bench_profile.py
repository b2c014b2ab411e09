#!/usr/bin/env python3
"""bench_profile.py - where a server's CPU time goes, by kernel subsystem.

usage: scripts/bench_profile.py [--connections N] [--seconds S] --out DIR
                                SERVER...

For each server: start it (pinned to CPU 0, as the benchmark does) under
`perf record -e cpu-clock -g` (a software clock, so it works in virtual
machines without hardware counters), put a pipeline-1 load of N
connections on it with echobench (CPU 1) for S seconds, and write
DIR/SERVER-cN.txt: the load's result, the share of samples per subsystem
(TCP/IP, io_uring, epoll, system call entry, scheduler, user space...) and
the 40 hottest symbols.  The server's and echobench's logs and perf's data
go to build/bench/logs/profile/, not to DIR.  Needs perf; run
scripts/bench.sh first (it builds).
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_run  # noqa: E402  (the same server and load handling)

# First match wins; patterns are matched against kernel symbol names.
SUBSYSTEMS = [
    ("io_uring", r"(__)?io_"),
    ("epoll, poll, select", r"(__)?ep_|do_epoll|sock_poll|tcp_poll|"
     r"__pollwait|do_select|do_sys_poll|core_sys_select|poll_"),
    ("system call entry and exit, fd lookup",
     r"do_syscall_64|entry_SYSCALL|syscall_|x64_sys_call|__x64_sys|"
     r"(__)?fdget|(__)?fget|(__)?fput|exit_to_user|(__)?rseq"),
    ("scheduler, wake-ups, interrupts re-enabled",
     r"(__)?schedule|finish_task_switch|_raw_spin_unlock_irq|"
     r"try_to_wake_up|(__)?wake_up|pick_next|dequeue_|enqueue_|update_curr|"
     r"ttwu|psi_|__switch_to|switch_mm|sched_|autoremove_wake|"
     r"default_wake|put_prev|set_next|select_task"),
    ("read/write and socket layers",
     r"vfs_|ksys_|rw_verify|new_sync|sock_read|sock_write|sock_recvmsg|"
     r"sock_sendmsg|__sys_|import_|iov_"),
    ("TCP/IP, skb, memory (on loopback both ends' TCP)",
     r"(__)?tcp|(__)?ip_|ipv4|(__)?inet|(__)?skb|(__)?kfree|(__)?dev_|"
     r"(__)?net|loopback|bbr_|(__)?sk_|(__)?sock|release_sock|lock_sock|"
     r"__alloc_skb|eth_|(__)?napi|process_backlog|validate_xmit|dst_|"
     r"consume_skb|__local_bh|(__)?do_softirq|handle_softirqs|"
     r"kmalloc|(__)?kmem|(__)?slab|___slab|mod_objcg|__mod|obj_cgroup|"
     r"refill_obj|memcg|mem_cgroup|page_counter|__check_object|"
     r"check_heap|__virt_addr|_copy_|copy_|simple_copy|__list|rb_|"
     r"read_tsc|ktime|security_|apparmor|bpf_"),
]
USER = "user space (server, libc, liburing)"


def categorise(report):
    """{subsystem: percent} from `perf report --sort dso,sym` lines."""
    shares = {}
    for line in report.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(\S+)", line)
        if not m:
            continue
        pct, kind, sym = float(m.group(1)), m.group(3), m.group(4)
        if kind != "k":
            name = USER
        else:
            name = next((n for n, rx in SUBSYSTEMS if re.match(rx, sym)),
                        "other kernel")
        shares[name] = shares.get(name, 0.0) + pct
    return shares


LOGS = os.path.join(bench_run.BUILD, "bench", "logs", "profile")


def profile(name, conns, seconds, out):
    base = os.path.join(LOGS, f"{name}-c{conns}")
    data = base + ".data"
    srv = bench_run.Server(name, base + ".err", wrapper=[
        "perf", "record", "-q", "-e", "cpu-clock", "-F", "4000", "-g",
        "-o", data, "--"])
    if srv.port is None:
        srv.stop()
        return f"{name}: did not start"
    load = bench_run.Load(srv.port, ["-c", conns, "-w", 0.5, "-d", seconds,
                                     "-q"], base + ".bench",
                          bench_run.load_timeout(10, 0.5, seconds))
    load.wait()
    for pid in bench_run.children(srv.proc.pid):
        os.kill(pid, signal.SIGTERM)
    try:
        srv.proc.wait(timeout=10)  # perf writes its data once it exits
    except subprocess.TimeoutExpired:
        pass
    srv.stop()
    report = subprocess.run(
        ["perf", "report", "-i", data, "--no-children", "--sort", "dso,sym",
         "-q", "--stdio", "-g", "none"], capture_output=True, text=True,
        timeout=300).stdout
    os.unlink(data)
    shares = categorise(report)
    lines = [f"{name}, {conns} connections, pipeline 1, {seconds} s "
             f"(perf record -e cpu-clock -g, server on CPU 0)",
             "echobench: " + " ".join(f"{k}={load.result.get(k, '')}"
                                      for k in ("msgs_per_s", "p50_us",
                                                "p99_us", "errors")),
             "", "share of the server's samples:"]
    lines += [f"  {v:5.1f} %  {k}" for k, v in
              sorted(shares.items(), key=lambda kv: -kv[1])]
    lines += ["", "hottest symbols:"]
    lines += [l.rstrip() for l in report.splitlines() if "%" in l][:40]
    with open(os.path.join(out, f"{name}-c{conns}.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    os.unlink(base + ".bench")
    return "\n".join(lines[:12])


def main():
    ap = argparse.ArgumentParser(prog="bench_profile.py")
    ap.add_argument("servers", nargs="+")
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    os.makedirs(LOGS, exist_ok=True)
    bench_run.PIN = (os.cpu_count() or 1) >= 2
    if subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-o",
                       "/dev/null", "true"], capture_output=True).returncode:
        sys.exit("bench_profile: perf record does not work here")
    try:
        for name in a.servers:
            print(profile(name, a.connections, a.seconds, a.out), flush=True)
            print(flush=True)
            time.sleep(0.2)
    finally:
        bench_run.PROCS.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
