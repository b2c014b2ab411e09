/*
 * server.c - the select() event loop (see server.h).
 *
 * One round of the loop, as in the lecture:
 *
 *     build the sets   READING clients in readfds, WRITING clients in
 *                      writefds, plus the listening sockets and the signal
 *                      pipe (and stderr, while log lines wait for it)
 *     select           sleep until something is ready or the nearest deadline
 *     signals          begin (or abandon) the graceful shutdown
 *     accept           take new clients, turning away those we cannot serve
 *     service          one read or write per ready client
 *     expire           end the sessions of clients too slow or too quiet
 *     reap             close clients whose session is DONE, politely
 *
 * A connection's life: its session goes READING <-> WRITING -> DONE, and
 * those transitions happen inside protocol.c.  What follows DONE is this
 * file's: the connection either closes at once (DONE -> CLOSED) or first
 * lingers (DONE -> LINGERING -> CLOSED, see begin_linger).  Every
 * transition is traced with -T.
 *
 * Time: srv->now is read once a round, after select(), and is what
 * deadlines are judged against.  Every stamp of progress (a byte read or
 * written, a connection accepted, a linger begun) reads the clock afresh
 * instead: if the process is frozen in the middle of a round (SIGSTOP, a
 * debugger, a cgroup freezer), the work done after the thaw must not be
 * dated before the freeze, or clients served a moment ago would look idle.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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
#include "peers.h"
#include "protocol.h"
#include "trace.h"

#define NS_PER_SEC  INT64_C(1000000000)
#define NS_PER_MS   INT64_C(1000000)
#define NO_DEADLINE INT64_MAX

/* Graceful shutdown delivers queued replies for at most this long. */
#define DRAIN_TIME (2 * NS_PER_SEC)
/* After an accept failure we could not shed, wait this long before the
 * listening sockets go back into readfds (no busy loop). */
#define ACCEPT_PAUSE (100 * NS_PER_MS)
/* Clients accepted per listening socket per round at most, so a connect
 * storm cannot starve the clients already connected. */
#define ACCEPT_BATCH 64
/* A finished connection lingers (see begin_linger) until the client closes,
 * its input has been quiet this long, or LINGER_MAX has passed. */
#define LINGER_QUIET (1 * NS_PER_SEC)
#define LINGER_MAX   (10 * NS_PER_SEC)

/* ========================= data structures ========================= */

/* Where a connection is: in conversation (its session's state says more),
 * or lingering after it.  A closed connection is no longer in the table. */
enum conn_phase { CONVERSING, LINGERING };

struct connection {
	int fd;
	enum conn_phase phase;
	struct session session;
	/* Monotonic ns of the last byte read or written: the idle clock. */
	int64_t last_progress;
	/* When the first byte of the unfinished line arrived: the line clock
	 * (meaningful while session_has_partial_line()). */
	int64_t line_started;
	int64_t linger_end; /* LINGERING: closed by then at the latest */
	/* LINGERING: the queue of lingerers, oldest first (see make_room). */
	struct connection *linger_prev, *linger_next;
	bool per_addr; /* counted in srv->peers until closed */
	struct peer_key peer_key;
	char peer[NET_ADDR_LEN];
};

struct server {
	const struct server_config *cfg;
	const struct listener *listeners;
	size_t nlisteners; /* 0 once shutdown has begun */
	int signal_fd;
	/* A spare descriptor, given up to shed a client on EMFILE. */
	int reserve_fd;

	/* The connection table, indexed by fd.  accept() results at or above
	 * FD_SETSIZE never enter it, so every index is safe for FD_SET. */
	struct connection *conns[FD_SETSIZE];
	int max_fd;        /* highest fd in conns[], or -1 */
	size_t nclients;   /* CONVERSING: what --max-clients limits */
	size_t nlingering; /* LINGERING: waiting for the client to close */
	struct connection *oldest_lingerer, *newest_lingerer;
	/* Connections per address, lingering ones included: what
	 * --max-per-addr limits. */
	struct peer_table peers;

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

static int64_t seconds_ns(unsigned seconds)
{
	return (int64_t)seconds * NS_PER_SEC;
}

static bool would_block(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

/* ============================== clients ============================== */

/* Send what the session owes until it is all sent or the socket is full. */
static void conn_on_writable(struct connection *c)
{
	while (c->session.state == WRITING) {
		enum conn_state before = c->session.state;
		size_t len;
		const char *out = session_output(&c->session, &len);
		ssize_t n = write(c->fd, out, len);

		if (n < 0) {
			if (would_block(errno))
				return; /* select will tell us when to retry */
			TRACE("fd %d: write failed: %s", c->fd,
			      strerror(errno));
			session_abort(&c->session, CLOSE_RESET);
			TRACE_TRANSITION(c->fd, before, &c->session);
			return;
		}
		TRACE("fd %d: wrote %zd of %zu bytes%s", c->fd, n, len,
		      (size_t)n < len ? " (partial)" : "");
		c->last_progress = monotonic_ns();
		session_on_output(&c->session, (size_t)n);
		if (c->session.state == READING)
			c->line_started = c->last_progress; /* line_deadline */
		TRACE_TRANSITION(c->fd, before, &c->session);
		if ((size_t)n < len)
			return; /* the socket buffer is full */
	}
}

/*
 * Read once (fairness: one buffer per ready client per round), hand the
 * bytes to the session, and if replies are now owed try to send them at
 * once: usually the socket can take them, which saves a round of select.
 */
static void conn_on_readable(struct connection *c)
{
	enum conn_state before = c->session.state;
	size_t room;
	char *space = session_input_space(&c->session, &room);

	if (space == NULL) {
		log_server("client %s: out of memory", c->peer);
		session_abort(&c->session, CLOSE_NO_MEMORY);
		TRACE_TRANSITION(c->fd, before, &c->session);
		return;
	}
	ssize_t n = read(c->fd, space, room);
	if (n > 0) {
		TRACE("fd %d: read %zd bytes", c->fd, n);
		c->last_progress = monotonic_ns();
		session_on_input(&c->session, (size_t)n);
		if (session_line_begun(&c->session))
			c->line_started =
			    c->last_progress; /* its clock starts */
	} else if (n == 0) {
		TRACE("fd %d: read end of input", c->fd);
		session_on_eof(&c->session);
	} else if (would_block(errno)) {
		return;
	} else {
		TRACE("fd %d: read failed: %s", c->fd, strerror(errno));
		session_abort(&c->session, CLOSE_RESET);
	}
	TRACE_TRANSITION(c->fd, before, &c->session);
	if (c->session.state == WRITING)
		conn_on_writable(c);
}

/* ============================== closing ============================== */

/*
 * Closing politely.  close() on a socket with unread input makes TCP send a
 * reset, and a reset throws away the replies still queued for the client,
 * e.g. those a slow reader has not taken yet (protocol.md 3.8).  So when the
 * client may still be sending (it said quit, sent a line too long or too
 * slowly, or we are shutting down), the connection first sends FIN after
 * its replies (shutdown) and lingers: it reads and discards input until
 * the client closes too, its input has been quiet for LINGER_QUIET, or
 * LINGER_MAX has passed.  Only then is the socket closed.  After EOF, a
 * reset or an idle timeout no more input is coming, and the socket is
 * closed at once.
 */
static bool wants_linger(const struct connection *c)
{
	enum close_reason why = c->session.reason;
	return why == CLOSE_QUIT || why == CLOSE_TOO_LONG ||
	       why == CLOSE_LINE_TIMEOUT || why == CLOSE_SHUTDOWN;
}

/* The conversation is over: the client's place under --max-clients is
 * free for others.  (Its place under --max-per-addr is kept while it
 * lingers: see begin_linger.) */
static void conn_leave_conversation(struct server *srv)
{
	srv->nclients--;
}

/* The name of where c is, as the trace shows it. */
static const char *conn_phase_name(const struct connection *c)
{
	return c->phase == LINGERING ? "LINGERING"
				     : conn_state_name(c->session.state);
}

/* Lingerers wait in a queue, oldest first, so that the one to give up
 * when room is needed is found at once (make_room). */
static void linger_queue_push(struct server *srv, struct connection *c)
{
	c->linger_prev = srv->newest_lingerer;
	c->linger_next = NULL;
	if (srv->newest_lingerer != NULL)
		srv->newest_lingerer->linger_next = c;
	else
		srv->oldest_lingerer = c;
	srv->newest_lingerer = c;
	srv->nlingering++;
}

static void linger_queue_remove(struct server *srv, struct connection *c)
{
	if (c->linger_prev != NULL)
		c->linger_prev->linger_next = c->linger_next;
	else
		srv->oldest_lingerer = c->linger_next;
	if (c->linger_next != NULL)
		c->linger_next->linger_prev = c->linger_prev;
	else
		srv->newest_lingerer = c->linger_prev;
	srv->nlingering--;
}

/* DONE or LINGERING -> CLOSED: log, close and forget c.  why says what
 * ended a linger, for the trace ("client closed", "quiet", ...). */
static void conn_close(struct server *srv, struct connection *c,
		       const char *why)
{
	const struct session *s = &c->session;

	TRACE("fd %d: %s -> CLOSED%s%s%s", c->fd, conn_phase_name(c),
	      why != NULL ? " (" : "", why != NULL ? why : "",
	      why != NULL ? ")" : "");
	log_closed(c->peer, c->fd, s);
	srv->lines_echoed += s->lines_echoed;
	srv->bytes_echoed += s->bytes_echoed;

	if (s->reason == CLOSE_RESET || s->reason == CLOSE_NO_MEMORY)
		close(c->fd); /* nothing left to protect */
	else
		net_close_gracefully(c->fd); /* FIN, drop unread input, close */

	srv->conns[c->fd] = NULL;
	if (c->phase == LINGERING)
		linger_queue_remove(srv, c);
	else
		conn_leave_conversation(srv);
	if (c->per_addr)
		peers_remove(&srv->peers, &c->peer_key);
	while (srv->max_fd >= 0 && srv->conns[srv->max_fd] == NULL)
		srv->max_fd--;
	session_free(&c->session);
	free(c);
}

/* Read and drop one buffer of input from a lingering client; close it
 * when the client has closed too, or is gone. */
static void conn_discard_input(struct server *srv, struct connection *c)
{
	char sink[16384];
	ssize_t n = read(c->fd, sink, sizeof(sink));

	if (n > 0) {
		TRACE("fd %d: discarded %zd bytes", c->fd, n);
		c->last_progress = monotonic_ns();
	} else if (n == 0) {
		conn_close(srv, c, "client closed");
	} else if (!would_block(errno)) {
		conn_close(srv, c, "client gone");
	}
}

/*
 * Lingering is a courtesy, and it must not become a way round the limits:
 * a client that says quit and then keeps sending a byte a second would
 * otherwise hold a descriptor for LINGER_MAX outside every count.  So a
 * lingerer keeps its place under --max-per-addr until it is closed, at
 * most --max-clients connections linger at once, and when a new client
 * needs a descriptor that lingerers hold (the table is full, or accept()
 * says EMFILE) the oldest lingerer is closed at once.  It has had all its
 * replies and our FIN; only the wait for its own close is cut short.
 * Returns false if there was no lingerer to close.
 */
static bool make_room(struct server *srv, const char *why)
{
	if (srv->oldest_lingerer == NULL)
		return false;
	conn_close(srv, srv->oldest_lingerer, why);
	return true;
}

/* DONE -> LINGERING: FIN after the replies, then discard what comes. */
static void begin_linger(struct server *srv, struct connection *c)
{
	TRACE("fd %d: DONE -> LINGERING (FIN sent, discarding input)", c->fd);
	(void)shutdown(c->fd, SHUT_WR); /* fails only if the peer is gone */
	/* Nothing more is echoed: its buffer goes (lingerers do not count
	 * against --max-clients, so they must not hold its memory either). */
	session_free(&c->session);
	conn_leave_conversation(srv);
	c->phase = LINGERING;
	if (srv->nlingering >= srv->cfg->max_clients)
		make_room(srv, "too many lingering");
	linger_queue_push(srv, c);
	c->last_progress = monotonic_ns();
	c->linger_end = c->last_progress + LINGER_MAX;
	conn_discard_input(srv, c); /* the client may have closed already */
}

/* ============================== accepting ============================== */

/* Accepted, but not to be served: say why (best effort), close politely. */
static void turn_away(int fd, const char *peer, const char *why,
		      const char *msg)
{
	TRACE("fd %d: turned away: %s", fd, why);
	log_turned_away(peer, why);
	net_send_best_effort(fd, msg);
	net_close_gracefully(fd);
}

/* Has this client's address its share of clients already?  If not, and
 * there is a limit, count it (*key then names its entry). */
static bool over_per_addr_limit(struct server *srv, const struct sockaddr *addr,
				struct peer_key *key, bool *counted)
{
	*counted = false;
	if (srv->cfg->max_per_addr == 0 || !peer_key_of(addr, key))
		return false;
	if (peers_count(&srv->peers, key) >= srv->cfg->max_per_addr)
		return true;
	*counted = peers_add(&srv->peers, key);
	return false;
}

/* Has the table room for fd?  If lingerers fill it, the oldest makes way
 * (see make_room), and an fd beyond select()'s reach moves down into the
 * place it left.  Returns the fd to use: the same one, or its copy. */
static int claim_slot(struct server *srv, int fd)
{
	bool full = fd >= FD_SETSIZE ||
		    srv->nclients + srv->nlingering >= max_clients_ceiling();

	if (!full || !make_room(srv, "room for a new client") ||
	    fd < FD_SETSIZE)
		return fd;
	int low = fcntl(fd, F_DUPFD, 0); /* the lowest free descriptor */
	if (low < 0)
		return fd; /* turned away as full */
	close(fd);
	return low;
}

/* A newly accepted socket: admit it to the table, or turn it away. */
static void admit_client(struct server *srv, int listen_fd, int fd,
			 const struct sockaddr *addr)
{
	char peer[NET_ADDR_LEN];
	struct peer_key key;
	bool counted;

	net_format_addr(addr, peer, sizeof(peer));
	if (net_set_nonblocking(fd) != 0) {
		log_server("client %s: cannot make socket nonblocking: %s",
			   peer, strerror(errno));
		close(fd);
		return;
	}
	TRACE("fd %d: accepted fd %d from %s", listen_fd, fd, peer);
	fd = claim_slot(srv, fd);
	/* An fd >= FD_SETSIZE must never reach FD_SET: memory corruption. */
	if (fd >= FD_SETSIZE || srv->nclients >= srv->cfg->max_clients) {
		turn_away(fd, peer, "server full", MSG_SERVER_FULL);
		return;
	}
	if (over_per_addr_limit(srv, addr, &key, &counted)) {
		turn_away(fd, peer, "too many connections", MSG_TOO_MANY);
		return;
	}
	struct connection *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		log_server("client %s: out of memory", peer);
		if (counted)
			peers_remove(&srv->peers, &key);
		close(fd);
		return;
	}
	/* Not fatal if it fails: replies may just leave a little later. */
	(void)net_set_nodelay(fd);
	c->fd = fd;
	c->phase = CONVERSING;
	c->last_progress = monotonic_ns();
	c->per_addr = counted;
	c->peer_key = key;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	session_init(&c->session, srv->cfg->max_line);
	if (srv->cfg->raw)
		session_set_raw(&c->session);
	srv->conns[fd] = c;
	if (fd > srv->max_fd)
		srv->max_fd = fd;
	srv->nclients++;
	srv->clients_served++;
	log_connected(peer, fd);
}

enum shed_result { SHED_ONE, SHED_NONE_WAITING, SHED_FAILED };

/*
 * Out of descriptors (EMFILE/ENFILE): the pending client would keep the
 * listening socket readable and select would return at once, forever.  Give
 * up the reserve descriptor, accept the client, turn it away, and take the
 * reserve back.  (accept() reports EMFILE before it looks at the queue, so
 * there may be no one waiting at all.)
 */
static enum shed_result shed_client(struct server *srv, int listen_fd,
				    int accept_errno)
{
	/* Zeroed: an unnamed Unix-domain client fills in no path. */
	struct sockaddr_storage addr = {0};
	socklen_t len = sizeof(addr);
	enum shed_result result = SHED_ONE;

	if (srv->reserve_fd < 0)
		return SHED_FAILED;
	close(srv->reserve_fd);
	int fd = accept(listen_fd, (struct sockaddr *)&addr, &len);
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

/* Stop watching the listening sockets for a moment after a failure we
 * could do nothing about, instead of spinning on them. */
static void pause_accepting(struct server *srv, int err)
{
	log_server("accept: %s; pausing new connections for %lld ms",
		   strerror(err), (long long)(ACCEPT_PAUSE / NS_PER_MS));
	srv->accept_resume = srv->now + ACCEPT_PAUSE;
}

static void accept_clients(struct server *srv, int listen_fd)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		/* Zeroed: an unnamed Unix-domain client fills in no path. */
		struct sockaddr_storage addr = {0};
		socklen_t len = sizeof(addr);
		int fd = accept(listen_fd, (struct sockaddr *)&addr, &len);

		if (fd >= 0) {
			admit_client(srv, listen_fd, fd,
				     (struct sockaddr *)&addr);
			continue;
		}
		int err = errno;
		if (err == EAGAIN || err == EWOULDBLOCK)
			return; /* no one else is waiting */
		if (err == EINTR || err == ECONNABORTED || err == EPROTO)
			continue; /* that client gave up; try the next */
		if ((err == EMFILE || err == ENFILE) &&
		    make_room(srv, "descriptors needed"))
			continue; /* a lingerer gave its descriptor up */
		if (err == EMFILE || err == ENFILE) {
			enum shed_result r = shed_client(srv, listen_fd, err);
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
	/* New clients are refused, not left waiting. */
	for (size_t i = 0; i < srv->nlisteners; i++)
		close(srv->listeners[i].fd);
	srv->nlisteners = 0;
	for (int fd = 0; fd <= srv->max_fd; fd++) {
		struct connection *c = srv->conns[fd];
		if (c == NULL || c->phase != CONVERSING)
			continue;
		enum conn_state before = c->session.state;
		session_finish(&c->session, CLOSE_SHUTDOWN);
		TRACE_TRANSITION(c->fd, before, &c->session);
	}
}

/* SIGUSR1: one line saying where the server is, whatever -q says. */
static void log_status(const struct server *srv)
{
	uint64_t lines = srv->lines_echoed, bytes = srv->bytes_echoed;

	for (int fd = 0; fd <= srv->max_fd; fd++) {
		const struct connection *c = srv->conns[fd];
		if (c != NULL) {
			lines += c->session.lines_echoed;
			bytes += c->session.bytes_echoed;
		}
	}
	log_server("status: %zu client%s, %zu lingering; served %llu, echoed "
		   "%llu lines, %llu bytes so far",
		   srv->nclients, srv->nclients == 1 ? "" : "s",
		   srv->nlingering, (unsigned long long)srv->clients_served,
		   (unsigned long long)lines, (unsigned long long)bytes);
}

/* The self-pipe is readable: each byte is the number of one signal. */
static void on_signals(struct server *srv)
{
	unsigned char sigs[16];
	ssize_t n = read(srv->signal_fd, sigs, sizeof(sigs));

	for (ssize_t i = 0; i < n; i++) {
		if (sigs[i] == SIGUSR1) {
			log_status(srv);
			continue;
		}
		if (srv->shutting_down) {
			log_server("second signal: abandoning the drain");
			srv->abandon = true;
			return;
		}
		begin_shutdown(srv);
	}
}

/* ============================== deadlines ============================== */

/* When c's idle clock runs out; NO_DEADLINE if never. */
static int64_t idle_deadline(const struct server *srv,
			     const struct connection *c)
{
	if (srv->cfg->idle_timeout == 0)
		return NO_DEADLINE;
	return c->last_progress + seconds_ns(srv->cfg->idle_timeout);
}

/*
 * When c's unfinished line must be whole; NO_DEADLINE if never.  The line
 * clock runs only while the server reads from c: while replies are owed
 * (WRITING) the server itself holds the rest of the line back, so the
 * clock stops, and it starts afresh when reading resumes.  A trickler is
 * always READING; a client pipelining whole lines is never cut for the
 * server's own backpressure.
 */
static int64_t line_deadline(const struct server *srv,
			     const struct connection *c)
{
	if (srv->cfg->line_timeout == 0 || c->session.state != READING ||
	    !session_has_partial_line(&c->session))
		return NO_DEADLINE;
	return c->line_started + seconds_ns(srv->cfg->line_timeout);
}

/* When a lingering c is closed: once quiet for a while, or at the end. */
static int64_t linger_deadline(const struct connection *c)
{
	int64_t quiet = c->last_progress + LINGER_QUIET;
	return quiet < c->linger_end ? quiet : c->linger_end;
}

/* When the loop must next act on c of its own accord. */
static int64_t conn_deadline(const struct server *srv,
			     const struct connection *c)
{
	if (c->phase == LINGERING)
		return linger_deadline(c);
	if (c->session.state == DONE)
		return NO_DEADLINE; /* reaped this very round */
	int64_t idle = idle_deadline(srv, c), line = line_deadline(srv, c);
	return idle < line ? idle : line;
}

/* ============================== the loop ============================== */

static void watch(int fd, fd_set *set, int *nfds)
{
	FD_SET(fd, set);
	if (fd >= *nfds)
		*nfds = fd + 1;
}

/*
 * Build readfds and writefds from the connection table, and find the
 * nearest deadline.  Returns nfds for select().
 */
static int build_fd_sets(const struct server *srv, fd_set *readfds,
			 fd_set *writefds, int64_t *deadline)
{
	int nfds = 0;

	FD_ZERO(readfds);
	FD_ZERO(writefds);
	*deadline = srv->shutting_down ? srv->drain_deadline : NO_DEADLINE;

	watch(srv->signal_fd, readfds, &nfds);
	if (log_pending())
		watch(STDERR_FILENO, writefds, &nfds);
	for (size_t i = 0; i < srv->nlisteners; i++) {
		if (srv->accept_resume <= srv->now)
			watch(srv->listeners[i].fd, readfds, &nfds);
		else if (srv->accept_resume < *deadline)
			*deadline = srv->accept_resume;
	}
	for (int fd = 0; fd <= srv->max_fd; fd++) {
		const struct connection *c = srv->conns[fd];
		if (c == NULL)
			continue;
		if (c->phase == LINGERING || c->session.state == READING)
			watch(fd, readfds, &nfds);
		else if (c->session.state == WRITING)
			watch(fd, writefds, &nfds);
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

static void accept_ready(struct server *srv, const fd_set *readfds)
{
	for (size_t i = 0; i < srv->nlisteners; i++)
		if (FD_ISSET(srv->listeners[i].fd, readfds))
			accept_clients(srv, srv->listeners[i].fd);
}

static void service_clients(struct server *srv, const fd_set *readfds,
			    const fd_set *writefds)
{
	for (int fd = 0; fd <= srv->max_fd; fd++) {
		struct connection *c = srv->conns[fd];
		if (c == NULL)
			continue;
		if (c->phase == LINGERING) {
			if (FD_ISSET(fd, readfds))
				conn_discard_input(srv, c);
		} else if (c->session.state == READING &&
			   FD_ISSET(fd, readfds)) {
			conn_on_readable(c);
		} else if (c->session.state == WRITING &&
			   FD_ISSET(fd, writefds)) {
			conn_on_writable(c);
		}
	}
}

/* End c's conversation for a timeout: the notice after what is owed.
 * After an idle timeout the client is not reading, so what the socket
 * cannot take at once is dropped; after a line timeout it may be. */
static void conn_time_out(struct connection *c, enum close_reason why)
{
	enum conn_state before = c->session.state;

	session_finish(&c->session, why);
	TRACE_TRANSITION(c->fd, before, &c->session);
	conn_on_writable(c); /* usually all of it, at once */
	if (why == CLOSE_TIMEOUT && c->session.state != DONE) {
		before = c->session.state;
		session_abort(&c->session, CLOSE_TIMEOUT);
		TRACE_TRANSITION(c->fd, before, &c->session);
	}
}

/*
 * A deadline has passed, but was c really idle?  The ready sets select()
 * gave this round may be stale: if the process was frozen between
 * select() and now (SIGSTOP, a debugger, swapping), a client may have
 * sent while select() could not say so.  One more read or write settles
 * it before c is cut: progress moves its idle deadline on.  (A trickler
 * gains nothing: a byte more does not move its line deadline.)
 */
static void conn_last_chance(struct connection *c)
{
	if (c->session.state == READING)
		conn_on_readable(c);
	else if (c->session.state == WRITING)
		conn_on_writable(c);
}

/* protocol.md 4: the idle timeout, the line timeout, the end of a linger. */
static void expire_clients(struct server *srv)
{
	for (int fd = 0; fd <= srv->max_fd; fd++) {
		struct connection *c = srv->conns[fd];
		if (c == NULL || srv->now < conn_deadline(srv, c))
			continue;
		if (c->phase == LINGERING) {
			conn_close(srv, c,
				   srv->now >= c->linger_end ? "linger limit"
							     : "quiet");
			continue;
		}
		conn_last_chance(c);
		if (c->session.state == DONE ||
		    srv->now < conn_deadline(srv, c))
			continue; /* it was not idle after all */
		if (srv->now >= idle_deadline(srv, c))
			conn_time_out(c, CLOSE_TIMEOUT);
		else
			conn_time_out(c, CLOSE_LINE_TIMEOUT);
	}
}

/* DONE clients: linger if the client may still be sending, else close. */
static void reap_done_clients(struct server *srv)
{
	for (int fd = 0; fd <= srv->max_fd; fd++) {
		struct connection *c = srv->conns[fd];
		if (c == NULL || c->phase != CONVERSING ||
		    c->session.state != DONE)
			continue;
		if (wants_linger(c))
			begin_linger(srv, c);
		else
			conn_close(srv, c, NULL);
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
		if (c->phase == CONVERSING && before != DONE) {
			session_abort(&c->session, CLOSE_SHUTDOWN);
			TRACE_TRANSITION(c->fd, before, &c->session);
		}
		conn_close(srv, c, c->phase == LINGERING ? "shutdown" : NULL);
	}
}

/* With -T: who the descriptors the trace will name are. */
static void trace_descriptors(const struct server *srv)
{
	trace_header();
	for (size_t i = 0; i < srv->nlisteners; i++)
		TRACE("fd %d: listening socket %s", srv->listeners[i].fd,
		      srv->listeners[i].where);
	TRACE("fd %d: signal pipe", srv->signal_fd);
}

static void server_init(struct server *srv, const struct server_config *cfg,
			const struct listener *listeners, size_t n,
			int signal_fd)
{
	memset(srv, 0, sizeof(*srv));
	srv->cfg = cfg;
	srv->listeners = listeners;
	srv->nlisteners = n;
	srv->signal_fd = signal_fd;
	srv->max_fd = -1;
	srv->now = monotonic_ns();
	peers_init(&srv->peers);
	srv->reserve_fd = open("/dev/null", O_RDONLY);
	if (srv->reserve_fd >= 0)
		(void)net_set_cloexec(srv->reserve_fd);
	if (trace_on)
		trace_descriptors(srv);
}

/* Shutdown is complete once nobody is left, or the drain time is up. */
static bool drain_over(const struct server *srv)
{
	return srv->shutting_down &&
	       ((srv->nclients == 0 && srv->nlingering == 0) ||
		srv->now >= srv->drain_deadline);
}

int server_run(const struct server_config *cfg,
	       const struct listener *listeners, size_t n, int signal_fd)
{
	static struct server srv; /* the table is large: not on the stack */
	int status = 0;

	server_init(&srv, cfg, listeners, n, signal_fd);
	for (;;) {
		fd_set readfds, writefds;
		struct timeval tv, *timeout;
		int64_t deadline;

		log_flush(); /* what the last round logged, as far as it goes */
		int nfds = build_fd_sets(&srv, &readfds, &writefds, &deadline);
		timeout = timeout_until(deadline, srv.now, &tv);
		if (trace_on) {
			trace_select(&readfds, &writefds, nfds, timeout, false);
			log_flush();
		}

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
			trace_select(&readfds, &writefds, nfds, NULL, true);

		if (FD_ISSET(signal_fd, &readfds))
			on_signals(&srv);
		if (srv.abandon) {
			status = 1;
			break;
		}
		accept_ready(&srv, &readfds);
		service_clients(&srv, &readfds, &writefds);
		expire_clients(&srv);
		reap_done_clients(&srv);
		if (drain_over(&srv))
			break;
	}

	close_all(&srv);
	for (size_t i = 0; i < srv.nlisteners; i++)
		close(srv.listeners[i].fd);
	if (srv.reserve_fd >= 0)
		close(srv.reserve_fd);
	log_summary(srv.clients_served, srv.lines_echoed, srv.bytes_echoed);
	return status;
}
