/*
 * poll.c - echoserv-poll: echoserv's event loop (src/server.c) with poll()
 * in place of select().
 *
 * One round of the loop, as in the lecture:
 *
 *     build the array  one pass over the live connections: READING and
 *                      LINGERING ones with POLLIN, WRITING ones with
 *                      POLLOUT, plus the listening sockets and the signal
 *                      pipe (and stderr, while log lines wait for it)
 *     poll             sleep until something is ready or the nearest
 *                      deadline (the core keeps it ready: no walk)
 *     signals          begin (or abandon) the graceful shutdown
 *     accept           take new clients; the core admits or turns away
 *     service          one read or write per ready client, until poll's
 *                      count is used up; a client whose conversation ends
 *                      is finished there and then
 *     expire           only when the nearest deadline has come
 *
 * What changes from select() is the cost model: poll() takes an array of
 * the watched descriptors only, so there is no FD_SETSIZE ceiling (the
 * table is as large as the descriptor limit) and no scan of unused fd
 * numbers; but like select() the whole array crosses into the kernel
 * every round, and the kernel looks at every entry.
 *
 * This file knows only how to wait: what a connection does when its socket
 * is ready, and every transition of its state, is the connection core's
 * (conn.c), which every event loop of the project shares.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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

/* What poll() takes, and where each descriptor's entry is: the fd_sets of
 * this loop.  Only what is watched has an entry (poll() refuses more
 * entries than the process may have descriptors). */
struct poll_set {
	struct pollfd *entries; /* nfds used */
	nfds_t nfds;
	nfds_t *entry_of; /* by fd: where its entry is, if it has one */
	size_t size;      /* entries and entry_of: one per descriptor */
};

static nfds_t build_poll_set(const struct conn_core *core, int signal_fd,
			     struct poll_set *set);
static bool is_ready(const struct poll_set *set, int fd, short events);
static int timeout_until(int64_t deadline, int64_t now);
static int accept_ready(struct conn_core *core, const struct poll_set *set);
static void service_clients(struct conn_core *core, const struct poll_set *set,
			    int ready);
static void trace_poll(const struct poll_set *set, int timeout, bool ready);

static int server_run(const struct conn_config *cfg,
		      const struct listener *listeners, size_t n, int signal_fd,
		      size_t table_size)
{
	static struct conn_core core;
	struct poll_set set = {.size = table_size};
	int status = 0;

	/* Inherited descriptors (systemd's) may lie beyond the limit that
	 * bounds the clients'. */
	for (size_t i = 0; i < n; i++)
		if ((size_t)listeners[i].fd >= set.size)
			set.size = (size_t)listeners[i].fd + 1;
	if ((size_t)signal_fd >= set.size)
		set.size = (size_t)signal_fd + 1;
	set.entries = calloc(set.size, sizeof(*set.entries));
	set.entry_of = calloc(set.size, sizeof(*set.entry_of));
	if (set.entries == NULL || set.entry_of == NULL ||
	    conn_core_init(&core, cfg, listeners, n, table_size, NULL) != 0) {
		log_server("cannot allocate the connection table: %s",
			   strerror(errno));
		return 1;
	}
	if (trace_on)
		trace_descriptors(core.listeners, core.nlisteners, signal_fd);
	for (;;) {
		log_flush(); /* what the last round logged, as far as it goes */
		nfds_t nfds = build_poll_set(&core, signal_fd, &set);
		int timeout =
		    timeout_until(conn_next_deadline(&core), core.now);
		if (trace_on) {
			trace_poll(&set, timeout, false);
			log_flush();
		}

		int ready = poll(set.entries, nfds, timeout);
		conn_core_tick(&core);
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			log_server("poll: %s", strerror(errno));
			status = 1;
			break;
		}
		if (trace_on)
			trace_poll(&set, timeout, true);

		if (is_ready(&set, signal_fd, POLLIN)) {
			conn_on_signals(&core, signal_fd);
			ready--;
		}
		if (core.abandon) {
			status = 1;
			break;
		}
		if (is_ready(&set, STDERR_FILENO, POLLOUT))
			ready--; /* log_flush() at the top of the round */
		ready -= accept_ready(&core, &set);
		service_clients(&core, &set, ready);
		if (core.now >= conn_next_deadline(&core))
			conn_expire(&core);
		if (conn_drain_over(&core))
			break;
	}
	conn_core_finish(&core);
	free(set.entries);
	free(set.entry_of);
	return status;
}

/* ============================== the array ============================== */

static void watch(int fd, short events, struct poll_set *set)
{
	struct pollfd *p = &set->entries[set->nfds];

	p->fd = fd;
	p->events = events;
	p->revents = 0;
	set->entry_of[fd] = set->nfds++;
}

/* FD_ISSET() for this loop: did poll() report fd, watched for events? */
static bool is_ready(const struct poll_set *set, int fd, short events)
{
	if (fd < 0 || (size_t)fd >= set->size)
		return false;
	nfds_t i = set->entry_of[fd];
	return i < set->nfds && set->entries[i].fd == fd &&
	       (set->entries[i].events & events) &&
	       set->entries[i].revents != 0;
}

/*
 * Build the array: the signal pipe, stderr while log lines wait, the
 * listening sockets unless accepting is paused, and each live connection
 * for what it waits for.  Every fd is below the set's size: the core admits
 * none beyond its table.  Returns nfds for poll().
 */
static nfds_t build_poll_set(const struct conn_core *core, int signal_fd,
			     struct poll_set *set)
{
	set->nfds = 0;
	watch(signal_fd, POLLIN, set);
	if (log_pending())
		watch(STDERR_FILENO, POLLOUT, set);
	if (conn_accepting(core))
		for (size_t i = 0; i < core->nlisteners; i++)
			watch(core->listeners[i].fd, POLLIN, set);
	for (size_t i = 0; i < core->nlive; i++) {
		const struct connection *c = core->live[i];
		enum conn_wait wait = conn_waits_for(c);
		if (wait == CONN_WAIT_READ)
			watch(c->fd, POLLIN, set);
		else if (wait == CONN_WAIT_WRITE)
			watch(c->fd, POLLOUT, set);
	}
	return set->nfds;
}

/* poll()'s timeout for a deadline: -1 (wait forever) or the ms left,
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

/* Accept on each ready listening socket; how many of poll's count they
 * used. */
static int accept_ready(struct conn_core *core, const struct poll_set *set)
{
	int used = 0;

	for (size_t i = 0; i < core->nlisteners; i++)
		if (is_ready(set, core->listeners[i].fd, POLLIN)) {
			used++;
			(void)conn_accept_batch(core, core->listeners[i].fd);
		}
	return used;
}

/*
 * One step for each ready connection, in the order of the live list,
 * until poll's count of ready descriptors is used up.  A connection
 * that closes leaves its place to the last one of the list, which is then
 * looked at in the same place.
 */
static void service_clients(struct conn_core *core, const struct poll_set *set,
			    int ready)
{
	for (size_t i = 0; i < core->nlive && ready > 0;) {
		struct connection *c = core->live[i];
		enum conn_wait wait = conn_waits_for(c);
		enum conn_step step = CONN_AGAIN;

		if (wait == CONN_WAIT_READ && is_ready(set, c->fd, POLLIN)) {
			ready--;
			step = conn_on_readable(core, c);
		} else if (wait == CONN_WAIT_WRITE &&
			   is_ready(set, c->fd, POLLOUT)) {
			ready--;
			step = conn_on_writable(core, c);
		}
		if (step != CONN_GONE)
			i++;
	}
}

/* With -T: "poll: waiting read={...} write={...} timeout=..." before the
 * wait, or "poll: ready ..." after it, the entries with news. */
static void trace_poll(const struct poll_set *set, int timeout, bool ready)
{
	int *r = malloc(2 * set->nfds * sizeof(*r));
	size_t nr = 0, nw = 0;

	if (r == NULL)
		return; /* the trace is a courtesy */
	int *w = r + set->nfds;
	for (nfds_t i = 0; i < set->nfds; i++) {
		const struct pollfd *p = &set->entries[i];
		if (ready && p->revents == 0)
			continue;
		if (p->events & POLLIN)
			r[nr++] = p->fd;
		else
			w[nw++] = p->fd;
	}
	trace_wait("poll", ready, r, nr, w, nw,
		   timeout < 0 ? -1 : (int64_t)timeout * 1000000);
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
	const struct startup_model poll_model = {
	    .name = "poll() event loop",
	    .waits_with = "poll",
	    .ceiling = table_size > OWN_FDS ? table_size - OWN_FDS : 1,
	};

	int rc = startup(argc, argv, &poll_model, &st);
	if (rc >= 0)
		return rc;
	descriptors = table_size;
	return startup_serve(&st, serve); /* --workers: through workers.c */
}
