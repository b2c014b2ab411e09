/*
 * iterative.c - echoserv-iterative: the lecture's opening loop, one client
 * at a time over blocking I/O.
 *
 *     for (;;) {
 *         wait for a client        poll: the listening sockets, signals
 *         accept one               the core admits it (or turns it away)
 *         serve it until it goes   blocking.c: poll on its socket (and
 *                                  the signal pipe) until its deadline,
 *                                  read or write, the core's step
 *     }
 *
 * Nothing else runs while a client talks: the next one's connect()
 * succeeds (the kernel completes the handshake and holds it in the listen
 * queue) but its lines wait unanswered until the first client leaves, its
 * linger included.  That is the model, and what it costs; everything else
 * is the connection core's, as in every server: the idle timeout (the only
 * defence one silent client leaves the others) and the line timeout with
 * their notices, the lingering close, --max-per-addr, SIGTERM's drain and
 * SIGUSR1's status, the log lines and the trace.  --max-clients has
 * nothing to limit: with one client at a time, the next is never turned
 * away, it waits.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
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
/* Listening sockets, the signal pipe, stderr. */
#define MAX_WATCHED (NET_MAX_LISTENERS + 2)

static int signal_fd = -1;

/* The client's wait: its socket, and the signal pipe (SIGTERM begins the
 * drain, SIGUSR1 asks for the status line, even while a client is
 * served), until the client's deadline or the server's own. */
static enum agent_wake wait_for_client(struct blocking *b, struct connection *c,
				       enum conn_wait what, int64_t deadline)
{
	struct conn_core *core = &b->core;
	int64_t own = conn_server_deadline(core);

	if (blocking_write_at_once(c, what))
		return AGENT_READY;
	enum agent_wake wake = blocking_poll(
	    c->fd, what, own < deadline ? own : deadline, signal_fd);
	conn_core_tick(core);
	if (wake == AGENT_WOKEN)
		conn_on_signals(core, signal_fd);
	conn_expire_server(core);
	return wake;
}

/* Accept one client on listen_fd and serve it to the end. */
static void serve_next(struct blocking *b, int listen_fd)
{
	/* Zeroed: an unnamed Unix-domain client fills in no path. */
	struct sockaddr_storage addr = {0};
	socklen_t len = sizeof(addr);
	int fd = accept(listen_fd, (struct sockaddr *)&addr, &len);

	if (fd < 0) {
		(void)conn_accept_failed(&b->core, listen_fd, errno);
		return;
	}
	struct connection *c =
	    conn_admit(&b->core, listen_fd, fd, (struct sockaddr *)&addr);
	if (c != NULL)
		blocking_serve(b, c);
}

/* Wait for a client or a signal.  Returns -1 to go on, else the exit
 * status. */
static int between_clients(struct blocking *b)
{
	struct conn_core *core = &b->core;
	struct pollfd p[MAX_WATCHED];
	nfds_t n = 0;

	log_flush();
	p[n++] = (struct pollfd){.fd = signal_fd, .events = POLLIN};
	if (log_pending())
		p[n++] =
		    (struct pollfd){.fd = STDERR_FILENO, .events = POLLOUT};
	nfds_t first_listener = n;
	for (size_t i = 0; conn_accepting(core) && i < core->nlisteners; i++)
		p[n++] = (struct pollfd){.fd = core->listeners[i].fd,
					 .events = POLLIN};
	int timeout = blocking_poll_timeout(conn_server_deadline(core));
	TRACE("poll: waiting for a client, timeout=%d ms", timeout);
	log_flush();
	int ready = poll(p, n, timeout);
	conn_core_tick(core);
	if (ready < 0 && errno != EINTR) {
		log_server("poll: %s", strerror(errno));
		return 1;
	}
	if (p[0].revents != 0)
		conn_on_signals(core, signal_fd);
	conn_expire_server(core);
	/* One client at a time: the first listening socket that has one. */
	for (nfds_t i = first_listener; i < n && !core->shutting_down; i++)
		if (p[i].revents != 0) {
			serve_next(b, p[i].fd);
			break;
		}
	if (core->abandon)
		return 1;
	return conn_drain_over(core) ? 0 : -1;
}

int main(int argc, char **argv)
{
	static struct blocking b;
	static struct startup st;
	size_t fds = startup_fd_limit();
	const struct startup_model model = {
	    .name = "iterative, one client at a time",
	    .ceiling = fds > OWN_FDS ? fds - OWN_FDS : 1,
	};

	int rc = startup(argc, argv, &model, &st);
	if (rc >= 0)
		return rc;
	if (blocking_init(&b, &st.cfg, st.listeners, st.nlisteners, fds, NULL,
			  NULL) != 0) {
		log_server("cannot allocate the connection table: %s",
			   strerror(errno));
		return 1;
	}
	b.wait = wait_for_client;
	b.wait_name = "poll";
	signal_fd = st.signal_fd;
	if (trace_on)
		blocking_trace_start(&b, signal_fd);
	while ((rc = between_clients(&b)) < 0)
		continue;
	conn_core_finish(&b.core);
	return rc;
}
