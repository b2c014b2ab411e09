/*
 * conn.h - the connection core: everything a connection does between
 * accept and close, whatever tells the loop that it is ready.
 *
 * Every event loop of the project (echoserv's select() loop in server.c,
 * and the comparison servers' poll, epoll, nonblocking-polling, SIGIO,
 * aio and io_uring loops) drives the same core, so every server has the
 * same policy (docs/protocol.md section 4) and a diff between two loops
 * shows only how they wait.  The core owns:
 *
 *   admission    --max-clients, --max-per-addr, turning away, shedding on
 *                EMFILE with a reserve descriptor, the accept batch
 *   the steps    one read, then an optimistic write; writes until the
 *                socket is full (or, for completion-based loops, the
 *                results of reads and writes the loop issued itself)
 *   deadlines    the idle timeout, the line timeout, the linger, the drain
 *   closing      lingering (FIN, discard, then close) and its bounds
 *   telling      the log lines and the trace of every transition
 *
 * A connection has one state, and its legal moves are checked in one
 * place (conn_set_state in conn.c):
 *
 *     HEADER -> READING          a trusted proxy named the client
 *     READING <-> WRITING        the session's own moves (protocol.h)
 *     READING, WRITING -> DONE   the conversation is over
 *     DONE -> LINGERING          FIN sent; input read and discarded
 *     DONE, LINGERING -> CLOSED  the socket is closed, c is forgotten
 *     HEADER -> CLOSED           no valid header: turned away
 *
 * What the loop must do is given by conn_waits_for(): READING wants
 * readability, WRITING writability, LINGERING readability.  A loop that
 * builds its sets every round just asks; a loop with a kernel interest
 * list (epoll, SIGIO) passes a watch hook and is told whenever that
 * changes.  The nearest deadline is kept ready (conn_next_deadline),
 * so no loop walks its clients to find it.
 *
 * Loops that do the reads and writes themselves (the completion loops,
 * aio and io_uring, and the blocking designs, whose threads or coroutines
 * block in them) set hooks.loop_does_io: the core then never reads or
 * writes a socket itself, and while the loop has a request of c's in the
 * kernel (c->in_flight) closing c leaves its socket and memory to
 * conn_release(), called by the loop once that request is over.
 */
#ifndef ECHOSERV_CONN_H
#define ECHOSERV_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net.h"
#include "peers.h"
#include "protocol.h"
#include "proxy.h"

#define NO_DEADLINE INT64_MAX

/*
 * --max-per-addr counted over several processes (--workers): what the
 * core asks instead of its own table when conn_config.shared_peers is
 * set.  admit counts one more connection for key if the whole server has
 * fewer than limit: 1 if counted, 0 if over the limit, -1 if the counts
 * are full (admitted, not counted); release undoes a counted one.
 */
struct peer_counter {
	int (*admit)(void *ctx, const struct peer_key *key, size_t limit);
	void (*release)(void *ctx, const struct peer_key *key);
	void *ctx;
};

/*
 * --workers: where a full worker sends a client it cannot take.  The
 * kernel shares connections out between the workers' sockets by a hash,
 * not by load, so near N x the ceiling one worker can be full while
 * another has room.  hand_off passes the accepted socket (and its peer's
 * address) to a worker with room, and returns true if one took it (the
 * caller then closes its own descriptor); load tells the others how many
 * clients this worker has now.
 */
struct worker_handoff {
	bool (*hand_off)(void *ctx, int fd, const struct sockaddr *addr);
	void (*load)(void *ctx, size_t nclients);
	void *ctx;
};

/* The graceful shutdown delivers queued replies for at most this long. */
#define CONN_DRAIN_SECONDS 2
/* A loop that does its own I/O hands a write's result over a moment after
 * the client may have seen its bytes (another thread, a helper thread or
 * the kernel did the write): SIGUSR1's status line waits this long, so
 * what a client has seen is counted. */
#define CONN_STATUS_DELAY_MS 20

/* The policy, from the command line. */
struct conn_config {
	size_t max_clients;    /* in conversation at once */
	size_t max_line;       /* MAX_LINE_MIN .. MAX_LINE_MAX */
	unsigned idle_timeout; /* seconds; 0 = never */
	unsigned line_timeout; /* seconds; 0 = never */
	size_t max_per_addr;   /* connections from one address; 0 = no limit */
	bool raw;              /* RFC 862 framing for every session */
	/* --proxy-from: peers whose connections begin with a PROXY protocol
	 * header naming the real client; NULL or empty: none. */
	const struct proxy_from *proxy_from;
	/* --workers: the per-address counts the workers share; NULL: this
	 * process's own (core->peers). */
	const struct peer_counter *shared_peers;
	/* --workers: the parent prints the one summary line, not each: a
	 * worker writes its totals ("C L B\n") to totals_fd instead. */
	bool no_summary;
	int totals_fd;
	/* --workers: other workers that may take a client when this one is
	 * full; NULL: none. */
	const struct worker_handoff *handoff;
};

enum conn_state {
	CONN_HEADER,  /* from a trusted proxy: waiting for its PROXY header */
	CONN_READING, /* waiting for input */
	CONN_WRITING, /* replies are owed; no input until they are sent */
	CONN_DONE,    /* the conversation is over (a moment, never waited in) */
	CONN_LINGERING, /* FIN sent; discarding input until the client closes */
	CONN_CLOSED     /* the socket is closed (a moment: c is then freed) */
};

/* What a connection waits for; what the loop must watch it for. */
enum conn_wait { CONN_WAIT_NOTHING, CONN_WAIT_READ, CONN_WAIT_WRITE };

/* What a step found: go on (the socket may have more), wait for the next
 * readiness (the socket said EAGAIN, or took a partial write), or the
 * connection was closed and freed (never touch it again). */
enum conn_step { CONN_AGAIN, CONN_DRAINED, CONN_GONE };

struct connection;

/* An intrusive list of connections, oldest first. */
struct conn_link {
	struct connection *prev, *next;
};
struct conn_list {
	struct connection *head, *tail;
	size_t count;
};

struct connection {
	int fd;
	enum conn_state state; /* changed by conn_set_state() only */
	struct session session;
	/* Monotonic ns of the last byte read or written (the idle clock),
	 * or while lingering of the last byte discarded (the quiet clock). */
	int64_t last_progress;
	/* When the first byte of the unfinished line arrived (the line
	 * clock), or when the linger began. */
	int64_t clock_started;
	/* By last_progress: in core->by_progress while conversing, in
	 * core->quiet while lingering. */
	struct conn_link progress_link;
	/* By clock_started: in core->lines while a line is unfinished, in
	 * core->lingerers while lingering. */
	struct conn_link clock_link;
	bool on_clock; /* clock_link is in a list */
	/* HEADER: what has come of the PROXY header so far. */
	char *header;
	size_t header_len;
	bool per_addr; /* counted in core->peers until closed */
	struct peer_key peer_key;
	size_t live_index; /* where it is in core->live */
	/* The loop's own: what it registered with the kernel, a pending
	 * request, ...  The core never looks at it. */
	unsigned loop_flags;
	/* Set by a loop that does its own I/O (hooks.loop_does_io) while a
	 * read or write of c's is in the kernel, into c's buffer: closing c
	 * then shuts its socket down, which makes that request end soon, and
	 * leaves the socket and c's memory to conn_release(). */
	bool in_flight;
	char peer[NET_ADDR_LEN];
};

/* How the core tells a loop with a kernel interest list what changed. */
struct conn_hooks {
	/* c now waits for `wait` (CONN_WAIT_NOTHING: c is about to be
	 * closed; take its socket out of every interest list now). */
	void (*watch)(void *ctx, struct connection *c, enum conn_wait wait);
	void *ctx;
	/*
	 * The loop issues every read and write itself, through
	 * conn_read_space() and the functions after it: the core touches no
	 * socket but to shut it down and close it.  So a timeout's notice and
	 * a linger's discarding are the loop's requests too, and before a
	 * timeout there is no last look of the core's own (the loop hands
	 * over what it has before conn_expire).  A loop that made a socket
	 * blocking makes it nonblocking again when told CONN_WAIT_NOTHING:
	 * the close drains what is waiting without waiting for more.
	 */
	bool loop_does_io;
};

struct conn_core {
	const struct conn_config *cfg;
	struct conn_hooks hooks;
	/* The listening sockets; none once shutdown has begun (they are
	 * closed then, so new clients are refused, not left waiting). */
	const struct listener *listeners;
	size_t nlisteners;

	/* Every connection by fd: table_size slots (FD_SETSIZE for a
	 * select() loop); an accepted fd beyond it is turned away. */
	struct connection **by_fd;
	size_t table_size;
	/* Every connection, densely, for loops that walk them all. */
	struct connection **live;
	size_t nlive;
	/* Beside live, index for index: each one's descriptor and what it
	 * waits for, packed, so that a loop building its sets every round
	 * streams through them without touching the connections. */
	struct conn_watch {
		int fd;
		enum conn_wait wait;
	} * watches;

	size_t nclients;   /* READING or WRITING: what --max-clients limits */
	size_t nlingering; /* LINGERING */
	struct conn_list by_progress; /* conversing, by last_progress */
	struct conn_list lines;       /* unfinished lines, by clock_started */
	struct conn_list quiet;       /* lingering, by last_progress */
	struct conn_list lingerers;   /* lingering, by clock_started */
	struct peer_table peers;      /* connections per address */
	int reserve_fd;               /* given up to shed a client on EMFILE */
	/* Closed while the loop's request was in flight, not yet given to
	 * conn_release(): descriptors that are coming back. */
	size_t releases_pending;

	int64_t now;           /* monotonic ns, set by conn_core_tick() */
	int64_t status_due;    /* the status line is owed then; 0: not owed */
	int64_t accept_resume; /* accepting is paused until then, if > now */
	bool shutting_down;
	bool abandon; /* a second signal: close everything, exit 1 */
	int64_t drain_deadline;

	uint64_t clients_served, lines_echoed, bytes_echoed;
};

/* Monotonic time in ns. */
int64_t conn_clock(void);

/*
 * Set up core for the clients of the n listening sockets (nonblocking), on
 * descriptors below table_size, with the policy cfg and hooks (NULL: none);
 * cfg and listeners must outlive it.  Returns 0, or -1 with errno when the
 * table cannot be allocated.
 */
int conn_core_init(struct conn_core *core, const struct conn_config *cfg,
		   const struct listener *listeners, size_t n,
		   size_t table_size, const struct conn_hooks *hooks);

/* The end: close every connection left (the drain is over or was
 * abandoned) and the listening sockets, log the summary line, free the
 * tables. */
void conn_core_finish(struct conn_core *core);

/* Read the clock: after every wait, before the work of a round. */
void conn_core_tick(struct conn_core *core);

/* ------------------------------------------------------------ accepting */

/* Should the loop watch its listening sockets now?  (Not while accepting
 * is paused after a failure, nor once shutting down.) */
bool conn_accepting(const struct conn_core *core);

/* listen_fd (nonblocking) is readable: accept a batch of clients, each
 * admitted or turned away.  Returns true if the batch was used up, so more
 * may be waiting. */
bool conn_accept_batch(struct conn_core *core, int listen_fd);

/* For a loop that accepts by other means (io_uring): admit the client on
 * fd, accepted on listen_fd; fd is made nonblocking here.  Returns the new
 * connection, or NULL if it was turned away or closed. */
struct connection *conn_admit(struct conn_core *core, int listen_fd, int fd,
			      const struct sockaddr *addr);

/* A client another worker handed to this one (conn_config.handoff) on
 * handoff_fd: admitted as by conn_admit(), or turned away if this worker
 * is full too (it is never handed on again). */
struct connection *conn_admit_handed(struct conn_core *core, int handoff_fd,
				     int fd, const struct sockaddr *addr);

/* For such a loop: accept() on listen_fd failed with err (an errno).
 * Sheds a waiting client on EMFILE/ENFILE, or pauses accepting.  Returns
 * true if the next client waiting may be accepted at once. */
bool conn_accept_failed(struct conn_core *core, int listen_fd, int err);

/* ------------------------------------------------------------ the steps */

/* What c waits for now.  Inline: a select() or poll() loop asks it of
 * every connection every round. */
static inline enum conn_wait conn_waits_for(const struct connection *c)
{
	switch (c->state) {
	case CONN_HEADER:
	case CONN_READING:
	case CONN_LINGERING:
		return CONN_WAIT_READ;
	case CONN_WRITING:
		return CONN_WAIT_WRITE;
	case CONN_DONE:
	case CONN_CLOSED:
		break;
	}
	return CONN_WAIT_NOTHING;
}

/* "READING", ..., for the trace. */
const char *conn_state_name(enum conn_state st);

/* c's socket is (or may be) readable: one read (fairness), then an
 * optimistic write of the replies; or, lingering, one read discarded. */
enum conn_step conn_on_readable(struct conn_core *core, struct connection *c);

/* c's socket is (or may be) writable: send what is owed until it is all
 * sent or the socket is full. */
enum conn_step conn_on_writable(struct conn_core *core, struct connection *c);

/*
 * For completion-based loops, which issue reads and writes themselves:
 * where c's next read may go (READING), and what it must send next
 * (WRITING); then the result of that read or write, res bytes or -errno
 * (a read of 0 is end of input).  -EINTR and -EAGAIN leave c as it was
 * (CONN_DRAINED), to issue the same request again.  A lingering c's reads
 * go to conn_discard_space() and are reported the same way.  A read space
 * of NULL means memory ran out: report it as conn_read_done(-ENOMEM).
 */
char *conn_read_space(struct connection *c, size_t *room);
const char *conn_write_data(const struct connection *c, size_t *len);
char *conn_discard_space(size_t *room);
enum conn_step conn_read_done(struct conn_core *core, struct connection *c,
			      long res);
enum conn_step conn_write_done(struct conn_core *core, struct connection *c,
			       long res);

/* c was closed while c->in_flight (its state is CONN_CLOSED, and the core
 * has forgotten it) and the loop's request is over: close its socket as
 * the close chose (politely, unless it was reset) and free c. */
void conn_release(struct conn_core *core, struct connection *c);

/* ------------------------------------------------------------ deadlines */

/* When the core must next act of its own accord (a timeout, the end of a
 * linger or of the drain, accepting resumed); NO_DEADLINE if never. */
int64_t conn_next_deadline(const struct conn_core *core);

/* When the core must next act on c of its own accord (its idle or line
 * timeout, the end of its linger, the end of the drain); NO_DEADLINE if
 * never.  For a loop that waits for each connection apart (a thread per
 * client). */
int64_t conn_deadline(const struct conn_core *core, const struct connection *c);

/* Act on every deadline that has come by core->now. */
void conn_expire(struct conn_core *core);

/* For a loop that waits for each connection apart (a thread per client),
 * whose wait for c ended at conn_deadline(c): act on c's own deadlines
 * that have come by core->now, and no one else's (their own waits may
 * have results yet to hand over). */
void conn_expire_one(struct conn_core *core, struct connection *c);

/* When the core itself, not a connection, must next act: accepting
 * resumed, the end of the drain, an owed status line; NO_DEADLINE if
 * never.  The wait of such a loop's main thread, which then calls
 * conn_expire_server() (conn_expire() does too). */
int64_t conn_server_deadline(const struct conn_core *core);
void conn_expire_server(struct conn_core *core);

/* ------------------------------------------------------------ shutdown */

/* The self-pipe (signals.h) is readable: a SIGINT or SIGTERM begins the
 * graceful shutdown (a second abandons it: core->abandon), a SIGUSR1 logs
 * the status line. */
void conn_on_signals(struct conn_core *core, int signal_fd);

/* Is the shutdown complete: nobody left, or the drain time up? */
bool conn_drain_over(const struct conn_core *core);

/* What one signal from the self-pipe asks (conn_on_signals's reading):
 * SIGUSR1 the status line, SIGINT or SIGTERM the drain, or once it has
 * begun, to abandon it. */
enum conn_signal {
	CONN_SIGNAL_STATUS,
	CONN_SIGNAL_DRAIN,
	CONN_SIGNAL_ABANDON,
	CONN_SIGNAL_OTHER
};
enum conn_signal conn_signal_meaning(int signo, bool draining);

/* Close every connection left, as conn_core_finish() does, without the
 * rest of the end: for a process whose parent logs the summary. */
void conn_close_all(struct conn_core *core);

/* ------------------------------------------ for a process per client */

/*
 * fork.c's parent keeps its clients in no core of its own (each child runs
 * one for its client), so it takes two pieces of the core's policy apart:
 *
 * conn_admission: may the client on fd (nonblocking; peer names it) be
 * served, with nclients in conversation and from_addr connections from
 * its address already (lingering ones too)?  If not, it is turned away
 * here as conn_admit() turns clients away (the notice, the log line, a
 * polite close) and false is returned.  conn_admit() decides with it.
 *
 * conn_cut_linger: close the oldest lingering connection now, why saying
 * so in the trace ("too many lingering").  Its replies and our FIN are
 * out; only the wait for the client's own close is cut short.  The core
 * does this when lingerers would exceed --max-clients or hold descriptors
 * a new client needs; a child does it when its parent, counting every
 * child's lingerer, says so.  Returns false if none lingers.
 */
bool conn_admission(const struct conn_config *cfg, int fd, const char *peer,
		    size_t nclients, size_t from_addr);
bool conn_cut_linger(struct conn_core *core, const char *why);

#endif
