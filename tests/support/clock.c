/*
 * clock.c - the monotonic clock and the time bounds (see clock.h).
 */
#include "clock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double now_s(void)
{
	return (double)now_ns() / 1e9;
}

void sleep_s(double seconds)
{
	struct timespec ts;

	if (seconds <= 0)
		return;
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void sleep_ms(long ms)
{
	sleep_s((double)ms / 1000.0);
}

int ms_until(double deadline)
{
	double left = deadline - now_s();

	if (left <= 0)
		return 0;
	if (left > 1.0)
		return 1000;
	return (int)(left * 1000) + 1;
}

bool harness_sanitized(void)
{
	const char *v = getenv("ECHOSERV_SANITIZED");

	return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

double harness_scale(void)
{
	return harness_sanitized() ? 3.0 : 1.0;
}

double io_timeout(void)
{
	return 2.0 * harness_scale();
}
