/*
 * test_defences.c - docs/protocol.md sections 2 and 4: the defences against
 * hostile clients and a hostile environment.  A trickling client is cut at
 * its line deadline while a slow honest one is not; one address cannot take
 * every slot (--max-per-addr); a log reader that stalls does not stop
 * service; the bind forms "[::1]" and a name with several addresses.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka needs the three headers above it. */
#include <cmocka.h>

static struct proc server;

#define MSG_LINE_TIMEOUT_TEXT "error: line timeout\r\n"

static int start(const char *const *args)
{
	return check_server_start(&server, NULL, args);
}

static int connect_or_fail(const char *host, int port)
{
	int fd = client_connect(host, port);
	if (fd < 0)
		harness_fail("connect to %s: %s", host, strerror(errno));
	return fd;
}

/* ============================== line timeout ============================== */

/* A client that trickles a byte at a time and never ends its line is cut
 * when the line is --line-timeout old: it gets the notice, then EOF. */
static void line_timeout_cuts_a_trickler_at_its_deadline(void **state)
{
	(void)state;
	static const char *const args[] = {
	    "--line-timeout", "1", "-t", "0", "0", NULL};
	int port = start(args);
	int fd = connect_or_fail("127.0.0.1", port);
	double first = now_s(), cut = 0;
	char got[64];
	size_t len = 0;

	/* One byte every 0.2 s: each is progress, none ends the line. */
	for (int i = 0; i < 40 && cut == 0; i++) {
		if (client_send_str(fd, "x", io_timeout()) != 0)
			break; /* the server may have closed already */
		struct recv_result r =
		    client_recv(fd, got + len, sizeof(got) - 1 - len, 0.2);
		len += r.len;
		if (len > 0)
			cut = now_s();
	}
	if (cut == 0)
		harness_fail("a trickler was never cut by --line-timeout 1");
	struct recv_result r = client_recv(
	    fd, got + len, strlen(MSG_LINE_TIMEOUT_TEXT) - len, io_timeout());
	len += r.len;
	assert_bytes("the notice", got, len, MSG_LINE_TIMEOUT_TEXT,
		     strlen(MSG_LINE_TIMEOUT_TEXT));
	if (cut - first < 0.95 || cut - first > 1.0 + 1.5 * harness_scale())
		harness_fail("cut %.2f s after the line's first byte, want 1 s",
			     cut - first);
	client_close(fd);
	assert_true(
	    log_wait(&server, "): line timeout; echoed 0 lines", io_timeout()));
}

/* Complete lines that each take most of the deadline to arrive are never
 * cut, however long the conversation lasts in all. */
static void line_timeout_spares_slow_but_whole_lines(void **state)
{
	(void)state;
	static const char *const args[] = {
	    "--line-timeout", "1", "-t", "0", "0", NULL};
	int port = start(args);
	int fd = connect_or_fail("127.0.0.1", port);

	for (int line = 0; line < 4; line++) {
		/* "ab\n" over 0.6 s: 3 lines' worth of time beyond 1 s. */
		assert_int_equal(client_send_str(fd, "a", io_timeout()), 0);
		sleep_s(0.3);
		assert_int_equal(client_send_str(fd, "b", io_timeout()), 0);
		sleep_s(0.3);
		assert_int_equal(client_send_str(fd, "\n", io_timeout()), 0);
		check_recv(fd, "ab\n", io_timeout());
	}
	check_echo(fd, "still here\n");
	assert_int_equal(log_count(&server, "line timeout"), 0);
}

/* Byte i of a stream of 100-byte lines (the last byte of each an LF). */
static unsigned char line_byte(size_t i)
{
	return i % 100 == 99 ? '\n' : (unsigned char)('a' + i / 100 % 26);
}

/* A client that pipelines whole lines and reads nothing for a while makes
 * the server stop reading it (backpressure), with the tail of a line held:
 * the server itself keeps that line from completing, so its clock stops. */
static void line_timeout_spares_a_pipeliner_held_back(void **state)
{
	(void)state;
	static const char *const args[] = {"--line-timeout", "1", "0", NULL};
	int port = start(args);
	int fd = connect_or_fail("127.0.0.1", port);
	size_t mismatch;

	size_t sent =
	    client_send_until_stalled(fd, line_byte, 0, (size_t)64 << 20, 0.5);
	sleep_s(1.5); /* longer than --line-timeout, not reading */
	size_t whole = sent - sent % 100;
	struct recv_result r = client_recv_check(
	    fd, line_byte, 0, whole, 10 * harness_scale(), &mismatch);
	if (mismatch != (size_t)-1 || r.len != whole)
		harness_fail(
		    "got %zu of %zu echoed bytes (%s), mismatch at %zu", r.len,
		    whole, recv_end_name(r.end), mismatch);
	/* Reading has resumed: the held line may now take its 1 s. */
	size_t rest = 100 - sent % 100;
	for (size_t i = 0; i < rest; i++) {
		unsigned char b = line_byte(sent + i);
		assert_int_equal(client_send_all(fd, &b, 1, io_timeout()), 0);
	}
	r = client_recv_check(fd, line_byte, whole, sent + rest - whole,
			      io_timeout(), &mismatch);
	assert_int_equal(r.len, sent + rest - whole);
	assert_int_equal(log_count(&server, "line timeout"), 0);
}

/* The replies a client is owed go out before the notice. */
static void line_timeout_delivers_owed_replies_first(void **state)
{
	(void)state;
	static const char *const args[] = {"--line-timeout", "1", "0", NULL};
	int port = start(args);
	int fd = connect_or_fail("127.0.0.1", port);

	assert_int_equal(client_send_str(fd, "one\ntwo\nthr", io_timeout()), 0);
	check_recv(fd, "one\ntwo\n", io_timeout());
	check_recv(fd, MSG_LINE_TIMEOUT_TEXT, 1.0 + io_timeout());
	check_eof(fd, io_timeout());
}

/* 0 means never: a line may take as long as it likes. */
static void line_timeout_zero_never_cuts(void **state)
{
	(void)state;
	static const char *const args[] = {
	    "--line-timeout", "0", "-t", "0", "0", NULL};
	int port = start(args);
	int fd = connect_or_fail("127.0.0.1", port);

	assert_int_equal(client_send_str(fd, "slow", io_timeout()), 0);
	assert_true(client_silent(fd, 1.5));
	assert_int_equal(client_send_str(fd, " line\n", io_timeout()), 0);
	check_recv(fd, "slow line\n", io_timeout());
}

/* The first "select: waiting" line after the line containing after, within
 * timeout; fails if none comes. */
static void next_wait_line(const char *after, char *line, size_t len,
			   double timeout)
{
	double deadline = now_s() + timeout;

	for (;;) {
		char *log = proc_log(&server);
		bool found =
		    find_line(log, "select: waiting", after, line, len);
		free(log);
		if (found)
			return;
		if (now_s() > deadline)
			harness_fail("no select after '%s'", after);
		sleep_s(0.02);
	}
}

/* The line deadline is select()'s timeout: the server sleeps until it. */
static void line_deadline_is_the_select_timeout(void **state)
{
	(void)state;
	static const char *const args[] = {
	    "-T", "--line-timeout", "7", "-t", "0", "0", NULL};
	int port = start(args);
	int fd = connect_or_fail("127.0.0.1", port);
	char line[256];

	/* A client with nothing pending: no deadline, select waits forever. */
	next_wait_line("connected (fd", line, sizeof(line), io_timeout());
	if (strstr(line, "timeout=none") == NULL)
		harness_fail("with -t 0 and no partial line: %s", line);
	assert_int_equal(client_send_str(fd, "partial", io_timeout()), 0);
	next_wait_line(": read 7 bytes", line, sizeof(line), io_timeout());
	if (strstr(line, "timeout=7.0s") == NULL &&
	    strstr(line, "timeout=6.9s") == NULL)
		harness_fail("after a partial line select waited: %s", line);
}

/* ============================== per address ============================== */

/* The client after N from one address is told and closed; another
 * address is not affected, and a freed place can be taken again. */
static void max_per_addr_turns_away_the_next_from_that_address(void **state)
{
	(void)state;
	static const char *const args[] = {"--max-per-addr", "2", "0", NULL};
	int port = start(args);
	int a = check_connect_from("127.0.0.1", port);
	int b = check_connect_from("127.0.0.1", port);

	check_echo(a, "a\n");
	check_echo(b, "b\n");
	int c = check_connect_from("127.0.0.1", port);
	check_recv(c, "error: too many connections\r\n", io_timeout());
	check_eof(c, io_timeout());
	client_close(c);
	assert_true(log_wait(&server, "turned away: too many connections",
			     io_timeout()));

	int other = check_connect_from("127.0.0.2", port);
	check_echo(other, "from another address\n");

	client_close(a); /* its place is free once the server closed it */
	assert_true(log_wait(&server, "closed (fd", io_timeout()));
	int d = check_connect_from("127.0.0.1", port);
	check_echo(d, "d\n");
	check_echo(b, "b again\n");
	client_close(b);
	client_close(d);
	client_close(other);
	assert_int_equal(log_count(&server, "too many connections"), 1);
}

/* ============================== lingerers ============================== */

/* A client from `from` that says quit, gets the server's FIN, and stays
 * connected: the server lingers on it, reading and discarding. */
static int open_lingerer(const char *from, int port)
{
	int fd = check_connect_from(from, port);

	assert_int_equal(client_send_str(fd, "quit\n", io_timeout()), 0);
	check_eof(fd, io_timeout());
	return fd;
}

/* A byte to each lingerer: input that is not quiet keeps a linger going
 * (up to its 10 s limit). */
static void keep_lingering(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		(void)client_send_str(fds[i], "x", io_timeout());
}

/* A lingering connection still counts toward its address: one address
 * cannot hold more than --max-per-addr descriptors by quitting and never
 * closing. */
static void lingerers_count_toward_their_address(void **state)
{
	(void)state;
	static const char *const args[] = {"--max-per-addr", "2", "0", NULL};
	int port = start(args);
	int lingering[2];

	for (int i = 0; i < 2; i++)
		lingering[i] = open_lingerer("127.0.0.1", port);
	keep_lingering(lingering, 2);
	int c = check_connect_from("127.0.0.1", port);
	check_recv(c, "error: too many connections\r\n", io_timeout());
	check_eof(c, io_timeout());
	int other = check_connect_from("127.0.0.2", port);
	check_echo(other, "another address is served\n");
	/* Once the lingerers close, their address may connect again. */
	client_close(lingering[0]);
	client_close(lingering[1]);
	assert_true(log_wait_count(&server, "): quit;", 2, io_timeout()));
	int d = -1;
	for (double until = now_s() + io_timeout(); now_s() < until;) {
		d = check_connect_from("127.0.0.1", port);
		if (client_echo(d, "served again\n", io_timeout()))
			break;
		client_close(d);
		d = -1;
		sleep_s(0.05); /* the server closes lingerers as it sees EOF */
	}
	if (d < 0)
		harness_fail("127.0.0.1 was never served after its lingerers "
			     "closed");
}

/* When lingerers hold the descriptors a new client needs (accept() says
 * EMFILE), the oldest gives its up: a client from another address is
 * served, not told the server is full. */
static void lingerers_make_room_when_descriptors_run_out(void **state)
{
	(void)state;
	/* 16 descriptors: the server's own 7 and room for 9 clients. */
	const struct proc_opts opts = {.nofile = 16};
	static const char *const args[] = {"0", NULL};
	int port = check_server_start(&server, &opts, args);
	int lingering[12];
	int n = 0;

	/* Fill every descriptor with lingerers (the last tries may be
	 * turned away once none is left: they do not count). */
	for (; n < 12; n++) {
		lingering[n] = open_lingerer("127.0.0.2", port);
		keep_lingering(lingering, n + 1);
	}
	for (int i = 0; i < 3; i++) {
		int c = check_connect_from("127.0.0.1", port);
		check_echo(c, "an honest client\n");
		client_close(c);
		keep_lingering(lingering, n);
	}
	assert_int_equal(log_count(&server, "server full"), 0);
	assert_int_equal(log_count(&server, "shedding client"), 0);
}

/* At most --max-clients connections linger at once: beyond that the
 * oldest is closed, so quitting clients cannot pile up descriptors.  The
 * trace names each one closed for that; the oldest lingerer's socket is
 * then gone (our next byte draws a reset), the newest's is not. */
static void lingerers_are_at_most_max_clients(void **state)
{
	(void)state;
	static const char *const args[] = {"-T", "-c", "2", "0", NULL};
	int port = start(args);
	int lingering[6];

	for (int i = 0; i < 6; i++) {
		lingering[i] = open_lingerer("127.0.0.1", port);
		keep_lingering(lingering, i + 1);
	}
	assert_true(log_wait_count(&server, "-> CLOSED (too many lingering)", 4,
				   io_timeout()));
	keep_lingering(lingering, 6);
	sleep_s(0.2); /* a closed socket answers our byte with a reset */
	/* After a reset a send fails; to a socket still read, it does not. */
	assert_int_equal(send(lingering[0], "x", 1, MSG_NOSIGNAL), -1);
	assert_int_equal(send(lingering[5], "x", 1, MSG_NOSIGNAL), 1);
	assert_int_equal(log_count(&server, "too many lingering"), 4);
	int c = check_connect_from("127.0.0.1", port);
	check_echo(c, "still served\n");
}

/* ============================== memory ============================== */

#define LINGERERS 20

/* The memory bound is clients x buffer: a connection lingering after its
 * conversation (which frees its place under -c) frees its buffer too. */
static void lingering_connections_hold_no_buffer(void **state)
{
	(void)state;
	static const char *const args[] = {"-c",      "1", "-l",
					   "1048576", "0", NULL};
	static char line[1000001];
	int port = start(args);
	int fds[LINGERERS];

	memset(line, 'm', sizeof(line) - 2);
	line[sizeof(line) - 2] = '\n';
	if (harness_sanitized()) {
		/* ASan keeps freed memory in quarantine: RSS proves nothing. */
		print_message("skipped: RSS of a sanitizer build\n");
		skip();
	}
	long before = proc_rss_kb(server.pid);
	if (before < 0) {
		print_message("skipped: no /proc to read the memory from\n");
		skip();
	}
	for (int i = 0; i < LINGERERS; i++) {
		/* One 1 MB line, then quit; the client stays connected, so
		 * the server lingers on it, and the next one gets the slot. */
		fds[i] = connect_or_fail("127.0.0.1", port);
		assert_int_equal(client_send_all(fds[i], line, sizeof(line) - 1,
						 io_timeout()),
				 0);
		assert_int_equal(
		    client_send_str(fds[i], "quit\n", io_timeout()), 0);
		static char got[sizeof(line)];
		struct recv_result r = client_recv(
		    fds[i], got, sizeof(line) - 1, 5 * harness_scale());
		assert_bytes("the 1 MB echo", got, r.len, line,
			     sizeof(line) - 1);
		check_eof(fds[i], io_timeout());
	}
	long after = proc_rss_kb(server.pid);
	/* 20 buffers of 1 MiB would be 20 MiB; one may stay (the last). */
	if (after - before > 4096)
		harness_fail("RSS grew %ld kB with %d lingering connections",
			     after - before, LINGERERS);
	assert_int_equal(log_count(&server, "turned away"), 0);
}

/* ============================== stalled log ============================== */

/* Read from fd (nonblocking) into buf until "\n" after needle, or the
 * deadline; returns true if it arrived. */
static bool read_until(int fd, char *buf, size_t cap, size_t *len,
		       const char *needle, double timeout)
{
	double deadline = now_s() + timeout;

	while (now_s() < deadline) {
		buf[*len] = '\0';
		const char *at = strstr(buf, needle);
		if (at != NULL && strchr(at, '\n') != NULL)
			return true;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		ssize_t n = read(fd, buf + *len, cap - 1 - *len);
		if (n <= 0)
			return false;
		*len += (size_t)n;
	}
	return false;
}

#define STALL_CLIENTS 3000

/* stderr is a pipe the test holds open and does not read: the server must
 * serve thousands of clients anyway, drop the log lines that do not fit,
 * and say how many once the reader catches up. */
static void stalled_log_reader_does_not_stop_service(void **state)
{
	(void)state;
	static char text[1 << 20];
	static const char *const args[] = {"-b", "127.0.0.1", "0", NULL};
	const struct proc_opts piped = {.stderr_pipe = true};
	size_t len = 0;

	int port = check_server_start(&server, &piped, args);
	/* From here on nobody reads: 64 KiB of pipe fill after ~500. */
	for (int i = 0; i < STALL_CLIENTS; i++) {
		char line[32];
		snprintf(line, sizeof(line), "client %d\n", i);
		int fd = connect_or_fail("127.0.0.1", port);
		assert_int_equal(client_send_str(fd, line, io_timeout()), 0);
		check_recv(fd, line, io_timeout());
		client_close(fd);
	}
	/* The reader catches up: everything buffered, then the count. */
	int rd = server.err_pipe;
	if (!read_until(rd, text, sizeof(text), &len, "log lines dropped",
			5 * harness_scale()))
		harness_fail("no 'log lines dropped' after the stall");
	proc_signal(&server, SIGTERM);
	read_until(rd, text, sizeof(text), &len, "shutdown: served",
		   5 * harness_scale());
	assert_int_equal(proc_wait(&server, 5 * harness_scale()), 0);

	int seen = 0;
	for (const char *p = strstr(text, "connected (fd"); p != NULL;
	     p = strstr(p + 1, "connected (fd"))
		seen++;
	for (const char *p = strstr(text, "closed (fd"); p != NULL;
	     p = strstr(p + 1, "closed (fd"))
		seen++;
	long dropped = log_dropped_total(text, NULL);
	/* Every per-client line was either written or counted. */
	assert_true(dropped > 0);
	assert_int_equal(seen + dropped, 2 * STALL_CLIENTS);
	assert_non_null(strstr(text, "shutdown: served 3000 clients"));
}

/* ============================== bind forms ============================== */

/* "[::1]", the form the server prints IPv6 addresses in, is accepted. */
static void bind_accepts_a_bracketed_ipv6_literal(void **state)
{
	(void)state;
	if (!have_ipv6()) {
		print_message("skipped: no IPv6 on loopback\n");
		skip();
	}
	static const char *const args[] = {"-b", "[::1]", "0", NULL};
	int port = start(args);
	assert_non_null(strstr(server.listen_addr, "[::1]:"));
	int fd = connect_or_fail("::1", port);
	check_echo(fd, "bracketed\n");
}

/* A name with several addresses gets a socket on each, all on the port
 * the first was given (port 0), and one listening line each. */
static void bind_name_listens_on_every_address(void **state)
{
	(void)state;
	char hosts[HARNESS_PATH_MAX], line[128];
	static const char *const args[] = {"-b", "several.test", "0", NULL};
	bool v6 = have_ipv6();

	snprintf(hosts, sizeof(hosts), "/tmp/echoserv-it-hosts-%ld",
		 (long)getpid());
	FILE *f = fopen(hosts, "w");
	assert_non_null(f);
	fprintf(f, "127.0.0.1 several.test\n127.0.0.2 several.test\n%s",
		v6 ? "::1 several.test\n" : "");
	fclose(f);
	setenv("WRAP_HOSTS", hosts, 1);
	const struct proc_opts wrapped = {.wrapper = "with-hosts.sh"};
	assert_int_equal(proc_spawn(&server, &wrapped, args), 0);
	int n = v6 ? 3 : 2;
	bool up =
	    log_wait_count(&server, "listening on", n, 5 * harness_scale());
	if (!up && proc_wait(&server, 1) == 125) {
		print_message("skipped: cannot make a mount namespace\n");
		unlink(hosts);
		skip();
	}
	unlink(hosts);
	assert_true(up);
	char *log = proc_log(&server);
	assert_true(find_line(log, "listening on 127.0.0.1:", NULL, line,
			      sizeof(line)));
	int port = atoi(strrchr(line, ':') + 1);
	assert_true(port > 0);
	char want[64];
	snprintf(want, sizeof(want), "listening on 127.0.0.2:%d\n", port);
	assert_non_null(strstr(log, want));
	snprintf(want, sizeof(want), "listening on [::1]:%d\n", port);
	assert_true(!v6 || strstr(log, want) != NULL);
	free(log);
	assert_int_equal(log_count(&server, "listening on"), n);

	int a = connect_or_fail("127.0.0.1", port);
	int b = connect_or_fail("127.0.0.2", port);
	check_echo(a, "first address\n");
	check_echo(b, "second address\n");
	if (v6) {
		int c = connect_or_fail("::1", port);
		check_echo(c, "third address\n");
	}
}

#define T(f) cmocka_unit_test_teardown(f, harness_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(line_timeout_cuts_a_trickler_at_its_deadline),
	    T(line_timeout_spares_slow_but_whole_lines),
	    T(line_timeout_spares_a_pipeliner_held_back),
	    T(line_timeout_delivers_owed_replies_first),
	    T(line_timeout_zero_never_cuts),
	    T(line_deadline_is_the_select_timeout),
	    T(max_per_addr_turns_away_the_next_from_that_address),
	    T(lingerers_count_toward_their_address),
	    T(lingerers_make_room_when_descriptors_run_out),
	    T(lingerers_are_at_most_max_clients),
	    T(lingering_connections_hold_no_buffer),
	    T(stalled_log_reader_does_not_stop_service),
	    T(bind_accepts_a_bracketed_ipv6_literal),
	    T(bind_name_listens_on_every_address),
	};

	return harness_run(tests);
}
