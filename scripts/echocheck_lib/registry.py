"""registry.py - the list of cases, and the runner that bounds each one.

A case is a function decorated with @case(ID, PROFILES, SUMMARY): it gets
a Context and returns a Result (verdict.py).  IDs are stable: reports,
graders and the tests name cases by them, so an ID is never reused for a
different check.  Cases run in the order they are defined, modules in the
order cases/__init__ imports them: framing first, the load last, so that
a server that dies under load has answered the simple questions already.

Each case has a time limit; the Context hands every wait a timeout cut to
the case's deadline, so no case can run past it.  After each case the
runner asks whether the server process (when echocheck knows it) is still
there: a case during which it died fails, whatever the case saw, and the
cases after it fail at once without waiting on a dead server.
"""

import time
import traceback

from . import verdict
from .fleet import Fleet
from .verdict import FAIL, Result, Stop, compare
from .wire import Conn, ConnectFailed, Wire

PROFILES = ("raw", "line", "echoserv")
LINE = ("line", "echoserv")
ALL = PROFILES


class Case:
    def __init__(self, cid, profiles, summary, fn, limit, needs_echo,
                 ends_server, settle):
        self.id = cid
        self.profiles = tuple(profiles)
        self.summary = summary
        self.fn = fn
        self.limit = limit
        self.needs_echo = needs_echo
        self.ends_server = ends_server
        self.settle = settle


CASES = []


def case(cid, profiles, summary, limit=20, needs_echo=True,
         ends_server=False, settle=0.0):
    """Register fn as case cid.  limit: seconds it may take at most
    (besides the settings' --timeout, which a case may wait once or
    twice); needs_echo: skip it (fail at once) when the server has not
    echoed even one line; ends_server: the case stops the server itself,
    so its ending is no crash; settle: seconds to pause after it, for
    the server to finish closing the many connections it opened."""
    assert all(p in PROFILES for p in profiles), profiles

    def register(fn):
        assert all(c.id != cid for c in CASES), "duplicate case " + cid
        CASES.append(Case(cid, profiles, summary, fn, limit, needs_echo,
                          ends_server, settle))
        return fn
    return register


def cases_for(profile):
    from . import cases  # noqa: F401  (registers them all)
    return [c for c in CASES if profile in c.profiles]


class Context:
    """What a case works with: the target, the settings, its wire log, a
    deadline, and what earlier cases left for later ones (shared)."""

    def __init__(self, case, settings, target, watch, shared):
        self.case = case
        self.settings = settings
        self.target = target
        self.watch = watch
        self.shared = shared
        self.profile = settings.profile
        self.raw = settings.profile == "raw"
        self.timeout = settings.timeout
        self.wire = Wire()
        self.started = time.monotonic()
        # A case may wait for a reply a couple of times on top of its own
        # work; the bound allows for that, so a slow server fails by what
        # it did, not by the clock of the case.
        self.deadline = self.started + case.limit + 2 * settings.timeout
        self.open = []

    def wait(self, seconds):
        """seconds, cut to what is left before the deadline."""
        return max(0.001, min(seconds, self.deadline - time.monotonic()))

    def left(self):
        return self.deadline - time.monotonic()

    def budget(self):
        """How many connections a case may hold at once: --max-conns, and
        --max-per-addr when given (every connection comes from one
        address)."""
        n = self.settings.max_conns
        if self.settings.max_per_addr:
            n = min(n, self.settings.max_per_addr)
        return n

    def too_few(self, needed):
        """An INFO result when the budget is below needed, else None."""
        if self.budget() >= needed:
            return None
        return verdict.info(
            "not checked: needs %d connections at once, more than %s allows "
            "(check it in a run without that limit)" % (
                needed, "--max-per-addr %d" % self.settings.max_per_addr
                if self.settings.max_per_addr and
                self.settings.max_per_addr < self.settings.max_conns
                else "--max-conns %d" % self.settings.max_conns))

    def track(self, thing):
        self.open.append(thing)

    def connect(self, **kw):
        return Conn(self, **kw)

    def fleet(self, log=True):
        return Fleet(self, log=log)

    def compare(self, want, got):
        """compare() with line-end tolerance in the line profiles."""
        return compare(want, got, tolerant=not self.raw)

    def note(self, text):
        self.wire.note(text)

    def close_all(self):
        for thing in self.open:
            thing.close_quietly()
        self.open = []


def run_case(c, settings, target, watch, shared):
    """Run one case; returns its record (a dict the reports read)."""
    ctx = Context(c, settings, target, watch, shared)
    gone = watch.gone() if watch else ""
    if gone:
        result = verdict.failed("not run: the server is gone (%s)" % gone,
                                "it died during an earlier case: see the "
                                "first case that failed")
    elif c.needs_echo and shared.get("no_echo"):
        result = verdict.failed("not run: " + shared["no_echo"],
                                "make one line come back first (case "
                                "%s)" % shared["first_case"])
    else:
        result = _call(c, ctx)
        gone = watch.gone() if watch and not c.ends_server else ""
        if gone:
            result = verdict.failed(
                "the server process ended during this case (%s); the case "
                "had seen: %s" % (gone, result.detail),
                "a crash or an exit on what this case's clients did (see "
                "the wire log): a signal (SIGPIPE, SIGSEGV, abort) or an "
                "exit() on a client's error")
    ctx.close_all()
    seconds = time.monotonic() - ctx.started
    if c.settle:
        time.sleep(c.settle)
    return {
        "id": c.id,
        "verdict": result.verdict,
        "summary": c.summary,
        "profiles": list(c.profiles),
        "detail": result.detail,
        "hint": result.hint,
        "seconds": round(seconds, 3),
        "facts": result.facts,
        "wire": ctx.wire.entries(),
    }


def _call(c, ctx):
    try:
        result = c.fn(ctx)
        assert isinstance(result, Result), "case %s returned %r" % (c.id,
                                                                    result)
        return result
    except Stop as s:
        return s.result
    except ConnectFailed as e:
        return verdict.failed(str(e), "the server did not take a new "
                              "connection: it has exited, stopped "
                              "accepting, or its listen queue is full "
                              "while it is busy with another client")
    except Exception:  # a bug in echocheck: say so, do not blame the server
        ctx.note("echocheck error:\n" + traceback.format_exc())
        return Result(FAIL, "echocheck itself failed in this case (its "
                      "traceback is in the wire log): please report it",
                      "not the server's fault, as far as is known")


def run_all(cases, settings, target, watch, on_record):
    """Run cases in order; on_record(record) after each.  Returns the
    records."""
    shared = {}
    records = []
    for c in cases:
        rec = run_case(c, settings, target, watch, shared)
        records.append(rec)
        on_record(rec)
    return records


def summarize(records, seconds):
    counts = {v: 0 for v in verdict.VERDICTS}
    for r in records:
        counts[r["verdict"]] += 1
    counts["total"] = len(records)
    counts["seconds"] = round(seconds, 2)
    return counts
