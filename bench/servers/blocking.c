/*
 * blocking.c - a connection's agent in the blocking and coroutine designs
 * (see blocking.h).
 */
#include "blocking.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "trace.h"

/* A lingering connection's input is read into the agent's own buffer
 * and thrown away (the core's sink is one for the whole process). */
#define SINK_SIZE 4096
/* c->loop_flags: the socket took less than the last write offered (so
 * the next write waits for room first). */
#define SOCKET_FULL 2u

static void lock(struct blocking *b)
{
	if (b->lock != NULL)
		pthread_mutex_lock(b->lock);
}

static void unlock(struct blocking *b)
{
	if (b->lock != NULL)
		pthread_mutex_unlock(b->lock);
}

int blocking_poll_timeout(int64_t deadline)
{
	if (deadline == NO_DEADLINE)
		return -1;
	int64_t left = deadline - conn_clock();
	if (left <= 0)
		return 0;
	int64_t ms = (left + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

bool blocking_write_at_once(const struct connection *c, enum conn_wait what)
{
	return what == CONN_WAIT_WRITE && !(c->loop_flags & SOCKET_FULL);
}

enum agent_wake blocking_poll(int fd, enum conn_wait what, int64_t deadline,
			      int extra_fd)
{
	struct pollfd p[2] = {
	    {.fd = fd, .events = what == CONN_WAIT_READ ? POLLIN : POLLOUT},
	    {.fd = extra_fd, .events = POLLIN},
	};
	int n = poll(p, extra_fd >= 0 ? 2 : 1, blocking_poll_timeout(deadline));

	if (n == 0)
		return AGENT_TIMEOUT;
	if (n < 0 || (extra_fd >= 0 && p[1].revents != 0))
		return AGENT_WOKEN; /* EINTR, or news on the extra fd */
	return AGENT_READY;
}

/* With -T, the design's wait line: "poll: fd 7 read, timeout=299.9s". */
static void trace_agent_wait(const struct blocking *b,
			     const struct connection *c, enum conn_wait what,
			     int64_t deadline)
{
	char timeout[32] = "none";

	if (!trace_on || b->wait_name == NULL)
		return;
	if (deadline != NO_DEADLINE)
		snprintf(timeout, sizeof(timeout), "%.1fs",
			 (double)(deadline - b->core.now) / 1e9);
	trace_line("%s: fd %d %s, timeout=%s", b->wait_name, c->fd,
		   what == CONN_WAIT_READ ? "read" : "write", timeout);
}

/* Is the server ending (the drain over, or abandoned)? */
static bool ending(const struct blocking *b)
{
	return b->core.abandon || conn_drain_over(&b->core);
}

/*
 * c's own deadlines that have come; another connection's are its own
 * agent's (which may be waiting for the lock with a result in hand: not
 * idle at all).  c is held meanwhile (in_flight), so if the core closes
 * it, c is left to us: released here.  Returns false if c is gone.
 */
static bool expire(struct blocking *b, struct connection *c)
{
	c->in_flight = true;
	conn_expire_one(&b->core, c);
	c->in_flight = false;
	if (c->state != CONN_CLOSED)
		return true;
	conn_release(&b->core, c);
	return false;
}

/* Where c's next read goes (thrown away while lingering), or what its next
 * write sends; NULL if out of memory. */
static void *buffer_for(struct connection *c, enum conn_wait what, char *sink,
			size_t *len)
{
	if (what == CONN_WAIT_WRITE)
		return (void *)conn_write_data(c, len);
	if (c->state == CONN_LINGERING) {
		*len = SINK_SIZE;
		return sink;
	}
	return conn_read_space(c, len);
}

/*
 * One round of c's agent: wait until c's socket is ready for what c waits
 * for (or its deadline), read or write once, and tell the core.  The lock
 * is released for the wait and the system call only; c->in_flight says so
 * to the core meanwhile.  A result c no longer waits for (the core moved
 * it on while the agent waited: a timeout, the drain) is dropped.
 * Returns false once c is gone.
 */
static bool serve_round(struct blocking *b, struct connection *c)
{
	char sink[SINK_SIZE];
	struct conn_core *core = &b->core;
	enum conn_wait what = conn_waits_for(c);
	size_t len = 0;
	void *buf = buffer_for(c, what, sink, &len);

	if (buf == NULL)
		return conn_read_done(core, c, -ENOMEM) != CONN_GONE;
	int64_t deadline = conn_deadline(core, c);
	trace_agent_wait(b, c, what, deadline);
	log_flush();
	c->in_flight = true;
	unlock(b);
	enum agent_wake wake = b->wait(b, c, what, deadline);
	ssize_t n = 0;
	int err = 0;
	if (wake == AGENT_READY) {
		n = what == CONN_WAIT_READ ? read(c->fd, buf, len)
					   : write(c->fd, buf, len);
		err = errno;
	}
	lock(b);
	if (what == CONN_WAIT_WRITE && (n < 0 || (size_t)n < len))
		c->loop_flags |= SOCKET_FULL;
	else if (what == CONN_WAIT_WRITE)
		c->loop_flags &= ~SOCKET_FULL;
	conn_core_tick(core);
	c->in_flight = false;
	if (c->state == CONN_CLOSED) {
		conn_release(core, c);
		return false;
	}
	if (wake == AGENT_READY && what == conn_waits_for(c)) {
		long res = n >= 0 ? (long)n : -(long)err;
		enum conn_step step = what == CONN_WAIT_READ
					  ? conn_read_done(core, c, res)
					  : conn_write_done(core, c, res);
		if (step == CONN_GONE)
			return false;
	}
	return core->now < conn_deadline(core, c) || expire(b, c);
}

void blocking_serve(struct blocking *b, struct connection *c)
{
	c->in_flight = false; /* held until now, if the design did */
	if (c->state == CONN_CLOSED)
		conn_release(&b->core, c);
	else
		while (!ending(b) && serve_round(b, c))
			continue;
	log_flush();
}

void blocking_trace_start(const struct blocking *b, int signal_fd)
{
	trace_header();
	for (size_t i = 0; i < b->core.nlisteners; i++)
		TRACE("fd %d: listening socket %s", b->core.listeners[i].fd,
		      b->core.listeners[i].where);
	TRACE("fd %d: signal pipe", signal_fd);
}

int blocking_init(struct blocking *b, const struct conn_config *cfg,
		  const struct listener *listeners, size_t n, size_t table_size,
		  void (*watch)(void *ctx, struct connection *c,
				enum conn_wait wait),
		  void *ctx)
{
	const struct conn_hooks hooks = {
	    .watch = watch, .ctx = ctx, .loop_does_io = true};

	memset(b, 0, sizeof(*b));
	b->ctx = ctx;
	return conn_core_init(&b->core, cfg, listeners, n, table_size, &hooks);
}
