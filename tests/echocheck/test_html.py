#!/usr/bin/env python3
"""test_html.py BUILD - echocheck's --html report in headless Chromium.

Three reports of test_servers.py (made here if they are missing): the
whole echoserv profile against echoserv (passes and INFO), the gallery's
short_write (failures) and crlf (NON-STRICT).  For each, in the browser:

  - the page loads nothing from anywhere (no src or href leaving it, no
    web address in the file);
  - the grid shows every case of the JSON report, in order, each cell
    carrying its id and verdict;
  - before any click no wire log is open;
  - clicking each case opens its panel, and only that one: the panel
    shows the case's detail, its hint, and the first and last entries of
    its wire log as the JSON has them;
  - #case=ID in the address opens that case on load.

A screenshot with a failing case open is left in
BUILD/echocheck-reports/report.png; its failure colour is checked in the
pixels.  Chromium and chromedriver are driven as in tests/trace-view
(browser.py), every wait bounded.
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "trace-view"))
sys.path.insert(0, HERE)
from browser import Browser, BrowserError, cannot_have, png_pixels  # noqa
import expectations  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
OUT = os.path.join(BUILD, "echocheck-reports")
REPORTS = ["echoserv-echoserv", "gallery-short_write", "gallery-crlf"]
FAIL_PINK = (255, 204, 213)  # .fail's background in report_html.py
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL: echocheck html: " + what, file=sys.stderr)
    return ok


def ensure(name):
    """The report NAME (made by its Run if missing): its JSON document."""
    out = os.path.join(OUT, name)
    if not os.path.exists(out + ".html"):
        runs = expectations.kit_runs(BUILD) + \
            expectations.gallery_runs(BUILD)
        run = next(r for r in runs if r.name == name)
        os.makedirs(OUT, exist_ok=True)
        subprocess.run(run.argv(os.path.join(BUILD, "echocheck"), out),
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       timeout=150)
    with open(out + ".json") as f:
        return json.load(f)


CELLS = """return Array.from(document.querySelectorAll('#grid .cell')).map(
  function (c) { return [c.dataset.case, c.className]; });"""
OPEN = """return Array.from(document.querySelectorAll('#detail .log')).filter(
  function (l) { return !l.hidden; }).map(function (l) { return l.id; });"""
LEAVING = """return Array.from(document.querySelectorAll('[src],[href]')).map(
  function (e) { return e.getAttribute('src') || e.getAttribute('href'); })
  .filter(function (u) { return u.charAt(0) !== '#'; });"""


def click(b, css):
    found = b.call("POST", b.s("/element"), {"using": "css selector",
                                             "value": css})["value"]
    eid = next(iter(found.values()))
    b.call("POST", b.s("/element/%s/click" % eid), {})


def check_report(b, name, doc):
    path = os.path.abspath(os.path.join(OUT, name + ".html"))
    with open(path, encoding="utf-8") as f:
        text = f.read()
    check("http://" not in text and "https://" not in text,
          "%s: the page holds a web address" % name)
    b.open("file://" + path)
    b.wait("%s: the grid" % name, "return document.querySelectorAll("
           "'#grid .cell').length > 0")
    check(b.js(LEAVING) == [], "%s: the page refers outside itself: %s"
          % (name, b.js(LEAVING)))
    cells = b.js(CELLS)
    want = [[c["id"], "cell " + c["verdict"]] for c in doc["cases"]]
    check(cells == want, "%s: grid %s, expected %s" % (name, cells, want))
    check(b.js(OPEN) == [], "%s: a wire log is open before any click"
          % name)
    for c in doc["cases"]:
        click(b, "#cell-" + c["id"])
        opened = b.js(OPEN)
        if not check(opened == ["log-" + c["id"]], "%s: clicking %s opened "
                     "%s" % (name, c["id"], opened)):
            continue
        shown = b.js("return document.getElementById(arguments[0])"
                     ".innerText;", "log-" + c["id"])
        pressed = b.js("return document.getElementById(arguments[0])"
                       ".getAttribute('aria-pressed');", "cell-" + c["id"])
        check(pressed == "true", "%s: cell %s not marked chosen" % (name,
                                                                   c["id"]))
        expected = [c["detail"], c["hint"]]
        if c["wire"]:
            expected += [c["wire"][0]["text"], c["wire"][-1]["text"]]
        for piece in expected:
            check(" ".join(piece.split()) in " ".join(shown.split()),
                  "%s: the panel of %s does not show %r" % (name, c["id"],
                                                            piece[:60]))
    last = doc["cases"][-1]["id"]
    b.open("file://%s#case=%s" % (path, last))
    b.wait("%s: #case=%s" % (name, last), "return !document.getElementById("
           "arguments[0]).hidden;", "log-" + last)


def screenshot(b, doc):
    failing = [c["id"] for c in doc["cases"] if c["verdict"] == "fail"]
    path = os.path.abspath(os.path.join(OUT, "gallery-short_write.html"))
    b.open("file://%s#case=%s" % (path, failing[0]))
    b.wait("the failing case open", "return !document.getElementById("
           "arguments[0]).hidden;", "log-" + failing[0])
    png = b.screenshot()
    with open(os.path.join(OUT, "report.png"), "wb") as f:
        f.write(png)
    _, _, rows = png_pixels(png)
    pink = sum(1 for row in rows for px in row
               if all(abs(a - b_) <= 3 for a, b_ in zip(px, FAIL_PINK)))
    check(pink > 500, "the screenshot shows no failing cell (%d pixels of "
          "its colour)" % pink)


def main():
    why = cannot_have()
    if why:
        print("FAIL: " + why, file=sys.stderr)
        return 1
    docs = {name: ensure(name) for name in REPORTS}
    check(any(c["verdict"] == "fail"
              for c in docs["gallery-short_write"]["cases"]),
          "short_write's report has no failure to show")
    b = Browser()
    try:
        for name in REPORTS:
            check_report(b, name, docs[name])
        screenshot(b, docs["gallery-short_write"])
    except BrowserError as e:
        check(False, str(e))
    finally:
        b.close()
    print("test_html: %d reports, %d failures" % (len(REPORTS),
                                                   len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
