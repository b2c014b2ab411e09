/*
 * test_udp.c - docs/protocol.md rule 3.10: --udp echoes every datagram to
 * its sender unchanged, from the same loop as the TCP clients, and drops
 * the ones that could start an echo loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

#define BIGGEST 65507

/* A UDP socket bound to from (a numeric address) and port (0: any). */
static int udp_socket(int family, const char *from, int port)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int fd = socket(family, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET, from, &in->sin_addr), 1);
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET6, from, &in6->sin6_addr), 1);
		len = sizeof(*in6);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) != 0)
		harness_fail("bind %s:%d: %s", from, port, strerror(errno));
	return fd;
}

/* Send n bytes of a pattern to to:port; true if exactly they came back
 * within timeout (false if nothing came). */
static bool echoed(int fd, const char *to, int port, size_t n, double timeout)
{
	static unsigned char out[BIGGEST], in[BIGGEST + 16];
	struct sockaddr_storage ss = {0};
	socklen_t len;

	for (size_t i = 0; i < n; i++)
		out[i] = (unsigned char)(i * 7 + n);
	if (strchr(to, ':') == NULL) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, to, &a->sin_addr);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, to, &a->sin6_addr);
		len = sizeof(*a);
	}
	assert_int_equal(sendto(fd, out, n, 0, (struct sockaddr *)&ss, len),
			 (ssize_t)n);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	if (poll(&pfd, 1, (int)(timeout * 1000)) != 1)
		return false;
	ssize_t got = recv(fd, in, sizeof(in), 0);
	if (got != (ssize_t)n || memcmp(in, out, n) != 0)
		harness_fail("a datagram of %zu bytes came back as %zd bytes%s",
			     n, got, got == (ssize_t)n ? ", changed" : "");
	return true;
}

static int start_udp(const char *bind_addr)
{
	const char *const args[] = {"--udp", "-b", bind_addr, "0", NULL};
	int port = check_server_start(&server, NULL, args);
	char want[96];

	snprintf(want, sizeof(want), "listening on %s%s%s:%d (udp)",
		 strchr(bind_addr, ':') ? "[" : "", bind_addr,
		 strchr(bind_addr, ':') ? "]" : "", port);
	assert_true(log_wait(&server, want, io_timeout()));
	return port;
}

/* The smallest and the biggest datagram come back unchanged, over IPv4
 * and IPv6; TCP goes on beside it. */
static void udp_echoes_1_and_65507_bytes_unchanged(void **state)
{
	(void)state;
	int port = start_udp("127.0.0.1");
	int fd = udp_socket(AF_INET, "127.0.0.1", 0);

	assert_true(echoed(fd, "127.0.0.1", port, 1, io_timeout()));
	assert_true(echoed(fd, "127.0.0.1", port, BIGGEST, io_timeout()));
	assert_true(echoed(fd, "127.0.0.1", port, 0, io_timeout()));
	int tcp = client_connect("127.0.0.1", port);
	assert_true(tcp >= 0);
	check_echo(tcp, "and TCP beside it\n");
	close(fd);
	assert_int_equal(proc_signal(&server, SIGTERM), 0);
	assert_int_equal(proc_wait(&server, 5 * harness_scale()), 0);
	assert_true(log_wait(
	    &server, "udp: echoed 3 datagrams, 65508 bytes; dropped 0", 0.1));
}

static void udp_works_over_ipv6(void **state)
{
	(void)state;
	if (!have_ipv6()) {
		print_message("skipped: no IPv6 loopback\n");
		skip();
	}
	int port = start_udp("::1");
	int fd = udp_socket(AF_INET6, "::1", 0);

	assert_true(echoed(fd, "::1", port, BIGGEST, io_timeout()));
}

/* From the server's own port (here on another loopback address, as a twin
 * echo server would send) nothing comes back: two echo servers would
 * bounce it for ever.  The drop is counted, and others are still served. */
static void udp_drops_datagrams_from_its_own_port(void **state)
{
	(void)state;
	int port = start_udp("127.0.0.1");
	int twin = udp_socket(AF_INET, "127.0.0.2", port);
	int other = udp_socket(AF_INET, "127.0.0.1", 0);

	assert_false(echoed(twin, "127.0.0.1", port, 10, 0.5));
	assert_true(echoed(other, "127.0.0.1", port, 10, io_timeout()));
	assert_int_equal(proc_signal(&server, SIGTERM), 0);
	assert_int_equal(proc_wait(&server, 5 * harness_scale()), 0);
	assert_true(log_wait(&server, "dropped 1 (1 from guarded ports", 0.1));
}

/* From the small services' ports (7 echo, 13, 17, 19 chargen, 37):
 * dropped.  Binding them needs root. */
static void udp_drops_datagrams_from_small_service_ports(void **state)
{
	(void)state;
	static const int ports[] = {7, 13, 17, 19, 37};

	if (geteuid() != 0) {
		print_message("skipped: binding ports below 1024 needs root\n");
		skip();
	}
	int port = start_udp("127.0.0.1");
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		int fd = udp_socket(AF_INET, "127.0.0.1", ports[i]);
		if (echoed(fd, "127.0.0.1", port, 5, 0.3))
			harness_fail("a datagram from port %d was echoed",
				     ports[i]);
		close(fd);
	}
	assert_int_equal(proc_signal(&server, SIGTERM), 0);
	assert_int_equal(proc_wait(&server, 5 * harness_scale()), 0);
	assert_true(log_wait(&server, "dropped 5 (5 from guarded ports", 0.1));
}

/* Under -T each datagram is named; without it, no line per datagram. */
static void udp_trace_names_each_datagram_and_the_log_does_not(void **state)
{
	(void)state;
	static const char *const traced[] = {"--udp",     "-T", "-b",
					     "127.0.0.1", "0",  NULL};
	int port = check_server_start(&server, NULL, traced);
	int fd = udp_socket(AF_INET, "127.0.0.1", 0);

	assert_true(echoed(fd, "127.0.0.1", port, 42, io_timeout()));
	assert_true(log_wait(
	    &server, "datagram of 42 bytes from 127.0.0.1:", io_timeout()));
	assert_true(log_wait(&server, ": UDP socket 127.0.0.1:", 0.1));
	proc_stop(&server);
	int port2 = start_udp("127.0.0.1");
	assert_true(echoed(fd, "127.0.0.1", port2, 42, io_timeout()));
	assert_int_equal(log_count(&server, "datagram"), 0);
}

/* A datagram socket passed by systemd (ListenDatagram=) is served. */
static void udp_socket_passed_by_systemd_is_served(void **state)
{
	(void)state;
	const struct proc_opts activated = {.wrapper = "socket-activate.sh"};
	static const char *const args[] = {NULL};
	int port = free_loopback_port();
	char listen[64];

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	setenv("WRAP_LISTEN", listen, 1);
	setenv("WRAP_DATAGRAM", "1", 1);
	assert_int_equal(proc_spawn(&server, &activated, args), 0);
	unsetenv("WRAP_DATAGRAM");
	if (!log_wait(&server, "Listening on", 5 * harness_scale()))
		harness_fail("systemd-socket-activate did not listen");
	int fd = udp_socket(AF_INET, "127.0.0.1", 0);
	/* The tool execs the server on the first datagram; that one goes
	 * to the server, which answers it. */
	assert_true(echoed(fd, "127.0.0.1", port, 100, 5 * harness_scale()));
	assert_true(echoed(fd, "127.0.0.1", port, BIGGEST, io_timeout()));
	assert_true(log_wait(&server, " (udp)", io_timeout()));
}

#define T(f) cmocka_unit_test_teardown(f, harness_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(udp_echoes_1_and_65507_bytes_unchanged),
	    T(udp_works_over_ipv6),
	    T(udp_drops_datagrams_from_its_own_port),
	    T(udp_drops_datagrams_from_small_service_ports),
	    T(udp_trace_names_each_datagram_and_the_log_does_not),
	    T(udp_socket_passed_by_systemd_is_served),
	};

	harness_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
