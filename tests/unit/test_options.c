/*
 * test_options.c - unit tests of the command line parser (protocol.md 2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/select.h>

#include "options.h"
#include "protocol.h"
#include "server.h"

static struct options opt;
static char err[256];

/* Parse a NULL-terminated list of arguments after "echoserv". */
static int parse(const char *first, ...)
{
	char *argv[32] = {"echoserv"};
	int argc = 1;
	va_list ap;

	va_start(ap, first);
	for (const char *a = first; a != NULL; a = va_arg(ap, const char *)) {
		assert_true(argc < 31);
		argv[argc++] = (char *)a;
	}
	va_end(ap);
	err[0] = '\0';
	return options_parse(argc, argv, max_clients_ceiling(), &opt, err,
			     sizeof(err));
}

static void test_defaults(void **state)
{
	(void)state;
	assert_int_equal(parse("7777", NULL), 0);
	assert_int_equal(opt.port, 7777);
	assert_null(opt.bind_addr);
	assert_int_equal(opt.max_clients, max_clients_ceiling());
	assert_int_equal(opt.max_clients, FD_SETSIZE - SERVER_OWN_FDS);
	assert_int_equal(opt.max_line, 8192);
	assert_int_equal(opt.idle_timeout, 300);
	assert_false(opt.trace);
	assert_false(opt.quiet);
}

static void test_port_range(void **state)
{
	(void)state;
	assert_int_equal(parse("0", NULL), 0);
	assert_int_equal(opt.port, 0);
	assert_int_equal(parse("65535", NULL), 0);
	assert_int_equal(opt.port, 65535);
	assert_int_equal(parse("65536", NULL), -1);
	assert_string_equal(err, "invalid port '65536' (expected 0..65535)");
	assert_int_equal(parse("70000", NULL), -1);
	assert_int_equal(parse("abc", NULL), -1);
	assert_int_equal(parse("", NULL), -1);
	assert_int_equal(parse("+5", NULL), -1);
	assert_int_equal(parse("5x", NULL), -1);
	assert_int_equal(parse("99999999999999999999999", NULL), -1);
}

static void test_negative_port_is_a_bad_port(void **state)
{
	(void)state;
	assert_int_equal(parse("-1", NULL), -1);
	assert_string_equal(err, "invalid port '-1' (expected 0..65535)");
}

static void test_missing_and_extra_port(void **state)
{
	(void)state;
	/* No port is not the parser's to refuse: socket activation needs
	 * none.  main() refuses it when it has no inherited sockets. */
	assert_int_equal(parse(NULL, NULL), 0);
	assert_false(opt.have_port);
	assert_int_equal(parse("1", "2", NULL), -1);
	assert_string_equal(err, "unexpected argument '2' (one port only)");
}

static void test_options_before_or_after_port(void **state)
{
	(void)state;
	assert_int_equal(parse("-q", "7000", "-T", NULL), 0);
	assert_int_equal(opt.port, 7000);
	assert_true(opt.quiet);
	assert_true(opt.trace);
	assert_int_equal(parse("7000", "-l", "100", NULL), 0);
	assert_int_equal(opt.max_line, 100);
}

static void test_long_options_with_equals_or_space(void **state)
{
	(void)state;
	assert_int_equal(parse("--max-line=16", "1", NULL), 0);
	assert_int_equal(opt.max_line, 16);
	assert_int_equal(parse("--max-line", "17", "1", NULL), 0);
	assert_int_equal(opt.max_line, 17);
	assert_int_equal(parse("--bind=::1", "--idle-timeout", "0",
			       "--max-clients=3", "--trace", "--quiet", "1",
			       NULL),
			 0);
	assert_string_equal(opt.bind_addr, "::1");
	assert_int_equal(opt.idle_timeout, 0);
	assert_int_equal(opt.max_clients, 3);
	assert_true(opt.trace && opt.quiet);
}

static void test_short_options_attached_and_clustered(void **state)
{
	(void)state;
	assert_int_equal(parse("-c5", "-qTl", "32", "9", NULL), 0);
	assert_int_equal(opt.max_clients, 5);
	assert_true(opt.quiet && opt.trace);
	assert_int_equal(opt.max_line, 32);
	assert_int_equal(opt.port, 9);
}

static void test_value_ranges(void **state)
{
	(void)state;
	assert_int_equal(parse("-c", "0", "1", NULL), -1);
	assert_int_equal(parse("-c", "1", "1", NULL), 0);
	char above[32];
	snprintf(above, sizeof(above), "%zu", max_clients_ceiling() + 1);
	assert_int_equal(parse("-c", above, "1", NULL), -1);
	assert_int_equal(parse("-l", "15", "1", NULL), -1);
	assert_string_equal(err,
			    "invalid --max-line '15' (expected 16..1048576)");
	assert_int_equal(parse("-l", "1048576", "1", NULL), 0);
	assert_int_equal(parse("-l", "1048577", "1", NULL), -1);
	assert_int_equal(parse("-t", "86400", "1", NULL), 0);
	assert_int_equal(parse("-t", "86401", "1", NULL), -1);
	assert_int_equal(parse("-t", "1.5", "1", NULL), -1);
	assert_int_equal(parse("-t", "-1", "1", NULL), -1);
	assert_int_equal(parse("-b", "", "1", NULL), -1);
}

static void test_unknown_and_malformed_options(void **state)
{
	(void)state;
	assert_int_equal(parse("-x", "1", NULL), -1);
	assert_string_equal(err, "unknown option '-x'");
	assert_int_equal(parse("--frobnicate", "1", NULL), -1);
	assert_string_equal(err, "unknown option '--frobnicate'");
	assert_int_equal(parse("--trace=yes", "1", NULL), -1);
	assert_string_equal(err, "option '--trace' takes no value");
	assert_int_equal(parse("1", "-l", NULL), -1);
	assert_string_equal(err, "option '-l' needs a value");
	assert_int_equal(parse("1", "--bind", NULL), -1);
	assert_string_equal(err, "option '--bind' needs a value");
	assert_int_equal(parse("--max", "1", NULL), -1); /* no abbreviations */
}

static void test_double_dash_ends_options(void **state)
{
	(void)state;
	assert_int_equal(parse("-q", "--", "8", NULL), 0);
	assert_int_equal(opt.port, 8);
	assert_int_equal(parse("--", "-q", NULL), -1);
}

static void test_help_and_version_need_no_port(void **state)
{
	(void)state;
	assert_int_equal(parse("--help", NULL), 0);
	assert_true(opt.help);
	assert_int_equal(parse("-V", NULL), 0);
	assert_true(opt.version);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_port_range),
	    cmocka_unit_test(test_negative_port_is_a_bad_port),
	    cmocka_unit_test(test_missing_and_extra_port),
	    cmocka_unit_test(test_options_before_or_after_port),
	    cmocka_unit_test(test_long_options_with_equals_or_space),
	    cmocka_unit_test(test_short_options_attached_and_clustered),
	    cmocka_unit_test(test_value_ranges),
	    cmocka_unit_test(test_unknown_and_malformed_options),
	    cmocka_unit_test(test_double_dash_ends_options),
	    cmocka_unit_test(test_help_and_version_need_no_port),
	};
	return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
