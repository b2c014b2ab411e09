"""report_json.py - the machine-readable reports: --json and --junit.

The JSON document is the whole run:

  {"tool": "echocheck", "version": ..., "target": "127.0.0.1:7777",
   "profile": "line", "settings": {...}, "started": ISO 8601 UTC,
   "cases": [{"id", "verdict" (lower case), "summary", "profiles",
              "detail", "hint", "seconds", "facts", "wire": [...]}],
   "summary": {"pass": N, "fail": N, "non-strict": N, "info": N,
               "unsupported": N, "total": N, "seconds": S}}

The JUnit file is one testsuite named after the profile, one testcase per
case: a failure for FAIL, skipped for UNSUPPORTED, a pass otherwise (with
what was seen in system-out, NON-STRICT and INFO included), so that CI
systems count failures the way echocheck does.
"""

import json
import re
import xml.etree.ElementTree as ET

from .report_text import wire_lines

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def document(run, records, summary):
    return {
        "tool": "echocheck",
        "version": run["version"],
        "target": run["target"],
        "profile": run["profile"],
        "command": run.get("command"),
        "settings": run["settings"],
        "started": run["started"],
        "cases": records,
        "summary": summary,
    }


def write_json(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def _clean(text):
    return _NOT_XML.sub("?", text)


def junit_tree(doc):
    s = doc["summary"]
    suite_name = "echocheck.%s" % doc["profile"]
    root = ET.Element("testsuites", name="echocheck", tests=str(s["total"]),
                      failures=str(s["fail"]), errors="0",
                      skipped=str(s["unsupported"]), time=str(s["seconds"]))
    suite = ET.SubElement(root, "testsuite", name=suite_name,
                          tests=str(s["total"]), failures=str(s["fail"]),
                          errors="0", skipped=str(s["unsupported"]),
                          time=str(s["seconds"]), timestamp=doc["started"])
    props = ET.SubElement(suite, "properties")
    for k, v in (("target", doc["target"]), ("profile", doc["profile"]),
                 ("version", doc["version"])):
        ET.SubElement(props, "property", name=k, value=_clean(str(v)))
    for c in doc["cases"]:
        tc = ET.SubElement(suite, "testcase", classname=suite_name,
                           name=c["id"], time=str(c["seconds"]))
        log = "\n".join(wire_lines(c["wire"]))
        if c["verdict"] == "fail":
            f = ET.SubElement(tc, "failure", message=_clean(c["detail"]),
                              type="fail")
            f.text = _clean("%s\nhint: %s\n\n%s" % (c["detail"], c["hint"],
                                                    log))
        elif c["verdict"] == "unsupported":
            ET.SubElement(tc, "skipped", message=_clean("unsupported: " +
                                                        c["detail"]))
        out = ET.SubElement(tc, "system-out")
        out.text = _clean("%s: %s\n%s\n\n%s" % (c["verdict"], c["summary"],
                                                c["detail"], log))
    return ET.ElementTree(root)


def write_junit(path, doc):
    tree = junit_tree(doc)
    if hasattr(ET, "indent"):
        ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
