/*
 * echobench.h - the load generator's parts: the run's configuration, the
 * payload every line is cut from, the latency histogram, the load loop and
 * the protocol check.
 *
 * echobench keeps exactly `pipeline` lines in flight on each connection and
 * checks every echoed byte against the line it sent.  Line k of connection c
 * is a fixed slice of one random pool (see payload_line), so the expected
 * bytes are recomputed from the stream position instead of being stored.
 */
#ifndef ECHOBENCH_H
#define ECHOBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* ========== configuration ========== */

struct bench_config {
	const char *host;
	const char *port;
	size_t connections; /* active connections; 0: hold the idle ones */
	size_t idle;        /* extra connections that never send */
	size_t size;        /* bytes per line, LF included */
	size_t pipeline;    /* lines in flight per connection */
	double duration;    /* measured window, seconds */
	double warmup;      /* seconds of load before the window */
	double rate;        /* lines/s in all, paced; 0: as fast as the
			       pipeline allows */
	size_t threads;     /* load threads; connections are split among them */
	double connect_time; /* seconds allowed to connect everything */
	double drain_time;   /* seconds allowed for the last echoes */
	bool quiet;          /* only the final key=value line */
	bool check;          /* run the protocol check instead of the load */
	size_t max_line;     /* the server's --max-line, for the check */
};

#define ECHOBENCH_MAX_SIZE (1024 * 1024)
#define ECHOBENCH_MAX_RATE 100000000 /* lines/s: --rate's limit */

/* ============================== time ============================== */

/* Monotonic nanoseconds. */
uint64_t now_ns(void);

/* ============================== payload ============================== */

/*
 * Build the random pool lines are cut from (any byte value but LF, and
 * never the text "quit", so no line can end a conversation).  Call once,
 * before any thread starts.  Returns 0, or -1 if out of memory.
 */
int payload_init(size_t size);

/* The size - 1 content bytes of line k of connection c (the LF follows). */
const unsigned char *payload_line(size_t conn, uint64_t k);

/* ============================== latency ============================== */

/* A log-linear histogram of nanosecond values: about 3% resolution. */
#define HIST_SUB_BITS 5
#define HIST_BUCKETS  (64 << HIST_SUB_BITS)

struct histogram {
	uint64_t count;
	uint64_t max;
	uint64_t bucket[HIST_BUCKETS];
};

void hist_add(struct histogram *h, uint64_t value);
void hist_merge(struct histogram *into, const struct histogram *from);
/* The value at or below which fraction q (0..1) of the samples lie, as the
 * upper edge of its bucket; 0 when empty. */
uint64_t hist_quantile(const struct histogram *h, double q);

/* ============================== the load ============================== */

struct bench_result {
	uint64_t messages;     /* lines echoed inside the measured window */
	uint64_t echoed;       /* lines echoed in the whole run, warm-up too */
	uint64_t before_start; /* of those, before every connection was
				  answered once (the clock not started) */
	uint64_t mismatches;   /* echoed bytes that differ from those sent */
	uint64_t closed;       /* connections the server closed or reset */
	uint64_t lost;         /* lines sent but never echoed (after drain) */
	uint64_t connect_failed;
	uint64_t idle_dropped; /* idle connections the server closed */
	uint64_t late;         /* --rate: lines skipped, due too long ago */
	double window;         /* seconds actually measured */
	struct histogram latency;
};

/* Resolve cfg->host and cfg->port; 0, or -1 after printing why. */
int resolve_target(const struct bench_config *cfg,
		   struct sockaddr_storage *addr, socklen_t *len);

/* Connect, warm up, measure, drain.  Returns 0, or -1 if the run could not
 * start at all (after printing why); errors during it go into *res. */
int run_load(const struct bench_config *cfg, struct bench_result *res);

/* Open one blocking TCP connection to addr; fd or -1 with errno. */
int connect_blocking(const struct sockaddr_storage *addr, socklen_t len);

/* ============================== the check ============================== */

/* Run the protocol conversations of docs/protocol.md section 3 against the
 * server.  Prints one line per case; returns the number of failed cases. */
int run_protocol_check(const struct bench_config *cfg);

#endif
