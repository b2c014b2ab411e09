"""expectations.py - what echocheck must say about each server it is
tested on: the kit's servers (build/) and the gallery of broken ones
(tests/echocheck/*.c, built into build/tests/echocheck/).

Each Run is one echocheck invocation against one server started with
--server: which cases must FAIL (exactly that set), which must be
NON-STRICT (exactly that set), and, where echocheck can read the model
from /proc, the model it must name.  test_servers.py runs them all.
"""

import shutil

# The cases of the line profile that compare an echo (all but these three),
# which a server that rewrites LF as CR LF makes NON-STRICT.
LINE_CASES = ["line-one", "line-empty", "line-crlf", "line-pipelined",
              "line-byte-by-byte", "line-split-writes", "line-all-bytes",
              "line-max", "no-greeting", "eof-lines", "eof-partial",
              "close-delivers", "model", "clients-100", "non-reader",
              "slow-reader", "reset-mid-line", "reset-owed", "idle-1000",
              "churn-10000", "still-alive"]
NO_ECHO_COMPARED = {"no-greeting", "model", "churn-10000"}

# The cases of the echoserv profile beyond the line profile's.
ECHOSERV_ONLY = ["quit", "quit-crlf", "quit-lookalikes", "quit-eof",
                 "quit-discards", "too-long", "too-long-early",
                 "idle-timeout", "line-timeout", "server-full", "per-addr",
                 "shutdown-drain"]

# The iterative server serves one client at a time, by design: every case
# that needs two clients served at once fails, and that is the lesson.
ONE_AT_A_TIME = {"clients-100", "non-reader", "idle-1000"}

# KNOWN GAPS of the comparison servers that do not drive the connection
# core yet (docs/protocol.md section 6, "One connection core"): these cases
# of the contract fail for them.  They are not run for those servers; the
# loops over the core (CORE_LOOPS) have none, and run them.
KNOWN_GAPS = {
    # -t is accepted but not enforced by the event loops, threads, fork
    # and co (iterative's SO_RCVTIMEO does enforce it).
    "idle-timeout": "no idle timeout",
    # --line-timeout is accepted and ignored (docs/protocol.md section 6).
    "line-timeout": "no line timeout",
    # --max-per-addr is accepted and ignored.
    "per-addr": "no per-address limit",
    # On SIGTERM they close with the client's input unread (a reset, not a
    # FIN) instead of draining; iterative does not catch SIGTERM at all.
    "shutdown-drain": "no graceful drain",
}

# The event loops over the connection core: echoserv's policy is theirs,
# so the known gaps above are not gaps for them.
CORE_LOOPS = ["echoserv-poll", "echoserv-epoll", "echoserv-nonblock",
              "echoserv-sigio", "echoserv-threads", "echoserv-fork",
              "echoserv-co", "echoserv-aio", "echoserv-uring"]

COMPARISON = ["echoserv-poll", "echoserv-epoll", "echoserv-threads",
              "echoserv-fork", "echoserv-co", "echoserv-iterative",
              "echoserv-nonblock", "echoserv-sigio", "echoserv-aio",
              "echoserv-uring"]

# The model echocheck must name for each server of the kit (the model
# case's facts["model"]).  POSIX aio runs on glibc's helper threads, one
# per outstanding read, so /proc shows threads.
MODELS = {
    "echoserv": "event-loop (select)",
    "echoserv-poll": "event-loop (poll)",
    "echoserv-epoll": "event-loop (epoll)",
    "echoserv-threads": "threads (a thread per client)",
    "echoserv-fork": "processes (a process per client)",
    "echoserv-co": "event-loop (select)",
    # Over the connection core its one client's socket is nonblocking.
    "echoserv-iterative": "iterative (one client at a time)",
    "echoserv-nonblock": "event-loop (busy polling)",
    "echoserv-sigio": "event-loop (signal-driven I/O)",
    "echoserv-aio": "threads (a thread per client)",
    "echoserv-uring": "event-loop (io_uring)",
}

# Servers that may refuse to start where the kernel forbids what they use;
# the run is then reported as unavailable, not failed.
MAY_BE_UNAVAILABLE = {"echoserv-uring": "io_uring unavailable"}


class Run:
    def __init__(self, name, command, profile="line", options=(),
                 fail=(), non_strict=(), model=None, cases=None,
                 timeout=5, what=""):
        self.name = name
        self.command = command
        self.profile = profile
        self.options = list(options)
        self.fail = set(fail)
        self.non_strict = set(non_strict)
        self.model = model
        self.cases = cases
        self.timeout = timeout
        self.what = what

    def argv(self, echocheck, out):
        a = [echocheck, "--server", self.command, "--profile", self.profile,
             "--timeout", str(self.timeout), "--no-color", "-q",
             "--json", out + ".json", "--junit", out + ".xml",
             "--html", out + ".html"] + self.options
        if self.cases:
            a += ["--cases", ",".join(self.cases)]
        return a


def kit_runs(build):
    srv = "%s/%%s -q -b 127.0.0.1 %%s{PORT}" % build
    runs = [
        Run("echoserv-line", srv % ("echoserv", ""), model=MODELS["echoserv"],
            what="echoserv, line profile"),
        Run("echoserv-raw", srv % ("echoserv", "--raw "), "raw",
            model=MODELS["echoserv"], what="echoserv --raw, raw profile"),
        # The whole contract with echoserv's default timeouts (300 s and
        # 60 s: the timeout cases are INFO here) and a limit of 1001
        # clients, which server-full fills; the timeouts and the
        # per-address limit in runs of their own, short.
        Run("echoserv-echoserv", srv % ("echoserv", "-c 1001 "), "echoserv",
            ["--max-conns", "1001"], model=MODELS["echoserv"],
            what="echoserv, echoserv profile"),
        Run("echoserv-timeouts", srv % ("echoserv", "-t 2 --line-timeout 2 "),
            "echoserv", ["--idle-timeout", "2", "--line-timeout", "2"],
            cases=["idle-timeout", "line-timeout"],
            what="echoserv, echoserv profile: the timeouts"),
        Run("echoserv-per-addr", srv % ("echoserv", "--max-per-addr 4 "),
            "echoserv", ["--max-per-addr", "4"], cases=["per-addr"],
            what="echoserv, echoserv profile: the per-address limit"),
    ]
    for name in COMPARISON:
        one = name == "echoserv-iterative"
        runs.append(Run(name + "-line", srv % (name, ""), model=MODELS[name],
                        fail=ONE_AT_A_TIME if one else (),
                        timeout=3 if one else 5,
                        what=name + ", line profile"))
        # Under the echoserv profile, the cases beyond the line profile's
        # that do not need the connection core (KNOWN_GAPS).  Iterative
        # never turns a client away (it makes it wait), so server-full is
        # not for it; its socket timeouts do give it an idle timeout.
        cases = [c for c in ECHOSERV_ONLY if c not in KNOWN_GAPS]
        extra, options = "-c 100 ", ["--max-conns", "100"]
        if one:
            cases = [c for c in cases if c != "server-full"] + \
                ["idle-timeout"]
            extra, options = "-t 2 ", ["--idle-timeout", "2"]
        runs.append(Run(name + "-echoserv", srv % (name, extra), "echoserv",
                        options, cases=cases,
                        what=name + ", echoserv profile less the known gaps"))
        if name in CORE_LOOPS and name != "echoserv-nonblock":
            # The policy cases too: they share echoserv's core.  (Not
            # nonblock: it spins a core by design, and on this 2-core
            # machine the checker itself is then too slow for -t 2;
            # make policy-check runs echoserv's own suites against it.)
            runs.append(Run(
                name + "-policy",
                srv % (name, "-t 2 --line-timeout 2 --max-per-addr 4 "),
                "echoserv", ["--idle-timeout", "2", "--line-timeout", "2",
                             "--max-per-addr", "4"],
                cases=sorted(set(KNOWN_GAPS) - {"shutdown-drain"}),
                what=name + ", echoserv profile: the core's policy"))
            # The drain apart: lingerers of the cases before it count
            # toward 127.0.0.1 under --max-per-addr.
            runs.append(Run(
                name + "-drain", srv % (name, ""), "echoserv", [],
                cases=["shutdown-drain"],
                what=name + ", echoserv profile: the drain on SIGTERM"))
    return runs


def extended_runs(build):
    """Runs make check leaves out for time (ECHOCHECK_ALL=1 adds them):
    the comparison servers under the raw profile; the known gaps, which
    must still fail, each of them, until the core lands (then this says
    which to take off the list); and a server none of us wrote, socat
    with cat behind it, under raw (when socat is installed; its listen
    queue must be longer than its default of 5 for idle-1000)."""
    srv = "%s/%%s -q -b 127.0.0.1 %%s{PORT}" % build
    runs = []
    if shutil.which("socat"):
        runs.append(Run("socat-cat-raw", "socat TCP-LISTEN:{PORT},bind="
                        "127.0.0.1,reuseaddr,fork,backlog=1024 EXEC:cat",
                        "raw", model="processes (a process per client)",
                        what="socat ... EXEC:cat, raw profile"))
    for name in COMPARISON:
        one = name == "echoserv-iterative"
        runs.append(Run(name + "-raw", srv % (name, "--raw "), "raw",
                        fail=ONE_AT_A_TIME if one else (),
                        timeout=3 if one else 5, model=MODELS[name],
                        what=name + " --raw, raw profile"))
        if name in CORE_LOOPS:
            continue  # no gaps: the core's policy, run in kit_runs()
        gaps = set(KNOWN_GAPS) - ({"idle-timeout"} if one else set())
        runs.append(Run(name + "-gaps", srv % (
            name, "-t 2 --line-timeout 2 --max-per-addr 4 "), "echoserv",
            ["--idle-timeout", "2", "--line-timeout", "2",
             "--max-per-addr", "4"], cases=sorted(gaps), fail=gaps,
            timeout=2, what=name + ": the known gaps still fail"))
    return runs


# The gallery: the exact failures each broken server earns, and why.
GALLERY = {
    "correct": ((), "the control: no flaw, nothing may fail"),
    "blocking_write": ({"non-reader"}, "a blocking write stalls everyone"),
    "drop_partial": ({"eof-partial"}, "the last unterminated line dropped"),
    "one_at_a_time": (ONE_AT_A_TIME, "iterative: one client at a time"),
    "crlf": ((), "LF rewritten as CR LF: NON-STRICT, no failure"),
    "short_write": ({"close-delivers", "slow-reader"},
                    "a short write's rest dropped: lost as soon as the "
                    "client reads later than the server writes"),
    "no_drain": ({"close-delivers"}, "closes at end of input with replies "
                 "still queued"),
    "nul_truncate": ({"line-all-bytes"}, "strlen() on a line: cut at NUL"),
    "nul_crash": ({"line-all-bytes"}, "its process for the client crashes "
                  "on a NUL"),
    "small_buffer": ({"line-max"}, "a 1024-byte line buffer cuts longer "
                     "lines"),
    "shared_buffer": ({"clients-100", "non-reader"}, "one buffer for every "
                      "thread: clients talking at once get each other's "
                      "bytes"),
    # The 1,000th connection comes during idle-1000 (the cases before it
    # open about 150); from then on nothing new is served.
    "stop_accepting": ({"idle-1000", "churn-10000", "still-alive"},
                       "stops accepting after 1,000 connections"),
}
# Servers that fail by staying silent take a shorter reply timeout.
SILENT_FAILURES = {"blocking_write", "one_at_a_time", "stop_accepting"}


def gallery_runs(build):
    runs = []
    for name, (fail, what) in GALLERY.items():
        non_strict = set(LINE_CASES) - NO_ECHO_COMPARED \
            if name == "crlf" else ()
        runs.append(Run("gallery-" + name, "%s/tests/echocheck/%s {PORT}"
                        % (build, name), fail=fail, non_strict=non_strict,
                        timeout=3 if name in SILENT_FAILURES else 5,
                        what="%s: %s" % (name, what)))
    return runs


def model_runs(build):
    """--expect-model: a match passes, a mismatch fails the model case."""
    srv = "%s/%%s -q -b 127.0.0.1 {PORT}" % build
    out = []
    for name, expect, fails in (
            ("echoserv", "event-loop", False),
            ("echoserv-threads", "threads", False),
            ("echoserv-fork", "processes", False),
            ("echoserv-threads", "event-loop", True),
            ("echoserv-iterative", "event-loop", True)):
        out.append(Run("expect-%s-%s" % (name, expect), srv % name,
                       options=["--expect-model", expect], cases=["model"],
                       fail={"model"} if fails else (),
                       what="%s --expect-model %s" % (name, expect)))
    return out
