/*
 * sigio.c - echoserv-sigio: echoserv's event loop (src/server.c) with
 * signal-driven I/O in place of select().  The kernel sends a signal when
 * a descriptor becomes readable or writable; the loop sleeps until one
 * comes.
 *
 *     every descriptor: O_ASYNC, F_SETOWN(me), F_SETSIG(SIGRTMIN + 1)
 *     the signals blocked, and taken with sigtimedwait(): no handler runs
 *
 * One round of the loop, as in the lecture, less its first step:
 *
 *     (no sets)        each descriptor asked for its signal once; the
 *                      descriptors marked ready are the set
 *     sigtimedwait     sleep until a signal comes or the nearest deadline
 *                      (not at all while some descriptor is marked); each
 *                      signal's si_fd marks its descriptor
 *     signals          the self-pipe has O_ASYNC too: SIGINT, SIGTERM and
 *                      SIGUSR1 reach it through their handler
 *                      (startup.c), and the pipe's own signal wakes us
 *     accept           take new clients; the core admits or turns away
 *     service          one read or write per marked connection; one that
 *                      finds its socket drained (EAGAIN) is unmarked
 *     expire           only when the nearest deadline has come
 *
 * Why marks: a signal says "something changed", not "there is data now"
 * (it is edge-triggered), so a ready descriptor stays marked until a step
 * finds it drained, and one step per connection per round keeps it fair.
 * A signal that came while the connection waited for the other direction
 * (input while it was writing) will not come again, so the core's watch
 * hook tells us whenever what a connection waits for changes, and it is
 * marked then too: the try costs at most one EAGAIN.
 *
 * How it fails: the realtime queue is bounded (per user, RLIMIT_SIGPENDING);
 * when it is full the kernel raises plain SIGIO instead, which names no
 * descriptor and merges with others, and the only safe answer is to mark
 * every one.  Under load a signal per event costs far more than one
 * epoll_wait() for many.  And stderr gets no signal: O_ASYNC on it would
 * change a description shared with whoever started us (a terminal), so
 * while log lines wait for it the wait is cut to LOG_RETRY_MS instead.
 *
 * This file knows only how to wait: what a connection does when its socket
 * is ready, and every transition of its state, is the connection core's
 * (conn.c), which every event loop of the project shares.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "trace.h"
/* By its path: the kit's older start-up (bench/servers/startup.h) sits
 * next to this file until every server has moved to this one. */
#include "startup.h"

/* Descriptors the server holds itself: stdin, stdout, stderr, the listening
 * socket, the two ends of the signal pipe and the reserve descriptor. */
#define OWN_FDS 7
/* Signals taken per round at most before the marked ones are served. */
#define SIGNALS_PER_ROUND 1024
/* While log lines wait for stderr, flush again this often. */
#define LOG_RETRY_NS (20 * INT64_C(1000000))

/* A connection's loop_flags: where it is in the marked list (plus one; 0:
 * not marked), and whether its socket signals us. */
#define MARK_INDEX   0x0fffffffu
#define SIGNALS_ON   0x10000000u
#define SIGNALS_FAIL 0x20000000u /* fcntl refused: it cannot be served */

struct sigio_loop {
	struct conn_core *core;
	int io_signal; /* SIGRTMIN + 1 */
	sigset_t waited;
	int signal_fd;
	bool signals_ready;         /* the signal pipe is marked */
	bool listeners_ready;       /* the listening sockets are marked */
	struct connection **marked; /* table_size entries; nmarked used */
	size_t nmarked;
	bool any_failed;
	unsigned long overflows; /* plain SIGIOs taken */
};

static int64_t timeout_until(int64_t deadline, int64_t now);
static void take_signals(struct sigio_loop *sl, int64_t timeout);
static void accept_marked(struct sigio_loop *sl);
static void service_marked(struct sigio_loop *sl);
static void drop_unsignalled(struct sigio_loop *sl);
static void on_watch(void *ctx, struct connection *c, enum conn_wait wait);
static int ask_for_signals(int fd, int io_signal);
static void trace_marked(const struct sigio_loop *sl);

static bool anything_marked(const struct sigio_loop *sl)
{
	return sl->nmarked > 0 || sl->signals_ready ||
	       (sl->listeners_ready && conn_accepting(sl->core));
}

/* The signals blocked (they wait for sigtimedwait; SIGIO would kill us),
 * then the listening sockets and the signal pipe signalling us. */
static int set_up(struct sigio_loop *sl, const struct listener *listeners,
		  size_t n, size_t table_size)
{
	sl->io_signal = SIGRTMIN + 1;
	sigemptyset(&sl->waited);
	sigaddset(&sl->waited, sl->io_signal);
	sigaddset(&sl->waited, SIGIO);
	if (sigprocmask(SIG_BLOCK, &sl->waited, NULL) != 0)
		return -1;
	sl->marked = calloc(table_size, sizeof(*sl->marked));
	if (sl->marked == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (ask_for_signals(listeners[i].fd, sl->io_signal) != 0)
			return -1;
	if (ask_for_signals(sl->signal_fd, sl->io_signal) != 0)
		return -1;
	/* What came before O_ASYNC raised no signal: look once. */
	sl->signals_ready = sl->listeners_ready = true;
	return 0;
}

static int server_run(const struct conn_config *cfg,
		      const struct listener *listeners, size_t n, int signal_fd,
		      size_t table_size)
{
	static struct conn_core core;
	static struct sigio_loop sl;
	int status = 0;

	sl.core = &core;
	sl.signal_fd = signal_fd;
	const struct conn_hooks hooks = {.watch = on_watch, .ctx = &sl};
	if (set_up(&sl, listeners, n, table_size) != 0) {
		log_server("cannot set up signal-driven I/O: %s",
			   strerror(errno));
		return 1;
	}
	if (conn_core_init(&core, cfg, listeners, n, table_size, &hooks) != 0) {
		log_server("cannot allocate the connection table: %s",
			   strerror(errno));
		return 1;
	}
	if (trace_on)
		trace_descriptors(core.listeners, core.nlisteners, signal_fd);
	for (;;) {
		log_flush(); /* what the last round logged, as far as it goes */
		int64_t timeout =
		    anything_marked(&sl)
			? 0
			: timeout_until(conn_next_deadline(&core), core.now);
		if (log_pending() && (timeout < 0 || timeout > LOG_RETRY_NS))
			timeout = LOG_RETRY_NS;
		if (trace_on) {
			trace_wait("sigtimedwait", false, NULL, 0, NULL, 0,
				   timeout);
			log_flush();
		}

		take_signals(&sl, timeout);
		conn_core_tick(&core);
		if (trace_on)
			trace_marked(&sl);

		if (sl.signals_ready) {
			sl.signals_ready = false;
			conn_on_signals(&core, signal_fd);
		}
		if (core.abandon) {
			status = 1;
			break;
		}
		accept_marked(&sl);
		service_marked(&sl);
		if (sl.any_failed)
			drop_unsignalled(&sl);
		if (core.now >= conn_next_deadline(&core))
			conn_expire(&core);
		if (conn_drain_over(&core))
			break;
	}
	conn_core_finish(&core);
	free(sl.marked);
	return status;
}

/* ============================== the marks ============================== */

/* Ask for io_signal, carrying fd, whenever fd becomes ready.  0 or -1. */
static int ask_for_signals(int fd, int io_signal)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETOWN, getpid()) != 0 ||
	    fcntl(fd, F_SETSIG, io_signal) != 0 ||
	    fcntl(fd, F_SETFL, flags | O_ASYNC) != 0)
		return -1;
	return 0;
}

static void mark(struct sigio_loop *sl, struct connection *c)
{
	if ((c->loop_flags & MARK_INDEX) != 0)
		return;
	sl->marked[sl->nmarked++] = c;
	c->loop_flags |= (unsigned)sl->nmarked;
}

/* c leaves the marked list; the last one takes its place. */
static void unmark(struct sigio_loop *sl, struct connection *c)
{
	size_t i = (c->loop_flags & MARK_INDEX) - 1;
	struct connection *last = sl->marked[--sl->nmarked];

	sl->marked[i] = last;
	last->loop_flags = (last->loop_flags & ~MARK_INDEX) | (unsigned)(i + 1);
	c->loop_flags &= ~MARK_INDEX;
}

/*
 * The core's watch hook: c now waits for wait.  A new connection asks for
 * its signals first; one that is about to be closed leaves the marked
 * list; any other change marks it, since the signal that would have told
 * us may have come already.
 */
static void on_watch(void *ctx, struct connection *c, enum conn_wait wait)
{
	struct sigio_loop *sl = ctx;

	if (wait == CONN_WAIT_NOTHING) {
		if ((c->loop_flags & MARK_INDEX) != 0)
			unmark(sl, c);
		return;
	}
	if (!(c->loop_flags & (SIGNALS_ON | SIGNALS_FAIL))) {
		if (ask_for_signals(c->fd, sl->io_signal) == 0) {
			c->loop_flags |= SIGNALS_ON;
		} else {
			log_server("client %s: no signals: %s", c->peer,
				   strerror(errno));
			c->loop_flags |= SIGNALS_FAIL;
			sl->any_failed = true;
		}
	}
	mark(sl, c);
}

/* The descriptor a signal named is ready. */
static void mark_fd(struct sigio_loop *sl, int fd)
{
	struct conn_core *core = sl->core;

	if (fd == sl->signal_fd) {
		sl->signals_ready = true;
		return;
	}
	for (size_t i = 0; i < core->nlisteners; i++)
		if (fd == core->listeners[i].fd) {
			sl->listeners_ready = true;
			return;
		}
	if (fd >= 0 && (size_t)fd < core->table_size && core->by_fd[fd] != NULL)
		mark(sl, core->by_fd[fd]);
	/* else a stale signal, for a descriptor closed since */
}

/* The realtime queue overflowed: every descriptor may have news. */
static void mark_all(struct sigio_loop *sl)
{
	if (sl->overflows++ == 0)
		log_server("realtime signal queue full: plain SIGIO, sweeping "
			   "every client (logged once)");
	TRACE("sigtimedwait: plain SIGIO (the queue overflowed): every "
	      "descriptor marked");
	sl->signals_ready = sl->listeners_ready = true;
	for (size_t i = 0; i < sl->core->nlive; i++)
		mark(sl, sl->core->live[i]);
}

static void on_signal(struct sigio_loop *sl, const siginfo_t *si)
{
	if (si->si_signo == sl->io_signal)
		mark_fd(sl, si->si_fd);
	else if (si->si_signo == SIGIO)
		mark_all(sl);
}

/* sigtimedwait()'s timeout for a deadline: -1 (wait forever) or the ns
 * left. */
static int64_t timeout_until(int64_t deadline, int64_t now)
{
	if (deadline == NO_DEADLINE)
		return -1;
	return deadline > now ? deadline - now : 0;
}

/*
 * Wait for the first signal for at most timeout ns (-1: for ever), then
 * take the others already queued without waiting, SIGNALS_PER_ROUND at
 * most.  A timeout, or a signal handled by its handler (EINTR: SIGTERM,
 * whose byte in the pipe raises the pipe's own signal), ends the wait.
 */
static void take_signals(struct sigio_loop *sl, int64_t timeout)
{
	struct timespec ts = {(time_t)(timeout / 1000000000),
			      (long)(timeout % 1000000000)};
	static const struct timespec no_wait = {0, 0};
	siginfo_t si;

	int got = timeout < 0 ? sigwaitinfo(&sl->waited, &si)
			      : sigtimedwait(&sl->waited, &si, &ts);
	if (got < 0)
		return; /* EAGAIN: the deadline; EINTR */
	on_signal(sl, &si);
	for (int i = 0; i < SIGNALS_PER_ROUND; i++) {
		if (sigtimedwait(&sl->waited, &si, &no_wait) < 0)
			return; /* EAGAIN: none left */
		on_signal(sl, &si);
	}
}

/* ============================== the work ============================== */

/* Accept on the listening sockets if they are marked; they stay marked
 * while a batch was used up (more may wait) or accepting is paused (those
 * waiting will raise no new signal). */
static void accept_marked(struct sigio_loop *sl)
{
	struct conn_core *core = sl->core;
	bool more = false;

	if (!sl->listeners_ready || !conn_accepting(core))
		return;
	for (size_t i = 0; i < core->nlisteners; i++)
		if (conn_accept_batch(core, core->listeners[i].fd))
			more = true;
	sl->listeners_ready = more || !conn_accepting(core);
}

/*
 * One step for each marked connection, for what it waits for; one that
 * finds its socket drained is unmarked.  A connection that leaves the list
 * (unmarked, or closed) leaves its place to the last one, which is then
 * looked at in the same place.
 */
static void service_marked(struct sigio_loop *sl)
{
	struct conn_core *core = sl->core;

	for (size_t i = 0; i < sl->nmarked;) {
		struct connection *c = sl->marked[i];
		enum conn_wait wait = conn_waits_for(c);
		enum conn_step step = CONN_DRAINED;

		if (wait == CONN_WAIT_READ)
			step = conn_on_readable(core, c);
		else if (wait == CONN_WAIT_WRITE)
			step = conn_on_writable(core, c);
		if (step == CONN_DRAINED && (c->loop_flags & MARK_INDEX) != 0)
			unmark(sl, c);
		if (i < sl->nmarked && sl->marked[i] == c)
			i++;
	}
}

/* End the connections that could not ask for signals: they would wait for
 * ever.  (Told as the server out of memory.) */
static void drop_unsignalled(struct sigio_loop *sl)
{
	struct conn_core *core = sl->core;

	sl->any_failed = false;
	for (size_t i = core->nlive; i-- > 0;) {
		if (i >= core->nlive)
			continue; /* closing one closed the last, too */
		struct connection *c = core->live[i];
		if (c->loop_flags & SIGNALS_FAIL)
			(void)conn_read_done(core, c, -ENOMEM);
	}
}

/* With -T: "sigtimedwait: ready read={...} write={...}", the marked
 * descriptors by what they wait for. */
static void trace_marked(const struct sigio_loop *sl)
{
	const struct conn_core *core = sl->core;
	size_t cap = sl->nmarked + core->nlisteners + 1;
	int *r = malloc(2 * cap * sizeof(*r));
	size_t nr = 0, nw = 0;

	if (r == NULL)
		return; /* the trace is a courtesy */
	int *w = r + cap;
	if (sl->signals_ready)
		r[nr++] = sl->signal_fd;
	for (size_t i = 0; sl->listeners_ready && i < core->nlisteners; i++)
		r[nr++] = core->listeners[i].fd;
	for (size_t i = 0; i < sl->nmarked; i++) {
		const struct connection *c = sl->marked[i];
		if (conn_waits_for(c) == CONN_WAIT_WRITE)
			w[nw++] = c->fd;
		else
			r[nr++] = c->fd;
	}
	trace_wait("sigtimedwait", true, r, nr, w, nw, 0);
	free(r);
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
	const struct startup_model sigio_model = {
	    .name = "signal-driven I/O (F_SETSIG realtime signals)",
	    .waits_with = "sigtimedwait",
	    .ceiling = table_size > OWN_FDS ? table_size - OWN_FDS : 1,
	};

	int rc = startup(argc, argv, &sigio_model, &st);
	if (rc >= 0)
		return rc;
	descriptors = table_size;
	return startup_serve(&st, serve); /* --workers: through workers.c */
}
