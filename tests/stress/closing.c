/*
 * closing.c - "closing never destroys replies" (docs/protocol.md §3.8)
 * when the client is slow to read and keeps sending after the
 * conversation has ended.
 *
 * Each case uses a client with a small receive buffer (16 KB) that
 * pipelines 200 lines of 1000 bytes, then megabytes of further input,
 * and reads nothing for a second.  The server's replies back up in
 * its socket's send queue; it stops reading; megabytes wait unread.  Then
 * the conversation ends:
 *
 *   quit       a "quit" line follows the 200 lines (§3.3: the replies
 *              before it are delivered, bytes after it are discarded)
 *   too-long   a 2 MB line without LF follows (§3.5: the replies, then
 *              "error: line too long ...", then close)
 *   shutdown   SIGTERM while the replies are owed (§4: replies already
 *              queued are delivered, within the 2 s drain, and the
 *              server exits 0 within 3 s)
 *
 * Then the client reads everything.  It must receive every reply the
 * server's close line says it echoed (all 200 lines for quit and
 * too-long, plus the error message) and then EOF.  A server that close()s
 * with input still unread makes TCP send a reset, which throws away the
 * replies still in its send queue: the client gets fewer bytes than the
 * server logged.
 *
 * A fourth case floods the server through SIGTERM without ever reading or
 * closing: whatever the server does to close politely, it must still exit
 * 0 within 3 s of the signal.  A last one checks that closing politely does
 * not keep the next client out (--max-clients 1).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stress.h"

#define LINES    200
#define LINE_LEN 1000
#define EXTRA    (2 * 1024 * 1024)
/* Shutdown: enough that the server's send queue (at most a few MB) fills
 * and replies are still owed when the signal comes. */
#define EXTRA_SHUTDOWN (12 * 1024 * 1024)
#define RCVBUF         16384
#define SEND_MS        1000 /* send (never read) this long */
#define TOO_LONG       "error: line too long (limit 8192 bytes)\r\n"

enum close_case { CASE_QUIT, CASE_TOO_LONG, CASE_SHUTDOWN };

/* The stream this client sends: LINES lines, the case's ending, then
 * EXTRA more bytes (lines for quit and shutdown, one long line for
 * too-long).  Returns a malloc'd buffer. */
static char *build_input(enum close_case cc, size_t *len)
{
	size_t extra = cc == CASE_SHUTDOWN ? EXTRA_SHUTDOWN : EXTRA;
	size_t cap = (size_t)LINES * LINE_LEN + 8 + extra;
	char *buf = malloc(cap);
	size_t n = 0;

	if (buf == NULL)
		return NULL;
	for (int i = 0; i < LINES; i++) {
		memset(buf + n, 'a' + i % 26, LINE_LEN - 1);
		buf[n + LINE_LEN - 1] = '\n';
		n += LINE_LEN;
	}
	if (cc == CASE_QUIT) {
		static const char quit[] = {'q', 'u', 'i', 't', '\n'};
		memcpy(buf + n, quit, sizeof(quit));
		n += sizeof(quit);
	}
	for (size_t i = 0; i < extra; i++)
		buf[n + i] = cc != CASE_TOO_LONG && i % 100 == 99 ? '\n' : 'x';
	*len = n + extra;
	return buf;
}

/* A client with a small receive buffer (set before connect, so the
 * window is small from the start).  -1 on failure. */
static int small_window_client(int port)
{
	struct connect_opts co = {.rcvbuf = RCVBUF};

	return tcp_connect(LOOPBACK, port, &co);
}

/* Start the server of one case (its log logdir/logname.log) and connect
 * the small-window client to it.  The client's fd, or -1 with nothing
 * left running. */
static int start_case(const struct stress_opts *o, const char *logname,
		      struct proc *sp)
{
	if (start_echoserv(o, sp, logname, 0, NULL) != 0)
		return -1;
	int fd = small_window_client(sp->port);
	if (fd < 0)
		proc_stop(sp);
	return fd;
}

/* Write as much of buf as the server takes within ms, never reading. */
static size_t send_for(int fd, const char *buf, size_t len, int ms)
{
	size_t sent = 0;
	int64_t end = now_ns() + (int64_t)ms * 1000000;

	while (sent < len && now_ns() < end) {
		ssize_t n = write(fd, buf + sent, len - sent);
		if (n > 0) {
			sent += (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			sleep_ms(5);
		} else {
			break; /* the server reset us: the reads will tell */
		}
	}
	while (now_ns() < end)
		sleep_ms(10);
	return sent;
}

/* "echoed L lines, B bytes" of the close line of the last client in the
 * log, or -1. */
static long long logged_bytes(const char *path)
{
	char line[512];
	long long bytes = -1;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *e = strstr(line, "; echoed ");
		const char *l = e != NULL ? strstr(e, "line") : NULL;
		const char *comma = l != NULL ? strchr(l, ',') : NULL;
		if (strstr(line, " closed (fd ") != NULL && comma != NULL)
			bytes = strtoll(comma + 1, NULL, 10);
	}
	fclose(f);
	return bytes;
}

/* Run one case against a fresh server; true when nothing was lost. */
static bool run_case(const struct stress_opts *o, enum close_case cc)
{
	static const char *const names[] = {"quit", "too-long", "shutdown"};
	const char *tag = "closing";
	struct proc sp;
	char logname[32];
	size_t len, sent, want_echo = (size_t)LINES * LINE_LEN;
	char *input = build_input(cc, &len);
	static char reply[16 * 1024 * 1024];

	snprintf(logname, sizeof(logname), "closing-%s", names[cc]);
	int fd = input != NULL ? start_case(o, logname, &sp) : -1;
	if (fd < 0) {
		free(input);
		printf("%s: %s: cannot start\n", tag, names[cc]);
		return false;
	}
	sent = send_for(fd, input, len,
			cc == CASE_SHUTDOWN ? SEND_MS / 2 : SEND_MS);
	int64_t signalled = now_ns();
	if (cc == CASE_SHUTDOWN) {
		proc_signal(&sp, SIGTERM);
		sleep_ms(SEND_MS / 2);
	}
	struct recv_result rr =
	    client_recv_all(fd, reply, sizeof(reply), 6.0 * harness_scale());
	size_t got = rr.len;
	bool eof = rr.end == RECV_EOF;
	int err = rr.err;
	close(fd);
	bool exit_ok = true;
	if (cc == CASE_SHUTDOWN) {
		int left = 3000 - (int)((now_ns() - signalled) / 1000000);
		exit_ok = proc_wait(&sp, left > 0 ? left / 1000.0 : 0) == 0;
		if (!exit_ok)
			printf(
			    "%s: shutdown: no exit 0 within 3 s of SIGTERM\n",
			    tag);
	} else {
		sleep_ms(100); /* let the close line reach the log */
	}
	long long logged = logged_bytes(sp.err_path);
	proc_stop(&sp);

	/* What must have arrived: the lines (all of them unless the
	 * shutdown cut the conversation short), then the error, if any. */
	if (cc == CASE_SHUTDOWN)
		want_echo = logged > 0 ? (size_t)logged : 0;
	size_t want = want_echo + (cc == CASE_TOO_LONG ? strlen(TOO_LONG) : 0);
	bool ok = got == want && memcmp(reply, input, want_echo) == 0 &&
		  (cc != CASE_TOO_LONG || memcmp(reply + want_echo, TOO_LONG,
						 strlen(TOO_LONG)) == 0) &&
		  logged == (long long)want_echo && eof && exit_ok;
	printf("%s: %-8s sent %zu bytes in %d ms, reading nothing; server "
	       "logged %lld "
	       "bytes echoed; client received %zu of %zu, then %s\n",
	       tag, names[cc], sent, SEND_MS, logged, got, want,
	       eof   ? "EOF"
	       : err ? strerror(err)
		     : "nothing (timeout)");
	free(input);
	return ok;
}

/*
 * SIGTERM while a client floods the server with input and never reads nor
 * closes: the drain (and any polite close) is bounded, so the server must
 * still exit 0 within 3 s of the signal (docs/protocol.md §4).
 */
static bool shutdown_flood_case(const struct stress_opts *o)
{
	const char *tag = "closing";
	struct proc sp;
	size_t len, sent = 0;
	char *input = build_input(CASE_SHUTDOWN, &len); /* lines, no quit */
	int64_t signalled = 0, exited = 0;

	int fd = input != NULL ? start_case(o, "closing-flood", &sp) : -1;
	if (fd < 0) {
		free(input);
		return false;
	}
	/* Flood for 500 ms, signal, flood on for up to 4 s more. */
	int64_t start = now_ns();
	while (now_ns() - start < INT64_C(4500000000) && exited == 0) {
		if (signalled == 0 && now_ns() - start >= 500000000) {
			proc_signal(&sp, SIGTERM);
			signalled = now_ns();
		}
		ssize_t n = write(fd, input + sent % (len / 2), len / 2);
		if (n > 0)
			sent += (size_t)n;
		else
			sleep_ms(1);
		if (signalled != 0 && proc_wait(&sp, 0) >= 0)
			exited = now_ns();
	}
	close(fd);
	if (exited == 0 && proc_wait(&sp, 1.0) >= 0)
		exited = now_ns();
	double secs = exited ? (double)(exited - signalled) / 1e9 : -1.0;
	bool ok = exited != 0 && secs < 3.0 && sp.status == 0;
	printf("%s: flood    sent %zu bytes, never reading nor closing; server "
	       "exit status %d %.2f s after SIGTERM\n",
	       tag, sent, exited ? sp.status : -1, secs);
	proc_stop(&sp);
	free(input);
	return ok;
}

/*
 * A conversation that has ended frees its place: with --max-clients 1, a
 * client says quit, gets its reply and EOF, but has not closed its socket
 * yet (a script that has not got round to it, or a client still sending).
 * The next client must be served, not turned away with "server full":
 * whatever the server does to close politely, it no longer has a client.
 */
static bool slot_freed_case(const struct stress_opts *o)
{
	const char *tag = "closing";
	const char *const args[] = {"--max-clients", "1", NULL};
	struct proc sp;
	char buf[64] = "";

	if (start_echoserv(o, &sp, "closing-slot", 0, args) != 0)
		return false;
	int a = tcp_connect(LOOPBACK, sp.port, NULL);
	bool ok = a >= 0 && client_send_str(a, "hi\nquit\n", 3.0) == 0;
	struct recv_result r = {0, RECV_ERROR, 0};
	if (ok)
		r = client_recv_all(a, buf, sizeof(buf), 3.0);
	ok = ok && r.end == RECV_EOF && r.len == 3 &&
	     memcmp(buf, "hi\n", 3) == 0;
	int b = tcp_connect(LOOPBACK, sp.port, NULL);
	bool served = b >= 0 && client_echo(b, "next\n", 3.0);
	printf("%s: slot     --max-clients 1: the first client quit and got "
	       "EOF%s; the next client, while the first still holds its "
	       "socket, %s\n",
	       tag, ok ? "" : " (NOT: wrong reply)",
	       served ? "is served" : "is NOT served (server full?)");
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	proc_stop(&sp);
	return ok && served;
}

/* Append text to the verdict's reason, within its size. */
static void add_reason(char *why, size_t size, const char *text)
{
	size_t used = strlen(why);

	if (used < size)
		snprintf(why + used, size - used, "%s%s", used ? "; " : "",
			 text);
}

int scenario_closing(const struct stress_opts *o)
{
	static const char *const lost[] = {"quit: replies lost",
					   "too-long: replies lost",
					   "shutdown: replies lost"};
	char why[256] = "";

	for (int cc = CASE_QUIT; cc <= CASE_SHUTDOWN; cc++)
		if (!run_case(o, (enum close_case)cc))
			add_reason(why, sizeof(why), lost[cc]);
	if (!shutdown_flood_case(o))
		add_reason(why, sizeof(why), "flood: no exit 0 within 3 s");
	if (!slot_freed_case(o))
		add_reason(why, sizeof(why),
			   "slot: a finished conversation kept the next "
			   "client out");
	return verdict("closing", why[0] == '\0', why);
}
