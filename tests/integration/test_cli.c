/*
 * test_cli.c - docs/protocol.md section 2, the command line: every kind of
 * bad usage exits 2 with a message and a usage line, start-up failures exit
 * 1, help and version exit 0, and the options that are accepted take
 * effect.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

/* How long a process that should exit at once may take (name resolution
 * included, which may have to give up on a DNS server). */
static double exit_wait(void)
{
	return 10.0 * harness_scale();
}

/* A line of text that starts with (after an optional "echoserv: ")
 * "usage:". */
static bool has_usage_line(const char *text)
{
	for (const char *line = text; *line != '\0';) {
		const char *lf = strchr(line, '\n');
		size_t len = lf != NULL ? (size_t)(lf - line) : strlen(line);
		const char *u = line;
		if (strncmp(u, "echoserv: ", 10) == 0)
			u += 10;
		if ((size_t)(u - line) + 6 <= len &&
		    strncmp(u, "usage:", 6) == 0)
			return true;
		if (lf == NULL)
			break;
		line = lf + 1;
	}
	return false;
}

/*
 * Run echoserv with args and assert bad usage: exit 2, a usage line, and a
 * line naming the problem (one that contains names[0] or names[1]...), and
 * never a listening line.
 */
static void check_usage_error(const char *const *args, const char *const *names)
{
	int st = proc_run(&server, NULL, args, exit_wait());
	char *err = proc_log(&server);
	char shown[1024];

	snprintf(shown, sizeof(shown), "%s", err);
	if (st != 2) {
		free(err);
		harness_fail("exit status %d, want 2 (stderr: %s)", st, shown);
	}
	bool usage = has_usage_line(err);
	bool listening = strstr(err, "listening on") != NULL;
	bool named = false;
	char line[512];
	for (int i = 0; names[i] != NULL && !named; i++)
		named = find_line(err, names[i], NULL, line, sizeof(line)) &&
			strstr(line, "usage:") == NULL;
	free(err);
	if (!usage)
		harness_fail("no usage: line on stderr: %s", shown);
	if (listening)
		harness_fail("bad usage, yet it listened: %s", shown);
	if (!named)
		harness_fail("no message line naming the problem (%s): %s",
			     names[0], shown);
}

/* Run echoserv and assert a start-up failure: exit 1 with a line containing
 * what. */
static void check_startup_failure(const char *const *args, const char *what)
{
	int st = proc_run(&server, NULL, args, exit_wait());
	char *err = proc_log(&server);
	char shown[1024];

	snprintf(shown, sizeof(shown), "%s", err);
	bool said = strstr(err, what) != NULL;
	bool listening = strstr(err, "listening on") != NULL;
	free(err);
	if (st != 1)
		harness_fail("exit status %d, want 1 (stderr: %s)", st, shown);
	if (!said)
		harness_fail("stderr does not say \"%s\": %s", what, shown);
	if (listening)
		harness_fail("it failed, yet printed a listening line: %s",
			     shown);
}

/* The --help output, or fail. */
static char *help_text(void)
{
	static const char *const args[] = {"--help", NULL};
	int st = proc_run(&server, NULL, args, exit_wait());
	char *out = proc_stdout(&server);

	if (st != 0) {
		free(out);
		harness_fail("--help exit status %d, want 0", st);
	}
	return out;
}

/* The ceiling of --max-clients, as --help prints it ("1..N"). */
static long help_max_clients_ceiling(void)
{
	char *help = help_text();
	char line[512];
	long ceiling = -1;

	if (find_line(help, "--max-clients", NULL, line, sizeof(line))) {
		const char *range = strstr(line, "1..");
		if (range != NULL)
			ceiling = strtol(range + 3, NULL, 10);
	}
	free(help);
	if (ceiling < 1)
		harness_fail("--help does not print the --max-clients ceiling "
			     "as 1..N");
	return ceiling;
}

/* Start with args, which must be accepted; stop it again with SIGTERM. */
static void check_accepted(const char *const *args)
{
	check_server_start(&server, NULL, args);
	if (proc_signal(&server, SIGTERM) != 0)
		harness_fail("kill: %s", strerror(errno));
	int st = proc_wait(&server, 3.0 * harness_scale());
	if (st != 0)
		harness_fail("exit status %d after SIGTERM", st);
}

/* The server was started with a 16-byte line limit: prove it. */
static void check_line_limit_16(int port)
{
	int fd = client_connect("127.0.0.1", port);

	if (fd < 0)
		harness_fail("connect: %s", strerror(errno));
	check_echo(fd, "0123456789abcde\n");
	if (client_send_str(fd, "0123456789abcdef", io_timeout()) != 0)
		harness_fail("send: %s", strerror(errno));
	check_recv(fd, "error: line too long (limit 16 bytes)\r\n",
		   io_timeout());
	check_eof(fd, io_timeout());
}

/* ---------------------------------------------------------------- exit 2 */

static void usage_missing_port_exits_2(void **state)
{
	(void)state;
	static const char *const args[] = {NULL};
	static const char *const names[] = {"port", NULL};
	check_usage_error(args, names);
}

static void usage_missing_port_after_options_exits_2(void **state)
{
	(void)state;
	static const char *const args[] = {"-q", "-c", "4", NULL};
	static const char *const names[] = {"port", NULL};
	check_usage_error(args, names);
}

static void usage_extra_port_exits_2(void **state)
{
	(void)state;
	static const char *const args[] = {"0", "1234", NULL};
	static const char *const names[] = {"1234", NULL};
	check_usage_error(args, names);
}

static void usage_port_abc_exits_2(void **state)
{
	(void)state;
	static const char *const args[] = {"abc", NULL};
	static const char *const names[] = {"abc", NULL};
	check_usage_error(args, names);
}

static void usage_port_70000_exits_2(void **state)
{
	(void)state;
	static const char *const args[] = {"70000", NULL};
	static const char *const names[] = {"70000", NULL};
	check_usage_error(args, names);
}

static void usage_port_minus_1_exits_2(void **state)
{
	(void)state;
	static const char *const args[] = {"-1", NULL};
	static const char *const names[] = {"-1", NULL};
	check_usage_error(args, names);
}

static void usage_port_with_trailing_junk_exits_2(void **state)
{
	(void)state;
	static const char *const args[] = {"80x", NULL};
	static const char *const names[] = {"80x", NULL};
	check_usage_error(args, names);
}

static void usage_unknown_short_option_exits_2(void **state)
{
	(void)state;
	static const char *const args[] = {"-x", "0", NULL};
	static const char *const names[] = {"-x", NULL};
	check_usage_error(args, names);
}

static void usage_unknown_long_option_exits_2(void **state)
{
	(void)state;
	static const char *const args[] = {"--frobnicate", "0", NULL};
	static const char *const names[] = {"frobnicate", NULL};
	check_usage_error(args, names);
}

static void usage_option_missing_its_value_exits_2(void **state)
{
	(void)state;
	static const char *const args[] = {"0", "--max-line", NULL};
	static const char *const names[] = {"max-line", "-l", NULL};
	check_usage_error(args, names);
}

static void usage_max_clients_0_exits_2(void **state)
{
	(void)state;
	static const char *const args[] = {"-c", "0", "0", NULL};
	static const char *const names[] = {"max-clients", "-c", NULL};
	check_usage_error(args, names);
}

static void usage_max_clients_above_ceiling_exits_2(void **state)
{
	(void)state;
	char above[32];
	snprintf(above, sizeof(above), "%ld", help_max_clients_ceiling() + 1);
	const char *const args[] = {"-c", above, "0", NULL};
	const char *const names[] = {above, "max-clients", NULL};
	check_usage_error(args, names);
}

static void max_clients_at_the_ceiling_is_accepted(void **state)
{
	(void)state;
	char ceiling[32];
	snprintf(ceiling, sizeof(ceiling), "%ld", help_max_clients_ceiling());
	const char *const args[] = {"-c", ceiling, "0", NULL};
	check_accepted(args);
}

static void usage_max_line_15_exits_2(void **state)
{
	(void)state;
	static const char *const args[] = {"-l", "15", "0", NULL};
	static const char *const names[] = {"max-line", "15", NULL};
	check_usage_error(args, names);
}

static void usage_max_line_1048577_exits_2(void **state)
{
	(void)state;
	static const char *const args[] = {"-l", "1048577", "0", NULL};
	static const char *const names[] = {"max-line", "1048577", NULL};
	check_usage_error(args, names);
}

static void max_line_limits_16_and_1048576_are_accepted(void **state)
{
	(void)state;
	static const char *const low[] = {"-l", "16", "0", NULL};
	static const char *const high[] = {"-l", "1048576", "0", NULL};
	check_accepted(low);
	check_accepted(high);
}

static void usage_idle_timeout_86401_exits_2(void **state)
{
	(void)state;
	static const char *const args[] = {"-t", "86401", "0", NULL};
	static const char *const names[] = {"idle-timeout", "86401", NULL};
	check_usage_error(args, names);
}

static void usage_idle_timeout_fraction_exits_2(void **state)
{
	(void)state;
	static const char *const args[] = {"-t", "1.5", "0", NULL};
	static const char *const names[] = {"idle-timeout", "1.5", NULL};
	check_usage_error(args, names);
}

static void idle_timeouts_0_and_86400_are_accepted(void **state)
{
	(void)state;
	static const char *const zero[] = {"-t", "0", "0", NULL};
	static const char *const day[] = {"--idle-timeout", "86400", "0", NULL};
	check_accepted(zero);
	check_accepted(day);
}

static void usage_unresolvable_bind_address_exits_2(void **state)
{
	(void)state;
	static const char *const args[] = {"-b", "no.such.host.invalid", "0",
					   NULL};
	static const char *const names[] = {"no.such.host.invalid", NULL};
	check_usage_error(args, names);
}

static void usage_malformed_bind_address_exits_2(void **state)
{
	(void)state;
	static const char *const args[] = {"-b", "1.2.3.4.5:::", "0", NULL};
	static const char *const names[] = {"1.2.3.4.5:::", NULL};
	check_usage_error(args, names);
}

/* The numeric forms inet_aton() takes besides dotted quads ("127.1" is
 * 127.0.0.1, "0x7f.1" too) are refused, naming the address. */
static void usage_bind_short_or_hex_ipv4_exits_2(void **state)
{
	(void)state;
	static const char *const odd[] = {"127.1", "0x7f.1", "0177.0.0.1",
					  "2130706433"};

	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		const char *const args[] = {"-b", odd[i], "0", NULL};
		const char *const names[] = {odd[i], NULL};
		check_usage_error(args, names);
	}
}

/* ---------------------------------------------------------------- exit 1 */

/* A listening socket of our own on 127.0.0.1; returns its port. */
static int occupy_port(int *fd_out)
{
	struct sockaddr_in in;
	socklen_t len = sizeof(in);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&in, sizeof(in)) != 0 ||
	    listen(fd, 8) != 0 ||
	    getsockname(fd, (struct sockaddr *)&in, &len) != 0)
		harness_fail("cannot set up a listening socket: %s",
			     strerror(errno));
	*fd_out = fd;
	return ntohs(in.sin_port);
}

static void port_in_use_exits_1(void **state)
{
	(void)state;
	int fd;
	char port[16];

	char want[64];
	int p = occupy_port(&fd);
	snprintf(port, sizeof(port), "%d", p);
	const char *const bound[] = {"-b", "127.0.0.1", port, NULL};
	snprintf(want, sizeof(want), "cannot listen on 127.0.0.1:%d", p);
	check_startup_failure(bound, want);
	/* The default address, [::], overlaps 127.0.0.1 (dual stack). */
	const char *const any[] = {port, NULL};
	check_startup_failure(any, "cannot listen on");
	close(fd);
}

static void port_in_use_by_another_echoserv_exits_1(void **state)
{
	(void)state;
	static const char *const first_args[] = {"0", NULL};
	struct proc first;
	char port[16];

	snprintf(port, sizeof(port), "%d",
		 check_server_start(&first, NULL, first_args));
	const char *const args[] = {port, NULL};
	check_startup_failure(args, "cannot listen on");
	assert_true(proc_alive(&first));
}

static void bind_to_an_address_that_is_not_local_exits_1(void **state)
{
	(void)state;
	static const char *const args[] = {"-b", "192.0.2.1", "0", NULL};
	check_startup_failure(args, "cannot listen on 192.0.2.1");
}

/* ---------------------------------------------------------------- exit 0 */

static void help_prints_usage_on_stdout_and_exits_0(void **state)
{
	(void)state;
	static const char *const names[] = {
	    "--bind",  "--max-clients", "--max-line", "--idle-timeout",
	    "--trace", "--quiet",       "--help",     "--version",
	};
	char *out = help_text();

	if (!has_usage_line(out)) {
		free(out);
		harness_fail("--help: no usage: line on stdout");
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strstr(out, names[i]) == NULL) {
			free(out);
			harness_fail("--help does not mention %s", names[i]);
		}
	free(out);
	char *err = proc_log(&server);
	size_t errlen = strlen(err);
	free(err);
	assert_int_equal(errlen, 0);

	static const char *const args[] = {"-h", NULL};
	assert_int_equal(proc_run(&server, NULL, args, exit_wait()), 0);
	out = proc_stdout(&server);
	bool usage = has_usage_line(out);
	free(out);
	assert_true(usage);
}

static void version_prints_version_and_exits_0(void **state)
{
	(void)state;
	static const char *const short_args[] = {"-V", NULL};
	static const char *const long_args[] = {"--version", NULL};
	const char *const *variants[] = {short_args, long_args};

	for (int i = 0; i < 2; i++) {
		int st = proc_run(&server, NULL, variants[i], exit_wait());
		char *out = proc_stdout(&server);
		bool ok = strstr(out, "echoserv") != NULL &&
			  strpbrk(out, "0123456789") != NULL;
		char shown[256];
		snprintf(shown, sizeof(shown), "%s", out);
		free(out);
		if (st != 0)
			harness_fail("%s: exit status %d", variants[i][0], st);
		if (!ok)
			harness_fail("%s: stdout has no version: %s",
				     variants[i][0], shown);
	}
}

/* ---------------------------------------------------------------- options */

static void options_may_come_after_the_port(void **state)
{
	(void)state;
	static const char *const args[] = {"0", "-l", "16", NULL};
	check_line_limit_16(check_server_start(&server, NULL, args));
}

static void long_option_with_equals_sign(void **state)
{
	(void)state;
	static const char *const args[] = {"--max-line=16", "0", NULL};
	check_line_limit_16(check_server_start(&server, NULL, args));
}

static void long_option_with_separate_value(void **state)
{
	(void)state;
	static const char *const args[] = {"0", "--max-line", "16", NULL};
	check_line_limit_16(check_server_start(&server, NULL, args));
}

static void bind_ipv6_loopback_listens_and_serves(void **state)
{
	(void)state;
	static const char *const args[] = {"-b", "::1", "0", NULL};
	char want[32];

	if (!have_ipv6())
		skip();
	int port = check_server_start(&server, NULL, args);

	snprintf(want, sizeof(want), "[::1]:%d", port);
	assert_string_equal(server.listen_addr, want);
	int fd = client_connect("::1", port);
	if (fd < 0)
		harness_fail("connect to [::1]:%d: %s", port, strerror(errno));
	check_echo(fd, "over IPv6\n");
}

static void bind_ipv4_loopback_listens_and_serves(void **state)
{
	(void)state;
	static const char *const args[] = {"--bind", "127.0.0.1", "0", NULL};
	char want[32];
	int port = check_server_start(&server, NULL, args);

	snprintf(want, sizeof(want), "127.0.0.1:%d", port);
	assert_string_equal(server.listen_addr, want);
	int fd = client_connect("127.0.0.1", port);
	if (fd < 0)
		harness_fail("connect: %s", strerror(errno));
	check_echo(fd, "over IPv4\n");
}

static void bind_ipv4_any_listens_and_serves(void **state)
{
	(void)state;
	static const char *const args[] = {"-b", "0.0.0.0", "0", NULL};
	char want[32];
	int port = check_server_start(&server, NULL, args);

	snprintf(want, sizeof(want), "0.0.0.0:%d", port);
	assert_string_equal(server.listen_addr, want);
	int fd = client_connect("127.0.0.1", port);
	if (fd < 0)
		harness_fail("connect: %s", strerror(errno));
	check_echo(fd, "any IPv4\n");
}

static void bind_host_name_localhost_listens_and_serves(void **state)
{
	(void)state;
	static const char *const args[] = {"--bind=localhost", "0", NULL};
	int port = check_server_start(&server, NULL, args);
	char v4[32], v6[32];

	snprintf(v4, sizeof(v4), "127.0.0.1:%d", port);
	snprintf(v6, sizeof(v6), "[::1]:%d", port);
	bool is_v4 = strcmp(server.listen_addr, v4) == 0;
	if (!is_v4 && strcmp(server.listen_addr, v6) != 0)
		harness_fail("-b localhost listens on %s, not a loopback "
			     "address",
			     server.listen_addr);
	int fd = client_connect(is_v4 ? "127.0.0.1" : "::1", port);
	if (fd < 0)
		harness_fail("connect: %s", strerror(errno));
	check_echo(fd, "by name\n");
}

static void default_binds_dual_stack_and_serves_ipv4_and_ipv6(void **state)
{
	(void)state;
	static const char *const args[] = {"0", NULL};
	char want[32];
	int port = check_server_start(&server, NULL, args);
	bool v6 = have_ipv6();

	/* [::] where the system has IPv6, else 0.0.0.0. */
	snprintf(want, sizeof(want),
		 can_bind_ipv6(&in6addr_any) ? "[::]:%d" : "0.0.0.0:%d", port);
	assert_string_equal(server.listen_addr, want);
	assert_int_equal(log_count(&server, "listening on"), 1);
	int fd4 = client_connect("127.0.0.1", port);
	if (fd4 < 0)
		harness_fail("connect over IPv4: %s", strerror(errno));
	check_echo(fd4, "IPv4 client\n");
	if (!v6)
		return;
	int fd6 = client_connect("::1", port);
	if (fd6 < 0)
		harness_fail("connect over IPv6: %s", strerror(errno));
	check_echo(fd6, "IPv6 client\n");
}

#define T(f) cmocka_unit_test_teardown(f, harness_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(usage_missing_port_exits_2),
	    T(usage_missing_port_after_options_exits_2),
	    T(usage_extra_port_exits_2),
	    T(usage_port_abc_exits_2),
	    T(usage_port_70000_exits_2),
	    T(usage_port_minus_1_exits_2),
	    T(usage_port_with_trailing_junk_exits_2),
	    T(usage_unknown_short_option_exits_2),
	    T(usage_unknown_long_option_exits_2),
	    T(usage_option_missing_its_value_exits_2),
	    T(usage_max_clients_0_exits_2),
	    T(usage_max_clients_above_ceiling_exits_2),
	    T(max_clients_at_the_ceiling_is_accepted),
	    T(usage_max_line_15_exits_2),
	    T(usage_max_line_1048577_exits_2),
	    T(max_line_limits_16_and_1048576_are_accepted),
	    T(usage_idle_timeout_86401_exits_2),
	    T(usage_idle_timeout_fraction_exits_2),
	    T(idle_timeouts_0_and_86400_are_accepted),
	    T(usage_unresolvable_bind_address_exits_2),
	    T(usage_malformed_bind_address_exits_2),
	    T(usage_bind_short_or_hex_ipv4_exits_2),
	    T(port_in_use_exits_1),
	    T(port_in_use_by_another_echoserv_exits_1),
	    T(bind_to_an_address_that_is_not_local_exits_1),
	    T(help_prints_usage_on_stdout_and_exits_0),
	    T(version_prints_version_and_exits_0),
	    T(options_may_come_after_the_port),
	    T(long_option_with_equals_sign),
	    T(long_option_with_separate_value),
	    T(bind_ipv6_loopback_listens_and_serves),
	    T(bind_ipv4_loopback_listens_and_serves),
	    T(bind_ipv4_any_listens_and_serves),
	    T(bind_host_name_localhost_listens_and_serves),
	    T(default_binds_dual_stack_and_serves_ipv4_and_ipv6),
	};

	return harness_run(tests);
}
