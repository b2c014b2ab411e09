/*
 * nonblocking_client.h - the moves of one client on a nonblocking socket,
 * for the comparison servers that wait for readiness (poll, epoll,
 * nonblocking polling, signal-driven I/O).  The same moves as echoserv's
 * server.c: one read per readiness (fairness), then an optimistic write of
 * the replies, and writes until the socket is full while WRITING.
 *
 * The loop that owns the client decides what to wait for from
 * c->session.state: READING wants readability, WRITING writability, and
 * DONE means client_end().
 */
#ifndef BENCH_NONBLOCKING_CLIENT_H
#define BENCH_NONBLOCKING_CLIENT_H

#include <stdbool.h>

#include "clients.h"

/*
 * The socket is (or may be) readable: read once, then try to send the
 * replies.  Returns false when the socket said EAGAIN, i.e. it has been
 * drained and only a new readiness event can make it worth trying again.
 */
bool nb_on_readable(struct client *c);

/* The socket is (or may be) writable: send what is owed until done or the
 * socket is full.  Returns false when it was full (EAGAIN or a partial
 * write). */
bool nb_on_writable(struct client *c);

#endif
