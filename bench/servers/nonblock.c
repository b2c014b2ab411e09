/*
 * nonblock.c - echoserv-nonblock: nonblocking sockets and no waiting at
 * all, the "process calls recvfrom repeatedly" model, over echoserv's
 * connection core.
 *
 * One round of the loop, which never sleeps:
 *
 *     signals          read() the signal pipe: EAGAIN unless one came
 *     accept           accept() on each listening socket: EAGAIN unless
 *                      someone is waiting
 *     service          for every live connection, a read() if it waits
 *                      to read (EAGAIN unless it sent something), a
 *                      write() if it waits to write (EAGAIN unless there
 *                      is room)
 *     expire           only when the nearest deadline has come
 *
 * Every call returns at once, so one thread serves every client and no
 * slow client blocks another: the answer to the iterative server's
 * problem.  The price is that the loop never sleeps.  With nothing to do
 * it still asks every socket, as fast as the core allows, and keeps that
 * core at 100 % whatever the load (watch it in top): the lesson this
 * server exists to show, and what select(), poll() and epoll were made to
 * fix.  The cost is inherent, not a bug to fix: a round makes a system
 * call per connection whether it spoke or not, so a client waits up to a
 * round for its answer, and the more idle clients there are the longer a
 * round takes.  The policy holds all the same: the clock is read every
 * round, so timeouts, the linger and the drain end when they should.
 *
 * This file knows only how to find out what is ready (by trying): what a
 * connection does when its socket is ready, and every transition of its
 * state, is the connection core's (conn.c), which every event loop of the
 * project shares.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
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

/* With -T: the descriptors a round found something on, and how many
 * rounds before it found nothing. */
struct round_trace {
	int *read, *write;
	size_t nread, nwrite;
	unsigned long long empty;
};

static void accept_all(struct conn_core *core);
static void try_every_client(struct conn_core *core, struct round_trace *t);
static void trace_round(struct round_trace *t);

static int server_run(const struct conn_config *cfg,
		      const struct listener *listeners, size_t n, int signal_fd,
		      size_t table_size)
{
	static struct conn_core core;
	struct round_trace t = {0};
	int status = 0;

	if (conn_core_init(&core, cfg, listeners, n, table_size, NULL) != 0) {
		log_server("cannot allocate the connection table: %s",
			   strerror(errno));
		return 1;
	}
	if (trace_on) {
		trace_descriptors(core.listeners, core.nlisteners, signal_fd);
		t.read = calloc(2 * table_size, sizeof(*t.read));
		t.write = t.read != NULL ? t.read + table_size : NULL;
	}
	for (;;) {
		log_flush(); /* what the last round logged, as far as it goes */
		conn_core_tick(&core);

		conn_on_signals(&core, signal_fd); /* nothing: EAGAIN */
		if (core.abandon) {
			status = 1;
			break;
		}
		accept_all(&core);
		try_every_client(&core, t.read != NULL ? &t : NULL);
		if (core.now >= conn_next_deadline(&core))
			conn_expire(&core);
		if (conn_drain_over(&core))
			break;
		if (t.read != NULL)
			trace_round(&t);
	}
	conn_core_finish(&core);
	free(t.read);
	return status;
}

/* Accept on every listening socket, unless accepting is paused. */
static void accept_all(struct conn_core *core)
{
	for (size_t i = 0; conn_accepting(core) && i < core->nlisteners; i++)
		(void)conn_accept_batch(core, core->listeners[i].fd);
}

/*
 * One step for every live connection, for what it waits for: whatever the
 * step finds (most often EAGAIN) is the answer to "is it ready?".  A
 * connection that closes leaves its place to the last one of the list,
 * which is then looked at in the same place.  With t, note the ones that
 * were ready.
 */
static void try_every_client(struct conn_core *core, struct round_trace *t)
{
	for (size_t i = 0; i < core->nlive;) {
		struct connection *c = core->live[i];
		enum conn_wait wait = conn_waits_for(c);
		int fd = c->fd;
		enum conn_step step = CONN_DRAINED;

		if (wait == CONN_WAIT_READ)
			step = conn_on_readable(core, c);
		else if (wait == CONN_WAIT_WRITE)
			step = conn_on_writable(core, c);
		if (t != NULL && step != CONN_DRAINED && wait == CONN_WAIT_READ)
			t->read[t->nread++] = fd;
		else if (t != NULL && step != CONN_DRAINED)
			t->write[t->nwrite++] = fd;
		if (step != CONN_GONE)
			i++;
	}
}

/* With -T: "nonblock (after 41 empty rounds): ready read={...} write={...}"
 * at the end of a round that found something: the cost of not waiting, in
 * the trace. */
static void trace_round(struct round_trace *t)
{
	char who[64];

	if (t->nread == 0 && t->nwrite == 0) {
		t->empty++;
		return;
	}
	snprintf(who, sizeof(who), "nonblock (after %llu empty rounds)",
		 t->empty);
	trace_wait(who, true, t->read, t->nread, t->write, t->nwrite, 0);
	t->nread = t->nwrite = 0;
	t->empty = 0;
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
	const struct startup_model nonblock_model = {
	    .name = "nonblocking polling, no waiting (burns a core)",
	    .waits_with = "nothing",
	    .ceiling = table_size > OWN_FDS ? table_size - OWN_FDS : 1,
	};

	int rc = startup(argc, argv, &nonblock_model, &st);
	if (rc >= 0)
		return rc;
	descriptors = table_size;
	return startup_serve(&st, serve); /* --workers: through workers.c */
}
