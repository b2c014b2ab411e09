/*
 * line_stream.c - random generator, line stream, percentiles (see
 * line_stream.h).
 */
#include "line_stream.h"

#include <stdlib.h>
#include <string.h>

void rng_seed(struct rng *r, uint64_t seed)
{
	/* xorshift needs a state other than zero: make it odd. */
	r->s = (seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL) | 1u;
}

uint64_t rng_next(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1DULL;
}

uint64_t rng_below(struct rng *r, uint64_t n)
{
	return (rng_next(r) >> 11) % n;
}

void linegen_init(struct linegen *g, uint64_t seed, size_t max_line)
{
	memset(g, 0, sizeof(*g));
	rng_seed(&g->rng, seed);
	g->max_line = max_line;
}

bool linegen_at_line_start(const struct linegen *g)
{
	return g->left == 0;
}

/* Line lengths: mostly uniform in 1..max_line, with the edges (an empty
 * line, a line of exactly max_line bytes) a little more often. */
static size_t pick_line_len(struct linegen *g)
{
	uint64_t r = rng_below(&g->rng, 100);

	if (r < 3)
		return 1;
	if (r < 6)
		return g->max_line;
	return 1 + (size_t)rng_below(&g->rng, g->max_line);
}

unsigned char linegen_byte(struct linegen *g)
{
	bool first = false;

	if (g->left == 0) {
		g->left = pick_line_len(g);
		first = true;
	}
	g->bytes++;
	if (--g->left == 0) {
		g->lines++;
		return '\n';
	}
	if (g->pooled == 0) {
		g->pool = rng_next(&g->rng);
		g->pooled = 8;
	}
	unsigned char b = (unsigned char)g->pool;
	g->pool >>= 8;
	g->pooled--;
	if (b == '\n')
		b = '\r'; /* CRs are fine anywhere, LFs end lines */
	if (first && b == 'q')
		b = 'Q'; /* never a "quit" line */
	return b;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

uint32_t percentile_u32(uint32_t *v, size_t n, double q)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u32);
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}
