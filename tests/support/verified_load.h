/*
 * verified_load.h - the verified load: many honest clients over one
 * poll() loop, each sending its own random line stream and checking every
 * byte that comes back.
 *
 * Used by the stress suite (volume, hostile mix, shutdown) and the smoke
 * test.
 */
#ifndef TEST_SUPPORT_VERIFIED_LOAD_H
#define TEST_SUPPORT_VERIFIED_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a client sends. */
enum send_mode {
	SEND_PIPELINED, /* random chunks, up to 64 lines in flight */
	SEND_LOCKSTEP,  /* one line at a time, waiting for each echo */
	SEND_BYTES,     /* one byte per write (TCP_NODELAY), 4 in flight */
	SEND_FLOOD,     /* random chunks, no limit: the server's backpressure
			    is the only brake */
	SEND_MODES
};

struct load_config {
	const char *host; /* the server's address; NULL: 127.0.0.1 */
	unsigned port;
	size_t nclients;
	size_t max_line;    /* the server's --max-line */
	uint64_t lines;     /* lines per client (byte-at-a-time: fewer) */
	unsigned pct_bytes; /* share of clients in each mode, in percent; */
	unsigned pct_lock;  /* the rest are pipelined */
	unsigned pct_flood;
	unsigned pct_halfclose; /* share that half-closes early, mid-line */
	int time_limit_ms;      /* give up after this long */
	int min_ms; /* until then clients go on past their line target */
	uint64_t seed;
	/* Called about every 10 ms with the ms since the start; may send
	 * the server a signal.  May be NULL. */
	void (*tick)(void *arg, int64_t elapsed_ms);
	void *tick_arg;
	bool quiet; /* no per-failure messages (shutdown: endings expected) */
};

/* What became of one client. */
struct load_client_result {
	unsigned local_port;
	enum send_mode mode;
	bool half_close;
	bool finished; /* sent all, got all back, then an orderly EOF */
	bool eof;      /* the server closed with FIN */
	bool reset;    /* a read or write failed with ECONNRESET/EPIPE */
	bool mismatch; /* a reply byte differed from what was sent, or came
			  when nothing was owed */
	uint64_t tx_bytes, tx_lines; /* stream bytes and lines written */
	uint64_t rx_bytes, rx_lines; /* reply bytes and lines verified */
	bool rx_line_aligned;        /* verified replies end at a line end */
};

struct load_result {
	size_t connected;
	size_t finished;
	size_t mismatched;
	size_t resets;
	size_t early_eof;  /* server closed before echoing all we sent */
	size_t unfinished; /* still going at the time limit */
	size_t per_mode[SEND_MODES];
	size_t half_closed;
	uint64_t tx_lines, tx_bytes, rx_lines, rx_bytes;
	uint64_t lost_lines; /* sent but never echoed (finished clients: 0) */
	double seconds;
	uint32_t *lat_us; /* round-trip latencies of lockstep lines */
	size_t nlat;
	struct load_client_result *clients; /* nclients of them */
};

/* Connect cfg->nclients clients and run them to the end (or the time
 * limit).  Returns 0 when the run could start (connections made), -1
 * otherwise; the verdict is in *res.  Free with load_result_free. */
int load_run(const struct load_config *cfg, struct load_result *res);

void load_result_free(struct load_result *res);

/* Client i of a run with cfg: of the first read_bytes bytes of its stream,
 * how many a server owes back -- up to the last LF, or all of them when
 * the client half-closed after them (eof). */
uint64_t load_owed(const struct load_config *cfg, size_t i, uint64_t read_bytes,
		   bool eof);

/* Lines summing up *res, prefixed with tag.  cut: the server ended the
 * conversations (shutdown), so lines not echoed are not "lost". */
void load_result_print(const char *tag, const struct load_result *res,
		       bool cut);

const char *send_mode_name(enum send_mode m);

#endif
