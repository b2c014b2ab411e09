"""report_text.py - the table on the terminal.

One row per case as it finishes (so a long run shows progress), then,
for every case that did not simply pass, what was seen and the hint, and
a last line with the counts.  Colour only when the stream is a terminal
and neither --no-color nor NO_COLOR says otherwise.
"""

import os
import shutil

COLOURS = {"pass": "32", "fail": "1;31", "non-strict": "33", "info": "36",
           "unsupported": "35"}
ARROWS = {"send": "->", "recv": "<-", "event": "--", "note": "##",
          "gap": "  "}


def use_colour(stream, no_color):
    if no_color or os.environ.get("NO_COLOR") is not None:
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def wire_lines(entries):
    """The wire log as text lines: time, connection, direction, what."""
    out = []
    for e in entries:
        t = "" if e["t"] is None else "%8.3fs" % e["t"]
        out.append("%9s %-5s %s %s" % (t, e["conn"], ARROWS[e["dir"]],
                                       e["text"]))
    return out


class Terminal:
    """Writes the run to stream."""

    def __init__(self, stream, colour=False, quiet=False, verbose=False):
        self.out = stream
        self.colour = colour
        self.quiet = quiet
        self.verbose = verbose
        self.width = shutil.get_terminal_size((100, 24)).columns \
            if colour else 0

    def _paint(self, verdict, text):
        if not self.colour:
            return text
        return "\033[%sm%s\033[0m" % (COLOURS[verdict], text)

    def _say(self, line=""):
        self.out.write(line + "\n")
        self.out.flush()

    def header(self, run):
        if self.quiet:
            return
        self._say("echocheck %s: %s, profile %s, %d cases" % (
            run["version"], run["target"], run["profile"], run["count"]))
        if run.get("command"):
            self._say("server: %s (pid %s)" % (run["command"], run["pid"]))

    def row(self, rec):
        if self.quiet:
            return
        verdict = rec["verdict"]
        line = "  %s %-18s %6.2fs  %s" % (
            self._paint(verdict, "%-11s" % verdict.upper()), rec["id"],
            rec["seconds"], rec["summary"])
        if self.width and len(line) > self.width + 11:  # escapes count too
            line = line[:self.width + 8] + "..."
        self._say(line)

    def footer(self, records, summary):
        notable = [r for r in records if r["verdict"] != "pass"]
        if notable and not self.quiet:
            self._say()
        for r in notable if not self.quiet else []:
            self._say("%s %s: %s" % (self._paint(r["verdict"],
                                                 r["verdict"].upper()),
                                     r["id"], r["detail"]))
            if r["hint"]:
                self._say("    hint: " + r["hint"])
            if self.verbose and r["verdict"] != "info":
                for line in wire_lines(r["wire"]):
                    self._say("    " + line)
        counts = ", ".join("%d %s" % (summary[v], v) for v in
                           ("pass", "fail", "non-strict", "info",
                            "unsupported"))
        self._say("%s%d cases: %s in %.1f s" % (
            "" if self.quiet or not notable else "\n", summary["total"],
            counts, summary["seconds"]))
