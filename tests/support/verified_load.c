/*
 * verified_load.c - many verifying clients over one poll() loop (see
 * verified_load.h).
 *
 * Each client owns two generators seeded alike: tx makes the bytes it
 * sends, rx makes the bytes it expects back.  Replies are compared byte by
 * byte as they arrive, so nothing sent needs to be kept.  A client that is
 * not half-closing ends with "quit\n" (never echoed); one that half-closes
 * stops at a random byte, often mid-line, and expects that unterminated
 * tail back too (docs/protocol.md §3.6).
 */
#include "verified_load.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_socket.h"
#include "clock.h"
#include "line_stream.h"

#define OUT_CAP     16384
#define LAT_RING    64 /* send times kept per client: the deepest window */
#define PIPE_DEPTH  64
#define BYTES_DEPTH 4
#define BYTES_BURST 8 /* one-byte writes per round for SEND_BYTES */

struct verifying_client {
	int fd; /* -1 once done */
	enum send_mode mode;
	uint64_t depth;       /* lines in flight at most; 0 = no limit */
	uint64_t line_target; /* lines to send */
	uint64_t byte_budget; /* half-close: stop after this many bytes */
	bool half_close;
	const bool *extend; /* the run's "keep sending" flag (min_ms) */
	struct linegen tx, rx;
	struct rng split;
	unsigned char out[OUT_CAP];
	size_t out_len, out_off;
	bool tx_done;     /* the whole stream is generated */
	bool quit_queued; /* out holds the final "quit\n" */
	bool fin_sent;    /* quit written, or SHUT_WR done */
	bool write_dead;  /* writes fail: the server is gone */
	int64_t sent_at[LAT_RING];
	struct load_client_result r;
};

static const char *const mode_names[SEND_MODES] = {"pipelined", "lockstep",
						   "byte-at-a-time", "flood"};

const char *send_mode_name(enum send_mode m)
{
	return m < SEND_MODES ? mode_names[m] : "?";
}

/* ============================== set-up ============================== */

static enum send_mode pick_mode(const struct load_config *cfg, struct rng *r)
{
	unsigned x = (unsigned)rng_below(r, 100);

	if (x < cfg->pct_bytes)
		return SEND_BYTES;
	if (x < cfg->pct_bytes + cfg->pct_lock)
		return SEND_LOCKSTEP;
	if (x < cfg->pct_bytes + cfg->pct_lock + cfg->pct_flood)
		return SEND_FLOOD;
	return SEND_PIPELINED;
}

/* Decide how client i behaves, from the run's seed. */
static void plan_client(const struct load_config *cfg,
			struct verifying_client *c, size_t i,
			const bool *extend)
{
	struct rng r;
	uint64_t seed = cfg->seed * 1000003u + i;

	rng_seed(&r, seed);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->extend = extend;
	c->mode = pick_mode(cfg, &r);
	c->line_target = cfg->lines;
	switch (c->mode) {
	case SEND_BYTES:
		c->depth = BYTES_DEPTH;
		c->line_target = cfg->lines / 50 > 10 ? cfg->lines / 50 : 10;
		break;
	case SEND_LOCKSTEP:
		c->depth = 1;
		c->line_target = cfg->lines / 4 > 10 ? cfg->lines / 4 : 10;
		break;
	case SEND_FLOOD:
		c->depth = 0;
		break;
	default:
		c->depth = PIPE_DEPTH;
		break;
	}
	c->half_close = rng_below(&r, 100) < cfg->pct_halfclose;
	if (c->half_close) /* a random byte of the expected stream */
		c->byte_budget =
		    1 + rng_below(&r, c->line_target * (cfg->max_line + 1) / 2);
	linegen_init(&c->tx, seed, cfg->max_line);
	linegen_init(&c->rx, seed, cfg->max_line);
	rng_seed(&c->split, seed ^ 0x5bd1e995u);
	c->r.mode = c->mode;
	c->r.half_close = c->half_close;
}

/* Connect client c; tcp_connect gives it TCP_NODELAY: every write leaves
 * at once (with Nagle, split lines would wait for the server's delayed
 * ACK and the latencies would measure that). */
static int connect_client(const struct load_config *cfg,
			  struct verifying_client *c)
{
	c->fd = tcp_connect(cfg->host != NULL ? cfg->host : "127.0.0.1",
			    (int)cfg->port, NULL);
	if (c->fd < 0)
		return -1;
	int port = client_local_port(c->fd);
	c->r.local_port = port > 0 ? (unsigned)port : 0;
	return 0;
}

/* ============================== sending ============================== */

static uint64_t in_flight(const struct verifying_client *c)
{
	return c->tx.lines - c->r.rx_lines;
}

/* May the stream go on with a new line now? */
static bool may_start_line(const struct verifying_client *c)
{
	return c->depth == 0 || in_flight(c) < c->depth;
}

/* Is the stream at its end (line target or half-close budget)?  Never
 * while the run's minimum duration lasts. */
static bool stream_ends_here(const struct verifying_client *c)
{
	if (*c->extend)
		return false;
	if (c->half_close)
		return c->tx.bytes >= c->byte_budget ||
		       (linegen_at_line_start(&c->tx) &&
			c->tx.lines >= c->line_target);
	return linegen_at_line_start(&c->tx) && c->tx.lines >= c->line_target;
}

static size_t chunk_size(struct verifying_client *c, size_t max_line)
{
	switch (c->mode) {
	case SEND_BYTES:
		return 1;
	case SEND_LOCKSTEP:
		return 1 + (size_t)rng_below(&c->split, max_line);
	default:
		return 1 + (size_t)rng_below(&c->split, OUT_CAP);
	}
}

/* Fill out with the next chunk of the stream, within the window. */
static void generate_chunk(struct verifying_client *c, size_t max_line,
			   int64_t now)
{
	size_t want = chunk_size(c, max_line);

	c->out_len = c->out_off = 0;
	while (c->out_len < want) {
		if (stream_ends_here(c)) {
			c->tx_done = true;
			break;
		}
		if (linegen_at_line_start(&c->tx) && !may_start_line(c))
			break;
		unsigned char b = linegen_byte(&c->tx);
		c->out[c->out_len++] = b;
		if (b == '\n')
			c->sent_at[(c->tx.lines - 1) % LAT_RING] = now;
	}
}

/* The stream is all sent: say goodbye the way this client does. */
static void finish_stream(struct verifying_client *c)
{
	if (c->half_close) {
		if (shutdown(c->fd, SHUT_WR) != 0)
			c->write_dead = true;
		c->fin_sent = true;
		return;
	}
	memcpy(c->out, "quit\n", 5);
	c->out_len = 5;
	c->out_off = 0;
	c->quit_queued = true;
}

static bool wants_to_write(const struct verifying_client *c)
{
	if (c->fin_sent || c->write_dead)
		return false;
	if (c->out_off < c->out_len || c->tx_done)
		return true;
	return !linegen_at_line_start(&c->tx) || may_start_line(c) ||
	       stream_ends_here(c);
}

/* The socket is writable: send what we can (one burst). */
static void on_writable(struct verifying_client *c, size_t max_line,
			int64_t now)
{
	int writes = c->mode == SEND_BYTES ? BYTES_BURST : 4;

	while (writes-- > 0 && wants_to_write(c)) {
		if (c->out_off == c->out_len) {
			if (c->quit_queued) {
				c->fin_sent = true;
				return;
			}
			generate_chunk(c, max_line, now);
			if (c->out_len == 0) {
				if (!c->tx_done)
					return; /* window full */
				finish_stream(c);
				continue;
			}
		}
		ssize_t n =
		    write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				return;
			c->write_dead = true;
			if (errno == ECONNRESET || errno == EPIPE)
				c->r.reset = true;
			return;
		}
		c->out_off += (size_t)n;
		if (c->out_off < c->out_len)
			return; /* the socket is full */
		if (c->quit_queued)
			c->fin_sent = true;
	}
}

/* ============================== receiving ============================ */

/* Check n reply bytes against the expected stream. */
static void verify(struct verifying_client *c, const unsigned char *buf,
		   size_t n, struct load_result *res, int64_t now)
{
	for (size_t i = 0; i < n; i++) {
		if (c->rx.bytes >= c->tx.bytes ||
		    linegen_byte(&c->rx) != buf[i]) {
			c->r.mismatch = true;
			return;
		}
		c->r.rx_bytes++;
		if (buf[i] != '\n')
			continue;
		c->r.rx_lines++;
		if (c->mode == SEND_LOCKSTEP) {
			int64_t t = c->sent_at[(c->r.rx_lines - 1) % LAT_RING];
			uint32_t *grown = res->lat_us;
			if (res->nlat % 65536 == 0)
				grown = realloc(res->lat_us,
						(res->nlat + 65536) *
						    sizeof(*res->lat_us));
			if (grown != NULL) {
				res->lat_us = grown;
				res->lat_us[res->nlat++] =
				    (uint32_t)((now - t) / 1000);
			}
		}
	}
}

static void drop_client(struct verifying_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* The socket is readable: read once and verify. */
static void on_readable(struct verifying_client *c, struct load_result *res,
			int64_t now)
{
	static unsigned char buf[65536];
	ssize_t n = read(c->fd, buf, sizeof(buf));

	if (n > 0) {
		verify(c, buf, (size_t)n, res, now);
		if (c->r.mismatch)
			drop_client(c);
		return;
	}
	if (n < 0 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n == 0) {
		c->r.eof = true;
		c->r.finished = c->fin_sent && !c->write_dead &&
				c->r.rx_bytes == c->tx.bytes;
	} else {
		c->r.reset = true;
	}
	drop_client(c);
}

/* ============================== the loop ============================== */

/* Fold the clients' outcomes into the totals. */
static void tally(const struct load_config *cfg, struct verifying_client *cs,
		  struct load_result *res)
{
	for (size_t i = 0; i < cfg->nclients; i++) {
		struct verifying_client *c = &cs[i];
		struct load_client_result *r = &c->r;

		r->tx_bytes = c->tx.bytes;
		r->tx_lines =
		    c->tx.lines + (linegen_at_line_start(&c->tx) ? 0 : 1);
		r->rx_line_aligned = linegen_at_line_start(&c->rx);
		if (r->finished && !linegen_at_line_start(&c->rx))
			r->rx_lines++; /* the unterminated tail, verified */
		if (c->fd >= 0) {
			res->unfinished++;
			drop_client(c);
		}
		res->per_mode[c->mode]++;
		res->half_closed += c->half_close;
		res->finished += r->finished;
		res->mismatched += r->mismatch;
		res->resets += r->reset;
		res->early_eof += r->eof && !r->finished && !r->mismatch;
		res->tx_lines += r->tx_lines;
		res->tx_bytes += r->tx_bytes;
		res->rx_lines += r->rx_lines;
		res->rx_bytes += r->rx_bytes;
		res->lost_lines += r->tx_lines - r->rx_lines;
		res->clients[i] = *r;
		if (!cfg->quiet && !r->finished && !r->mismatch)
			fprintf(stderr,
				"  client %zu (%s%s, port %u): %s after %llu "
				"of %llu bytes echoed\n",
				i, send_mode_name(c->mode),
				c->half_close ? ", half-close" : "",
				r->local_port,
				r->reset ? "reset"
				: r->eof ? "early EOF"
					 : "unfinished",
				(unsigned long long)r->rx_bytes,
				(unsigned long long)r->tx_bytes);
		if (!cfg->quiet && r->mismatch)
			fprintf(stderr,
				"  client %zu (%s, port %u): reply byte %llu "
				"differs from what was sent\n",
				i, send_mode_name(c->mode), r->local_port,
				(unsigned long long)r->rx_bytes);
	}
}

/* Poll every live client once and serve what is ready.  Returns the
 * number of live clients. */
static size_t one_round(const struct load_config *cfg,
			struct verifying_client *cs, struct pollfd *pfd,
			size_t *idx, struct load_result *res)
{
	size_t live = 0;

	for (size_t i = 0; i < cfg->nclients; i++) {
		if (cs[i].fd < 0)
			continue;
		pfd[live].fd = cs[i].fd;
		pfd[live].events = POLLIN;
		if (wants_to_write(&cs[i]))
			pfd[live].events |= POLLOUT;
		pfd[live].revents = 0;
		idx[live++] = i;
	}
	if (live == 0)
		return 0;
	int r = poll(pfd, (nfds_t)live, 10);
	if (r <= 0)
		return live;
	int64_t now = now_ns();
	for (size_t k = 0; k < live; k++) {
		struct verifying_client *c = &cs[idx[k]];
		if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
			on_readable(c, res, now);
		if (c->fd >= 0 && (pfd[k].revents & POLLOUT))
			on_writable(c, cfg->max_line, now);
	}
	return live;
}

int load_run(const struct load_config *cfg, struct load_result *res)
{
	struct verifying_client *cs = calloc(cfg->nclients, sizeof(*cs));
	struct pollfd *pfd = calloc(cfg->nclients, sizeof(*pfd));
	size_t *idx = calloc(cfg->nclients, sizeof(*idx));
	int rc = 0;

	memset(res, 0, sizeof(*res));
	res->clients = calloc(cfg->nclients, sizeof(*res->clients));
	if (cs == NULL || pfd == NULL || idx == NULL || res->clients == NULL) {
		rc = -1;
		goto out;
	}
	int64_t start = now_ns();
	bool extend = cfg->min_ms > 0;
	for (size_t i = 0; i < cfg->nclients; i++) {
		plan_client(cfg, &cs[i], i, &extend);
		if (connect_client(cfg, &cs[i]) != 0) {
			fprintf(stderr, "load: connect %zu: %s\n", i,
				strerror(errno));
			rc = -1;
			break;
		}
		res->connected++;
	}
	int64_t deadline = start + (int64_t)cfg->time_limit_ms * 1000000;
	while (rc == 0 && now_ns() < deadline) {
		int64_t elapsed_ms = (now_ns() - start) / 1000000;
		extend = elapsed_ms < cfg->min_ms;
		if (cfg->tick != NULL)
			cfg->tick(cfg->tick_arg, elapsed_ms);
		if (one_round(cfg, cs, pfd, idx, res) == 0)
			break;
	}
	res->seconds = (double)(now_ns() - start) / 1e9;
	tally(cfg, cs, res);
out:
	if (rc != 0 && cs != NULL)
		for (size_t i = 0; i < cfg->nclients; i++)
			drop_client(&cs[i]);
	free(cs);
	free(pfd);
	free(idx);
	return rc;
}

uint64_t load_owed(const struct load_config *cfg, size_t i, uint64_t read_bytes,
		   bool eof)
{
	struct linegen g;
	uint64_t owed = 0;

	if (eof)
		return read_bytes;
	linegen_init(&g, cfg->seed * 1000003u + i, cfg->max_line);
	for (uint64_t k = 1; k <= read_bytes; k++)
		if (linegen_byte(&g) == '\n')
			owed = k;
	return owed;
}

void load_result_free(struct load_result *res)
{
	free(res->lat_us);
	free(res->clients);
	res->lat_us = NULL;
	res->clients = NULL;
}

void load_result_print(const char *tag, const struct load_result *res, bool cut)
{
	printf("%s: %zu clients (%zu pipelined, %zu lockstep, %zu "
	       "byte-at-a-time, %zu flood; %zu half-closed early) in %.1f s\n",
	       tag, res->connected, res->per_mode[SEND_PIPELINED],
	       res->per_mode[SEND_LOCKSTEP], res->per_mode[SEND_BYTES],
	       res->per_mode[SEND_FLOOD], res->half_closed, res->seconds);
	printf("%s: lines sent %llu, verified %llu; bytes sent %llu, verified "
	       "%llu (%.1f MB/s each way)\n",
	       tag, (unsigned long long)res->tx_lines,
	       (unsigned long long)res->rx_lines,
	       (unsigned long long)res->tx_bytes,
	       (unsigned long long)res->rx_bytes,
	       res->seconds > 0 ? (double)res->rx_bytes / 1e6 / res->seconds
				: 0.0);
	printf("%s: %s %llu lines, corrupted %zu clients; finished %zu, "
	       "early EOF %zu, resets %zu, unfinished %zu\n",
	       tag,
	       cut ? "not echoed (sent after the server stopped reading)"
		   : "lost",
	       (unsigned long long)res->lost_lines, res->mismatched,
	       res->finished, res->early_eof, res->resets, res->unfinished);
	fflush(stdout);
}
