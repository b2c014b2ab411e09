/*
 * sigio.c - echoserv-sigio: signal-driven I/O.  The kernel sends a signal
 * when a socket becomes readable or writable; the server sleeps until one
 * comes, then does the I/O.
 *
 *     every socket: O_ASYNC | O_NONBLOCK, F_SETOWN(me), F_SETSIG(SIGRTMIN+1)
 *     for (;;) {
 *         sigwaitinfo()            sleeps; si_fd says which socket woke
 *         mark that socket ready   (plain SIGIO: the realtime queue was
 *                                   full, so mark every socket ready)
 *         one read or write on every ready socket; EAGAIN unmarks it
 *     }
 *
 * With F_SETSIG (Linux) the signal is a queued realtime one whose siginfo
 * names the descriptor, so no scan is needed to find it.  The signals are
 * blocked and taken with sigwaitinfo(), so no handler runs at an awkward
 * moment.  Notification is edge-triggered: a signal means "something
 * changed", not "there is data now", so a ready socket stays marked until
 * a read or write says EAGAIN (drained); one call per socket per round
 * keeps it fair.  How it fails: the realtime queue is bounded (per user,
 * RLIMIT_SIGPENDING); when it is full the kernel raises plain SIGIO
 * instead, which carries no descriptor and merges with others, and the
 * only safe answer is to sweep every client once.  Under load a signal per
 * event also costs far more than one epoll_wait() for many.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clients.h"
#include "log.h"
#include "nonblocking_client.h"
#include "startup.h"

/* stdin, stdout, stderr, the listening socket, the lingering thread's
 * pipe, the reserve descriptor (clients.c). */
#define OWN_FDS 7
/* Signals taken per round at most before the ready sockets are served. */
#define SIGNALS_PER_ROUND 1024

struct sigio_client {
	struct client c; /* first: client_end() frees the whole */
	bool ready;      /* a signal came and no EAGAIN since: try it */
};

struct sigio_server {
	const struct options *opt;
	int listen_fd;
	int io_signal; /* SIGRTMIN + 1 */
	sigset_t waited;
	bool listen_ready;
	struct sigio_client **by_fd; /* fd_limit() entries */
	size_t fd_end;               /* no client at fd_end or above */
	size_t table_size;
	int *ready; /* fds marked ready, each once; nready of them */
	size_t nready;
	size_t nclients;
	unsigned long overflows; /* plain SIGIOs taken */
};

/* Ask for io_signal, carrying fd, whenever fd becomes ready. */
static int own_signals(int fd, int io_signal)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETOWN, getpid()) != 0 ||
	    fcntl(fd, F_SETSIG, io_signal) != 0 ||
	    fcntl(fd, F_SETFL, flags | O_ASYNC | O_NONBLOCK) != 0)
		return -1;
	return 0;
}

/* No more signals for fd: it may linger open in the lingering thread
 * (linger.h) after its client is gone.  Stale ones already queued find no
 * client and are ignored. */
static void stop_signals(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags >= 0)
		(void)fcntl(fd, F_SETFL, flags & ~O_ASYNC);
}

static void mark_ready(struct sigio_server *srv, int fd)
{
	struct sigio_client *c;

	if (fd == srv->listen_fd) {
		srv->listen_ready = true;
		return;
	}
	if (fd < 0 || (size_t)fd >= srv->table_size)
		return;
	c = srv->by_fd[fd];
	if (c == NULL || c->ready)
		return; /* a stale signal for a closed fd, or marked already */
	c->ready = true;
	srv->ready[srv->nready++] = fd;
}

/* The realtime queue overflowed: every socket may have news. */
static void mark_all_ready(struct sigio_server *srv)
{
	srv->listen_ready = true;
	for (size_t fd = 0; fd < srv->fd_end; fd++)
		if (srv->by_fd[fd] != NULL)
			mark_ready(srv, (int)fd);
}

static void on_signal(struct sigio_server *srv, const siginfo_t *si)
{
	if (si->si_signo == srv->io_signal)
		mark_ready(srv, si->si_fd);
	else if (si->si_signo == SIGIO) {
		if (srv->overflows++ == 0)
			log_server("realtime signal queue full: plain SIGIO, "
				   "sweeping every client (logged once)");
		mark_all_ready(srv);
	}
}

/*
 * Take the signals that are waiting: block for the first one only when no
 * socket is marked ready (there is nothing else to do).
 */
static void take_signals(struct sigio_server *srv)
{
	static const struct timespec no_wait = {0, 0};
	siginfo_t si;

	if (srv->nready == 0 && !srv->listen_ready) {
		while (sigwaitinfo(&srv->waited, &si) < 0)
			if (errno != EINTR)
				return;
		on_signal(srv, &si);
	}
	for (int i = 0; i < SIGNALS_PER_ROUND; i++) {
		if (sigtimedwait(&srv->waited, &si, &no_wait) < 0)
			return; /* EAGAIN: none left */
		on_signal(srv, &si);
	}
}

/* accept_batch()'s callback, ctx the server. */
static void admit(void *ctx, int fd, const struct sockaddr *addr)
{
	struct sigio_server *srv = ctx;
	struct sigio_client *c;

	if ((size_t)fd >= srv->table_size) {
		close(fd);
		return;
	}
	c = client_admit(sizeof(*c), fd, addr, srv->nclients, srv->opt);
	if (c == NULL)
		return;
	if (own_signals(fd, srv->io_signal) != 0) {
		log_server("client %s: no signals: %s", c->c.peer,
			   strerror(errno));
		session_abort(&c->c.session, CLOSE_RESET);
		client_end(&c->c, LINGER_IN_BACKGROUND);
		return;
	}
	srv->by_fd[fd] = c;
	srv->nclients++;
	if ((size_t)fd >= srv->fd_end)
		srv->fd_end = (size_t)fd + 1;
	/* Input that came before F_SETOWN raised no signal: look now. */
	c->ready = false;
	mark_ready(srv, fd);
}

/* One read or write on client c; false once it is drained or closed. */
static bool serve_once(struct sigio_server *srv, struct sigio_client *c)
{
	bool more = true;

	if (c->c.session.state == SESSION_READING)
		more = nb_on_readable(&c->c);
	else if (c->c.session.state == SESSION_WRITING)
		more = nb_on_writable(&c->c);
	if (c->c.session.state == SESSION_DONE) {
		srv->by_fd[c->c.fd] = NULL;
		srv->nclients--;
		stop_signals(c->c.fd);
		client_end(&c->c, LINGER_IN_BACKGROUND);
		return false;
	}
	if (!more)
		c->ready = false;
	return more;
}

/* One round: accept, then one call on every ready client; those not yet
 * drained stay on the list for the next round. */
static void serve_ready(struct sigio_server *srv)
{
	size_t kept = 0, n = srv->nready;

	if (srv->listen_ready)
		srv->listen_ready = accept_batch(srv->listen_fd, admit, srv);
	n = srv->nready < n ? srv->nready : n; /* admit() may have added */
	for (size_t i = 0; i < n; i++) {
		int fd = srv->ready[i];
		struct sigio_client *c = srv->by_fd[fd];
		if (c != NULL && serve_once(srv, c))
			srv->ready[kept++] = fd;
	}
	/* Keep the ones marked during this round (new clients) too. */
	for (size_t i = n; i < srv->nready; i++)
		srv->ready[kept++] = srv->ready[i];
	srv->nready = kept;
}

static int set_up(struct sigio_server *srv)
{
	srv->io_signal = SIGRTMIN + 1;
	sigemptyset(&srv->waited);
	sigaddset(&srv->waited, srv->io_signal);
	sigaddset(&srv->waited, SIGIO);
	/* Blocked, so they queue for sigwaitinfo() instead of running a
	 * handler (or killing us: SIGIO's default action is to terminate). */
	if (sigprocmask(SIG_BLOCK, &srv->waited, NULL) != 0)
		return -1;
	srv->table_size = fd_limit();
	srv->by_fd = calloc(srv->table_size, sizeof(*srv->by_fd));
	srv->ready = calloc(srv->table_size, sizeof(*srv->ready));
	if (srv->by_fd == NULL || srv->ready == NULL)
		return -1;
	if (own_signals(srv->listen_fd, srv->io_signal) != 0)
		return -1;
	srv->listen_ready = true; /* a client may have come already */
	return 0;
}

int main(int argc, char **argv)
{
	static struct sigio_server srv;
	struct options opt;

	int rc = server_start(argc, argv, "signal-driven I/O (F_SETSIG)",
			      fd_ceiling(OWN_FDS), &opt, &srv.listen_fd);
	if (rc >= 0)
		return rc;
	srv.opt = &opt;
	if (set_up(&srv) != 0) {
		log_server("cannot set up signal-driven I/O: %s",
			   strerror(errno));
		return 1;
	}
	for (;;) {
		take_signals(&srv);
		serve_ready(&srv);
	}
}
