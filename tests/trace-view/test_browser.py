#!/usr/bin/env python3
"""test_browser.py TRACE PAGE [BIG_PAGE BIG_ROUNDS] - check in headless
Chromium that the page scripts/trace-view made of TRACE shows what TRACE says.

The expectation is computed here from the trace text with a reader of its
own (not the viewer's parser): at chosen rounds (the first accept, the
pipelined lines, the first partial write, the backpressure round after it,
the client turned away, quit, end of input, the last round) the table's
states, the bits of the four sets and the round's lines must match.  Then
the keyboard: stepping through a round line by line, across rounds, jumping,
playing.  A screenshot of the partial-write round must show the state
colours.  With BIG_PAGE (a trace of BIG_ROUNDS rounds) the last round must
open, and steps be answered, within a few seconds.
"""

import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import big_trace  # noqa: E402
from browser import Browser, BrowserError, cannot_have, png_pixels  # noqa: E402

TS = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z ")
SETS = re.compile(r"select: (waiting|ready)\s+read=\{([\d,]*)\}\s+"
                  r"write=\{([\d,]*)\}")
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL: trace-view browser: " + what, file=sys.stderr)
    return ok


def members(text):
    return sorted(int(x) for x in text.split(",") if x)


class Expected:
    """The rounds of a trace as its text says, read independently."""

    def __init__(self, text):
        lines = [TS.sub("", l.rstrip("\r")) for l in text.split("\n")]
        if lines and lines[-1] == "":
            lines.pop()
        self.lines = lines
        self.starts = [i for i, l in enumerate(lines)
                       if l.startswith("select: waiting")]
        self.states = {0: {}}   # round -> {fd: state} at its end
        self.server_fds = {}    # fd -> LISTENING / SIGNAL_PIPE
        state, peers, n = {}, {}, 0
        for line in lines:
            if line.startswith("select: waiting"):
                self.states[n] = dict(state)
                n += 1
                state = {fd: s for fd, s in state.items() if s != "CLOSED"}
                m = SETS.match(line)
                for fd in members(m.group(2)) + members(m.group(3)):
                    if fd in state or fd in self.server_fds:
                        continue
                    self.server_fds[fd] = "?"
                continue
            if not (" -> " in line or "accepted" in line or "closed" in line
                    or "turned away" in line or "FIN sent" in line or
                    "listening socket" in line or "signal pipe" in line):
                continue  # bytes read and written change no state
            m = re.match(r"fd (\d+): (.*)", line)
            if m:
                fd, rest = int(m.group(1)), m.group(2)
                a = re.match(r"accepted fd (\d+) from (\S+)", rest)
                t = re.match(r"[A-Z]+ -> ([A-Z]+)", rest)
                if a:
                    state[int(a.group(1))] = "READING"
                    peers[int(a.group(1))] = a.group(2)
                    self.server_fds[fd] = "LISTENING"
                elif t:
                    state[fd] = t.group(1)
                elif rest.startswith("FIN sent"):
                    state[fd] = "LINGERING"
                elif rest == "closed" or rest.startswith("turned away"):
                    state[fd] = "CLOSED"
                elif rest.startswith("listening socket"):
                    self.server_fds[fd] = "LISTENING"
                elif rest == "signal pipe":
                    self.server_fds[fd] = "SIGNAL_PIPE"
            m = re.match(r"echoserv: client (\S+) turned away", line)
            if m:
                for fd, p in peers.items():
                    if p == m.group(1) and state.get(fd) == "READING":
                        state[fd] = "CLOSED"
        self.states[n] = dict(state)
        for fd, what in self.server_fds.items():
            if what == "?":  # watched, never a client, never accepting
                self.server_fds[fd] = "SIGNAL_PIPE"

    def round_lines(self, n):
        start = self.starts[n - 1]
        end = self.starts[n] if n < len(self.starts) else len(self.lines)
        return self.lines[start], self.lines[start + 1:end]

    def sets(self, n):
        waiting, events = self.round_lines(n)
        m = SETS.match(waiting)
        out = {("read", "asked"): members(m.group(2)),
               ("write", "asked"): members(m.group(3)),
               ("read", "ready"): [], ("write", "ready"): []}
        for line in events:
            m = SETS.match(line)
            if m and m.group(1) == "ready":
                out[("read", "ready")] = members(m.group(2))
                out[("write", "ready")] = members(m.group(3))
                break
        return out

    def rows(self, n):
        rows = dict(self.states[n])
        rows.update(self.server_fds)
        return rows

    def first(self, pattern, after=1):
        for n in range(after, len(self.starts) + 1):
            if any(re.search(pattern, l) for l in self.round_lines(n)[1]):
                return n
        return None


PAGE_STATE = """
const v = document.getElementById("view");
const rows = {};
for (const tr of document.querySelectorAll("#conns tr[data-fd]"))
  rows[tr.dataset.fd] = tr.dataset.state;
const bits = {};
for (const b of document.querySelectorAll("#sets [data-set][data-when]"))
  (bits[b.dataset.set + " " + b.dataset.when] =
    bits[b.dataset.set + " " + b.dataset.when] || []).push(Number(b.dataset.fd));
const events = [];
for (const li of document.querySelectorAll("#events li[data-event]"))
  if (li.dataset.event !== "waiting")
    events.push([li.querySelector(".text").textContent, li.dataset.fd || null,
                 li.className]);
return {round: Number(v.dataset.round), step: Number(v.dataset.step),
        steps: Number(v.dataset.steps), rows: rows, bits: bits, events: events,
        current: (document.querySelector("#events li.current .text") || {}).textContent || null};
"""


def page_state(b):
    return b.js(PAGE_STATE)


def goto(b, n, step=None):
    b.js("location.hash = arguments[0];",
         "#round=%d" % n + ("" if step is None else "&step=%d" % step))
    b.wait("round %d" % n, "const v = document.getElementById('view');"
           "return v.dataset.round == arguments[0] && "
           "(arguments[1] === null || v.dataset.step == arguments[1]);",
           n, step)
    return page_state(b)


def check_round(b, exp, n, label):
    got = goto(b, n)
    _, lines = exp.round_lines(n)
    want_rows = {str(fd): st for fd, st in exp.rows(n).items()}
    check(got["rows"] == want_rows, "round %d (%s): table %s, trace says %s"
          % (n, label, got["rows"], want_rows))
    for (s, w), fds in exp.sets(n).items():
        shown = sorted(got["bits"].get(s + " " + w, []))
        check(shown == fds, "round %d (%s): %s %s bits %s, trace says %s"
              % (n, label, s, w, shown, fds))
    texts = [e[0] for e in got["events"]]
    check(texts == lines, "round %d (%s): events %s, trace says %s"
          % (n, label, texts[:6], lines[:6]))
    for text, fd, _ in got["events"]:
        m = re.match(r"fd (\d+):", text)
        if m:
            check(fd == m.group(1), "round %d: the event %r marks fd %s"
                  % (n, text, fd))
    check(got["step"] == got["steps"] == len(lines),
          "round %d: shown at step %d of %d, not whole (%d lines)"
          % (n, got["step"], got["steps"], len(lines)))


def check_rounds(b, exp):
    chosen = [
        (1, "first select"),
        (exp.first(r"accepted fd"), "accept"),
        (exp.first(r"-> WRITING \([3-9] lines\)"), "pipelined lines"),
        (exp.first(r"\(partial\)"), "partial write"),
        (exp.first(r"turned away"), "turned away"),
        (exp.first(r"-> DONE \(quit\)"), "quit"),
        (exp.first(r"read end of input"), "half-close"),
        (len(exp.starts), "last round"),
    ]
    partial = chosen[3][0]
    if partial:
        chosen.append((partial + 1, "backpressure"))
        _, w = exp.sets(partial + 1)[("read", "asked")], \
            exp.sets(partial + 1)[("write", "asked")]
        check(set(w) - set(exp.sets(partial + 1)[("read", "asked")]),
              "the round after the partial write watches a client only for "
              "writing (backpressure)")
    for n, label in chosen:
        if check(n is not None, "the trace has no round with " + label):
            check_round(b, exp, n, label)
    return chosen


def check_keys(b, exp):
    """Step through the pipelined round line by line, as a teacher would."""
    n = exp.first(r"-> WRITING \([3-9] lines\)")
    _, lines = exp.round_lines(n)
    k = next(i for i, l in enumerate(lines) if "-> WRITING" in l)
    fd = re.match(r"fd (\d+):", lines[k]).group(1)
    goto(b, n - 1)
    b.keys("Right")
    got = page_state(b)
    check((got["round"], got["step"]) == (n, 0), "Right after a round's last "
          "step: round %d step %d, want %d step 0" % (got["round"],
                                                      got["step"], n))
    check(not got["bits"].get("read ready"), "step 0 already shows ready bits")
    for i in range(k):
        b.keys("Right")
    got = page_state(b)
    check(got["rows"].get(fd) == "READING" and got["step"] == k,
          "the step before %r: fd %s is %s at step %d" %
          (lines[k], fd, got["rows"].get(fd), got["step"]))
    check(got["bits"].get("read ready"), "after the ready line the ready bits "
          "are not shown")
    b.keys("Right")
    got = page_state(b)
    check(got["rows"].get(fd) == "WRITING" and got["current"] == lines[k],
          "at %r: fd %s is %s, current line %r" % (lines[k], fd,
                                                   got["rows"].get(fd),
                                                   got["current"]))
    check(sum("current" in e[2] for e in got["events"]) == 1,
          "not exactly one current line")
    b.keys("Left")
    got = page_state(b)
    check(got["step"] == k and got["rows"].get(fd) == "READING",
          "Left did not undo the step")
    for key, want in (("n", n + 1), ("p", n), ("Shift+Right", n + 1),
                      ("Shift+Left", n), ("PageDown", n + 1),
                      ("PageUp", n), ("End", len(exp.starts)), ("Home", 0)):
        b.keys(key)
        got = page_state(b)
        check(got["round"] == want, "key %s: round %d, want %d" %
              (key, got["round"], want))
    b.keys("g", str(n), "Enter")
    got = page_state(b)
    check(got["round"] == n and got["step"] == got["steps"],
          "g %d Enter: round %d step %d" % (n, got["round"], got["step"]))
    check(b.js("return location.hash") == "#round=%d" % n,
          "the address does not say #round=%d" % n)
    # Play: from step 0 at the fastest speed, the steps advance by themselves.
    goto(b, n, 0)
    b.js("const s = document.getElementById('speed');"
         "s.selectedIndex = s.options.length - 1;")
    b.keys(" ")
    b.wait("play to move", "return Number(document.getElementById('view')"
           ".dataset.round) > arguments[0];", n, timeout=5)
    b.keys(" ")
    time.sleep(0.2)
    a = page_state(b)
    time.sleep(0.3)
    c = page_state(b)
    check((a["round"], a["step"]) == (c["round"], c["step"]),
          "Space did not pause the play")


def check_screenshot(b, exp, n, out):
    goto(b, n)
    png = b.screenshot()
    with open(out, "wb") as f:
        f.write(png)
    width, height, rows = png_pixels(png)
    colours = {}
    for row in rows[::2]:
        for px in row[::2]:
            colours[px] = colours.get(px, 0) + 1
    background = max(colours, key=colours.get)
    covered = 1 - colours[background] / sum(colours.values())
    check(len(colours) >= 20 and covered > 0.05,
          "screenshot looks blank: %d colours, %.1f%% off the background"
          % (len(colours), covered * 100))
    for name, rgb in (("READING", (0x0f, 0x9d, 0x76)),
                      ("WRITING", (0xe5, 0x8a, 0x00)),
                      ("set read bit", (0x25, 0x63, 0xeb))):
        check(colours.get(rgb, 0) > 50, "screenshot: no %s colour %s"
              % (name, rgb))
    return len(colours), covered


def check_big(b, page, total):
    """The big trace's expectation comes from its generator's own model."""
    probe = {total - 1: None, total // 2: None}
    for _ in big_trace.rounds(total, probe):
        pass

    class exp:
        sets = staticmethod(lambda n: probe[n]["sets"])
        rows = staticmethod(lambda n: probe[n]["states"])
    t0 = time.monotonic()
    b.open("file://" + page + "#round=%d" % (total - 1))
    b.wait("the big page", "return document.getElementById('view')"
           ".dataset.round == arguments[0];", total - 1, timeout=30)
    opened = time.monotonic() - t0
    got = page_state(b)
    for (s, w), fds in exp.sets(total - 1).items():
        check(sorted(got["bits"].get(s + " " + w, [])) == fds,
              "big trace round %d: %s %s bits" % (total - 1, s, w))
    check(got["rows"] == {str(k): v for k, v in exp.rows(total - 1).items()},
          "big trace round %d: table %s" % (total - 1, got["rows"]))
    t0 = time.monotonic()
    for key in ("Right", "Right", "Left", "p", "p", "Home", "End"):
        b.keys(key)
    b.keys("g", str(total // 2), "Enter")
    got = page_state(b)
    steps = time.monotonic() - t0
    check(got["round"] == total // 2, "big trace: g %d Enter went to %d"
          % (total // 2, got["round"]))
    check(got["rows"] == {str(k): v for k, v in exp.rows(total // 2).items()},
          "big trace round %d: table %s" % (total // 2, got["rows"]))
    check(opened < 20, "big trace: %.1f s to open round %d" % (opened,
                                                             total - 1))
    check(steps < 8, "big trace: %.1f s for 8 key presses" % steps)
    return opened, steps


def main(argv):
    if len(argv) not in (3, 5):
        print(__doc__.split("\n")[0], file=sys.stderr)
        return 2
    trace, page = argv[1], os.path.abspath(argv[2])
    with open(trace, encoding="utf-8", errors="replace") as f:
        exp = Expected(f.read())
    t0 = time.monotonic()
    why = cannot_have()
    if why is not None:
        print("trace-view browser: skipped: %s" % why)
        return 0
    try:
        b = Browser()
    except BrowserError as e:
        print("FAIL: trace-view browser: %s" % e, file=sys.stderr)
        return 1
    try:
        b.open("file://" + page)
        b.wait("the page", "return document.getElementById('view')"
               ".dataset.round == '1';")
        chosen = check_rounds(b, exp)
        check_keys(b, exp)
        partial = exp.first(r"\(partial\)")
        shot = os.path.join(os.path.dirname(page), "round-%d.png" % partial)
        ncolours, covered = check_screenshot(b, exp, partial, shot)
        print("trace-view browser: %d rounds checked, keyboard, screenshot "
              "%s (%d colours, %.0f%% drawn)" % (len(chosen), shot, ncolours,
                                                 covered * 100))
        if len(argv) == 5:
            opened, steps = check_big(b, os.path.abspath(argv[3]),
                                      int(argv[4]))
            print("trace-view browser: %s rounds: last round open in %.1f s, "
                  "8 key presses in %.1f s" % (argv[4], opened, steps))
    except BrowserError as e:
        check(False, str(e))
    finally:
        b.close()
    print("trace-view browser: %.1f s" % (time.monotonic() - t0))
    if failures:
        print("trace-view browser: %d check(s) failed" % len(failures),
              file=sys.stderr)
        return 1
    print("ok: the page shows what the trace says")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
