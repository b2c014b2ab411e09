/*
 * test_peers.c - unit tests of the per-address client counts behind
 * --max-per-addr (docs/protocol.md section 4).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "peers.h"

static struct peer_table table;

static int reset(void **state)
{
	(void)state;
	peers_init(&table);
	return 0;
}

static struct peer_key v4(const char *text)
{
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(1)};
	struct peer_key k;

	assert_int_equal(inet_pton(AF_INET, text, &in.sin_addr), 1);
	assert_true(peer_key_of((struct sockaddr *)&in, &k));
	return k;
}

static struct peer_key v6(const char *text, unsigned port)
{
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6,
				   .sin6_port = htons((uint16_t)port)};
	struct peer_key k;

	assert_int_equal(inet_pton(AF_INET6, text, &in6.sin6_addr), 1);
	assert_true(peer_key_of((struct sockaddr *)&in6, &k));
	return k;
}

static void test_counts_per_address(void **state)
{
	(void)state;
	struct peer_key a = v4("10.0.0.1"), b = v4("10.0.0.2");
	assert_int_equal(peers_count(&table, &a), 0);
	assert_true(peers_add(&table, &a));
	assert_true(peers_add(&table, &a));
	assert_true(peers_add(&table, &b));
	assert_int_equal(peers_count(&table, &a), 2);
	assert_int_equal(peers_count(&table, &b), 1);
	peers_remove(&table, &a);
	assert_int_equal(peers_count(&table, &a), 1);
	peers_remove(&table, &a);
	assert_int_equal(peers_count(&table, &a), 0);
	assert_int_equal(peers_count(&table, &b), 1);
	assert_int_equal(table.used, 1);
}

static void test_mapped_ipv6_is_its_ipv4_address(void **state)
{
	(void)state;
	struct peer_key plain = v4("192.0.2.7");
	struct peer_key mapped = v6("::ffff:192.0.2.7", 9);
	struct peer_key other = v6("2001:db8::7", 9);
	assert_memory_equal(&plain, &mapped, sizeof(plain));
	assert_true(peers_add(&table, &plain));
	assert_int_equal(peers_count(&table, &mapped), 1);
	assert_int_equal(peers_count(&table, &other), 0);
}

static void test_ports_do_not_matter(void **state)
{
	(void)state;
	struct peer_key a = v6("::1", 1000), b = v6("::1", 2000);
	assert_true(peers_add(&table, &a));
	assert_int_equal(peers_count(&table, &b), 1);
}

static void test_other_families_are_not_counted(void **state)
{
	(void)state;
	struct sockaddr sa = {.sa_family = AF_UNIX};
	struct peer_key k;
	assert_false(peer_key_of(&sa, &k));
}

/* Many addresses added and removed in a scrambled order: every count stays
 * right, whatever the collisions and the shifting back on removal. */
static void test_many_addresses_survive_removals(void **state)
{
	(void)state;
	enum { N = PEER_SLOTS / 2 };
	static struct peer_key keys[N];
	char text[32];

	for (int i = 0; i < N; i++) {
		snprintf(text, sizeof(text), "10.%d.%d.%d", i % 7, i / 256,
			 i % 256);
		keys[i] = v4(text);
		for (int j = 0; j <= i % 3; j++)
			assert_true(peers_add(&table, &keys[i]));
	}
	assert_false(peers_add(&table, &(struct peer_key){{1}})); /* full */
	for (int i = 0; i < N; i += 2) /* every other address leaves */
		for (int j = 0; j <= i % 3; j++)
			peers_remove(&table, &keys[i]);
	for (int i = 0; i < N; i++)
		assert_int_equal(peers_count(&table, &keys[i]),
				 i % 2 == 0 ? 0 : (size_t)(i % 3 + 1));
	assert_int_equal(table.used, N / 2);
}

#define T(f) cmocka_unit_test_setup(f, reset)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_counts_per_address),
	    T(test_mapped_ipv6_is_its_ipv4_address),
	    T(test_ports_do_not_matter),
	    T(test_other_families_are_not_counted),
	    T(test_many_addresses_survive_removals),
	};
	return cmocka_run_group_tests_name("peers", tests, NULL, NULL);
}
