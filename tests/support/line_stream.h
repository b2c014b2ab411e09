/*
 * line_stream.h - reproducible random test data: a small random generator,
 * the random line stream every verifying client sends, and percentiles.
 */
#ifndef TEST_SUPPORT_LINE_STREAM_H
#define TEST_SUPPORT_LINE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* xorshift64*: small, fast and good enough for test data. */
struct rng {
	uint64_t s;
};
void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform-ish in 0..n-1 (n > 0). */
uint64_t rng_below(struct rng *r, uint64_t n);

/*
 * A client's random byte stream: lines of random length 1..max_line
 * (terminator included) of random bytes other than LF, never a "quit"
 * line.  Two generators with the same seed produce the same stream, so a
 * client can verify replies without keeping what it sent.
 */
struct linegen {
	struct rng rng;
	size_t max_line;
	size_t left;     /* bytes left in the current line, LF included */
	uint64_t pool;   /* random bits not used yet */
	unsigned pooled; /* how many bytes of pool are left */
	uint64_t lines;  /* LFs produced */
	uint64_t bytes;  /* bytes produced */
};

void linegen_init(struct linegen *g, uint64_t seed, size_t max_line);

/* The next byte of the stream. */
unsigned char linegen_byte(struct linegen *g);

/* True when the next byte starts a new line. */
bool linegen_at_line_start(const struct linegen *g);

/* The value at fraction q (0..1) of n samples (sorts them). */
uint32_t percentile_u32(uint32_t *v, size_t n, double q);

#endif
