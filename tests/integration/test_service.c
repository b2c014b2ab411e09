/*
 * test_service.c - echoserv as a network service (docs/protocol.md 3.9 and
 * section 7): RFC 862 raw echo, systemd socket activation with systemd's
 * own systemd-socket-activate, dropping root with --user, timestamps.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka needs the three headers above it. */
#include <cmocka.h>

static struct proc server;

static int start(const char *const *args)
{
	return check_server_start(&server, NULL, args);
}

static int connect_or_fail(int port)
{
	int fd = client_connect("127.0.0.1", port);
	if (fd < 0)
		harness_fail("connect: %s", strerror(errno));
	return fd;
}

/* Byte i of a binary stream with every byte value, LF, CR and NUL too. */
static unsigned char binary_byte(size_t i)
{
	uint32_t x = (uint32_t)i * 2654435761u;
	return (unsigned char)(x >> 13 ^ i);
}

/* ============================== raw ============================== */

/* Bytes with no newline come straight back: no framing at all. */
static void raw_echoes_a_message_without_a_newline(void **state)
{
	(void)state;
	static const char *const args[] = {"--raw", "0", NULL};
	int fd = connect_or_fail(start(args));

	assert_int_equal(client_send_str(fd, "ping", io_timeout()), 0);
	check_recv(fd, "ping", io_timeout());
	assert_int_equal(client_send_str(fd, "x", io_timeout()), 0);
	check_recv(fd, "x", io_timeout());
}

/* No quit and no line limit: "quit" is data, and so is a "line" far
 * longer than --max-line. */
static void raw_has_no_quit_and_no_line_limit(void **state)
{
	(void)state;
	static const char *const args[] = {"--raw", "-l", "16", "0", NULL};
	int fd = connect_or_fail(start(args));
	char big[5000];

	check_echo(fd, "quit\n");
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(client_send_str(fd, big, io_timeout()), 0);
	check_recv(fd, big, io_timeout());
	check_echo(fd, "still open\n");
}

/* Payloads of every size from 1 byte to 1 MiB, binary, echoed exactly;
 * after half-close the server closes cleanly. */
static void raw_binary_payloads_are_echoed_byte_exact(void **state)
{
	(void)state;
	static const char *const args[] = {"--raw", "0", NULL};
	int port = start(args);
	static unsigned char want[1 << 20], got[1 << 20];

	for (size_t size = 1; size <= sizeof(want); size *= 4) {
		size_t n = size == 1 << 20 ? size : size + size / 3;
		int fd = connect_or_fail(port);
		for (size_t i = 0; i < n; i++)
			want[i] = binary_byte(i + size);
		/* Send and receive at once: the server stops reading while
		 * its replies are unsent (backpressure), so sending the
		 * whole MiB before reading any would stall. */
		size_t sent = 0, recvd = 0;
		double deadline = now_s() + 10 * harness_scale();
		while (recvd < n && now_s() < deadline) {
			if (sent < n) {
				size_t piece =
				    n - sent < 7919 ? n - sent : 7919;
				if (client_send_all(fd, want + sent, piece,
						    io_timeout()) != 0)
					harness_fail("send failed at %zu",
						     sent);
				sent += piece;
			}
			struct recv_result r =
			    client_recv(fd, got + recvd, sent - recvd, 0.01);
			recvd += r.len;
			if (r.end == RECV_EOF || r.end == RECV_RESET)
				break;
		}
		assert_bytes("raw echo", got, recvd, want, n);
		shutdown(fd, SHUT_WR);
		check_eof(fd, io_timeout());
		client_close(fd);
	}
}

/* A client that sends without reading stops being read (backpressure),
 * and everything it sent still comes back once it reads. */
static void raw_backpressure_loses_nothing(void **state)
{
	(void)state;
	static const char *const args[] = {"--raw", "0", NULL};
	int fd = connect_or_fail(start(args));

	size_t sent = client_send_until_stalled(fd, binary_byte, 0,
						(size_t)64 << 20, 0.5);
	if (sent >= (size_t)64 << 20)
		harness_fail("the server read 64 MiB from a client that does "
			     "not read");
	shutdown(fd, SHUT_WR);
	size_t mismatch;
	struct recv_result r = client_recv_check(
	    fd, binary_byte, 0, sent + 1, 10 * harness_scale(), &mismatch);
	if (mismatch != (size_t)-1)
		harness_fail("byte %zu differs", mismatch);
	if (r.len != sent || r.end != RECV_EOF)
		harness_fail("got %zu of %zu bytes back, then %s", r.len, sent,
			     recv_end_name(r.end));
}

/* The logs and the trace say raw. */
static void raw_is_named_in_the_logs_and_the_trace(void **state)
{
	(void)state;
	static const char *const args[] = {"--raw", "-T", "0", NULL};
	int fd = connect_or_fail(start(args));

	assert_int_equal(client_send_str(fd, "12345", io_timeout()), 0);
	check_recv(fd, "12345", io_timeout());
	shutdown(fd, SHUT_WR);
	check_eof(fd, io_timeout());
	assert_true(log_wait(&server, "raw mode (RFC 862)", io_timeout()));
	assert_true(log_wait(&server, "READING -> WRITING (raw, 5 bytes)",
			     io_timeout()));
	assert_true(
	    log_wait(&server, "): eof; echoed 5 bytes raw", io_timeout()));
}

/* ============================== socket activation
 * ============================== */

/* Start the server under systemd-socket-activate on 127.0.0.1:port. */
static void start_activated(int port, const char *const *args)
{
	const struct proc_opts activated = {.wrapper = "socket-activate.sh"};
	char listen[64];

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	setenv("WRAP_LISTEN", listen, 1);
	assert_int_equal(proc_spawn(&server, &activated, args), 0);
	if (!log_wait(&server, "Listening on", 5 * harness_scale()))
		harness_fail("systemd-socket-activate did not listen");
}

/* The socket systemd bound is served: no port argument, the listening
 * line names it, and a client is echoed. */
static void activation_serves_the_inherited_socket(void **state)
{
	(void)state;
	static const char *const args[] = {NULL};
	int port = free_loopback_port();
	char want[64];

	start_activated(port, args);
	int fd = connect_or_fail(port); /* the tool execs us on this */
	check_echo(fd, "hello via systemd\n");
	snprintf(want, sizeof(want), "echoserv: listening on 127.0.0.1:%d",
		 port);
	assert_true(log_wait(&server, want, io_timeout()));
	/* One socket, the tool's: the server bound nothing itself. */
	assert_int_equal(log_count(&server, "echoserv: listening on"), 1);
	int second = connect_or_fail(port);
	check_echo(second, "second client\n");
	proc_signal(&server, SIGTERM);
	assert_int_equal(proc_wait(&server, 5 * harness_scale()), 0);
	assert_true(log_wait(&server, "shutdown: served 2 clients", 0.1));
}

/* A Unix-domain socket passed by systemd is served too, and its clients
 * are named as such in the log (they have no address or port). */
static void activation_serves_a_unix_socket(void **state)
{
	(void)state;
	const struct proc_opts activated = {.wrapper = "socket-activate.sh"};
	static const char *const args[] = {NULL};
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	char want[160];

	snprintf(un.sun_path, sizeof(un.sun_path),
		 "/tmp/echoserv-test-%ld.sock", (long)getpid());
	unlink(un.sun_path);
	setenv("WRAP_LISTEN", un.sun_path, 1);
	assert_int_equal(proc_spawn(&server, &activated, args), 0);
	if (!log_wait(&server, "Listening on", 5 * harness_scale()))
		harness_fail("systemd-socket-activate did not listen");
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	check_echo(fd, "over a Unix socket\n");
	snprintf(want, sizeof(want), "echoserv: listening on unix:%s",
		 un.sun_path);
	assert_true(log_wait(&server, want, io_timeout()));
	assert_true(
	    log_wait(&server, "client unix:(unnamed) connected", io_timeout()));
	close(fd);
	assert_true(
	    log_wait(&server, "client unix:(unnamed) closed", io_timeout()));
	assert_int_equal(log_count(&server, "unknown address family"), 0);
	assert_int_equal(log_count(&server, "still root"), 0);
	unlink(un.sun_path);
}

/* With sockets passed, a port or --bind is a usage error, not ignored. */
static void activation_refuses_a_port_as_well(void **state)
{
	(void)state;
	static const char *const args[] = {"7777", NULL};
	int port = free_loopback_port();

	start_activated(port, args);
	int fd = client_connect("127.0.0.1", port);
	assert_int_equal(proc_wait(&server, 5 * harness_scale()), 2);
	assert_true(log_wait(&server,
			     "no port or --bind with sockets passed "
			     "by systemd",
			     0.1));
	if (fd >= 0)
		client_close(fd);
}

/* LISTEN_PID of another process: the sockets are not ours, so a port is
 * needed as usual. */
static void activation_for_another_pid_is_ignored(void **state)
{
	(void)state;
	static const char *const args[] = {NULL};

	setenv("LISTEN_PID", "1", 1);
	setenv("LISTEN_FDS", "1", 1);
	int rc = proc_run(&server, NULL, args, 5 * harness_scale());
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	assert_int_equal(rc, 2);
	assert_true(log_wait(&server, "missing port", 0.1));
}

/* ============================== --user ============================== */

/* The real, effective, saved (and filesystem) id of a Uid: or Gid: line
 * of /proc/PID/status, all four equal to want. */
static void check_ids(pid_t pid, const char *field, long want)
{
	char path[64], line[256];
	long id[4] = {-1, -1, -1, -1};

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		print_message("skipped: no /proc to read the ids from\n");
		skip();
	}
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, strlen(field)) == 0)
			sscanf(line + strlen(field), "%ld %ld %ld %ld", &id[0],
			       &id[1], &id[2], &id[3]);
	fclose(f);
	for (int i = 0; i < 4; i++)
		if (id[i] != want)
			harness_fail("%s id %d of 4 is %ld, want %ld", field, i,
				     id[i], want);
}

/* Started as root with --user nobody: every id is nobody's once it is
 * listening, supplementary groups are gone, and it still serves. */
static void user_drops_every_id_after_binding(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		print_message("skipped: needs root to drop privileges\n");
		skip();
	}
	static const char *const args[] = {"--user", "nobody", "0", NULL};
	int fd = connect_or_fail(start(args));
	check_echo(fd, "as nobody\n");
	check_ids(server.pid, "Uid:", 65534);
	check_ids(server.pid, "Gid:", 65534);
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)server.pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "Groups:", 7) == 0)
			assert_string_equal(line, "Groups:\t65534 \n");
	fclose(f);
	assert_true(log_wait(
	    &server, "running as user nobody (uid 65534, gid 65534)", 0.1));
}

/* An unknown user is a start-up failure: exit 1, nothing left
 * listening, and no listening line. */
static void user_unknown_is_fatal(void **state)
{
	(void)state;
	static const char *const args[] = {"--user", "no-such-user-here", "0",
					   NULL};
	assert_int_equal(proc_run(&server, NULL, args, 5 * harness_scale()), 1);
	assert_true(
	    log_wait(&server, "--user no-such-user-here: no such user", 0.1));
	assert_int_equal(log_count(&server, "listening on"), 0);
}

/* A process that is not root cannot become another user: it says so and
 * exits 1 rather than serve with privileges it was told to drop.  (As
 * root, the server is started as nobody through setpriv first.) */
static void user_drop_failure_is_fatal(void **state)
{
	(void)state;
	static const char *const args[] = {"--user", "daemon", "0", NULL};
	const struct proc_opts as_nobody = {
	    .wrapper = geteuid() == 0 ? "as-nobody.sh" : NULL};

	assert_int_equal(
	    proc_run(&server, &as_nobody, args, 5 * harness_scale()), 1);
	assert_true(log_wait(&server, "cannot drop supplementary groups", 0.1));
	assert_int_equal(log_count(&server, "listening on"), 0);
}

/* Numeric ids the type cannot hold are refused, not wrapped: 2^32 would
 * be uid 0 and gid 0, root, and the log would still say it dropped. */
static void user_and_group_ids_beyond_the_type_are_refused(void **state)
{
	(void)state;
	static const char *const big_user[] = {"--user", "4294967296", "0",
					       NULL};
	static const char *const big_group[] = {
	    "--user", "nobody", "--group", "4294967296", "0", NULL};
	static const char *const no_change[] = {
	    "--user", "nobody", "--group", "4294967295", "0", NULL};

	assert_int_equal(proc_run(&server, NULL, big_user, 5 * harness_scale()),
			 1);
	assert_true(log_wait(&server, "--user 4294967296: not an id", 0.1));
	assert_int_equal(log_count(&server, "running as"), 0);
	assert_int_equal(
	    proc_run(&server, NULL, big_group, 5 * harness_scale()), 1);
	assert_true(log_wait(&server, "--group 4294967296: not an id", 0.1));
	assert_int_equal(
	    proc_run(&server, NULL, no_change, 5 * harness_scale()), 1);
	assert_true(log_wait(&server, "--group 4294967295: not an id", 0.1));
	assert_int_equal(log_count(&server, "listening on"), 0);
}

/* --user root (or 0) would drop nothing: refused, never reported as a
 * drop. */
static void user_root_is_not_a_drop(void **state)
{
	(void)state;
	static const char *const by_name[] = {"--user", "root", "0", NULL};
	static const char *const by_id[] = {"--user", "0", "0", NULL};

	if (geteuid() != 0) {
		print_message("skipped: needs root\n");
		skip();
	}
	assert_int_equal(proc_run(&server, NULL, by_name, 5 * harness_scale()),
			 1);
	assert_true(
	    log_wait(&server, "--user root: that is root (uid 0)", 0.1));
	assert_int_equal(proc_run(&server, NULL, by_id, 5 * harness_scale()),
			 1);
	assert_true(log_wait(&server, "--user 0: that is root (uid 0)", 0.1));
	assert_int_equal(log_count(&server, "running as"), 0);
}

/* ============================== --log-time ============================== */

/* Does line start with "YYYY-MM-DDTHH:MM:SS.mmmZ echoserv: "? */
static bool stamped(const char *line)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ ";

	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		char want = shape[i], c = line[i];
		if (want == 'd' ? (c < '0' || c > '9') : c != want)
			return false;
	}
	return strncmp(line + sizeof(shape) - 1, "echoserv: ", 10) == 0;
}

static void log_time_stamps_every_line_in_utc(void **state)
{
	(void)state;
	static const char *const args[] = {"--log-time", "0", NULL};
	int fd = connect_or_fail(start(args));
	char line[256], year[8];
	time_t now = time(NULL);
	struct tm tm;

	check_echo(fd, "stamped\n");
	client_close(fd);
	assert_true(log_wait(&server, "closed (fd", io_timeout()));
	char *log = proc_log(&server);
	int lines = 0;
	for (char *p = log; *p != '\0'; lines++) {
		char *end = strchr(p, '\n');
		if (end == NULL)
			break;
		if (!stamped(p))
			harness_fail("not stamped: %.*s", (int)(end - p), p);
		p = end + 1;
	}
	assert_true(lines >= 3);
	gmtime_r(&now, &tm);
	strftime(year, sizeof(year), "%Y-", &tm);
	assert_true(find_line(log, "listening on", NULL, line, sizeof(line)));
	assert_memory_equal(line, year, strlen(year));
	free(log);
}

#define T(f) cmocka_unit_test_teardown(f, harness_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(raw_echoes_a_message_without_a_newline),
	    T(raw_has_no_quit_and_no_line_limit),
	    T(raw_binary_payloads_are_echoed_byte_exact),
	    T(raw_backpressure_loses_nothing),
	    T(raw_is_named_in_the_logs_and_the_trace),
	    T(activation_serves_the_inherited_socket),
	    T(activation_refuses_a_port_as_well),
	    T(activation_serves_a_unix_socket),
	    T(activation_for_another_pid_is_ignored),
	    T(user_drops_every_id_after_binding),
	    T(user_unknown_is_fatal),
	    T(user_drop_failure_is_fatal),
	    T(user_and_group_ids_beyond_the_type_are_refused),
	    T(user_root_is_not_a_drop),
	    T(log_time_stamps_every_line_in_utc),
	};

	return harness_run(tests);
}
