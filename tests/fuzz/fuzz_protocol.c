/*
 * fuzz_protocol.c - libFuzzer target for the protocol module.
 *
 * The input is a small header and then the byte stream a client sends:
 *
 *     byte 0      bit 7 clear: max_line = 16 + byte1 % 48 (small limits),
 *                              and bit 6 set: raw framing (RFC 862)
 *                 bit 7 set:   max_line = 16 + ((byte0 & 0x7f) << 8 | byte1)
 *                              % 6000, which reaches past the module's
 *                              4096-byte minimum buffer
 *     byte 2      bit 0: the client half-closes after the last byte
 *                 bit 1: the conversation is cut at a point chosen by
 *                        the seed, as bits 6-7 say
 *                 bits 2-3: read sizes: random, 1 byte, all room, 1..8
 *                 bits 4-5: write sizes: random, 1 byte, all, 1..8
 *                 bits 6-7: how it is cut: 0-1 graceful shutdown
 *                        (session_finish), 2 idle timeout (session_finish
 *                        once the session waits for input, as the server
 *                        does for a silent client), 3 reset (session_abort)
 *     bytes 3-6   seed of the generator that picks the split points
 *     bytes 7-    the stream
 *
 * The session is driven the way the server drives it (input only while
 * READING, output while WRITING, with short reads and short writes), and
 * what it sends is compared byte for byte with oracle.c, which computes the
 * expected reply from docs/protocol.md section 3 without reads, buffers or
 * states (in raw mode the expected reply is simply every byte given).  Counters
 * and the close reason are checked too, and every loop is bounded: a
 * session that stops making progress is a failure, not a hang.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"
#include "protocol.h"

#define HEADER_LEN 7

#define MSG_IDLE "error: idle timeout\r\n"

enum cut { CUT_SHUTDOWN, CUT_TIMEOUT, CUT_RESET };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The split-point generator: xorshift32, never zero. */
struct splitter {
	uint32_t x;
};

static uint32_t split_next(struct splitter *g)
{
	g->x ^= g->x << 13;
	g->x ^= g->x >> 17;
	g->x ^= g->x << 5;
	return g->x;
}

/* A size in 1..limit (limit > 0) following mode (see the header). */
static size_t pick_size(struct splitter *g, unsigned mode, size_t limit)
{
	size_t k;

	switch (mode & 3) {
	case 1:
		k = 1;
		break;
	case 2:
		k = limit;
		break;
	case 3:
		k = 1 + split_next(g) % 8;
		break;
	default:
		k = 1 + split_next(g) % limit;
		break;
	}
	return k < limit ? k : limit;
}

/* Everything one run needs. */
struct run {
	const uint8_t *in;
	size_t n;
	size_t max_line;
	int raw;
	int eof, shutdown;
	enum cut cut;
	unsigned read_mode, write_mode;
	size_t shutdown_at; /* input offset of the shutdown, if any */
	struct splitter g;

	struct session s;
	size_t fed;    /* input bytes handed to the session */
	int eof_given; /* session_on_eof was called */
	int finished;  /* session_finish was called */
	size_t fed_at_finish;
	size_t end_at; /* where quit or too long ends it, else SIZE_MAX */
	uint8_t *out;  /* what the session sent */
	size_t out_len, out_cap;
};

static void fail(const struct run *r, const char *what)
{
	fprintf(stderr,
		"fuzz_protocol: %s (max_line %zu, %zu input bytes, eof %d, "
		"shutdown %d at %zu, sent %zu bytes, state %s, reason %s)\n",
		what, r->max_line, r->n, r->eof, r->shutdown, r->shutdown_at,
		r->out_len, session_state_name(r->s.state),
		close_reason_name(r->s.reason));
	abort();
}

/* One read: up to a chosen number of bytes into the session's free space. */
static void feed(struct run *r)
{
	size_t room = 0;
	char *space = session_input_space(&r->s, &room);

	if (space == NULL)
		fail(r, "session_input_space returned NULL");
	if (room == 0)
		fail(r, "READING with no room for input");
	size_t left = r->n - r->fed;
	size_t k = pick_size(&r->g, r->read_mode, room < left ? room : left);
	memcpy(space, r->in + r->fed, k);
	r->fed += k;
	session_on_input(&r->s, k);
	/* docs/protocol.md §3.3 and §3.5: the end is seen in the read that
	 * brings it, not later ("as soon as the server holds max_line
	 * bytes"). */
	if (r->fed >= r->end_at && r->s.state == SESSION_READING)
		fail(r, "still reading after quit or an over-long line");
}

/* One write: take a chosen part of what the session owes. */
static void drain(struct run *r)
{
	size_t len = 0;
	const char *p = session_output(&r->s, &len);

	if (p == NULL || len == 0)
		fail(r, "WRITING with nothing to send");
	size_t k = pick_size(&r->g, r->write_mode, len);
	if (r->out_len + k > r->out_cap)
		fail(r, "more output than the oracle allows");
	memcpy(r->out + r->out_len, p, k);
	r->out_len += k;
	session_on_output(&r->s, k);
}

/* Drive the session until DONE, or until the input is used up and it
 * waits for more.  Each step moves at least one byte, so the step count
 * is bounded by the bytes in and out. */
static void drive(struct run *r)
{
	size_t steps = 0, max_steps = 2 * (r->n + r->out_cap) + 16;

	while (r->s.state != SESSION_DONE) {
		if (++steps > max_steps)
			fail(r, "no progress");
		if (r->shutdown && !r->finished && r->fed >= r->shutdown_at &&
		    (r->cut != CUT_TIMEOUT || r->s.state == SESSION_READING)) {
			r->finished = 1;
			r->fed_at_finish = r->fed;
			if (r->cut == CUT_RESET)
				session_abort(&r->s, CLOSE_RESET);
			else
				session_finish(&r->s, r->cut == CUT_TIMEOUT
							  ? CLOSE_TIMEOUT
							  : CLOSE_SHUTDOWN);
			continue;
		}
		if (r->s.state == SESSION_WRITING) {
			drain(r);
		} else if (r->fed < r->n) {
			feed(r);
		} else if (r->eof && !r->eof_given && !r->finished) {
			r->eof_given = 1;
			session_on_eof(&r->s);
		} else {
			break; /* waiting for input that will never come */
		}
	}
}

static enum close_reason expected_reason(enum oracle_end end)
{
	switch (end) {
	case ORACLE_QUIT:
		return CLOSE_QUIT;
	case ORACLE_TOO_LONG:
		return CLOSE_TOO_LONG;
	case ORACLE_EOF:
		return CLOSE_EOF;
	case ORACLE_OPEN:
		break;
	}
	return CLOSE_NONE;
}

/* The whole of the raw oracle (protocol.md 3.9): every byte comes back as
 * it was given; nothing ends the conversation but the end of input. */
static void raw_expect(const uint8_t *in, size_t n, bool eof, uint8_t *out,
		       struct oracle_result *res)
{
	memcpy(out, in, n);
	res->end = eof ? ORACLE_EOF : ORACLE_OPEN;
	res->echo_len = res->out_len = res->consumed = n;
	res->echo_lines = 0;
}

/* The expected reply to in[0..n), in the framing of the run. */
static void expect(const struct run *r, size_t n, bool eof, uint8_t *want,
		   size_t want_cap, struct oracle_result *res)
{
	if (r->raw)
		raw_expect(r->in, n, eof, want, res);
	else
		oracle_expect(r->in, n, r->max_line, eof, want, want_cap, res);
}

/* After session_abort: DONE at once, nothing more owed, and what was sent
 * before is a prefix of what the oracle expects. */
static void check_reset(struct run *r, uint8_t *want, size_t want_cap)
{
	struct oracle_result res;
	size_t len = 1;

	expect(r, r->fed_at_finish, false, want, want_cap, &res);
	if (r->s.state != SESSION_DONE || r->s.reason != CLOSE_RESET)
		fail(r, "session_abort did not end the session");
	(void)session_output(&r->s, &len);
	if (len != 0)
		fail(r, "output owed after session_abort");
	if (r->out_len > res.out_len || memcmp(r->out, want, r->out_len) != 0)
		fail(r, "output before the reset differs from the oracle");
	size_t echoed = r->out_len < res.echo_len ? r->out_len : res.echo_len;
	if (r->s.bytes_echoed != echoed)
		fail(r, "bytes_echoed differs from the bytes sent");
}

/* Compare the run with the oracle's view of the bytes it was given. */
static void check(struct run *r, uint8_t *want, size_t want_cap)
{
	struct oracle_result res;
	size_t upto = r->finished ? r->fed_at_finish : r->n;

	if (r->finished && r->cut == CUT_RESET) {
		check_reset(r, want, want_cap);
		return;
	}
	expect(r, upto, r->eof_given, want, want_cap, &res);
	/* An idle timeout comes while the conversation is open (the session
	 * was READING): the replies so far, then the notice. */
	if (r->finished && r->cut == CUT_TIMEOUT) {
		if (res.end != ORACLE_OPEN)
			fail(r, "READING after the conversation ended");
		memcpy(want + res.out_len, MSG_IDLE, strlen(MSG_IDLE));
		res.out_len += strlen(MSG_IDLE);
	}
	if (r->out_len != res.out_len)
		fail(r, "output length differs from the oracle");
	if (memcmp(r->out, want, res.out_len) != 0)
		fail(r, "output bytes differ from the oracle");
	if (r->s.lines_echoed != res.echo_lines)
		fail(r, "lines_echoed differs from the oracle");
	if (r->s.bytes_echoed != res.echo_len)
		fail(r, "bytes_echoed differs from the oracle");

	enum close_reason want_reason = expected_reason(res.end);
	if (want_reason == CLOSE_NONE && r->finished)
		want_reason =
		    r->cut == CUT_TIMEOUT ? CLOSE_TIMEOUT : CLOSE_SHUTDOWN;
	if (r->s.reason != want_reason)
		fail(r, "close reason differs from the oracle");
	if (want_reason == CLOSE_NONE && r->s.state != SESSION_READING)
		fail(r, "open conversation not READING");
	if (want_reason != CLOSE_NONE && r->s.state != SESSION_DONE)
		fail(r, "ended conversation not DONE");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run r;

	if (size < HEADER_LEN)
		return 0;
	memset(&r, 0, sizeof(r));
	if (data[0] & 0x80)
		r.max_line =
		    16 + (((size_t)(data[0] & 0x7f) << 8) | data[1]) % 6000;
	else
		r.max_line = 16 + data[1] % 48;
	r.raw = (data[0] & 0xc0) == 0x40;
	r.eof = data[2] & 1;
	r.shutdown = (data[2] >> 1) & 1;
	r.cut = (data[2] >> 6) == 3   ? CUT_RESET
		: (data[2] >> 6) == 2 ? CUT_TIMEOUT
				      : CUT_SHUTDOWN;
	r.read_mode = (data[2] >> 2) & 3;
	r.write_mode = (data[2] >> 4) & 3;
	r.g.x = ((uint32_t)data[3] | (uint32_t)data[4] << 8 |
		 (uint32_t)data[5] << 16 | (uint32_t)data[6] << 24) |
		1u;
	r.in = data + HEADER_LEN;
	r.n = size - HEADER_LEN;
	r.shutdown_at = r.n == 0 ? 0 : split_next(&r.g) % (r.n + 1);
	r.out_cap = r.n + 64;
	r.out = malloc(r.out_cap);
	uint8_t *want = malloc(r.out_cap);
	if (r.out == NULL || want == NULL)
		abort(); /* the fuzzer's own memory: nothing to test */

	struct oracle_result whole;
	expect(&r, r.n, r.eof, want, r.out_cap, &whole);
	r.end_at = whole.end == ORACLE_QUIT || whole.end == ORACLE_TOO_LONG
		       ? whole.consumed
		       : SIZE_MAX;

	session_init(&r.s, r.max_line);
	if (r.raw)
		session_set_raw(&r.s);
	drive(&r);
	check(&r, want, r.out_cap);
	session_free(&r.s);
	free(r.out);
	free(want);
	return 0;
}
