/*
 * conn.c - the connection core (see conn.h): a connection's life between
 * accept and close, the same for every event loop.
 *
 * Time: core->now is read once a round (conn_core_tick), after the loop's
 * wait, and is what deadlines are judged against.  Every stamp of progress
 * (a byte read or written, a connection accepted, a linger begun) reads
 * the clock afresh instead: if the process is frozen in the middle of a
 * round (SIGSTOP, a debugger, a cgroup freezer), the work done after the
 * thaw must not be dated before the freeze, or clients served a moment ago
 * would look idle.
 *
 * Deadlines without walks: every conversing connection has the same idle
 * timeout, so ordering them by their last progress orders their idle
 * deadlines too.  The core keeps four lists, oldest first, and moves a
 * connection to the tail of one when its clock restarts (a few pointer
 * writes): conversing connections by last progress (idle timeout),
 * unfinished lines by their first byte (line timeout), lingerers by last
 * input (quiet) and by when they began (linger limit).  The nearest
 * deadline is the earliest of four heads, and expiring walks only what
 * has expired.
 */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "trace.h"

#define NS_PER_SEC INT64_C(1000000000)
#define NS_PER_MS  INT64_C(1000000)

/* Graceful shutdown delivers queued replies for at most this long. */
#define DRAIN_TIME (CONN_DRAIN_SECONDS * NS_PER_SEC)
/* After an accept failure we could not shed, stop watching the listening
 * sockets for this long (no busy loop). */
#define ACCEPT_PAUSE (100 * NS_PER_MS)
/* Clients accepted per listening socket per round at most, so a connect
 * storm cannot starve the clients already connected. */
#define ACCEPT_BATCH 64
/* A finished connection lingers (see begin_linger) until the client closes,
 * its input has been quiet this long, or LINGER_MAX has passed. */
#define LINGER_QUIET (1 * NS_PER_SEC)
#define LINGER_MAX   (10 * NS_PER_SEC)
/* Out of descriptors while one is on its way back (see conn_release):
 * look again after this long, instead of shedding the client. */
#define RELEASE_WAIT (10 * NS_PER_MS)

/* A bug in the core, not a fault of a client: in debug and test builds
 * (NDEBUG unset) it stops the server at once, where it happened. */
#ifndef NDEBUG
#define CONN_CHECK(cond, ...)                                                  \
	do {                                                                   \
		if (!(cond)) {                                                 \
			log_server(__VA_ARGS__);                               \
			log_flush();                                           \
			abort();                                               \
		}                                                              \
	} while (0)
#else
#define CONN_CHECK(cond, ...) ((void)0)
#endif

static int64_t seconds_ns(unsigned seconds)
{
	return (int64_t)seconds * NS_PER_SEC;
}

static bool would_block(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

int64_t conn_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

void conn_core_tick(struct conn_core *core)
{
	core->now = conn_clock();
}

/* ============================== the lists ============================== */

static struct conn_link *link_of(struct connection *c, bool clock)
{
	return clock ? &c->clock_link : &c->progress_link;
}

static void list_append(struct conn_list *l, struct connection *c, bool clock)
{
	struct conn_link *link = link_of(c, clock);

	link->prev = l->tail;
	link->next = NULL;
	if (l->tail != NULL)
		link_of(l->tail, clock)->next = c;
	else
		l->head = c;
	l->tail = c;
	l->count++;
}

static void list_remove(struct conn_list *l, struct connection *c, bool clock)
{
	struct conn_link *link = link_of(c, clock);

	if (link->prev != NULL)
		link_of(link->prev, clock)->next = link->next;
	else
		l->head = link->next;
	if (link->next != NULL)
		link_of(link->next, clock)->prev = link->prev;
	else
		l->tail = link->prev;
	link->prev = link->next = NULL;
	l->count--;
}

/* The list c's progress link is in: by_progress while conversing, quiet
 * while lingering. */
static struct conn_list *progress_list(struct conn_core *core,
				       const struct connection *c)
{
	return c->state == CONN_LINGERING ? &core->quiet : &core->by_progress;
}

/* c made progress now: its idle (or quiet) clock starts again. */
/*
 * The busy to the front: each time c makes progress it changes places
 * with the connection halfway between it and the front of the live list.
 * A client that keeps talking reaches the front in a few rounds, and the
 * idle drift back, so a loop that walks the list for what select() or
 * poll() found ready, and stops when their count is used up, looks at
 * about as many connections as are busy, not at every one.  The order of
 * service within a round changes nothing else: each ready client is
 * served once a round, wherever it stands.
 */
static void promote(struct conn_core *core, struct connection *c)
{
	size_t i = c->live_index, j = i / 2;

	/* Only clients in conversation, and not once the drain has begun:
	 * begin_shutdown() walks the list from its end, and a swap towards
	 * the front would carry a connection it has not seen behind it. */
	if (i == 0 || core->shutting_down ||
	    (c->state != CONN_READING && c->state != CONN_WRITING))
		return;
	struct connection *other = core->live[j];
	struct conn_watch w = core->watches[j];
	core->live[j] = c;
	core->watches[j] = core->watches[i];
	c->live_index = j;
	core->live[i] = other;
	core->watches[i] = w;
	other->live_index = i;
}

static void note_progress(struct conn_core *core, struct connection *c)
{
	struct conn_list *l = progress_list(core, c);

	c->last_progress = conn_clock();
	if (l->tail != c) {
		list_remove(l, c, false);
		list_append(l, c, false);
	}
	promote(core, c);
}

/*
 * Keep c's line clock right after a step.  The clock runs only while the
 * server reads from c and holds the start of a line whose LF has not come:
 * while replies are owed (WRITING) the server itself holds the rest of the
 * line back, so the clock stops, and it starts afresh (restart) when
 * reading resumes or a new line begins.  A trickler is always READING; a
 * client pipelining whole lines is never cut for the server's own
 * backpressure.
 */
static void update_line_clock(struct conn_core *core, struct connection *c,
			      bool restart)
{
	bool timed = core->cfg->line_timeout != 0 &&
		     (c->state == CONN_HEADER ||
		      (c->state == CONN_READING &&
		       session_has_partial_line(&c->session)));

	if (c->on_clock && (!timed || restart)) {
		list_remove(&core->lines, c, true);
		c->on_clock = false;
	}
	if (timed && !c->on_clock) {
		c->clock_started = c->last_progress;
		list_append(&core->lines, c, true);
		c->on_clock = true;
	}
}

/* Tell the other workers how many clients this one has. */
static void publish_load(const struct conn_core *core)
{
	const struct worker_handoff *h = core->cfg->handoff;

	if (h != NULL)
		h->load(h->ctx, core->nclients);
}

/* ============================== the state ============================== */

const char *conn_state_name(enum conn_state st)
{
	switch (st) {
	case CONN_HEADER:
		return "HEADER";
	case CONN_READING:
		return "READING";
	case CONN_WRITING:
		return "WRITING";
	case CONN_DONE:
		return "DONE";
	case CONN_LINGERING:
		return "LINGERING";
	case CONN_CLOSED:
		return "CLOSED";
	}
	return "?";
}

/* The moves conn.h draws, and no others. */
static bool legal_move(enum conn_state from, enum conn_state to)
{
	switch (from) {
	case CONN_HEADER:
		return to == CONN_READING || to == CONN_CLOSED;
	case CONN_READING:
		return to == CONN_WRITING || to == CONN_DONE;
	case CONN_WRITING:
		return to == CONN_READING || to == CONN_DONE;
	case CONN_DONE:
		return to == CONN_LINGERING || to == CONN_CLOSED;
	case CONN_LINGERING:
		return to == CONN_CLOSED;
	case CONN_CLOSED:
		break;
	}
	return false;
}

/*
 * Every change of a connection's state goes through here: it is checked,
 * traced (why, if not NULL, says what caused it), and a loop with an
 * interest list is told what c waits for now.  DONE is a moment between
 * two steps of the core, never waited in, so the loop hears of the state
 * that follows it instead.
 */
static void conn_set_state(struct conn_core *core, struct connection *c,
			   enum conn_state to, const char *why)
{
	enum conn_state from = c->state;

	CONN_CHECK(legal_move(from, to), "bug: fd %d: illegal move %s -> %s",
		   c->fd, conn_state_name(from), conn_state_name(to));
	if (trace_on)
		trace_transition(c->fd, from, to, &c->session, why);
	c->state = to;
	if (to != CONN_CLOSED)
		core->watches[c->live_index].wait = conn_waits_for(c);
	if (core->hooks.watch != NULL && to != CONN_DONE)
		core->hooks.watch(core->hooks.ctx, c, conn_waits_for(c));
}

static bool conn_finish(struct conn_core *core, struct connection *c);

/*
 * After a step of c's session: c's state follows the session's, and a
 * conversation that is over is finished at once (closed, or lingering).
 * Returns false if c was closed and freed.
 */
static bool conn_sync(struct conn_core *core, struct connection *c)
{
	static const enum conn_state of_session[] = {
	    [SESSION_READING] = CONN_READING,
	    [SESSION_WRITING] = CONN_WRITING,
	    [SESSION_DONE] = CONN_DONE,
	};
	enum conn_state to = of_session[c->session.state];

	if (to != c->state)
		conn_set_state(core, c, to, NULL);
	if (c->state == CONN_DONE)
		return conn_finish(core, c);
	return true;
}

/* ============================== closing ============================== */

/* One connection fewer for key under --max-per-addr. */
static void release_peer(struct conn_core *core, const struct peer_key *key)
{
	const struct peer_counter *shared = core->cfg->shared_peers;

	if (shared != NULL)
		shared->release(shared->ctx, key);
	else
		peers_remove(&core->peers, key);
}

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

/* c leaves the core's tables and lists (not the per-address count). */
static void conn_unlink(struct conn_core *core, struct connection *c)
{
	struct connection *last = core->live[--core->nlive];

	last->live_index = c->live_index;
	core->live[c->live_index] = last;
	core->watches[c->live_index] = core->watches[core->nlive];
	core->by_fd[c->fd] = NULL;
	list_remove(progress_list(core, c), c, false);
	if (c->state == CONN_LINGERING) {
		list_remove(&core->lingerers, c, true);
		core->nlingering--;
	} else {
		if (c->on_clock)
			list_remove(&core->lines, c, true);
		core->nclients--;
		publish_load(core);
	}
	c->on_clock = false;
}

/* Close c's socket, politely unless there is nothing left to protect,
 * and free c. */
static void conn_dispose(struct connection *c)
{
	enum close_reason why = c->session.reason;

	if (why == CLOSE_RESET || why == CLOSE_NO_MEMORY)
		close(c->fd); /* nothing left to protect */
	else
		net_close_gracefully(c->fd); /* FIN, drop unread input, close */
	session_free(&c->session);
	free(c->header);
	free(c);
}

/*
 * DONE or LINGERING -> CLOSED: log, close and forget c.  why says what
 * ended a linger, for the trace ("client closed", "quiet", ...).
 *
 * If the loop has a read or write of c's in the kernel (c->in_flight),
 * neither the socket nor c may go yet: the request would land in freed
 * memory, or (its descriptor closed and given to a new client) on another
 * client's socket.  Shutting the socket down makes that request end soon
 * (a read sees end of input, a write fails); the loop then hands c to
 * conn_release().  Everything else (the log line, the counts, the place
 * under --max-per-addr) ends here and now.
 */
static void conn_close(struct conn_core *core, struct connection *c,
		       const char *why)
{
	const struct session *s = &c->session;

	conn_unlink(core, c);
	conn_set_state(core, c, CONN_CLOSED, why);
	log_closed(c->peer, c->fd, s);
	core->lines_echoed += s->lines_echoed;
	core->bytes_echoed += s->bytes_echoed;
	if (c->per_addr)
		release_peer(core, &c->peer_key);
	c->per_addr = false;
	if (c->in_flight) {
		(void)shutdown(c->fd, SHUT_RDWR);
		core->releases_pending++;
		return;
	}
	conn_dispose(c);
}

void conn_release(struct conn_core *core, struct connection *c)
{
	CONN_CHECK(c->state == CONN_CLOSED, "bug: fd %d: released while %s",
		   c->fd, conn_state_name(c->state));
	core->releases_pending--;
	conn_dispose(c);
}

/*
 * HEADER -> CLOSED: a connection from a trusted proxy that did not name
 * its client properly (or named one over its --max-per-addr share) is
 * turned away like a client at accept: logged as such, told why when msg
 * is not NULL, closed politely.  It was never a client: no close line,
 * and it is not counted as served.
 */
static void conn_reject(struct conn_core *core, struct connection *c,
			const char *why, const char *msg)
{
	TRACE("fd %d: turned away: %s", c->fd, why);
	log_turned_away(c->peer, why);
	if (msg != NULL)
		net_send_best_effort(c->fd, msg);
	conn_unlink(core, c);
	conn_set_state(core, c, CONN_CLOSED, why);
	if (c->in_flight) {
		(void)shutdown(c->fd, SHUT_RDWR);
		core->releases_pending++;
		return;
	}
	conn_dispose(c);
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
bool conn_cut_linger(struct conn_core *core, const char *why)
{
	if (core->lingerers.head == NULL)
		return false;
	conn_close(core, core->lingerers.head, why);
	return true;
}

static enum conn_step discard_done(struct conn_core *core, struct connection *c,
				   long res);

/* DONE -> LINGERING: FIN after the replies, then discard what comes.
 * Returns false if the client had closed already (c is freed). */
static bool begin_linger(struct conn_core *core, struct connection *c)
{
	/* Nothing more is echoed: its buffer goes (lingerers do not count
	 * against --max-clients, so they must not hold its memory either),
	 * unless the loop's read may still be filling it: then it goes with
	 * that read's result (discard_done). */
	if (!c->in_flight)
		session_free(&c->session);
	list_remove(&core->by_progress, c, false);
	if (c->on_clock)
		list_remove(&core->lines, c, true);
	c->on_clock = false;
	core->nclients--;
	publish_load(core);
	if (core->nlingering >= core->cfg->max_clients)
		(void)conn_cut_linger(core, "too many lingering");
	conn_set_state(core, c, CONN_LINGERING, "FIN sent, discarding input");
	/* The FIN after the state: whoever is told of the linger (a process
	 * per client tells its parent, which counts --max-clients) knows
	 * before the client can see it and come again. */
	(void)shutdown(c->fd, SHUT_WR); /* fails only if the peer is gone */
	core->nlingering++;
	c->last_progress = c->clock_started = conn_clock();
	list_append(&core->quiet, c, false);
	list_append(&core->lingerers, c, true);
	if (core->hooks.loop_does_io)
		return true; /* the loop's reads discard from now on */
	/* The client may have closed already. */
	char *sink;
	size_t room;
	sink = conn_discard_space(&room);
	ssize_t n = read(c->fd, sink, room);
	return discard_done(core, c, n >= 0 ? (long)n : -(long)errno) !=
	       CONN_GONE;
}

/* c's conversation is over (DONE): linger if the client may still be
 * sending, else close.  Returns false if c was closed and freed. */
static bool conn_finish(struct conn_core *core, struct connection *c)
{
	if (wants_linger(c))
		return begin_linger(core, c);
	conn_close(core, c, NULL);
	return false;
}

/* ============================== the steps ============================== */

char *conn_read_space(struct connection *c, size_t *room)
{
	return session_input_space(&c->session, room);
}

const char *conn_write_data(const struct connection *c, size_t *len)
{
	return session_output(&c->session, len);
}

char *conn_discard_space(size_t *room)
{
	static char sink[16384];

	*room = sizeof(sink);
	return sink;
}

/* A lingering c read res bytes (or -errno) to throw away. */
static enum conn_step discard_done(struct conn_core *core, struct connection *c,
				   long res)
{
	session_free(&c->session); /* kept if a read was in it (begin_linger) */
	if (res > 0) {
		TRACE("fd %d: discarded %ld bytes", c->fd, res);
		note_progress(core, c);
		return CONN_AGAIN;
	}
	if (res == 0) {
		conn_close(core, c, "client closed");
		return CONN_GONE;
	}
	if (would_block((int)-res))
		return CONN_DRAINED;
	conn_close(core, c, "client gone");
	return CONN_GONE;
}

enum conn_step conn_read_done(struct conn_core *core, struct connection *c,
			      long res)
{
	if (c->state == CONN_LINGERING)
		return discard_done(core, c, res);
	if (res > 0) {
		TRACE("fd %d: read %ld bytes", c->fd, res);
		note_progress(core, c);
		session_on_input(&c->session, (size_t)res);
		bool begun = session_line_begun(&c->session);
		if (!conn_sync(core, c))
			return CONN_GONE;
		update_line_clock(core, c, begun);
		return CONN_AGAIN;
	}
	if (res == 0) {
		TRACE("fd %d: read end of input", c->fd);
		session_on_eof(&c->session);
	} else if (would_block((int)-res)) {
		return CONN_DRAINED;
	} else if (res == -ENOMEM) {
		log_server("client %s: out of memory", c->peer);
		session_abort(&c->session, CLOSE_NO_MEMORY);
	} else {
		TRACE("fd %d: read failed: %s", c->fd, strerror((int)-res));
		session_abort(&c->session, CLOSE_RESET);
	}
	if (!conn_sync(core, c))
		return CONN_GONE;
	update_line_clock(core, c, false);
	return CONN_AGAIN;
}

enum conn_step conn_write_done(struct conn_core *core, struct connection *c,
			       long res)
{
	size_t len;

	if (res < 0 && would_block((int)-res))
		return CONN_DRAINED;
	if (res < 0) {
		TRACE("fd %d: write failed: %s", c->fd, strerror((int)-res));
		session_abort(&c->session, CLOSE_RESET);
		return conn_sync(core, c) ? CONN_AGAIN : CONN_GONE;
	}
	(void)session_output(&c->session, &len);
	TRACE("fd %d: wrote %ld of %zu bytes%s", c->fd, res, len,
	      (size_t)res < len ? " (partial)" : "");
	note_progress(core, c);
	session_on_output(&c->session, (size_t)res);
	bool resumed = c->session.state == SESSION_READING;
	if (!conn_sync(core, c))
		return CONN_GONE;
	update_line_clock(core, c, resumed);
	return (size_t)res < len ? CONN_DRAINED : CONN_AGAIN;
}

enum conn_step conn_on_writable(struct conn_core *core, struct connection *c)
{
	while (c->state == CONN_WRITING) {
		size_t len;
		const char *out = session_output(&c->session, &len);
		ssize_t n = write(c->fd, out, len);
		enum conn_step step =
		    conn_write_done(core, c, n >= 0 ? (long)n : -(long)errno);
		if (step != CONN_AGAIN)
			return step;
	}
	return CONN_AGAIN;
}

/* ============================== the PROXY header ====================== */

static bool over_per_addr_limit(struct conn_core *core,
				const struct sockaddr *addr,
				struct peer_key *key, bool *counted);

/*
 * The header is whole: the client it names (or, for LOCAL, the real peer)
 * becomes the connection's for the logs and --max-per-addr, and what came
 * after the header is the session's first input.
 */
static enum conn_step header_done(struct conn_core *core, struct connection *c,
				  const struct proxy_header *hdr)
{
	struct sockaddr_storage real = {0};
	socklen_t len = sizeof(real);
	const struct sockaddr *client = (const struct sockaddr *)&hdr->src;
	char why[NET_ADDR_LEN + 32];
	struct peer_key key;
	bool counted;

	if (hdr->command != PROXY_CMD_PROXY) {
		client = (const struct sockaddr *)&real;
		if (getpeername(c->fd, (struct sockaddr *)&real, &len) != 0)
			real.ss_family = AF_UNSPEC; /* gone: not counted */
	}
	net_format_addr(client, c->peer, sizeof(c->peer));
	if (over_per_addr_limit(core, client, &key, &counted)) {
		conn_reject(core, c, "too many connections", MSG_TOO_MANY);
		return CONN_GONE;
	}
	c->per_addr = counted;
	c->peer_key = key;
	snprintf(why, sizeof(why), "%s header: client %s",
		 hdr->command == PROXY_CMD_PROXY ? "PROXY" : "LOCAL", c->peer);
	conn_set_state(core, c, CONN_READING, why);
	update_line_clock(core, c, false);
	core->clients_served++;
	log_connected(c->peer, c->fd);

	size_t rest = c->header_len - hdr->length, room;
	char *space = rest > 0 ? conn_read_space(c, &room) : NULL;
	if (space != NULL) /* room >= 4096: the whole rest fits */
		memcpy(space, c->header + hdr->length, rest);
	free(c->header);
	c->header = NULL;
	if (rest == 0)
		return CONN_AGAIN;
	enum conn_step step =
	    conn_read_done(core, c, space != NULL ? (long)rest : -ENOMEM);
	if (step == CONN_AGAIN && c->state == CONN_WRITING)
		step = conn_on_writable(core, c);
	return step;
}

/* HEADER: read what has come of the PROXY header and judge it. */
static enum conn_step header_step(struct conn_core *core, struct connection *c)
{
	struct proxy_header hdr;
	ssize_t n = read(c->fd, c->header + c->header_len,
			 PROXY_HEADER_RECOMMENDED - c->header_len);

	if (n < 0 && would_block(errno))
		return CONN_DRAINED;
	if (n <= 0) {
		conn_reject(core, c, "no proxy header", NULL);
		return CONN_GONE;
	}
	TRACE("fd %d: read %zd bytes of the proxy header", c->fd, n);
	note_progress(core, c);
	c->header_len += (size_t)n;
	switch (proxy_parse(c->header, c->header_len, PROXY_HEADER_RECOMMENDED,
			    &hdr)) {
	case PROXY_NEED_MORE:
		return CONN_AGAIN;
	case PROXY_MALFORMED:
		TRACE("fd %d: bad proxy header: %s", c->fd, hdr.reason);
		conn_reject(core, c, "bad proxy header", MSG_BAD_PROXY);
		return CONN_GONE;
	case PROXY_COMPLETE:
		break;
	}
	return header_done(core, c, &hdr);
}

/*
 * Read once (fairness: one buffer per ready client per round), hand the
 * bytes to the session, and if replies are now owed try to send them at
 * once: usually the socket can take them, which saves a round of waiting.
 */
static enum conn_step header_step(struct conn_core *core, struct connection *c);

enum conn_step conn_on_readable(struct conn_core *core, struct connection *c)
{
	size_t room;
	char *space;

	if (c->state == CONN_HEADER)
		return header_step(core, c);
	if (c->state == CONN_LINGERING)
		space = conn_discard_space(&room);
	else if (c->state == CONN_READING)
		space = conn_read_space(c, &room);
	else
		return CONN_AGAIN; /* not waiting to read */
	ssize_t n = space != NULL ? read(c->fd, space, room) : -1;
	long res = n >= 0 ? (long)n : space != NULL ? -(long)errno : -ENOMEM;
	enum conn_step step = conn_read_done(core, c, res);
	if (step == CONN_AGAIN && c->state == CONN_WRITING)
		step = conn_on_writable(core, c);
	return step;
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

bool conn_admission(const struct conn_config *cfg, int fd, const char *peer,
		    size_t nclients, size_t from_addr)
{
	if (nclients >= cfg->max_clients) {
		turn_away(fd, peer, "server full", MSG_SERVER_FULL);
		return false;
	}
	if (cfg->max_per_addr != 0 && from_addr >= cfg->max_per_addr) {
		turn_away(fd, peer, "too many connections", MSG_TOO_MANY);
		return false;
	}
	return true;
}

/* Has this client's address its share of connections already?  If not,
 * and there is a limit, count it (*key then names its entry). */
static bool over_per_addr_limit(struct conn_core *core,
				const struct sockaddr *addr,
				struct peer_key *key, bool *counted)
{
	const struct peer_counter *shared = core->cfg->shared_peers;

	*counted = false;
	if (core->cfg->max_per_addr == 0 || !peer_key_of(addr, key))
		return false;
	if (shared != NULL) {
		int r =
		    shared->admit(shared->ctx, key, core->cfg->max_per_addr);
		*counted = r > 0;
		return r == 0;
	}
	if (peers_count(&core->peers, key) >= core->cfg->max_per_addr)
		return true;
	*counted = peers_add(&core->peers, key);
	return false;
}

/* Has the table room for fd?  If lingerers fill it, the oldest makes way
 * (see conn_cut_linger), and an fd beyond the table moves down into the
 * place it left.  Returns the fd to use: the same one, or its copy. */
static int claim_slot(struct conn_core *core, int fd)
{
	if ((size_t)fd < core->table_size ||
	    !conn_cut_linger(core, "room for a new client"))
		return fd;
	int low = fcntl(fd, F_DUPFD, 0); /* the lowest free descriptor */
	if (low < 0)
		return fd; /* turned away as full */
	close(fd);
	return low;
}

/* A new connection: in the table, the live list and the idle clock. */
static struct connection *conn_open(struct conn_core *core, int fd,
				    const char *peer,
				    const struct peer_key *key, bool counted,
				    bool header)
{
	struct connection *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if (header && (c->header = malloc(PROXY_HEADER_RECOMMENDED)) == NULL) {
		free(c);
		return NULL;
	}
	c->fd = fd;
	c->state = header ? CONN_HEADER : CONN_READING;
	c->last_progress = conn_clock();
	c->per_addr = counted;
	c->peer_key = *key;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	session_init(&c->session, core->cfg->max_line);
	if (core->cfg->raw)
		session_set_raw(&c->session);
	core->by_fd[fd] = c;
	c->live_index = core->nlive;
	core->watches[core->nlive] = (struct conn_watch){fd, conn_waits_for(c)};
	core->live[core->nlive++] = c;
	list_append(&core->by_progress, c, false);
	core->nclients++;
	publish_load(core);
	if (header) {
		/* The header must come whole within the line timeout. */
		update_line_clock(core, c, false);
	} else {
		core->clients_served++;
		log_connected(peer, fd);
	}
	if (core->hooks.watch != NULL)
		core->hooks.watch(core->hooks.ctx, c, CONN_WAIT_READ);
	return c;
}

/* Is there room for one more client?  If not, a worker with room may
 * take it (--workers): true when fd was handed on (and closed here). */
static bool handed_on(struct conn_core *core, int fd,
		      const struct sockaddr *addr, bool may_hand_off)
{
	const struct worker_handoff *h = core->cfg->handoff;

	if (!may_hand_off || h == NULL || !h->hand_off(h->ctx, fd, addr))
		return false;
	TRACE("fd %d: full: handed to another worker", fd);
	close(fd);
	return true;
}

static struct connection *admit(struct conn_core *core, int listen_fd, int fd,
				const struct sockaddr *addr, bool may_hand_off)
{
	char peer[NET_ADDR_LEN];
	struct peer_key key;
	bool counted;

	net_format_addr(addr, peer, sizeof(peer));
	if (net_set_nonblocking(fd) != 0) {
		log_server("client %s: cannot make socket nonblocking: %s",
			   peer, strerror(errno));
		close(fd);
		return NULL;
	}
	TRACE("fd %d: accepted fd %d from %s", listen_fd, fd, peer);
	fd = claim_slot(core, fd);
	/* An fd beyond the table (FD_SETSIZE for select) never enters it:
	 * passing it to FD_SET would be memory corruption. */
	if ((size_t)fd >= core->table_size ||
	    core->nclients >= core->cfg->max_clients) {
		if (!handed_on(core, fd, addr, may_hand_off))
			turn_away(fd, peer, "server full", MSG_SERVER_FULL);
		return NULL;
	}
	/* From a trusted proxy, the client is known (and counted) only once
	 * its header has come. */
	bool header = core->cfg->proxy_from != NULL &&
		      proxy_from_match(core->cfg->proxy_from, addr);
	if (header) {
		memset(&key, 0, sizeof(key));
		counted = false;
	} else if (over_per_addr_limit(core, addr, &key, &counted)) {
		turn_away(fd, peer, "too many connections", MSG_TOO_MANY);
		return NULL;
	}
	/* Not fatal if it fails: replies may just leave a little later. */
	(void)net_set_nodelay(fd);
	struct connection *c = conn_open(core, fd, peer, &key, counted, header);
	if (c == NULL) {
		log_server("client %s: out of memory", peer);
		if (counted)
			release_peer(core, &key);
		close(fd);
	}
	return c;
}

struct connection *conn_admit(struct conn_core *core, int listen_fd, int fd,
			      const struct sockaddr *addr)
{
	return admit(core, listen_fd, fd, addr, true);
}

struct connection *conn_admit_handed(struct conn_core *core, int handoff_fd,
				     int fd, const struct sockaddr *addr)
{
	return admit(core, handoff_fd, fd, addr, false);
}

enum shed_result { SHED_ONE, SHED_NONE_WAITING, SHED_FAILED };

/*
 * Out of descriptors (EMFILE/ENFILE): the pending client would keep the
 * listening socket readable and the loop would wake at once, forever.
 * Give up the reserve descriptor, accept the client, turn it away, and
 * take the reserve back.  (accept() reports EMFILE before it looks at the
 * queue, so there may be no one waiting at all.)
 */
static enum shed_result shed_client(struct conn_core *core, int listen_fd,
				    int accept_errno)
{
	/* Zeroed: an unnamed Unix-domain client fills in no path. */
	struct sockaddr_storage addr = {0};
	socklen_t len = sizeof(addr);
	enum shed_result result = SHED_ONE;

	if (core->reserve_fd < 0)
		return SHED_FAILED;
	close(core->reserve_fd);
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
	core->reserve_fd = open("/dev/null", O_RDONLY);
	if (core->reserve_fd >= 0)
		(void)net_set_cloexec(core->reserve_fd);
	return result;
}

/* Stop watching the listening sockets for a moment after a failure we
 * could do nothing about, instead of spinning on them. */
static void pause_accepting(struct conn_core *core, int err)
{
	log_server("accept: %s; pausing new connections for %lld ms",
		   strerror(err), (long long)(ACCEPT_PAUSE / NS_PER_MS));
	core->accept_resume = core->now + ACCEPT_PAUSE;
}

/* What to do after accept() failed with err: true to try the next client
 * of the batch, false to stop. */
static bool accept_error(struct conn_core *core, int listen_fd, int err)
{
	if (err == EAGAIN || err == EWOULDBLOCK)
		return false; /* no one else is waiting */
	if (err == EINTR || err == ECONNABORTED || err == EPROTO)
		return true; /* that client gave up; try the next */
	if ((err == EMFILE || err == ENFILE) && core->releases_pending == 0 &&
	    conn_cut_linger(core, "descriptors needed") &&
	    core->releases_pending == 0)
		return true; /* a lingerer gave its descriptor up */
	if ((err == EMFILE || err == ENFILE) && core->releases_pending > 0) {
		/* A descriptor is on its way back (conn_release): wait for
		 * it a moment, rather than shed this client or cut another
		 * lingerer short. */
		core->accept_resume = core->now + RELEASE_WAIT;
		return false;
	}
	if (err == EMFILE || err == ENFILE) {
		enum shed_result r = shed_client(core, listen_fd, err);
		if (r == SHED_ONE)
			return true;
		if (r == SHED_NONE_WAITING)
			return false;
	}
	pause_accepting(core, err);
	return false;
}

bool conn_accept_failed(struct conn_core *core, int listen_fd, int err)
{
	return accept_error(core, listen_fd, err);
}

bool conn_accepting(const struct conn_core *core)
{
	return core->nlisteners > 0 && core->accept_resume <= core->now;
}

bool conn_accept_batch(struct conn_core *core, int listen_fd)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		/* Zeroed: an unnamed Unix-domain client fills in no path. */
		struct sockaddr_storage addr = {0};
		socklen_t len = sizeof(addr);
		int fd = accept(listen_fd, (struct sockaddr *)&addr, &len);

		if (fd >= 0)
			(void)conn_admit(core, listen_fd, fd,
					 (struct sockaddr *)&addr);
		else if (!accept_error(core, listen_fd, errno))
			return false;
	}
	return true;
}

/* ============================== deadlines ============================== */

static int64_t earlier(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int64_t idle_deadline(const struct conn_core *core,
			     const struct connection *c)
{
	return c->last_progress + seconds_ns(core->cfg->idle_timeout);
}

static int64_t line_deadline(const struct conn_core *core,
			     const struct connection *c)
{
	return c->clock_started + seconds_ns(core->cfg->line_timeout);
}

int64_t conn_next_deadline(const struct conn_core *core)
{
	int64_t next = conn_server_deadline(core);

	if (core->cfg->idle_timeout != 0 && core->by_progress.head != NULL)
		next =
		    earlier(next, idle_deadline(core, core->by_progress.head));
	if (core->lines.head != NULL)
		next = earlier(next, line_deadline(core, core->lines.head));
	if (core->quiet.head != NULL)
		next = earlier(next,
			       core->quiet.head->last_progress + LINGER_QUIET);
	if (core->lingerers.head != NULL)
		next = earlier(next, core->lingerers.head->clock_started +
					 LINGER_MAX);
	return next;
}

int64_t conn_deadline(const struct conn_core *core, const struct connection *c)
{
	int64_t next = core->shutting_down ? core->drain_deadline : NO_DEADLINE;

	if (c->state == CONN_LINGERING)
		return earlier(next, earlier(c->last_progress + LINGER_QUIET,
					     c->clock_started + LINGER_MAX));
	if (core->cfg->idle_timeout != 0)
		next = earlier(next, idle_deadline(core, c));
	if (c->on_clock)
		next = earlier(next, line_deadline(core, c));
	return next;
}

/*
 * For a loop that does its own I/O, the last look without the I/O: is c's
 * socket ready now for what c waits for?  Then the loop's request on it
 * is about to complete (a process frozen and thawed, or simply late,
 * learns of it in a moment), and c is not idle.
 */
static bool ready_now(const struct connection *c)
{
	short events = conn_waits_for(c) == CONN_WAIT_READ ? POLLIN : POLLOUT;
	struct pollfd p = {.fd = c->fd, .events = events};

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLOUT)) != 0;
}

/*
 * A deadline has passed, but was c really idle?  What the loop learned
 * this round may be stale: if the process was frozen between its wait and
 * now (SIGSTOP, a debugger, swapping), a client may have sent while the
 * loop could not say so.  One more read or write settles it before c is
 * cut: progress moves its idle deadline on.  (A trickler gains nothing: a
 * byte more does not move its line deadline.)
 */
static enum conn_step conn_last_chance(struct conn_core *core,
				       struct connection *c)
{
	if (core->hooks.loop_does_io) {
		if (ready_now(c))
			note_progress(core, c); /* its request will say more */
		return CONN_AGAIN;
	}
	if (c->state == CONN_WRITING)
		return conn_on_writable(core, c);
	return conn_on_readable(core, c);
}

/*
 * conn_time_out() for a loop that does its own I/O: the notice goes out
 * as its next write.  An idle client that was owed replies already has a
 * write stuck in the kernel (the loop handed over every result before
 * this), so the socket is full: cut it now, as a write that cannot go at
 * once is dropped below.  Otherwise its idle clock starts again, so the
 * notice has one more idle timeout to go before the client is cut.
 */
static void conn_time_out_by_loop(struct conn_core *core, struct connection *c,
				  enum close_reason why, bool was_writing)
{
	if (why == CLOSE_TIMEOUT && was_writing) {
		session_abort(&c->session, CLOSE_TIMEOUT);
		(void)conn_sync(core, c);
	} else if (c->state == CONN_WRITING) {
		note_progress(core, c);
	}
}

/* End c's conversation for a timeout: the notice after what is owed.
 * After an idle timeout the client is not reading, so what the socket
 * cannot take at once is dropped; after a line timeout it may be. */
static void conn_time_out(struct conn_core *core, struct connection *c,
			  enum close_reason why)
{
	if (c->state == CONN_HEADER) {
		conn_reject(core, c, "no proxy header in time", MSG_BAD_PROXY);
		return;
	}
	bool was_writing = c->state == CONN_WRITING;

	session_finish(&c->session, why);
	if (!conn_sync(core, c))
		return;
	update_line_clock(core, c, false);
	if (core->hooks.loop_does_io) {
		conn_time_out_by_loop(core, c, why, was_writing);
		return;
	}
	if (conn_on_writable(core, c) == CONN_GONE)
		return; /* usually all of it went, at once */
	if (why == CLOSE_TIMEOUT && c->state == CONN_WRITING) {
		session_abort(&c->session, CLOSE_TIMEOUT);
		(void)conn_sync(core, c);
	}
}

/* protocol.md 4: the end of a linger, the line timeout, the idle timeout.
 * Each list is walked from its head only as far as deadlines have come;
 * every connection looked at leaves the head (closed, cut, or moved on). */
void conn_expire(struct conn_core *core)
{
	struct connection *c;
	int64_t now = core->now;

	conn_expire_server(core);
	while ((c = core->lingerers.head) != NULL &&
	       now >= c->clock_started + LINGER_MAX)
		conn_close(core, c, "linger limit");
	while ((c = core->quiet.head) != NULL &&
	       now >= c->last_progress + LINGER_QUIET)
		conn_close(core, c, "quiet");
	while ((c = core->lines.head) != NULL &&
	       now >= line_deadline(core, c)) {
		if (conn_last_chance(core, c) != CONN_GONE &&
		    core->lines.head == c && now >= line_deadline(core, c))
			conn_time_out(core, c, CLOSE_LINE_TIMEOUT);
	}
	while (core->cfg->idle_timeout != 0 &&
	       (c = core->by_progress.head) != NULL &&
	       now >= idle_deadline(core, c)) {
		if (conn_last_chance(core, c) != CONN_GONE &&
		    core->by_progress.head == c &&
		    now >= idle_deadline(core, c))
			conn_time_out(core, c, CLOSE_TIMEOUT);
	}
}

void conn_expire_one(struct conn_core *core, struct connection *c)
{
	int64_t now = core->now;
	bool lingering = c->state == CONN_LINGERING;
	bool due = lingering ? now >= c->clock_started + LINGER_MAX ||
				   now >= c->last_progress + LINGER_QUIET
			     : (c->on_clock && now >= line_deadline(core, c)) ||
				   (core->cfg->idle_timeout != 0 &&
				    now >= idle_deadline(core, c));

	/* The last look first, as conn_expire gives every connection. */
	if (!due || conn_last_chance(core, c) == CONN_GONE)
		return;
	if (c->state == CONN_LINGERING) {
		if (now >= c->clock_started + LINGER_MAX)
			conn_close(core, c, "linger limit");
		else if (now >= c->last_progress + LINGER_QUIET)
			conn_close(core, c, "quiet");
	} else if (c->on_clock && now >= line_deadline(core, c)) {
		conn_time_out(core, c, CLOSE_LINE_TIMEOUT);
	} else if (core->cfg->idle_timeout != 0 &&
		   now >= idle_deadline(core, c)) {
		conn_time_out(core, c, CLOSE_TIMEOUT);
	}
}

int64_t conn_server_deadline(const struct conn_core *core)
{
	int64_t next = core->shutting_down ? core->drain_deadline : NO_DEADLINE;

	if (core->accept_resume > core->now && core->nlisteners > 0)
		next = earlier(next, core->accept_resume);
	if (core->status_due != 0)
		next = earlier(next, core->status_due);
	return next;
}

static void report_status(const struct conn_core *core);

void conn_expire_server(struct conn_core *core)
{
	if (core->status_due != 0 && core->now >= core->status_due) {
		core->status_due = 0;
		report_status(core);
	}
}

/* ============================== shutdown ============================== */

/* Stop accepting and reading; the drain delivers what is owed.  Walked
 * from the end: finishing a connection moves the last one into its
 * place, and that one has been seen already. */
static void begin_shutdown(struct conn_core *core)
{
	log_draining(CONN_DRAIN_SECONDS);
	core->shutting_down = true;
	core->drain_deadline = core->now + DRAIN_TIME;
	/* New clients are refused, not left waiting. */
	for (size_t i = 0; i < core->nlisteners; i++)
		close(core->listeners[i].fd);
	core->nlisteners = 0;
	for (size_t i = core->nlive; i-- > 0;) {
		if (i >= core->nlive)
			continue; /* a lingerer closed to make room was last */
		struct connection *c = core->live[i];
		if (c->state == CONN_HEADER) {
			conn_reject(core, c, "shutting down", NULL);
			continue;
		}
		if (c->state == CONN_LINGERING ||
		    c->session.reason != CLOSE_NONE)
			continue; /* its conversation is ending already */
		session_finish(&c->session, CLOSE_SHUTDOWN);
		if (conn_sync(core, c))
			update_line_clock(core, c, false);
	}
}

/* SIGUSR1: one line saying where the server is, whatever -q says. */
static void report_status(const struct conn_core *core)
{
	uint64_t lines = core->lines_echoed, bytes = core->bytes_echoed;

	for (size_t i = 0; i < core->nlive; i++) {
		lines += core->live[i]->session.lines_echoed;
		bytes += core->live[i]->session.bytes_echoed;
	}
	log_status(core->nclients, core->nlingering, core->clients_served,
		   lines, bytes);
}

enum conn_signal conn_signal_meaning(int signo, bool draining)
{
	if (signo == SIGUSR1)
		return CONN_SIGNAL_STATUS;
	if (signo != SIGINT && signo != SIGTERM)
		return CONN_SIGNAL_OTHER;
	return draining ? CONN_SIGNAL_ABANDON : CONN_SIGNAL_DRAIN;
}

void conn_on_signals(struct conn_core *core, int signal_fd)
{
	unsigned char sigs[16];
	ssize_t n = read(signal_fd, sigs, sizeof(sigs));

	for (ssize_t i = 0; i < n; i++) {
		switch (conn_signal_meaning(sigs[i], core->shutting_down)) {
		case CONN_SIGNAL_STATUS:
			if (!core->hooks.loop_does_io)
				report_status(core);
			else if (core->status_due == 0) /* see conn.h */
				core->status_due =
				    core->now +
				    CONN_STATUS_DELAY_MS * NS_PER_MS;
			break;
		case CONN_SIGNAL_DRAIN:
			begin_shutdown(core);
			break;
		case CONN_SIGNAL_ABANDON:
			log_abandoning();
			core->abandon = true;
			return;
		case CONN_SIGNAL_OTHER:
			break;
		}
	}
}

bool conn_drain_over(const struct conn_core *core)
{
	return core->shutting_down &&
	       (core->nlive == 0 || core->now >= core->drain_deadline);
}

/* ============================== start and end ========================== */

/* A worker of --workers, at its end: its totals, for the parent's one
 * summary line (workers.c reads them). */
static void send_totals(const struct conn_core *core)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "%llu %llu %llu\n",
			 (unsigned long long)core->clients_served,
			 (unsigned long long)core->lines_echoed,
			 (unsigned long long)core->bytes_echoed);

	if (n > 0 && write(core->cfg->totals_fd, line, (size_t)n) != n)
		log_server("worker totals: %s", strerror(errno));
}

int conn_core_init(struct conn_core *core, const struct conn_config *cfg,
		   const struct listener *listeners, size_t n,
		   size_t table_size, const struct conn_hooks *hooks)
{
	memset(core, 0, sizeof(*core));
	core->cfg = cfg;
	core->listeners = listeners;
	core->nlisteners = n;
	if (hooks != NULL)
		core->hooks = *hooks;
	core->table_size = table_size;
	core->by_fd = calloc(table_size, sizeof(*core->by_fd));
	core->live = calloc(table_size, sizeof(*core->live));
	core->watches = calloc(table_size, sizeof(*core->watches));
	if (core->by_fd == NULL || core->live == NULL ||
	    core->watches == NULL) {
		free(core->by_fd);
		free(core->live);
		free(core->watches);
		errno = ENOMEM;
		return -1;
	}
	peers_init(&core->peers);
	core->reserve_fd = open("/dev/null", O_RDONLY);
	if (core->reserve_fd >= 0)
		(void)net_set_cloexec(core->reserve_fd);
	conn_core_tick(core);
	return 0;
}

void conn_close_all(struct conn_core *core)
{
	while (core->nlive > 0) {
		struct connection *c = core->live[core->nlive - 1];
		bool lingering = c->state == CONN_LINGERING;
		if (c->state == CONN_HEADER) {
			conn_reject(core, c, "shutting down", NULL);
			continue;
		}
		if (!lingering) {
			session_abort(&c->session, CLOSE_SHUTDOWN);
			conn_set_state(core, c, CONN_DONE, NULL);
		}
		conn_close(core, c, lingering ? "shutdown" : NULL);
	}
}

void conn_core_finish(struct conn_core *core)
{
	conn_close_all(core);
	for (size_t i = 0; i < core->nlisteners; i++)
		close(core->listeners[i].fd);
	core->nlisteners = 0;
	if (core->reserve_fd >= 0)
		close(core->reserve_fd);
	if (!core->cfg->no_summary)
		log_summary(core->clients_served, core->lines_echoed,
			    core->bytes_echoed);
	else if (core->cfg->totals_fd >= 0)
		send_totals(core);
	free(core->by_fd);
	free(core->live);
	free(core->watches);
}
