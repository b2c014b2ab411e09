#!/usr/bin/env python3
"""test_units.py [BUILD] - unit tests of echocheck's logic, without a
server (python3 -m unittest style; run from anywhere):

  verdict    compare() and Diff: each kind of difference, line-end
             tolerance only where allowed, show()'s escaping and cutting
  wire       the wire log keeps its head, tail and notes, and counts the
             rest
  common     payloads (widths, no quit), judge()'s verdicts and hints
  procfs     a fake /proc tree read as a Sample, and each model named
  registry   ids stable in form, unique, at least 30, profiles as listed
  cli        the parser's accepted and refused command lines
  reports    the JUnit tree and the HTML page of a made-up run
  target     the port picked is free and outside the ephemeral range
"""

import os
import re
import shutil
import socket
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
sys.path.insert(0, HERE)

from echocheck_lib import cli, procfs, registry, target, verdict  # noqa
from echocheck_lib import report_html, report_json, wire  # noqa
from echocheck_lib.cases import common  # noqa
from echocheck_lib.verdict import FAIL, NON_STRICT, PASS  # noqa
import expectations  # noqa


class Compare(unittest.TestCase):
    def kind(self, want, got):
        return verdict.Diff(want, got).kind

    def test_equal_passes(self):
        self.assertEqual(verdict.compare(b"a\n", b"a\n", True)[0], PASS)

    def test_crlf_rewrite_is_non_strict_only_when_tolerant(self):
        self.assertEqual(verdict.compare(b"a\nb\n", b"a\r\nb\r\n", True)[0],
                         NON_STRICT)
        self.assertEqual(verdict.compare(b"a\nb\n", b"a\r\nb\r\n", False)[0],
                         FAIL)
        # A CR LF line rewritten again (CR CR LF), and CR LF made LF.
        self.assertEqual(self.kind(b"t\r\n", b"t\r\r\n"), "line-ends")
        self.assertEqual(self.kind(b"t\r\n", b"t\n"), "line-ends")

    def test_kinds(self):
        want = common.numbered(b"k", 10, width=30)
        self.assertEqual(self.kind(want, want[:100]), "short")
        self.assertEqual(self.kind(want, want[:50] + want[150:]), "hole")
        self.assertEqual(self.kind(want, want + b"x"), "extra")
        self.assertEqual(self.kind(want, want[:10] + b"?" + want[11:]),
                         "changed")
        self.assertEqual(self.kind(b"ab\0cd\n", b"ab"), "at-nul")
        d = verdict.Diff(want, want[:50] + want[150:])
        self.assertEqual(d.offset, 50)
        self.assertIn("100 bytes missing from byte 50", d.text)

    def test_show(self):
        self.assertEqual(verdict.show(b'a\n\r\t\0"\\\xff'),
                         '"a\\n\\r\\t\\0\\"\\\\\\xff"')
        self.assertEqual(verdict.show(b"x" * 100, 4), '"xxxx"... (100 bytes)')


class WireLog(unittest.TestCase):
    def test_short_log_kept_whole(self):
        w = wire.Wire()
        for i in range(10):
            w.add("c1", "send", str(i))
        self.assertEqual([e["text"] for e in w.entries()],
                         [str(i) for i in range(10)])

    def test_long_log_cut_notes_kept(self):
        w = wire.Wire()
        for i in range(500):
            w.add("c1", "recv", "r%d" % i)
            if i == 250:
                w.note("half way")
        texts = [e["text"] for e in w.entries()]
        self.assertEqual(texts[:wire.HEAD], ["r%d" % i
                                             for i in range(wire.HEAD)])
        self.assertEqual(texts[-wire.TAIL:], ["r%d" % i for i in
                                              range(500 - wire.TAIL, 500)])
        self.assertIn("half way", texts)
        gaps = [e for e in w.entries() if e["dir"] == "gap"]
        left = sum(int(re.search(r"(\d+)", g["text"]).group(1)) for g in gaps)
        self.assertEqual(left, 500 - wire.HEAD - wire.TAIL)


class FakeCtx:
    raw = False
    timeout = 5

    def compare(self, want, got):
        return verdict.compare(want, got, tolerant=not self.raw)


class Common(unittest.TestCase):
    def test_numbered(self):
        data = common.numbered(b"t", 1000, width=64)
        lines = data.split(b"\n")[:-1]
        self.assertEqual(len(lines), 1000)
        self.assertTrue(all(len(l) == 63 for l in lines))
        self.assertTrue(lines[999].startswith(b"t 000999 "))
        self.assertNotIn(b"quit", data)

    def test_judge(self):
        ctx = FakeCtx()
        r = common.judge(ctx, b"abc\n", wire.Reply(b"", "timeout", 5), "it")
        self.assertEqual((r.verdict, r.hint), (FAIL, common.NOTHING_HINT))
        r = common.judge(ctx, b"abc\n", wire.Reply(b"", "reset", 0), "it")
        self.assertEqual(r.hint, common.RESET_HINT)
        r = common.judge(ctx, b"abc\n", b"abc\r\n", "it")
        self.assertEqual(r.verdict, NON_STRICT)
        r = common.judge(ctx, b"ab\0c\n", b"ab", "it")
        self.assertEqual(r.hint, common.NUL_HINT)
        ctx.raw = True
        self.assertEqual(common.judge(ctx, b"abc\n", b"abc\r\n", "it")
                         .verdict, FAIL)


class FakeProc:
    """A /proc tree in a folder: one server process and what it holds."""

    def __init__(self, pid=100, port=7777):
        self.root = tempfile.mkdtemp(prefix="echocheck-proc-")
        self.pid, self.port = pid, port
        self.inode = 5000
        self.tcp = ["  sl  local_address rem_address   st ..."]
        self.fds = 3
        os.makedirs(self.p("net"))
        self.thread(pid, "270", "poll_schedule_timeout")
        self.stat(pid, 1)
        self.sock("0A", 0, flags=0o4002)  # the listening socket

    def p(self, *parts, pid=None):
        return os.path.join(self.root, str(pid or self.pid), *parts)

    def write(self, path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def stat(self, pid, ppid):
        self.write(self.p("stat", pid=pid),
                   "%d (srv (x)) S %d 1 1 0 -1\n" % (pid, ppid))

    def thread(self, tid, syscall, wchan):
        self.write(self.p("task", str(tid), "syscall"), syscall + " 0x3\n")
        self.write(self.p("task", str(tid), "wchan"), wchan)

    def sock(self, state, remote, flags=0o2, pid=None):
        self.inode += 1
        line = "   0: 0100007F:%04X 0100007F:%04X %s 0:0 00:0 0 0 0 %d 1" % (
            self.port, remote, state, self.inode)
        self.tcp.append(line)
        self.write(self.p("net", "tcp"), "\n".join(self.tcp) + "\n")
        if pid and pid != self.pid:  # a child sees the same sockets
            self.write(self.p("net", "tcp", pid=pid),
                       "\n".join(self.tcp) + "\n")
        self.link("socket:[%d]" % self.inode, flags, pid)

    def link(self, target_, flags, pid=None):
        self.fds += 1
        os.makedirs(self.p("fd", pid=pid), exist_ok=True)
        os.symlink(target_, self.p("fd", str(self.fds), pid=pid))
        self.write(self.p("fdinfo", str(self.fds), pid=pid),
                   "pos:\t0\nflags:\t%o\nmnt_id:\t9\n" % flags)

    def clients(self, n, flags):
        for i in range(n):
            self.sock("01", 40000 + i, flags)

    def sample(self):
        return procfs.Sample(self.pid, self.port, proc=self.root,
                             machine="x86_64")

    def close(self):
        shutil.rmtree(self.root)


class Procfs(unittest.TestCase):
    def setUp(self):
        self.fake = FakeProc()
        self.idle = self.fake.sample()

    def tearDown(self):
        self.fake.close()

    def name(self):
        return procfs.name_model(self.idle, self.fake.sample(), 8)

    def test_sample(self):
        s = self.idle
        self.assertEqual(len(s.threads), 1)
        self.assertEqual(s.threads[0]["syscall"], "pselect6")
        self.assertEqual([fd["role"] for fd in s.fds], ["listening"])
        self.assertIn("nonblocking", procfs.describe(s)["listening"])

    def test_select_loop(self):
        self.fake.clients(8, 0o4002)
        model, how, _ = self.name()
        self.assertEqual((model, how), ("event-loop", "select"))
        self.assertEqual(procfs.describe(self.fake.sample())[
            "client sockets"], "8 (8 nonblocking)")

    def test_epoll_loop(self):
        self.fake.thread(self.fake.pid, "232", "do_epoll_wait")
        self.fake.link("anon_inode:[eventpoll]", 0o2000002)
        self.fake.clients(8, 0o4002)
        self.assertEqual(self.name()[:2], ("event-loop", "epoll"))

    def test_io_uring(self):
        self.fake.thread(self.fake.pid, "426", "io_cqring_wait")
        self.fake.link("anon_inode:[io_uring]", 0o2000002)
        self.fake.clients(8, 0o2)
        self.assertEqual(self.name()[:2], ("event-loop", "io_uring"))

    def test_threads(self):
        for i in range(8):
            self.fake.thread(200 + i, "0", "wait_woken")
        self.fake.clients(8, 0o2)
        self.assertEqual(self.name()[0], "threads")

    def test_io_uring_workers_are_not_threads(self):
        self.fake.thread(self.fake.pid, "426", "io_cqring_wait")
        self.fake.link("anon_inode:[io_uring]", 0o2000002)
        for i in range(8):
            self.fake.thread(200 + i, "running", "0")
            self.fake.write(self.fake.p("task", str(200 + i), "comm"),
                            "iou-wrk-%d\n" % self.fake.pid)
        self.fake.clients(8, 0o2)
        self.assertEqual(self.name()[:2], ("event-loop", "io_uring"))
        self.assertIn("8 io_uring kernel workers",
                      procfs.describe(self.fake.sample())["threads"])

    def test_a_helper_thread_does_not_make_threads(self):
        self.fake.thread(self.fake.pid, "232", "do_epoll_wait")
        self.fake.thread(201, "7", "poll_schedule_timeout")  # a linger thread
        self.fake.link("anon_inode:[eventpoll]", 0o2000002)
        self.fake.clients(8, 0o4002)
        model, how, reason = self.name()
        self.assertEqual((model, how), ("event-loop", "epoll"))
        self.assertIn("1 other thread beside it", reason)

    def test_a_pool_of_threads(self):
        self.fake.thread(self.fake.pid, "43", "inet_csk_accept")
        for i in range(3):
            self.fake.thread(200 + i, "0", "wait_woken")
        self.idle = self.fake.sample()  # the pool was there before us
        self.fake.clients(8, 0o2)
        self.assertEqual(self.name()[:2], ("threads", "a pool of 4 threads"))

    def test_processes(self):
        for i in range(8):
            self.fake.stat(300 + i, self.fake.pid)
        self.assertEqual(self.name()[0], "processes")

    def test_iterative(self):
        self.fake.thread(self.fake.pid, "0", "wait_woken")
        self.fake.clients(1, 0o2)
        model, how, _ = self.name()
        self.assertEqual(model, "iterative")
        self.assertIn("blocking", how)

    def test_busy_polling(self):
        self.fake.thread(self.fake.pid, "running", "0")
        self.fake.clients(8, 0o4002)
        self.assertEqual(self.name()[:2], ("event-loop", "busy polling"))


class Registry(unittest.TestCase):
    def test_ids(self):
        every = {}
        for p in registry.PROFILES:
            for c in registry.cases_for(p):
                every[c.id] = c
                self.assertRegex(c.id, r"^[a-z][a-z0-9-]*$")
                self.assertTrue(c.summary and "\n" not in c.summary)
        self.assertGreaterEqual(len(every), 30)
        self.assertEqual(len(registry.CASES), len(every))
        self.assertEqual([c.id for c in registry.cases_for("line")],
                         expectations.LINE_CASES)
        echoserv = {c.id for c in registry.cases_for("echoserv")}
        self.assertTrue(set(expectations.LINE_CASES) <= echoserv)
        self.assertTrue(set(expectations.ECHOSERV_ONLY) <= echoserv)
        self.assertTrue(set(expectations.KNOWN_GAPS) <= echoserv)
        self.assertEqual(registry.cases_for("echoserv")[-1].id,
                         "shutdown-drain")


class Cli(unittest.TestCase):
    def test_accepts(self):
        s = cli.parse(["127.0.0.1", "7", "-p", "raw", "--timeout=9"])
        self.assertEqual((s.host, s.port, s.profile, s.timeout),
                         ("127.0.0.1", 7, "raw", 9))
        self.assertEqual((s.max_conns, s.max_conns_given), (1001, False))
        s = cli.parse(["--server", "srv {PORT}", "--expect-model",
                       "threads"])
        self.assertEqual(s.host, "127.0.0.1")

    def test_refuses(self):
        for argv in ([], ["h"], ["h", "0"], ["h", "7", "--cycles", "0"],
                     ["--server", "srv"], ["--pid", "x", "h", "7"],
                     ["h", "7", "--max-conns", "1"], ["-p", "udp", "h", "7"],
                     ["--expect-model", "threads", "h", "7"]):
            with self.assertRaises(cli.UsageError, msg=str(argv)):
                cli.parse(argv)


def made_up_run():
    cases = []
    for i, v in enumerate(("pass", "fail", "non-strict", "info",
                           "unsupported")):
        cases.append({"id": "case-%d" % i, "verdict": v, "summary": "s <&>",
                      "profiles": ["line"], "detail": "d\x01%d" % i,
                      "hint": "h" if v == "fail" else "", "seconds": 0.5,
                      "facts": {}, "wire": [{"t": 0.001, "conn": "c1",
                                             "dir": "send",
                                             "text": "3 bytes \"<a>\""}]})
    summary = registry.summarize(cases, 2.5)
    info = {"version": "1", "target": "127.0.0.1:7", "profile": "line",
            "started": "2026-12-04T00:00:00Z", "settings": {}}
    return report_json.document(info, cases, summary)


class Reports(unittest.TestCase):
    def test_junit(self):
        root = report_json.junit_tree(made_up_run()).getroot()
        suite = root.find("testsuite")
        self.assertEqual((suite.get("tests"), suite.get("failures"),
                          suite.get("skipped")), ("5", "1", "1"))
        kinds = [[child.tag for child in tc] for tc in
                 suite.findall("testcase")]
        self.assertEqual(kinds[1], ["failure", "system-out"])
        self.assertEqual(kinds[4], ["skipped", "system-out"])
        ET.fromstring(ET.tostring(root))  # control characters were cleaned

    def test_html(self):
        page = report_html.page(made_up_run())
        self.assertEqual(page.count('class="cell '), 5)
        self.assertEqual(page.count('<article class="log"'), 5)
        self.assertIn("s &lt;&amp;&gt;", page)
        self.assertNotIn("<a>", page)
        self.assertNotRegex(page, r"https?:")


class Target(unittest.TestCase):
    def test_pick_port(self):
        lo, hi = target.ephemeral_range()
        for _ in range(5):
            port = target.pick_port()
            self.assertFalse(lo <= port <= hi, port)
            s = socket.socket()
            s.bind(("127.0.0.1", port))
            s.close()


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"] if "-v" in sys.argv[1:]
                  else [sys.argv[0]])
