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
 * request at a time per client; this file holds only the mechanism: how
 * requests are submitted, cancelled and learned of.  The signal pipe and
 * a stalled stderr are watched with poll requests on the same ring.
 *
 * The kernel's newer features, each probed at start, with a fallback, and
 * named in one log line:
 *
 *   SINGLE_ISSUER + DEFER_TASKRUN   completion work runs when we ask for
 *                   completions, not as interrupts (else COOP_TASKRUN,
 *                   else neither)
 *   registered ring fd   io_uring_enter() skips looking the ring up
 *   multishot accept     one request accepts every client, each handed to
 *                   the core by conn_admit() (else one accept a time)
 *   multishot receive over a provided-buffer ring   one request per
 *                   client receives into the kernel's choice of our
 *                   buffers until cancelled (else a recv per read, into
 *                   the session's own buffer)
 *
 * The multishot receive is a mechanism of this file alone: the adapter
 * still sees one read at a time.  Bytes that arrive are held in their
 * provided buffer until the adapter's read asks for them, then copied
 * into the session's buffer (conn_read_space), and the buffer goes back
 * to the ring.  Bytes that arrive while the client is owed replies
 * (WRITING: no read is asked for) stay held, and the receive is cancelled
 * at once, so such a client stops being read as the core wants; it is
 * armed again when the client reads again.
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
#include "startup.h"

#include "completion.h"
#include "log.h"
#include "trace.h"

/* stdin, stdout, stderr, a listening socket, the ring, the signal pipe's
 * two ends, the core's reserve descriptor. */
#define OWN_FDS    8
#define RING_SLOTS 1024
#define CQ_SLOTS   8192 /* a receive's completion per client at once, and more */
/* The provided-buffer ring: BUF_COUNT (a power of two) of BUF_SIZE, 1 MiB
 * in all.  The kernel takes them in turn, so every page of them is soon
 * resident: the policy suites bound the server's memory (a non-reading
 * client, lingerers) well below 8 MiB.  A line of 64 bytes fits one; a
 * receive that finds none free ends (ENOBUFS) and a plain recv serves. */
#define BUF_GROUP 0
#define BUF_COUNT 2048
#define BUF_SIZE  512
#define NO_BUF    (-1)
/* user_data of the requests that are not a client's (a client's recv or
 * send is its struct connection, a pointer: never this small, and never
 * with the top bit set, which marks a multishot receive's RECV_TAG). */
#define SIGNALS_TAG  1
#define STDERR_TAG   2
#define CANCEL_TAG   3
#define LISTENER_TAG 16                  /* + the listener's index */
#define RECV_TAG     (UINT64_C(1) << 63) /* | generation << 32 | fd */

/* What the kernel gave us, for the log line and the choices below. */
struct features {
	unsigned setup_flags;
	bool ring_fd_registered;
	bool multishot_accept;
	bool multishot_recv; /* and the provided-buffer ring */
};

/*
 * The multishot receive of the client on one descriptor.  gen tells its
 * completions from those of an earlier client on the same descriptor,
 * whose receive may still be ending.  held is a queue of provided buffers
 * (linked through uring.next_held), the oldest consumed up to head_off.
 */
struct receiver {
	uint32_t gen;
	bool armed;       /* a multishot receive of this gen is in the kernel */
	bool cancel_sent; /* ... and it was told to end */
	bool listed;      /* in uring.ready */
	/* The adapter's read, while asked for: into buf, up to room. */
	struct connection *c;
	char *buf;
	size_t room;
	/* The read's result is this, not bytes (its cancel, its close). */
	bool forced;
	long forced_res;
	/* The receive ended (0: end of input, or -errno) after held. */
	bool has_end;
	long end_res;
	int head, tail;
	size_t head_off;
};

struct uring {
	struct io_uring ring;
	struct completion cl;
	struct features has;
	bool signals_watched, stderr_watched;
	bool listener_watched[NET_MAX_LISTENERS];
	/* After an accept failed (EMFILE says so before it looks for a
	 * client): wait for a client with a poll, then accept through the
	 * core's batch, rather than fail again at once, forever. */
	bool listener_poll[NET_MAX_LISTENERS];
	/* Seen once a recv or send on a nonblocking socket completes with
	 * EAGAIN instead of waiting (older kernels): such requests then go
	 * to the kernel's worker threads, which do wait. */
	bool async_fallback;
	/* The multishot receives: one per descriptor; the buffers. */
	struct receiver *rx;
	size_t nrx;
	struct io_uring_buf_ring *bufs_ring;
	char *bufs;
	uint32_t held_len[BUF_COUNT];
	int next_held[BUF_COUNT];
	/* Receivers whose asked-for read can be answered without the
	 * kernel, by descriptor: answered before the next wait. */
	int *ready;
	size_t nready;
};

/* ============================== the provided buffers ================== */

static char *buf_at(struct uring *u, int bid)
{
	return u->bufs + (size_t)bid * BUF_SIZE;
}

/* Give buffer bid back to the kernel's ring. */
static void buf_return(struct uring *u, int bid)
{
	io_uring_buf_ring_add(u->bufs_ring, buf_at(u, bid), BUF_SIZE,
			      (unsigned short)bid,
			      io_uring_buf_ring_mask(BUF_COUNT), 0);
	io_uring_buf_ring_advance(u->bufs_ring, 1);
}

static void hold(struct uring *u, struct receiver *r, int bid, uint32_t len)
{
	u->held_len[bid] = len;
	u->next_held[bid] = NO_BUF;
	if (r->tail == NO_BUF)
		r->head = bid;
	else
		u->next_held[r->tail] = bid;
	r->tail = bid;
}

/* Move up to room held bytes into buf; the buffers emptied go back. */
static size_t take_held(struct uring *u, struct receiver *r, char *buf,
			size_t room)
{
	size_t got = 0;

	while (r->head != NO_BUF && got < room) {
		int bid = r->head;
		size_t left = u->held_len[bid] - r->head_off;
		size_t n = left < room - got ? left : room - got;

		memcpy(buf + got, buf_at(u, bid) + r->head_off, n);
		got += n;
		r->head_off += n;
		if (r->head_off == u->held_len[bid]) {
			r->head = u->next_held[bid];
			if (r->head == NO_BUF)
				r->tail = NO_BUF;
			r->head_off = 0;
			buf_return(u, bid);
		}
	}
	return got;
}

static void drop_held(struct uring *u, struct receiver *r)
{
	while (r->head != NO_BUF) {
		int bid = r->head;
		r->head = u->next_held[bid];
		buf_return(u, bid);
	}
	r->tail = NO_BUF;
	r->head_off = 0;
}

/* ============================== the mechanism ========================= */

/* A free submission slot; when the ring is full, submit what it holds. */
static struct io_uring_sqe *get_sqe(struct uring *u)
{
	struct io_uring_sqe *sqe;

	while ((sqe = io_uring_get_sqe(&u->ring)) == NULL)
		(void)io_uring_submit(&u->ring);
	return sqe;
}

static uint64_t recv_tag(const struct receiver *r, int fd)
{
	return RECV_TAG | (uint64_t)(r->gen & 0x7fffffffu) << 32 |
	       (uint64_t)(uint32_t)fd;
}

static void arm_receive(struct uring *u, struct receiver *r, int fd)
{
	struct io_uring_sqe *sqe = get_sqe(u);

	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BUF_GROUP;
	io_uring_sqe_set_data64(sqe, recv_tag(r, fd));
	r->armed = true;
	r->cancel_sent = false;
}

static void cancel_receive(struct uring *u, struct receiver *r, int fd)
{
	if (!r->armed || r->cancel_sent)
		return;
	struct io_uring_sqe *sqe = get_sqe(u);
	io_uring_prep_cancel64(sqe, recv_tag(r, fd), 0);
	io_uring_sqe_set_data64(sqe, CANCEL_TAG);
	r->cancel_sent = true;
}

/* A plain recv into the session's buffer: its result comes back to the
 * adapter with c as its tag, as a send's does. */
static void plain_recv(struct uring *u, struct connection *c, void *buf,
		       size_t len)
{
	struct io_uring_sqe *sqe = get_sqe(u);

	io_uring_prep_recv(sqe, c->fd, buf, len, 0);
	if (u->async_fallback)
		sqe->flags |= IOSQE_ASYNC;
	io_uring_sqe_set_data(sqe, c);
}

static void list_ready(struct uring *u, struct receiver *r, int fd)
{
	if (r->listed)
		return;
	r->listed = true;
	u->ready[u->nready++] = fd;
}

/*
 * If r's asked-for read can be answered (its cancel or close, held
 * bytes, the end of the receive), answer it: the adapter then issues c's
 * next request, which may ask again.
 */
static void answer(struct uring *u, struct receiver *r)
{
	if (r->c == NULL)
		return;
	long res;
	if (r->forced)
		res = r->forced_res;
	else if (r->head != NO_BUF)
		res = (long)take_held(u, r, r->buf, r->room);
	else if (r->has_end)
		res = r->end_res;
	else
		return;
	struct connection *c = r->c;
	r->c = NULL;
	r->forced = false;
	if (!(res > 0))
		r->has_end = false; /* told once; asking again re-arms */
	completion_done(&u->cl, c, res);
}

/* Answer the reads listed as answerable (start() lists them: it must not
 * re-enter the adapter). */
static void answer_ready(struct uring *u)
{
	while (u->nready > 0) {
		struct receiver *r = &u->rx[u->ready[--u->nready]];
		r->listed = false;
		answer(u, r);
	}
}

/* A read of c's, of up to len bytes into buf, from its multishot
 * receive: answered at once from what it holds, or armed if it is not. */
static void start_receive(struct uring *u, struct connection *c, void *buf,
			  size_t len)
{
	struct receiver *r = &u->rx[c->fd];

	r->c = c;
	r->buf = buf;
	r->room = len;
	if (r->head != NO_BUF || r->has_end)
		list_ready(u, r, c->fd);
	else if (!r->armed)
		arm_receive(u, r, c->fd);
	/* armed but cancelled: it is re-armed when its end comes. */
}

static int uring_start(void *mech, struct connection *c, enum conn_wait what,
		       void *buf, size_t len)
{
	struct uring *u = mech;

	if (what == CONN_WAIT_READ) {
		if (u->has.multishot_recv)
			start_receive(u, c, buf, len);
		else
			plain_recv(u, c, buf, len);
		return 0;
	}
	struct io_uring_sqe *sqe = get_sqe(u);
	io_uring_prep_send(sqe, c->fd, buf, len, MSG_NOSIGNAL);
	if (u->async_fallback)
		sqe->flags |= IOSQE_ASYNC;
	io_uring_sqe_set_data(sqe, c);
	return 0;
}

static void uring_cancel(void *mech, struct connection *c)
{
	struct uring *u = mech;
	struct receiver *r = u->has.multishot_recv ? &u->rx[c->fd] : NULL;

	if (r != NULL && r->c == c) {
		/* No read is asked of the kernel: answer it ourselves.  The
		 * receive goes too (c will not read for a while). */
		r->forced = true;
		r->forced_res = -ECANCELED;
		list_ready(u, r, c->fd);
		cancel_receive(u, r, c->fd);
		return;
	}
	struct io_uring_sqe *sqe = get_sqe(u);
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)c, 0);
	io_uring_sqe_set_data64(sqe, CANCEL_TAG);
}

/* c is being closed: its receive ends, what it holds goes back; a read
 * still asked for is answered (the adapter then releases c). */
static void uring_closing(void *mech, struct connection *c)
{
	struct uring *u = mech;

	if (!u->has.multishot_recv)
		return;
	struct receiver *r = &u->rx[c->fd];
	cancel_receive(u, r, c->fd);
	drop_held(u, r);
	r->armed = r->cancel_sent = r->has_end = false;
	r->gen++; /* what the old receive still posts is dropped */
	if (r->c == c) {
		r->forced = true;
		r->forced_res = -ECANCELED;
		list_ready(u, r, c->fd);
	}
}

/*
 * A multishot receive's completion: bytes in a provided buffer (held,
 * and handed over if a read is asked for), or its end.  One that comes
 * while no read is asked for (replies are owed) ends the receive, so the
 * client is not read on: backpressure.
 */
static void on_receive(struct uring *u, const struct io_uring_cqe *cqe)
{
	uint64_t tag = io_uring_cqe_get_data64(cqe);
	int fd = (int)(uint32_t)tag;
	bool more = cqe->flags & IORING_CQE_F_MORE;
	struct receiver *r = (size_t)fd < u->nrx ? &u->rx[fd] : NULL;
	bool current = r != NULL && recv_tag(r, fd) == tag;

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		int bid = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		if (current && cqe->res > 0)
			hold(u, r, bid, (uint32_t)cqe->res);
		else
			buf_return(u, bid);
	}
	if (!current)
		return;
	if (!more) {
		r->armed = r->cancel_sent = false;
		if (cqe->res == -EINVAL) {
			u->has.multishot_recv = false;
			log_server("warning: io_uring refused a multishot "
				   "receive; plain recv from now on");
		}
		if (cqe->res == 0 ||
		    (cqe->res < 0 && cqe->res != -ECANCELED &&
		     cqe->res != -ENOBUFS && cqe->res != -EINVAL)) {
			r->has_end = true;
			r->end_res = cqe->res;
		}
	}
	if (r->c == NULL) {
		if (r->head != NO_BUF)
			cancel_receive(u, r, fd);
		return;
	}
	answer(u, r);
	/* Still asked for, with nothing held and no receive: out of
	 * buffers (ENOBUFS) or cancelled before c read again. */
	if (r->c != NULL && !r->armed && r->head == NO_BUF && !r->has_end &&
	    !r->forced) {
		struct connection *c = r->c;
		if (cqe->res == -ENOBUFS || !u->has.multishot_recv) {
			r->c = NULL; /* the plain recv answers it */
			plain_recv(u, c, r->buf, r->room);
		} else {
			arm_receive(u, r, fd);
		}
	}
}

static void on_completion(struct uring *u, const struct io_uring_cqe *cqe);

/* Every completion in the ring, then the reads that can be answered;
 * how many completions. */
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
	answer_ready(u);
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
    .closing = uring_closing,
    .blocking_sockets = false, /* recv and send wait all the same */
};

/* ============================== what to watch ========================= */

static void watch_fd(struct uring *u, int fd, short events, uint64_t tag)
{
	struct io_uring_sqe *sqe = get_sqe(u);

	io_uring_prep_poll_add(sqe, fd, (unsigned)events);
	io_uring_sqe_set_data64(sqe, tag);
}

/* An accept on listening socket i: one that goes on accepting (multishot)
 * where the kernel has it, else one that accepts a single client; either
 * is armed again when its completion says it is over. */
static void watch_listener(struct uring *u, size_t i)
{
	int fd = u->cl.core.listeners[i].fd;

	if (u->listener_poll[i]) {
		watch_fd(u, fd, POLLIN, LISTENER_TAG + i);
		u->listener_watched[i] = true;
		return;
	}
	struct io_uring_sqe *sqe = get_sqe(u);
	if (u->has.multishot_accept)
		io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, 0);
	else
		io_uring_prep_accept(sqe, fd, NULL, NULL, 0);
	io_uring_sqe_set_data64(sqe, LISTENER_TAG + i);
	u->listener_watched[i] = true;
}

/* Before the wait: a poll request on the signal pipe, on stderr while log
 * lines wait for it; an accept on each listening socket while accepting. */
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
		if (!u->listener_watched[i])
			watch_listener(u, i);
}

/* The drain has begun: the core closed the listening sockets, and their
 * accepts, which still hold them (and would go on accepting), must go
 * too: at once, not with the next wait. */
static void unwatch_listeners(struct uring *u)
{
	for (size_t i = 0; i < NET_MAX_LISTENERS; i++)
		if (u->listener_watched[i]) {
			struct io_uring_sqe *sqe = get_sqe(u);
			io_uring_prep_cancel64(sqe, LISTENER_TAG + i, 0);
			io_uring_sqe_set_data64(sqe, CANCEL_TAG);
		}
	(void)io_uring_submit(&u->ring);
}

/*
 * An accept's completion on listening socket i: a client for the core
 * (conn_admit, with its address from getpeername, as a multishot accept
 * has nowhere of its own to put it), or the failure (conn_accept_failed:
 * shedding on EMFILE, or a pause).  Without IORING_CQE_F_MORE the accept
 * is over and is armed again before the next wait, if accepting.
 */
static void on_accept(struct uring *u, size_t i, const struct io_uring_cqe *cqe)
{
	struct conn_core *core = &u->cl.core;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		u->listener_watched[i] = false;
	if (u->listener_poll[i]) { /* the poll after a failure */
		u->listener_poll[i] = false;
		if (cqe->res >= 0 && conn_accepting(core) &&
		    i < core->nlisteners)
			(void)completion_accept(&u->cl, core->listeners[i].fd);
		return;
	}
	if (cqe->res >= 0) {
		struct sockaddr_storage addr = {0};
		socklen_t len = sizeof(addr);
		if (core->shutting_down || i >= core->nlisteners) {
			close(cqe->res); /* accepted as the drain began */
			return;
		}
		(void)getpeername(cqe->res, (struct sockaddr *)&addr, &len);
		completion_admit(&u->cl, core->listeners[i].fd, cqe->res,
				 (struct sockaddr *)&addr);
		return;
	}
	if (cqe->res == -ECANCELED || i >= core->nlisteners)
		return;
	if (cqe->res == -EINVAL && u->has.multishot_accept) {
		u->has.multishot_accept = false;
		log_server("warning: io_uring refused a multishot accept; "
			   "one accept at a time from now on");
		return;
	}
	(void)conn_accept_failed(core, core->listeners[i].fd, -cqe->res);
	u->listener_poll[i] = true;
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
		on_accept(u, (size_t)(tag - LISTENER_TAG), cqe);
	} else if (tag & RECV_TAG) {
		on_receive(u, cqe);
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
static void trace_ring_wait(struct io_uring *ring, int64_t ns)
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
			trace_ring_wait(&u->ring, ns);
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
		answer_ready(u); /* reads the expiry's requests asked for */
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
				     IORING_OP_POLL_ADD, IORING_OP_ACCEPT,
				     IORING_OP_ASYNC_CANCEL};
	struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
	bool all = probe != NULL;

	for (size_t i = 0; all && i < sizeof(needed) / sizeof(needed[0]); i++)
		all = io_uring_opcode_supported(probe, needed[i]);
	io_uring_free_probe(probe);
	return all;
}

/*
 * The provided-buffer ring for multishot receives (Linux 5.19), every
 * buffer given to the kernel.  Returns false if it cannot be had.
 */
static bool setup_buffers(struct uring *u)
{
	void *ring_mem = NULL;
	size_t ring_size = BUF_COUNT * sizeof(struct io_uring_buf);

	/* liburing 2.3 (Debian 12) lacks io_uring_setup_buf_ring(): the
	 * ring is page-aligned memory of ours, registered. */
	u->bufs = malloc((size_t)BUF_COUNT * BUF_SIZE);
	if (u->bufs == NULL || posix_memalign(&ring_mem, 4096, ring_size)) {
		free(u->bufs);
		u->bufs = NULL;
		return false;
	}
	memset(ring_mem, 0, ring_size);
	struct io_uring_buf_reg reg = {
	    .ring_addr = (uint64_t)(uintptr_t)ring_mem,
	    .ring_entries = BUF_COUNT,
	    .bgid = BUF_GROUP,
	};
	if (io_uring_register_buf_ring(&u->ring, &reg, 0) != 0) {
		free(ring_mem);
		free(u->bufs);
		u->bufs = NULL;
		return false;
	}
	u->bufs_ring = ring_mem;
	io_uring_buf_ring_init(u->bufs_ring);
	for (int bid = 0; bid < BUF_COUNT; bid++)
		io_uring_buf_ring_add(u->bufs_ring, buf_at(u, bid), BUF_SIZE,
				      (unsigned short)bid,
				      io_uring_buf_ring_mask(BUF_COUNT), bid);
	io_uring_buf_ring_advance(u->bufs_ring, BUF_COUNT);
	return true;
}

/*
 * What this kernel has beyond the operations every version needs.  The
 * multishot requests have no probe of their own, so the setup flags the
 * kernel took date it: COOP_TASKRUN (5.19) came with multishot accept,
 * SINGLE_ISSUER (6.0) with multishot receive.  Should one be refused all
 * the same (EINVAL), its completion says so and the fallback takes over.
 */
static void probe_features(struct uring *u)
{
	unsigned f = u->has.setup_flags;

	u->has.ring_fd_registered = io_uring_register_ring_fd(&u->ring) == 1;
	u->has.multishot_accept =
	    f & (IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER);
	u->has.multishot_recv =
	    (f & IORING_SETUP_SINGLE_ISSUER) && setup_buffers(u);
}

/* One line: what the server uses of io_uring. */
static void log_features(const struct features *has)
{
	unsigned f = has->setup_flags;

	log_server(
	    "io_uring: %s, %s, %s%s%s",
	    has->multishot_accept ? "multishot accept" : "one accept at a time",
	    has->multishot_recv ? "multishot recv with a provided-buffer ring"
				: "a recv per read",
	    f & IORING_SETUP_DEFER_TASKRUN  ? "DEFER_TASKRUN"
	    : f & IORING_SETUP_COOP_TASKRUN ? "COOP_TASKRUN"
					    : "task work as interrupts",
	    f & IORING_SETUP_SINGLE_ISSUER ? ", SINGLE_ISSUER" : "",
	    has->ring_fd_registered ? ", registered ring fd" : "");
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
		p.flags = setup_flags[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = CQ_SLOTS;
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
	u->has.setup_flags = p.flags & ~IORING_SETUP_CQSIZE;
	probe_features(u);
	log_features(&u->has);
	return 0;
}

/* A receiver for every descriptor the core may give a client. */
static bool receivers_init(struct uring *u, size_t fds)
{
	u->rx = calloc(fds, sizeof(*u->rx));
	u->ready = calloc(fds, sizeof(*u->ready));
	if (u->rx == NULL || u->ready == NULL)
		return false;
	u->nrx = fds;
	for (size_t i = 0; i < fds; i++)
		u->rx[i].head = u->rx[i].tail = NO_BUF;
	return true;
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
	if (u.has.multishot_recv && !receivers_init(&u, fds)) {
		log_server("cannot allocate the receivers: %s",
			   strerror(errno));
		return 1;
	}
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
