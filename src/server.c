/*
 * server.c - the select() event loop (see server.h).
 *
 * One round of the loop, as in the lecture:
 *
 *     build the sets   READING clients in readfds, WRITING clients in
 *                      writefds, plus the listening socket and signal pipe
 *     select           sleep until something is ready or the nearest deadline
 *     signals          begin (or abandon) the graceful shutdown
 *     accept           take new clients, turning away those we cannot watch
 *     service          one read or write per ready client
 *     expire           end the sessions of clients idle for too long
 *     reap             close clients whose session is DONE, politely
 *
 * Sessions change state only inside protocol.c; this file moves bytes and
 * reports the changes it sees (trace_transition).
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "protocol.h"

#define NS_PER_SEC  INT64_C(1000000000)
#define NS_PER_MS   INT64_C(1000000)
#define NO_DEADLINE INT64_MAX

/* Graceful shutdown delivers queued replies for at most this long. */
#define DRAIN_TIME (2 * NS_PER_SEC)
/* After an accept failure we could not shed, wait this long before the
 * listening socket goes back into readfds (no busy loop). */
#define ACCEPT_PAUSE (100 * NS_PER_MS)
/* Clients accepted per round at most, so a connect storm cannot starve the
 * clients already connected. */
#define ACCEPT_BATCH 64
/* A finished connection lingers (see begin_linger) until the client closes,
 * its input has been quiet this long, or LINGER_MAX has passed. */
#define LINGER_QUIET (1 * NS_PER_SEC)
#define LINGER_MAX   (10 * NS_PER_SEC)

/* ========================= data structures ========================= */

struct connection {
	int fd;
	struct session session;
	/* Monotonic ns of the last byte read or written: the idle clock. */
	int64_t last_progress;
	char peer[NET_ADDR_LEN];
	/* After DONE: FIN sent, input read and discarded until linger_end. */
	bool lingering;
	bool linger_over; /* the client closed or failed: close now */
	int64_t linger_end;
};

struct server {
	const struct server_config *cfg;
	int listen_fd; /* -1 once shutdown has begun */
	int signal_fd;
	/* A spare descriptor, given up to shed a client on EMFILE. */
	int reserve_fd;

	/* The connection table, indexed by fd.  accept() results at or above
	 * FD_SETSIZE never enter it, so every index is safe for FD_SET. */
	struct connection *conns[FD_SETSIZE];
	int max_fd;        /* highest fd in conns[], or -1 */
	size_t nclients;   /* in conversation: what --max-clients limits */
	size_t nlingering; /* finished, waiting for the client to close */

	int64_t now;           /* monotonic ns, read after each select() */
	int64_t accept_resume; /* accepting is paused until then, if > now */
	bool shutting_down;
	bool abandon; /* a second signal: close everything, exit 1 */
	int64_t drain_deadline;

	uint64_t clients_served, lines_echoed, bytes_echoed;
};

size_t max_clients_ceiling(void)
{
	return FD_SETSIZE - SERVER_OWN_FDS;
}

static int64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static int64_t idle_ns(const struct server *srv)
{
	return (int64_t)srv->cfg->idle_timeout * NS_PER_SEC;
}

/* ============================== trace ============================== */

/* "{3,4,5}": the members of set below nfds. */
static void format_fd_set(const fd_set *set, int nfds, char *buf, size_t len)
{
	size_t used = 0;

	used += (size_t)snprintf(buf, len, "{");
	for (int fd = 0; fd < nfds && used < len; fd++)
		if (FD_ISSET(fd, set))
			used += (size_t)snprintf(buf + used, len - used,
						 used > 1 ? ",%d" : "%d", fd);
	if (used < len)
		snprintf(buf + used, len - used, "}");
}

static void trace_sets(const char *what, const fd_set *r, const fd_set *w,
		       int nfds, const char *timeout)
{
	static char rtext[FD_SETSIZE * 6], wtext[FD_SETSIZE * 6];

	format_fd_set(r, nfds, rtext, sizeof(rtext));
	format_fd_set(w, nfds, wtext, sizeof(wtext));
	trace_line("select: %-8s read=%s write=%s%s%s", what, rtext, wtext,
		   timeout != NULL ? " timeout=" : "",
		   timeout != NULL ? timeout : "");
}

/*
 * Report the state change (if any) a session went through, e.g.
 * "fd 4: READING -> WRITING (2 lines)" or "fd 4: WRITING -> DONE (quit)".
 */
static void trace_transition(const struct connection *c, enum conn_state before)
{
	/* First, before any work: with tracing off this costs one branch. */
	if (!trace_on || c->session.state == before)
		return;

	const struct session *s = &c->session;
	const char *why = close_reason_name(s->reason);
	char detail[64] = "";
	if (s->state == WRITING && before == READING) {
		size_t lines = session_lines_owed(s);
		snprintf(detail, sizeof(detail), " (%zu line%s%s%s)", lines,
			 lines == 1 ? "" : "s",
			 s->reason != CLOSE_NONE ? ", then " : "",
			 s->reason != CLOSE_NONE ? why : "");
	} else if (s->state == DONE) {
		snprintf(detail, sizeof(detail), " (%s)", why);
	}
	trace_line("fd %d: %s -> %s%s", c->fd, conn_state_name(before),
		   conn_state_name(s->state), detail);
}

/* ============================== clients ============================== */

/* Send what the session owes until it is all sent or the socket is full. */
static void conn_on_writable(struct server *srv, struct connection *c)
{
	while (c->session.state == WRITING) {
		enum conn_state before = c->session.state;
		size_t len;
		const char *out = session_output(&c->session, &len);
		ssize_t n = write(c->fd, out, len);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				return; /* select will tell us when to retry */
			TRACE("fd %d: write failed: %s", c->fd,
			      strerror(errno));
			session_abort(&c->session, CLOSE_RESET);
			trace_transition(c, before);
			return;
		}
		TRACE("fd %d: wrote %zd of %zu bytes%s", c->fd, n, len,
		      (size_t)n < len ? " (partial)" : "");
		c->last_progress = srv->now;
		session_on_output(&c->session, (size_t)n);
		trace_transition(c, before);
		if ((size_t)n < len)
			return; /* the socket buffer is full */
	}
}

/*
 * Read once (fairness: one buffer per ready client per round), hand the
 * bytes to the session, and if replies are now owed try to send them at
 * once: usually the socket can take them, which saves a round of select.
 */
static void conn_on_readable(struct server *srv, struct connection *c)
{
	enum conn_state before = c->session.state;
	size_t room;
	char *space = session_input_space(&c->session, &room);

	if (space == NULL) {
		log_server("client %s: out of memory", c->peer);
		session_abort(&c->session, CLOSE_NO_MEMORY);
		trace_transition(c, before);
		return;
	}
	ssize_t n = read(c->fd, space, room);
	if (n > 0) {
		TRACE("fd %d: read %zd bytes", c->fd, n);
		c->last_progress = srv->now;
		session_on_input(&c->session, (size_t)n);
	} else if (n == 0) {
		TRACE("fd %d: read end of input", c->fd);
		session_on_eof(&c->session);
	} else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		return;
	} else {
		TRACE("fd %d: read failed: %s", c->fd, strerror(errno));
		session_abort(&c->session, CLOSE_RESET);
	}
	trace_transition(c, before);
	if (c->session.state == WRITING)
		conn_on_writable(srv, c);
}

/*
 * Closing politely.  close() on a socket with unread input makes TCP send a
 * reset, and a reset throws away the replies still queued for the client,
 * e.g. those a slow reader has not taken yet (SPEC 3.8).  So when the client
 * may still be sending (it said quit, sent a line too long, or we are
 * shutting down), the connection first sends FIN after its replies
 * (shutdown), then reads and discards input until the client closes too, its
 * input has been quiet for LINGER_QUIET, or LINGER_MAX has passed.  Only then
 * is the socket closed.  After EOF, a reset or an idle timeout no more input
 * is coming, and the socket is closed at once.
 */
static bool wants_linger(const struct connection *c)
{
	enum close_reason why = c->session.reason;
	return why == CLOSE_QUIT || why == CLOSE_TOO_LONG ||
	       why == CLOSE_SHUTDOWN;
}

/* Read and drop one buffer of input from a lingering client. */
static void conn_discard_input(struct server *srv, struct connection *c)
{
	char sink[16384];
	ssize_t n = read(c->fd, sink, sizeof(sink));

	if (n > 0) {
		TRACE("fd %d: discarded %zd bytes", c->fd, n);
		c->last_progress = srv->now;
	} else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
			      errno != EINTR)) {
		c->linger_over = true; /* the client closed, or is gone */
	}
}

static void begin_linger(struct server *srv, struct connection *c)
{
	TRACE("fd %d: FIN sent; discarding input until the client closes",
	      c->fd);
	(void)shutdown(c->fd, SHUT_WR); /* fails only if the peer is gone */
	c->lingering = true;
	srv->nclients--; /* its slot is free for a new client */
	srv->nlingering++;
	c->last_progress = srv->now;
	c->linger_end = srv->now + LINGER_MAX;
	conn_discard_input(srv, c); /* the client may have closed already */
}

/* Close a client whose session is DONE, log it and forget it. */
static void conn_close(struct server *srv, struct connection *c)
{
	const struct session *s = &c->session;

	log_client("client %s closed (fd %d): %s; echoed %llu line%s, %llu "
		   "byte%s",
		   c->peer, c->fd, close_reason_name(s->reason),
		   (unsigned long long)s->lines_echoed,
		   s->lines_echoed == 1 ? "" : "s",
		   (unsigned long long)s->bytes_echoed,
		   s->bytes_echoed == 1 ? "" : "s");
	TRACE("fd %d: closed", c->fd);
	srv->lines_echoed += s->lines_echoed;
	srv->bytes_echoed += s->bytes_echoed;

	if (s->reason == CLOSE_RESET || s->reason == CLOSE_NO_MEMORY)
		close(c->fd); /* nothing left to protect */
	else
		net_close_gracefully(c->fd); /* FIN, drop unread input, close */

	srv->conns[c->fd] = NULL;
	if (c->lingering)
		srv->nlingering--;
	else
		srv->nclients--;
	while (srv->max_fd >= 0 && srv->conns[srv->max_fd] == NULL)
		srv->max_fd--;
	session_free(&c->session);
	free(c);
}

/* ============================== accepting ============================== */

/* Accept and immediately close with "server full" (best effort). */
static void turn_away(int fd, const char *peer)
{
	log_client("client %s turned away: server full", peer);
	net_send_best_effort(fd, MSG_SERVER_FULL);
	net_close_gracefully(fd);
}

/* A newly accepted socket: admit it to the table, or turn it away. */
static void admit_client(struct server *srv, int fd,
			 const struct sockaddr *addr)
{
	char peer[NET_ADDR_LEN];
	struct connection *c;

	net_format_addr(addr, peer, sizeof(peer));
	if (net_set_nonblocking(fd) != 0) {
		log_server("client %s: cannot make socket nonblocking: %s",
			   peer, strerror(errno));
		close(fd);
		return;
	}
	TRACE("fd %d: accepted fd %d from %s", srv->listen_fd, fd, peer);
	/* An fd >= FD_SETSIZE must never reach FD_SET: memory corruption. */
	if (fd >= FD_SETSIZE || srv->nclients >= srv->cfg->max_clients) {
		turn_away(fd, peer);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		log_server("client %s: out of memory", peer);
		close(fd);
		return;
	}
	/* Not fatal if it fails: replies may just leave a little later. */
	(void)net_set_nodelay(fd);
	c->fd = fd;
	c->last_progress = srv->now;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	session_init(&c->session, srv->cfg->max_line);
	srv->conns[fd] = c;
	if (fd > srv->max_fd)
		srv->max_fd = fd;
	srv->nclients++;
	srv->clients_served++;
	log_client("client %s connected (fd %d)", peer, fd);
}

enum shed_result { SHED_ONE, SHED_NONE_WAITING, SHED_FAILED };

/*
 * Out of descriptors (EMFILE/ENFILE): the pending client would keep the
 * listening socket readable and select would return at once, forever.  Give
 * up the reserve descriptor, accept the client, turn it away, and take the
 * reserve back.  (accept() reports EMFILE before it looks at the queue, so
 * there may be no one waiting at all.)
 */
static enum shed_result shed_client(struct server *srv, int accept_errno)
{
	struct sockaddr_storage addr;
	socklen_t len = sizeof(addr);
	enum shed_result result = SHED_ONE;

	if (srv->reserve_fd < 0)
		return SHED_FAILED;
	close(srv->reserve_fd);
	int fd = accept(srv->listen_fd, (struct sockaddr *)&addr, &len);
	if (fd >= 0) {
		char peer[NET_ADDR_LEN];
		net_format_addr((struct sockaddr *)&addr, peer, sizeof(peer));
		log_server("accept: %s: shedding client %s",
			   strerror(accept_errno), peer);
		if (net_set_nonblocking(fd) == 0) {
			net_send_best_effort(fd, MSG_SERVER_FULL);
			net_close_gracefully(fd);
		} else {
			close(fd);
		}
	} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
		result = SHED_NONE_WAITING;
	} else {
		result = SHED_FAILED;
	}
	srv->reserve_fd = open("/dev/null", O_RDONLY);
	if (srv->reserve_fd >= 0)
		(void)net_set_cloexec(srv->reserve_fd);
	return result;
}

/* Stop watching the listening socket for a moment after a failure we could
 * do nothing about, instead of spinning on it. */
static void pause_accepting(struct server *srv, int err)
{
	log_server("accept: %s; pausing new connections for %lld ms",
		   strerror(err), (long long)(ACCEPT_PAUSE / NS_PER_MS));
	srv->accept_resume = srv->now + ACCEPT_PAUSE;
}

static void accept_clients(struct server *srv)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage addr;
		socklen_t len = sizeof(addr);
		int fd = accept(srv->listen_fd, (struct sockaddr *)&addr, &len);

		if (fd >= 0) {
			admit_client(srv, fd, (struct sockaddr *)&addr);
			continue;
		}
		int err = errno;
		if (err == EAGAIN || err == EWOULDBLOCK)
			return; /* no one else is waiting */
		if (err == EINTR || err == ECONNABORTED || err == EPROTO)
			continue; /* that client gave up; try the next */
		if (err == EMFILE || err == ENFILE) {
			enum shed_result r = shed_client(srv, err);
			if (r == SHED_ONE)
				continue;
			if (r == SHED_NONE_WAITING)
				return;
		}
		pause_accepting(srv, err);
		return;
	}
}

/* ============================== shutdown ============================== */

/* Stop accepting and reading; the drain delivers what is owed. */
static void begin_shutdown(struct server *srv)
{
	log_client("shutting down: delivering queued replies for up to %lld s",
		   (long long)(DRAIN_TIME / NS_PER_SEC));
	srv->shutting_down = true;
	srv->drain_deadline = srv->now + DRAIN_TIME;
	close(srv->listen_fd); /* new clients are refused, not left waiting */
	srv->listen_fd = -1;
	for (int fd = 0; fd <= srv->max_fd; fd++) {
		struct connection *c = srv->conns[fd];
		if (c == NULL)
			continue;
		enum conn_state before = c->session.state;
		session_finish(&c->session, CLOSE_SHUTDOWN);
		trace_transition(c, before);
	}
}

/* The self-pipe is readable: each byte is one SIGINT or SIGTERM. */
static void on_signals(struct server *srv)
{
	unsigned char sigs[16];
	ssize_t n = read(srv->signal_fd, sigs, sizeof(sigs));

	for (ssize_t i = 0; i < n; i++) {
		if (srv->shutting_down) {
			log_server("second signal: abandoning the drain");
			srv->abandon = true;
			return;
		}
		begin_shutdown(srv);
	}
}

/* ============================== the loop ============================== */

/* When the loop must next act on a client of its own accord: the idle
 * timeout, or the end of its linger.  NO_DEADLINE if never. */
static int64_t conn_deadline(const struct server *srv,
			     const struct connection *c)
{
	if (c->lingering) {
		int64_t quiet = c->last_progress + LINGER_QUIET;
		return quiet < c->linger_end ? quiet : c->linger_end;
	}
	if (srv->cfg->idle_timeout == 0)
		return NO_DEADLINE;
	return c->last_progress + idle_ns(srv);
}

/*
 * Build readfds and writefds from the connection table, and find the
 * nearest deadline.  Returns nfds for select().
 */
static int build_fd_sets(const struct server *srv, fd_set *readfds,
			 fd_set *writefds, int64_t *deadline)
{
	int nfds = srv->signal_fd + 1;

	FD_ZERO(readfds);
	FD_ZERO(writefds);
	*deadline = NO_DEADLINE;

	FD_SET(srv->signal_fd, readfds);
	if (srv->listen_fd >= 0) {
		if (srv->accept_resume <= srv->now) {
			FD_SET(srv->listen_fd, readfds);
			if (srv->listen_fd >= nfds)
				nfds = srv->listen_fd + 1;
		} else {
			*deadline = srv->accept_resume;
		}
	}
	if (srv->shutting_down)
		*deadline = srv->drain_deadline;

	for (int fd = 0; fd <= srv->max_fd; fd++) {
		const struct connection *c = srv->conns[fd];
		if (c == NULL)
			continue;
		if (c->session.state == READING || c->lingering)
			FD_SET(fd, readfds);
		else if (c->session.state == WRITING)
			FD_SET(fd, writefds);
		if (fd >= nfds)
			nfds = fd + 1;
		int64_t d = conn_deadline(srv, c);
		if (d < *deadline)
			*deadline = d;
	}
	return nfds;
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

static void service_clients(struct server *srv, const fd_set *readfds,
			    const fd_set *writefds)
{
	for (int fd = 0; fd <= srv->max_fd; fd++) {
		struct connection *c = srv->conns[fd];
		if (c == NULL)
			continue;
		if (c->session.state == READING && FD_ISSET(fd, readfds))
			conn_on_readable(srv, c);
		else if (c->session.state == WRITING && FD_ISSET(fd, writefds))
			conn_on_writable(srv, c);
		else if (c->lingering && FD_ISSET(fd, readfds))
			conn_discard_input(srv, c);
	}
}

/* SPEC 4: no byte read or written for --idle-timeout seconds. */
static void expire_idle_clients(struct server *srv)
{
	for (int fd = 0; fd <= srv->max_fd; fd++) {
		struct connection *c = srv->conns[fd];
		if (c == NULL || c->session.state == DONE ||
		    srv->now < conn_deadline(srv, c))
			continue;
		enum conn_state before = c->session.state;
		session_finish(&c->session, CLOSE_TIMEOUT);
		trace_transition(c, before);
		conn_on_writable(srv, c); /* the notice, best effort */
		if (c->session.state != DONE) {
			before = c->session.state;
			session_abort(&c->session, CLOSE_TIMEOUT);
			trace_transition(c, before);
		}
	}
}

/* Close DONE clients: at once if the peer is gone, else after lingering. */
static void reap_done_clients(struct server *srv)
{
	for (int fd = 0; fd <= srv->max_fd; fd++) {
		struct connection *c = srv->conns[fd];
		if (c == NULL || c->session.state != DONE)
			continue;
		if (!c->lingering && wants_linger(c))
			begin_linger(srv, c);
		if (c->lingering && !c->linger_over &&
		    srv->now < conn_deadline(srv, c))
			continue;
		conn_close(srv, c);
	}
}

/* At the end: close whoever is left (drain over or abandoned). */
static void close_all(struct server *srv)
{
	for (int fd = 0; fd <= srv->max_fd; fd++) {
		struct connection *c = srv->conns[fd];
		if (c == NULL)
			continue;
		enum conn_state before = c->session.state;
		if (before != DONE)
			session_abort(&c->session, CLOSE_SHUTDOWN);
		trace_transition(c, before);
		conn_close(srv, c);
	}
}

static void trace_before_select(const fd_set *r, const fd_set *w, int nfds,
				const struct timeval *tv)
{
	char timeout[32];

	if (tv == NULL)
		snprintf(timeout, sizeof(timeout), "none");
	else
		snprintf(timeout, sizeof(timeout), "%.1fs",
			 (double)tv->tv_sec + (double)tv->tv_usec / 1e6);
	trace_sets("waiting", r, w, nfds, timeout);
}

int server_run(const struct server_config *cfg, int listen_fd, int signal_fd)
{
	static struct server srv; /* the table is large: not on the stack */
	int status = 0;

	memset(&srv, 0, sizeof(srv));
	srv.cfg = cfg;
	srv.listen_fd = listen_fd;
	srv.signal_fd = signal_fd;
	srv.max_fd = -1;
	srv.now = monotonic_ns();
	srv.reserve_fd = open("/dev/null", O_RDONLY);
	if (srv.reserve_fd >= 0)
		(void)net_set_cloexec(srv.reserve_fd);

	for (;;) {
		fd_set readfds, writefds;
		struct timeval tv, *timeout;
		int64_t deadline;

		int nfds = build_fd_sets(&srv, &readfds, &writefds, &deadline);
		timeout = timeout_until(deadline, srv.now, &tv);
		if (trace_on)
			trace_before_select(&readfds, &writefds, nfds, timeout);

		int ready = select(nfds, &readfds, &writefds, NULL, timeout);
		srv.now = monotonic_ns();
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			log_server("select: %s", strerror(errno));
			status = 1;
			break;
		}
		if (trace_on)
			trace_sets("ready", &readfds, &writefds, nfds, NULL);

		if (FD_ISSET(signal_fd, &readfds))
			on_signals(&srv);
		if (srv.abandon) {
			status = 1;
			break;
		}
		if (srv.listen_fd >= 0 && FD_ISSET(srv.listen_fd, &readfds))
			accept_clients(&srv);
		service_clients(&srv, &readfds, &writefds);
		expire_idle_clients(&srv);
		reap_done_clients(&srv);

		if (srv.shutting_down &&
		    ((srv.nclients == 0 && srv.nlingering == 0) ||
		     srv.now >= srv.drain_deadline))
			break;
	}

	close_all(&srv);
	if (srv.listen_fd >= 0)
		close(srv.listen_fd);
	if (srv.reserve_fd >= 0)
		close(srv.reserve_fd);
	log_server("shutdown: served %llu client%s, echoed %llu line%s, %llu "
		   "byte%s",
		   (unsigned long long)srv.clients_served,
		   srv.clients_served == 1 ? "" : "s",
		   (unsigned long long)srv.lines_echoed,
		   srv.lines_echoed == 1 ? "" : "s",
		   (unsigned long long)srv.bytes_echoed,
		   srv.bytes_echoed == 1 ? "" : "s");
	return status;
}
