#!/usr/bin/env python3
"""test_live.py SERVER - scripts/trace-view --live against a real server,
with the page open in headless Chromium.

Part 1: SERVER runs with -T; its stderr passes through this test (which
keeps a copy, to know what the page must show) into trace-view --live.  A
client connects, sends a line, floods a burst of rounds and says quit; the
open page must follow each step (its DOM changes without a reload), catch
up with the newest round, survive a reload, and say so when the server is
stopped by its PID (end of input), while trace-view goes on serving.

Part 2: a synthetic trace of 10,000 rounds written into trace-view as fast
as it reads: the page must keep up by skipping, say how many rounds it
skipped, and end on the trace's last round with the right table.

Part 3: read from a FIFO, a second writer after the first one's end starts
the open page over with the new run.

First, without a browser: Ctrl-C reaching the whole pipeline `echoserv -T
| trace-view --live` (one process group) stops echoserv gracefully while
the view stays, serving; a second Ctrl-C ends the view, exit 0.
"""

import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import big_trace  # noqa: E402
from browser import Browser, BrowserError, cannot_have  # noqa: E402

VIEWER = os.path.join(ROOT, "scripts", "trace-view")
WAIT_S = 10
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL: trace-view live: " + what, file=sys.stderr)
    return ok


def start_viewer(stdin):
    proc = subprocess.Popen([sys.executable, VIEWER, "--live", "--port", "0"],
                            stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    r, _, _ = select.select([proc.stdout], [], [], WAIT_S)
    line = proc.stdout.readline().decode() if r else ""
    m = re.search(r"live view at (http://127\.0\.0\.1:\d+/)", line)
    if not m:
        proc.kill()
        raise BrowserError("trace-view --live said %r on its first line"
                           % line)
    return proc, m.group(1)


def stop(proc, what):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(WAIT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(WAIT_S)
        check(False, what + " ignored SIGTERM")
        return None


VIEW = """
const v = document.getElementById("view");
const rows = {};
for (const tr of document.querySelectorAll("#conns tr[data-fd]"))
  rows[tr.dataset.fd] = [tr.dataset.kind, tr.dataset.state,
    tr.querySelector(".peer").textContent,
    tr.querySelectorAll("td.num")[0].textContent];
return {live: v.dataset.live, round: Number(v.dataset.round),
        rounds: Number(v.dataset.rounds), skipped: Number(v.dataset.skipped || 0),
        rows: rows, status: document.getElementById("status").textContent,
        banner: document.getElementById("banner").textContent,
        events: Array.from(document.querySelectorAll("#events li .text"),
                           (e) => e.textContent)};
"""


def view(b):
    return b.js(VIEW)


def wait_view(b, what, pred, timeout=WAIT_S):
    end = time.monotonic() + timeout
    while True:
        v = view(b)
        if pred(v):
            return v
        if time.monotonic() > end:
            raise BrowserError("timed out waiting for the page to show %s "
                               "(it shows round %d of %d, %s, rows %s)" %
                               (what, v["round"], v["rounds"], v["live"],
                                v["rows"]))
        time.sleep(0.05)


def clients(v, state=None):
    return {fd: r for fd, r in v["rows"].items()
            if r[0] == "client" and (state is None or r[1] == state)}


class Forwarder(threading.Thread):
    """Copies the server's stderr into the viewer, keeping the lines."""

    def __init__(self, src, dst):
        super().__init__(daemon=True)
        self.src, self.dst, self.lines = src, dst, []
        self.lock = threading.Lock()

    def run(self):
        for raw in self.src:
            with self.lock:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
            self.dst.write(raw)
            self.dst.flush()
        self.dst.close()

    def rounds(self):
        with self.lock:
            return sum(l.startswith("select: waiting") for l in self.lines)

    def text(self):
        with self.lock:
            return "\n".join(self.lines)


def part_real_server(b, server):
    srv = subprocess.Popen([server, "-T", "-b", "127.0.0.1", "0"],
                           stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    viewer = None
    try:
        r, w = os.pipe()
        viewer, url = start_viewer(r)
        os.close(r)
        fwd = Forwarder(srv.stderr, os.fdopen(w, "wb"))
        fwd.start()
        b.open(url)
        v = wait_view(b, "the listening socket", lambda v: v["live"] == "live"
                      and any(r[0] == "listener" for r in v["rows"].values()))
        addr = next(r[2] for r in v["rows"].values() if r[0] == "listener")
        port = int(addr.rsplit(":", 1)[1])
        first = v["round"]

        c = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)
        v = wait_view(b, "the new client", lambda v: clients(v, "READING"))
        fd = next(iter(clients(v)))
        check(v["round"] > first, "the page stayed on round %d after the "
              "accept" % first)
        c.sendall(b"hello live\n")
        check(c.recv(100) == b"hello live\n", "no echo")
        wait_view(b, "11 bytes read from fd " + fd, lambda v:
                  clients(v).get(fd, [0, 0, 0, ""])[3] == "11")

        # A burst: a line per write, each its own round of the loop.
        n_lines = 2000
        for i in range(n_lines):
            c.sendall(b"burst %d\n" % i)
            if i % 50 == 49:
                time.sleep(0.005)
        got = b""
        while got.count(b"\n") < n_lines:
            got += c.recv(65536)
        want = fwd.rounds
        v = wait_view(b, "the newest round after the burst", lambda v:
                      v["round"] == v["rounds"] == want(), timeout=WAIT_S)
        check(v["rounds"] > first + 10, "the burst made only %d rounds"
              % v["rounds"])
        burst = (v["rounds"], v["skipped"])

        # A reload is a new page: a snapshot and the recent rounds.
        b.open(url)
        v = wait_view(b, "the page after a reload", lambda v:
                      v["live"] == "live" and v["round"] == want())
        total = sum(len(l) for l in
                    [b"hello live\n"] + [b"burst %d\n" % i
                                         for i in range(n_lines)])
        check(clients(v).get(fd, [0, 0, 0, ""])[3] == str(total),
              "after the reload fd %s shows %s bytes read, want %d"
              % (fd, clients(v).get(fd), total))

        c.sendall(b"quit\n")
        check(c.recv(100) == b"", "no close after quit")
        c.close()
        wait_view(b, "the client gone", lambda v: not clients(v))

        # The server stops: the page says so, and the viewer still serves.
        check(stop(srv, "echoserv") == 0, "echoserv did not exit 0")
        v = wait_view(b, "the end of the trace", lambda v: v["live"] == "ended")
        check("server stopped" in v["status"] and "ended" in v["banner"],
              "the end is not said: %r / %r" % (v["status"], v["banner"]))
        check(any("shutdown: served 1 client" in e for e in v["events"]),
              "the last round does not show the shutdown summary")
        fwd.join(WAIT_S)
        check(v["rounds"] == fwd.rounds(), "the page ends on round %d, the "
              "trace has %d" % (v["rounds"], fwd.rounds()))
        with urllib.request.build_opener(urllib.request.ProxyHandler({})) \
                .open(url, timeout=WAIT_S) as r:
            check(r.status == 200 and b"trace-meta" in r.read(),
                  "the page is not served after the end of the trace")
        check(viewer.poll() is None, "trace-view exited at end of input")
        check(stop(viewer, "trace-view") == 0, "trace-view did not exit 0 "
              "on SIGTERM")
        wait_view(b, "the page to notice", lambda v: v["live"] ==
                  "disconnected")
        return burst
    finally:
        stop(srv, "echoserv")
        if viewer is not None:
            stop(viewer, "trace-view")


def part_skipping(b, rounds):
    viewer, url = start_viewer(subprocess.PIPE)
    try:
        lines = [l + "\n" for l in big_trace.rounds(rounds)]
        starts = [i for i, l in enumerate(lines)
                  if l.startswith("select: waiting")]
        cut = starts[200]   # rounds 0..200 first; 200 is complete then
        viewer.stdin.write("".join(lines[:cut]).encode())
        viewer.stdin.flush()
        b.open(url)
        wait_view(b, "round 199", lambda v: v["rounds"] >= 199)
        t0 = time.monotonic()
        viewer.stdin.write("".join(lines[cut:]).encode())
        viewer.stdin.close()
        v = wait_view(b, "the end", lambda v: v["live"] == "ended" and
                      v["round"] == v["rounds"] == rounds, timeout=30)
        took = time.monotonic() - t0
        check(v["skipped"] > 0 and "skipped %d rounds" % v["skipped"] in
              v["status"], "no skip reported: %r (%d)" % (v["status"],
                                                         v["skipped"]))
        want = {"3": "LISTENING", "4": "SIGNAL_PIPE", "7": "CLOSED",
                "8": "CLOSED", "9": "CLOSED", "10": "CLOSED"}
        check({fd: r[1] for fd, r in v["rows"].items()} == want,
              "the last round's table: %s" % v["rows"])
        return v["skipped"], took
    finally:
        stop(viewer, "trace-view")


def part_fifo(b, workdir):
    """From a FIFO, a second writer after the first one's end is a new run:
    the open page starts over with it."""
    fifo = os.path.join(workdir, "trace.fifo")
    if os.path.exists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo)
    viewer = subprocess.Popen([sys.executable, VIEWER, "--live", "--port",
                               "0", fifo], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        r, _, _ = select.select([viewer.stdout], [], [], WAIT_S)
        line = viewer.stdout.readline().decode() if r else ""
        m = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
        if not check(m is not None, "no URL on the first line: %r" % line):
            return
        for run, rounds in ((1, 50), (2, 80)):
            with open(fifo, "w") as f:   # blocks until the viewer reads
                for l in big_trace.rounds(rounds):
                    f.write(l + "\n")
            if run == 1:
                b.open(m.group(1))
            v = wait_view(b, "run %d ended" % run, lambda v: v["live"] ==
                          "ended" and v["round"] == v["rounds"] == rounds)
            check(v["skipped"] == 0, "run %d: %d rounds skipped" %
                  (run, v["skipped"]))
    finally:
        stop(viewer, "trace-view")
        os.unlink(fifo)


def part_ctrl_c(server):
    """Ctrl-C reaches the whole pipeline `echoserv -T | trace-view --live`:
    echoserv shuts down gracefully, the view stays for the rest of the trace
    and after it; a second Ctrl-C ends the view."""
    # The two in one process group, as a shell puts a pipeline.
    srv = subprocess.Popen([server, "-T", "-b", "127.0.0.1", "0"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, process_group=0)
    pipeline = subprocess.Popen(
        [sys.executable, VIEWER, "--live", "--port", "0"], stdin=srv.stderr,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        process_group=srv.pid,
        bufsize=0)  # unbuffered: select() then sees every line
    srv.stderr.close()
    group = srv.pid
    out = []

    def said(pattern):
        end = time.monotonic() + WAIT_S
        while time.monotonic() < end:
            r, _, _ = select.select([pipeline.stdout], [], [], 0.2)
            if r:
                line = pipeline.stdout.readline().decode()
                if not line:
                    break
                out.append(line)
                m = re.search(pattern, line)
                if m:
                    return m
        raise BrowserError("trace-view did not say /%s/ (it said %r)"
                           % (pattern, out))

    try:
        url = said(r"live view at (http://\S+/)").group(1)
        time.sleep(0.3)  # the server is in select()
        os.killpg(group, signal.SIGINT)
        said(r"Ctrl-C again quits now")
        said(r"end of the trace after \d+ rounds; still serving")
        with urllib.request.build_opener(urllib.request.ProxyHandler({})) \
                .open(url, timeout=WAIT_S) as r:
            check(r.status == 200, "the page is not served after Ctrl-C")
        check(srv.wait(WAIT_S) == 0, "echoserv did not exit 0 on Ctrl-C")
        pipeline.send_signal(signal.SIGINT)  # the group is the view alone
        said(r"stopped after \d+ rounds")
        check(pipeline.wait(WAIT_S) == 0, "the view did not exit 0 on the "
              "second Ctrl-C")
    finally:
        for proc in (srv, pipeline):
            if proc.poll() is None:
                proc.kill()
                proc.wait(WAIT_S)


def main(argv):
    if len(argv) != 2:
        print("usage: test_live.py SERVER", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    try:
        part_ctrl_c(argv[1])
        print("trace-view live: Ctrl-C stops the server, the view stays "
              "until a second one")
    except (BrowserError, OSError) as e:
        check(False, str(e))
    why = cannot_have()
    if why is not None:
        print("trace-view live: skipped: %s" % why)
        return 0
    try:
        b = Browser()
    except BrowserError as e:
        print("FAIL: trace-view live: %s" % e, file=sys.stderr)
        return 1
    try:
        rounds, skipped = part_real_server(b, argv[1])
        print("trace-view live: real server: %d rounds followed (%d skipped "
              "during the burst), reload, end of input" % (rounds, skipped))
        skipped, took = part_skipping(b, 10000)
        print("trace-view live: 10000 rounds in %.1f s, %d skipped to keep up"
              % (took, skipped))
        with tempfile.TemporaryDirectory() as tmp:
            part_fifo(b, tmp)
        print("trace-view live: a FIFO's second writer starts the page over")
    except (BrowserError, OSError) as e:
        check(False, str(e))
    finally:
        b.close()
    print("trace-view live: %.1f s" % (time.monotonic() - t0))
    if failures:
        print("trace-view live: %d check(s) failed" % len(failures),
              file=sys.stderr)
        return 1
    print("ok: the live page follows the server")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
