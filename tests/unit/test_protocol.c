/*
 * test_protocol.c - unit tests of the protocol module, one per rule of
 * protocol.md section 3, with no sockets: bytes go in, the exact bytes owed
 * come out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "protocol.h"

/* ============================== helpers ============================== */

/* What a session sent back, collected by drain(). */
struct sent {
	char bytes[1 << 16];
	size_t len;
};

/* Send everything s owes, in pieces of at most piece bytes (0: whole). */
static void drain(struct session *s, struct sent *out, size_t piece)
{
	while (s->state == SESSION_WRITING) {
		size_t len;
		const char *p = session_output(s, &len);
		assert_non_null(p);
		assert_true(len > 0);
		if (piece != 0 && len > piece)
			len = piece;
		assert_true(out->len + len <= sizeof(out->bytes));
		memcpy(out->bytes + out->len, p, len);
		out->len += len;
		session_on_output(s, len);
	}
}

/* Feed len bytes to s, at most chunk bytes per "read" (the whole of it if
 * chunk is 0), sending all owed output in between as a socket would. */
static void feed(struct session *s, const char *data, size_t len, size_t chunk,
		 struct sent *out)
{
	size_t off = 0;

	while (off < len && s->state == SESSION_READING) {
		size_t room;
		char *space = session_input_space(s, &room);
		assert_non_null(space);
		assert_true(room > 0);
		size_t n = len - off;
		if (chunk != 0 && n > chunk)
			n = chunk;
		if (n > room)
			n = room;
		memcpy(space, data + off, n);
		off += n;
		session_on_input(s, n);
		drain(s, out, 0);
	}
}

/* Run a whole conversation: input in chunks, then EOF if eof is set. */
static void converse(size_t max_line, const char *in, size_t in_len,
		     size_t chunk, bool eof, struct sent *out,
		     enum close_reason *why)
{
	struct session s;

	session_init(&s, max_line);
	feed(&s, in, in_len, chunk, out);
	if (eof && s.state == SESSION_READING) {
		session_on_eof(&s);
		drain(&s, out, 0);
	}
	*why = s.reason;
	if (eof)
		assert_int_equal(s.state, SESSION_DONE);
	session_free(&s);
}

#define assert_sent(out, literal)                                              \
	do {                                                                   \
		assert_int_equal((out)->len, sizeof(literal) - 1);             \
		assert_memory_equal((out)->bytes, literal,                     \
				    sizeof(literal) - 1);                      \
	} while (0)

static struct sent out;

static int reset_out(void **state)
{
	(void)state;
	memset(&out, 0, sizeof(out));
	return 0;
}

/* ============================== rule 1-2: echo ==============================
 */

static void test_lf_line_is_echoed(void **state)
{
	enum close_reason why;
	(void)state;
	converse(8192, "hello\n", 6, 0, false, &out, &why);
	assert_sent(&out, "hello\n");
	assert_int_equal(why, CLOSE_NONE);
}

static void test_crlf_line_is_echoed_with_crlf(void **state)
{
	enum close_reason why;
	(void)state;
	converse(8192, "hi there\r\n", 10, 0, false, &out, &why);
	assert_sent(&out, "hi there\r\n");
}

static void test_any_byte_value_is_echoed(void **state)
{
	static const char in[] = "\0\x01\xff\x80\r\x7f\xc3\x28\n";
	enum close_reason why;
	(void)state;
	converse(8192, in, sizeof(in) - 1, 0, false, &out, &why);
	assert_sent(&out, "\0\x01\xff\x80\r\x7f\xc3\x28\n");
}

static void test_empty_line_is_echoed(void **state)
{
	enum close_reason why;
	(void)state;
	converse(8192, "\n\r\n", 3, 0, false, &out, &why);
	assert_sent(&out, "\n\r\n");
}

/* ============================== rule 3: quit ============================== */

static void test_quit_ends_after_earlier_replies(void **state)
{
	static const char in[] = "one\ntwo\nquit\nthree\n";
	enum close_reason why;
	(void)state;
	converse(8192, in, sizeof(in) - 1, 0, false, &out, &why);
	assert_sent(&out, "one\ntwo\n");
	assert_int_equal(why, CLOSE_QUIT);
}

static void test_quit_cr_ends_conversation(void **state)
{
	struct session s;
	(void)state;
	session_init(&s, 8192);
	feed(&s, "a\r\nquit\r\nb\r\n", 12, 0, &out);
	assert_sent(&out, "a\r\n");
	assert_int_equal(s.state, SESSION_DONE);
	assert_int_equal(s.reason, CLOSE_QUIT);
	session_free(&s);
}

static void test_quit_alone_sends_nothing(void **state)
{
	struct session s;
	(void)state;
	session_init(&s, 8192);
	feed(&s, "quit\n", 5, 0, &out);
	assert_int_equal(out.len, 0);
	assert_int_equal(s.state, SESSION_DONE);
	assert_int_equal(s.reason, CLOSE_QUIT);
	session_free(&s);
}

static void test_quit_split_across_reads(void **state)
{
	enum close_reason why;
	(void)state;
	converse(8192, "x\nquit\ny\n", 9, 1, false, &out, &why);
	assert_sent(&out, "x\n");
	assert_int_equal(why, CLOSE_QUIT);
}

static void test_quit_lookalikes_are_echoed(void **state)
{
	static const char in[] = "QUIT\nquit \n quit\nquitquit\nqui\n";
	enum close_reason why;
	(void)state;
	converse(8192, in, sizeof(in) - 1, 0, true, &out, &why);
	assert_sent(&out, "QUIT\nquit \n quit\nquitquit\nqui\n");
	assert_int_equal(why, CLOSE_EOF);
}

static void test_unterminated_quit_at_eof_is_echoed(void **state)
{
	enum close_reason why;
	(void)state;
	converse(8192, "quit", 4, 0, true, &out, &why);
	assert_sent(&out, "quit");
	assert_int_equal(why, CLOSE_EOF);
}

/* ============================== rule 4: splitting
 * ============================== */

static void test_one_byte_at_a_time(void **state)
{
	static const char in[] = "hello world\r\nsecond\n";
	enum close_reason why;
	(void)state;
	converse(8192, in, sizeof(in) - 1, 1, false, &out, &why);
	assert_sent(&out, "hello world\r\nsecond\n");
}

static void test_pipelined_lines_are_owed_as_one_output(void **state)
{
	struct session s;
	size_t len;
	(void)state;
	session_init(&s, 8192);
	size_t room;
	char *space = session_input_space(&s, &room);
	memcpy(space, "a\nbb\nccc\npart", 13);
	session_on_input(&s, 13);
	assert_int_equal(s.state, SESSION_WRITING);
	assert_int_equal(session_lines_owed(&s), 3);
	const char *p = session_output(&s, &len);
	/* One contiguous output: the server can send it in one write. */
	assert_int_equal(len, 9);
	assert_memory_equal(p, "a\nbb\nccc\n", 9);
	session_on_output(&s, len);
	assert_int_equal(s.state, SESSION_READING);
	/* The unfinished line waits for its end. */
	space = session_input_space(&s, &room);
	memcpy(space, "ial\n", 4);
	session_on_input(&s, 4);
	p = session_output(&s, &len);
	assert_int_equal(len, 8);
	assert_memory_equal(p, "partial\n", 8);
	session_free(&s);
}

static void test_partial_writes_resume_where_they_stopped(void **state)
{
	struct session s;
	(void)state;
	session_init(&s, 8192);
	size_t room;
	char *space = session_input_space(&s, &room);
	memcpy(space, "abcdef\nxyz\n", 11);
	session_on_input(&s, 11);
	drain(&s, &out, 3); /* a socket that takes 3 bytes at a time */
	assert_sent(&out, "abcdef\nxyz\n");
	assert_int_equal(s.state, SESSION_READING);
	assert_int_equal(s.lines_echoed, 2);
	assert_int_equal(s.bytes_echoed, 11);
	session_free(&s);
}

/* Backpressure: with replies owed, the session takes no input. */
static void test_no_input_while_replies_are_owed(void **state)
{
	struct session s;
	size_t len;
	(void)state;
	session_init(&s, 8192);
	size_t room;
	char *space = session_input_space(&s, &room);
	memcpy(space, "line\n", 5);
	session_on_input(&s, 5);
	assert_int_equal(s.state, SESSION_WRITING);
	session_output(&s, &len);
	session_on_output(&s, 2);
	assert_int_equal(s.state, SESSION_WRITING);
	session_on_output(&s, 3);
	assert_int_equal(s.state, SESSION_READING);
	session_free(&s);
}

static void test_input_space_is_bounded(void **state)
{
	struct session s;
	size_t room;
	(void)state;
	session_init(&s, 16);
	assert_null(s.buf); /* nothing allocated until the client speaks */
	char *space = session_input_space(&s, &room);
	assert_non_null(space);
	assert_true(room >= 16 && room <= 65536);
	session_free(&s);
}

/* ============================== rule 5: line limit
 * ============================== */

static void test_line_at_limit_is_echoed(void **state)
{
	static const char in[] = "123456789012345\n"; /* 16 bytes with LF */
	enum close_reason why;
	(void)state;
	converse(16, in, sizeof(in) - 1, 0, false, &out, &why);
	assert_sent(&out, "123456789012345\n");
	assert_int_equal(why, CLOSE_NONE);
}

static void test_limit_bytes_without_lf_is_an_error(void **state)
{
	static const char in[] = "1234567890123456"; /* 16 bytes, no LF */
	struct session s;
	(void)state;
	session_init(&s, 16);
	feed(&s, in, sizeof(in) - 1, 0, &out);
	assert_sent(&out, "error: line too long (limit 16 bytes)\r\n");
	assert_int_equal(s.state, SESSION_DONE);
	assert_int_equal(s.reason, CLOSE_TOO_LONG);
	session_free(&s);
}

static void test_long_line_with_lf_in_one_read_is_an_error(void **state)
{
	static const char in[] = "ok\n12345678901234567890\nnext\n";
	enum close_reason why;
	(void)state;
	converse(16, in, sizeof(in) - 1, 0, false, &out, &why);
	assert_sent(&out, "ok\nerror: line too long (limit 16 bytes)\r\n");
	assert_int_equal(why, CLOSE_TOO_LONG);
}

static void test_long_line_split_across_reads_is_an_error(void **state)
{
	static const char in[] = "a\nbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n";
	enum close_reason why;
	(void)state;
	converse(16, in, sizeof(in) - 1, 5, false, &out, &why);
	assert_sent(&out, "a\nerror: line too long (limit 16 bytes)\r\n");
	assert_int_equal(why, CLOSE_TOO_LONG);
}

static void test_limit_message_names_the_limit(void **state)
{
	char in[8192];
	enum close_reason why;
	(void)state;
	memset(in, 'x', sizeof(in));
	converse(8192, in, sizeof(in), 1000, false, &out, &why);
	assert_sent(&out, "error: line too long (limit 8192 bytes)\r\n");
}

static void test_largest_limit_line_is_echoed(void **state)
{
	struct session s;
	char *in = malloc(MAX_LINE_MAX);
	(void)state;
	assert_non_null(in);
	memset(in, 'y', MAX_LINE_MAX - 1);
	in[MAX_LINE_MAX - 1] = '\n';
	session_init(&s, MAX_LINE_MAX);
	size_t off = 0, got = 0;
	while (off < MAX_LINE_MAX && s.state == SESSION_READING) {
		size_t room;
		char *space = session_input_space(&s, &room);
		size_t n =
		    MAX_LINE_MAX - off < room ? MAX_LINE_MAX - off : room;
		memcpy(space, in + off, n);
		off += n;
		session_on_input(&s, n);
	}
	while (s.state == SESSION_WRITING) {
		size_t len;
		const char *p = session_output(&s, &len);
		assert_memory_equal(p, in + got, len);
		got += len;
		session_on_output(&s, len);
	}
	assert_int_equal(got, MAX_LINE_MAX);
	assert_int_equal(s.state, SESSION_READING);
	session_free(&s);
	free(in);
}

/* ============================== rule 6: end of input
 * ============================== */

static void test_eof_echoes_final_unterminated_line(void **state)
{
	enum close_reason why;
	(void)state;
	converse(8192, "a\nb\nlast", 8, 3, true, &out, &why);
	assert_sent(&out, "a\nb\nlast");
	assert_int_equal(why, CLOSE_EOF);
}

static void test_eof_with_nothing_pending_is_done(void **state)
{
	struct session s;
	(void)state;
	session_init(&s, 8192);
	session_on_eof(&s);
	assert_int_equal(s.state, SESSION_DONE);
	assert_int_equal(s.reason, CLOSE_EOF);
	session_free(&s);
}

/* ============================== endings from outside
 * ============================== */

static void test_timeout_owes_the_idle_message(void **state)
{
	struct session s;
	(void)state;
	session_init(&s, 8192);
	feed(&s, "partial", 7, 0, &out);
	session_finish(&s, CLOSE_TIMEOUT);
	drain(&s, &out, 0);
	assert_sent(&out, "error: idle timeout\r\n");
	assert_int_equal(s.state, SESSION_DONE);
	assert_int_equal(s.reason, CLOSE_TIMEOUT);
	session_free(&s);
}

static void test_shutdown_delivers_owed_replies_first(void **state)
{
	struct session s;
	size_t room;
	(void)state;
	session_init(&s, 8192);
	char *space = session_input_space(&s, &room);
	memcpy(space, "owed\npart", 9);
	session_on_input(&s, 9);
	session_finish(&s, CLOSE_SHUTDOWN);
	assert_int_equal(s.state, SESSION_WRITING);
	drain(&s, &out, 0);
	assert_sent(&out, "owed\n");
	assert_int_equal(s.state, SESSION_DONE);
	assert_int_equal(s.reason, CLOSE_SHUTDOWN);
	session_free(&s);
}

static void test_shutdown_of_idle_session_is_done(void **state)
{
	struct session s;
	(void)state;
	session_init(&s, 8192);
	session_finish(&s, CLOSE_SHUTDOWN);
	assert_int_equal(s.state, SESSION_DONE);
	session_free(&s);
}

static void test_abort_drops_what_is_owed(void **state)
{
	struct session s;
	size_t room, len;
	(void)state;
	session_init(&s, 8192);
	char *space = session_input_space(&s, &room);
	memcpy(space, "x\n", 2);
	session_on_input(&s, 2);
	session_abort(&s, CLOSE_RESET);
	assert_int_equal(s.state, SESSION_DONE);
	assert_int_equal(s.reason, CLOSE_RESET);
	assert_int_equal(s.lines_echoed, 0);
	assert_null(session_output(&s, &len));
	assert_int_equal(len, 0);
	session_free(&s);
}

static void test_counters_count_echoed_lines_and_bytes(void **state)
{
	struct session s;
	(void)state;
	session_init(&s, 8192);
	feed(&s, "ab\ncd\r\nquit\n", 12, 2, &out);
	assert_int_equal(s.lines_echoed, 2);
	assert_int_equal(s.bytes_echoed, 7);
	session_free(&s);
}

static void test_names_for_logs(void **state)
{
	(void)state;
	assert_string_equal(session_state_name(SESSION_READING), "READING");
	assert_string_equal(session_state_name(SESSION_WRITING), "WRITING");
	assert_string_equal(session_state_name(SESSION_DONE), "DONE");
	assert_string_equal(close_reason_name(CLOSE_QUIT), "quit");
	assert_string_equal(close_reason_name(CLOSE_EOF), "eof");
	assert_string_equal(close_reason_name(CLOSE_RESET), "reset");
	assert_string_equal(close_reason_name(CLOSE_TIMEOUT), "timeout");
	assert_string_equal(close_reason_name(CLOSE_TOO_LONG), "line too long");
	assert_string_equal(close_reason_name(CLOSE_SHUTDOWN), "shutdown");
}

/* A long conversation of random lines in random pieces echoes exactly. */
static void test_random_conversation_echoes_exactly(void **state)
{
	static char in[60000];
	size_t len = 0;
	unsigned seed = 12345;
	(void)state;
	while (len < sizeof(in) - 200) {
		seed = seed * 1103515245u + 12345u;
		size_t line = 1 + (seed >> 16) % 120;
		for (size_t i = 0; i + 1 < line; i++) {
			seed = seed * 1103515245u + 12345u;
			char c = (char)(seed >> 16);
			in[len++] = c == '\n' ? 'n' : c;
		}
		in[len++] = '\n';
	}
	for (size_t chunk = 1; chunk < 5000; chunk = chunk * 3 + 1) {
		enum close_reason why;
		memset(&out, 0, sizeof(out));
		converse(128, in, len, chunk, true, &out, &why);
		assert_int_equal(out.len, len);
		assert_memory_equal(out.bytes, in, len);
		assert_int_equal(why, CLOSE_EOF);
	}
}

/* ============================== line timeout ============================== */

/* Feed one chunk to a READING session (no draining). */
static void input(struct session *s, const char *data)
{
	size_t room, n = strlen(data);
	char *space = session_input_space(s, &room);
	assert_true(n <= room);
	memcpy(space, data, n);
	session_on_input(s, n);
}

static void test_line_clock_starts_with_a_line_first_byte(void **state)
{
	struct session s;
	(void)state;
	session_init(&s, 8192);
	assert_false(session_has_partial_line(&s));
	input(&s, "ab");
	assert_true(session_has_partial_line(&s));
	assert_true(session_line_begun(&s)); /* the clock starts */
	input(&s, "c");
	assert_true(session_has_partial_line(&s));
	assert_false(session_line_begun(&s)); /* the same line goes on */
	input(&s, "\n");
	assert_false(session_has_partial_line(&s)); /* whole: no clock */
	drain(&s, &out, 0);
	assert_sent(&out, "abc\n");
	session_free(&s);
}

static void test_line_clock_restarts_for_the_next_line(void **state)
{
	struct session s;
	(void)state;
	session_init(&s, 8192);
	input(&s, "ab");
	drain(&s, &out, 0);
	input(&s, "c\nde"); /* ends one line, begins the next */
	assert_true(session_has_partial_line(&s));
	assert_true(session_line_begun(&s));
	drain(&s, &out, 0);
	assert_sent(&out, "abc\n");
	input(&s, "f");
	assert_false(session_line_begun(&s));
	session_free(&s);
}

static void test_line_timeout_owes_replies_then_the_notice(void **state)
{
	struct session s;
	(void)state;
	session_init(&s, 8192);
	input(&s, "one\ntw");
	session_finish(&s, CLOSE_LINE_TIMEOUT);
	assert_false(session_has_partial_line(&s));
	drain(&s, &out, 0);
	assert_sent(&out, "one\nerror: line timeout\r\n");
	assert_int_equal(s.state, SESSION_DONE);
	assert_string_equal(close_reason_name(s.reason), "line timeout");
	session_free(&s);
}

/* ============================== raw (RFC 862) ==============================
 */

static void test_raw_echoes_bytes_without_a_newline(void **state)
{
	struct session s;
	(void)state;
	session_init(&s, 16);
	session_set_raw(&s);
	feed(&s, "no newline here, and longer than the line limit", 47, 5,
	     &out);
	assert_sent(&out, "no newline here, and longer than the line limit");
	assert_false(session_has_partial_line(&s));
	assert_int_equal(s.state, SESSION_READING);
	assert_int_equal(s.bytes_echoed, 47);
	session_free(&s);
}

static void test_raw_has_no_quit(void **state)
{
	struct session s;
	(void)state;
	session_init(&s, 8192);
	session_set_raw(&s);
	feed(&s, "quit\nquit\r\nmore", 15, 0, &out);
	assert_sent(&out, "quit\nquit\r\nmore");
	assert_int_equal(s.reason, CLOSE_NONE);
	session_on_eof(&s);
	assert_int_equal(s.state, SESSION_DONE);
	assert_int_equal(s.reason, CLOSE_EOF);
	session_free(&s);
}

static void test_raw_takes_no_input_while_owing(void **state)
{
	struct session s;
	(void)state;
	session_init(&s, 8192);
	session_set_raw(&s);
	input(&s, "abc");
	assert_int_equal(s.state,
			 SESSION_WRITING); /* backpressure as in line mode */
	assert_int_equal(session_bytes_owed(&s), 3);
	size_t len;
	session_output(&s, &len);
	session_on_output(&s, 1);
	assert_int_equal(session_bytes_owed(&s), 2);
	drain(&s, &out, 0);
	assert_int_equal(s.state, SESSION_READING);
	assert_sent(&out, "bc"); /* the first byte went out above */
	session_free(&s);
}

static void test_raw_random_binary_split_anywhere(void **state)
{
	static char in[20000];
	uint32_t seed = 7;
	(void)state;
	for (size_t i = 0; i < sizeof(in); i++) {
		seed = seed * 1103515245u + 12345u;
		in[i] =
		    (char)(seed >> 16); /* every byte value, LF and NUL too */
	}
	for (size_t chunk = 1; chunk < 30000; chunk = chunk * 5 + 2) {
		struct session s;
		memset(&out, 0, sizeof(out));
		session_init(&s, 16);
		session_set_raw(&s);
		feed(&s, in, sizeof(in), chunk, &out);
		session_on_eof(&s);
		drain(&s, &out, 0);
		assert_int_equal(out.len, sizeof(in));
		assert_memory_equal(out.bytes, in, sizeof(in));
		assert_int_equal(s.state, SESSION_DONE);
		session_free(&s);
	}
}

#define T(f) cmocka_unit_test_setup(f, reset_out)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_lf_line_is_echoed),
	    T(test_crlf_line_is_echoed_with_crlf),
	    T(test_any_byte_value_is_echoed),
	    T(test_empty_line_is_echoed),
	    T(test_quit_ends_after_earlier_replies),
	    T(test_quit_cr_ends_conversation),
	    T(test_quit_alone_sends_nothing),
	    T(test_quit_split_across_reads),
	    T(test_quit_lookalikes_are_echoed),
	    T(test_unterminated_quit_at_eof_is_echoed),
	    T(test_one_byte_at_a_time),
	    T(test_pipelined_lines_are_owed_as_one_output),
	    T(test_partial_writes_resume_where_they_stopped),
	    T(test_no_input_while_replies_are_owed),
	    T(test_input_space_is_bounded),
	    T(test_line_at_limit_is_echoed),
	    T(test_limit_bytes_without_lf_is_an_error),
	    T(test_long_line_with_lf_in_one_read_is_an_error),
	    T(test_long_line_split_across_reads_is_an_error),
	    T(test_limit_message_names_the_limit),
	    T(test_largest_limit_line_is_echoed),
	    T(test_eof_echoes_final_unterminated_line),
	    T(test_eof_with_nothing_pending_is_done),
	    T(test_timeout_owes_the_idle_message),
	    T(test_shutdown_delivers_owed_replies_first),
	    T(test_shutdown_of_idle_session_is_done),
	    T(test_abort_drops_what_is_owed),
	    T(test_counters_count_echoed_lines_and_bytes),
	    T(test_names_for_logs),
	    T(test_random_conversation_echoes_exactly),
	    T(test_line_clock_starts_with_a_line_first_byte),
	    T(test_line_clock_restarts_for_the_next_line),
	    T(test_line_timeout_owes_replies_then_the_notice),
	    T(test_raw_echoes_bytes_without_a_newline),
	    T(test_raw_has_no_quit),
	    T(test_raw_takes_no_input_while_owing),
	    T(test_raw_random_binary_split_anywhere),
	};
	return cmocka_run_group_tests_name("protocol", tests, NULL, NULL);
}
