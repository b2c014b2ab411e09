/*
 * uring.c - echoserv-uring: completion-based I/O with Linux io_uring
 * (through liburing).  Instead of asking "which sockets are ready?" and
 * then reading, the server hands the kernel the reads themselves and is
 * told when they are done, with the bytes already in the buffer.
 *
 *     for (;;) {
 *         io_uring_submit_and_wait_timeout()   one system call: hands the
 *                                  kernel the new requests, sleeps until
 *                                  one has completed or the nearest
 *                                  deadline
 *         for each completion:
 *             a client's recv or send   -> the completion adapter: the
 *                                          core's step, the next request
 *             a listening socket's poll -> accept through the core
 *             the signal pipe's poll    -> SIGTERM, SIGUSR1 (core)
 *         the deadlines that have come  (core)
 *     }
 *
 * Requests and completions pass through two rings shared with the kernel,
 * so a busy server submits many requests and reaps many completions per
 * system call.  What a connection does is the connection core's (conn.c),
 * reached through the completion adapter (completion.c), which issues one
 * request at a time per client into its own session buffer; this file
 * holds only the mechanism: how requests are submitted, cancelled and
 * learned of.  Listening sockets, the signal pipe and a stalled stderr
 * are watched with poll requests on the same ring.
 *
 * How it fails: io_uring is often refused (seccomp profiles of container
 * runtimes return EPERM, kernel.io_uring_disabled, kernels before 5.6
 * lack recv and send): the server then exits 1 with one line saying
 * "io_uring unavailable" and why, before it listens.
 */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* src/'s start-up (bench/servers/startup.h, which the readiness servers
 * still use, would shadow it in quotes). */
#include <startup.h>

#include "completion.h"
#include "log.h"
#include "trace.h"

/* stdin, stdout, stderr, a listening socket, the ring, the signal pipe's
 * two ends, the core's reserve descriptor. */
#define OWN_FDS    8
#define RING_SLOTS 1024
/* user_data of the requests that are not a client's (a client's is its
 * struct connection, a pointer: never this small). */
#define SIGNALS_TAG  1
#define STDERR_TAG   2
#define CANCEL_TAG   3
#define LISTENER_TAG 16 /* + the listener's index */

struct uring {
	struct io_uring ring;
	struct completion cl;
	bool signals_watched, stderr_watched;
	bool listener_watched[NET_MAX_LISTENERS];
	/* Seen once a recv or send on a nonblocking socket completes with
	 * EAGAIN instead of waiting (older kernels): such requests then go
	 * to the kernel's worker threads, which do wait. */
	bool async_fallback;
};

/* A free submission slot; when the ring is full, submit what it holds. */
static struct io_uring_sqe *get_sqe(struct uring *u)
{
	struct io_uring_sqe *sqe;

	while ((sqe = io_uring_get_sqe(&u->ring)) == NULL)
		(void)io_uring_submit(&u->ring);
	return sqe;
}

/* ============================== the mechanism ========================= */

static int uring_start(void *mech, struct connection *c, enum conn_wait what,
		       void *buf, size_t len)
{
	struct uring *u = mech;
	struct io_uring_sqe *sqe = get_sqe(u);

	if (what == CONN_WAIT_READ)
		io_uring_prep_recv(sqe, c->fd, buf, len, 0);
	else
		io_uring_prep_send(sqe, c->fd, buf, len, MSG_NOSIGNAL);
	if (u->async_fallback)
		sqe->flags |= IOSQE_ASYNC;
	io_uring_sqe_set_data(sqe, c);
	return 0;
}

static void uring_cancel(void *mech, struct connection *c)
{
	struct uring *u = mech;
	struct io_uring_sqe *sqe = get_sqe(u);

	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)c, 0);
	io_uring_sqe_set_data64(sqe, CANCEL_TAG);
}

static void on_completion(struct uring *u, const struct io_uring_cqe *cqe);

/* Every completion in the ring; how many. */
static unsigned reap(struct uring *u)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;

	io_uring_for_each_cqe(&u->ring, head, cqe)
	{
		on_completion(u, cqe);
		seen++;
	}
	io_uring_cq_advance(&u->ring, seen);
	return seen;
}

/* Before deadlines are judged: completions the kernel has not posted yet
 * (deferred task work, run only when we enter the kernel: after a freeze,
 * a wait that timed out may not have run it). */
static void uring_collect(void *mech)
{
	struct uring *u = mech;

	(void)io_uring_get_events(&u->ring);
	(void)reap(u);
}

static const struct completion_ops uring_ops = {
    .start = uring_start,
    .cancel = uring_cancel,
    .collect = uring_collect,
    .blocking_sockets = false, /* recv and send wait all the same */
};

/* ============================== what to watch ========================= */

static void watch_fd(struct uring *u, int fd, short events, uint64_t tag)
{
	struct io_uring_sqe *sqe = get_sqe(u);

	io_uring_prep_poll_add(sqe, fd, (unsigned)events);
	io_uring_sqe_set_data64(sqe, tag);
}

/* Before the wait: a poll request on the signal pipe, on stderr while log
 * lines wait for it, on each listening socket while accepting. */
static void watch_the_rest(struct uring *u)
{
	const struct conn_core *core = &u->cl.core;

	if (!u->signals_watched) {
		watch_fd(u, u->cl.signal_fd, POLLIN, SIGNALS_TAG);
		u->signals_watched = true;
	}
	if (!u->stderr_watched && log_pending()) {
		watch_fd(u, STDERR_FILENO, POLLOUT, STDERR_TAG);
		u->stderr_watched = true;
	}
	for (size_t i = 0; conn_accepting(core) && i < core->nlisteners; i++)
		if (!u->listener_watched[i]) {
			watch_fd(u, core->listeners[i].fd, POLLIN,
				 LISTENER_TAG + i);
			u->listener_watched[i] = true;
		}
}

/* The drain has begun: the core closed the listening sockets, and their
 * poll requests, which still hold them, must go too. */
static void unwatch_listeners(struct uring *u)
{
	for (size_t i = 0; i < NET_MAX_LISTENERS; i++)
		if (u->listener_watched[i]) {
			struct io_uring_sqe *sqe = get_sqe(u);
			io_uring_prep_cancel64(sqe, LISTENER_TAG + i, 0);
			io_uring_sqe_set_data64(sqe, CANCEL_TAG);
		}
}

/* ============================== the loop ============================== */

static void on_completion(struct uring *u, const struct io_uring_cqe *cqe)
{
	uint64_t tag = io_uring_cqe_get_data64(cqe);
	struct conn_core *core = &u->cl.core;

	if (tag == SIGNALS_TAG) {
		u->signals_watched = false;
		completion_signals(&u->cl);
		if (core->shutting_down)
			unwatch_listeners(u);
	} else if (tag == STDERR_TAG) {
		u->stderr_watched = false; /* log_flush() next round */
	} else if (tag == CANCEL_TAG) {
		return;
	} else if (tag >= LISTENER_TAG &&
		   tag < LISTENER_TAG + NET_MAX_LISTENERS) {
		size_t i = (size_t)(tag - LISTENER_TAG);
		u->listener_watched[i] = false;
		if (conn_accepting(core) && i < core->nlisteners)
			(void)completion_accept(&u->cl, core->listeners[i].fd);
	} else {
		if (cqe->res == -EAGAIN && !u->async_fallback) {
			u->async_fallback = true;
			log_server(
			    "warning: this kernel ends io_uring requests "
			    "on nonblocking sockets with EAGAIN; "
			    "waiting in its worker threads instead");
		}
		completion_done(&u->cl, io_uring_cqe_get_data(cqe), cqe->res);
	}
}

/* With -T: "io_uring: submit 2, wait timeout=1.5s". */
static void trace_wait(struct io_uring *ring, int64_t ns)
{
	char timeout[32] = "none";

	if (ns >= 0)
		snprintf(timeout, sizeof(timeout), "%.1fs", (double)ns / 1e9);
	trace_line("io_uring: submit %u, wait timeout=%s",
		   io_uring_sq_ready(ring), timeout);
}

/* The wait's timeout, or NULL for none. */
static struct __kernel_timespec *timeout_of(int64_t ns,
					    struct __kernel_timespec *ts)
{
	if (ns < 0)
		return NULL;
	ts->tv_sec = ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
	return ts;
}

/* Serve until the drain is over (0) or abandoned, or the ring fails (1). */
static int serve(struct uring *u)
{
	for (;;) {
		struct __kernel_timespec ts;
		struct io_uring_cqe *cqe;

		log_flush(); /* what the last round logged, as far as it goes */
		watch_the_rest(u);
		int64_t ns = completion_wait_ns(&u->cl, -1);
		if (trace_on) {
			trace_wait(&u->ring, ns);
			log_flush();
		}
		int rc = io_uring_submit_and_wait_timeout(
		    &u->ring, &cqe, 1, timeout_of(ns, &ts), NULL);
		conn_core_tick(&u->cl.core);
		if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN &&
		    rc != -EBUSY) {
			log_server("io_uring_enter: %s", strerror(-rc));
			return 1;
		}
		unsigned seen = reap(u);
		TRACE("io_uring: %u completion%s", seen, seen == 1 ? "" : "s");
		completion_expire(&u->cl);
		int over = completion_over(&u->cl);
		if (over != 0)
			return over == 2 ? 1 : 0;
	}
}

/*
 * How the kernel should run the ring, best first.  Only this thread
 * submits (SINGLE_ISSUER), and completion work may wait until it asks for
 * completions (DEFER_TASKRUN, Linux 6.1) instead of interrupting it as
 * they arrive: fewer switches per echoed line.  COOP_TASKRUN (5.19) is
 * the halfway house; 0 works everywhere.
 */
static const unsigned setup_flags[] = {IORING_SETUP_SINGLE_ISSUER |
					   IORING_SETUP_DEFER_TASKRUN,
				       IORING_SETUP_COOP_TASKRUN, 0};

/* The operations the server submits. */
static bool has_operations(struct io_uring *ring)
{
	static const int needed[] = {IORING_OP_RECV, IORING_OP_SEND,
				     IORING_OP_POLL_ADD,
				     IORING_OP_ASYNC_CANCEL};
	struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
	bool all = probe != NULL;

	for (size_t i = 0; all && i < sizeof(needed) / sizeof(needed[0]); i++)
		all = io_uring_opcode_supported(probe, needed[i]);
	io_uring_free_probe(probe);
	return all;
}

/*
 * startup()'s can_run: set up the ring, or say in one line why io_uring
 * cannot be had here.  Returns 0, or 1 (the exit status) after that line.
 */
static int ring_open(void *ctx)
{
	struct uring *u = ctx;
	struct io_uring_params p;
	int rc = -EINVAL;

	/* Newest flags first, then without them on older kernels (EINVAL). */
	for (size_t i = 0;
	     i < sizeof(setup_flags) / sizeof(setup_flags[0]) && rc == -EINVAL;
	     i++) {
		memset(&p, 0, sizeof(p));
		p.flags = setup_flags[i];
		rc = io_uring_queue_init_params(RING_SLOTS, &u->ring, &p);
	}
	if (rc < 0) {
		log_server("io_uring unavailable: io_uring_setup: %s%s",
			   strerror(-rc),
			   rc == -EPERM ? " (refused: seccomp, or "
					  "kernel.io_uring_disabled)"
					: "");
		return 1;
	}
	if (!has_operations(&u->ring)) {
		log_server("io_uring unavailable: the kernel lacks recv, send, "
			   "poll or cancel (Linux 5.6 or later needed)");
		return 1;
	}
	if (!(p.features & IORING_FEAT_NODROP))
		log_server("warning: completions may be dropped when the "
			   "ring is full (Linux 5.5 or later fixes that)");
	return 0;
}

int main(int argc, char **argv)
{
	static struct uring u;
	static struct startup st;
	size_t fds = startup_fd_limit();
	const struct startup_model model = {
	    .name = "Linux io_uring completions",
	    .ceiling = fds > OWN_FDS ? fds - OWN_FDS : 1,
	    .can_run = ring_open,
	    .ctx = &u,
	};

	int rc = startup(argc, argv, &model, &st);
	if (rc >= 0)
		return rc;
	if (completion_init(&u.cl, &st.cfg, st.listeners, st.nlisteners,
			    st.signal_fd, fds, &uring_ops, &u) != 0) {
		log_server("cannot allocate the connection table: %s",
			   strerror(errno));
		return 1;
	}
	if (trace_on)
		completion_trace_start(&u.cl);
	rc = serve(&u);
	completion_finish(&u.cl);
	return rc;
}
