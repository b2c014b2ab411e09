/*
 * payload.c - what echobench sends: slices of one random pool, and the
 * clock and histogram it measures them with.
 *
 * Every line differs from its neighbours (each starts at another place in
 * the pool), so a server that replayed an old line, dropped one or swapped
 * two would be caught; yet checking an echo is a memcmp, not a recompute.
 */
#include "echobench.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Lines start at one of this many places in the pool. */
#define POOL_VARIETY 65521 /* a prime, so the starts spread over all of it */

static unsigned char *pool;

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: fast, good enough to make bytes no server can predict. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * UINT64_C(2685821657736338717);
}

int payload_init(size_t size)
{
	size_t len = POOL_VARIETY + size;
	uint64_t state = UINT64_C(0x9e3779b97f4a7c15);

	pool = malloc(len);
	if (pool == NULL)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char b = (unsigned char)(next_random(&state) >> 56);
		pool[i] =
		    b == '\n' ? 0x8a : b; /* any byte but the terminator */
	}
	/* A line whose content is "quit" would end the conversation. */
	for (size_t i = 0; i + 4 <= len; i++)
		if (memcmp(pool + i, "quit", 4) == 0)
			pool[i] = 'Q';
	return 0;
}

const unsigned char *payload_line(size_t conn, uint64_t k)
{
	uint64_t start = ((uint64_t)conn * 7919u + k * 4099u) % POOL_VARIETY;

	return pool + start;
}

/* ============================== histogram ============================== */

/*
 * Values below 2^(SUB_BITS+1) have a bucket each; above, each power of two
 * is split into 2^SUB_BITS buckets.
 */
static size_t hist_index(uint64_t v)
{
	const uint64_t sub = UINT64_C(1) << HIST_SUB_BITS;
	size_t shift = 0;

	if (v < 2 * sub)
		return (size_t)v;
	while (v >= 2 * sub) {
		v >>= 1;
		shift++;
	}
	return (size_t)(2 * sub + (shift - 1) * sub + (v - sub));
}

/* The largest value that falls into bucket i. */
static uint64_t hist_upper(size_t i)
{
	const uint64_t sub = UINT64_C(1) << HIST_SUB_BITS;

	if (i < 2 * sub)
		return i;
	size_t shift = (i - 2 * sub) / sub + 1;
	uint64_t mantissa = sub + (i - 2 * sub) % sub;
	return ((mantissa + 1) << shift) - 1;
}

void hist_add(struct histogram *h, uint64_t value)
{
	size_t i = hist_index(value);

	if (i >= HIST_BUCKETS)
		i = HIST_BUCKETS - 1;
	h->bucket[i]++;
	h->count++;
	if (value > h->max)
		h->max = value;
}

void hist_merge(struct histogram *into, const struct histogram *from)
{
	for (size_t i = 0; i < HIST_BUCKETS; i++)
		into->bucket[i] += from->bucket[i];
	into->count += from->count;
	if (from->max > into->max)
		into->max = from->max;
}

uint64_t hist_quantile(const struct histogram *h, double q)
{
	uint64_t rank, seen = 0;

	if (h->count == 0)
		return 0;
	rank = (uint64_t)(q * (double)h->count);
	if (rank >= h->count)
		rank = h->count - 1;
	for (size_t i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen > rank) {
			uint64_t up = hist_upper(i);
			return up < h->max ? up : h->max;
		}
	}
	return h->max;
}
