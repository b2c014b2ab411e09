/*
 * stalled_log.c - a log reader that stalls must not stop service
 * (docs/protocol.md §4, "logging never blocks the loop").
 *
 * The server's stderr is a pipe this test holds and does not read (as when
 * `echoserv 7777 2>&1 | less` sits unread in a terminal).  Once the pipe
 * is full, a server that writes its log with blocking write(2) stops in
 * it and serves nobody.  Here thousands of connections (15,000; 5,000 in
 * the short run: some 1.9 MB and 630 KB of log, far more than the pipe
 * and any sensible log buffer hold) each do one echo and close; every
 * echo must come back within ECHO_BOUND.  Then the test drains the pipe,
 * sends SIGTERM and reads the log to its end.  The server must have reported
 * "echoserv: N log lines dropped" with N > 0, and the per-client lines it
 * did write plus the N it dropped must be exactly the two lines (connect,
 * close) of every connection, and its summary must count every client.
 * What was drained goes to logdir/stalled-log.log.
 *
 * stalled-terminal is the same run with stderr on a pseudo-terminal whose
 * reader has stopped (an ssh session whose network stalled): a terminal
 * fills as a pipe does, and must be written as carefully.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stress.h"

#define ECHO_BOUND 2.0 /* seconds one echo may take */

/* What the test drained from the pipe, kept to be counted at the end. */
struct drained {
	char *text;
	size_t len, cap;
	bool eof;
};

/* Read what the pipe holds until it is empty for quiet seconds, EOF, or
 * the deadline.  Returns false only when out of memory. */
static bool drain_pipe(int fd, struct drained *d, double quiet, double deadline)
{
	double quiet_until = now_s() + quiet;

	while (!d->eof && now_s() < deadline && now_s() < quiet_until) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r = poll(&pfd, 1, 20);
		if (r <= 0)
			continue;
		if (d->cap - d->len < 65536) {
			size_t cap = d->cap ? 2 * d->cap : 1 << 20;
			char *grown = realloc(d->text, cap + 1);
			if (grown == NULL)
				return false;
			d->text = grown;
			d->cap = cap;
		}
		ssize_t n = read(fd, d->text + d->len, d->cap - d->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			d->eof = true;
			break;
		}
		d->len += (size_t)n;
		d->text[d->len] = '\0';
		quiet_until = now_s() + quiet;
	}
	return true;
}

/* Connect, echo one line, close, n times; stop at the first that is not
 * served within ECHO_BOUND.  Returns how many were served. */
static size_t serve_many(int port, size_t n, double *secs, char *why,
			 size_t wlen)
{
	double t0 = now_s();
	size_t served = 0;

	for (size_t i = 0; i < n; i++) {
		char line[64];
		int fd = tcp_connect(LOOPBACK, port, NULL);
		snprintf(line, sizeof(line), "stalled log client %06zu\n", i);
		bool ok = fd >= 0 &&
			  client_echo(fd, line, ECHO_BOUND * harness_scale());
		if (fd >= 0)
			close(fd);
		if (!ok) {
			snprintf(why, wlen,
				 "connection %zu of %zu got no echo within "
				 "%.0f s: the server is blocked",
				 i + 1, n, ECHO_BOUND * harness_scale());
			break;
		}
		served++;
	}
	*secs = now_s() - t0;
	return served;
}

/* Write what was drained to path, for whoever looks into a failure. */
static void save_log(const char *path, const struct drained *d)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return;
	if (d->len > 0)
		fwrite(d->text, 1, d->len, f);
	fclose(f);
}

/* One run: the server's stderr on what opts says (a pipe or a terminal),
 * which nobody reads while n clients are served. */
static int run_stalled(const struct stress_opts *o, const char *tag,
		       const struct proc_opts *opts, const char *what)
{
	size_t n = o->long_run ? 15000 : 5000;
	const char *const args[] = {"0", NULL};
	struct drained d = {0};
	struct proc sp;
	char why[256] = "", path[256];
	double secs;

	if (server_start(&sp, opts, args) != 0)
		return verdict(tag, false, "server did not start");
	printf("%s: server stderr on %s nobody reads; %zu connections, "
	       "one echo each\n",
	       tag, what, n);
	fflush(stdout);
	size_t served = serve_many(sp.port, n, &secs, why, sizeof(why));
	printf("%s: %zu of %zu connections served in %.2f s while the log "
	       "was stalled\n",
	       tag, served, n, secs);
	if (served < n) {
		/* Let a blocked server go: its writes now fail. */
		proc_close_pipe(&sp);
		proc_stop(&sp);
		free(d.text);
		return verdict(tag, false, why);
	}

	/* The reader catches up; the server reports what it dropped. */
	bool mem = drain_pipe(sp.err_pipe, &d, 0.5, now_s() + 5.0);
	int early_reports = 0;
	if (mem)
		(void)log_dropped_total(d.text ? d.text : "", &early_reports);
	bool serving = still_serving(tag, &sp);
	proc_signal(&sp, SIGTERM);
	mem = mem && drain_pipe(sp.err_pipe, &d, 5.0, now_s() + 5.0);
	int status = proc_wait(&sp, 3.0);
	snprintf(path, sizeof(path), "%s/%s.log", o->logdir, tag);
	save_log(path, &d);
	proc_close_pipe(&sp);
	if (status < 0)
		proc_stop(&sp);
	if (!mem) {
		free(d.text);
		return verdict(tag, false, "out of memory");
	}

	const char *text = d.text ? d.text : "";
	int reports;
	long dropped = log_dropped_total(text, &reports);
	long connected = count_lines(text, " connected (fd ");
	long closed = count_lines(text, " closed (fd ");
	/* The fresh client of still_serving() logs its two lines too. */
	long owed = 2 * ((long)n + (serving ? 1 : 0));
	char summary[256] = "";
	(void)find_line(text, "echoserv: shutdown:", NULL, summary,
			sizeof(summary));
	printf("%s: drained %zu bytes of log: %ld connect and %ld close lines "
	       "written, %ld dropped (%d report%s, %d before SIGTERM); "
	       "written + dropped = %ld of the %ld owed\n",
	       tag, d.len, connected, closed, dropped, reports,
	       reports == 1 ? "" : "s", early_reports,
	       connected + closed + dropped, owed);
	printf("%s: summary \"%s\"; exit status %d\n", tag,
	       summary[0] ? summary : "(none)", status);

	const char *sv = strstr(summary, "served ");
	long counted = sv != NULL ? strtol(sv + 7, NULL, 10) : -1;
	bool ok = serving && dropped > 0 &&
		  connected + closed + dropped == owed && counted == owed / 2 &&
		  status == 0;
	if (!ok)
		snprintf(why, sizeof(why),
			 "dropped %ld, written + dropped %ld of %ld, summary "
			 "counts %ld clients of %ld, exit status %d%s",
			 dropped, connected + closed + dropped, owed, counted,
			 owed / 2, status,
			 serving ? "" : ", a fresh client was not served");
	free(d.text);
	return verdict(tag, ok, why);
}

int scenario_stalled_log(const struct stress_opts *o)
{
	struct proc_opts opts = {.program = o->server, .stderr_pipe = true};

	return run_stalled(o, "stalled-log", &opts, "a pipe");
}

/* An ssh session whose network stalled: a terminal nobody reads. */
int scenario_stalled_terminal(const struct stress_opts *o)
{
	struct proc_opts opts = {.program = o->server, .stderr_pty = true};

	return run_stalled(o, "stalled-terminal", &opts, "a terminal");
}
