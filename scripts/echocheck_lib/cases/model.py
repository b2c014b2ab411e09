"""model.py - the server's I/O model, named from /proc (procfs.py), with
--pid PID or for a server echocheck started; --expect-model makes it a
pass or a failure instead of information.
"""

import os
import time

from .. import procfs
from ..registry import ALL, case
from ..verdict import failed, info, passed, unsupported

HELD = 8

EXPECT_HINTS = {
    "event-loop": "the assignment asks for one thread waiting for many "
    "sockets at once (select, poll, epoll...) over nonblocking sockets",
    "threads": "the assignment asks for a thread per client (pthread_create "
    "after accept)",
    "processes": "the assignment asks for a process per client (fork after "
    "accept)",
}


@case("model", ALL, "the server's I/O model, named from /proc: threads, "
      "child processes, event descriptors, O_NONBLOCK, where it waits",
      needs_echo=False)
def model(ctx):
    pid = ctx.settings.pid
    expect = ctx.settings.expect_model
    if not pid:
        return info("not checked: give --pid PID (the server's process, on "
                    "this machine) or start it with --server")
    if not os.path.isdir("/proc/%d/task" % pid):
        return unsupported("no /proc/%d here: the model is read from Linux's "
                           "/proc, on the machine the server runs on" % pid)
    port = ctx.target.port
    idle = procfs.Sample(pid, port)
    fleet = ctx.fleet()
    try:
        peers = fleet.connect(min(HELD, ctx.budget()))
    except Exception as e:  # ConnectFailed: hold what we have
        peers = getattr(e, "made", [])
    for i, p in enumerate(peers):
        p.queue(b"model %d\n" % i)
    fleet.run(lambda: all(p.lines() or p.end for p in peers),
              min(2.0, ctx.timeout))
    # Threads and children may start a moment later, and helper threads
    # come and go: three looks, the one with the most of them kept.
    looks = []
    for _ in range(3):
        time.sleep(0.2)
        looks.append(procfs.Sample(pid, port))
    busy = max(looks, key=lambda s: (len(s.children), len(s.threads)))
    name, how, reason = procfs.name_model(idle, busy, len(peers))
    facts = procfs.describe(busy)
    facts["model"] = "%s (%s)" % (name, how) if how else name
    if busy.problems:
        facts["problems"] = "; ".join(busy.problems)
    if not any(fd["role"] == "listening" for fd in busy.fds) and busy.fds:
        facts["warning"] = ("no descriptor of pid %d listens on port %d: is "
                            "it the server's pid?" % (pid, port))
    for k, v in sorted(facts.items()):
        ctx.note("%s: %s" % (k, v))
    summary = "%s: %s" % (facts["model"], reason)
    if name == "unknown":
        return unsupported("the model could not be read: " + reason,
                           **facts)
    if not expect:
        return info(summary, **facts)
    if name == expect:
        return passed("expected %s; found %s" % (expect, summary), **facts)
    return failed("expected %s; found %s" % (expect, summary),
                  "%s; this server is %s" % (EXPECT_HINTS[expect],
                                             facts["model"]),
                  **facts)
