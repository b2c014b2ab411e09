/*
 * numbers.h - the one way the project reads a number a person or a
 * program wrote: decimal digits only (no sign, no space, no 0x), within a
 * range, checked before it can overflow.  Used for the options, the
 * socket-activation variables and numeric user and group ids.
 */
#ifndef ECHOSERV_NUMBERS_H
#define ECHOSERV_NUMBERS_H

#include <stdbool.h>
#include <stdint.h>

/* Is text a decimal number in lo..hi?  If so, *out is it. */
bool parse_decimal(const char *text, uintmax_t lo, uintmax_t hi,
		   uintmax_t *out);

#endif
