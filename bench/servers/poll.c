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
#include "../../include/startup.h"

/* Descriptors the server holds itself: stdin, stdout, stderr, the listening
 * socket, the two ends of the signal pipe and the reserve descriptor. */
#define OWN_FDS 7

/* The array: the signal pipe first, then stderr and the listening sockets
 * when they are watched, then the connections (from clients_at on).  Only
 * what is watched is in it: poll() refuses more entries than the process
 * may have descriptors (EINVAL). */
#define PFD_SIGNALS 0

static nfds_t build_pollfds(const struct conn_core *core, int signal_fd,
			    struct pollfd *pfd, nfds_t *clients_at);
static int timeout_until(int64_t deadline, int64_t now);
static int accept_ready(struct conn_core *core, const struct pollfd *pfd,
			nfds_t clients_at);
static void service_clients(struct conn_core *core, const struct pollfd *pfd,
			    nfds_t clients_at, nfds_t nfds, int ready);
static void trace_poll(const struct pollfd *pfd, nfds_t nfds, int timeout,
		       bool ready);
static void trace_descriptors(const struct conn_core *core, int signal_fd);

static int server_run(const struct conn_config *cfg,
		      const struct listener *listeners, size_t n, int signal_fd,
		      size_t table_size)
{
	static struct conn_core core;
	int status = 0;

	/* Room for a client on every descriptor, and all the rest. */
	struct pollfd *pfd =
	    calloc(table_size + 2 + NET_MAX_LISTENERS, sizeof(*pfd));
	if (pfd == NULL ||
	    conn_core_init(&core, cfg, listeners, n, table_size, NULL) != 0) {
		log_server("cannot allocate the connection table: %s",
			   strerror(ENOMEM));
		return 1;
	}
	if (trace_on)
		trace_descriptors(&core, signal_fd);
	for (;;) {
		log_flush(); /* what the last round logged, as far as it goes */
		nfds_t clients_at;
		nfds_t nfds = build_pollfds(&core, signal_fd, pfd, &clients_at);
		int timeout =
		    timeout_until(conn_next_deadline(&core), core.now);
		if (trace_on) {
			trace_poll(pfd, nfds, timeout, false);
			log_flush();
		}

		int ready = poll(pfd, nfds, timeout);
		conn_core_tick(&core);
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			log_server("poll: %s", strerror(errno));
			status = 1;
			break;
		}
		if (trace_on)
			trace_poll(pfd, nfds, timeout, true);

		if (pfd[PFD_SIGNALS].revents != 0) {
			conn_on_signals(&core, signal_fd);
			ready--;
		}
		if (core.abandon) {
			status = 1;
			break;
		}
		ready -= accept_ready(&core, pfd, clients_at);
		service_clients(&core, pfd, clients_at, nfds, ready);
		if (core.now >= conn_next_deadline(&core))
			conn_expire(&core);
		if (conn_drain_over(&core))
			break;
	}
	conn_core_finish(&core);
	free(pfd);
	return status;
}

/* ============================== the array ============================== */

static void watch(struct pollfd *pfd, nfds_t *nfds, int fd, short events)
{
	pfd[*nfds].fd = fd;
	pfd[*nfds].events = events;
	pfd[*nfds].revents = 0;
	(*nfds)++;
}

/*
 * Build the array: the signal pipe, stderr while log lines wait, the
 * listening sockets unless accepting is paused, and from *clients_at on
 * each live connection for what it waits for.  Returns nfds for poll().
 */
static nfds_t build_pollfds(const struct conn_core *core, int signal_fd,
			    struct pollfd *pfd, nfds_t *clients_at)
{
	nfds_t nfds = 0;

	watch(pfd, &nfds, signal_fd, POLLIN);
	if (log_pending())
		watch(pfd, &nfds, STDERR_FILENO, POLLOUT);
	if (conn_accepting(core))
		for (size_t i = 0; i < core->nlisteners; i++)
			watch(pfd, &nfds, core->listeners[i].fd, POLLIN);
	*clients_at = nfds;
	for (size_t i = 0; i < core->nlive; i++) {
		const struct connection *c = core->live[i];
		enum conn_wait wait = conn_waits_for(c);
		if (wait == CONN_WAIT_READ)
			watch(pfd, &nfds, c->fd, POLLIN);
		else if (wait == CONN_WAIT_WRITE)
			watch(pfd, &nfds, c->fd, POLLOUT);
	}
	return nfds;
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

/* Accept on each ready listening socket (and count stderr, whose
 * log_flush() is at the top of the round); how many of poll's count they
 * used. */
static int accept_ready(struct conn_core *core, const struct pollfd *pfd,
			nfds_t clients_at)
{
	int used = 0;

	for (nfds_t i = PFD_SIGNALS + 1; i < clients_at; i++)
		if (pfd[i].revents != 0) {
			used++;
			if (pfd[i].fd != STDERR_FILENO && core->nlisteners > 0)
				(void)conn_accept_batch(core, pfd[i].fd);
		}
	return used;
}

/*
 * One step for each ready connection, in the order of the array, until
 * poll's count of ready entries is used up.  The entry says what the
 * connection waited for when the array was built; a connection that has
 * moved on since (the drain began) or was closed is passed over.  (If its
 * descriptor went to a client accepted this round, the step finds nothing
 * to read and costs one EAGAIN.)
 */
static void service_clients(struct conn_core *core, const struct pollfd *pfd,
			    nfds_t clients_at, nfds_t nfds, int ready)
{
	for (nfds_t i = clients_at; i < nfds && ready > 0; i++) {
		if (pfd[i].revents == 0)
			continue;
		ready--;
		struct connection *c = core->by_fd[pfd[i].fd];
		if (c == NULL)
			continue;
		enum conn_wait wait = conn_waits_for(c);

		if (wait == CONN_WAIT_READ && pfd[i].events == POLLIN)
			(void)conn_on_readable(core, c);
		else if (wait == CONN_WAIT_WRITE && pfd[i].events == POLLOUT)
			(void)conn_on_writable(core, c);
	}
}

/* With -T: "poll: waiting read={...} write={...} timeout=..." before the
 * wait, or "poll: ready ..." after it with the entries that have news. */
static void trace_poll(const struct pollfd *pfd, nfds_t nfds, int timeout,
		       bool ready)
{
	int *r = malloc(2 * nfds * sizeof(*r));
	size_t nr = 0, nw = 0;

	if (r == NULL)
		return; /* the trace is a courtesy */
	int *w = r + nfds;
	for (nfds_t i = 0; i < nfds; i++) {
		if (ready && pfd[i].revents == 0)
			continue;
		if (pfd[i].events & POLLIN)
			r[nr++] = pfd[i].fd;
		else
			w[nw++] = pfd[i].fd;
	}
	trace_wait("poll", ready, r, nr, w, nw,
		   timeout < 0 ? -1 : (int64_t)timeout * 1000000);
	free(r);
}

/* With -T: who the descriptors the trace will name are. */
static void trace_descriptors(const struct conn_core *core, int signal_fd)
{
	trace_header();
	for (size_t i = 0; i < core->nlisteners; i++)
		TRACE("fd %d: listening socket %s", core->listeners[i].fd,
		      core->listeners[i].where);
	TRACE("fd %d: signal pipe", signal_fd);
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
	return server_run(&st.cfg, st.listeners, st.nlisteners, st.signal_fd,
			  table_size);
}
