/*
 * log.h - one line per event on stderr (SPEC section 5).
 *
 * log_client():  per-client events (connect, close, turned away); -q hides
 * them. log_server():  the listening line, server-level errors, the summary;
 * always. TRACE():       the classroom trace of the event loop (-T),
 * unprefixed.
 *
 * TRACE tests a flag before it evaluates its arguments, so with tracing off
 * it costs one predictable branch.
 */
#ifndef ECHOSERV_LOG_H
#define ECHOSERV_LOG_H

#include <stdbool.h>

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PRINTF_LIKE(fmt, args)
#endif

extern bool log_quiet;
extern bool trace_on;

void log_client(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_server(const char *fmt, ...) PRINTF_LIKE(1, 2);
void trace_line(const char *fmt, ...) PRINTF_LIKE(1, 2);

#define TRACE(...)                                                             \
	do {                                                                   \
		if (trace_on)                                                  \
			trace_line(__VA_ARGS__);                               \
	} while (0)

#endif
