/*
 * test_limits_faults.c - docs/protocol.md section 4: a client that does not
 * read, a client that resets, a flooding client, idle clients, capacity,
 * descriptor exhaustion and graceful shutdown.  One test per bullet (or per
 * case of a bullet), each against a fresh server.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka needs the three headers above it. */
#include <cmocka.h>

static struct proc server;

/* The most a flooding client sends before it must have been stopped. */
#define FLOOD_MAX ((size_t)256 * 1024 * 1024)
/* Lines of the flood stream: LINE_LEN bytes, the last one LF. */
#define LINE_LEN 100

/* Byte i of the stream flooding clients send: 100-byte lines whose content
 * depends on the line number, so a lost, repeated or reordered chunk shows. */
static unsigned char flood_byte(size_t i)
{
	size_t line = i / LINE_LEN, col = i % LINE_LEN;

	if (col == LINE_LEN - 1)
		return '\n';
	return (unsigned char)('a' + (line * 7 + col * 3 + line / 26) % 26);
}

static int start(const char *const *args)
{
	static const char *const none[] = {"0", NULL};
	return check_server_start(&server, NULL, args != NULL ? args : none);
}

static int connect_or_fail(int port)
{
	int fd = client_connect("127.0.0.1", port);
	if (fd < 0)
		harness_fail("connect: %s", strerror(errno));
	return fd;
}

/* Send the flood stream without reading until the server stops taking it;
 * fail if it never does.  Returns the bytes sent. */
static size_t flood_until_stalled(int fd)
{
	size_t sent = client_send_until_stalled(fd, flood_byte, 0, FLOOD_MAX,
						0.5 * harness_scale());
	if (sent == FLOOD_MAX)
		harness_fail("the server read %zu bytes from a client that "
			     "never reads: no backpressure",
			     sent);
	if (sent < LINE_LEN)
		harness_fail("could send only %zu bytes", sent);
	return sent;
}

/*
 * The server's close line for the client whose local port was local_port
 * (waits for it, generously: a server may linger a little before it closes
 * and logs); fails if none.  Tests that have seen EOF close their socket
 * first, so a lingering close never waits on them.
 */
static void close_line(int local_port, char *line, size_t len)
{
	char needle[96];

	snprintf(needle, sizeof(needle), "client 127.0.0.1:%d closed",
		 local_port);
	if (!log_wait(&server, needle, 5.0 * harness_scale()))
		harness_fail("no log line \"%s...\"", needle);
	char *log = proc_log(&server);
	bool found = find_line(log, needle, NULL, line, len);
	free(log);
	assert_true(found);
}

/* Close a client that has seen EOF; returns its local port for close_line. */
static int finish_client(int fd)
{
	int port = client_local_port(fd);
	client_close(fd);
	return port;
}

/* ------------------------------------------------------------ backpressure */

static void
backpressure_non_reading_client_stops_being_read_and_loses_nothing(void **state)
{
	(void)state;
	int port = start(NULL);
	long rss_before = proc_rss_kb(server.pid);
	int flooder = connect_or_fail(port);
	size_t sent = flood_until_stalled(flooder);

	/* The server must not have buffered what it stopped reading. */
	long rss_after = proc_rss_kb(server.pid);
	if (rss_before > 0 && rss_after > 0) {
		long grew_kb = rss_after - rss_before;
		print_message(
		    "flooder sent %zu bytes before the server stopped "
		    "reading; server RSS %ld kB -> %ld kB\n",
		    sent, rss_before, rss_after);
		if (grew_kb > 0 &&
		    (grew_kb > 8 * 1024 || (size_t)grew_kb * 1024 > sent / 2))
			harness_fail("server memory grew by %ld kB while a "
				     "client sent %zu bytes without reading",
				     grew_kb, sent);
	}

	/* Another client is served normally meanwhile. */
	int other = connect_or_fail(port);
	check_echo(other, "I am served\n");

	/* Now the flooder reads: every byte comes back, in order. */
	if (shutdown(flooder, SHUT_WR) != 0)
		harness_fail("shutdown: %s", strerror(errno));
	size_t bad;
	struct recv_result r = client_recv_check(
	    flooder, flood_byte, 0, sent + 1, 30.0 * harness_scale(), &bad);
	if (bad != (size_t)-1)
		harness_fail("echoed stream differs from what was sent at "
			     "byte %zu",
			     bad);
	if (r.end != RECV_EOF || r.len != sent)
		harness_fail("got back %zu of %zu bytes, then %s", r.len, sent,
			     recv_end_name(r.end));
	check_echo(other, "still served\n");
}

/* ------------------------------------------------------------ errors */

static void clients_that_reset_at_once_do_not_disturb_the_server(void **state)
{
	(void)state;
	int port = start(NULL);
	int steady = connect_or_fail(port);

	check_echo(steady, "before\n");
	/* Connect and reset at once, many times: some are gone before the
	 * server accepts them, some between its accept and its first read. */
	for (int i = 0; i < 50; i++) {
		int fd = connect_or_fail(port);
		if (i % 2 == 1)
			(void)client_send_str(fd, "half", io_timeout());
		client_reset(fd);
	}
	check_echo(steady, "after\n");
	int fresh = connect_or_fail(port);
	check_echo(fresh, "new client\n");
	assert_true(proc_alive(&server));
}

static void reset_mid_write_closes_only_that_client(void **state)
{
	(void)state;
	int port = start(NULL);
	int other = connect_or_fail(port);
	int victim = connect_or_fail(port);
	char line[512];

	check_echo(other, "before\n");
	/* A small receive buffer: the server's writes block sooner. */
	(void)client_set_rcvbuf(victim, 4096);
	(void)flood_until_stalled(victim);
	/* The server owes it replies; now it vanishes with a reset. */
	int victim_port = client_local_port(victim);
	client_reset(victim);
	close_line(victim_port, line, sizeof(line));
	if (strstr(line, "reset") == NULL)
		harness_fail("close reason is not 'reset': %s", line);

	check_echo(other, "after\n");
	int fresh = connect_or_fail(port);
	check_echo(fresh, "new client\n");
	assert_true(proc_alive(&server));
}

/* ------------------------------------------------------------ fairness */

/* Keep a flood going on fd for one poll round: send what fits, read and
 * count (and check) what came back.  Returns false on an error. */
static bool pump_flood(int fd, size_t *sent, size_t *got)
{
	unsigned char buf[65536];
	struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLOUT};

	if (poll(&pfd, 1, 0) < 0)
		return false;
	if (pfd.revents & POLLOUT) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = flood_byte(*sent + i);
		ssize_t n = send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
		if (n > 0)
			*sent += (size_t)n;
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			return false;
	}
	for (int rounds = 0; rounds < 16; rounds++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return n < 0 && (errno == EAGAIN || errno == EINTR);
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != flood_byte(*got + (size_t)i))
				return false;
		*got += (size_t)n;
	}
	return true;
}

static void fairness_flooding_client_does_not_starve_another(void **state)
{
	(void)state;
	int port = start(NULL);
	int flooder = connect_or_fail(port);
	int other = connect_or_fail(port);
	size_t sent = 0, got = 0;
	double worst = 0, limit = 0.5 * harness_scale();
	double end = now_s() + 1.5;
	int pings = 0;

	check_echo(other, "warm-up\n");
	while (now_s() < end) {
		char ping[32], reply[32];
		int len = snprintf(ping, sizeof(ping), "ping %d\n", pings++);

		/* Flood for a while, then ping. */
		for (double until = now_s() + 0.05; now_s() < until;)
			if (!pump_flood(flooder, &sent, &got))
				harness_fail("flood connection failed: %s",
					     strerror(errno));
		double t0 = now_s();
		if (client_send_all(other, ping, (size_t)len, io_timeout()) !=
		    0)
			harness_fail("send ping: %s", strerror(errno));
		size_t have = 0;
		while (have < (size_t)len && now_s() - t0 < 5.0 * limit) {
			if (!pump_flood(flooder, &sent, &got))
				harness_fail("flood connection failed");
			ssize_t n =
			    recv(other, reply + have, (size_t)len - have, 0);
			if (n > 0)
				have += (size_t)n;
			else if (n == 0)
				harness_fail("server closed the other client");
		}
		double latency = now_s() - t0;
		if (latency > worst)
			worst = latency;
		assert_bytes("ping reply", reply, have, ping, (size_t)len);
	}
	print_message("flooder: sent %zu, echoed %zu bytes; %d pings, worst "
		      "latency %.3f s\n",
		      sent, got, pings, worst);
	if (got < 256 * 1024)
		harness_fail("the flood hardly flowed (%zu bytes echoed): the "
			     "test proves nothing",
			     got);
	if (worst > limit)
		harness_fail("a ping took %.3f s while another client flooded "
			     "(limit %.3f s)",
			     worst, limit);
}

/* ------------------------------------------------------------ idle timeout */

static const char *const timeout1[] = {"-t", "1", "0", NULL};

static void idle_timeout_closes_an_idle_client_after_the_timeout(void **state)
{
	(void)state;
	int port = start(timeout1);
	int fd = connect_or_fail(port);
	double t0 = now_s();
	const char *msg = "error: idle timeout\r\n";
	char buf[64];

	struct recv_result r =
	    client_recv(fd, buf, strlen(msg), 3.0 * harness_scale() + 1.0);
	double elapsed = now_s() - t0;
	assert_bytes("idle client", buf, r.len, msg, strlen(msg));
	check_eof(fd, io_timeout());
	if (elapsed < 0.9)
		harness_fail("timed out after %.3f s with -t 1", elapsed);
	if (elapsed > 3.0 * harness_scale())
		harness_fail("timed out only after %.3f s with -t 1", elapsed);

	char line[512];
	close_line(finish_client(fd), line, sizeof(line));
	if (strstr(line, "timeout") == NULL)
		harness_fail("close reason is not 'timeout': %s", line);
}

static void idle_timeout_spares_a_client_that_keeps_sending(void **state)
{
	(void)state;
	int port = start(timeout1);
	int fd = connect_or_fail(port);

	/* A byte every 0.4 s for 2.4 s: progress each time, so no timeout
	 * although the line takes longer than the timeout to complete. */
	for (int i = 0; i < 6; i++) {
		if (client_send_str(fd, "a", io_timeout()) != 0)
			harness_fail("send: %s", strerror(errno));
		if (!client_silent(fd, 0.4))
			harness_fail("the server spoke (or closed) after %.1f "
				     "s of a slowly sent line",
				     0.4 * (i + 1));
	}
	if (client_send_str(fd, "\n", io_timeout()) != 0)
		harness_fail("send: %s", strerror(errno));
	check_recv(fd, "aaaaaa\n", io_timeout());
}

static void idle_timeout_counts_from_the_last_byte(void **state)
{
	(void)state;
	int port = start(timeout1);
	int fd = connect_or_fail(port);
	const char *msg = "error: idle timeout\r\n";
	char buf[64];

	sleep_s(0.6);
	check_echo(fd, "ping\n");
	double t0 = now_s();
	struct recv_result r =
	    client_recv(fd, buf, strlen(msg), 3.0 * harness_scale() + 1.0);
	double elapsed = now_s() - t0;
	assert_bytes("idle client", buf, r.len, msg, strlen(msg));
	if (elapsed < 0.9)
		harness_fail("timed out %.3f s after the last echo with -t 1",
			     elapsed);
	check_eof(fd, io_timeout());
}

static void idle_timeout_closes_a_client_that_stops_reading(void **state)
{
	(void)state;
	int port = start(timeout1);
	int fd = connect_or_fail(port);
	char line[512];

	/* The server owes it replies it will not take: no byte moves. */
	(void)client_set_rcvbuf(fd, 4096);
	(void)flood_until_stalled(fd);
	double t0 = now_s();
	close_line(client_local_port(fd), line, sizeof(line));
	double elapsed = now_s() - t0;
	if (strstr(line, "timeout") == NULL)
		harness_fail("close reason is not 'timeout': %s", line);
	print_message("closed %.2f s after the pipe filled\n", elapsed);
	assert_true(proc_alive(&server));
}

/* The freeze test: FREEZE_CLIENTS clients, each with FREEZE_BURST lines of
 * FREEZE_LINE bytes in flight, keep the server busy while it is stopped
 * and continued again FREEZES times, each stop longer than -t 1. */
#define FREEZE_CLIENTS 40
#define FREEZE_BURST   4
#define FREEZE_LINE    1000
#define FREEZES        4

struct busy_client {
	int fd;
	size_t owed; /* bytes of the burst in flight not yet echoed */
	char got[FREEZE_BURST * FREEZE_LINE];
};

/* Send a client's next burst: FREEZE_BURST lines of its own letter. */
static void send_burst(struct busy_client *b, int i)
{
	static char burst[FREEZE_BURST * FREEZE_LINE];

	memset(burst, 'a' + i % 26, sizeof(burst));
	for (int l = 1; l <= FREEZE_BURST; l++)
		burst[l * FREEZE_LINE - 1] = '\n';
	assert_int_equal(
	    client_send_all(b->fd, burst, sizeof(burst), io_timeout()), 0);
	b->owed = sizeof(burst);
}

/* Read what a ready client has; false if the echo went wrong (a notice,
 * EOF, a wrong byte). */
static bool take_echo(struct busy_client *b, int i)
{
	size_t at = sizeof(b->got) - b->owed;
	ssize_t n = recv(b->fd, b->got + at, b->owed, 0);

	if (n <= 0)
		return false;
	for (ssize_t k = 0; k < n; k++) {
		size_t pos = at + (size_t)k;
		char want = pos % FREEZE_LINE == FREEZE_LINE - 1
				? '\n'
				: (char)('a' + i % 26);
		if (b->got[pos] != want)
			return false;
	}
	b->owed -= (size_t)n;
	if (b->owed == 0)
		send_burst(b, i);
	return true;
}

/* Take every echo and answer it with the next burst for `seconds`;
 * false if an echo went wrong (its client is named on stderr). */
static bool keep_busy(struct busy_client *c, double seconds)
{
	struct pollfd pfd[FREEZE_CLIENTS];
	double until = now_s() + seconds;

	while (now_s() < until) {
		for (int i = 0; i < FREEZE_CLIENTS; i++)
			pfd[i] = (struct pollfd){c[i].fd, POLLIN, 0};
		int ready = poll(pfd, FREEZE_CLIENTS, ms_until(until));
		for (int i = 0; ready > 0 && i < FREEZE_CLIENTS; i++)
			if (pfd[i].revents != 0 && !take_echo(&c[i], i)) {
				fprintf(stderr, "client %d: echo broke off\n",
					i);
				return false;
			}
	}
	return true;
}

/* SIGSTOP p, if it can be caught running within a moment (not asleep in
 * select): then the stop lands in the middle of a round. */
static void stop_while_running(struct proc *p)
{
	for (double until = now_s() + 0.2; now_s() < until;)
		if (proc_run_state(p->pid) == 'R')
			break;
	assert_int_equal(proc_signal(p, SIGSTOP), 0);
}

/*
 * A process frozen in the middle of a round (SIGSTOP, a debugger, a cgroup
 * freezer) must not date the work it does after the thaw before the
 * freeze: clients it served a moment ago are not idle.  Busy clients,
 * freezes longer than the idle timeout: no one is timed out.
 */
static void idle_timeout_spares_clients_served_across_a_freeze(void **state)
{
	(void)state;
	static const char *const args[] = {"-t", "1", "0", NULL};
	int port = check_server_start(&server, NULL, args);
	static struct busy_client c[FREEZE_CLIENTS];

	for (int i = 0; i < FREEZE_CLIENTS; i++) {
		c[i].fd = client_connect("127.0.0.1", port);
		assert_true(c[i].fd >= 0);
		send_burst(&c[i], i);
	}
	/* Busy for a moment, frozen for longer than -t 1 while the clients
	 * go on (what is echoed before the freeze is taken and answered),
	 * and so on; then busy a while after the last thaw. */
	for (int f = 0; f <= FREEZES; f++) {
		if (!keep_busy(c, 0.3 + 0.1 * f))
			harness_fail("an echo broke off before freeze %d",
				     f + 1);
		if (f == FREEZES)
			break;
		stop_while_running(&server);
		if (!keep_busy(c, 1.5))
			harness_fail("an echo broke off during freeze %d",
				     f + 1);
		assert_int_equal(proc_signal(&server, SIGCONT), 0);
		/* A pause of the clients' own, far shorter than -t 1: what
		 * the server serves right after the thaw is not answered at
		 * once, so a stamp dated before the freeze would show. */
		sleep_s(0.1);
	}
	assert_int_equal(log_count(&server, "timeout"), 0);
}

/* ------------------------------------------------------------ capacity */

static void capacity_client_beyond_max_clients_gets_server_full(void **state)
{
	(void)state;
	static const char *const args[] = {"-c", "2", "0", NULL};
	int port = start(args);
	int a = connect_or_fail(port);
	int b = connect_or_fail(port);

	check_echo(a, "a\n");
	check_echo(b, "b\n");
	int c = connect_or_fail(port);
	check_recv(c, "error: server full\r\n", io_timeout());
	check_eof(c, io_timeout());

	char needle[96];
	snprintf(needle, sizeof(needle), "127.0.0.1:%d", client_local_port(c));
	if (!log_wait(&server, "server full", io_timeout()))
		harness_fail("no 'server full' log line");
	char line[512], *log = proc_log(&server);
	bool found = find_line(log, "server full", NULL, line, sizeof(line));
	free(log);
	assert_true(found);
	if (strstr(line, needle) == NULL)
		harness_fail("'server full' line does not name the peer %s: %s",
			     needle, line);
	/* One line for the turned-away client, not a connect and a close. */
	strcat(needle, " ");
	if (log_count(&server, needle) != 1)
		harness_fail("%d log lines name the turned-away client %s",
			     log_count(&server, needle), needle);

	/* The two clients are unaffected... */
	check_echo(a, "a again\n");
	check_echo(b, "b again\n");
	/* ...and when one leaves, a newcomer is served. */
	check_echo(a, "bye\n");
	if (client_send_str(a, "quit\n", io_timeout()) != 0)
		harness_fail("send quit");
	check_eof(a, io_timeout());
	char aline[512];
	close_line(finish_client(a), aline, sizeof(aline));
	int d = connect_or_fail(port);
	check_echo(d, "d\n");
}

/* A client that has said quit stops counting against -c at once, even
 * while the server waits for it to close its socket (lingering close). */
static void capacity_finished_client_frees_its_slot_at_once(void **state)
{
	(void)state;
	static const char *const args[] = {"-c", "1", "0", NULL};
	int port = start(args);
	int a = connect_or_fail(port);

	assert_int_equal(client_send_str(a, "hi\nquit\n", io_timeout()), 0);
	check_recv(a, "hi\n", io_timeout());
	check_eof(a, io_timeout());
	/* a keeps its socket open; the next client must still be served. */
	int b = connect_or_fail(port);
	check_echo(b, "b\n");
	int c = connect_or_fail(port);
	check_recv(c, "error: server full\r\n", io_timeout());
	check_eof(c, io_timeout());
}

/*
 * With descriptors to spare (RLIMIT_NOFILE 4096) and the default
 * --max-clients, more clients than select() can watch: those beyond the
 * capacity are turned away with "server full", never put in an fd_set (the
 * ASan build would catch the overflow), and the rest are served.
 */
static void capacity_beyond_fd_setsize_turns_clients_away(void **state)
{
	(void)state;
	enum { TOTAL = FD_SETSIZE + 8 };
	static const char *const args[] = {"0", NULL};
	struct proc_opts opts = {.nofile = 4096};
	struct rlimit rl;

	/* We hold one socket per client ourselves. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < TOTAL + 64) {
		rl.rlim_cur =
		    rl.rlim_max < TOTAL + 64 ? rl.rlim_max : TOTAL + 64;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		if (getrlimit(RLIMIT_NOFILE, &rl) != 0 ||
		    rl.rlim_cur < TOTAL + 64) {
			print_message("RLIMIT_NOFILE too low for this test\n");
			skip();
		}
	}
	int port = check_server_start(&server, &opts, args);
	static int fds[TOTAL];
	for (int i = 0; i < TOTAL; i++)
		fds[i] = connect_or_fail(port);

	/* Wait until the server has decided about every one of them. */
	double deadline = now_s() + 10.0 * harness_scale();
	int served = 0, full = 0;
	for (;;) {
		served = log_count(&server, " connected");
		full = log_count(&server, "server full");
		if (served + full >= TOTAL || now_s() >= deadline)
			break;
		sleep_s(0.01);
	}
	print_message("%d clients served, %d turned away\n", served, full);
	if (served + full != TOTAL)
		harness_fail("of %d clients, %d were served and %d turned away",
			     TOTAL, served, full);
	if (served >= FD_SETSIZE || full < TOTAL - (FD_SETSIZE - 3))
		harness_fail("%d clients served: more than select() can watch",
			     served);

	/* Connections are accepted in order: the first ones are served. */
	for (int i = served; i < TOTAL; i++) {
		check_recv(fds[i], "error: server full\r\n", io_timeout());
		check_eof(fds[i], io_timeout());
	}
	for (int i = 0; i < served; i++) {
		char line[32];
		snprintf(line, sizeof(line), "client %d\n", i);
		check_echo(fds[i], line);
	}
	assert_true(proc_alive(&server));
}

/* ------------------------------------------------------------ EMFILE */

/* Connect a client and see what the server does with it: 1 if it echoes,
 * 0 if it is turned away (closed, perhaps after an "error: " message),
 * -1 if neither happens in time. */
static int try_client(int port, int *fd_out)
{
	char buf[64];
	int fd = connect_or_fail(port);

	*fd_out = fd;
	if (client_send_str(fd, "ping\n", io_timeout()) != 0)
		return 0; /* already reset: turned away */
	struct recv_result r = client_recv_all(fd, buf, 5, io_timeout());
	if (r.len == 5 && memcmp(buf, "ping\n", 5) == 0)
		return 1;
	if (r.end == RECV_EOF || r.end == RECV_RESET)
		return 0;
	if (r.len > 0 && memcmp(buf, "error", r.len < 5 ? r.len : 5) == 0) {
		r = client_recv_all(fd, buf, sizeof(buf), io_timeout());
		if (r.end == RECV_EOF || r.end == RECV_RESET)
			return 0;
	}
	return -1;
}

static void emfile_extra_clients_are_shed_without_busy_loop(void **state)
{
	(void)state;
	static const char *const args[] = {"0", NULL};
	struct proc_opts opts = {.nofile = 16};
	int port = check_server_start(&server, &opts, args);
	int served[64], nserved = 0, fd = -1, verdict = 1;

	/* Open clients until one is turned away. */
	while (nserved < 40 && (verdict = try_client(port, &fd)) == 1)
		served[nserved++] = fd;
	if (verdict != 0)
		harness_fail("with RLIMIT_NOFILE 16, client %d was neither "
			     "served nor turned away",
			     nserved + 1);
	client_close(fd);
	print_message("%d clients served under RLIMIT_NOFILE 16\n", nserved);
	if (nserved < 1)
		harness_fail("no client served at all");
	if (!log_wait(&server, "accept", io_timeout()))
		harness_fail("no accept error logged");

	/* More clients knock and are turned away; meanwhile the server must
	 * not spin. */
	long ticks0 = proc_cpu_ticks(server.pid);
	double t0 = now_s();
	for (int i = 0; i < 5; i++) {
		int v = try_client(port, &fd);
		if (v != 0)
			harness_fail("extra client %d: %s", i,
				     v == 1 ? "served beyond the fd limit"
					    : "neither served nor shed");
		client_close(fd);
	}
	int pending[5];
	for (int i = 0; i < 5; i++)
		pending[i] = connect_or_fail(port);
	sleep_s(1.0 - (now_s() - t0));
	long ticks1 = proc_cpu_ticks(server.pid);
	long hz = sysconf(_SC_CLK_TCK);
	if (ticks0 >= 0 && ticks1 >= 0 && hz > 0) {
		double cpu = (double)(ticks1 - ticks0) / (double)hz;
		print_message("server CPU over %.2f s of refused connects: "
			      "%.2f s\n",
			      now_s() - t0, cpu);
		if (cpu > 0.3)
			harness_fail(
			    "server used %.2f s of CPU in %.2f s while "
			    "out of descriptors: a busy loop",
			    cpu, now_s() - t0);
	}
	for (int i = 0; i < 5; i++)
		client_close(pending[i]);

	/* Served clients still are; after two leave, a newcomer is served. */
	check_echo(served[0], "still here\n");
	for (int i = 0; i < 2 && i < nserved; i++) {
		char line[512];
		if (client_send_str(served[i], "quit\n", io_timeout()) != 0)
			harness_fail("send quit");
		check_eof(served[i], io_timeout());
		close_line(finish_client(served[i]), line, sizeof(line));
	}
	int v = try_client(port, &fd);
	if (v != 1)
		harness_fail("after clients left, a new client was %s",
			     v == 0 ? "turned away" : "not answered");
	assert_true(proc_alive(&server));
}

/* ------------------------------------------------------------ shutdown */

static double exit_limit(void)
{
	/* docs/protocol.md §4: within 3 s of the signal in all cases. */
	return harness_sanitized() ? 4.0 : 3.0;
}

static void sigterm_delivers_queued_replies_then_exits_0(void **state)
{
	(void)state;
	int port = start(NULL);
	int fd = connect_or_fail(port);
	size_t sent = flood_until_stalled(fd);

	double t0 = now_s();
	if (proc_signal(&server, SIGTERM) != 0)
		harness_fail("kill: %s", strerror(errno));
	size_t bad;
	struct recv_result r = client_recv_check(fd, flood_byte, 0, sent + 1,
						 exit_limit() + 1.0, &bad);
	print_message("sent %zu bytes, got back %zu, then %s\n", sent, r.len,
		      recv_end_name(r.end));
	if (bad != (size_t)-1)
		harness_fail("reply stream differs from what was sent at byte "
			     "%zu",
			     bad);
	int st = proc_wait(&server, exit_limit() - (now_s() - t0));
	if (st != 0)
		harness_fail("exit status %d (-1: still running %.1f s after "
			     "SIGTERM)",
			     st, now_s() - t0);
	if (log_count(&server, "echoserv: shutdown:") != 1)
		harness_fail("no shutdown summary line");

	/* Every byte the server says it echoed must have arrived. */
	char line[512];
	close_line(finish_client(fd), line, sizeof(line));
	const char *counts = strstr(line, "lines, ");
	if (counts != NULL) {
		unsigned long long echoed = strtoull(counts + 7, NULL, 10);
		if (echoed != r.len)
			harness_fail("the server logged %llu bytes echoed to "
				     "the client, which got %zu, then %s: "
				     "written replies were destroyed",
				     echoed, r.len, recv_end_name(r.end));
	}
	if (r.len == 0)
		harness_fail("no queued reply was delivered");
	if (r.len % LINE_LEN != 0)
		harness_fail("got %zu bytes, which ends in the middle of a "
			     "line (then %s): replies were cut",
			     r.len, recv_end_name(r.end));
	if (r.end != RECV_EOF)
		harness_fail("the replies ended with %s, not a clean EOF",
			     recv_end_name(r.end));
}

static void sigterm_with_a_client_that_never_reads_exits_0_in_time(void **state)
{
	(void)state;
	int port = start(NULL);
	int fd = connect_or_fail(port);

	(void)client_set_rcvbuf(fd, 4096);
	(void)flood_until_stalled(fd);
	double t0 = now_s();
	if (proc_signal(&server, SIGTERM) != 0)
		harness_fail("kill: %s", strerror(errno));
	int st = proc_wait(&server, exit_limit());
	double took = now_s() - t0;
	if (st != 0)
		harness_fail("exit status %d (-1: still running after %.1f s)",
			     st, took);
	print_message("exited %.2f s after SIGTERM\n", took);
	if (log_count(&server, "echoserv: shutdown:") != 1)
		harness_fail("no shutdown summary line");
}

static void second_sigterm_during_the_drain_exits_1_at_once(void **state)
{
	(void)state;
	int port = start(NULL);
	int fd = connect_or_fail(port);

	(void)client_set_rcvbuf(fd, 4096);
	(void)flood_until_stalled(fd);
	if (proc_signal(&server, SIGTERM) != 0)
		harness_fail("kill: %s", strerror(errno));
	/* Let the first signal be seen (the drain has begun) ... */
	if (!log_wait(&server, "shutting down", io_timeout()))
		harness_fail("no log line saying the drain began");
	assert_true(proc_alive(&server));
	/* ... then the second one abandons it. */
	double t0 = now_s();
	if (proc_signal(&server, SIGTERM) != 0)
		harness_fail("kill: %s", strerror(errno));
	int st = proc_wait(&server, 1.0 * harness_scale());
	if (st != 1)
		harness_fail("exit status %d after the second SIGTERM (-1: "
			     "still running after %.1f s), want 1",
			     st, now_s() - t0);
}

static void sigint_on_an_idle_server_exits_0_with_a_summary(void **state)
{
	(void)state;
	int port = start(NULL);
	int fd = connect_or_fail(port);
	char line[512];

	check_echo(fd, "hello\n");
	check_echo(fd, "world\n");
	if (client_send_str(fd, "quit\n", io_timeout()) != 0)
		harness_fail("send quit");
	check_eof(fd, io_timeout());
	close_line(finish_client(fd), line, sizeof(line));

	if (proc_signal(&server, SIGINT) != 0)
		harness_fail("kill: %s", strerror(errno));
	int st = proc_wait(&server, exit_limit());
	if (st != 0)
		harness_fail("exit status %d after SIGINT, want 0", st);
	char *log = proc_log(&server);
	bool found =
	    find_line(log, "echoserv: shutdown:", NULL, line, sizeof(line));
	free(log);
	if (!found)
		harness_fail("no shutdown summary line");
	if (strstr(line, "1 client") == NULL ||
	    strstr(line, "2 lines") == NULL || strstr(line, "12 bytes") == NULL)
		harness_fail("summary should count 1 client, 2 lines, 12 "
			     "bytes: %s",
			     line);
}

static void sigterm_right_after_start_exits_0(void **state)
{
	(void)state;
	start(NULL);
	if (proc_signal(&server, SIGTERM) != 0)
		harness_fail("kill: %s", strerror(errno));
	int st = proc_wait(&server, exit_limit());
	if (st != 0)
		harness_fail("exit status %d after SIGTERM, want 0", st);
	char line[512], *log = proc_log(&server);
	bool found =
	    find_line(log, "echoserv: shutdown:", NULL, line, sizeof(line));
	free(log);
	if (!found || strstr(line, "0 clients") == NULL)
		harness_fail("summary should count 0 clients: %s",
			     found ? line : "(none)");
}

static void shutdown_stops_accepting_and_reading(void **state)
{
	(void)state;
	int port = start(NULL);
	int staller = connect_or_fail(port);
	int idle = connect_or_fail(port);

	check_echo(idle, "before\n");
	/* A client that never reads keeps the drain going for 2 s. */
	(void)client_set_rcvbuf(staller, 4096);
	(void)flood_until_stalled(staller);
	if (proc_signal(&server, SIGTERM) != 0)
		harness_fail("kill: %s", strerror(errno));
	if (!log_wait(&server, "shutting down", io_timeout()))
		harness_fail("no log line saying the drain began");
	assert_true(proc_alive(&server));

	/* The idle client is not read any more: no echo, just the close. */
	(void)client_send_str(idle, "after\n", io_timeout());
	char buf[64];
	struct recv_result r =
	    client_recv_all(idle, buf, sizeof(buf), io_timeout());
	if (r.len > 0)
		assert_bytes("idle client after SIGTERM", buf, r.len, "", 0);
	if (r.end != RECV_EOF && r.end != RECV_RESET)
		harness_fail("idle client not closed during the drain: %s",
			     recv_end_name(r.end));

	/* A newcomer is refused, or at least never served. */
	int late = client_connect("127.0.0.1", port);
	if (late >= 0) {
		(void)client_send_str(late, "late\n", io_timeout());
		r = client_recv_all(late, buf, sizeof(buf), io_timeout());
		if (r.len > 0 || (r.end != RECV_EOF && r.end != RECV_RESET))
			harness_fail("a client connecting during the drain "
				     "got %zu bytes then %s",
				     r.len, recv_end_name(r.end));
	}
	int st = proc_wait(&server, exit_limit());
	if (st != 0)
		harness_fail("exit status %d", st);
}

/* SIGUSR1 logs one status line and changes nothing; SIGUSR2 and SIGALRM
 * are ignored: a stray signal does not end the server.  SIGTERM still
 * drains it. */
static void sigusr1_logs_status_and_stray_signals_are_ignored(void **state)
{
	(void)state;
	static const char *const args[] = {"-q", "0", NULL};
	int port = check_server_start(&server, NULL, args);
	int fd = client_connect("127.0.0.1", port);

	assert_true(fd >= 0);
	check_echo(fd, "before\n");
	assert_int_equal(proc_signal(&server, SIGUSR1), 0);
	assert_true(log_wait(&server,
			     "status: 1 client, 0 lingering; served 1, echoed "
			     "1 lines, 7 bytes so far",
			     io_timeout()));
	assert_int_equal(proc_signal(&server, SIGUSR2), 0);
	assert_int_equal(proc_signal(&server, SIGALRM), 0);
	check_echo(fd, "after\n"); /* the signals have been handled by now */
	assert_true(proc_alive(&server));
	assert_int_equal(proc_signal(&server, SIGTERM), 0);
	assert_int_equal(proc_wait(&server, 5 * harness_scale()), 0);
	assert_true(log_wait(&server, "shutdown: served 1 client", 0.1));
}

#define T(f) cmocka_unit_test_teardown(f, harness_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(backpressure_non_reading_client_stops_being_read_and_loses_nothing),
	    T(reset_mid_write_closes_only_that_client),
	    T(clients_that_reset_at_once_do_not_disturb_the_server),
	    T(fairness_flooding_client_does_not_starve_another),
	    T(idle_timeout_closes_an_idle_client_after_the_timeout),
	    T(idle_timeout_spares_a_client_that_keeps_sending),
	    T(idle_timeout_counts_from_the_last_byte),
	    T(idle_timeout_closes_a_client_that_stops_reading),
	    T(idle_timeout_spares_clients_served_across_a_freeze),
	    T(capacity_client_beyond_max_clients_gets_server_full),
	    T(capacity_finished_client_frees_its_slot_at_once),
	    T(capacity_beyond_fd_setsize_turns_clients_away),
	    T(emfile_extra_clients_are_shed_without_busy_loop),
	    T(sigterm_delivers_queued_replies_then_exits_0),
	    T(sigterm_with_a_client_that_never_reads_exits_0_in_time),
	    T(second_sigterm_during_the_drain_exits_1_at_once),
	    T(sigint_on_an_idle_server_exits_0_with_a_summary),
	    T(sigterm_right_after_start_exits_0),
	    T(shutdown_stops_accepting_and_reading),
	    T(sigusr1_logs_status_and_stray_signals_are_ignored),
	};

	return harness_run(tests);
}
