/*
 * test_numbers.c - unit tests of the one number reader (numbers.h): what
 * the options, the socket-activation variables and numeric ids accept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "numbers.h"

static bool reads(const char *text, uintmax_t lo, uintmax_t hi, uintmax_t *v)
{
	*v = 12345; /* untouched unless the text is accepted */
	return parse_decimal(text, lo, hi, v);
}

static void decimal_digits_within_the_range_are_read(void **state)
{
	uintmax_t v;

	(void)state;
	assert_true(reads("0", 0, 10, &v));
	assert_int_equal(v, 0);
	assert_true(reads("65535", 0, 65535, &v));
	assert_int_equal(v, 65535);
	assert_true(reads("007", 0, 10, &v)); /* leading zeros: still 7 */
	assert_int_equal(v, 7);
}

static void bounds_are_inclusive_and_enforced(void **state)
{
	uintmax_t v;

	(void)state;
	assert_false(reads("65536", 0, 65535, &v));
	assert_false(reads("15", 16, 1048576, &v));
	assert_true(reads("16", 16, 1048576, &v));
	assert_int_equal(v, 16);
}

static void anything_but_digits_is_refused(void **state)
{
	static const char *const bad[] = {"",     "-1",  "+1",  " 1", "1 ",
					  "0x10", "1e3", "1.5", "١"};
	uintmax_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(reads(bad[i], 0, UINTMAX_MAX, &v));
		assert_int_equal(v, 12345);
	}
}

/* 2^32 must not wrap to 0 for a 32-bit range, nor 2^64 for the widest. */
static void values_beyond_the_type_never_wrap(void **state)
{
	uintmax_t v;

	(void)state;
	assert_false(reads("4294967296", 0, UINT32_MAX - 1, &v));
	assert_false(reads("4294967295", 0, UINT32_MAX - 1, &v));
	assert_true(reads("18446744073709551615", 0, UINTMAX_MAX, &v));
	assert_true(v == UINTMAX_MAX);
	assert_false(reads("18446744073709551616", 0, UINTMAX_MAX, &v));
	assert_false(reads("99999999999999999999999", 0, UINTMAX_MAX, &v));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(decimal_digits_within_the_range_are_read),
	    cmocka_unit_test(bounds_are_inclusive_and_enforced),
	    cmocka_unit_test(anything_but_digits_is_refused),
	    cmocka_unit_test(values_beyond_the_type_never_wrap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
