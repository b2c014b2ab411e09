/*
 * clock.h - the monotonic clock, sleeps, and the time bounds every wait of
 * the test code is measured against.
 *
 * Upper bounds (how long something may take) are multiplied by
 * harness_scale(), which is larger when ECHOSERV_SANITIZED is set: the
 * ASan+UBSan build of the server is slower.  Lower bounds ("not before
 * 0.9 s") are never scaled.
 */
#ifndef TEST_SUPPORT_CLOCK_H
#define TEST_SUPPORT_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* Monotonic clock in seconds. */
double now_s(void);

/* Monotonic clock in nanoseconds (for latencies and CPU shares). */
int64_t now_ns(void);

/* Sleep for seconds, EINTR or not (pacing only, never synchronisation). */
void sleep_s(double seconds);

/* sleep_s in milliseconds. */
void sleep_ms(long ms);

/* Milliseconds from now until deadline (a now_s() value) for poll(): at
 * least 0, at most 1000, so a long wait looks at the clock now and then. */
int ms_until(double deadline);

/* True when the server under test is the sanitizer build. */
bool harness_sanitized(void);

/* Multiplier for upper time bounds: 1, or more under ECHOSERV_SANITIZED. */
double harness_scale(void);

/* Default bound for one exchange with the server (2 s, scaled). */
double io_timeout(void);

#endif
