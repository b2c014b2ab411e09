/*
 * log.c - log lines through a bounded buffer that is written to stderr only
 * as fast as stderr takes it (see log.h).
 *
 * How a write is kept from blocking without touching the file's flags
 * (setting O_NONBLOCK on stderr would change the file description we share
 * with the shell that started us, and break it):
 *
 *   a regular file   never fills: written directly.
 *   a terminal       fills when nobody reads it (an ssh session whose
 *                    network stalled, a tmux pane nobody looks at).  It is
 *                    opened again by name, nonblocking: a file description
 *                    of our own, put in place of stderr, that fails with
 *                    EAGAIN instead of waiting.  If it cannot be opened, it
 *                    is written as a pipe is.
 *   a stream socket  (e.g. systemd's journal) send(MSG_DONTWAIT): a
 *                    nonblocking write for this call only.
 *   a datagram       (a Unix datagram socket) the same, one line per
 *     socket         datagram: a datagram is sent whole or not at all, so
 *                    the buffer cannot go in one piece.
 *   a pipe           (or a socket without MSG_DONTWAIT) written only after
 *                    a zero-timeout select() says it is writable, and then
 *                    at most PIPE_BUF bytes: a writable pipe has room for
 *                    that many.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

bool log_quiet = false;
bool trace_on = false;

/* The longest line: a trace line listing every fd of a full fd_set. */
#define LOG_LINE_MAX 16384
/* What the buffer holds; a stalled reader loses what does not fit. */
#define LOG_BUFFER_SIZE (256 * 1024)
/* At exit, how long to wait for a slow stderr to take the rest. */
#define EXIT_FLUSH_MS 500

enum sink { SINK_DIRECT, SINK_SOCKET, SINK_DATAGRAM, SINK_PIPE };

static struct {
	bool buffered; /* log_init() was called; else each line is written */
	enum sink sink;
	bool with_time;
	char buf[LOG_BUFFER_SIZE];
	size_t len;       /* bytes buffered, from buf[0] */
	uint64_t dropped; /* lines that did not fit, not yet reported */
	bool broken;      /* stderr failed for good (e.g. EPIPE): discard */
	char prefix[32];  /* "echoserv: ", or "echoserv[2]: " in worker 2 */
	char trace_prefix[32]; /* "", or the worker's prefix */
} out = {.prefix = "echoserv: "};

/* ============================== writing ============================== */

/* Can stderr take bytes now?  Asked only of pipes. */
static bool stderr_writable(void)
{
	fd_set w;
	struct timeval zero = {0, 0};

	FD_ZERO(&w);
	FD_SET(STDERR_FILENO, &w);
	return select(STDERR_FILENO + 1, NULL, &w, NULL, &zero) > 0;
}

/* One write of at most len bytes that does not block; like write(2). */
static ssize_t write_some(const char *p, size_t len)
{
	switch (out.sink) {
	case SINK_DATAGRAM: {
		const char *lf = memchr(p, '\n', len);
		if (lf != NULL)
			len = (size_t)(lf - p) + 1; /* one line, one datagram */
	}
		/* FALLTHROUGH */
	case SINK_SOCKET:
#ifdef MSG_DONTWAIT
		return send(STDERR_FILENO, p, len, MSG_DONTWAIT);
#endif
		/* FALLTHROUGH: without MSG_DONTWAIT, treated as a pipe */
	case SINK_PIPE:
		if (!stderr_writable()) {
			errno = EAGAIN;
			return -1;
		}
		return write(STDERR_FILENO, p, len < PIPE_BUF ? len : PIPE_BUF);
	case SINK_DIRECT:
		break;
	}
	return write(STDERR_FILENO, p, len);
}

/* The length of the line at p, LF included. */
static size_t line_length(const char *p, size_t len)
{
	const char *lf = memchr(p, '\n', len);
	return lf != NULL ? (size_t)(lf - p) + 1 : len;
}

/* Write from the front of the buffer until it is empty or stderr is full. */
static void write_buffered(void)
{
	size_t off = 0;

	while (off < out.len) {
		ssize_t n = write_some(out.buf + off, out.len - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
			      errno == ENOBUFS))
			break;
		if (n < 0 && errno == EMSGSIZE && out.sink == SINK_DATAGRAM) {
			off += line_length(out.buf + off, out.len - off);
			out.dropped++; /* that one line is too big to send */
			continue;
		}
		out.broken = true; /* no reader, or no stderr: discard */
		off = out.len;
	}
	memmove(out.buf, out.buf + off, out.len - off);
	out.len -= off;
}

/* ============================== formatting ============================== */

/* "2026-12-01T22:20:27.123Z " into buf (at least 32 bytes); its length. */
static size_t format_time(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	int m = snprintf(buf + n, len - n, ".%03ldZ ", ts.tv_nsec / 1000000);
	return m > 0 ? n + (size_t)m : n;
}

/* Before log_init() (and in the comparison servers, some of which log
 * from many threads): one blocking write(2) per line, errors ignored. */
static void write_line_now(const char *line, size_t len)
{
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

/* Append one whole line to the buffer, or count it as dropped. */
static void append(const char *line, size_t len)
{
	if (!out.buffered) {
		write_line_now(line, len);
		return;
	}
	if (out.broken)
		return;
	if (len > sizeof(out.buf) - out.len)
		write_buffered(); /* a full buffer may just be a busy round */
	if (len > sizeof(out.buf) - out.len) {
		out.dropped++;
		return;
	}
	memcpy(out.buf + out.len, line, len);
	out.len += len;
}

/* Format prefix and fmt into line (LOG_LINE_MAX bytes) as one line ending
 * in LF, with the timestamp if asked for; returns its length. */
static size_t format_line(char *line, const char *prefix, const char *fmt,
			  va_list ap)
{
	size_t len = 0;

	if (out.with_time)
		len = format_time(line, LOG_LINE_MAX);
	len += (size_t)snprintf(line + len, LOG_LINE_MAX - len, "%s", prefix);
	/* ap comes from va_start in every caller; clang-tidy 14, checking
	 * many files in one run, loses track of that. */
	// NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
	int body = vsnprintf(line + len, LOG_LINE_MAX - len - 1, fmt, ap);
	if (body > 0)
		len += (size_t)body < LOG_LINE_MAX - len - 1
			   ? (size_t)body
			   : LOG_LINE_MAX - len - 2; /* truncated */
	line[len++] = '\n';
	return len;
}

static void emit(const char *prefix, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];

	append(line, format_line(line, prefix, fmt, ap));
}

/* The "N log lines dropped" line, put straight into the empty buffer. */
static void report_dropped(const char *fmt, ...) PRINTF_LIKE(1, 2);
static void report_dropped(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	out.len = format_line(out.buf, out.prefix, fmt, ap);
	va_end(ap);
}

/* ============================== interface ============================== */

void log_flush(void)
{
	write_buffered();
	if (out.len == 0 && out.dropped > 0) {
		uint64_t n = out.dropped;
		out.dropped = 0;
		report_dropped("%llu log line%s dropped", (unsigned long long)n,
			       n == 1 ? "" : "s");
		write_buffered();
	}
}

void log_after_fork(void)
{
	out.len = 0;
	out.dropped = 0;
}

bool log_pending(void)
{
	return out.len > 0 || out.dropped > 0;
}

/* At exit: what is left, waiting EXIT_FLUSH_MS at most for room. */
static void flush_at_exit(void)
{
	struct timespec nap = {0, 10L * 1000000};

	log_flush();
	for (int waited = 0; log_pending() && waited < EXIT_FLUSH_MS;
	     waited += 10) {
		nanosleep(&nap, NULL);
		log_flush();
	}
}

/* A socket's type: SOCK_STREAM, SOCK_DGRAM, ...; -1 if unknown. */
static int socket_type(int fd)
{
	int type;
	socklen_t len = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 ? type
								     : -1;
}

/* stderr is a terminal: put a nonblocking description of the same
 * terminal in its place.  false if that cannot be done. */
static bool reopen_terminal_nonblocking(void)
{
	const char *name = ttyname(STDERR_FILENO);
	if (name == NULL)
		return false;
	int fd = open(name, O_WRONLY | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return false;
	bool ok = dup2(fd, STDERR_FILENO) == STDERR_FILENO;
	close(fd);
	return ok;
}

void log_init(bool with_time)
{
	struct stat st;

	out.buffered = true;
	out.with_time = with_time;
	out.sink = SINK_DIRECT;
	if (isatty(STDERR_FILENO)) {
		if (!reopen_terminal_nonblocking())
			out.sink = SINK_PIPE;
	} else if (fstat(STDERR_FILENO, &st) == 0) {
		if (S_ISSOCK(st.st_mode))
			out.sink = socket_type(STDERR_FILENO) == SOCK_STREAM
				       ? SINK_SOCKET
				       : SINK_DATAGRAM;
		else if (S_ISFIFO(st.st_mode))
			out.sink = SINK_PIPE;
	}
	(void)atexit(flush_at_exit);
}

void log_client(const char *fmt, ...)
{
	va_list ap;

	if (log_quiet)
		return;
	va_start(ap, fmt);
	emit(out.prefix, fmt, ap);
	va_end(ap);
}

void log_server(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(out.prefix, fmt, ap);
	va_end(ap);
}

void trace_line(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(out.trace_prefix, fmt, ap);
	va_end(ap);
}

void log_set_worker(unsigned id)
{
	snprintf(out.prefix, sizeof(out.prefix), "echoserv[%u]: ", id);
	snprintf(out.trace_prefix, sizeof(out.trace_prefix), "%s", out.prefix);
}
