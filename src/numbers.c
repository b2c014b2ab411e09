/*
 * numbers.c - strict decimal numbers (see numbers.h).
 */
#include "numbers.h"

bool parse_decimal(const char *text, uintmax_t lo, uintmax_t hi, uintmax_t *out)
{
	uintmax_t v = 0;

	if (*text == '\0')
		return false;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		uintmax_t digit = (uintmax_t)(*p - '0');
		if (v > (hi - digit) / 10)
			return false; /* beyond hi: stops before overflow */
		v = v * 10 + digit;
	}
	if (v < lo)
		return false;
	*out = v;
	return true;
}
