/*
 * test_protocol_rules.c - docs/protocol.md section 3, the line protocol,
 * one test per rule, over real loopback sockets against the real binary.
 *
 * Only what every server speaking the protocol must do is here: `make
 * protocol-check` runs this file against echoserv and every comparison
 * server (ECHOSERV_BIN), so a test may use only the options they all take
 * (-b -c -l -t -q) and nothing of echoserv's own (its trace, its log
 * lines).  Those tests live in the echoserv-only files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka needs the three headers above it. */
#include <cmocka.h>

static struct proc server;

/* Start a server with args (NULL-terminated, may be empty) and connect one
 * IPv4 client to it. */
static int start_and_connect(const char *const *args)
{
	static const char *const none[] = {"0", NULL};
	int port = check_server_start(&server, NULL, args ? args : none);
	int fd = client_connect("127.0.0.1", port);

	if (fd < 0)
		harness_fail("connect: %s", strerror(errno));
	return fd;
}

static void send_or_fail(int fd, const void *buf, size_t len)
{
	if (client_send_all(fd, buf, len, io_timeout()) != 0)
		harness_fail("send %zu bytes: %s", len, strerror(errno));
}

/* The connection ended with a FIN and no reset followed it. */
static void check_clean_close(int fd)
{
	check_eof(fd, io_timeout());
	/* A reset arriving after the FIN does not show in recv(); it does in
	 * SO_ERROR.  Give a late one time to arrive. */
	sleep_s(0.05);
	int err = client_so_error(fd);
	if (err != 0)
		harness_fail("after EOF the socket has error %s",
			     strerror(err));
}

/* ---------------------------------------------------------------- 3.1-3.2 */

static void rule1_lf_terminated_line_is_echoed(void **state)
{
	(void)state;
	int fd = start_and_connect(NULL);

	check_echo(fd, "hello\n");
	check_echo(fd, "two words\n");
	check_echo(fd, "\n"); /* an empty line is a line */
}

static void rule2_crlf_line_is_echoed_with_its_cr(void **state)
{
	(void)state;
	int fd = start_and_connect(NULL);

	check_echo(fd, "hello\r\n");
	check_echo(fd, "\r\n");
	check_echo(fd, "a\rb\r\r\n"); /* CRs inside the content too */
}

static void rule2_binary_bytes_are_echoed_unchanged(void **state)
{
	(void)state;
	int fd = start_and_connect(NULL);
	unsigned char line[256];
	size_t n = 0;

	/* Every byte value except LF, NUL and 0xFF first, then the LF. */
	line[n++] = 0x00;
	line[n++] = 0xff;
	for (int b = 1; b < 255; b++)
		if (b != '\n')
			line[n++] = (unsigned char)b;
	line[n++] = '\n';
	send_or_fail(fd, line, n);
	check_recv_bytes(fd, line, n, io_timeout());

	static const unsigned char nul_only[] = {0, 0, 0, '\n'};
	send_or_fail(fd, nul_only, sizeof(nul_only));
	check_recv_bytes(fd, nul_only, sizeof(nul_only), io_timeout());
}

/* ---------------------------------------------------------------- 3.3 */

static void rule3_quit_ends_conversation_after_earlier_replies(void **state)
{
	(void)state;
	int fd = start_and_connect(NULL);

	send_or_fail(fd, "hello\nworld\nquit\nafter\n", 23);
	check_recv(fd, "hello\nworld\n", io_timeout());
	check_clean_close(fd);
}

static void rule3_quit_cr_ends_conversation(void **state)
{
	(void)state;
	int fd = start_and_connect(NULL);

	check_echo(fd, "first\r\n");
	send_or_fail(fd, "second\r\nquit\r\nignored\r\n", 23);
	check_recv(fd, "second\r\n", io_timeout());
	check_clean_close(fd);
}

static void rule3_quit_alone_closes_without_reply(void **state)
{
	(void)state;
	int fd = start_and_connect(NULL);

	send_or_fail(fd, "quit\n", 5);
	check_clean_close(fd);
}

static void rule3_quit_split_across_reads_ends_conversation(void **state)
{
	(void)state;
	int fd = start_and_connect(NULL);
	const char *parts[] = {"ab\nq", "ui", "t\r", "\nafter\n"};

	for (int i = 0; i < 4; i++) {
		send_or_fail(fd, parts[i], strlen(parts[i]));
		if (i == 0)
			check_recv(fd, "ab\n", io_timeout());
		else if (i < 3 && !client_silent(fd, 0.02))
			harness_fail("reply before the line was complete");
	}
	check_clean_close(fd);
}

static void rule3_uppercase_QUIT_is_an_ordinary_line(void **state)
{
	(void)state;
	int fd = start_and_connect(NULL);

	check_echo(fd, "QUIT\n");
	check_echo(fd, "Quit\r\n");
	check_echo(fd, "still here\n");
}

static void rule3_quit_with_trailing_space_is_an_ordinary_line(void **state)
{
	(void)state;
	int fd = start_and_connect(NULL);

	check_echo(fd, "quit \n");
	check_echo(fd, " quit\n");
	check_echo(fd, "quit\r\r\n");
	check_echo(fd, "quitx\n");
	check_echo(fd, "still here\n");
}

static void rule3_unterminated_quit_at_eof_is_echoed(void **state)
{
	(void)state;
	int fd = start_and_connect(NULL);

	send_or_fail(fd, "quit", 4);
	if (shutdown(fd, SHUT_WR) != 0)
		harness_fail("shutdown: %s", strerror(errno));
	check_recv(fd, "quit", io_timeout());
	check_clean_close(fd);
}

static void
rule3_quit_then_100k_of_junk_delivers_replies_then_clean_eof(void **state)
{
	(void)state;
	int fd = start_and_connect(NULL);
	size_t junk_len = 100 * 1024;
	char *msg = malloc(junk_len + 32);

	assert_non_null(msg);
	int head = snprintf(msg, 32, "one\ntwo\nquit\n");
	for (size_t i = 0; i < junk_len; i++)
		msg[(size_t)head + i] = i % 64 == 63 ? '\n' : 'j';
	int rc =
	    client_send_all(fd, msg, (size_t)head + junk_len, io_timeout());
	int send_err = errno;
	free(msg);

	char buf[64];
	struct recv_result r =
	    client_recv_all(fd, buf, sizeof(buf), io_timeout());
	assert_bytes("replies before quit", buf, r.len, "one\ntwo\n", 8);
	if (rc != 0)
		harness_fail("sending the junk after quit failed: %s (the "
			     "server reset the connection)",
			     strerror(send_err));
	if (r.end != RECV_EOF)
		harness_fail("expected a clean EOF after the replies, got %s",
			     recv_end_name(r.end));
	sleep_s(0.1);
	int err = client_so_error(fd);
	if (err != 0)
		harness_fail("after EOF the socket has error %s (a reset)",
			     strerror(err));
}

/* ---------------------------------------------------------------- 3.4 */

static void rule4_line_sent_one_byte_at_a_time_is_echoed(void **state)
{
	(void)state;
	int fd = start_and_connect(NULL);
	const char *line = "split across many reads\r\n";

	for (size_t i = 0; line[i] != '\0'; i++) {
		send_or_fail(fd, &line[i], 1);
		/* Nothing may come back before the LF: this also paces the
		 * bytes so the server sees them one read at a time. */
		if (line[i] != '\n' && !client_silent(fd, 0.01))
			harness_fail("reply before the line was complete "
				     "(after byte %zu)",
				     i);
	}
	check_recv(fd, line, io_timeout());
	check_echo(fd, "next\n");
}

/* 100 lines of 10 bytes: "line 0000\n" .. "line 0099\n". */
static void hundred_lines(char *buf)
{
	for (int i = 0; i < 100; i++)
		snprintf(buf + i * 10, 11, "line %04d\n", i);
}

static void rule4_pipelined_lines_are_all_echoed_in_order(void **state)
{
	(void)state;
	int fd = start_and_connect(NULL);
	char lines[1001];

	hundred_lines(lines);
	send_or_fail(fd, lines, 1000);
	check_recv_bytes(fd, lines, 1000, io_timeout());

	/* A bigger batch: 1500 lines of varying length (about 40 KB, well
	 * within what the socket buffers hold while we are not reading). */
	size_t cap = 1500 * 80, len = 0;
	char *big = malloc(cap);
	assert_non_null(big);
	for (int i = 0; i < 1500; i++) {
		int w = i % 41;
		len +=
		    (size_t)snprintf(big + len, cap - len, "%d:%.*s\n", i, w,
				     "abcdefghijklmnopqrstuvwxyzabcdefghijklmn"
				     "opqrstuvwxyzabcdefghijkl");
	}
	send_or_fail(fd, big, len);
	check_recv_bytes(fd, big, len, io_timeout());
	free(big);
	check_echo(fd, "after the batch\n");
}

/* ---------------------------------------------------------------- 3.5 */

static const char *const limit16[] = {"-l", "16", "0", NULL};

static void rule5_line_of_exactly_max_line_bytes_is_echoed(void **state)
{
	(void)state;
	int fd = start_and_connect(limit16);

	check_echo(fd, "0123456789abcde\n");  /* 16 bytes with LF */
	check_echo(fd, "0123456789abcd\r\n"); /* 16 bytes with CRLF */
	check_echo(fd, "short\n");
}

static void rule5_max_line_bytes_without_lf_is_an_error(void **state)
{
	(void)state;
	int fd = start_and_connect(limit16);

	send_or_fail(fd, "0123456789abcdef", 16);
	check_recv(fd, "error: line too long (limit 16 bytes)\r\n",
		   io_timeout());
	check_clean_close(fd);
}

static void rule5_error_comes_as_soon_as_max_line_bytes_are_held(void **state)
{
	(void)state;
	int fd = start_and_connect(limit16);

	send_or_fail(fd, "0123456789abcde", 15); /* one short of the limit */
	if (!client_silent(fd, 0.1))
		harness_fail("the server answered 15 bytes of a line with "
			     "-l 16");
	send_or_fail(fd, "f", 1); /* now it holds 16: too long already */
	check_recv(fd, "error: line too long (limit 16 bytes)\r\n",
		   io_timeout());
	check_clean_close(fd);
}

static void rule5_long_line_error_comes_after_queued_replies(void **state)
{
	(void)state;
	int fd = start_and_connect(limit16);
	const char *msg = "ok\nfine\r\n0123456789abcdefghij";

	send_or_fail(fd, msg, strlen(msg));
	check_recv(fd, "ok\nfine\r\nerror: line too long (limit 16 bytes)\r\n",
		   io_timeout());
	check_clean_close(fd);
}

static void rule5_long_line_arriving_whole_with_its_lf_is_an_error(void **state)
{
	(void)state;
	int fd = start_and_connect(limit16);
	const char *msg = "ok\n0123456789abcdefghij\nnever echoed\n";

	send_or_fail(fd, msg, strlen(msg));
	check_recv(fd, "ok\nerror: line too long (limit 16 bytes)\r\n",
		   io_timeout());
	check_clean_close(fd);
}

static void rule5_line_of_max_line_plus_one_with_lf_is_an_error(void **state)
{
	(void)state;
	int fd = start_and_connect(limit16);

	/* 17 bytes including the LF, in one piece. */
	send_or_fail(fd, "0123456789abcdef\n", 17);
	check_recv(fd, "error: line too long (limit 16 bytes)\r\n",
		   io_timeout());
	check_clean_close(fd);
}

static void rule5_default_limit_is_8192_bytes(void **state)
{
	(void)state;
	int fd = start_and_connect(NULL);
	char *line = malloc(8193);

	assert_non_null(line);
	memset(line, 'x', 8191);
	line[8191] = '\n';
	send_or_fail(fd, line, 8192);
	check_recv_bytes(fd, line, 8192, io_timeout());

	memset(line, 'y', 8192); /* 8192 bytes and still no LF */
	send_or_fail(fd, line, 8192);
	free(line);
	check_recv(fd, "error: line too long (limit 8192 bytes)\r\n",
		   io_timeout());
	check_clean_close(fd);
}

static void rule5_largest_limit_echoes_a_1_MiB_line(void **state)
{
	(void)state;
	static const char *const args[] = {"--max-line", "1048576", "0", NULL};
	int fd = start_and_connect(args);
	size_t len = 1048576;
	char *line = malloc(len);

	assert_non_null(line);
	for (size_t i = 0; i < len - 1; i++)
		line[i] = (char)('0' + i % 10);
	line[len - 1] = '\n';
	/* The whole line goes out before any reply can come back. */
	send_or_fail(fd, line, len);
	check_recv_bytes(fd, line, len, io_timeout());
	free(line);
	check_echo(fd, "and a short one\n");
}

/* ---------------------------------------------------------------- 3.6 */

static void rule6_half_close_echoes_every_line_then_eof(void **state)
{
	(void)state;
	int fd = start_and_connect(NULL);
	const char *msg = "one\r\ntwo\nthree";

	send_or_fail(fd, msg, strlen(msg));
	if (shutdown(fd, SHUT_WR) != 0)
		harness_fail("shutdown: %s", strerror(errno));
	check_recv(fd, msg, io_timeout());
	check_clean_close(fd);
}

static void rule6_half_close_after_complete_lines_echoes_them(void **state)
{
	(void)state;
	int fd = start_and_connect(NULL);

	check_echo(fd, "before\n");
	send_or_fail(fd, "a\nb\n", 4);
	if (shutdown(fd, SHUT_WR) != 0)
		harness_fail("shutdown: %s", strerror(errno));
	check_recv(fd, "a\nb\n", io_timeout());
	check_clean_close(fd);
}

static void rule6_half_close_with_nothing_sent_is_eof(void **state)
{
	(void)state;
	int fd = start_and_connect(NULL);

	if (shutdown(fd, SHUT_WR) != 0)
		harness_fail("shutdown: %s", strerror(errno));
	check_clean_close(fd);
}

/* ---------------------------------------------------------------- 3.8 */

/* Byte i of a stream of junk lines. */
static unsigned char junk_byte(size_t i)
{
	return i % 64 == 63 ? '\n' : (unsigned char)('A' + i % 26);
}

/*
 * A client that reads slowly (small receive buffer) sends 64 KB of lines of
 * line_len bytes, then ending (what ends the conversation), then more junk
 * than the server will ever read; only then does it read.  It must get
 * every reply and then tail, then a clean EOF: no reset may destroy them.
 */
static void check_replies_survive_trailing_junk(const char *const *args,
						size_t line_len,
						const char *ending,
						const char *tail)
{
	int fd = start_and_connect(args);
	size_t lines_len = 64 * 1024, junk_max = 4 * 1024 * 1024;
	size_t end_len = strlen(ending), tail_len = strlen(tail);
	size_t want_len = lines_len + tail_len;
	char *out = malloc(lines_len + end_len);
	char *want = malloc(want_len);

	assert_non_null(out);
	assert_non_null(want);
	(void)client_set_rcvbuf(fd, 4096);
	for (size_t i = 0; i < lines_len; i++)
		out[i] =
		    i % line_len == line_len - 1 ? '\n' : (char)('a' + i % 26);
	memcpy(want, out, lines_len);
	memcpy(want + lines_len, tail, tail_len);
	memcpy(out + lines_len, ending, end_len);
	send_or_fail(fd, out, lines_len + end_len);
	free(out);
	size_t junk = client_send_until_stalled(fd, junk_byte, 0, junk_max,
						0.3 * harness_scale());
	int junk_err = errno;
	print_message("sent %zu bytes of lines, the end, %zu bytes of junk%s%s"
		      "\n",
		      lines_len, junk, junk_err != 0 ? ", then " : "",
		      junk_err != 0 ? strerror(junk_err) : "");

	char *got = malloc(want_len + 64);
	assert_non_null(got);
	struct recv_result r =
	    client_recv_all(fd, got, want_len + 64, 5.0 * harness_scale());
	bool same = r.len == want_len && memcmp(got, want, want_len) == 0;
	free(want);
	free(got);
	/* A reset that stopped the junk shows in junk_err (send took the
	 * socket's error); one that came later in r. */
	if (!same || r.end != RECV_EOF || junk_err != 0)
		harness_fail("got %zu of the %zu bytes owed (%s), then %s; "
			     "sending the junk ended with %s: the server "
			     "reset the connection and the replies were "
			     "destroyed",
			     r.len, want_len, same ? "intact" : "not intact",
			     recv_end_name(r.end),
			     junk_err != 0 ? strerror(junk_err) : "a stall");
}

static void rule8_closing_never_destroys_replies(void **state)
{
	(void)state;
	check_replies_survive_trailing_junk(NULL, 32, "quit\n", "");
}

static void rule8_closing_after_a_long_line_never_destroys_replies(void **state)
{
	(void)state;
	check_replies_survive_trailing_junk(
	    limit16, 8, "0123456789abcdefXYZ",
	    "error: line too long (limit 16 bytes)\r\n");
}

/* ---------------------------------------------------------------- 3.7 */

static void rule7_no_greeting(void **state)
{
	(void)state;
	int fd = start_and_connect(NULL);

	if (!client_silent(fd, 0.3))
		harness_fail("the server sent something before the client "
			     "spoke");
	check_echo(fd, "first words\n");
}

#define T(f) cmocka_unit_test_teardown(f, harness_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(rule1_lf_terminated_line_is_echoed),
	    T(rule2_crlf_line_is_echoed_with_its_cr),
	    T(rule2_binary_bytes_are_echoed_unchanged),
	    T(rule3_quit_ends_conversation_after_earlier_replies),
	    T(rule3_quit_cr_ends_conversation),
	    T(rule3_quit_alone_closes_without_reply),
	    T(rule3_quit_split_across_reads_ends_conversation),
	    T(rule3_uppercase_QUIT_is_an_ordinary_line),
	    T(rule3_quit_with_trailing_space_is_an_ordinary_line),
	    T(rule3_unterminated_quit_at_eof_is_echoed),
	    T(rule3_quit_then_100k_of_junk_delivers_replies_then_clean_eof),
	    T(rule4_line_sent_one_byte_at_a_time_is_echoed),
	    T(rule4_pipelined_lines_are_all_echoed_in_order),
	    T(rule5_line_of_exactly_max_line_bytes_is_echoed),
	    T(rule5_max_line_bytes_without_lf_is_an_error),
	    T(rule5_error_comes_as_soon_as_max_line_bytes_are_held),
	    T(rule5_long_line_error_comes_after_queued_replies),
	    T(rule5_long_line_arriving_whole_with_its_lf_is_an_error),
	    T(rule5_line_of_max_line_plus_one_with_lf_is_an_error),
	    T(rule5_default_limit_is_8192_bytes),
	    T(rule5_largest_limit_echoes_a_1_MiB_line),
	    T(rule6_half_close_echoes_every_line_then_eof),
	    T(rule6_half_close_after_complete_lines_echoes_them),
	    T(rule6_half_close_with_nothing_sent_is_eof),
	    T(rule7_no_greeting),
	    T(rule8_closing_never_destroys_replies),
	    T(rule8_closing_after_a_long_line_never_destroys_replies),
	};

	return harness_run(tests);
}
