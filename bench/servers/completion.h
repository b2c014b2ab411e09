/*
 * completion.h - the completion adapter: how a completion-based loop
 * (echoserv-aio, echoserv-uring) drives the connection core.
 *
 * A readiness loop asks "which sockets may I read?" and lets the core do
 * the read.  A completion loop hands the kernel (or glibc) the read
 * itself, into the connection's buffer, and is told later that it is
 * done.  Between the two sits this adapter, the same for both:
 *
 *   issue      when the core says what c waits for (its watch hook), a
 *              read into conn_read_space() (or, lingering, into
 *              conn_discard_space()) or a write of conn_write_data():
 *              at most one request in flight per connection
 *   complete   the result goes to conn_read_done() or conn_write_done(),
 *              and the next request is issued
 *   switch     when the core changes what c waits for while its request
 *              is in flight (a timeout's notice is owed while a read
 *              waits), the mechanism is told to cancel it; the result
 *              of a request c no longer waits for is dropped
 *   release    a connection the core closed while its request was in
 *              flight is kept (c->in_flight) until that request is over,
 *              then handed to conn_release()
 *
 * Each server file then holds only its mechanism (struct completion_ops:
 * how a request starts, how one is cancelled) and its loop: how it
 * sleeps and how it learns what has completed.  Accepting, signals and
 * deadlines go through the core (completion_accept and the others below).
 */
#ifndef BENCH_COMPLETION_H
#define BENCH_COMPLETION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"

/* What a completion mechanism provides. */
struct completion_ops {
	/* Start c's read (what == CONN_WAIT_READ) of up to len bytes into
	 * buf, or its write of len bytes from buf; the result is handed to
	 * completion_done() later.  Returns 0, or -errno if it could not be
	 * started (then nothing will complete). */
	int (*start)(void *mech, struct connection *c, enum conn_wait what,
		     void *buf, size_t len);
	/* Make c's read in flight end soon: c waits for something else now.
	 * Its result still comes to completion_done(), and is dropped. */
	void (*cancel)(void *mech, struct connection *c);
	/* Hand every request the kernel has finished to completion_done()
	 * now: called before deadlines are judged, so a client whose result
	 * is waiting is not taken for idle (the core's last look at a
	 * socket, for a loop that does its own I/O). */
	void (*collect)(void *mech);
	/* c is about to be closed (optional): forget what the mechanism
	 * keeps of it apart from its request in flight, whose result must
	 * still come to completion_done() (io_uring's multishot receive,
	 * armed across requests, and the bytes it holds). */
	void (*closing)(void *mech, struct connection *c);
	/* The requests block in read() and write() (glibc's aio threads), so
	 * the sockets must be blocking while they are served. */
	bool blocking_sockets;
};

struct completion {
	struct conn_core core;
	const struct completion_ops *ops;
	void *mech;
	int signal_fd;
	/* Connections told to wait with no request in flight, whose first
	 * (or next) request is yet to be issued. */
	struct connection **to_issue;
	size_t nto_issue, to_issue_cap;
};

/*
 * Set up cl over the core for the policy cfg, the n listening sockets and
 * the self-pipe signal_fd (all from startup()), on descriptors below
 * table_size, with the mechanism ops over mech.  Returns 0, or -1 with
 * errno.
 */
int completion_init(struct completion *cl, const struct conn_config *cfg,
		    const struct listener *listeners, size_t n, int signal_fd,
		    size_t table_size, const struct completion_ops *ops,
		    void *mech);

/* c's request finished with res (bytes, or -errno): hand it to the core
 * and issue the next one, or release c if the core closed it meanwhile. */
void completion_done(struct completion *cl, struct connection *c, long res);

/* listen_fd is readable: accept a batch through the core.  Returns true
 * if the batch was used up (more may be waiting). */
bool completion_accept(struct completion *cl, int listen_fd);

/* For a mechanism that accepts by itself (io_uring): admit the client on
 * fd, accepted on listen_fd, through the core (conn_admit), and issue its
 * first read. */
void completion_admit(struct completion *cl, int listen_fd, int fd,
		      const struct sockaddr *addr);

/* The self-pipe is readable: SIGTERM begins the drain, ... (core). */
void completion_signals(struct completion *cl);

/* After the loop's wait and what it learned: the deadlines that have come
 * (conn_expire), once the mechanism has collected what has completed. */
void completion_expire(struct completion *cl);

/* How long the loop may sleep, in ns, from core.now: until the nearest
 * deadline (-1: no deadline), and never longer than cap_ns if cap_ns >= 0
 * (a mechanism that must look around now and then). */
int64_t completion_wait_ns(const struct completion *cl, int64_t cap_ns);

/* Should the loop stop: 1 with the drain over, 2 abandoned (exit 1), 0
 * not yet. */
int completion_over(const struct completion *cl);

/* With -T: the trace header and who the descriptors are. */
void completion_trace_start(const struct completion *cl);

/* The end: every connection closed (those with a request in flight are
 * left to the process's exit), the summary line logged. */
void completion_finish(struct completion *cl);

#endif
