/*
 * epoll.c - echoserv-epoll: echoserv's event loop (src/server.c) with Linux
 * epoll in place of select().
 *
 * One round of the loop, as in the lecture, less its first step:
 *
 *     (no sets)        the kernel keeps the interest list; the core tells
 *                      us through its watch hook whenever what a
 *                      connection waits for changes, and we tell the
 *                      kernel (epoll_ctl)
 *     epoll_wait       sleep until something is ready or the nearest
 *                      deadline (the core keeps it ready: no walk)
 *     signals          begin (or abandon) the graceful shutdown
 *     accept           take new clients; the core admits or turns away
 *     service          one read or write per ready client, the ones
 *                      epoll_wait named and no others; a client whose
 *                      conversation ends is finished there and then
 *     expire           only when the nearest deadline has come
 *
 * What changes from select() is the cost model: a round costs one
 * epoll_wait() plus the work of the ready clients, however many idle ones
 * there are.  Level-triggered: a client is read once per round (fairness,
 * as in echoserv) and what it has left is reported again next round.
 * Writability is watched only while replies are pending, and a change made
 * during a client's own step is passed on to the kernel once the step is
 * over, so a line read and answered at once (READING -> WRITING ->
 * READING) costs no epoll_ctl() at all.
 *
 * This file knows only how to wait: what a connection does when its socket
 * is ready, and every transition of its state, is the connection core's
 * (conn.c), which every event loop of the project shares.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "trace.h"
/* By its path: the kit's older start-up (bench/servers/startup.h) sits
 * next to this file until every server has moved to this one. */
#include "startup.h"

/* Descriptors the server holds itself: stdin, stdout, stderr, the listening
 * socket, the two ends of the signal pipe, the reserve descriptor and the
 * epoll instance. */
#define OWN_FDS 8
/* Ready descriptors taken per round at most; the rest stay ready for the
 * next (level-triggered). */
#define MAX_EVENTS 256
/* A stderr that epoll cannot watch (a regular file: EPERM) is retried this
 * often while log lines wait for it. */
#define LOG_RETRY_MS 20

/* What an event is about: the kind in the high half of its data, the
 * descriptor in the low half. */
enum watched { W_CLIENT, W_LISTENER, W_SIGNALS, W_STDERR };

/* A connection's loop_flags: what it is registered for. */
#define IN_SET_READ  1u
#define IN_SET_WRITE 2u
#define EPOLL_FAILED 4u /* epoll_ctl refused it: it cannot be served */

struct epoll_loop {
	struct conn_core *core;
	int epfd;
	/* The connection whose step is running: its interest is settled
	 * when the step is over. */
	struct connection *stepping;
	bool listening;          /* the listening sockets are in the set */
	bool watching_stderr;    /* stderr is in the set */
	bool stderr_unwatchable; /* epoll refused it */
	bool any_failed;         /* some connection has EPOLL_FAILED */
};

static void watch_others(struct epoll_loop *ep);
static int timeout_until(int64_t deadline, int64_t now);
static void accept_ready(struct conn_core *core,
			 const struct epoll_event *events, int n);
static void service_clients(struct epoll_loop *ep,
			    const struct epoll_event *events, int n);
static void drop_unwatched(struct epoll_loop *ep);
static void on_watch(void *ctx, struct connection *c, enum conn_wait wait);
static bool watch_fd(struct epoll_loop *ep, int op, enum watched kind, int fd,
		     uint32_t events);
static void trace_epoll(const struct epoll_event *events, int n, int timeout,
			bool ready);

static enum watched kind_of(const struct epoll_event *ev)
{
	return (enum watched)(ev->data.u64 >> 32);
}

static int fd_of(const struct epoll_event *ev)
{
	return (int)(uint32_t)ev->data.u64;
}

static int server_run(const struct conn_config *cfg,
		      const struct listener *listeners, size_t n, int signal_fd,
		      size_t table_size)
{
	static struct conn_core core;
	static struct epoll_loop ep;
	struct epoll_event events[MAX_EVENTS];
	int status = 0;

	ep.core = &core;
	ep.epfd = epoll_create1(EPOLL_CLOEXEC);
	const struct conn_hooks hooks = {.watch = on_watch, .ctx = &ep};
	if (ep.epfd < 0 ||
	    !watch_fd(&ep, EPOLL_CTL_ADD, W_SIGNALS, signal_fd, EPOLLIN)) {
		log_server("epoll: %s", strerror(errno));
		return 1;
	}
	if (conn_core_init(&core, cfg, listeners, n, table_size, &hooks) != 0) {
		log_server("cannot allocate the connection table: %s",
			   strerror(errno));
		return 1;
	}
	if (trace_on)
		trace_descriptors(core.listeners, core.nlisteners, signal_fd);
	TRACE("fd %d: epoll instance", ep.epfd);
	for (;;) {
		log_flush(); /* what the last round logged, as far as it goes */
		watch_others(&ep);
		int timeout =
		    timeout_until(conn_next_deadline(&core), core.now);
		if (ep.stderr_unwatchable && log_pending() &&
		    (timeout < 0 || timeout > LOG_RETRY_MS))
			timeout = LOG_RETRY_MS;
		if (trace_on) {
			trace_epoll(events, 0, timeout, false);
			log_flush();
		}

		int ready = epoll_wait(ep.epfd, events, MAX_EVENTS, timeout);
		conn_core_tick(&core);
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			log_server("epoll_wait: %s", strerror(errno));
			status = 1;
			break;
		}
		if (trace_on)
			trace_epoll(events, ready, timeout, true);

		for (int i = 0; i < ready; i++)
			if (kind_of(&events[i]) == W_SIGNALS)
				conn_on_signals(&core, signal_fd);
		if (core.abandon) {
			status = 1;
			break;
		}
		/* stderr: log_flush() at the top of the round */
		accept_ready(&core, events, ready);
		service_clients(&ep, events, ready);
		if (ep.any_failed)
			drop_unwatched(&ep);
		if (core.now >= conn_next_deadline(&core))
			conn_expire(&core);
		if (conn_drain_over(&core))
			break;
	}
	conn_core_finish(&core);
	close(ep.epfd);
	return status;
}

/* ============================== the set ============================== */

/* epoll_ctl() for something other than a client's own interest. */
static bool watch_fd(struct epoll_loop *ep, int op, enum watched kind, int fd,
		     uint32_t events)
{
	struct epoll_event ev = {
	    .events = events,
	    .data.u64 = (uint64_t)kind << 32 | (uint32_t)fd,
	};

	return epoll_ctl(ep->epfd, op, fd, &ev) == 0;
}

/*
 * Keep the set's other members right before a wait: the listening sockets
 * while the core accepts (not while accepting is paused after a failure:
 * a readable listening socket would wake us at once, again and again),
 * stderr while log lines wait for it.
 */
static void watch_others(struct epoll_loop *ep)
{
	struct conn_core *core = ep->core;
	bool accepting = conn_accepting(core);

	if (core->nlisteners == 0)
		ep->listening = false; /* closed: gone from the set with them */
	if (accepting != ep->listening) {
		int op = accepting ? EPOLL_CTL_ADD : EPOLL_CTL_DEL;
		for (size_t i = 0; i < core->nlisteners; i++)
			if (!watch_fd(ep, op, W_LISTENER, core->listeners[i].fd,
				      EPOLLIN))
				log_server("epoll_ctl: listening socket: %s",
					   strerror(errno));
		ep->listening = accepting;
	}
	bool pending = log_pending() && !ep->stderr_unwatchable;
	if (pending != ep->watching_stderr) {
		int op = pending ? EPOLL_CTL_ADD : EPOLL_CTL_DEL;
		bool done = watch_fd(ep, op, W_STDERR, STDERR_FILENO, EPOLLOUT);
		if (pending && !done)
			ep->stderr_unwatchable =
			    true; /* a regular file: EPERM */
		ep->watching_stderr = pending && done;
	}
}

/*
 * Make c's entry in the interest list say what it waits for: ADD, MOD or
 * DEL as it was and is.  If the kernel refuses, c is marked: it cannot be
 * served, and drop_unwatched() ends it after the round.
 */
static void set_interest(struct epoll_loop *ep, struct connection *c,
			 enum conn_wait wait)
{
	static const char *const op_name[] = {[EPOLL_CTL_ADD] = "ADD",
					      [EPOLL_CTL_MOD] = "MOD",
					      [EPOLL_CTL_DEL] = "DEL"};
	unsigned want = wait == CONN_WAIT_READ    ? IN_SET_READ
			: wait == CONN_WAIT_WRITE ? IN_SET_WRITE
						  : 0;
	unsigned have = c->loop_flags & (IN_SET_READ | IN_SET_WRITE);

	if (want == have || (c->loop_flags & EPOLL_FAILED))
		return;
	int op = have == 0   ? EPOLL_CTL_ADD
		 : want == 0 ? EPOLL_CTL_DEL
			     : EPOLL_CTL_MOD;
	uint32_t events = want == IN_SET_READ ? EPOLLIN : EPOLLOUT;
	TRACE("epoll_ctl: %s fd %d%s", op_name[op], c->fd,
	      want == 0             ? ""
	      : want == IN_SET_READ ? " read"
				    : " write");
	if (!watch_fd(ep, op, W_CLIENT, c->fd, events) && op != EPOLL_CTL_DEL) {
		log_server("epoll_ctl: client %s: %s", c->peer,
			   strerror(errno));
		c->loop_flags |= EPOLL_FAILED;
		ep->any_failed = true;
		return;
	}
	c->loop_flags = want;
}

/* The core's watch hook: c now waits for wait.  During c's own step the
 * change waits for the step's end (it may well change back). */
static void on_watch(void *ctx, struct connection *c, enum conn_wait wait)
{
	struct epoll_loop *ep = ctx;

	if (wait != CONN_WAIT_NOTHING && c == ep->stepping)
		return;
	set_interest(ep, c, wait);
}

/* epoll_wait()'s timeout for a deadline: -1 (wait forever) or the ms left,
 * rounded up so we never wake just before it and spin. */
static int timeout_until(int64_t deadline, int64_t now)
{
	if (deadline == NO_DEADLINE)
		return -1;
	int64_t left = deadline > now ? deadline - now : 0;
	int64_t ms = (left + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* ============================== the work ============================== */

/* Accept on each ready listening socket (none once shutting down: they
 * are closed). */
static void accept_ready(struct conn_core *core,
			 const struct epoll_event *events, int n)
{
	for (int i = 0; i < n && core->nlisteners > 0; i++)
		if (kind_of(&events[i]) == W_LISTENER)
			(void)conn_accept_batch(core, fd_of(&events[i]));
}

/*
 * One step for each connection epoll_wait named, for what it waits for
 * now; then its interest is settled.  A connection closed since is passed
 * over.  (If its descriptor went to a client accepted this round, the step
 * finds nothing to read and costs one EAGAIN.)
 */
static void service_clients(struct epoll_loop *ep,
			    const struct epoll_event *events, int n)
{
	struct conn_core *core = ep->core;

	for (int i = 0; i < n; i++) {
		if (kind_of(&events[i]) != W_CLIENT)
			continue;
		struct connection *c = core->by_fd[fd_of(&events[i])];
		if (c == NULL)
			continue;
		enum conn_wait wait = conn_waits_for(c);
		enum conn_step step = CONN_AGAIN;

		ep->stepping = c;
		if (wait == CONN_WAIT_READ)
			step = conn_on_readable(core, c);
		else if (wait == CONN_WAIT_WRITE)
			step = conn_on_writable(core, c);
		ep->stepping = NULL;
		if (step != CONN_GONE)
			set_interest(ep, c, conn_waits_for(c));
	}
}

/* End the connections the kernel would not watch: they would wait for
 * ever.  (ENOMEM or ENOSPC: told as the server out of memory.) */
static void drop_unwatched(struct epoll_loop *ep)
{
	struct conn_core *core = ep->core;

	ep->any_failed = false;
	for (size_t i = core->nlive; i-- > 0;) {
		if (i >= core->nlive)
			continue; /* closing one closed the last, too */
		struct connection *c = core->live[i];
		if (c->loop_flags & EPOLL_FAILED)
			(void)conn_read_done(core, c, -ENOMEM);
	}
}

/* With -T: "epoll_wait: waiting timeout=..." before the wait (the kernel
 * holds the sets), or "epoll_wait: ready read={...} write={...}" after it,
 * the n events it named. */
static void trace_epoll(const struct epoll_event *events, int n, int timeout,
			bool ready)
{
	int r[MAX_EVENTS], w[MAX_EVENTS];
	size_t nr = 0, nw = 0;

	if (!ready) {
		trace_wait("epoll_wait", false, NULL, 0, NULL, 0,
			   timeout < 0 ? -1 : (int64_t)timeout * 1000000);
		return;
	}
	for (int i = 0; i < n; i++) {
		if (events[i].events & EPOLLOUT)
			w[nw++] = fd_of(&events[i]);
		else
			r[nr++] = fd_of(&events[i]);
	}
	trace_wait("epoll_wait", true, r, nr, w, nw, 0);
}

/* The loop's table size, for serve(). */
static size_t descriptors;

/* The loop as startup_serve() calls it, in each worker with --workers. */
static int serve(struct startup *st)
{
	return server_run(&st->cfg, st->listeners, st->nlisteners,
			  st->signal_fd, descriptors);
}

int main(int argc, char **argv)
{
	static struct startup st;
	size_t table_size = startup_fd_limit();
	const struct startup_model epoll_model = {
	    .name = "Linux epoll event loop, level-triggered",
	    .waits_with = "epoll_wait",
	    .ceiling = table_size > OWN_FDS ? table_size - OWN_FDS : 1,
	};

	int rc = startup(argc, argv, &epoll_model, &st);
	if (rc >= 0)
		return rc;
	descriptors = table_size;
	return startup_serve(&st, serve); /* --workers: through workers.c */
}
