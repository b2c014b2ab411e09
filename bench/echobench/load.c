/*
 * load.c - the load: connect every connection, keep `pipeline` lines in
 * flight on each, verify every echoed byte, and time each line from the
 * write of its last byte to the arrival of its echo's last byte.
 *
 * Each load thread runs one poll() loop over its share of the connections.
 * A connection's progress is two stream positions, bytes written and bytes
 * received; since all lines have the same size, the line number and offset
 * of any byte follow from its position, and so do the bytes expected there.
 *
 * With --rate the load is paced: each thread has its share of the rate, and
 * a line is due every 1/share seconds; it goes to the next connection, in
 * turn, that has room in its pipeline.  An echo does not release the next
 * line at once, so how fast the server answers does not set the rate.  A
 * thread that falls behind (kept off its CPU, or every connection still
 * waiting for its echo) sends the lines it owes as soon as it can, but
 * only those due in the last PACE_SLACK_S: older ones are skipped and
 * counted (late=), and msgs_per_s falls short of the rate asked.
 */
#include "echobench.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_SEC 1000000000.0
#define RX_BUFFER  (256 * 1024)
/* Diagnostics printed per load thread at most; the rest are only counted. */
#define MAX_REPORTS 3
/* --rate: a line due longer ago than this is skipped, not sent late.  A
 * few milliseconds off the CPU are common on a shared machine; catching
 * up is bounded anyway by the room in the pipelines. */
#define PACE_SLACK_S 0.020

/* ============================== data ============================== */

/*
 * One connection.  Invariants: rpos <= wpos <= queued * size (nothing is
 * received that was not sent, nothing sent that was not queued), and
 * queued - rpos / size <= pipeline (the lines in flight).
 */
struct conn {
	int fd; /* -1 once dead */
	size_t id;
	uint64_t queued;  /* lines put into tx so far */
	uint64_t wpos;    /* stream bytes written */
	uint64_t rpos;    /* stream bytes received and verified */
	uint64_t stamped; /* lines whose write time is in sent_at */
	/* Lines queued but not yet written are tx[tx_off, tx_len); it holds
	 * pipeline * size bytes, enough for every line in flight. */
	unsigned char *tx;
	size_t tx_len, tx_off;
	uint64_t *sent_at; /* write time of line k at k % pipeline */
};

/*
 * The start of the clock, shared by the load threads.  The warm-up begins
 * only once every active connection has had a line echoed: a server may
 * still be accepting (a forking one forking) after the connects completed
 * in the kernel, and a window measured then would measure the accepting.
 */
struct start_gate {
	pthread_mutex_t lock;
	size_t
	    waiting; /* load threads whose connections are not all answered */
	uint64_t opened; /* when the connections were open */
};

/* One load thread: its connections, its poll() set and its results. */
struct worker {
	const struct bench_config *cfg;
	struct conn *conns;
	size_t n;
	struct pollfd *pfd; /* pfd[i] watches conns[i] */
	unsigned char *rx;  /* RX_BUFFER bytes for every read */
	/* Monotonic ns: until every connection has had a line echoed (or
	 * t_start_limit), nothing is counted; then lines finished in
	 * [t_measure, t_end) are; after t_end no line is sent and the rest
	 * are awaited until t_drain_end. */
	uint64_t t_start_limit, t_measure, t_end, t_drain_end;
	bool started_clock;
	bool sending;
	/* --rate: this thread's share (lines/s; 0: not paced); line k of the
	 * pace is due at t_pace + k / rate; lines paced (sent or skipped) so
	 * far; how many late lines may still go; the connection next in turn. */
	double rate;
	uint64_t t_pace;
	uint64_t paced;
	uint64_t slack;
	size_t turn;
	struct start_gate *gate;
	bool started; /* its thread is running */
	int reports;  /* diagnostics printed so far */
	struct bench_result res;
	pthread_t thread;
};

/* ============================== connecting ============================== */

int resolve_target(const struct bench_config *cfg,
		   struct sockaddr_storage *addr, socklen_t *len)
{
	struct addrinfo hints, *list;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	int rc = getaddrinfo(cfg->host, cfg->port, &hints, &list);
	if (rc != 0) {
		fprintf(stderr, "echobench: cannot resolve %s port %s: %s\n",
			cfg->host, cfg->port, gai_strerror(rc));
		return -1;
	}
	memcpy(addr, list->ai_addr, list->ai_addrlen);
	*len = list->ai_addrlen;
	freeaddrinfo(list);
	return 0;
}

static int set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -1;
	return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int connect_blocking(const struct sockaddr_storage *addr, socklen_t len)
{
	int fd = socket(addr->ss_family, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	while (connect(fd, (const struct sockaddr *)addr, len) != 0) {
		if (errno == EINTR)
			continue;
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Start a nonblocking connect; fd (connecting or connected) or -1. */
static int start_connect(const struct sockaddr_storage *addr, socklen_t len)
{
	int one = 1;
	int fd = socket(addr->ss_family, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (set_nonblocking(fd) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    (connect(fd, (const struct sockaddr *)addr, len) != 0 &&
	     errno != EINPROGRESS)) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* The connect on fd finished (poll said so): 0, or its error. */
static int connect_result(int fd)
{
	int err = 0;
	socklen_t elen = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
		return errno;
	return err;
}

/*
 * How many connects may be in progress at once.  Opening 10,000 at once
 * would overflow the server's listen queue (SOMAXCONN) before it has had
 * a chance to accept, and every dropped SYN costs a second's retransmit;
 * a window of handshakes keeps the pace to what the server accepts.
 */
#define CONNECT_WINDOW 256

/* The connect on fds[i] finished: keep the socket, or close it and note
 * the first error. */
static void connect_finished(int *fds, size_t i, int *first_error)
{
	int err = connect_result(fds[i]);

	if (err != 0) {
		if (*first_error == 0)
			*first_error = err;
		close(fds[i]);
		fds[i] = -1;
	}
}

/*
 * Connect n sockets to addr, at most CONNECT_WINDOW in progress at a time,
 * and wait (until deadline) for all of them.  fds[i] is the connected
 * socket, or -1 if it failed (counted in *failed, the first error
 * printed).  Returns -1 only if out of memory.
 */
static int connect_all(const struct sockaddr_storage *addr, socklen_t len,
		       int *fds, size_t n, uint64_t deadline, uint64_t *failed)
{
	struct pollfd pfd[CONNECT_WINDOW];
	size_t which[CONNECT_WINDOW];
	size_t next = 0; /* fds[0, next) are started */
	nfds_t m = 0;    /* pending connects in pfd[0, m) */
	int first_error = 0;

	for (;;) {
		while (m < CONNECT_WINDOW && next < n) {
			size_t i = next++;
			fds[i] = start_connect(addr, len);
			if (fds[i] < 0) {
				if (first_error == 0)
					first_error = errno;
				continue;
			}
			pfd[m].fd = fds[i];
			pfd[m].events = POLLOUT;
			pfd[m].revents = 0;
			which[m++] = i;
		}
		uint64_t now = now_ns();
		if (m == 0 || now >= deadline)
			break;
		int ready = poll(pfd, m, (int)((deadline - now) / 1000000) + 1);
		if (ready < 0 && errno != EINTR)
			break;
		/* Settle the finished ones, keeping the rest packed. */
		nfds_t kept = 0;
		for (nfds_t j = 0; j < m; j++) {
			if (ready > 0 && pfd[j].revents != 0) {
				connect_finished(fds, which[j], &first_error);
				continue;
			}
			pfd[kept] = pfd[j];
			which[kept++] = which[j];
		}
		m = kept;
	}
	for (nfds_t j = 0; j < m; j++) { /* still connecting: too late */
		close(fds[which[j]]);
		fds[which[j]] = -1;
	}
	for (size_t i = next; i < n; i++) /* never started: too late */
		fds[i] = -1;
	for (size_t i = 0; i < n; i++)
		if (fds[i] < 0)
			(*failed)++;
	if (*failed > 0)
		fprintf(stderr, "echobench: %llu connection%s failed: %s\n",
			(unsigned long long)*failed, *failed == 1 ? "" : "s",
			first_error != 0 ? strerror(first_error) : "timed out");
	return 0;
}

/* ========== one connection ========== */

/* Count a failure of connection c in *counter, report it (what, then
 * detail) unless enough were reported, and stop using c. */
static void conn_fail(struct worker *w, struct conn *c, uint64_t *counter,
		      const char *what, const char *detail)
{
	(*counter)++;
	if (w->reports < MAX_REPORTS) {
		w->reports++;
		fprintf(stderr, "echobench: connection %zu: %s%s\n", c->id,
			what, detail);
	}
	close(c->fd);
	c->fd = -1;
}

/* Top up c's lines in flight to the pipeline depth, at most `most` lines
 * (while sending); how many were added. */
static uint64_t conn_fill(struct worker *w, struct conn *c, uint64_t most)
{
	const size_t size = w->cfg->size;
	uint64_t answered = c->rpos / size;
	uint64_t added = 0;

	if (!w->sending)
		return 0;
	if (c->tx_off == c->tx_len) {
		c->tx_off = c->tx_len = 0;
	} else if (c->tx_off > 0) {
		memmove(c->tx, c->tx + c->tx_off, c->tx_len - c->tx_off);
		c->tx_len -= c->tx_off;
		c->tx_off = 0;
	}
	while (c->queued - answered < w->cfg->pipeline && added < most) {
		unsigned char *line = c->tx + c->tx_len;
		memcpy(line, payload_line(c->id, c->queued), size - 1);
		line[size - 1] = '\n';
		c->tx_len += size;
		c->queued++;
		added++;
	}
	return added;
}

/* Write what tx holds, as far as the socket takes it, and note the time
 * each line's last byte left. */
static void conn_write(struct worker *w, struct conn *c)
{
	const size_t size = w->cfg->size;

	while (c->fd >= 0 && c->tx_off < c->tx_len) {
		ssize_t n =
		    write(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_fail(w, c, &w->res.closed,
					  "write: ", strerror(errno));
			return;
		}
		uint64_t t = now_ns();
		c->tx_off += (size_t)n;
		c->wpos += (uint64_t)n;
		while ((c->stamped + 1) * size <= c->wpos) {
			c->sent_at[c->stamped % w->cfg->pipeline] = t;
			c->stamped++;
		}
	}
}

/* Quote up to 24 bytes readably ("ab\x0d") into out, for a report. */
static void describe_bytes(const unsigned char *p, size_t n, char *out,
			   size_t len)
{
	size_t used = 0;

	out[used++] = '"';
	for (size_t i = 0; i < n && i < 24 && used + 6 < len; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' && p[i] != '"')
			out[used++] = (char)p[i];
		else
			used += (size_t)snprintf(out + used, len - used,
						 "\\x%02x", p[i]);
	}
	out[used++] = '"';
	out[used] = '\0';
}

/* n received bytes at stream position rpos: equal to what was sent?
 * Returns how many of them match. */
static size_t matching_prefix(const struct worker *w, const struct conn *c,
			      const unsigned char *got, size_t n)
{
	const size_t size = w->cfg->size;
	uint64_t k = c->rpos / size;
	size_t off = (size_t)(c->rpos % size);
	const unsigned char *want = payload_line(c->id, k);
	size_t i = 0;

	/* The content bytes first, then the terminator. */
	size_t content = off < size - 1 ? size - 1 - off : 0;
	size_t cmp = n < content ? n : content;
	if (memcmp(got, want + off, cmp) == 0)
		i = cmp;
	else
		while (i < cmp && got[i] == want[off + i])
			i++;
	if (i == cmp && i < n && got[i] == '\n')
		i++;
	return i;
}

/* The last byte of line k arrived at time t. */
static void line_done(struct worker *w, struct conn *c, uint64_t k, uint64_t t)
{
	if (!w->started_clock) {
		w->res.before_start++;
		return;
	}
	if (t < w->t_measure || t >= w->t_end)
		return;
	w->res.messages++;
	hist_add(&w->res.latency, t - c->sent_at[k % w->cfg->pipeline]);
}

/* The echo of c differs from what was sent at byte `good` of got[0, n):
 * show both sides (if still reporting) and give c up. */
static void conn_mismatch(struct worker *w, struct conn *c,
			  const unsigned char *got, size_t n, size_t good)
{
	const size_t size = w->cfg->size;
	uint64_t line = c->rpos / size;
	size_t off = (size_t)(c->rpos % size) + good;
	char seen[128], wanted[128];

	describe_bytes(got + good, n - good, seen, sizeof(seen));
	describe_bytes(payload_line(c->id, line) + off, size - 1 - off, wanted,
		       sizeof(wanted));
	if (w->reports < MAX_REPORTS)
		fprintf(stderr,
			"echobench: connection %zu: line %llu differs at "
			"byte %zu: want %s\n",
			c->id, (unsigned long long)line, off, wanted);
	conn_fail(w, c, &w->res.mismatches, "got ", seen);
}

/* Check n received bytes against what was sent; count finished lines. */
static void conn_verify(struct worker *w, struct conn *c,
			const unsigned char *got, size_t n, uint64_t t)
{
	const size_t size = w->cfg->size;

	while (n > 0 && c->fd >= 0) {
		size_t off = (size_t)(c->rpos % size);
		size_t take = size - off < n ? size - off : n;
		if (c->rpos + take > c->wpos) {
			char seen[128];
			describe_bytes(got, n, seen, sizeof(seen));
			conn_fail(w, c, &w->res.mismatches,
				  "bytes nobody sent: ", seen);
			return;
		}
		size_t good = matching_prefix(w, c, got, take);
		if (good < take) {
			conn_mismatch(w, c, got, n, good);
			return;
		}
		c->rpos += take;
		got += take;
		n -= take;
		if (c->rpos % size == 0)
			line_done(w, c, c->rpos / size - 1, t);
	}
}

/* Read once, verify, and send the lines that the echoes made room for. */
static void conn_read(struct worker *w, struct conn *c)
{
	ssize_t n = read(c->fd, w->rx, RX_BUFFER);

	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			conn_fail(w, c, &w->res.closed,
				  "read: ", strerror(errno));
		return;
	}
	if (n == 0) {
		conn_fail(w, c, &w->res.closed, "",
			  "the server closed the connection");
		return;
	}
	conn_verify(w, c, w->rx, (size_t)n, now_ns());
	/* Paced, the next line waits for its turn (pace()). */
	if (c->fd >= 0 && w->rate == 0) {
		conn_fill(w, c, UINT64_MAX);
		conn_write(w, c);
	}
}

/* ============================== the pace ============================== */

/* When line k of w's pace is due, in monotonic ns. */
static uint64_t pace_due_at(const struct worker *w, uint64_t k)
{
	return w->t_pace + (uint64_t)((double)k * NS_PER_SEC / w->rate);
}

/*
 * --rate: send the lines due by now, one each to the connections in turn
 * that have room in their pipeline.  Lines more than the slack late are
 * skipped and counted.  Returns true if every due line went (a connection may have
 * room for the next: wake when it is due), false if the connections were
 * all full (an echo will wake the loop).
 */
static bool pace(struct worker *w, uint64_t now)
{
	double elapsed = (double)(now - w->t_pace) / NS_PER_SEC;
	uint64_t due = (uint64_t)(elapsed * w->rate) + 1; /* lines 0..due-1 */
	size_t full = 0; /* connections in a row without room */

	if (due > w->paced + w->slack) {
		w->res.late += due - w->slack - w->paced;
		w->paced = due - w->slack;
	}
	while (w->paced < due && full < w->n) {
		struct conn *c = &w->conns[w->turn];
		w->turn = (w->turn + 1) % w->n;
		if (c->fd >= 0 && conn_fill(w, c, 1) == 1) {
			conn_write(w, c);
			w->paced++;
			full = 0;
		} else {
			full++;
		}
	}
	return w->paced >= due;
}

/* ============================== the loop ============================== */

/* Every line sent has been echoed (or its connection is dead). */
static bool all_answered(const struct worker *w)
{
	for (size_t i = 0; i < w->n; i++) {
		const struct conn *c = &w->conns[i];
		if (c->fd >= 0 && c->rpos < c->queued * w->cfg->size)
			return false;
	}
	return true;
}

/* Every live connection has had at least one line echoed. */
static bool all_started(const struct worker *w)
{
	for (size_t i = 0; i < w->n; i++) {
		const struct conn *c = &w->conns[i];
		if (c->fd >= 0 && c->rpos < w->cfg->size)
			return false;
	}
	return true;
}

/* Start w's warm-up and window now; the last thread to do so says so. */
static void start_clock(struct worker *w, uint64_t now)
{
	const struct bench_config *cfg = w->cfg;

	w->started_clock = true;
	w->t_pace = now;
	w->t_measure = now + (uint64_t)(cfg->warmup * NS_PER_SEC);
	w->t_end = w->t_measure + (uint64_t)(cfg->duration * NS_PER_SEC);
	w->t_drain_end = w->t_end + (uint64_t)(cfg->drain_time * NS_PER_SEC);
	pthread_mutex_lock(&w->gate->lock);
	if (--w->gate->waiting == 0) {
		fprintf(stderr,
			"echobench: every active connection answered after "
			"%.3f s; load starts\n",
			(double)(now - w->gate->opened) / NS_PER_SEC);
		fflush(stderr);
	}
	pthread_mutex_unlock(&w->gate->lock);
}

/* Nanoseconds poll() may sleep before the next phase change, or before
 * the next paced line is due if `paced` (pace() said one may go). */
static uint64_t poll_timeout(const struct worker *w, uint64_t now, bool paced)
{
	uint64_t next = !w->started_clock ? w->t_start_limit
			: w->sending      ? w->t_end
					  : w->t_drain_end;

	if (paced) {
		uint64_t line = pace_due_at(w, w->paced);
		if (line < next)
			next = line;
	}
	return next > now ? next - now : 0;
}

/*
 * poll() for up to ns nanoseconds.  Linux's ppoll() takes them as they
 * are (a paced thread may sleep for tens of microseconds); poll() takes
 * milliseconds, rounded up here.
 */
static int wait_ready(struct pollfd *pfd, nfds_t n, uint64_t ns)
{
#ifdef __linux__
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
			      .tv_nsec = (long)(ns % 1000000000u)};
	return ppoll(pfd, n, &ts, NULL);
#else
	uint64_t ms = (ns + 999999) / 1000000;
	return poll(pfd, n, ms > 3600000 ? 3600000 : (int)ms);
#endif
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	/* The first lines go at once, paced or not: the clock starts when
	 * every connection has had one echoed. */
	for (size_t i = 0; i < w->n; i++) {
		conn_fill(w, &w->conns[i], UINT64_MAX);
		conn_write(w, &w->conns[i]);
	}
	for (;;) {
		uint64_t now = now_ns();
		bool paced = false;
		if (!w->started_clock &&
		    (now >= w->t_start_limit || all_started(w)))
			start_clock(w, now);
		if (w->started_clock && w->sending && now >= w->t_end)
			w->sending = false;
		if (!w->sending && (now >= w->t_drain_end || all_answered(w)))
			break;
		if (w->rate > 0 && w->started_clock && w->sending)
			paced = pace(w, now);
		for (size_t i = 0; i < w->n; i++) {
			const struct conn *c = &w->conns[i];
			w->pfd[i].fd = c->fd;
			w->pfd[i].events =
			    POLLIN | (c->tx_off < c->tx_len ? POLLOUT : 0);
			w->pfd[i].revents = 0;
		}
		int ready = wait_ready(w->pfd, (nfds_t)w->n,
				       poll_timeout(w, now, paced));
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			perror("echobench: poll");
			break;
		}
		for (size_t i = 0; ready > 0 && i < w->n; i++) {
			struct conn *c = &w->conns[i];
			short ev = w->pfd[i].revents;
			if (ev == 0 || c->fd < 0)
				continue;
			ready--;
			if (ev & POLLOUT)
				conn_write(w, c);
			if (c->fd >= 0 && (ev & (POLLIN | POLLERR | POLLHUP)))
				conn_read(w, c);
		}
	}
	return NULL;
}

/* ============================== the run ============================== */

/* Lines c sent that were never echoed. */
static uint64_t lines_unanswered(const struct worker *w, const struct conn *c)
{
	uint64_t size = w->cfg->size;

	if (c->fd < 0)
		return 0; /* already counted as a failure */
	return c->queued - c->rpos / size;
}

/* Give worker w its connections, [first, first + n) of fds, and buffers. */
static int worker_init(struct worker *w, const struct bench_config *cfg,
		       const int *fds, size_t first, size_t n)
{
	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	w->n = n;
	w->conns = calloc(n + 1, sizeof(*w->conns));
	w->pfd = calloc(n + 1, sizeof(*w->pfd));
	w->rx = malloc(RX_BUFFER);
	if (w->conns == NULL || w->pfd == NULL || w->rx == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct conn *c = &w->conns[i];
		c->fd = fds[first + i];
		c->id = first + i;
		c->tx = malloc(cfg->pipeline * cfg->size);
		c->sent_at = calloc(cfg->pipeline, sizeof(*c->sent_at));
		if (c->tx == NULL || c->sent_at == NULL)
			return -1;
		if (c->fd >= 0 && set_nonblocking(c->fd) != 0)
			return -1;
	}
	return 0;
}

/* Add up w's results into res, close its connections, free it. */
static void worker_finish(struct worker *w, struct bench_result *res)
{
	res->messages += w->res.messages;
	res->before_start += w->res.before_start;
	for (size_t i = 0; w->conns != NULL && i < w->n; i++)
		res->echoed += w->conns[i].rpos / w->cfg->size;
	res->mismatches += w->res.mismatches;
	res->closed += w->res.closed;
	res->late += w->res.late;
	hist_merge(&res->latency, &w->res.latency);
	for (size_t i = 0; w->conns != NULL && i < w->n; i++) {
		struct conn *c = &w->conns[i];
		res->lost += lines_unanswered(w, c);
		if (c->fd >= 0)
			close(c->fd);
		free(c->tx);
		free(c->sent_at);
	}
	free(w->conns);
	free(w->pfd);
	free(w->rx);
}

/* Idle connections the server has closed or written to by now. */
static uint64_t count_idle_dropped(const int *fds, size_t n)
{
	uint64_t dropped = 0;

	for (size_t i = 0; i < n; i++) {
		struct pollfd p = {.fd = fds[i], .events = POLLIN};
		if (fds[i] >= 0 && poll(&p, 1, 0) == 1)
			dropped++; /* data ("error: ...") or end of file */
	}
	return dropped;
}

/*
 * Say on stderr, at once, that the connections are open: a script timing
 * the server (its CPU, its system calls) starts its clock at this line, so
 * that connecting and accepting are not charged to the echoed lines.
 */
static void announce_open(size_t total, uint64_t failed, uint64_t ns)
{
	fprintf(stderr, "echobench: %llu of %zu connections open in %.3f s\n",
		(unsigned long long)(total - failed), total,
		(double)ns / NS_PER_SEC);
	fflush(stderr);
}

/* Say on stderr that the load is over and the connections are about to be
 * closed: the end of the script's clock, before the server's work of
 * closing them. */
static void announce_closing(void)
{
	fprintf(stderr, "echobench: closing the connections\n");
	fflush(stderr);
}

/* Start the workers on the connected fds and wait for them. */
static int run_workers(const struct bench_config *cfg, const int *fds,
		       struct bench_result *res)
{
	size_t nw =
	    cfg->threads < cfg->connections ? cfg->threads : cfg->connections;
	struct worker *ws = calloc(nw, sizeof(*ws));
	int rc = 0;

	if (ws == NULL)
		return -1;
	struct start_gate gate = {.waiting = nw, .opened = now_ns()};
	if (pthread_mutex_init(&gate.lock, NULL) != 0) {
		free(ws);
		return -1;
	}
	for (size_t t = 0, first = 0; t < nw; t++) {
		size_t n = cfg->connections / nw + (t < cfg->connections % nw);
		if (worker_init(&ws[t], cfg, fds, first, n) != 0) {
			fprintf(stderr, "echobench: out of memory\n");
			rc = -1;
			nw = t + 1;
			break;
		}
		first += n;
	}
	for (size_t t = 0; rc == 0 && t < nw; t++) {
		ws[t].gate = &gate;
		ws[t].t_start_limit =
		    gate.opened + (uint64_t)(cfg->connect_time * NS_PER_SEC);
		ws[t].sending = true;
		/* Each thread paces its share of the rate: as its share of
		 * the connections. */
		ws[t].rate =
		    cfg->rate * (double)ws[t].n / (double)cfg->connections;
		ws[t].slack = (uint64_t)(ws[t].rate * PACE_SLACK_S) + 1;
		int err =
		    pthread_create(&ws[t].thread, NULL, worker_main, &ws[t]);
		if (err != 0) {
			fprintf(stderr,
				"echobench: cannot start a thread: %s\n",
				strerror(err));
			rc = -1;
			break;
		}
		ws[t].started = true;
	}
	for (size_t t = 0; t < nw; t++)
		if (ws[t].started)
			pthread_join(ws[t].thread, NULL);
	announce_closing();
	for (size_t t = 0; t < nw; t++)
		worker_finish(&ws[t], res);
	free(ws);
	pthread_mutex_destroy(&gate.lock);
	return rc;
}

/* Set by SIGUSR1: a script that has measured what it wanted ends the hold. */
static volatile sig_atomic_t hold_over;

static void on_hold_over(int sig)
{
	(void)sig;
	hold_over = 1;
}

/* No active connection (-c 0): hold the idle ones open, sending nothing,
 * for the warm-up and the window, or until SIGUSR1 arrives. */
static int hold_idle(const struct bench_config *cfg)
{
	struct sigaction sa;
	uint64_t end =
	    now_ns() + (uint64_t)((cfg->warmup + cfg->duration) * NS_PER_SEC);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_hold_over;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		perror("echobench: sigaction");
	for (uint64_t now = now_ns(); now < end && !hold_over; now = now_ns()) {
		int ms = (int)((end - now) / 1000000) + 1;
		if (poll(NULL, 0, ms) < 0 && errno != EINTR) {
			perror("echobench: poll");
			return -1;
		}
	}
	return 0;
}

int run_load(const struct bench_config *cfg, struct bench_result *res)
{
	struct sockaddr_storage addr;
	socklen_t len;
	size_t total = cfg->idle + cfg->connections;
	int *fds = calloc(total + 1, sizeof(*fds));
	int rc = -1;

	memset(res, 0, sizeof(*res));
	res->window = cfg->duration;
	if (fds == NULL || payload_init(cfg->size) != 0) {
		fprintf(stderr, "echobench: out of memory\n");
		free(fds);
		return -1;
	}
	if (resolve_target(cfg, &addr, &len) != 0) {
		free(fds);
		return -1;
	}
	/* The idle ones first: they are already there when the load starts. */
	uint64_t deadline =
	    now_ns() + (uint64_t)(cfg->connect_time * NS_PER_SEC);
	uint64_t t0 = now_ns();
	if (connect_all(&addr, len, fds, total, deadline,
			&res->connect_failed) != 0) {
		fprintf(stderr, "echobench: out of memory\n");
	} else {
		announce_open(total, res->connect_failed, now_ns() - t0);
		if (res->connect_failed == total) {
			rc = 0; /* nothing to measure: the report says why */
			announce_closing();
		} else if (cfg->connections == 0) {
			rc = hold_idle(cfg);
			announce_closing();
		} else {
			rc = run_workers(cfg, fds + cfg->idle, res);
		}
	}
	res->idle_dropped = count_idle_dropped(fds, cfg->idle);
	for (size_t i = 0; i < cfg->idle; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	return rc;
}
