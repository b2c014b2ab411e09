/*
 * test_logging.c - docs/protocol.md section 5: the default log (connect and
 * close lines with peer, fd, reason and counts), -q, and the -T classroom
 * trace.
 */
#include <ctype.h>
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

static int start_and_connect(const char *const *args)
{
	int port = check_server_start(&server, NULL, args);
	int fd = client_connect("127.0.0.1", port);

	if (fd < 0)
		harness_fail("connect: %s", strerror(errno));
	return fd;
}

/* "127.0.0.1:PORT " for our end of fd, as the server names it (the space
 * keeps port 4000 from matching 40001). */
static void peer_of(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "127.0.0.1:%d ", client_local_port(fd));
}

/* Wait for the server's log line containing both peer and what; copy it. */
static void wait_line(const char *peer, const char *what, char *line,
		      size_t len)
{
	/* Generous: a server may linger a little before it closes and logs. */
	double deadline = now_s() + 5.0 * harness_scale();

	for (;;) {
		char *log = proc_log(&server);
		bool found = false;
		for (const char *l = log; *l != '\0' && !found;) {
			const char *lf = strchr(l, '\n');
			if (lf == NULL)
				break;
			size_t n = (size_t)(lf - l);
			if (n < len) {
				memcpy(line, l, n);
				line[n] = '\0';
				found = strstr(line, peer) != NULL &&
					strstr(line, what) != NULL;
			}
			l = lf + 1;
		}
		free(log);
		if (found)
			return;
		if (now_s() >= deadline)
			harness_fail("no log line with \"%s\" and \"%s\"", peer,
				     what);
		sleep_s(0.005);
	}
}

/* line says "N word" (singular for 1) as a whole count, e.g. "2 lines". */
static bool has_count(const char *line, unsigned long n, const char *word)
{
	char needle[64];
	snprintf(needle, sizeof(needle), "%lu %s%s", n, word,
		 n == 1 ? "" : "s");
	size_t len = strlen(needle);

	for (const char *p = strstr(line, needle); p != NULL;
	     p = strstr(p + 1, needle)) {
		bool start_ok = p == line || !isdigit((unsigned char)p[-1]);
		bool end_ok = !isalpha((unsigned char)p[len]);
		if (start_ok && end_ok)
			return true;
	}
	return false;
}

/* The server's fd number in a "... (fd N) ..." log line, or fail. */
static int fd_in(const char *line)
{
	const char *p = strstr(line, "fd ");
	if (p == NULL || !isdigit((unsigned char)p[3]))
		harness_fail("no fd number in: %s", line);
	return atoi(p + 3);
}

/*
 * Assert the close line of the client at peer: it names the fd of its
 * connect line, the reason, and the lines and bytes echoed.
 */
static void check_close_line(const char *peer, int server_fd,
			     const char *reason, unsigned long lines,
			     unsigned long bytes)
{
	char line[512];

	wait_line(peer, "closed", line, sizeof(line));
	if (fd_in(line) != server_fd)
		harness_fail("close line has another fd than the connect "
			     "line (%d): %s",
			     server_fd, line);
	if (strstr(line, reason) == NULL)
		harness_fail("close line does not give the reason \"%s\": %s",
			     reason, line);
	if (!has_count(line, lines, "line") || !has_count(line, bytes, "byte"))
		harness_fail("close line should count %lu line(s) and %lu "
			     "byte(s): %s",
			     lines, bytes, line);
}

/* The connect line of the client at peer; returns the server's fd. */
static int check_connect_line(const char *peer)
{
	char line[512];

	wait_line(peer, "connect", line, sizeof(line));
	if (strncmp(line, "echoserv: ", 10) != 0)
		harness_fail("log line without the echoserv: prefix: %s", line);
	return fd_in(line);
}

/* ---------------------------------------------------------------- default */

static void log_connect_and_close_lines_for_quit(void **state)
{
	(void)state;
	static const char *const args[] = {"0", NULL};
	int fd = start_and_connect(args);
	char peer[64];

	peer_of(fd, peer, sizeof(peer));
	int sfd = check_connect_line(peer);
	check_echo(fd, "hello\n");
	check_echo(fd, "world!\r\n");
	if (client_send_str(fd, "quit\n", io_timeout()) != 0)
		harness_fail("send: %s", strerror(errno));
	check_eof(fd, io_timeout());
	client_close(fd);
	check_close_line(peer, sfd, "quit", 2, 14);
}

static void log_close_reason_eof(void **state)
{
	(void)state;
	static const char *const args[] = {"0", NULL};
	int fd = start_and_connect(args);
	char peer[64];

	peer_of(fd, peer, sizeof(peer));
	int sfd = check_connect_line(peer);
	if (client_send_str(fd, "abc\nde", io_timeout()) != 0 ||
	    shutdown(fd, SHUT_WR) != 0)
		harness_fail("send: %s", strerror(errno));
	check_recv(fd, "abc\nde", io_timeout());
	check_eof(fd, io_timeout());
	client_close(fd);
	check_close_line(peer, sfd, "eof", 2, 6);
}

static void log_close_reason_timeout(void **state)
{
	(void)state;
	static const char *const args[] = {"-t", "1", "0", NULL};
	int fd = start_and_connect(args);
	char peer[64];

	peer_of(fd, peer, sizeof(peer));
	int sfd = check_connect_line(peer);
	check_echo(fd, "x\n");
	check_recv(fd, "error: idle timeout\r\n", 3.0 * harness_scale());
	check_eof(fd, io_timeout());
	client_close(fd);
	/* The notice is the server's, not an echo: 1 line, 2 bytes. */
	check_close_line(peer, sfd, "timeout", 1, 2);
}

static void log_close_reason_line_too_long(void **state)
{
	(void)state;
	static const char *const args[] = {"-l", "16", "0", NULL};
	int fd = start_and_connect(args);
	char peer[64];

	peer_of(fd, peer, sizeof(peer));
	int sfd = check_connect_line(peer);
	if (client_send_str(fd, "ok\n01234567890123456789", io_timeout()) != 0)
		harness_fail("send: %s", strerror(errno));
	check_recv(fd, "ok\nerror: line too long (limit 16 bytes)\r\n",
		   io_timeout());
	check_eof(fd, io_timeout());
	client_close(fd);
	check_close_line(peer, sfd, "line too long", 1, 3);
}

static void log_two_clients_get_their_own_lines(void **state)
{
	(void)state;
	static const char *const args[] = {"0", NULL};
	int a = start_and_connect(args);
	int b = client_connect("127.0.0.1", server.port);
	char pa[64], pb[64];

	assert_true(b >= 0);
	peer_of(a, pa, sizeof(pa));
	peer_of(b, pb, sizeof(pb));
	int fa = check_connect_line(pa), fb = check_connect_line(pb);
	assert_int_not_equal(fa, fb);
	check_echo(a, "from a\n");
	check_echo(b, "b1\n");
	check_echo(b, "b2\n");
	if (client_send_str(b, "quit\n", io_timeout()) != 0)
		harness_fail("send");
	check_eof(b, io_timeout());
	client_close(b);
	check_close_line(pb, fb, "quit", 2, 6);
	if (shutdown(a, SHUT_WR) != 0)
		harness_fail("shutdown");
	check_eof(a, io_timeout());
	client_close(a);
	check_close_line(pa, fa, "eof", 1, 7);
}

static void log_close_reason_reset(void **state)
{
	(void)state;
	static const char *const args[] = {"0", NULL};
	int fd = start_and_connect(args);
	char peer[64];

	peer_of(fd, peer, sizeof(peer));
	int sfd = check_connect_line(peer);
	check_echo(fd, "one\n");
	if (client_send_str(fd, "half a li", io_timeout()) != 0)
		harness_fail("send");
	/* A partial line is pending when the client vanishes. */
	client_reset(fd);
	check_close_line(peer, sfd, "reset", 1, 4);
}

static void log_names_ipv6_peers_in_brackets(void **state)
{
	(void)state;
	static const char *const args[] = {"0", NULL};

	if (!have_ipv6())
		skip();
	int port = check_server_start(&server, NULL, args);
	int fd = client_connect("::1", port);
	char peer[64];

	if (fd < 0)
		harness_fail("connect to ::1: %s", strerror(errno));
	snprintf(peer, sizeof(peer), "[::1]:%d ", client_local_port(fd));
	int sfd = check_connect_line(peer);
	check_echo(fd, "v6\n");
	if (client_send_str(fd, "quit\n", io_timeout()) != 0)
		harness_fail("send");
	check_eof(fd, io_timeout());
	client_close(fd);
	check_close_line(peer, sfd, "quit", 1, 3);
}

/* ---------------------------------------------------------------- -q */

static void quiet_keeps_listening_and_summary_lines_only(void **state)
{
	(void)state;
	static const char *const args[] = {"-q", "0", NULL};
	int fd = start_and_connect(args);
	char peer[64];

	peer_of(fd, peer, sizeof(peer));
	check_echo(fd, "hello\n");
	if (client_send_str(fd, "quit\n", io_timeout()) != 0)
		harness_fail("send");
	check_eof(fd, io_timeout());
	int idle = client_connect("127.0.0.1", server.port);
	assert_true(idle >= 0);
	check_echo(idle, "idle\n");

	if (proc_signal(&server, SIGTERM) != 0)
		harness_fail("kill: %s", strerror(errno));
	int st = proc_wait(&server, 3.0 * harness_scale());
	if (st != 0)
		harness_fail("exit status %d after SIGTERM", st);

	char *log = proc_log(&server);
	char shown[2048];
	snprintf(shown, sizeof(shown), "%s", log);
	int listening = 0, summary = 0, others = 0;
	for (const char *l = log; *l != '\0';) {
		const char *lf = strchr(l, '\n');
		if (lf == NULL)
			break;
		if (strncmp(l, "echoserv: listening on ", 23) == 0)
			listening++;
		else if (strncmp(l, "echoserv: shutdown:", 19) == 0)
			summary++;
		else
			others++;
		l = lf + 1;
	}
	free(log);
	if (listening != 1 || summary != 1 || others != 0)
		harness_fail("with -q the log should be the listening line and "
			     "the summary only; it is:\n%s",
			     shown);
}

static void quiet_still_logs_server_errors(void **state)
{
	(void)state;
	static const char *const args[] = {"-q", "0", NULL};
	struct proc_opts opts = {.nofile = 16};
	int port = check_server_start(&server, &opts, args);

	/* Enough clients to run the server out of descriptors. */
	for (int i = 0; i < 24; i++) {
		int fd = client_connect("127.0.0.1", port);
		if (fd < 0)
			harness_fail("connect: %s", strerror(errno));
		if (log_count(&server, "accept") > 0)
			break;
	}
	if (!log_wait(&server, "accept", io_timeout()))
		harness_fail("-q hid the accept error (or there was none)");
	assert_int_equal(log_count(&server, "connected"), 0);
}

/* ---------------------------------------------------------------- -T */

/* The lines of text as an array (pointers into text, LFs replaced by NULs). */
static int split_lines(char *text, char **lines, int max)
{
	int n = 0;

	for (char *l = text; *l != '\0' && n < max;) {
		char *lf = strchr(l, '\n');
		if (lf == NULL)
			break;
		*lf = '\0';
		lines[n++] = l;
		l = lf + 1;
	}
	return n;
}

/* fd is among the members of the "{...}" set after key= in line. */
static bool set_has(const char *line, const char *key, int fd)
{
	char k[16];
	snprintf(k, sizeof(k), "%s={", key);
	const char *p = strstr(line, k);
	if (p == NULL)
		return false;
	p += strlen(k);
	while (*p != '}' && *p != '\0') {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p)
			return false;
		if (v == fd)
			return true;
		p = *end == ',' ? end + 1 : end;
	}
	return false;
}

static void trace_shows_the_event_loop_for_a_simple_echo(void **state)
{
	(void)state;
	static const char *const args[] = {"-T", "0", NULL};
	int fd = start_and_connect(args);
	char peer[64], want[64];

	peer_of(fd, peer, sizeof(peer));
	int sfd = check_connect_line(peer);
	check_echo(fd, "hello\n");
	snprintf(want, sizeof(want), "fd %d: WRITING -> READING", sfd);
	if (!log_wait(&server, want, io_timeout()))
		harness_fail("no trace line \"%s\"", want);

	char *log = proc_log(&server);
	char *lines[4096];
	int n = split_lines(log, lines, 4096);
	char read_line[64];
	snprintf(read_line, sizeof(read_line), "fd %d: read 6 bytes", sfd);
	int r = -1;
	for (int i = 0; i < n && r < 0; i++)
		if (strcmp(lines[i], read_line) == 0)
			r = i;
	if (r < 2) {
		free(log);
		harness_fail("no trace line \"%s\"", read_line);
	}

	/* Before the read: select waited with fd in readfds, woke with it
	 * ready. */
	const char *ready = lines[r - 1], *waiting = lines[r - 2];
	bool ok_ready = strncmp(ready, "select: ready", 13) == 0 &&
			set_has(ready, "read", sfd);
	bool ok_wait = strncmp(waiting, "select: waiting", 15) == 0 &&
		       set_has(waiting, "read", sfd) &&
		       strstr(waiting, "write={") != NULL &&
		       strstr(waiting, "timeout=") != NULL;
	/* Then, without another select (the optimistic write): */
	const char *expect[4];
	char e[4][64];
	snprintf(e[0], 64, "fd %d: read 6 bytes", sfd);
	snprintf(e[1], 64, "fd %d: READING -> WRITING (1 line)", sfd);
	snprintf(e[2], 64, "fd %d: wrote 6 of 6 bytes", sfd);
	snprintf(e[3], 64, "fd %d: WRITING -> READING", sfd);
	int bad = -1;
	for (int i = 0; i < 4; i++) {
		expect[i] = e[i];
		if (r + i >= n || strcmp(lines[r + i], expect[i]) != 0) {
			bad = i;
			break;
		}
	}
	char got[512] = "";
	if (bad >= 0)
		snprintf(got, sizeof(got), "%s",
			 r + bad < n ? lines[r + bad] : "(end of log)");
	char shown_ready[256], shown_wait[256];
	snprintf(shown_ready, sizeof(shown_ready), "%s", ready);
	snprintf(shown_wait, sizeof(shown_wait), "%s", waiting);
	free(log);
	if (!ok_wait)
		harness_fail("line before the read should be \"select: waiting "
			     "read={..%d..} write={..} timeout=..\": %s",
			     sfd, shown_wait);
	if (!ok_ready)
		harness_fail("line before the read should be \"select: ready "
			     "read={..%d..}\": %s",
			     sfd, shown_ready);
	if (bad >= 0)
		harness_fail("trace line %d after the select should be \"%s\", "
			     "is \"%s\"",
			     bad + 1, expect[bad], got);
}

static void trace_marks_partial_writes_and_shows_the_write_set(void **state)
{
	(void)state;
	static const char *const args[] = {"-T", "0", NULL};
	int fd = start_and_connect(args);
	char peer[64], want[64];
	unsigned char chunk[65536];

	peer_of(fd, peer, sizeof(peer));
	int sfd = check_connect_line(peer);
	/* A reader with a small buffer: the server's writes come up short. */
	(void)client_set_rcvbuf(fd, 4096);
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = i % 50 == 49 ? '\n' : 'p';
	for (int i = 0; i < 64; i++)
		if (client_send_all(fd, chunk, sizeof(chunk), 0.2) != 0)
			break; /* the server stopped reading: enough */
	snprintf(want, sizeof(want), "fd %d: wrote ", sfd);
	double deadline = now_s() + io_timeout();
	bool partial = false, in_write_set = false;
	while (!(partial && in_write_set) && now_s() < deadline) {
		char *log = proc_log(&server);
		char *lines[8192];
		int n = split_lines(log, lines, 8192);
		for (int i = 0; i < n; i++) {
			if (strncmp(lines[i], want, strlen(want)) == 0 &&
			    strstr(lines[i], "partial") != NULL)
				partial = true;
			if (strncmp(lines[i], "select: waiting", 15) == 0 &&
			    set_has(lines[i], "write", sfd))
				in_write_set = true;
		}
		free(log);
		sleep_s(0.01);
	}
	if (!partial)
		harness_fail("no \"fd %d: wrote X of Y bytes\" line marked "
			     "partial",
			     sfd);
	if (!in_write_set)
		harness_fail("fd %d never shown in the write set of select",
			     sfd);
}

static void trace_is_shown_even_with_quiet(void **state)
{
	(void)state;
	static const char *const args[] = {"-q", "-T", "0", NULL};
	int fd = start_and_connect(args);

	check_echo(fd, "hi\n");
	if (!log_wait(&server, "READING -> WRITING (1 line)", io_timeout()))
		harness_fail("-q -T: no trace of the echo");
	if (!log_wait(&server, "read 3 bytes", io_timeout()))
		harness_fail("-q -T: no trace of the read");
	assert_int_equal(log_count(&server, "connected"), 0);
}

static void no_trace_without_T(void **state)
{
	(void)state;
	static const char *const args[] = {"0", NULL};
	int fd = start_and_connect(args);
	char peer[64];

	peer_of(fd, peer, sizeof(peer));
	check_echo(fd, "hi\n");
	if (client_send_str(fd, "quit\n", io_timeout()) != 0)
		harness_fail("send");
	check_eof(fd, io_timeout());
	client_close(fd);
	char line[512];
	wait_line(peer, "closed", line, sizeof(line));
	assert_int_equal(log_count(&server, "select:"), 0);
	assert_int_equal(log_count(&server, "READING"), 0);
	/* Every line carries the prefix. */
	char *log = proc_log(&server);
	int unprefixed = 0;
	for (const char *l = log; *l != '\0';) {
		const char *lf = strchr(l, '\n');
		if (lf == NULL)
			break;
		if (strncmp(l, "echoserv: ", 10) != 0)
			unprefixed++;
		l = lf + 1;
	}
	free(log);
	assert_int_equal(unprefixed, 0);
}

static void trace_idle_server_sleeps_until_the_nearest_deadline(void **state)
{
	(void)state;
	static const char *const args[] = {"-T", "-t", "300", "0", NULL};
	int fd = start_and_connect(args);
	char peer[64], want[64], line[512];

	peer_of(fd, peer, sizeof(peer));
	int sfd = check_connect_line(peer);
	check_echo(fd, "hello\n");
	snprintf(want, sizeof(want), "fd %d: WRITING -> READING", sfd);
	if (!log_wait(&server, want, io_timeout()))
		harness_fail("no trace line \"%s\"", want);

	/* One idle client, nothing to do: the loop must sleep, not poll. */
	int before = log_count(&server, "select: waiting");
	sleep_s(1.0);
	int after = log_count(&server, "select: waiting");
	if (after - before > 1)
		harness_fail("an idle server went round its loop %d times in "
			     "1 s",
			     after - before);

	/* Its timeout is the client's idle deadline, about 300 s away. */
	char *log = proc_log(&server);
	const char *last = NULL;
	for (const char *p = strstr(log, "select: waiting"); p != NULL;
	     p = strstr(p + 1, "select: waiting"))
		last = p;
	bool found = last != NULL && find_line(last, "select: waiting", NULL,
					       line, sizeof(line));
	free(log);
	if (!found)
		harness_fail("no select: waiting line");
	const char *t = strstr(line, "timeout=");
	double timeout = t != NULL ? strtod(t + 8, NULL) : -1;
	if (timeout < 290 || timeout > 300.05)
		harness_fail("select timeout should be the idle deadline "
			     "(~300 s): %s",
			     line);
}

/* docs/protocol.md 3.4: many complete lines in one read are echoed with
 * one write, as the trace shows (so this rule is tested here, on echoserv
 * alone, not in test_protocol_rules.c). */
static void rule4_pipelined_lines_are_answered_with_one_write(void **state)
{
	(void)state;
	static const char *const args[] = {"-T", "0", NULL};
	int fd = start_and_connect(args);
	char lines[1001], want[80], line[256];

	/* The server's fd for this client, from its accept trace. */
	if (!log_wait(&server, "connected (fd ", io_timeout()))
		harness_fail("no connect line");
	char *log = proc_log(&server);
	assert_true(find_line(log, "connected (fd ", NULL, line, sizeof(line)));
	free(log);
	int sfd = atoi(strstr(line, "(fd ") + 4);

	for (int i = 0; i < 100; i++)
		snprintf(lines + i * 10, 11, "line %04d\n", i);
	if (client_send_all(fd, lines, 1000, io_timeout()) != 0)
		harness_fail("send: %s", strerror(errno));
	check_recv_bytes(fd, lines, 1000, io_timeout());

	snprintf(want, sizeof(want), "fd %d: READING -> WRITING (100 lines)",
		 sfd);
	if (!log_wait(&server, want, io_timeout()))
		harness_fail("no trace line \"%s\"", want);
	snprintf(want, sizeof(want), "fd %d: wrote 1000 of 1000 bytes", sfd);
	if (!log_wait(&server, want, io_timeout()))
		harness_fail("no trace line \"%s\"", want);

	char needle[32];
	snprintf(needle, sizeof(needle), "fd %d: wrote ", sfd);
	assert_int_equal(log_count(&server, needle), 1);
	snprintf(needle, sizeof(needle), "fd %d: read ", sfd);
	assert_int_equal(log_count(&server, needle), 1);
}

/* ====================== a stderr nobody reads ====================== */

/* Clients connect, echo a line and quit one after another, each making
 * the server log (with -T, a good deal); true if every one was served. */
static bool serve_in_turn(int port, int clients)
{
	for (int i = 0; i < clients; i++) {
		int fd = client_connect("127.0.0.1", port);
		if (fd < 0 || !client_echo(fd, "logged\n", io_timeout())) {
			fprintf(stderr, "client %d of %d was not served\n",
				i + 1, clients);
			if (fd >= 0)
				client_close(fd);
			return false;
		}
		client_close(fd);
	}
	return true;
}

/* Read what fd has until it has been quiet for `quiet` seconds (or
 * `limit` seconds have passed); what was read, NUL-terminated (freed by
 * the caller).  A datagram socket gives a line per read. */
static char *drain(int fd, double quiet, double limit)
{
	size_t cap = (size_t)4 << 20, len = 0;
	char *text = malloc(cap + 1);
	double end = now_s() + limit;

	assert_non_null(text);
	while (len < cap && now_s() < end) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)(quiet * 1000)) <= 0)
			break;
		ssize_t n = read(fd, text + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	text[len] = '\0';
	return text;
}

/* stderr on a terminal whose reader has stopped (an ssh session whose
 * network stalled): the server goes on serving, drops what does not fit,
 * and says how much once the terminal is read again. */
static void stalled_terminal_does_not_stop_service(void **state)
{
	(void)state;
	const struct proc_opts on_pty = {.stderr_pty = true};
	static const char *const args[] = {"-T", "0", NULL};
	int port = check_server_start(&server, &on_pty, args);

	/* Nobody reads the terminal now.  A blocking write of the log
	 * would stop the server after a few dozen clients. */
	assert_true(serve_in_turn(port, 1500));
	char *text = drain(server.err_pipe, 0.5, 10 * harness_scale());
	if (strstr(text, "log lines dropped") == NULL)
		harness_fail("no \"N log lines dropped\" report on the "
			     "terminal (%zu bytes read)",
			     strlen(text));
	free(text);
	assert_true(serve_in_turn(port, 5));
}

/* stderr a Unix datagram socket whose reader stalls once: logging
 * resumes, one line per datagram, with the report of what was dropped. */
static void stalled_datagram_log_resumes(void **state)
{
	(void)state;
	const struct proc_opts on_dgram = {.stderr_dgram = true};
	static const char *const args[] = {"-T", "0", NULL};
	int port = check_server_start(&server, &on_dgram, args);

	assert_true(serve_in_turn(port, 1500)); /* nobody reads meanwhile */
	char *text = drain(server.err_pipe, 0.5, 10 * harness_scale());
	bool reported = strstr(text, "log lines dropped") != NULL;
	free(text);
	if (!reported)
		harness_fail("no \"N log lines dropped\" report after the "
			     "stall");
	/* And the log goes on: the next client's lines arrive. */
	assert_true(serve_in_turn(port, 1));
	text = drain(server.err_pipe, 0.5, 5 * harness_scale());
	bool goes_on = strstr(text, "connected (fd") != NULL;
	free(text);
	if (!goes_on)
		harness_fail("the log stopped for good after the stall");
}

/* A stderr pipe whose reader has gone: bad usage still exits 2 and a
 * start-up failure 1 (writing the message fails; it does not kill). */
static void stderr_reader_gone_keeps_the_exit_status(void **state)
{
	(void)state;
	const struct proc_opts no_reader = {.stderr_no_reader = true};
	static const char *const bad_usage[] = {"--no-such-option", "0", NULL};
	static const char *const bad_addr[] = {"-b", "192.0.2.1", "0", NULL};

	assert_int_equal(
	    proc_run(&server, &no_reader, bad_usage, 5 * harness_scale()), 2);
	assert_int_equal(
	    proc_run(&server, &no_reader, bad_addr, 5 * harness_scale()), 1);
}

#define T(f) cmocka_unit_test_teardown(f, harness_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(log_connect_and_close_lines_for_quit),
	    T(log_close_reason_eof),
	    T(log_close_reason_timeout),
	    T(log_close_reason_line_too_long),
	    T(log_two_clients_get_their_own_lines),
	    T(log_close_reason_reset),
	    T(log_names_ipv6_peers_in_brackets),
	    T(quiet_keeps_listening_and_summary_lines_only),
	    T(quiet_still_logs_server_errors),
	    T(trace_shows_the_event_loop_for_a_simple_echo),
	    T(trace_idle_server_sleeps_until_the_nearest_deadline),
	    T(trace_marks_partial_writes_and_shows_the_write_set),
	    T(trace_is_shown_even_with_quiet),
	    T(no_trace_without_T),
	    T(rule4_pipelined_lines_are_answered_with_one_write),
	    T(stalled_terminal_does_not_stop_service),
	    T(stalled_datagram_log_resumes),
	    T(stderr_reader_gone_keeps_the_exit_status),
	};

	return harness_run(tests);
}
