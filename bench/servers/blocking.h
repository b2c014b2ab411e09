/*
 * blocking.h - the blocking and coroutine designs on the connection core.
 *
 * In these designs each connection has an agent of its own, which runs
 * its conversation as straight-line code and blocks (or, in a coroutine,
 * seems to) until its socket is ready:
 *
 *     threads.c    a thread per connection
 *     fork.c       a process per connection (the child)
 *     iterative.c  the server's one thread, one connection at a time
 *     co.c         a coroutine per connection, resumed by a select() loop
 *
 * The agent's loop is the same in all four and lives here
 * (blocking_serve): ask the core what the connection waits for, wait for
 * it, read or write, and hand the result to the core, which decides
 * everything else, as it does for the event loops: admission, the idle and
 * line timeouts (the agent's wait ends at conn_deadline()), the notices,
 * lingering and its bounds, the drain, the log lines and the trace.  The
 * core runs with hooks.loop_does_io, so it never touches a socket an agent
 * may be blocked on; a connection the core closes meanwhile (another
 * agent's timeout, a lingerer making room) is shut down, which ends the
 * agent's wait, and released by its agent.
 *
 * What is the design's own is only how an agent waits (struct blocking's
 * wait) and whether agents run at once (threads: one mutex over the core
 * and the log, held except while an agent waits or moves bytes).
 */
#ifndef BENCH_BLOCKING_H
#define BENCH_BLOCKING_H

#include <pthread.h>
#include <stdint.h>

#include "conn.h"

/* c->loop_flags: whether c has its agent yet is the design's to note; the
 * agent keeps the rest. */
#define BLOCKING_HAS_AGENT 1u

/* How an agent's wait ended. */
enum agent_wake {
	AGENT_READY,   /* the socket is ready for what was asked */
	AGENT_TIMEOUT, /* the deadline has come */
	AGENT_WOKEN    /* the design has news: look at the connection again */
};

struct blocking {
	struct conn_core core;
	/* The design's wait: until c's socket is ready for `what`, until
	 * deadline (monotonic ns; NO_DEADLINE: none), or until the design
	 * has news for c.  Called with the lock released. */
	enum agent_wake (*wait)(struct blocking *b, struct connection *c,
				enum conn_wait what, int64_t deadline);
	/* The lock over the core and the log, for agents that run at once
	 * (threads); NULL for one thread. */
	pthread_mutex_t *lock;
	/* The design's word for its wait in the trace ("poll"), or NULL
	 * when the design traces its waits itself (co.c's select()). */
	const char *wait_name;
	void *ctx; /* the design's own */
};

/*
 * Set up b's core for the policy cfg and the n listening sockets, on
 * descriptors below table_size, with watch(ctx, ...) as the core's watch
 * hook (NULL: none).  b->wait and, for threads, b->lock are the caller's
 * to fill in.  Returns 0, or -1 with errno.
 */
int blocking_init(struct blocking *b, const struct conn_config *cfg,
		  const struct listener *listeners, size_t n, size_t table_size,
		  void (*watch)(void *ctx, struct connection *c,
				enum conn_wait wait),
		  void *ctx);

/*
 * Be c's agent: serve c until the core has closed it, or the server is
 * ending (the drain is over or abandoned: c is then left to
 * conn_core_finish).  Called with b's lock held, and returns with it held.
 * A design whose agent starts a while after c is admitted (a new thread,
 * a new coroutine) sets c->in_flight meanwhile: the core then keeps c
 * even if it closes it, and its agent releases it.
 */
void blocking_serve(struct blocking *b, struct connection *c);

/* Should a wait on a nonblocking socket let c's write go at once?  Yes,
 * unless the last one found the socket full: replies usually fit, and a
 * wait for room would cost a round for nothing. */
bool blocking_write_at_once(const struct connection *c, enum conn_wait what);

/*
 * The wait of most designs: poll() on fd for `what` until deadline, and
 * on extra_fd (if >= 0) for readability, which ends the wait as
 * AGENT_WOKEN (the signal pipe).  Bounded: a deadline is always honoured.
 */
enum agent_wake blocking_poll(int fd, enum conn_wait what, int64_t deadline,
			      int extra_fd);

/* The time from now until deadline as a poll() timeout in ms, rounded up
 * (-1: NO_DEADLINE). */
int blocking_poll_timeout(int64_t deadline);

/* With -T: the trace header and who the descriptors are. */
void blocking_trace_start(const struct blocking *b, int signal_fd);

#endif
