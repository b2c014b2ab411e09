/*
 * trace.c - formatting of the classroom trace and of the per-client log
 * lines (see trace.h).
 */
#include "trace.h"

#include <stdio.h>

#include "options.h"

/* "s" unless there is exactly one. */
static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

void trace_header(void)
{
	TRACE("trace: echoserv %s pid %ld FD_SETSIZE %d", ECHOSERV_VERSION,
	      (long)getpid(), FD_SETSIZE);
}

void trace_descriptors(const struct listener *l, size_t n, int signal_fd)
{
	trace_header();
	for (size_t i = 0; i < n; i++)
		TRACE("fd %d: listening socket %s", l[i].fd, l[i].where);
	TRACE("fd %d: signal pipe", signal_fd);
}

/* "{3,4,5}": the members of set below nfds. */
static void format_fd_set(const fd_set *set, int nfds, char *buf, size_t len)
{
	size_t used = 0;

	used += (size_t)snprintf(buf, len, "{");
	for (int fd = 0; fd < nfds && used < len; fd++)
		if (FD_ISSET(fd, set))
			used += (size_t)snprintf(buf + used, len - used,
						 used > 1 ? ",%d" : "%d", fd);
	if (used < len)
		snprintf(buf + used, len - used, "}");
}

void trace_select(const fd_set *r, const fd_set *w, int nfds,
		  const struct timeval *timeout, bool ready)
{
	/* Static: with every fd set these are 6 KiB each. */
	static char rtext[FD_SETSIZE * 6], wtext[FD_SETSIZE * 6];
	char ttext[32] = "";

	format_fd_set(r, nfds, rtext, sizeof(rtext));
	format_fd_set(w, nfds, wtext, sizeof(wtext));
	if (!ready && timeout == NULL)
		snprintf(ttext, sizeof(ttext), " timeout=none");
	else if (!ready)
		snprintf(ttext, sizeof(ttext), " timeout=%.1fs",
			 (double)timeout->tv_sec +
			     (double)timeout->tv_usec / 1e6);
	trace_line("select: %-8s read=%s write=%s%s",
		   ready ? "ready" : "waiting", rtext, wtext, ttext);
}

/* "{3,4,5}": the n descriptors of fds, as many as fit in len (then
 * "...}"). */
static void format_fd_list(const int *fds, size_t n, char *buf, size_t len)
{
	size_t used = (size_t)snprintf(buf, len, "{");

	for (size_t i = 0; i < n; i++) {
		if (used + 16 >= len) {
			snprintf(buf + used, len - used, "...");
			used += 3;
			break;
		}
		used += (size_t)snprintf(buf + used, len - used,
					 i > 0 ? ",%d" : "%d", fds[i]);
	}
	snprintf(buf + used, len - used, "}");
}

void trace_wait(const char *who, bool ready, const int *r, size_t nr,
		const int *w, size_t nw, int64_t timeout_ns)
{
	/* Static, and short enough for a log line with both. */
	static char rtext[6144], wtext[6144];
	char ttext[32] = "";

	if (!ready && timeout_ns < 0)
		snprintf(ttext, sizeof(ttext), " timeout=none");
	else if (!ready)
		snprintf(ttext, sizeof(ttext), " timeout=%.1fs",
			 (double)timeout_ns / 1e9);
	if (r == NULL && w == NULL) {
		trace_line("%s: %s%s", who, ready ? "ready" : "waiting", ttext);
		return;
	}
	format_fd_list(r, nr, rtext, sizeof(rtext));
	format_fd_list(w, nw, wtext, sizeof(wtext));
	trace_line("%s: %-8s read=%s write=%s%s", who,
		   ready ? "ready" : "waiting", rtext, wtext, ttext);
}

void trace_transition(int fd, enum conn_state from, enum conn_state to,
		      const struct session *s, const char *why)
{
	const char *reason = close_reason_name(s->reason);
	char detail[80] = "";

	if (to == CONN_WRITING && from == CONN_READING && s->raw) {
		snprintf(detail, sizeof(detail), " (raw, %zu bytes)",
			 session_bytes_owed(s));
	} else if (to == CONN_WRITING && from == CONN_READING) {
		size_t lines = session_lines_owed(s);
		snprintf(detail, sizeof(detail), " (%zu line%s%s%s)", lines,
			 plural(lines),
			 s->reason != CLOSE_NONE ? ", then " : "",
			 s->reason != CLOSE_NONE ? reason : "");
	} else if (to == CONN_DONE) {
		snprintf(detail, sizeof(detail), " (%s)", reason);
	} else if (why != NULL) {
		snprintf(detail, sizeof(detail), " (%s)", why);
	}
	trace_line("fd %d: %s -> %s%s", fd, conn_state_name(from),
		   conn_state_name(to), detail);
}

void log_connected(const char *peer, int fd)
{
	log_client("client %s connected (fd %d)", peer, fd);
}

void log_closed(const char *peer, int fd, const struct session *s)
{
	const char *reason = close_reason_name(s->reason);
	unsigned long long bytes = (unsigned long long)s->bytes_echoed;

	if (s->raw)
		log_client("client %s closed (fd %d): %s; echoed %llu byte%s "
			   "raw",
			   peer, fd, reason, bytes, plural(bytes));
	else
		log_client("client %s closed (fd %d): %s; echoed %llu line%s, "
			   "%llu byte%s",
			   peer, fd, reason,
			   (unsigned long long)s->lines_echoed,
			   plural(s->lines_echoed), bytes, plural(bytes));
}

void log_turned_away(const char *peer, const char *why)
{
	log_client("client %s turned away: %s", peer, why);
}

void log_status(size_t clients, size_t lingering, uint64_t served,
		uint64_t lines, uint64_t bytes)
{
	log_server("status: %zu client%s, %zu lingering; served %llu, echoed "
		   "%llu lines, %llu bytes so far",
		   clients, clients == 1 ? "" : "s", lingering,
		   (unsigned long long)served, (unsigned long long)lines,
		   (unsigned long long)bytes);
}

void log_draining(unsigned seconds)
{
	log_client("shutting down: delivering queued replies for up to %u s",
		   seconds);
}

void log_abandoning(void)
{
	log_server("second signal: abandoning the drain");
}

void log_summary(uint64_t clients, uint64_t lines, uint64_t bytes)
{
	log_server("shutdown: served %llu client%s, echoed %llu line%s, %llu "
		   "byte%s",
		   (unsigned long long)clients, plural(clients),
		   (unsigned long long)lines, plural(lines),
		   (unsigned long long)bytes, plural(bytes));
}
