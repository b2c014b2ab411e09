/*
 * log.c - formats each log line whole and writes it with one write(2), so
 * lines never interleave and nothing waits in a stdio buffer.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

bool log_quiet = false;
bool trace_on = false;

/* Big enough for a trace line listing every fd of a full fd_set. */
#define LOG_LINE_MAX 16384

static void emit(const char *prefix, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	int head = snprintf(line, sizeof(line), "%s", prefix);
	int body =
	    vsnprintf(line + head, sizeof(line) - (size_t)head - 1, fmt, ap);
	size_t len = (size_t)head;

	if (body > 0)
		len += (size_t)body < sizeof(line) - len - 1
			   ? (size_t)body
			   : sizeof(line) - len - 2; /* truncated */
	line[len++] = '\n';

	/* Logging must never stop the server: errors are ignored. */
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(STDERR_FILENO, line + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

void log_client(const char *fmt, ...)
{
	va_list ap;

	if (log_quiet)
		return;
	va_start(ap, fmt);
	emit("echoserv: ", fmt, ap);
	va_end(ap);
}

void log_server(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("echoserv: ", fmt, ap);
	va_end(ap);
}

void trace_line(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit("", fmt, ap);
	va_end(ap);
}
