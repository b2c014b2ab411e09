/*
 * completion.c - the completion adapter (see completion.h).
 *
 * The adapter keeps two things of each connection in c->loop_flags: the
 * kind of its request in flight (a read or a write; c->in_flight says
 * that there is one, for the core) and whether it is listed to have its
 * next request issued.  Requests are issued outside the core's own calls
 * (the watch hook only lists the connection), so the core is never
 * entered again from inside itself.
 */
#include "completion.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "net.h"
#include "trace.h"

/* c->loop_flags */
#define READ_IN_FLIGHT  1u  /* the request in flight is a read */
#define WRITE_IN_FLIGHT 2u  /* ... a write */
#define CANCELLED       4u  /* the mechanism was told to end it */
#define TO_ISSUE        8u  /* in cl->to_issue */
#define MADE_BLOCKING   16u /* its socket was made blocking */

static enum conn_wait kind_in_flight(const struct connection *c)
{
	if (c->loop_flags & READ_IN_FLIGHT)
		return CONN_WAIT_READ;
	if (c->loop_flags & WRITE_IN_FLIGHT)
		return CONN_WAIT_WRITE;
	return CONN_WAIT_NOTHING;
}

static int set_blocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -1;
	return fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 ? -1 : 0;
}

/* ============================== the list ============================== */

/* List c to have its next request issued.  Out of memory for the list
 * there is no going on (c would wait forever, with nothing in flight to
 * move it): as smallchat's allocator does, stop. */
static void list_to_issue(struct completion *cl, struct connection *c)
{
	if (c->loop_flags & TO_ISSUE)
		return;
	if (cl->nto_issue == cl->to_issue_cap) {
		size_t cap = cl->to_issue_cap ? 2 * cl->to_issue_cap : 64;
		struct connection **p = realloc(cl->to_issue, cap * sizeof(*p));
		if (p == NULL) {
			log_server("client %s: out of memory", c->peer);
			abort(); /* no way to go on: see the comment above */
		}
		cl->to_issue = p;
		cl->to_issue_cap = cap;
	}
	cl->to_issue[cl->nto_issue++] = c;
	c->loop_flags |= TO_ISSUE;
}

static void unlist(struct completion *cl, struct connection *c)
{
	if (!(c->loop_flags & TO_ISSUE))
		return;
	for (size_t i = 0; i < cl->nto_issue; i++)
		if (cl->to_issue[i] == c) {
			cl->to_issue[i] = cl->to_issue[--cl->nto_issue];
			break;
		}
	c->loop_flags &= ~TO_ISSUE;
}

/* ============================== issuing ============================== */

/* The buffer of c's next request: where a read goes (discarded while
 * lingering), or what a write sends.  NULL: out of memory. */
static void *buffer_for(struct connection *c, enum conn_wait wait, size_t *len)
{
	if (wait == CONN_WAIT_WRITE)
		return (void *)conn_write_data(c, len);
	if (c->state == CONN_LINGERING)
		return conn_discard_space(len);
	return conn_read_space(c, len);
}

/*
 * Issue c's next request, as conn_waits_for() says.  A request that
 * cannot be had (no memory for the buffer, the mechanism refused) is
 * reported to the core as a failed one, which ends the conversation.
 */
static void issue(struct completion *cl, struct connection *c)
{
	while (!c->in_flight) {
		enum conn_wait wait = conn_waits_for(c);
		size_t len = 0;
		long res = -ENOMEM;

		if (wait == CONN_WAIT_NOTHING)
			return;
		void *buf = buffer_for(c, wait, &len);
		if (buf != NULL) {
			c->in_flight = true;
			c->loop_flags |= wait == CONN_WAIT_READ
					     ? READ_IN_FLIGHT
					     : WRITE_IN_FLIGHT;
			int rc = cl->ops->start(cl->mech, c, wait, buf, len);
			if (rc == 0)
				return;
			c->in_flight = false;
			c->loop_flags &= ~(READ_IN_FLIGHT | WRITE_IN_FLIGHT);
			log_server("client %s: cannot start a %s: %s", c->peer,
				   wait == CONN_WAIT_READ ? "read" : "write",
				   strerror(-rc));
			/* Not "try again": that would spin. */
			res = rc == -EAGAIN || rc == -EINTR ? -EIO : rc;
		}
		enum conn_step step = wait == CONN_WAIT_READ
					  ? conn_read_done(&cl->core, c, res)
					  : conn_write_done(&cl->core, c, res);
		if (step == CONN_GONE)
			return;
	}
}

/* Issue the requests of every connection listed. */
static void issue_listed(struct completion *cl)
{
	while (cl->nto_issue > 0) {
		struct connection *c = cl->to_issue[--cl->nto_issue];
		c->loop_flags &= ~TO_ISSUE;
		issue(cl, c);
	}
}

/*
 * The core's watch hook: c now waits for `wait`.  With nothing in flight
 * its next request is listed, to be issued once the core's call returns.
 * With a read in flight that c no longer waits for, the mechanism ends
 * it.  CONN_WAIT_NOTHING: c is being closed; its socket goes back to
 * nonblocking for the core's polite close.
 */
static void on_watch(void *ctx, struct connection *c, enum conn_wait wait)
{
	struct completion *cl = ctx;

	if (wait == CONN_WAIT_NOTHING) {
		unlist(cl, c);
		if (cl->ops->closing != NULL)
			cl->ops->closing(cl->mech, c);
		if (c->loop_flags & MADE_BLOCKING)
			(void)net_set_nonblocking(c->fd);
		c->loop_flags &= ~MADE_BLOCKING;
		return;
	}
	if (c->in_flight) {
		if (kind_in_flight(c) == CONN_WAIT_READ &&
		    wait != CONN_WAIT_READ && !(c->loop_flags & CANCELLED)) {
			c->loop_flags |= CANCELLED;
			cl->ops->cancel(cl->mech, c);
		}
		return;
	}
	if (cl->ops->blocking_sockets && !(c->loop_flags & MADE_BLOCKING)) {
		if (set_blocking(c->fd) == 0)
			c->loop_flags |= MADE_BLOCKING;
		else
			log_server("client %s: cannot make its socket "
				   "blocking: %s",
				   c->peer, strerror(errno));
	}
	list_to_issue(cl, c);
}

/* ============================== the loop's phases ====================== */

void completion_done(struct completion *cl, struct connection *c, long res)
{
	enum conn_wait kind = kind_in_flight(c);

	c->in_flight = false;
	c->loop_flags &= ~(READ_IN_FLIGHT | WRITE_IN_FLIGHT | CANCELLED);
	if (c->state == CONN_CLOSED) {
		conn_release(&cl->core, c);
		return;
	}
	/* A result c no longer waits for (a read that a timeout overtook)
	 * says nothing the core wants to hear. */
	if (kind == conn_waits_for(c)) {
		enum conn_step step = kind == CONN_WAIT_READ
					  ? conn_read_done(&cl->core, c, res)
					  : conn_write_done(&cl->core, c, res);
		if (step == CONN_GONE) {
			issue_listed(cl);
			return;
		}
	}
	issue(cl, c);
	issue_listed(cl);
}

bool completion_accept(struct completion *cl, int listen_fd)
{
	bool more = conn_accept_batch(&cl->core, listen_fd);

	issue_listed(cl);
	return more;
}

void completion_admit(struct completion *cl, int listen_fd, int fd,
		      const struct sockaddr *addr)
{
	(void)conn_admit(&cl->core, listen_fd, fd, addr);
	issue_listed(cl);
}

void completion_signals(struct completion *cl)
{
	conn_on_signals(&cl->core, cl->signal_fd);
	issue_listed(cl);
}

void completion_expire(struct completion *cl)
{
	if (cl->core.now >= conn_next_deadline(&cl->core)) {
		cl->ops->collect(cl->mech);
		if (cl->core.now >= conn_next_deadline(&cl->core))
			conn_expire(&cl->core);
	}
	issue_listed(cl);
}

int64_t completion_wait_ns(const struct completion *cl, int64_t cap_ns)
{
	int64_t next = conn_next_deadline(&cl->core);

	if (next == NO_DEADLINE)
		return cap_ns;
	int64_t left = next > cl->core.now ? next - cl->core.now : 0;
	return cap_ns >= 0 && left > cap_ns ? cap_ns : left;
}

int completion_over(const struct completion *cl)
{
	if (cl->core.abandon)
		return 2;
	return conn_drain_over(&cl->core) ? 1 : 0;
}

void completion_trace_start(const struct completion *cl)
{
	trace_header();
	for (size_t i = 0; i < cl->core.nlisteners; i++)
		TRACE("fd %d: listening socket %s", cl->core.listeners[i].fd,
		      cl->core.listeners[i].where);
	TRACE("fd %d: signal pipe", cl->signal_fd);
}

int completion_init(struct completion *cl, const struct conn_config *cfg,
		    const struct listener *listeners, size_t n, int signal_fd,
		    size_t table_size, const struct completion_ops *ops,
		    void *mech)
{
	const struct conn_hooks hooks = {
	    .watch = on_watch, .ctx = cl, .loop_does_io = true};

	memset(cl, 0, sizeof(*cl));
	cl->ops = ops;
	cl->mech = mech;
	cl->signal_fd = signal_fd;
	return conn_core_init(&cl->core, cfg, listeners, n, table_size, &hooks);
}

void completion_finish(struct completion *cl)
{
	conn_core_finish(&cl->core);
	free(cl->to_issue);
	cl->to_issue = NULL;
	cl->nto_issue = cl->to_issue_cap = 0;
}
