/*
 * log.h - one line per event on stderr (docs/protocol.md section 5), through
 * a bounded buffer so that a stalled log reader never stops the server.
 *
 *   log_client()   per-client events (connect, close, turned away); -q
 *                  hides them
 *   log_server()   the listening line, server-level errors, the summary;
 *                  always
 *   trace_line()   the classroom trace of the event loop (-T), unprefixed
 *
 * TRACE() tests its flag before it evaluates its arguments, so with tracing
 * off it costs one predictable branch.
 *
 * Lines are formatted whole into the buffer; log_flush() hands them to
 * stderr only as far as stderr can take them without blocking.  When the
 * buffer is full a line is dropped and counted; once stderr has caught up,
 * "N log lines dropped" is logged in their place.
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

/*
 * Look at what stderr is (a pipe or socket can fill; a terminal or file
 * does not) and choose how to write to it.  with_time puts an ISO 8601 UTC
 * timestamp in front of every line.  Also arranges for what is still
 * buffered at exit to be written (waiting a moment at most).  Call once,
 * before the first log line.  Until it is called (and in programs that
 * never call it) each line is written at once with one blocking write(2).
 */
void log_init(bool with_time);

/* In worker id of --workers: every line, trace lines too, begins
 * "echoserv[id]: " instead of "echoserv: ". */
void log_set_worker(unsigned id);

void log_client(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_server(const char *fmt, ...) PRINTF_LIKE(1, 2);
void trace_line(const char *fmt, ...) PRINTF_LIKE(1, 2);

#define TRACE(...)                                                             \
	do {                                                                   \
		if (trace_on)                                                  \
			trace_line(__VA_ARGS__);                               \
	} while (0)

/* Write what stderr can take now without blocking. */
void log_flush(void);

/* In a child after fork(): forget the lines the parent had buffered
 * (the parent writes them; the child would write them again). */
void log_after_fork(void);

/* Is anything still buffered?  The event loop then watches stderr for
 * writability and calls log_flush() when it can take more. */
bool log_pending(void);

#endif
