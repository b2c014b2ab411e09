/*
 * co.c - echoserv-co: a select() loop driving one coroutine per client
 * (ucontext), the lecture's coroutine version.
 *
 * Each client's conversation is the same straight-line agent the threaded
 * server runs (blocking.c: wait, read or write, hand the result to the
 * core).  Its wait looks blocking, but it saves the coroutine's context
 * and switches back to the loop, which resumes the coroutine once
 * select() says its socket is ready, or once the core has news for it (a
 * timeout, the drain, its close).  One thread, no locks, and the
 * conversation still reads top to bottom:
 *
 *     for (;;) {
 *         build the sets      from what each coroutine waits for
 *         select              until something is ready, or the nearest
 *                             deadline (the core keeps it)
 *         signals, accept     the core; a coroutine per new client
 *         resume              every coroutine whose socket is ready: one
 *                             read or write each (fairness)
 *         expire              the core's deadlines; resume whom they moved
 *     }
 *
 * What a connection does is the connection core's (conn.c): admission,
 * timeouts, lingering, the drain, the log lines, the trace.  This file
 * holds only how the design waits.  Descriptors stay below FD_SETSIZE: the
 * core turns away a client beyond its table (select()'s ceiling).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <ucontext.h>
#include <unistd.h>

/* src/'s start-up (bench/servers/startup.h, which the readiness servers
 * still use, would shadow it in quotes). */
#include "startup.h"

#include "blocking.h"
#include "log.h"
#include "trace.h"

/* stdin, stdout, stderr, a listening socket, the signal pipe's two ends,
 * the core's reserve descriptor. */
#define OWN_FDS 7
/* A round of the agent, a 16 KiB log line and a polite close's 16 KiB
 * drain buffer fit with room to spare; only the pages touched cost. */
#define CO_STACK (128 * 1024)

struct coroutine {
	ucontext_t ctx;
	void *stack;
	struct connection *c;
	enum conn_wait wait; /* what it is suspended on */
	bool suspended;      /* in its wait, to be resumed */
	bool woken;          /* the core has news for it */
	bool finished;       /* its agent has returned */
};

struct co_server {
	struct blocking b;
	int signal_fd;
	struct coroutine *by_fd[FD_SETSIZE];
	/* Coroutines to resume whatever select() says: new ones, and those
	 * the core has news for. */
	struct coroutine *due[FD_SETSIZE];
	size_t ndue;
	/* Admitted clients no coroutine could be had for. */
	struct connection *unstarted[64];
	size_t nunstarted;
};

static struct co_server srv; /* the tables are large: not on the stack */
static ucontext_t loop_ctx;  /* where a waiting coroutine returns */
static struct coroutine *running;

/* ============================== coroutine side ======================== */

/* The agent's wait: back to the loop until select() says c's socket is
 * ready for `what`, or the core has news (the loop keeps the deadlines). */
static enum agent_wake co_wait(struct blocking *b, struct connection *c,
			       enum conn_wait what, int64_t deadline)
{
	struct coroutine *co = running;

	(void)b;
	(void)deadline;
	if (blocking_write_at_once(c, what))
		return AGENT_READY;
	co->wait = what;
	co->woken = false;
	co->suspended = true;
	if (swapcontext(&co->ctx, &loop_ctx) != 0)
		abort(); /* cannot fail with a valid context */
	return co->woken ? AGENT_WOKEN : AGENT_READY;
}

/* A coroutine's body: the agent, then back to the loop for good
 * (uc_link). */
static void co_main(void)
{
	struct coroutine *co = running;

	blocking_serve(&srv.b, co->c);
	co->finished = true;
}

/* ============================== loop side ============================= */

static void make_due(struct co_server *s, struct coroutine *co)
{
	if (co->suspended && !co->woken) {
		co->woken = true;
		s->due[s->ndue++] = co;
	}
}

/* Switch to co until it waits or finishes; free it once finished. */
static void co_resume(struct co_server *s, struct coroutine *co)
{
	int fd = co->c->fd;

	co->suspended = false;
	running = co;
	if (swapcontext(&loop_ctx, &co->ctx) != 0)
		abort();
	running = NULL;
	if (!co->finished)
		return;
	s->by_fd[fd] = NULL;
	free(co->stack);
	free(co);
}

/* A coroutine for the new connection c, started by the loop (it is due). */
static bool co_spawn(struct co_server *s, struct connection *c)
{
	struct coroutine *co = calloc(1, sizeof(*co));
	void *stack = malloc(CO_STACK);

	if (co == NULL || stack == NULL || getcontext(&co->ctx) != 0) {
		free(co);
		free(stack);
		return false;
	}
	co->stack = stack;
	co->c = c;
	co->ctx.uc_stack.ss_sp = stack;
	co->ctx.uc_stack.ss_size = CO_STACK;
	co->ctx.uc_link = &loop_ctx;
	makecontext(&co->ctx, co_main, 0);
	s->by_fd[c->fd] = co;
	c->in_flight = true;  /* held for its coroutine (blocking_serve) */
	co->suspended = true; /* as if waiting: resumed first thing */
	make_due(s, co);
	return true;
}

/* The core's watch hook: a new connection gets its coroutine; one the
 * core moves while its coroutine waits (a timeout, the drain, its close)
 * is resumed to look again. */
static void on_watch(void *ctx, struct connection *c, enum conn_wait wait)
{
	struct co_server *s = ctx;
	struct coroutine *co = s->by_fd[c->fd];

	if (!(c->loop_flags & BLOCKING_HAS_AGENT) && wait == CONN_WAIT_READ) {
		c->loop_flags |= BLOCKING_HAS_AGENT;
		if (co_spawn(s, c))
			return;
		log_server("client %s: out of memory for a coroutine", c->peer);
		if (s->nunstarted <
		    sizeof(s->unstarted) / sizeof(s->unstarted[0]))
			s->unstarted[s->nunstarted++] = c;
	} else if (co != NULL && co != running) {
		make_due(s, co);
	}
}

/* Resume the coroutines that are due, until none is. */
static void resume_due(struct co_server *s)
{
	while (s->ndue > 0) {
		struct coroutine *co = s->due[--s->ndue];
		co_resume(s, co);
	}
	while (s->nunstarted > 0)
		(void)conn_read_done(&s->b.core, s->unstarted[--s->nunstarted],
				     -ENOMEM);
}

static void watch(int fd, fd_set *set, int *nfds)
{
	FD_SET(fd, set);
	if (fd >= *nfds)
		*nfds = fd + 1;
}

/* The sets: the signal pipe, stderr while log lines wait, the listening
 * sockets unless accepting is paused, and each coroutine's socket for
 * what it waits for.  Returns nfds. */
static int build_fd_sets(struct co_server *s, fd_set *r, fd_set *w)
{
	const struct conn_core *core = &s->b.core;
	int nfds = 0;

	FD_ZERO(r);
	FD_ZERO(w);
	watch(s->signal_fd, r, &nfds);
	if (log_pending())
		watch(STDERR_FILENO, w, &nfds);
	for (size_t i = 0; conn_accepting(core) && i < core->nlisteners; i++)
		watch(core->listeners[i].fd, r, &nfds);
	for (size_t i = 0; i < core->nlive; i++) {
		const struct coroutine *co = s->by_fd[core->live[i]->fd];
		if (co != NULL && co->suspended)
			watch(co->c->fd, co->wait == CONN_WAIT_WRITE ? w : r,
			      &nfds);
	}
	return nfds;
}

/* Resume each coroutine whose socket select() found ready for what it
 * waits for, in the order of the live list.  A connection that closes
 * leaves its place to the last one, looked at in the same place. */
static void resume_ready(struct co_server *s, const fd_set *r, const fd_set *w)
{
	struct conn_core *core = &s->b.core;

	for (size_t i = 0; i < core->nlive;) {
		int fd = core->live[i]->fd;
		struct coroutine *co = s->by_fd[fd];
		if (co != NULL && co->suspended &&
		    FD_ISSET(fd, co->wait == CONN_WAIT_WRITE ? w : r))
			co_resume(s, co);
		if (i < core->nlive && core->live[i]->fd == fd)
			i++;
	}
}

/* select()'s timeout for a deadline: NULL (none) or the time left,
 * rounded up so we never wake just before it and spin. */
static struct timeval *timeout_until(int64_t deadline, int64_t now,
				     struct timeval *tv)
{
	if (deadline == NO_DEADLINE)
		return NULL;
	int64_t us = ((deadline > now ? deadline - now : 0) + 999) / 1000;
	tv->tv_sec = (time_t)(us / 1000000);
	tv->tv_usec = (suseconds_t)(us % 1000000);
	return tv;
}

/* One round of the loop.  Returns -1 to go on, else the exit status. */
static int round_of(struct co_server *s)
{
	struct conn_core *core = &s->b.core;
	fd_set r, w;
	struct timeval tv;

	log_flush();
	int nfds = build_fd_sets(s, &r, &w);
	struct timeval *timeout =
	    timeout_until(conn_next_deadline(core), core->now, &tv);
	if (trace_on) {
		trace_select(&r, &w, nfds, timeout, false);
		log_flush();
	}
	int ready = select(nfds, &r, &w, NULL, timeout);
	conn_core_tick(core);
	if (ready < 0) {
		if (errno == EINTR)
			return -1;
		log_server("select: %s", strerror(errno));
		return 1;
	}
	if (trace_on)
		trace_select(&r, &w, nfds, NULL, true);
	if (FD_ISSET(s->signal_fd, &r))
		conn_on_signals(core, s->signal_fd);
	for (size_t i = 0; conn_accepting(core) && i < core->nlisteners; i++)
		if (FD_ISSET(core->listeners[i].fd, &r))
			(void)conn_accept_batch(core, core->listeners[i].fd);
	resume_due(s);
	resume_ready(s, &r, &w);
	if (core->now >= conn_next_deadline(core))
		conn_expire(core);
	resume_due(s);
	if (core->abandon)
		return 1;
	return conn_drain_over(core) ? 0 : -1;
}

int main(int argc, char **argv)
{
	static struct startup st;
	const struct startup_model model = {
	    .name = "select() loop with a coroutine per connection",
	    .ceiling = FD_SETSIZE - OWN_FDS,
	    .fd_bound = FD_SETSIZE,
	};

	int rc = startup(argc, argv, &model, &st);
	if (rc >= 0)
		return rc;
	if (blocking_init(&srv.b, &st.cfg, st.listeners, st.nlisteners,
			  FD_SETSIZE, on_watch, &srv) != 0) {
		log_server("cannot allocate the connection table: %s",
			   strerror(errno));
		return 1;
	}
	srv.b.wait = co_wait; /* its waits are select()'s, traced there */
	srv.signal_fd = st.signal_fd;
	if (trace_on)
		blocking_trace_start(&srv.b, st.signal_fd);
	while ((rc = round_of(&srv)) < 0)
		continue;
	conn_core_finish(&srv.b.core);
	return rc;
}
