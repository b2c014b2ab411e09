#!/usr/bin/env python3
"""Unit tests of scripts/trace-view: the trace parser, the page, the SVG and
the live streams' catching up.  Run: python3 -m unittest discover -s
tests/trace-view -p 'test_parser.py' (make trace-view-check does)."""

import io
import json
import os
import re
import tempfile
import unittest
import xml.etree.ElementTree as ET

from viewer import load_viewer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


tv = load_viewer()


class Rounds:
    """A sink that keeps every round and the table each one ends with."""

    def __init__(self):
        self.rounds = []
        self.tables = []
        self.table = {}

    def round_started(self, n, table):
        pass

    def round_done(self, rnd):
        tv.replay(self.table, rnd["pre"])
        for ev in rnd["ev"]:
            tv.replay(self.table, ev[3])
        self.rounds.append(rnd)
        self.tables.append({fd: (row[1], row[2])
                            for fd, row in self.table.items()})


def parse(text):
    sink = Rounds()
    parser = tv.Parser(sink)
    tv.read_lines(io.StringIO(text), parser)
    return parser, sink


def states(sink, n):
    """fd -> state at the end of round n."""
    return {fd: st for fd, (kind, st) in sink.tables[n].items()}


# What the server on main printed before it announced its descriptors and
# traced LINGERING and CLOSED as transitions (a real run, client ports
# shortened).
OLD = """\
echoserv: listening on 127.0.0.1:46225
select: waiting  read={3,4} write={} timeout=none
select: ready    read={3} write={}
fd 3: accepted fd 7 from 127.0.0.1:59018
echoserv: client 127.0.0.1:59018 connected (fd 7)
select: waiting  read={3,4,7} write={} timeout=300.0s
select: ready    read={7} write={}
fd 7: read 12 bytes
fd 7: READING -> WRITING (2 lines, then quit)
fd 7: wrote 6 of 6 bytes
fd 7: WRITING -> DONE (quit)
fd 7: FIN sent; discarding input until the client closes
select: waiting  read={3,4,7} write={} timeout=1.0s
select: ready    read={7} write={}
echoserv: client 127.0.0.1:59018 closed (fd 7): quit; echoed 1 line, 6 bytes
fd 7: closed
select: waiting  read={3,4} write={} timeout=none
select: waiting  read={3,4} write={} timeout=none
select: ready    read={4} write={}
echoserv: shutting down: delivering queued replies for up to 2 s
echoserv: shutdown: served 1 client, echoed 1 line, 6 bytes
"""

# The same session as the server prints it now.
NEW = """\
trace: echoserv 1.1.0 pid 4242 FD_SETSIZE 1024
fd 3: listening socket 127.0.0.1:46225
fd 4: signal pipe
echoserv: listening on 127.0.0.1:46225
select: waiting  read={3,4} write={} timeout=none
select: ready    read={3} write={}
fd 3: accepted fd 7 from 127.0.0.1:59018
echoserv: client 127.0.0.1:59018 connected (fd 7)
select: waiting  read={3,4,7} write={} timeout=300.0s
select: ready    read={7} write={}
fd 7: read 12 bytes
fd 7: READING -> WRITING (2 lines, then quit)
fd 7: wrote 6 of 6 bytes
fd 7: WRITING -> DONE (quit)
fd 7: DONE -> LINGERING (FIN sent, discarding input)
select: waiting  read={3,4,7} write={} timeout=1.0s
select: ready    read={7} write={}
fd 7: LINGERING -> CLOSED (client closed)
echoserv: client 127.0.0.1:59018 closed (fd 7): quit; echoed 1 line, 6 bytes
select: waiting  read={3,4} write={} timeout=none
select: waiting  read={3,4} write={} timeout=none
select: ready    read={4} write={}
echoserv: shutting down: delivering queued replies for up to 2 s
echoserv: shutdown: served 1 client, echoed 1 line, 6 bytes
"""


class TestRounds(unittest.TestCase):
    def test_rounds_start_at_each_waiting_line(self):
        parser, sink = parse(OLD)
        self.assertEqual([r["n"] for r in sink.rounds], [0, 1, 2, 3, 4, 5])
        self.assertEqual(parser.nrounds, 5)
        r2 = sink.rounds[2]
        self.assertEqual(r2["ask"], [[3, 4, 7], [], "300.0s"])
        self.assertEqual(r2["ready"], [[7], []])
        self.assertEqual([e[2] for e in r2["ev"]], OLD.splitlines()[6:12])

    def test_a_select_interrupted_has_no_ready_line(self):
        _, sink = parse(OLD)
        self.assertIsNone(sink.rounds[4]["ready"])
        self.assertEqual(sink.rounds[5]["ready"], [[4], []])

    def test_old_descriptors_are_inferred(self):
        _, sink = parse(OLD)
        self.assertEqual(sink.tables[1][3], ("listener", "LISTENING"))
        self.assertEqual(sink.tables[1][4], ("signal", "SIGNAL_PIPE"))
        self.assertEqual(sink.tables[1][7], ("client", "READING"))

    def test_old_and_new_lines_give_the_same_states(self):
        _, old = parse(OLD)
        _, new = parse(NEW)
        self.assertEqual(len(old.rounds), len(new.rounds))
        # Round 0: the new server announces its descriptors before the
        # first select(); for the old one they are inferred in round 1.
        for n in range(1, len(old.rounds)):
            self.assertEqual(states(old, n), states(new, n), "round %d" % n)
        self.assertEqual(states(new, 2)[7], "LINGERING")
        self.assertEqual(states(new, 3)[7], "CLOSED")
        self.assertNotIn(7, states(new, 4))  # a closed row leaves next round

    def test_header_is_read(self):
        parser, _ = parse(NEW)
        self.assertEqual(parser.header["pid"], 4242)
        self.assertEqual(parser.header["fd_setsize"], 1024)
        self.assertEqual(parser.header["version"], "1.1.0")

    def test_byte_counts_follow_reads_and_writes(self):
        _, sink = parse(OLD)
        row = sink.table  # the end; fd 7 is gone: replay round 2 alone
        table = {}
        for rnd in sink.rounds[:3]:
            tv.replay(table, rnd["pre"])
            for ev in rnd["ev"]:
                tv.replay(table, ev[3])
        self.assertEqual(table[7][tv.ROW_IN], 12)
        self.assertEqual(table[7][tv.ROW_OUT], 6)
        self.assertEqual(table[7][tv.ROW_NOTE], "FIN sent")
        self.assertNotIn(7, row)

    def test_time_stamps_are_kept_and_stripped(self):
        text = "".join("2026-12-01T22:20:27.%03dZ %s\n" % (i, line)
                       for i, line in enumerate(NEW.splitlines()))
        parser, sink = parse(text)
        _, plain = parse(NEW)
        self.assertEqual(sink.rounds[1]["ts"], "2026-12-01T22:20:27.004Z")
        for n in range(len(plain.rounds)):
            self.assertEqual(states(sink, n), states(plain, n))
        self.assertEqual(parser.unknown, 0)
        self.assertEqual(sink.rounds[2]["ev"][1][2], "fd 7: read 12 bytes")
        self.assertEqual(sink.rounds[2]["ev"][1][4], "2026-12-01T22:20:27.010Z")

    def test_partial_writes_and_backpressure(self):
        text = """\
select: waiting  read={3,4,7} write={} timeout=300.0s
select: ready    read={7} write={}
fd 7: read 8000 bytes
fd 7: READING -> WRITING (8 lines)
fd 7: wrote 4208 of 8000 bytes (partial)
select: waiting  read={3,4} write={7} timeout=299.7s
select: ready    read={} write={7}
fd 7: wrote 3792 of 3792 bytes
fd 7: WRITING -> READING
"""
        _, sink = parse("echoserv: listening on 127.0.0.1:1\n"
                        "select: waiting  read={3,4} write={} timeout=none\n"
                        "select: ready    read={3} write={}\n"
                        "fd 3: accepted fd 7 from 127.0.0.1:2\n" + text)
        kinds = [e[0] for e in sink.rounds[2]["ev"]]
        self.assertEqual(kinds, ["ready", "read", "state", "partial"])
        self.assertEqual(states(sink, 2)[7], "WRITING")
        self.assertEqual(sink.rounds[3]["ask"][:2], [[3, 4], [7]])
        self.assertEqual(states(sink, 3)[7], "READING")

    def test_turned_away_old_and_new(self):
        head = ("echoserv: listening on 127.0.0.1:1\n"
                "select: waiting  read={3,4} write={} timeout=none\n"
                "select: ready    read={3} write={}\n"
                "fd 3: accepted fd 8 from 127.0.0.1:5555\n")
        tail = "select: waiting  read={3,4} write={} timeout=none\n"
        for line in ("echoserv: client 127.0.0.1:5555 turned away: server "
                     "full\n", "fd 8: turned away: server full\n"):
            _, sink = parse(head + line + tail)
            self.assertEqual(states(sink, 1)[8], "CLOSED", line)
            self.assertNotIn(8, states(sink, 2))

    def test_stderr_in_the_write_set(self):
        _, sink = parse(NEW + "select: waiting  read={3,4} write={2} "
                        "timeout=none\n")
        self.assertEqual(sink.tables[6][2], ("log", "LOG"))


class TestTolerance(unittest.TestCase):
    def test_cut_mid_line(self):
        text = NEW.split("fd 7: wrote 6 of 6 bytes")[0] + "fd 7: wrote 6 o"
        parser, sink = parse(text)
        last = sink.rounds[-1]["ev"][-1]
        self.assertEqual(last[:3], ["cut", [], "fd 7: wrote 6 o"])
        self.assertTrue(any("mid-line" in w for w in parser.warnings))
        self.assertEqual(states(sink, 2)[7], "WRITING")

    def test_cut_line_that_looks_whole_is_not_read(self):
        text = NEW.split("select: waiting  read={3,4,7}")[0]
        text += "select: waiting  read={3,4} write={} timeout=2"
        parser, sink = parse(text)
        self.assertEqual(parser.nrounds, 1)
        self.assertEqual(sink.rounds[-1]["ev"][-1][0], "cut")

    def test_cut_in_the_middle_of_a_trace(self):
        text = NEW.replace("fd 7: read 12 bytes\n", "fd 7: reafd 7: read 1\n")
        parser, sink = parse(text)
        self.assertEqual(parser.unknown, 1)
        self.assertIn(["unknown", [], "fd 7: reafd 7: read 1", 0],
                      sink.rounds[2]["ev"])

    def test_unknown_lines_are_shown_not_fatal(self):
        text = NEW.replace("fd 7: read 12 bytes\n",
                           "fd 7: read 12 bytes\nsomething new: 42\n"
                           "fd 7: frobnicated\nselect: pondering\n")
        parser, sink = parse(text)
        self.assertEqual(parser.unknown, 3)
        texts = [e[2] for e in sink.rounds[2]["ev"] if e[0] == "unknown"]
        self.assertEqual(texts, ["something new: 42", "fd 7: frobnicated",
                                 "select: pondering"])
        _, plain = parse(NEW)
        for n in range(len(plain.rounds)):
            self.assertEqual(states(sink, n), states(plain, n))

    def test_carriage_returns_and_bad_bytes(self):
        raw = NEW.replace("\n", "\r\n").encode() + b"fd 7: \xff\xfe\n"
        parser = tv.Parser(Rounds())
        with tempfile.NamedTemporaryFile("wb", suffix=".trace",
                                         delete=False) as f:
            f.write(raw)
        try:
            with tv.open_trace(f.name) as stream:
                tv.read_lines(stream, parser)
        finally:
            os.unlink(f.name)
        self.assertEqual(parser.nrounds, 5)
        self.assertEqual(parser.unknown, 1)


class TestMixedServers(unittest.TestCase):
    def test_two_headers_with_different_pids(self):
        other = NEW.replace("pid 4242", "pid 4300")
        lines = NEW.splitlines(True)
        mixed = "".join(lines[:9]) + other + "".join(lines[9:])
        with self.assertRaises(tv.TraceError) as e:
            parse(mixed)
        msg = str(e.exception)
        self.assertIn("4242", msg)
        self.assertIn("4300", msg)
        self.assertIn("mixed", msg)

    def test_same_header_twice_is_one_server(self):
        parser, _ = parse(NEW + NEW.splitlines(True)[0])
        self.assertEqual(parser.header["pid"], 4242)

    def test_conflicting_state_without_headers(self):
        # Two old servers on different ports, both giving their first
        # client fd 7: the second accept finds fd 7 still open.
        other = OLD.replace("46225", "50000").replace("59018", "60000")
        a, b = OLD.splitlines(True), other.splitlines(True)
        mixed = "".join(a[:8] + b[:5] + a[8:] + b[5:])
        with self.assertRaises(tv.TraceError) as e:
            parse(mixed)
        self.assertIn("mixed", str(e.exception))
        self.assertRegex(str(e.exception), r"line \d+")

    def test_a_transition_from_the_wrong_state(self):
        text = NEW.replace("fd 7: WRITING -> DONE (quit)",
                           "fd 7: WRITING -> DONE (quit)\n"
                           "fd 7: READING -> WRITING (1 line)")
        with self.assertRaises(tv.TraceError) as e:
            parse(text)
        self.assertIn("fd 7 is DONE", str(e.exception))

    def test_dropped_log_lines_explain_a_gap(self):
        # The server's stderr stalled: lines were dropped, and it said so.
        lines = NEW.splitlines(True)
        gap = [l for l in lines if "accepted fd 7" not in l]
        i = gap.index("select: waiting  read={3,4,7} write={} timeout=300.0s\n")
        gap.insert(i + 2, "echoserv: 3 log lines dropped\n")
        parser, sink = parse("".join(gap))
        self.assertEqual(parser.dropped, 3)
        self.assertTrue(parser.warnings)
        self.assertEqual(states(sink, 3)[7], "CLOSED")


class TestRealTrace(unittest.TestCase):
    """A session recorded by record_session.py from the server before it
    announced its own descriptors (old line formats)."""
    FILE = "old-server.trace"

    def setUp(self):
        with open(os.path.join(HERE, self.FILE)) as f:
            self.text = re.sub(r"(?m)^\S+Z ", "", f.read())
        self.parser, self.sink = parse(self.text)

    def test_every_line_is_understood(self):
        self.assertEqual(self.parser.unknown, 0)
        self.assertEqual(self.parser.warnings, [])
        self.assertEqual(self.parser.nrounds, self.text.count("select: waiting"))

    def test_each_round_lists_its_lines(self):
        lines = self.text.splitlines()
        starts = [i for i, l in enumerate(lines) if l.startswith("select: waiting")]
        for n in (1, len(starts) // 2, len(starts)):
            end = starts[n] if n < len(starts) else len(lines)
            want = lines[starts[n - 1] + 1:end]
            self.assertEqual([e[2] for e in self.sink.rounds[n]["ev"]], want)

    def test_states_seen(self):
        seen, table = set(), {}
        for rnd in self.sink.rounds:
            tv.replay(table, rnd["pre"])
            for ev in rnd["ev"]:
                tv.replay(table, ev[3])
                seen.update(row[tv.ROW_STATE] for row in table.values())
        self.assertTrue({"READING", "WRITING", "DONE", "LINGERING", "CLOSED",
                         "LISTENING", "SIGNAL_PIPE"} <= seen, seen)


class TestRealTraceNew(TestRealTrace):
    """The same session from the server that prints the trace header, its
    descriptors, LINGERING and CLOSED, with --log-time stamps."""
    FILE = "new-server.trace"

    def test_header_and_time_stamps(self):
        with open(os.path.join(HERE, self.FILE)) as f:
            parser, sink = parse(f.read())
        self.assertIsNotNone(parser.header)
        self.assertTrue(parser.declared)
        self.assertRegex(sink.rounds[1]["ts"], r"^\d{4}-\d\d-\d\dT")
        self.assertEqual(parser.unknown, 0)


class TestOutputs(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.trace = os.path.join(self.dir.name, "t.trace")
        with open(self.trace, "w") as f:
            f.write(NEW)

    def tearDown(self):
        self.dir.cleanup()

    def test_page_is_self_contained(self):
        out = os.path.join(self.dir.name, "t.html")
        tv.write_page(self.trace, out)
        with open(out) as f:
            text = f.read()
        self.assertNotRegex(text, r"https?://")
        self.assertNotRegex(text, r"<(script|img|link|iframe)[^>]+(src|href)=")
        meta = json.loads(re.search(r'id="trace-meta">(.*?)</script>',
                                    text).group(1))
        self.assertEqual(meta["rounds"], 5)
        chunk = json.loads(re.search(r'id="chunk-0">(.*?)</script>',
                                     text).group(1))
        self.assertEqual([r["n"] for r in chunk["rounds"]], [0, 1, 2, 3, 4, 5])

    def test_script_end_tags_in_lines_are_escaped(self):
        with open(self.trace, "a") as f:
            f.write("</script><b>x</b>\n")
        out = os.path.join(self.dir.name, "t.html")
        tv.write_page(self.trace, out)
        with open(out) as f:
            text = f.read()
        self.assertEqual(text.count("</script>"), 3)  # meta, chunk, code

    def test_chunks_hold_the_table_they_start_from(self):
        big = os.path.join(self.dir.name, "big.trace")
        with open(big, "w") as f:
            f.write(NEW.split("select: waiting  read={3,4,7} write={} "
                              "timeout=1.0s")[0])
            for i in range(600):
                f.write("select: waiting  read={3,4,7} write={} "
                        "timeout=1.0s\nselect: ready    read={7} write={}\n"
                        "fd 7: discarded 1 byte\n")
        sink = tv.ChunkSink()
        with open(big) as f:
            tv.read_lines(f, tv.Parser(sink))
        sink.close()
        chunks = [json.loads(c) for c in sink.chunks]
        self.assertEqual([c["base"] for c in chunks], [0, 256, 512])
        self.assertEqual(chunks[0]["table"], [])
        fds = {row[0]: row[2] for row in chunks[1]["table"]}
        self.assertEqual(fds, {3: "LISTENING", 4: "SIGNAL_PIPE",
                               7: "LINGERING"})

    def test_svg_of_a_round(self):
        out = os.path.join(self.dir.name, "r.svg")
        tv.write_svg(self.trace, 2, out)
        root = ET.parse(out).getroot()
        texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
        self.assertIn("Round 2: select()", texts)
        self.assertIn("LINGERING", texts)
        self.assertIn("LISTENING", texts)
        self.assertIn("fd 7: read 12 bytes", texts)

    def test_svg_of_a_round_that_is_not_there(self):
        with self.assertRaises(ValueError):
            tv.write_svg(self.trace, 99, os.path.join(self.dir.name, "x.svg"))


class TestCommandLine(unittest.TestCase):
    def run_viewer(self, *args, stdin=""):
        import subprocess
        import sys
        return subprocess.run([sys.executable, os.path.join(ROOT, "scripts",
                                                            "trace-view")]
                              + list(args), input=stdin, capture_output=True,
                              text=True, timeout=30)

    def test_mixed_servers_is_one_clear_error(self):
        with tempfile.TemporaryDirectory() as d:
            trace = os.path.join(d, "mixed.trace")
            with open(trace, "w") as f:
                f.write(NEW + NEW.replace("pid 4242", "pid 4300"))
            r = self.run_viewer(trace, "-o", os.path.join(d, "x.html"))
            self.assertEqual(r.returncode, 1)
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
            self.assertIn("mixed", r.stderr)
            self.assertFalse(os.path.exists(os.path.join(d, "x.html")))

    def test_page_from_stdin_says_what_it_wrote(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "p.html")
            r = self.run_viewer("-", "-o", out, stdin=NEW + "odd line\n")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("5 rounds", r.stdout)
            self.assertIn("1 line not understood", r.stdout)
            with open(out) as f:
                self.assertIn('"odd":[5]', f.read())

    def test_bad_usage(self):
        for args in ([], ["t", "--svg", "x.svg"], ["--live", "-o", "x"],
                     ["--live", "--port", "70000"]):
            r = self.run_viewer(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("usage:", r.stderr)


class FakeOut:
    def __init__(self):
        self.data = b""

    def write(self, b):
        self.data += b

    def events(self):
        out = []
        for block in self.data.decode().split("\n\n"):
            fields = dict(l.split(": ", 1) for l in block.splitlines()
                          if ": " in l and not l.startswith(":"))
            if "event" in fields:
                out.append((fields["event"], fields["id"],
                            json.loads(fields["data"])))
        self.data = b""
        return out


def live_store(rounds):
    store = tv.LiveStore()
    for line in NEW.splitlines()[:10]:
        store.feed(line)
    for i in range(rounds):
        store.feed("select: waiting  read={3,4,7} write={} timeout=300.0s")
        store.feed("select: ready    read={7} write={}")
        store.feed("fd 7: read 1 byte")
    return store


class TestLive(unittest.TestCase):
    def pump(self, stream, store):
        with store.cond:
            return [stream.hello()] + stream.pump()

    def test_a_new_page_gets_a_snapshot_and_recent_rounds(self):
        store = live_store(1000)
        out = FakeOut()
        s = tv.Stream(store, out, None)
        out.write(b"".join(self.pump(s, store)))
        ev = out.events()
        self.assertEqual([e[0] for e in ev], ["hello", "snapshot", "rounds"])
        # More than a batch is waiting: the stream must not wait for news
        # from the server (an idle server sends none) to send the rest.
        self.assertNotEqual(s.state(), s.seen)
        with store.cond:
            out.write(b"".join(s.pump()))   # the rest, in a second batch
        more = out.events()
        self.assertEqual([e[0] for e in more], ["rounds"])
        self.assertIsNotNone(s.seen)  # up to date: wait for news
        self.assertTrue(more[0][2][-1].get("open"))
        self.assertEqual(more[0][2][-1]["n"], store.parser.nrounds)
        base = ev[1][2]["base"]
        self.assertGreater(base, 1000 - tv.HISTORY - tv.MARK)
        table = {row[0]: row for row in ev[1][2]["table"]}
        self.assertEqual(table[7][tv.ROW_IN], base - 3)  # a byte a round
        self.assertEqual(ev[2][2][0]["n"], base)

    def test_falling_behind_skips_to_the_newest(self):
        store = live_store(10)
        out = FakeOut()
        s = tv.Stream(store, out, None)
        out.write(b"".join(self.pump(s, store)))
        out.events()
        held = s.cursor
        for i in range(3 * tv.BATCH):
            store.feed("select: waiting  read={3,4,7} write={} timeout=1.0s")
        with store.cond:
            out.write(b"".join(s.pump()))
        ev = out.events()
        names = [e[0] for e in ev]
        self.assertEqual(names, ["snapshot", "skipped", "rounds"])
        last = store.last_complete()
        self.assertEqual(ev[0][2]["base"], last - tv.KEEP_AFTER_SKIP + 1)
        self.assertEqual(ev[1][2]["count"], ev[0][2]["base"] - held - 1)
        self.assertEqual(ev[2][2][-2]["n"], last)

    def test_a_reconnect_resumes_where_it_was(self):
        store = live_store(20)
        out = FakeOut()
        s = tv.Stream(store, out, None)
        out.write(b"".join(self.pump(s, store)))
        last_id = out.events()[-1][1]
        for i in range(5):
            store.feed("select: waiting  read={3,4,7} write={} timeout=1.0s")
        again = tv.Stream(store, out, last_id)
        out.write(b"".join(self.pump(again, store)))
        ev = out.events()
        self.assertEqual([e[0] for e in ev], ["hello", "rounds"])
        self.assertEqual(ev[1][2][0]["n"], int(last_id.split(":")[1]) + 1)

    def test_another_session_starts_over(self):
        store = live_store(20)
        out = FakeOut()
        s = tv.Stream(store, out, "0:15")
        out.write(b"".join(self.pump(s, store)))
        self.assertEqual([e[0] for e in out.events()],
                         ["hello", "snapshot", "rounds"])

    def test_end_of_input_is_told(self):
        store = live_store(3)
        store.finish()
        out = FakeOut()
        s = tv.Stream(store, out, None)
        out.write(b"".join(self.pump(s, store)))
        ev = out.events()
        self.assertEqual(ev[-1][0], "end")
        self.assertEqual(ev[-1][2]["rounds"], store.parser.nrounds)
        self.assertFalse(any(r.get("open") for r in ev[-2][2]))

    def test_mixed_input_is_reported(self):
        import contextlib
        store = live_store(3)
        said = io.StringIO()
        with contextlib.redirect_stderr(said):
            store.feed("trace: echoserv 1.1.0 pid 999 FD_SETSIZE 1024")
        self.assertIn("mixed", said.getvalue())
        out = FakeOut()
        s = tv.Stream(store, out, None)
        out.write(b"".join(self.pump(s, store)))
        ev = out.events()
        self.assertEqual(ev[-1][0], "failed")
        self.assertIn("pid 999", ev[-1][2]["message"])


class TestBig(unittest.TestCase):
    def test_twenty_thousand_rounds(self):
        import big_trace
        count = {"rounds": 0, "events": 0}

        class Count:
            def round_started(self, n, table):
                pass

            def round_done(self, rnd):
                count["rounds"] += 1
                count["events"] += len(rnd["ev"])

        parser = tv.Parser(Count())
        for line in big_trace.rounds(20000):
            parser.feed(line)
        parser.finish()
        self.assertEqual(parser.nrounds, 20000)
        self.assertEqual(count["rounds"], 20001)
        self.assertEqual(parser.unknown, 0)
        self.assertEqual(parser.warnings, [])


if __name__ == "__main__":
    unittest.main()
