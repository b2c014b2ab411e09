#!/usr/bin/env python3
"""test_cores.py - the multi-core track (scripts/bench.sh --cores N,
scripts/bench_cores.py).

  plan        which points run for --cores N on M CPUs: 1 core and N with
              echobench on the CPUs left; a point that leaves echobench
              none is not run (the most that fit instead, and a note),
              unless --share, which adds 1 core and N both shared; never
              a ratio between a shared point and a separate one
  workers     --workers found by what a server does, not by what its
              --help says: real echoserv starts two worker processes with
              --workers 2; a fake that lists --workers and ignores it, and
              one that does not list it, are run as single event loops;
              a fake that forks on --workers 2 is given --workers; the
              thread- and process-per-client servers are run as they are
  smoke       scripts/bench.sh --cores 2 --smoke end to end: exit 0;
              echoserv given --workers 2 at the 2-core point, with two
              workers sharing the CPU time; echoserv-threads given nothing;
              every run pinned where the plan says (read back from
              /proc/PID/status); the CSV files and results.md written

Real binaries on 127.0.0.1, port 0, every wait bounded.

usage: tests/bench/test_cores.py [BUILD_DIR] [TEST_NAME_PATTERN]
"""
import csv
import fnmatch
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# No __pycache__ left in scripts/.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import bench_cores as bc  # noqa: E402
import bench_run as br  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
PATTERN = sys.argv[2] if len(sys.argv) > 2 else "*"


def expect(cond, message):
    if not cond:
        raise AssertionError(message)


def points(cores, cpus, share):
    pts, notes = bc.plan(cores, cpus, share)
    return [(p.cores, p.server_cpus, p.load_cpus, p.shared) for p in pts], \
        " / ".join(notes), pts


def test_plan():
    # Room for the load generator: 1 core and N, echobench on the rest.
    got, notes, pts = points(4, list(range(8)), False)
    expect(got == [(1, "0", "1,2,3,4,5,6,7", False),
                   (4, "0,1,2,3", "4,5,6,7", False)], got)
    expect(notes == "", notes)
    expect(bc.base_of(pts[1], pts) is pts[0], "4 cores not compared with 1")
    # This machine: 2 CPUs, --cores 2: not run, and said so.
    got, notes, pts = points(2, [0, 1], False)
    expect(got == [(1, "0", "1", False)], got)
    expect("2 cores: not run" in notes and "--share" in notes, notes)
    expect(not any(bc.base_of(p, pts) for p in pts), "a ratio from nothing")
    # --share: 1 core and 2 both shared, compared with each other only.
    got, notes, pts = points(2, [0, 1], True)
    expect(got == [(1, "0", "1", False), (1, "0", "0", True),
                   (2, "0,1", "0,1", True)], got)
    expect("shared" in notes and "not the server's scaling" in notes, notes)
    expect(bc.base_of(pts[2], pts) is pts[1], "shared 2 against separate 1")
    # More asked than there are; the most that fit instead.
    got, notes, _ = points(16, list(range(8)), False)
    expect(got == [(1, "0", "1,2,3,4,5,6,7", False),
                   (7, "0,1,2,3,4,5,6", "7", False)], got)
    expect("this machine has 8 CPUs" in notes and "7 cores run" in notes,
           notes)
    # One CPU: nothing fits without --share.
    got, notes, _ = points(2, [0], False)
    expect(got == [], got)
    # CPUs this process may use need not start at 0.
    got, _, _ = points(2, [2, 3, 5], False)
    expect(got == [(1, "2", "3,5", False), (2, "2,3", "5", False)], got)


FAKE = r'''#!/usr/bin/env python3
# A stand-in server for test_cores.py: %(what)s.
import os, signal, socket, sys, time
if "--help" in sys.argv:
    print("usage: fake [options] <port>")
    print(%(help)r)
    sys.exit(0)
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
n = int(sys.argv[sys.argv.index("--workers") + 1]) \
    if "--workers" in sys.argv and %(forks)r else 1
kids = []
for _ in range(n if n > 1 else 0):
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
        time.sleep(30)
        os._exit(0)
    kids.append(pid)
def bye(*_):
    for k in kids:
        os.kill(k, signal.SIGTERM)
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
sys.stderr.write("echoserv: listening on 127.0.0.1:%%d\n" %% s.getsockname()[1])
sys.stderr.flush()
time.sleep(30)
'''


def test_workers():
    tmp = tempfile.mkdtemp(prefix="test-cores-")
    saved = br.BUILD
    try:
        fakes = {
            "fake-ignores": ("lists --workers and ignores it",
                             "      --workers N   N worker processes", False),
            "fake-none": ("has no --workers", "  -q, --quiet   quiet", False),
            "fake-forks": ("forks N workers on --workers N",
                           "      --workers N   N worker processes", True),
        }
        for name, (what, text, forks) in fakes.items():
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write(FAKE % dict(what=what, help=text, forks=forks))
            os.chmod(path, 0o755)
        for name in ("echoserv", "echoserv-threads", "echoserv-fork"):
            os.symlink(os.path.abspath(os.path.join(BUILD, name)),
                       os.path.join(tmp, name))
        br.BUILD = tmp
        want = {"echoserv": ("event loop", "yes"),
                "fake-forks": ("event loop", "yes"),
                "fake-ignores": ("event loop", "ignored"),
                "fake-none": ("event loop", "no"),
                "echoserv-threads": ("threaded", "not used"),
                "echoserv-fork": ("threaded", "not used")}
        for name, (design, how) in want.items():
            got = bc.workers_support(name, tmp)
            expect(got[:2] == (design, how), f"{name}: {got}")
    finally:
        br.BUILD = saved
        br.PROCS.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_smoke():
    out = os.path.join(BUILD, "tests", "bench-cores-smoke")
    shutil.rmtree(out, ignore_errors=True)
    run = subprocess.run(
        [os.path.join(ROOT, "scripts", "bench.sh"), "--cores", "2",
         "--smoke", "--no-build", "--no-chart", "--out", out],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    text = run.stdout + run.stderr
    expect(run.returncode == 0, f"bench.sh exit {run.returncode}:\n{text}")
    cpus = sorted(os.sched_getaffinity(0))
    planned, _, _ = points(2, cpus, True)
    rows = read(os.path.join(out, "cores.csv"))
    runs = read(os.path.join(out, "cores-runs.csv"))
    got = sorted({(int(r["cores"]), r["server_cpus"], r["load_cpus"],
                   r["placement"] == "shared") for r in rows})
    expect(got == sorted(planned), f"points {got}, planned {planned}")
    for r in runs:
        expect(r["server_affinity"] == r["server_cpus"] and
               r["load_affinity"] == r["load_cpus"],
               f"run pinned to {r['server_affinity']} / "
               f"{r['load_affinity']}, planned {r['server_cpus']} / "
               f"{r['load_cpus']}")
    two = [r for r in runs if r["cores"] == "2"]
    expect(two or len(cpus) < 2, "no 2-core run on a machine of 2 CPUs")
    for r in two:
        if r["server"] == "echoserv":
            expect(r["workers"] == "2" and r["worker_processes"] == "2",
                   f"echoserv at 2 cores: {r}")
            split = r["worker_split"].split("/")
            expect(len(split) == 2 and all(int(x) > 0 for x in split),
                   f"worker CPU split {r['worker_split']!r}")
        elif r["server"] == "echoserv-threads":
            expect(r["workers"] == "1" and not r["worker_processes"],
                   f"echoserv-threads given workers: {r}")
    for r in runs:
        expect(r["status"] in ("ok", "no line echoed in the window"),
               f"{r['server']} {r['kind']} {r['cores']}: {r['status']}")
    with open(os.path.join(out, "results.md")) as f:
        md = f.read()
    expect("## The multi-core track" in md, "results.md: no track section")
    if len(cpus) >= 2:
        expect("From 1 core to 2" in md, "results.md: no 1 -> 2 table")


def main():
    tests = [(n, f) for n, f in sorted(globals().items())
             if n.startswith("test_") and fnmatch.fnmatch(n[5:], PATTERN)]
    failed = 0
    for name, fn in tests:
        t0 = time.monotonic()
        try:
            fn()
            print(f"ok    {name[5:]} ({time.monotonic() - t0:.1f} s)")
        except Exception as e:  # one test's failure must not stop the rest
            failed += 1
            print(f"FAIL  {name[5:]}: {e}")
    print(f"test_cores: {len(tests) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
