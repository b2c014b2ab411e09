"""report_html.py - --html: the run as one self-contained page.

The cases are a grid of cells coloured by verdict, in the order they
ran; clicking one (or pressing Enter on it) opens its panel: what it
checks, what was seen, the hint and the wire log.  #case=ID in the
address opens that case.  The page is plain HTML with a little CSS and
script inline, and loads nothing: it can be mailed, attached to a CI run
or opened from disk.  Every case's panel is in the page (hidden until
chosen), so it reads without script too, in a browser's reader or by
search.
"""

import html

from .report_text import ARROWS

ARROWS_HTML = {"send": "&rarr;", "recv": "&larr;", "event": "&middot;",
               "note": "#", "gap": ""}

STYLE = """
body { font: 15px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d1d1f;
       background: #fafafa; }
h1 { font-size: 1.4rem; margin: 0 0 .3rem; }
.run { color: #555; margin: 0 0 .6rem; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: .7rem;
         font-size: .85rem; font-weight: 600; margin-right: .3rem; }
.pass { background: #d8f3dc; color: #1b4332; }
.fail { background: #ffccd5; color: #7d0a1e; }
.non-strict { background: #fff3bf; color: #6b4e00; }
.info { background: #d0ebff; color: #0b3d66; }
.unsupported { background: #e5dbff; color: #3b1f7a; }
#grid { display: grid; gap: .4rem; margin: 1rem 0;
        grid-template-columns: repeat(auto-fill, minmax(12rem, 1fr)); }
.cell { text-align: left; border: 1px solid rgba(0,0,0,.12);
        border-radius: .4rem; padding: .4rem .6rem; cursor: pointer;
        font: inherit; }
.cell .id { display: block; font-family: ui-monospace, monospace;
            font-weight: 600; }
.cell .v { font-size: .8rem; text-transform: uppercase; }
.cell .t { float: right; font-size: .8rem; color: #555; }
.cell[aria-pressed="true"] { outline: 3px solid #1d1d1f; }
#detail { background: #fff; border: 1px solid #ddd; border-radius: .4rem;
          padding: .8rem 1rem; }
#detail h2 { font-size: 1.15rem; margin: 0 0 .4rem; font-family:
             ui-monospace, monospace; }
.hint { background: #fff8e1; border-left: 4px solid #e0a800;
        padding: .3rem .6rem; }
.facts dt { font-weight: 600; float: left; clear: left; width: 12rem; }
.facts dd { margin-left: 12.5rem; }
table.wire { border-collapse: collapse; font: 13px/1.35 ui-monospace,
             monospace; width: 100%; margin-top: .6rem; }
table.wire td { padding: .05rem .5rem; vertical-align: top;
                border-bottom: 1px solid #f0f0f0; white-space: pre-wrap;
                word-break: break-all; }
table.wire td.t { text-align: right; color: #555; white-space: nowrap; }
tr.send td.d { color: #0b5ed7; } tr.recv td.d { color: #198754; }
tr.note td { color: #6c757d; font-style: italic; }
tr.gap td { color: #999; text-align: center; }
"""

SCRIPT = """
(function () {
  var cells = document.querySelectorAll('#grid .cell');
  function show(id) {
    var log = document.getElementById('log-' + id);
    if (!log) return;
    document.querySelectorAll('#detail .log').forEach(function (l) {
      l.hidden = l !== log;
    });
    document.getElementById('placeholder').hidden = true;
    cells.forEach(function (c) {
      c.setAttribute('aria-pressed', c.dataset.case === id ? 'true' : 'false');
    });
    if (history.replaceState) history.replaceState(null, '', '#case=' + id);
  }
  cells.forEach(function (c) {
    c.addEventListener('click', function () { show(c.dataset.case); });
  });
  var m = /^#case=(.+)$/.exec(location.hash);
  if (m) show(decodeURIComponent(m[1]));
})();
"""


def _e(text):
    return html.escape(str(text), quote=True)


def _cell(rec):
    v = rec["verdict"]
    return ('<button type="button" class="cell %s" id="cell-%s" '
            'data-case="%s" aria-pressed="false" title="%s">'
            '<span class="id">%s</span><span class="v">%s</span>'
            '<span class="t">%.2f s</span></button>' % (
                v, _e(rec["id"]), _e(rec["id"]), _e(rec["summary"]),
                _e(rec["id"]), _e(v), rec["seconds"]))


def _wire_rows(entries):
    rows = []
    for e in entries:
        t = "" if e["t"] is None else "%.3f" % e["t"]
        rows.append('<tr class="%s"><td class="t">%s</td><td>%s</td>'
                    '<td class="d" title="%s">%s</td><td>%s</td></tr>' % (
                        e["dir"], t, _e(e["conn"]), _e(ARROWS[e["dir"]]),
                        ARROWS_HTML[e["dir"]], _e(e["text"])))
    return "\n".join(rows)


def _panel(rec):
    v = rec["verdict"]
    parts = ['<article class="log" id="log-%s" hidden>' % _e(rec["id"]),
             '<h2>%s <span class="badge %s">%s</span></h2>' % (
                 _e(rec["id"]), v, _e(v.upper())),
             '<p class="summary">%s <small>(profiles: %s; %.2f s)</small></p>'
             % (_e(rec["summary"]), _e(", ".join(rec["profiles"])),
                rec["seconds"]),
             '<p class="seen">%s</p>' % _e(rec["detail"])]
    if rec["hint"]:
        parts.append('<p class="hint"><b>hint:</b> %s</p>' % _e(rec["hint"]))
    if rec["facts"]:
        parts.append('<dl class="facts">%s</dl>' % "".join(
            "<dt>%s</dt><dd>%s</dd>" % (_e(k), _e(v))
            for k, v in sorted(rec["facts"].items())))
    parts.append('<table class="wire"><tbody>\n%s\n</tbody></table>'
                 % _wire_rows(rec["wire"]))
    parts.append("</article>")
    return "\n".join(parts)


def page(doc):
    s = doc["summary"]
    model = next((c["facts"].get("model") for c in doc["cases"]
                  if c["id"] == "model" and c["facts"].get("model")), None)
    counts = "".join('<span class="badge %s">%d %s</span>' % (v, s[v], v)
                     for v in ("pass", "fail", "non-strict", "info",
                               "unsupported"))
    head = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>echocheck: %s (%s)</title>" % (_e(doc["target"]),
                                                _e(doc["profile"])),
        "<style>%s</style></head><body>" % STYLE,
        "<header><h1>echocheck: %s</h1>" % _e(doc["target"]),
        '<p class="run">profile <b>%s</b> &middot; %d cases in %.1f s '
        "&middot; echocheck %s &middot; %s%s</p>" % (
            _e(doc["profile"]), s["total"], s["seconds"], _e(doc["version"]),
            _e(doc["started"]), " &middot; server: <code>%s</code>" %
            _e(doc["command"]) if doc.get("command") else ""),
        '<p class="counts">%s</p>' % counts,
    ]
    if model:
        head.append('<p class="model">I/O model: <b>%s</b></p>' % _e(model))
    body = ["</header><main>",
            '<section id="grid" aria-label="cases">',
            "\n".join(_cell(c) for c in doc["cases"]),
            "</section>",
            '<section id="detail"><p id="placeholder">Choose a case to see '
            "what it checks, what was seen and its wire log.</p>",
            "\n".join(_panel(c) for c in doc["cases"]),
            "</section></main>",
            "<script>%s</script>" % SCRIPT,
            "</body></html>"]
    return "\n".join(head + body) + "\n"


def write_html(path, doc):
    with open(path, "w", encoding="utf-8") as f:
        f.write(page(doc))
