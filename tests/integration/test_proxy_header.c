/*
 * test_proxy_header.c - docs/protocol.md section 8, --proxy-from: a
 * connection from a trusted peer begins with a PROXY protocol header (v1
 * or v2) naming the real client, who is then the connection's for the log
 * and --max-per-addr; a bad or missing header is turned away; from any
 * other peer a header is only data.
 */
#include <errno.h>
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

#define V1_CLIENT "PROXY TCP4 203.0.113.7 192.0.2.1 5555 7\r\n"

/* Start trusting 127.0.0.1 only, with extra options first. */
static int start(const char *extra1, const char *extra2)
{
	const char *args[] = {"--proxy-from", "127.0.0.1", "0",
			      NULL,           NULL,        NULL};
	if (extra1 != NULL) {
		args[3] = extra1;
		args[4] = extra2;
	}
	return check_server_start(&server, NULL, args);
}

/* A v2 header: PROXY over TCP from src:sport (IPv4 or IPv6 bytes). */
static size_t v2_header(unsigned char *out, bool local, bool ipv6,
			const unsigned char *src, unsigned sport)
{
	static const unsigned char sig[12] = {0x0d, 0x0a, 0x0d, 0x0a,
					      0x00, 0x0d, 0x0a, 0x51,
					      0x55, 0x49, 0x54, 0x0a};
	size_t alen = ipv6 ? 16 : 4, len = 2 * alen + 4;

	memcpy(out, sig, 12);
	out[12] = local ? 0x20 : 0x21;
	out[13] = ipv6 ? 0x21 : 0x11; /* AF_INET6 or AF_INET, STREAM */
	out[14] = (unsigned char)(len >> 8);
	out[15] = (unsigned char)len;
	memcpy(out + 16, src, alen);
	memset(out + 16 + alen, 0, alen); /* destination: any */
	out[16 + 2 * alen] = (unsigned char)(sport >> 8);
	out[17 + 2 * alen] = (unsigned char)sport;
	out[18 + 2 * alen] = 0;
	out[19 + 2 * alen] = 7;
	return 16 + len;
}

/* v1: the client named is the one logged, and the data after the header
 * (in the same segment) is echoed. */
static void proxy_v1_names_the_client_in_the_log(void **state)
{
	(void)state;
	int port = start(NULL, NULL);
	int fd = check_connect_from("127.0.0.1", port);

	assert_int_equal(client_send_str(fd, V1_CLIENT "hello\n", io_timeout()),
			 0);
	check_recv(fd, "hello\n", io_timeout());
	check_echo(fd, "again\n");
	client_close(fd);
	assert_true(log_wait(&server, "client 203.0.113.7:5555 connected (fd ",
			     io_timeout()));
	assert_true(log_wait(&server, "client 203.0.113.7:5555 closed (fd ",
			     io_timeout()));
}

/* The header may arrive a byte at a time. */
static void proxy_v1_split_byte_by_byte(void **state)
{
	(void)state;
	int port = start(NULL, NULL);
	int fd = check_connect_from("127.0.0.1", port);
	const char *h = V1_CLIENT;

	for (size_t i = 0; h[i] != '\0'; i++) {
		assert_int_equal(client_send_all(fd, h + i, 1, io_timeout()),
				 0);
		sleep_ms(2);
	}
	check_echo(fd, "after a slow header\n");
	assert_true(log_wait(&server, "client 203.0.113.7:5555 connected",
			     io_timeout()));
}

/* v2 (binary), IPv6 client; then v2 LOCAL keeps the real peer. */
static void proxy_v2_proxy_and_local(void **state)
{
	(void)state;
	static const unsigned char v6[16] = {
	    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	unsigned char h[64];
	int port = start(NULL, NULL);
	int fd = check_connect_from("127.0.0.1", port);

	size_t n = v2_header(h, false, true, v6, 4444);
	assert_int_equal(client_send_all(fd, h, n, io_timeout()), 0);
	check_echo(fd, "over v2\n");
	assert_true(log_wait(&server, "client [2001:db8::1]:4444 connected",
			     io_timeout()));
	int local = check_connect_from("127.0.0.1", port);
	n = v2_header(h, true, false, (const unsigned char *)"\0\0\0\0", 0);
	assert_int_equal(client_send_all(local, h, n, io_timeout()), 0);
	check_echo(local, "a health check\n");
	char want[64];
	snprintf(want, sizeof(want), "client 127.0.0.1:%d connected",
		 client_local_port(local));
	assert_true(log_wait(&server, want, io_timeout()));
}

/* A malformed header: told, turned away, logged as such. */
static void proxy_bad_header_is_turned_away(void **state)
{
	(void)state;
	int port = start(NULL, NULL);
	int fd = check_connect_from("127.0.0.1", port);

	assert_int_equal(client_send_str(fd, "hello\n", io_timeout()), 0);
	check_recv(fd, "error: bad proxy header\r\n", io_timeout());
	check_eof(fd, io_timeout());
	assert_true(
	    log_wait(&server, "turned away: bad proxy header", io_timeout()));
	assert_int_equal(log_count(&server, "connected (fd"), 0);
}

/* No header at all within the line timeout: the same. */
static void proxy_missing_header_times_out(void **state)
{
	(void)state;
	int port = start("--line-timeout", "1");
	int fd = check_connect_from("127.0.0.1", port);
	double t0 = now_s();

	check_recv(fd, "error: bad proxy header\r\n", 3 * harness_scale());
	if (now_s() - t0 < 0.9)
		harness_fail("cut after %.2f s, before the line timeout",
			     now_s() - t0);
	check_eof(fd, io_timeout());
	assert_true(log_wait(&server, "turned away: no proxy header in time",
			     io_timeout()));
}

/* From a peer not listed, a header is an ordinary line, echoed. */
static void proxy_header_from_an_untrusted_peer_is_data(void **state)
{
	(void)state;
	int port = start(NULL, NULL);
	int fd = check_connect_from("127.0.0.2", port);

	check_echo(fd, V1_CLIENT);
	assert_true(log_wait(&server, "client 127.0.0.2:", io_timeout()));
	assert_int_equal(log_count(&server, "203.0.113.7"), 0);
}

/* --max-per-addr counts the clients the headers name, not the proxy. */
static void proxy_max_per_addr_counts_the_named_client(void **state)
{
	(void)state;
	int port = start("--max-per-addr", "1");
	int a = check_connect_from("127.0.0.1", port);
	int b = check_connect_from("127.0.0.1", port);
	int c = check_connect_from("127.0.0.1", port);

	assert_int_equal(client_send_str(a, V1_CLIENT, io_timeout()), 0);
	check_echo(a, "first\n");
	assert_int_equal(client_send_str(b, V1_CLIENT, io_timeout()), 0);
	check_recv(b, "error: too many connections\r\n", io_timeout());
	check_eof(b, io_timeout());
	assert_int_equal(
	    client_send_str(c, "PROXY TCP4 203.0.113.8 192.0.2.1 6666 7\r\n",
			    io_timeout()),
	    0);
	check_echo(c, "another client behind the same proxy\n");
	assert_true(log_wait(&server,
			     "client 203.0.113.7:5555 turned away: too many "
			     "connections",
			     io_timeout()));
}

#define T(f) cmocka_unit_test_teardown(f, harness_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(proxy_v1_names_the_client_in_the_log),
	    T(proxy_v1_split_byte_by_byte),
	    T(proxy_v2_proxy_and_local),
	    T(proxy_bad_header_is_turned_away),
	    T(proxy_missing_header_times_out),
	    T(proxy_header_from_an_untrusted_peer_is_data),
	    T(proxy_max_per_addr_counts_the_named_client),
	};

	harness_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
