#!/usr/bin/env python3
"""test_servers.py BUILD [PATTERN] - echocheck against real servers.

Every Run of expectations.py (the kit's servers under the profiles they
must pass, the gallery of broken servers, --expect-model) is one
invocation of BUILD/echocheck, the installed form of the tool, with
--server, --json, --junit and --html.  For each:

  - the exit status is 1 when a case failed and 0 otherwise;
  - the JSON has every case of the profile (or of --cases), in order,
    each with an id and a lower-case verdict, and a summary that counts
    them;
  - the cases that FAIL are exactly the expected ones, and so are the
    NON-STRICT ones; the model, where one is expected, is the one named;
  - the JUnit file parses (xml.etree) and says the same: one testcase per
    case, a failure element exactly for the failures, skipped for
    UNSUPPORTED.

Runs go four at a time (each is mostly waiting on sockets); every run is
bounded (RUN_LIMIT) and stopped by its pid if it overruns.  The reports
stay in BUILD/echocheck-reports/ (test_html.py opens two of them).
PATTERN (fnmatch) picks runs by name.  With ECHOCHECK_ALL=1 in the
environment the extended runs are added (expectations.extended_runs():
the comparison servers under raw, and their known gaps).
"""

import fnmatch
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import expectations  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
PATTERN = sys.argv[2] if len(sys.argv) > 2 else "*"
ECHOCHECK = os.path.join(BUILD, "echocheck")
OUT = os.path.join(BUILD, "echocheck-reports")
JOBS = 4
RUN_LIMIT = 150  # seconds; a default run takes well under a minute
VERDICTS = {"pass", "fail", "non-strict", "info", "unsupported"}

failures = []


def fail(run, what):
    failures.append("%s: %s" % (run.name, what))
    print("FAIL: %s: %s" % (run.name, what), file=sys.stderr)


def profile_cases(profile):
    out = subprocess.run([ECHOCHECK, "--list", "--profile", profile],
                         stdout=subprocess.PIPE, check=True, timeout=30,
                         universal_newlines=True).stdout
    return [line.split()[0] for line in out.splitlines()]


class Job:
    def __init__(self, run):
        self.run = run
        self.out = os.path.join(OUT, run.name)
        for ext in (".json", ".xml", ".html"):
            if os.path.exists(self.out + ext):
                os.unlink(self.out + ext)
        self.log = open(self.out + ".log", "w")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(run.argv(ECHOCHECK, self.out),
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        self.overran = False

    def poll(self):
        if self.proc.poll() is not None:
            return True
        if time.monotonic() - self.started > RUN_LIMIT:
            self.overran = True
            self.proc.send_signal(signal.SIGTERM)  # echocheck stops its server
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            return True
        return False


def check_junit(run, doc, path):
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        fail(run, "JUnit file does not parse: %s" % e)
        return
    suites = root.findall("testsuite")
    if root.tag != "testsuites" or len(suites) != 1:
        fail(run, "JUnit: expected <testsuites> holding one <testsuite>")
        return
    suite = suites[0]
    cases = suite.findall("testcase")
    names = [c.get("name") for c in cases]
    if names != [c["id"] for c in doc["cases"]]:
        fail(run, "JUnit testcases %s differ from the JSON's" % names)
    if suite.get("tests") != str(len(doc["cases"])) or \
            suite.get("failures") != str(doc["summary"]["fail"]):
        fail(run, "JUnit counts tests=%s failures=%s, JSON says %d, %d" % (
            suite.get("tests"), suite.get("failures"), len(doc["cases"]),
            doc["summary"]["fail"]))
    for tc, c in zip(cases, doc["cases"]):
        has_failure = tc.find("failure") is not None
        has_skipped = tc.find("skipped") is not None
        if has_failure != (c["verdict"] == "fail") or \
                has_skipped != (c["verdict"] == "unsupported"):
            fail(run, "JUnit testcase %s does not match verdict %s" % (
                c["id"], c["verdict"]))


def unavailable(run, job):
    why = expectations.MAY_BE_UNAVAILABLE.get(run.name.rsplit("-", 1)[0])
    if not why:
        return False
    with open(job.out + ".log") as f:
        return why in f.read()


def check(job, wanted_ids):
    before = len(failures)
    run = job.run
    code = job.proc.returncode
    if job.overran:
        fail(run, "still running after %d s: stopped" % RUN_LIMIT)
        return
    if unavailable(run, job):
        print("note: %s: unavailable here (%s), not checked" % (
            run.name, expectations.MAY_BE_UNAVAILABLE[run.name.rsplit(
                "-", 1)[0]]))
        return
    try:
        with open(job.out + ".json") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        fail(run, "no JSON report (exit %s): %s" % (code, e))
        return
    ids = [c["id"] for c in doc["cases"]]
    if ids != wanted_ids:
        fail(run, "cases %s, expected %s" % (ids, wanted_ids))
    for c in doc["cases"]:
        if c["verdict"] not in VERDICTS:
            fail(run, "case %s has verdict %r" % (c["id"], c["verdict"]))
    counts = {v: sum(1 for c in doc["cases"] if c["verdict"] == v)
              for v in VERDICTS}
    s = doc["summary"]
    if any(s[v] != counts[v] for v in VERDICTS) or s["total"] != len(ids):
        fail(run, "summary %s does not count the cases %s" % (s, counts))
    got_fail = {c["id"] for c in doc["cases"] if c["verdict"] == "fail"}
    got_ns = {c["id"] for c in doc["cases"] if c["verdict"] == "non-strict"}
    if got_fail != run.fail:
        details = "; ".join("%s: %s" % (c["id"], c["detail"])
                            for c in doc["cases"] if c["id"] in
                            got_fail ^ run.fail)
        fail(run, "failed %s, expected %s (%s)" % (sorted(got_fail),
                                                   sorted(run.fail), details))
    if got_ns != run.non_strict:
        fail(run, "non-strict %s, expected %s" % (sorted(got_ns),
                                                  sorted(run.non_strict)))
    want_code = 1 if got_fail else 0
    if code != want_code:
        fail(run, "exit status %s with %d failures, expected %d" % (
            code, len(got_fail), want_code))
    if run.model:
        model = [c for c in doc["cases"] if c["id"] == "model"]
        named = model[0]["facts"].get("model") if model else None
        if named != run.model:
            fail(run, "model named %r, expected %r" % (named, run.model))
    check_junit(run, doc, job.out + ".xml")
    if not os.path.getsize(job.out + ".html"):
        fail(run, "empty HTML report")
    if len(failures) == before:
        print("ok: %-36s %5.1f s  %s" % (run.name, s["seconds"], run.what))


def main():
    if not os.access(ECHOCHECK, os.X_OK):
        print("FAIL: %s is not built (make programs)" % ECHOCHECK,
              file=sys.stderr)
        return 1
    os.makedirs(OUT, exist_ok=True)
    runs = expectations.kit_runs(BUILD) + expectations.gallery_runs(BUILD) \
        + expectations.model_runs(BUILD)
    if os.environ.get("ECHOCHECK_ALL"):
        runs += expectations.extended_runs(BUILD)
    runs = [r for r in runs if fnmatch.fnmatchcase(r.name, PATTERN)]
    # The longest first (whole profiles, then those that fail by waiting
    # out timeouts), so that the short ones fill in around them.
    runs.sort(key=lambda r: (r.cases is not None, -len(r.fail)))
    listed = {p: profile_cases(p) for p in ("raw", "line", "echoserv")}
    assert listed["line"] == expectations.LINE_CASES, listed["line"]
    start = time.monotonic()
    pending, running = list(runs), []
    while pending or running:
        while pending and len(running) < JOBS:
            running.append(Job(pending.pop(0)))
        time.sleep(0.2)
        for job in [j for j in running if j.poll()]:
            running.remove(job)
            job.log.close()
            run = job.run
            wanted = [c for c in listed[run.profile]
                      if run.cases is None or c in run.cases]
            check(job, wanted)
    print("test_servers: %d runs, %d failures, %.0f s" % (
        len(runs), len(failures), time.monotonic() - start))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
