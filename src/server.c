/*
 * server.c - echoserv's event loop: select() (see server.h).
 *
 * One round of the loop, as in the lecture:
 *
 *     build the sets   one pass over the live connections: READING and
 *                      LINGERING ones in readfds, WRITING ones in writefds,
 *                      plus the listening sockets and the signal pipe (and
 *                      stderr, while log lines wait for it)
 *     select           sleep until something is ready or the nearest
 *                      deadline (the core keeps it ready: no walk)
 *     signals          begin (or abandon) the graceful shutdown
 *     accept           take new clients; the core admits or turns away
 *     service          one read or write per ready client, until select's
 *                      count is used up; a client whose conversation ends
 *                      is finished there and then
 *     expire           only when the nearest deadline has come
 *
 * This file knows only how to wait: what a connection does when its socket
 * is ready, and every transition of its state, is the connection core's
 * (conn.c), which every event loop of the project shares.
 */
#include "server.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "trace.h"
#include "udp.h"
#include "workers.h"

static int build_fd_sets(const struct conn_core *core, const struct startup *st,
			 fd_set *readfds, fd_set *writefds);
static struct timeval *timeout_until(int64_t deadline, int64_t now,
				     struct timeval *tv);
static int accept_ready(struct conn_core *core, const fd_set *readfds);
static int echo_datagrams(const struct startup *st, const fd_set *readfds,
			  struct udp_stats *udp);
static int take_handed_clients(struct conn_core *core, const struct startup *st,
			       const fd_set *readfds);
static void service_clients(struct conn_core *core, const fd_set *readfds,
			    const fd_set *writefds, int ready);
static void send_totals(int fd, const struct udp_stats *udp);

size_t max_clients_ceiling(void)
{
	return FD_SETSIZE - SERVER_OWN_FDS;
}

int server_run(struct startup *st)
{
	static struct conn_core core;
	struct udp_stats udp = {0};
	int signal_fd = st->signal_fd, status = 0;

	if (conn_core_init(&core, &st->cfg, st->listeners, st->nlisteners,
			   FD_SETSIZE, NULL) != 0) {
		log_server("cannot allocate the connection table: %s",
			   strerror(errno));
		return 1;
	}
	if (trace_on) {
		trace_descriptors(core.listeners, core.nlisteners, signal_fd);
		for (size_t i = 0; i < st->nudp; i++)
			TRACE("fd %d: UDP socket %s", st->udp[i].fd,
			      st->udp[i].where);
	}
	for (;;) {
		fd_set readfds, writefds;
		struct timeval tv;

		log_flush(); /* what the last round logged, as far as it goes */
		int nfds = build_fd_sets(&core, st, &readfds, &writefds);
		struct timeval *timeout =
		    timeout_until(conn_next_deadline(&core), core.now, &tv);
		if (trace_on) {
			trace_select(&readfds, &writefds, nfds, timeout, false);
			log_flush();
		}

		int ready = select(nfds, &readfds, &writefds, NULL, timeout);
		conn_core_tick(&core);
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			log_server("select: %s", strerror(errno));
			status = 1;
			break;
		}
		if (trace_on)
			trace_select(&readfds, &writefds, nfds, NULL, true);

		if (FD_ISSET(signal_fd, &readfds)) {
			conn_on_signals(&core, signal_fd);
			ready--;
		}
		if (core.abandon) {
			status = 1;
			break;
		}
		if (FD_ISSET(STDERR_FILENO, &writefds))
			ready--; /* log_flush() at the top of the round */
		ready -= accept_ready(&core, &readfds);
		ready -= echo_datagrams(st, &readfds, &udp);
		ready -= take_handed_clients(&core, st, &readfds);
		service_clients(&core, &readfds, &writefds, ready);
		if (core.now >= conn_next_deadline(&core))
			conn_expire(&core);
		if (conn_drain_over(&core))
			break;
	}
	conn_core_finish(&core);
	for (size_t i = 0; i < st->nudp; i++)
		close(st->udp[i].fd);
	if (st->nudp > 0 && !st->cfg.no_summary)
		udp_log_summary(&udp);
	if (st->totals_fd >= 0 && st->nudp > 0)
		send_totals(st->totals_fd, &udp);
	return status;
}

/* ============================== the sets ============================== */

static void watch(int fd, fd_set *set, int *nfds)
{
	FD_SET(fd, set);
	if (fd >= *nfds)
		*nfds = fd + 1;
}

/*
 * Build readfds and writefds: the signal pipe, stderr while log lines
 * wait, the listening sockets unless accepting is paused, the UDP sockets
 * until shutdown, and each live connection for what it waits for.  Every fd is below FD_SETSIZE: the
 * core admits none beyond its table.  Returns nfds for select().
 */
static int build_fd_sets(const struct conn_core *core, const struct startup *st,
			 fd_set *readfds, fd_set *writefds)
{
	int nfds = 0;

	FD_ZERO(readfds);
	FD_ZERO(writefds);
	watch(st->signal_fd, readfds, &nfds);
	if (log_pending())
		watch(STDERR_FILENO, writefds, &nfds);
	if (conn_accepting(core))
		for (size_t i = 0; i < core->nlisteners; i++)
			watch(core->listeners[i].fd, readfds, &nfds);
	for (size_t i = 0; !core->shutting_down && i < st->nudp; i++)
		watch(st->udp[i].fd, readfds, &nfds);
	if (st->handoff_fd >= 0 && !core->shutting_down)
		watch(st->handoff_fd, readfds, &nfds);
	/* The connections: what each waits for, from the packed array the
	 * core keeps beside its live list (one pass, no walk of the table). */
	int top = nfds;
	for (size_t i = 0; i < core->nlive; i++) {
		int fd = core->watches[i].fd;
		enum conn_wait wait = core->watches[i].wait;
		if (wait == CONN_WAIT_READ)
			FD_SET(fd, readfds);
		else if (wait == CONN_WAIT_WRITE)
			FD_SET(fd, writefds);
		if (fd >= top)
			top = fd + 1;
	}
	return top;
}

/* select()'s timeout for a deadline: NULL (wait forever) or the time left,
 * rounded up so we never wake just before it and spin. */
static struct timeval *timeout_until(int64_t deadline, int64_t now,
				     struct timeval *tv)
{
	if (deadline == NO_DEADLINE)
		return NULL;
	int64_t left = deadline > now ? deadline - now : 0;
	int64_t us = (left + 999) / 1000;
	tv->tv_sec = (time_t)(us / 1000000);
	tv->tv_usec = (suseconds_t)(us % 1000000);
	return tv;
}

/* ============================== the work ============================== */

/* Accept on each ready listening socket; how many of select's count they
 * used. */
static int accept_ready(struct conn_core *core, const fd_set *readfds)
{
	int used = 0;

	for (size_t i = 0; i < core->nlisteners; i++)
		if (FD_ISSET(core->listeners[i].fd, readfds)) {
			used++;
			(void)conn_accept_batch(core, core->listeners[i].fd);
		}
	return used;
}

/* --workers: clients a full worker handed to this one; 1 if the socket
 * they come on was ready (it used one of select's count), else 0. */
static int take_handed_clients(struct conn_core *core, const struct startup *st,
			       const fd_set *readfds)
{
	struct sockaddr_storage addr;
	int fd;

	if (st->handoff_fd < 0 || !FD_ISSET(st->handoff_fd, readfds))
		return 0;
	for (int i = 0; i < 64 && workers_receive(st->handoff_fd, &fd, &addr);
	     i++)
		if (fd >= 0)
			(void)conn_admit_handed(core, st->handoff_fd, fd,
						(struct sockaddr *)&addr);
	return 1;
}

/* Echo on each ready UDP socket; how many of select's count they used. */
static int echo_datagrams(const struct startup *st, const fd_set *readfds,
			  struct udp_stats *udp)
{
	int used = 0;

	for (size_t i = 0; i < st->nudp; i++)
		if (FD_ISSET(st->udp[i].fd, readfds)) {
			used++;
			(void)udp_echo_ready(st->udp[i].fd, st->udp[i].port,
					     udp);
		}
	return used;
}

/*
 * One step for each ready connection, in the order of the live list,
 * until select's count of ready descriptors is used up: the descriptors
 * come from the packed array beside the list, and a connection is looked
 * at only where select() set its bit.  One that closes leaves its place to
 * the last of the list, which is then looked at in the same place.
 */
static void service_clients(struct conn_core *core, const fd_set *readfds,
			    const fd_set *writefds, int ready)
{
	for (size_t i = 0; i < core->nlive && ready > 0;) {
		int fd = core->watches[i].fd;
		enum conn_wait wait = core->watches[i].wait;
		enum conn_step step = CONN_AGAIN;

		if (wait == CONN_WAIT_READ && FD_ISSET(fd, readfds)) {
			ready--;
			step = conn_on_readable(core, core->live[i]);
		} else if (wait == CONN_WAIT_WRITE && FD_ISSET(fd, writefds)) {
			ready--;
			step = conn_on_writable(core, core->live[i]);
		}
		if (step != CONN_GONE)
			i++;
	}
}

/* A worker of --workers, at its end: its datagram totals, after the
 * core's line, for the parent's summary (workers.c reads them). */
static void send_totals(int fd, const struct udp_stats *udp)
{
	char line[160];
	int n = snprintf(line, sizeof(line), "udp %llu %llu %llu %llu %llu\n",
			 (unsigned long long)udp->echoed,
			 (unsigned long long)udp->bytes,
			 (unsigned long long)udp->dropped_guard,
			 (unsigned long long)udp->dropped_busy,
			 (unsigned long long)udp->dropped_other);

	if (n > 0 && write(fd, line, (size_t)n) != n)
		log_server("worker totals: %s", strerror(errno));
}
