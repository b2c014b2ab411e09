/*
 * trickle.c - the slow-loris attack: clients that send one byte a second
 * and never end their line (docs/protocol.md §4, line timeout).
 *
 * Each byte is progress, so the idle timeout (-t 300 here) never fires;
 * only the line timeout does: a line must arrive whole within
 * --line-timeout seconds of its first byte.  Two runs:
 *
 *   attack    many tricklers (500; 100 in the short run) against a server
 *             with room for all, in waves: each one cut is replaced by a
 *             new one until the attack ends.  Meanwhile honest clients
 *             echo a line every 20 ms.  Every trickler must receive exactly
 *             "error: line timeout\r\n" then EOF, between LINE_TIMEOUT and
 *             LINE_TIMEOUT + CUT_WINDOW seconds after its first byte; every
 *             honest echo must be exact and prompt; their p99 is reported.
 *   capacity  --max-clients CAPACITY, every slot taken by a trickler.  An
 *             honest client arriving is turned away ("server full"), keeps
 *             trying, and must be served once the tricklers are cut.
 *
 * One poll() loop drives every client, so the figures measure the server,
 * not a thread scheduler.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stress.h"

#define LINE_TIMEOUT 2    /* the server's --line-timeout */
#define CUT_WINDOW   1.0  /* seconds a cut may come after the deadline */
#define EARLY_SLACK  0.05 /* a cut this much before it is still "on time" */
#define HONEST_EVERY 20   /* ms between an honest client's requests */
#define HONEST_BOUND 2.0  /* seconds an honest reply may take at most */
#define CAPACITY     20   /* --max-clients of the capacity run */
#define LAT_CAP      500000
#define TIMEOUT_MSG  "error: line timeout\r\n"
#define SERVER_FULL  "error: server full\r\n"

/* One trickling connection. */
struct trickler {
	int fd;           /* -1 when not connected */
	int64_t first_at; /* when its first byte went out, or 0 */
	int64_t next_at;  /* when its next byte is due */
	char got[64];     /* what the server sent it */
	size_t got_len;
};

/* One honest client: a request, its reply, the next request later. */
struct honest {
	int fd;
	int64_t sent_at; /* the request in flight went out then, or 0 */
	int64_t next_at; /* the next request is due then */
	uint64_t seq;
	char line[64];
	size_t line_len, got;
};

/* The state of one run and its findings. */
struct trickle_run {
	int port;
	struct trickler *t;
	size_t nt;
	struct honest *h;
	size_t nh;
	bool replace; /* connect a new trickler in place of one cut */
	/* findings */
	uint64_t connects, connect_failed;
	uint64_t cut_ok, cut_early, cut_late, cut_wrong, cut_reset;
	uint32_t *cut_ms; /* ms after LINE_TIMEOUT each good cut came */
	size_t ncut;
	uint32_t *lat_us; /* honest round trips */
	size_t nlat;
	uint64_t honest_failed;
	char first_failure[200];
};

/* ============================== tricklers ============================== */

static void trickler_open(struct trickle_run *r, struct trickler *t,
			  int64_t now)
{
	struct connect_opts co = {.timeout = 2.0};

	memset(t, 0, sizeof(*t));
	t->fd = tcp_connect(LOOPBACK, r->port, &co);
	t->next_at = now;
	if (t->fd < 0) {
		r->connect_failed++;
		return;
	}
	r->connects++;
}

/* Note a failure of the run: counted by the caller, the first one kept. */
static void note_failure(struct trickle_run *r, const char *what)
{
	if (r->first_failure[0] == '\0')
		snprintf(r->first_failure, sizeof(r->first_failure), "%s",
			 what);
}

/* t's connection ended at now (EOF, reset or deadline): judge it. */
static void trickler_judge(struct trickle_run *r, struct trickler *t,
			   int64_t now, bool eof, bool reset)
{
	double after = t->first_at ? (double)(now - t->first_at) / 1e9 : -1;
	double late = CUT_WINDOW * harness_scale();
	bool text_ok = t->got_len == strlen(TIMEOUT_MSG) &&
		       memcmp(t->got, TIMEOUT_MSG, t->got_len) == 0;
	char what[200];

	if (reset) {
		r->cut_reset++;
		snprintf(what, sizeof(what),
			 "a trickler was reset after "
			 "%.2f s",
			 after);
		note_failure(r, what);
	} else if (!eof) {
		r->cut_late++;
		snprintf(what, sizeof(what),
			 "a trickler was not cut %.2f s after its first byte",
			 after);
		note_failure(r, what);
	} else if (!text_ok) {
		r->cut_wrong++;
		snprintf(what, sizeof(what),
			 "a trickler got %zu bytes \"%.40s\" before EOF, not "
			 "\"error: line timeout\"",
			 t->got_len, t->got);
		note_failure(r, what);
	} else if (after < LINE_TIMEOUT - EARLY_SLACK) {
		r->cut_early++;
		snprintf(what, sizeof(what),
			 "a trickler was cut %.2f s after its first byte, "
			 "before its deadline",
			 after);
		note_failure(r, what);
	} else if (after > LINE_TIMEOUT + late) {
		r->cut_late++;
		snprintf(what, sizeof(what),
			 "a trickler was cut only %.2f s after its first byte",
			 after);
		note_failure(r, what);
	} else {
		r->cut_ok++;
		double ms = (after - LINE_TIMEOUT) * 1000.0;
		if (r->ncut < r->nt * 64)
			r->cut_ms[r->ncut++] = (uint32_t)(ms > 0 ? ms : 0);
	}
	close(t->fd);
	t->fd = -1;
}

/* t is readable: take what the server sent; judge it at EOF or reset. */
static void trickler_read(struct trickle_run *r, struct trickler *t,
			  int64_t now)
{
	char buf[256];
	ssize_t n = read(t->fd, buf, sizeof(buf));

	if (n > 0) {
		size_t room = sizeof(t->got) - 1 - t->got_len;
		size_t take = (size_t)n < room ? (size_t)n : room;
		memcpy(t->got + t->got_len, buf, take);
		t->got_len += take;
		t->got[t->got_len] = '\0';
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	trickler_judge(r, t, now, n == 0, n < 0);
}

/* Send t its next byte if one is due (never once the server spoke); a
 * trickler still not cut long after its deadline is judged late. */
static void trickler_tick(struct trickle_run *r, struct trickler *t,
			  int64_t now)
{
	double limit = LINE_TIMEOUT + 2 * CUT_WINDOW * harness_scale();

	if (t->fd < 0)
		return;
	if (t->first_at != 0 && now - t->first_at > (int64_t)(limit * 1e9)) {
		trickler_judge(r, t, now, false, false);
		return;
	}
	if (now < t->next_at || t->got_len > 0)
		return;
	if (write(t->fd, "z", 1) == 1) {
		if (t->first_at == 0)
			t->first_at = now;
		t->next_at += 1000000000;
	} else if (errno != EAGAIN && errno != EINTR) {
		trickler_judge(r, t, now, false, true);
	}
}

/* ============================== honest clients ========================= */

static bool honest_open(struct trickle_run *r, struct honest *h, size_t i,
			int64_t now)
{
	memset(h, 0, sizeof(*h));
	h->fd = tcp_connect(LOOPBACK, r->port, NULL);
	/* Spread the clients' requests over the interval. */
	h->next_at = now + (int64_t)(i % HONEST_EVERY) * 1000000;
	h->seq = i * 1000000;
	return h->fd >= 0;
}

static void honest_fail(struct trickle_run *r, struct honest *h,
			const char *what)
{
	char msg[200];

	snprintf(msg, sizeof(msg), "an honest client %s after %llu requests",
		 what, (unsigned long long)(h->seq % 1000000));
	r->honest_failed++;
	note_failure(r, msg);
	close(h->fd);
	h->fd = -1;
}

static void honest_tick(struct trickle_run *r, struct honest *h, int64_t now)
{
	if (h->fd < 0)
		return;
	if (h->sent_at != 0) {
		if (now - h->sent_at > (int64_t)(HONEST_BOUND * 1e9))
			honest_fail(r, h, "got no reply within 2 s");
		return;
	}
	if (now < h->next_at)
		return;
	h->line_len = (size_t)snprintf(h->line, sizeof(h->line),
				       "honest request %012llu\n",
				       (unsigned long long)++h->seq);
	if (write(h->fd, h->line, h->line_len) != (ssize_t)h->line_len) {
		honest_fail(r, h, "could not send");
		return;
	}
	h->sent_at = now;
	h->got = 0;
}

static void honest_read(struct trickle_run *r, struct honest *h, int64_t now)
{
	char buf[128];
	ssize_t n = read(h->fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		honest_fail(r, h, n == 0 ? "was closed" : "was reset");
		return;
	}
	if (h->sent_at == 0 || h->got + (size_t)n > h->line_len ||
	    memcmp(buf, h->line + h->got, (size_t)n) != 0) {
		honest_fail(r, h, "got a wrong reply");
		return;
	}
	h->got += (size_t)n;
	if (h->got < h->line_len)
		return;
	if (r->nlat < LAT_CAP)
		r->lat_us[r->nlat++] = (uint32_t)((now - h->sent_at) / 1000);
	h->sent_at = 0;
	h->next_at = now + (int64_t)HONEST_EVERY * 1000000;
}

/* ============================== the loop =============================== */

/* One round: poll every client (up to 5 ms), serve what is ready, send
 * what is due.  Returns the number of tricklers still connected. */
static size_t run_round(struct trickle_run *r, struct pollfd *pfd)
{
	size_t n = 0, live = 0;

	for (size_t i = 0; i < r->nt; i++)
		pfd[n++] = (struct pollfd){.fd = r->t[i].fd, .events = POLLIN};
	for (size_t i = 0; i < r->nh; i++)
		pfd[n++] = (struct pollfd){.fd = r->h[i].fd, .events = POLLIN};
	(void)poll(pfd, (nfds_t)n, 5);
	int64_t now = now_ns();
	for (size_t i = 0; i < r->nt; i++) {
		struct trickler *t = &r->t[i];
		if (t->fd >= 0 &&
		    (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
			trickler_read(r, t, now);
		if (t->fd < 0 && r->replace)
			trickler_open(r, t, now);
		trickler_tick(r, t, now);
		live += t->fd >= 0;
	}
	for (size_t i = 0; i < r->nh; i++) {
		struct honest *h = &r->h[i];
		if (h->fd >= 0 &&
		    (pfd[r->nt + i].revents & (POLLIN | POLLHUP | POLLERR)))
			honest_read(r, h, now);
		honest_tick(r, h, now);
	}
	return live;
}

/* Let the tricklers still connected be cut (bounded), replacing none. */
static void drain_tricklers(struct trickle_run *r, struct pollfd *pfd)
{
	double until =
	    now_s() + LINE_TIMEOUT + 3 * CUT_WINDOW * harness_scale();

	r->replace = false;
	while (run_round(r, pfd) > 0 && now_s() < until)
		;
}

static int run_alloc(struct trickle_run *r, size_t nt, size_t nh)
{
	memset(r, 0, sizeof(*r));
	r->nt = nt;
	r->nh = nh;
	r->t = calloc(nt, sizeof(*r->t));
	r->h = calloc(nh ? nh : 1, sizeof(*r->h));
	r->cut_ms = calloc(nt * 64, sizeof(*r->cut_ms));
	r->lat_us = calloc(LAT_CAP, sizeof(*r->lat_us));
	return r->t && r->h && r->cut_ms && r->lat_us ? 0 : -1;
}

static void run_free(struct trickle_run *r)
{
	for (size_t i = 0; r->t != NULL && i < r->nt; i++)
		if (r->t[i].fd >= 0)
			close(r->t[i].fd);
	for (size_t i = 0; r->h != NULL && i < r->nh; i++)
		if (r->h[i].fd >= 0)
			close(r->h[i].fd);
	free(r->t);
	free(r->h);
	free(r->cut_ms);
	free(r->lat_us);
}

static void print_cuts(const char *tag, struct trickle_run *r)
{
	uint64_t bad = r->cut_early + r->cut_late + r->cut_wrong + r->cut_reset;

	printf(
	    "%s: %llu trickler connections (%llu could not connect); %llu "
	    "cut on time with \"error: line timeout\" then EOF; %llu "
	    "not (%llu early, %llu late or never, %llu wrong reply, %llu "
	    "reset)\n",
	    tag, (unsigned long long)r->connects,
	    (unsigned long long)r->connect_failed,
	    (unsigned long long)r->cut_ok, (unsigned long long)bad,
	    (unsigned long long)r->cut_early, (unsigned long long)r->cut_late,
	    (unsigned long long)r->cut_wrong, (unsigned long long)r->cut_reset);
	if (r->ncut > 0) {
		uint32_t p50 = percentile_u32(r->cut_ms, r->ncut, 0.50);
		uint32_t p99 = percentile_u32(r->cut_ms, r->ncut, 0.99);
		printf(
		    "%s: cut after the %d s deadline: p50 +%u ms, p99 +%u ms, "
		    "max +%u ms\n",
		    tag, LINE_TIMEOUT, p50, p99, r->cut_ms[r->ncut - 1]);
	}
}

/* ============================== the attack ============================= */

static bool attack_run(const struct stress_opts *o, char *why, size_t wlen)
{
	const char *tag = "trickle";
	size_t nt = o->long_run ? 500 : 100, nh = o->long_run ? 20 : 10;
	int attack_ms = o->long_run ? 20000 : 4000;
	const char *const args[] = {"--line-timeout", "2", "-t", "300", NULL};
	struct trickle_run r;
	struct proc sp;
	bool ok = false;

	raise_nofile((long)(nt + nh + 64));
	int alloc = run_alloc(&r, nt, nh);
	struct pollfd *pfd = calloc(nt + nh, sizeof(*pfd));
	if (pfd == NULL || alloc != 0) {
		snprintf(why, wlen, "out of memory");
		free(pfd);
		run_free(&r);
		return false;
	}
	if (start_echoserv(o, &sp, tag, 0, args) != 0) {
		snprintf(why, wlen, "server did not start (--line-timeout?)");
		free(pfd);
		run_free(&r);
		return false;
	}
	r.port = sp.port;
	printf("%s: server --line-timeout 2 -t 300; %zu tricklers (1 byte/s, "
	       "no LF, replaced when cut) for %.0f s; %zu honest clients "
	       "echoing a line every %d ms\n",
	       tag, nt, attack_ms / 1000.0, nh, HONEST_EVERY);
	fflush(stdout);
	int64_t t0 = now_ns();
	for (size_t i = 0; i < nh; i++)
		if (!honest_open(&r, &r.h[i], i, t0))
			honest_fail(&r, &r.h[i], "could not connect");
	for (size_t i = 0; i < nt; i++)
		trickler_open(&r, &r.t[i], now_ns());
	r.replace = true;
	while (now_ns() - t0 < (int64_t)attack_ms * 1000000)
		(void)run_round(&r, pfd);
	drain_tricklers(&r, pfd);
	long hwm = proc_status_number(sp.pid, "VmHWM");

	print_cuts(tag, &r);
	printf("%s: honest echoes under attack: %zu, failed clients %llu", tag,
	       r.nlat, (unsigned long long)r.honest_failed);
	if (r.nlat > 0) {
		uint32_t p50 = percentile_u32(r.lat_us, r.nlat, 0.50);
		uint32_t p99 = percentile_u32(r.lat_us, r.nlat, 0.99);
		printf(", round trip p50 %.2f ms, p99 %.2f ms, max %.2f ms",
		       p50 / 1000.0, p99 / 1000.0,
		       r.lat_us[r.nlat - 1] / 1000.0);
	}
	printf("\n%s: server peak RSS (VmHWM) %ld kB; log: %ld closed with "
	       "reason line timeout\n",
	       tag, hwm, file_count_lines(sp.err_path, "): line timeout;"));
	uint64_t bad = r.cut_early + r.cut_late + r.cut_wrong + r.cut_reset;
	ok = bad == 0 && r.honest_failed == 0 && r.cut_ok >= nt &&
	     r.connect_failed == 0 && r.nlat > 0;
	if (!ok)
		snprintf(why, wlen, "attack: %s",
			 r.first_failure[0] ? r.first_failure
					    : "too few tricklers were cut");
	for (size_t i = 0; i < nh; i++)
		if (r.h[i].fd >= 0) {
			close(r.h[i].fd);
			r.h[i].fd = -1;
		}
	ok = still_serving(tag, &sp) && ok;
	ok = stop_echoserv(tag, &sp) && ok;
	free(pfd);
	run_free(&r);
	return ok;
}

/* ============================== at capacity ============================ */

/* An honest client tries once: 1 served (exact echo), 0 turned away with
 * "server full", -1 anything else. */
static int honest_try(int port)
{
	static const char line[] = "let me in\n";
	int fd = tcp_connect(LOOPBACK, port, NULL);

	if (fd < 0)
		return -1;
	int rc = -1;
	/* Both replies are at least as long as the line: its length tells
	 * them apart. */
	if (client_send_str(fd, line, 1.0) == 0) {
		char buf[64];
		struct recv_result r = client_recv(fd, buf, strlen(line), 1.0);
		if (r.end == RECV_FULL && memcmp(buf, line, r.len) == 0)
			rc = 1;
		else if (r.end == RECV_FULL &&
			 memcmp(buf, SERVER_FULL, r.len) == 0)
			rc = 0;
	}
	close(fd);
	return rc;
}

static bool capacity_run(const struct stress_opts *o, char *why, size_t wlen)
{
	const char *tag = "trickle";
	const char *const args[] = {"--line-timeout", "2",  "-t", "300",
				    "--max-clients",  "20", NULL};
	struct trickle_run r;
	struct proc sp;
	struct pollfd pfd[CAPACITY];
	int turned_away = 0, tries = 0;
	double served_after = -1;

	if (run_alloc(&r, CAPACITY, 0) != 0 ||
	    start_echoserv(o, &sp, "trickle-capacity", 0, args) != 0) {
		snprintf(why, wlen, "capacity: server did not start");
		run_free(&r);
		return false;
	}
	r.port = sp.port;
	r.nh = 0;
	int64_t t0 = now_ns();
	for (size_t i = 0; i < CAPACITY; i++)
		trickler_open(&r, &r.t[i], t0);
	/* Every slot taken: each trickler has sent its first byte. */
	while (now_ns() - t0 < 300000000)
		(void)run_round(&r, pfd);
	while (served_after < 0 &&
	       now_ns() - t0 < (int64_t)((LINE_TIMEOUT + 4) * 1e9)) {
		int got = honest_try(sp.port);
		tries++;
		turned_away += got == 0;
		if (got == 1)
			served_after = (double)(now_ns() - t0) / 1e9;
		int64_t next = now_ns() + 100000000;
		while (now_ns() < next)
			(void)run_round(&r, pfd);
	}
	drain_tricklers(&r, pfd);
	printf("%s: --max-clients %d held by %d tricklers: an honest client "
	       "was turned away %d times in %d tries, then ",
	       tag, CAPACITY, CAPACITY, turned_away, tries);
	if (served_after >= 0)
		printf("served %.2f s after the tricklers arrived\n",
		       served_after);
	else
		printf("NEVER served\n");
	print_cuts(tag, &r);
	bool ok =
	    turned_away > 0 && served_after >= LINE_TIMEOUT - EARLY_SLACK &&
	    served_after <= LINE_TIMEOUT + 2 * CUT_WINDOW * harness_scale() &&
	    r.cut_ok == CAPACITY;
	if (!ok)
		snprintf(why, wlen,
			 "capacity: honest client turned away %d times, "
			 "served after %.2f s; %llu of %d tricklers cut on "
			 "time",
			 turned_away, served_after,
			 (unsigned long long)r.cut_ok, CAPACITY);
	ok = stop_echoserv(tag, &sp) && ok;
	run_free(&r);
	return ok;
}

int scenario_trickle(const struct stress_opts *o)
{
	char why[256] = "", why2[256] = "";
	bool ok = attack_run(o, why, sizeof(why));

	ok = capacity_run(o, why2, sizeof(why2)) && ok;
	if (why[0] == '\0')
		snprintf(why, sizeof(why), "%s", why2);
	else if (why2[0] != '\0')
		snprintf(why + strlen(why), sizeof(why) - strlen(why), "; %s",
			 why2);
	return verdict("trickle", ok, why);
}
