#!/usr/bin/env python3
"""big_trace.py OUT [ROUNDS] - write a synthetic -T trace of ROUNDS rounds
(default 100000), shaped like a benchmark run: four clients with pipelined
lines, now and then a partial write and a round of backpressure, then
every client says quit.  The viewer's tests use it to check that a big
trace opens and steps quickly; its shape is fixed so they can compute what
any round shows."""

import sys

CLIENTS = (7, 8, 9, 10)
LISTEN, PIPE = 3, 4


def rounds(total, probe=None):
    """Yield the lines of the trace, round by round.  probe, a dict whose
    keys are round numbers, receives for each of them what the generator
    meant the round to be: {"sets": {(set, when): fds}, "states": {fd:
    state at the end of the round}}, servers' own descriptors included."""
    probe = {} if probe is None else probe

    def note(n, reads, writes, ready_r, ready_w, states):
        if n in probe:
            full = {LISTEN: "LISTENING", PIPE: "SIGNAL_PIPE"}
            full.update(states)
            probe[n] = {"sets": {("read", "asked"): reads,
                                 ("write", "asked"): writes,
                                 ("read", "ready"): ready_r,
                                 ("write", "ready"): ready_w},
                        "states": full}

    yield "trace: echoserv 1.1.0 pid 4242 FD_SETSIZE 1024"
    yield "fd %d: listening socket 127.0.0.1:7777" % LISTEN
    yield "fd %d: signal pipe" % PIPE
    yield "echoserv: listening on 127.0.0.1:7777"
    n = 1
    yield "select: waiting  read={3,4} write={} timeout=none"
    yield "select: ready    read={3} write={}"
    for fd in CLIENTS:
        yield "fd 3: accepted fd %d from 127.0.0.1:%d" % (fd, 40000 + fd)
    note(1, [3, 4], [], [3], [], {fd: "READING" for fd in CLIENTS})
    writing = None  # the client held back by a partial write
    while n < total - 1:
        n += 1
        reads = [3, 4] + [fd for fd in CLIENTS if fd != writing]
        writes = [writing] if writing else []
        yield "select: waiting  read={%s} write={%s} timeout=300.0s" % (
            ",".join(map(str, reads)), ",".join(map(str, writes)))
        if writing:
            yield "select: ready    read={} write={%d}" % writing
            yield "fd %d: wrote 4000 of 4000 bytes" % writing
            yield "fd %d: WRITING -> READING" % writing
            note(n, reads, writes, [], writes,
                 {fd: "READING" for fd in CLIENTS})
            writing = None
            continue
        ready = [CLIENTS[n % 4], CLIENTS[(n + 1) % 4]]
        yield "select: ready    read={%s} write={}" % ",".join(map(str, ready))
        for fd in ready:
            yield "fd %d: read 64 bytes" % fd
            yield "fd %d: READING -> WRITING (4 lines)" % fd
            if n % 97 == 0 and writing is None:
                yield "fd %d: wrote 60 of 64 bytes (partial)" % fd
                writing = fd
            else:
                yield "fd %d: wrote 64 of 64 bytes" % fd
                yield "fd %d: WRITING -> READING" % fd
        note(n, reads, writes, sorted(ready), [],
             {fd: "WRITING" if fd == writing else "READING"
              for fd in CLIENTS})
    yield "select: waiting  read={3,4,7,8,9,10} write={} timeout=300.0s"
    yield "select: ready    read={7,8,9,10} write={}"
    for fd in CLIENTS:
        yield "fd %d: read 5 bytes" % fd
        yield "fd %d: READING -> DONE (quit)" % fd
        yield "fd %d: DONE -> CLOSED" % fd
    note(n + 1, [3, 4] + list(CLIENTS), [], list(CLIENTS), [],
         {fd: "CLOSED" for fd in CLIENTS})


def main(argv):
    total = int(argv[2]) if len(argv) > 2 else 100000
    with open(argv[1], "w") as f:
        for line in rounds(total):
            f.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
