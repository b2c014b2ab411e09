/*
 * workers.h - --workers N: N worker processes, each a complete server with
 * its own event loop, on the same port; the parent only supervises.
 *
 * Users who outgrow one core do what nginx and memcached do: one event
 * loop per core, the kernel spreading the connections (SO_REUSEPORT).  -c
 * is per worker, so capacity is N x the ceiling; --max-per-addr counts
 * over the whole server.  Log and trace lines name the worker
 * ("echoserv[2]: ..."); the parent prints the one summary.
 */
#ifndef ECHOSERV_WORKERS_H
#define ECHOSERV_WORKERS_H

#include <stdbool.h>
#include <sys/socket.h>

#include "startup.h"

/* The most workers. */
#define WORKERS_MAX 64

/*
 * Run st->opt.workers workers, each calling serve(st) with its own
 * sockets, restarting any that dies abnormally (with back-off, logged),
 * passing SIGTERM/SIGINT (and SIGUSR1) on, until every worker has ended
 * after a stop signal.  Returns the exit status: 0, or 1 if a second
 * signal abandoned the drain or a worker failed.
 */
int workers_run(struct startup *st, int (*serve)(struct startup *));

/* In a worker whose loop watches st->handoff_fd: take one client another
 * worker handed over, its socket in *fd (-1 if the message held none) and
 * its peer's address in *addr.  false when none is waiting. */
bool workers_receive(int handoff_fd, int *fd, struct sockaddr_storage *addr);

#endif
