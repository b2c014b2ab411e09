/*
 * threads.c - echoserv-threads: one thread per connection, blocking I/O.
 * The "threaded variant" echoserv is benchmarked against: each client's
 * conversation is straight-line code in its own thread, and the kernel's
 * scheduler is the event loop.  Its costs are a stack and a kernel task
 * per client, and a context switch for every wakeup.
 *
 *     main thread                      a client's thread (blocking.c)
 *     for (;;) {                       for (;;) {
 *         poll(listening sockets,          read() or write(), blocking
 *              signal pipe)                    until the connection's
 *         accept through the core:             deadline (SO_RCVTIMEO,
 *             a thread per client              SO_SNDTIMEO)
 *         signals, the drain (core)        the core's step
 *     }                                }
 *
 * What a connection does is the connection core's (conn.c), shared by
 * every thread under one mutex, which also guards the log: a thread holds
 * it except while it waits or moves bytes.  So --max-clients and
 * --max-per-addr count over the whole server, the timeouts, the lingering
 * close and the drain are echoserv's, and this file holds only how the
 * design waits: the main thread for new clients and signals, a client's
 * thread for its own socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* src/'s start-up (bench/servers/startup.h, which the readiness servers
 * still use, would shadow it in quotes). */
#include "startup.h"

#include "blocking.h"
#include "log.h"
#include "trace.h"

/* stdin, stdout, stderr, a listening socket, the signal pipe's two ends,
 * the core's reserve descriptor. */
#define OWN_FDS 7
/* Threads per process are bounded by memory long before descriptors. */
#define MAX_THREADS 16384
/* Enough for a round of the conversation, a 16 KiB log line and the
 * 16 KiB drain buffer of a polite close, with room to spare; far less
 * than the 8 MiB default, which would be reserved (not used) per client. */
#define THREAD_STACK (256 * 1024)
/* Listening sockets, the signal pipe, stderr. */
#define MAX_WATCHED (NET_MAX_LISTENERS + 2)
/* A socket timeout is set again only when the time to the deadline has
 * moved by more than this (the idle timeout gives the same each time). */
#define TIMEOUT_SLACK (10 * INT64_C(1000000))

struct threads {
	struct blocking b;
	pthread_mutex_t lock;
	pthread_attr_t attr;
	int signal_fd;
	/* Admitted clients whose thread could not be started. */
	struct connection *unstarted[64];
	size_t nunstarted;
};

static struct threads srv;

/* ============================== a client's thread ===================== */

/* The socket timeouts this thread has set on its socket, in ns (0: none,
 * the call waits as long as it takes), for reading and writing. */
static _Thread_local int64_t timeout_set[2];

static int set_socket_timeout(int fd, enum conn_wait what, int64_t ns)
{
	struct timeval tv = {.tv_sec = (time_t)(ns / 1000000000),
			     .tv_usec = (suseconds_t)(ns % 1000000000 / 1000)};

	if (ns > 0 && tv.tv_sec == 0 && tv.tv_usec == 0)
		tv.tv_usec = 1; /* 0 would mean none */
	return setsockopt(fd, SOL_SOCKET,
			  what == CONN_WAIT_READ ? SO_RCVTIMEO : SO_SNDTIMEO,
			  &tv, sizeof(tv));
}

/*
 * A client's thread waits in the read or write itself: its socket is
 * blocking, and its receive or send timeout ends the call at the
 * connection's deadline (EAGAIN, then the core's verdict).  So this wait
 * only sets that timeout, when it has moved.
 */
static enum agent_wake wait_in_the_call(struct blocking *b,
					struct connection *c,
					enum conn_wait what, int64_t deadline)
{
	int64_t want = 0, *have = &timeout_set[what == CONN_WAIT_WRITE];

	(void)b;
	if (deadline != NO_DEADLINE) {
		want = deadline - conn_clock();
		if (want <= 0)
			return AGENT_TIMEOUT;
	}
	bool moved = (want == 0) != (*have == 0) ||
		     want - *have > TIMEOUT_SLACK ||
		     *have - want > TIMEOUT_SLACK;
	if (moved && set_socket_timeout(c->fd, what, want) == 0)
		*have = want;
	return AGENT_READY;
}

static int set_blocking(int fd, bool blocking)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -1;
	flags = blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK;
	return fcntl(fd, F_SETFL, flags) < 0 ? -1 : 0;
}

static void *client_thread(void *arg)
{
	pthread_mutex_lock(&srv.lock);
	blocking_serve(&srv.b, arg);
	pthread_mutex_unlock(&srv.lock);
	return NULL;
}

/* The core's watch hook (the lock held): a new connection, announced as
 * waiting to read for the first time, gets its thread and a blocking
 * socket; one about to be closed gets its nonblocking socket back, for
 * the core's polite close (which drains without waiting). */
static void on_watch(void *ctx, struct connection *c, enum conn_wait wait)
{
	struct threads *t = ctx;
	pthread_t tid;

	if (wait == CONN_WAIT_NOTHING) {
		(void)set_blocking(c->fd, false);
		return;
	}
	if (wait != CONN_WAIT_READ || (c->loop_flags & BLOCKING_HAS_AGENT))
		return;
	c->loop_flags |= BLOCKING_HAS_AGENT;
	if (set_blocking(c->fd, true) != 0)
		log_server("client %s: cannot make its socket blocking: %s",
			   c->peer, strerror(errno));
	c->in_flight = true; /* held for its thread (blocking_serve) */
	int err = pthread_create(&tid, &t->attr, client_thread, c);
	if (err == 0)
		return;
	c->in_flight = false;
	log_server("client %s: cannot start a thread: %s", c->peer,
		   strerror(err));
	if (t->nunstarted < sizeof(t->unstarted) / sizeof(t->unstarted[0]))
		t->unstarted[t->nunstarted++] = c;
}

/* Clients no thread could be had for: their conversations end, as when
 * there is no memory for them. */
static void cut_unstarted(struct threads *t)
{
	while (t->nunstarted > 0)
		(void)conn_read_done(&t->b.core, t->unstarted[--t->nunstarted],
				     -ENOMEM);
}

/* ============================== the main thread ======================= */

/* The main thread's poll set: the signal pipe, stderr while log lines
 * wait, the listening sockets unless accepting is paused. */
static nfds_t build_watch(const struct threads *t, struct pollfd *p)
{
	const struct conn_core *core = &t->b.core;
	nfds_t n = 0;

	p[n++] = (struct pollfd){.fd = t->signal_fd, .events = POLLIN};
	if (log_pending())
		p[n++] =
		    (struct pollfd){.fd = STDERR_FILENO, .events = POLLOUT};
	for (size_t i = 0; conn_accepting(core) && i < core->nlisteners; i++)
		p[n++] = (struct pollfd){.fd = core->listeners[i].fd,
					 .events = POLLIN};
	return n;
}

/* One round of the main thread, the lock held but for its wait.  Returns
 * -1 to go on, else the exit status. */
static int main_round(struct threads *t)
{
	struct conn_core *core = &t->b.core;
	struct pollfd p[MAX_WATCHED];

	log_flush();
	nfds_t n = build_watch(t, p);
	/* The connections' deadlines are their threads' to wait for. */
	int timeout = blocking_poll_timeout(conn_server_deadline(core));
	TRACE("poll: signals%s, timeout=%d ms",
	      conn_accepting(core) ? " and new clients" : "", timeout);
	log_flush();
	pthread_mutex_unlock(&t->lock);
	int ready = poll(p, n, timeout);
	pthread_mutex_lock(&t->lock);
	conn_core_tick(core);
	if (ready < 0 && errno != EINTR) {
		log_server("poll: %s", strerror(errno));
		return 1;
	}
	for (nfds_t i = 0; ready > 0 && i < n; i++) {
		if (p[i].revents == 0)
			continue;
		if (p[i].fd == t->signal_fd)
			conn_on_signals(core, t->signal_fd);
		else if (p[i].fd != STDERR_FILENO && conn_accepting(core))
			(void)conn_accept_batch(core, p[i].fd);
	}
	cut_unstarted(t);
	conn_expire_server(core);
	if (core->abandon)
		return 1;
	return conn_drain_over(core) ? 0 : -1;
}

static size_t ceiling(size_t fds)
{
	size_t n = fds > OWN_FDS ? fds - OWN_FDS : 1;
	return n < MAX_THREADS ? n : MAX_THREADS;
}

int main(int argc, char **argv)
{
	static struct startup st;
	size_t fds = startup_fd_limit();
	const struct startup_model model = {
	    .name = "one thread per connection",
	    .ceiling = ceiling(fds),
	};

	int rc = startup(argc, argv, &model, &st);
	if (rc >= 0)
		return rc;
	if (pthread_mutex_init(&srv.lock, NULL) != 0 ||
	    pthread_attr_init(&srv.attr) != 0 ||
	    pthread_attr_setdetachstate(&srv.attr, PTHREAD_CREATE_DETACHED) !=
		0 ||
	    pthread_attr_setstacksize(&srv.attr, THREAD_STACK) != 0 ||
	    blocking_init(&srv.b, &st.cfg, st.listeners, st.nlisteners, fds,
			  on_watch, &srv) != 0) {
		log_server("cannot set up threads: %s", strerror(errno));
		return 1;
	}
	srv.b.wait = wait_in_the_call;
	srv.b.lock = &srv.lock;
	srv.b.wait_name = "block";
	srv.signal_fd = st.signal_fd;
	pthread_mutex_lock(&srv.lock);
	if (trace_on)
		blocking_trace_start(&srv.b, st.signal_fd);
	while ((rc = main_round(&srv)) < 0)
		continue;
	/* The lock stays held: the clients' threads, whatever they wait
	 * for, end with the process. */
	conn_core_finish(&srv.b.core);
	log_flush();
	return rc;
}
