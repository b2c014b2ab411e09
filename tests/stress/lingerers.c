/*
 * lingerers.c - the lingering flood (docs/protocol.md rule 3.8): one
 * address opens connections as fast as it can, each says quit and then
 * sends a byte every LINGER_POKE ms without ever closing, so that every
 * one lingers for as long as the server lets it.  Meanwhile an honest
 * client from another address connects, echoes a line and closes, again
 * and again.  Lingerers count toward their address and are bounded in
 * number, and the oldest gives its descriptor up when a new client needs
 * one: every honest try must be served.
 *
 * At 500 new connections a second, each lingering 10 s, a server without
 * those bounds reaches FD_SETSIZE in about two seconds and tells the honest
 * client "server full".
 *
 * Two runs: "per-addr" with --max-per-addr 4 (the attacker holds at most
 * 4 descriptors), "no-limit" with no per-address limit and -c 50 (at most
 * 50 lingerers, each new one closing the oldest).  The figures are honest
 * clients served of tried, the attacker's connections, and the most
 * descriptors the server held.
 *
 * One poll() loop drives every client.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stress.h"

#define ATTACKER     "127.0.0.2"
#define HONEST       "127.0.0.1"
#define MAX_ATTACK   1500 /* attacking sockets open at once, at most */
#define OPEN_EVERY   2    /* ms between the attacker's new connections */
#define LINGER_POKE  500  /* ms between a lingerer's bytes */
#define HONEST_EVERY 50   /* ms between honest tries */
#define HONEST_BOUND 2.0  /* seconds an honest echo may take */

struct attacker {
	int fd;          /* -1: free */
	int64_t poke_at; /* its next byte is due then */
};

struct flood {
	int port;
	struct attacker a[MAX_ATTACK];
	uint64_t opened, refused, turned_away;
	uint64_t honest_tried, honest_served;
	int max_fds;
	char first_failure[160];
};

/* One honest try: connect from HONEST, echo a line, close. */
static void honest_try(struct flood *f)
{
	struct connect_opts co = {.source = HONEST, .timeout = HONEST_BOUND};
	int fd = tcp_connect(LOOPBACK, f->port, &co);

	f->honest_tried++;
	if (fd >= 0 && client_echo(fd, "honest\n", HONEST_BOUND)) {
		f->honest_served++;
	} else if (f->first_failure[0] == '\0') {
		snprintf(f->first_failure, sizeof(f->first_failure),
			 "honest try %llu was not served%s",
			 (unsigned long long)f->honest_tried,
			 fd < 0 ? " (no connection)" : "");
	}
	if (fd >= 0)
		close(fd);
}

/* A new attacking connection in a free place: connect and say quit. */
static void attack_open(struct flood *f, int64_t now)
{
	struct connect_opts co = {.source = ATTACKER, .timeout = 1.0};

	for (int i = 0; i < MAX_ATTACK; i++) {
		if (f->a[i].fd >= 0)
			continue;
		int fd = tcp_connect(LOOPBACK, f->port, &co);
		if (fd < 0) {
			f->refused++;
			return;
		}
		(void)set_nonblocking(fd);
		(void)send(fd, "quit\n", 5, 0);
		f->a[i] = (struct attacker){fd, now + LINGER_POKE * 1000000LL};
		f->opened++;
		return;
	}
}

/* Each attacker: drop what the server sends, close if the server has
 * closed for good (a reset, or a turn-away); poke it when due. */
static void attack_tend(struct flood *f, int64_t now)
{
	char buf[256];

	for (int i = 0; i < MAX_ATTACK; i++) {
		struct attacker *a = &f->a[i];
		if (a->fd < 0)
			continue;
		ssize_t n = recv(a->fd, buf, sizeof(buf) - 1, 0);
		if (n > 0) {
			buf[n] = '\0';
			if (strstr(buf, "error: ") != NULL)
				f->turned_away++;
		}
		bool gone = n < 0 && errno != EAGAIN && errno != EWOULDBLOCK;
		if (!gone && now >= a->poke_at) {
			gone = send(a->fd, "x", 1, 0) < 0 && errno != EAGAIN;
			a->poke_at = now + LINGER_POKE * 1000000LL;
		}
		if (gone) {
			close(a->fd);
			a->fd = -1;
		}
	}
}

static int run(const struct stress_opts *o, const char *name,
	       const char *const *args)
{
	char tag[64];
	struct proc sp;
	static struct flood f;
	double seconds = o->long_run ? 20.0 : 4.0;

	snprintf(tag, sizeof(tag), "lingerers-%s", name);
	memset(&f, 0, sizeof(f));
	for (int i = 0; i < MAX_ATTACK; i++)
		f.a[i].fd = -1;
	if (raise_nofile(MAX_ATTACK + 64) < MAX_ATTACK + 64)
		return verdict(tag, false, "cannot raise RLIMIT_NOFILE");
	if (start_echoserv(o, &sp, tag, 0, args) != 0)
		return verdict(tag, false, "server did not start");
	f.port = sp.port;
	int64_t start = now_ns(), end = start + (int64_t)(seconds * 1e9);
	int64_t next_open = start, next_honest = start;
	for (int64_t now = start; now < end; now = now_ns()) {
		if (now >= next_open) {
			attack_open(&f, now);
			next_open = now + OPEN_EVERY * 1000000LL;
		}
		attack_tend(&f, now);
		if (now >= next_honest) {
			honest_try(&f);
			next_honest = now + HONEST_EVERY * 1000000LL;
			int fds = proc_open_fds(sp.pid);
			if (fds > f.max_fds)
				f.max_fds = fds;
		}
		sleep_ms(1);
	}
	for (int i = 0; i < MAX_ATTACK; i++)
		if (f.a[i].fd >= 0)
			close(f.a[i].fd);
	printf("%s: %.0f s: attacker opened %llu connections (%llu refused, "
	       "%llu told error:); honest clients served %llu of %llu; the "
	       "server held at most %d descriptors\n",
	       tag, seconds, (unsigned long long)f.opened,
	       (unsigned long long)f.refused, (unsigned long long)f.turned_away,
	       (unsigned long long)f.honest_served,
	       (unsigned long long)f.honest_tried, f.max_fds);
	bool serving = still_serving(tag, &sp);
	bool stopped = stop_echoserv(tag, &sp);
	bool ok = f.honest_tried > 0 && f.honest_served == f.honest_tried &&
		  serving && stopped;
	return verdict(tag, ok, ok ? "" : f.first_failure);
}

int scenario_lingerers(const struct stress_opts *o)
{
	static const char *const per_addr[] = {"--max-per-addr", "4", NULL};
	static const char *const no_limit[] = {"-c", "50", NULL};

	int failed = run(o, "per-addr", per_addr);
	return failed + run(o, "no-limit", no_limit);
}
