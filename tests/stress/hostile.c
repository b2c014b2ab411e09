/*
 * hostile.c - the hostile mix: honest verifying clients share the server
 * with five kinds of bad client, all at once.
 *
 *   non-readers    send megabytes of lines and never read a reply
 *   resetters      pipeline 256 KB, read a little, close with SO_LINGER 0
 *   slow loris     dribble one byte every 200 ms and never end the line;
 *                  silent ones connect and say nothing (idle timeout)
 *   vanishers      connect and go: close at once, mid-line, after lines
 *                  without reading, after a half-close, or with a reset
 *   over-capacity  fill the server to --max-clients and keep knocking
 *
 * The honest clients connect first, then the bad ones start (from the
 * engine's tick) and keep going until the honest clients are done.  The
 * server runs with --idle-timeout 3 so the timeout defence is exercised.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stress.h"
#include "verified_load.h"

#define IDLE_TIMEOUT "3"
#define MAX_LINE     "2048"
#define MAX_LINE_N   2048

enum actor { NONREADER, RESETTER, LORIS, VANISHER, FILLER, NACTORS };

static const char *const actor_names[NACTORS] = {
    "non-readers", "resetters", "slow loris", "vanishers", "over-capacity"};

struct actor_ctx {
	enum actor kind;
	unsigned port;
	int count;          /* connections this actor keeps going */
	size_t max_clients; /* the server's --max-clients (filler) */
	atomic_bool *stop;
	uint64_t seed;
	/* results */
	uint64_t connects, bytes_sent, refused, resets_sent, timeouts_seen;
	uint64_t closed_by_server;
};

/* A line of filler text: 99 bytes and LF. */
static const char *hundred_byte_line(void)
{
	static char line[101];

	if (line[0] == '\0') {
		memset(line, 'n', 99);
		line[99] = '\n';
	}
	return line;
}

/* Write as much of a stream of filler lines as fd takes now (nonblocking).
 * Returns bytes written; *dead is set when the server is gone. */
static size_t push_lines(int fd, size_t limit, bool *dead)
{
	static char block[100 * 164];
	size_t sent = 0;

	if (block[0] == '\0')
		for (size_t i = 0; i < sizeof(block); i += 100)
			memcpy(block + i, hundred_byte_line(), 100);
	while (sent < limit) {
		size_t len =
		    limit - sent < sizeof(block) ? limit - sent : sizeof(block);
		ssize_t n = write(fd, block, len);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				*dead = true;
			break;
		}
		sent += (size_t)n;
	}
	return sent;
}

/* Connect (tcp_connect's sockets are nonblocking), or -1; counts the
 * connections made. */
static int actor_connect(struct actor_ctx *a)
{
	int fd = tcp_connect(LOOPBACK, a->port, NULL);

	if (fd >= 0)
		a->connects++;
	return fd;
}

/* actor_connect, or a 10 ms pause and -1 when the server refused. */
static int actor_connect_or_pause(struct actor_ctx *a)
{
	int fd = actor_connect(a);

	if (fd < 0)
		sleep_ms(10);
	return fd;
}

/* ============================== the actors ============================ */

/* Send megabytes, never read; when the server closes (idle timeout),
 * start again on a new connection. */
static void run_nonreaders(struct actor_ctx *a)
{
	int fds[64];
	int n = a->count < 64 ? a->count : 64;

	for (int i = 0; i < n; i++)
		fds[i] = actor_connect(a);
	while (!atomic_load(a->stop)) {
		for (int i = 0; i < n; i++) {
			bool dead = false;
			if (fds[i] < 0) {
				fds[i] = actor_connect(a);
				continue;
			}
			a->bytes_sent += push_lines(fds[i], 1 << 20, &dead);
			if (dead) {
				a->closed_by_server++;
				close(fds[i]);
				fds[i] = actor_connect(a);
			}
		}
		sleep_ms(50);
	}
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			tcp_close_with_reset(fds[i]);
}

/* Pipeline a lot, read a little of the replies, then reset. */
static void run_resetters(struct actor_ctx *a)
{
	char buf[4096];

	while (!atomic_load(a->stop)) {
		int fd = actor_connect_or_pause(a);
		if (fd < 0)
			continue;
		bool dead = false;
		a->bytes_sent += push_lines(fd, (size_t)256 * 1024, &dead);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) > 0) {
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r > 0 && memcmp(buf, "error: server full", 18) == 0)
				a->refused++;
		}
		tcp_close_with_reset(fd);
		a->resets_sent++;
		sleep_ms(5);
	}
}

/* Half of them dribble a byte every 200 ms (progress: never timed out);
 * the other half send nothing and must get "error: idle timeout". */
static void run_loris(struct actor_ctx *a)
{
	int fds[128];
	int n = a->count < 128 ? a->count : 128;
	char buf[256];

	for (int i = 0; i < n; i++)
		fds[i] = actor_connect(a);
	while (!atomic_load(a->stop)) {
		for (int i = 0; i < n; i++) {
			if (fds[i] < 0) {
				fds[i] = actor_connect(a);
				continue;
			}
			ssize_t r = read(fds[i], buf, sizeof(buf) - 1);
			if (r > 0) {
				buf[r] = '\0';
				if (strstr(buf, "error: idle timeout") != NULL)
					a->timeouts_seen++;
				else if (strstr(buf, "server full") != NULL)
					a->refused++;
			}
			if (r == 0 || (r < 0 && errno != EAGAIN)) {
				a->closed_by_server++;
				close(fds[i]);
				fds[i] = -1;
				continue;
			}
			if (i % 2 == 0 && write(fds[i], "z", 1) == 1)
				a->bytes_sent++;
		}
		sleep_ms(200);
	}
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Connect and go, in one of five ways. */
static void run_vanishers(struct actor_ctx *a)
{
	struct rng r;

	rng_seed(&r, a->seed);
	while (!atomic_load(a->stop)) {
		int fd = actor_connect_or_pause(a);
		if (fd < 0)
			continue;
		bool dead = false;
		switch (rng_below(&r, 5)) {
		case 0: /* close at once */
			break;
		case 1: /* mid-line */
			a->bytes_sent += push_lines(fd, 150, &dead);
			break;
		case 2: /* lines, then go without reading the replies */
			a->bytes_sent += push_lines(fd, 20000, &dead);
			break;
		case 3: /* half-close, then go without reading */
			a->bytes_sent += push_lines(fd, 5000, &dead);
			(void)shutdown(fd, SHUT_WR);
			break;
		default: /* reset at once */
			tcp_close_with_reset(fd);
			a->resets_sent++;
			fd = -1;
			break;
		}
		if (fd >= 0)
			close(fd);
		sleep_ms(2);
	}
}

/* Fill the server past --max-clients, hold a second, then look at each
 * connection: the ones beyond capacity must have been told "server full".
 * Let go, and do it again. */
static void run_filler(struct actor_ctx *a)
{
	size_t cap = a->max_clients + 64;
	int *held = calloc(cap, sizeof(*held));
	char buf[64];

	if (held == NULL)
		return;
	while (!atomic_load(a->stop)) {
		size_t nheld = 0;
		while (nheld < cap && !atomic_load(a->stop)) {
			int fd = actor_connect(a);
			if (fd < 0)
				break;
			held[nheld++] = fd;
		}
		sleep_ms(1000);
		for (size_t i = 0; i < nheld; i++) {
			ssize_t r = read(held[i], buf, sizeof(buf));
			if (r >= 18 &&
			    memcmp(buf, "error: server full", 18) == 0)
				a->refused++;
			close(held[i]);
		}
		sleep_ms(500);
	}
	free(held);
}

static void *actor_main(void *arg)
{
	struct actor_ctx *a = arg;

	switch (a->kind) {
	case NONREADER:
		run_nonreaders(a);
		break;
	case RESETTER:
		run_resetters(a);
		break;
	case LORIS:
		run_loris(a);
		break;
	case VANISHER:
		run_vanishers(a);
		break;
	default:
		run_filler(a);
		break;
	}
	return NULL;
}

/* ============================== the scenario ========================== */

struct mix {
	struct actor_ctx actors[NACTORS];
	pthread_t threads[NACTORS];
	bool started;
	int64_t started_at;
	atomic_bool stop;
};

/* The engine's tick: the honest clients are connected; let loose. */
static void start_actors(void *arg, int64_t elapsed_ms)
{
	struct mix *m = arg;

	(void)elapsed_ms;
	if (m->started)
		return;
	m->started = true;
	m->started_at = now_ns();
	for (int k = 0; k < NACTORS; k++)
		if (pthread_create(&m->threads[k], NULL, actor_main,
				   &m->actors[k]) != 0)
			m->actors[k].kind = NACTORS; /* marks "not started" */
}

static void stop_actors(struct mix *m)
{
	atomic_store(&m->stop, true);
	if (!m->started)
		return;
	for (int k = 0; k < NACTORS; k++)
		if (m->actors[k].kind != NACTORS)
			pthread_join(m->threads[k], NULL);
}

static void print_actors(const char *tag, const struct mix *m, double secs)
{
	const struct actor_ctx *a = m->actors;

	printf("%s: hostile for %.1f s alongside the honest clients:\n", tag,
	       secs);
	printf("%s:   %s: %d at a time, %llu connections, %.1f MB sent "
	       "unread, %llu closed by the server\n",
	       tag, actor_names[NONREADER], a[NONREADER].count,
	       (unsigned long long)a[NONREADER].connects,
	       (double)a[NONREADER].bytes_sent / 1e6,
	       (unsigned long long)a[NONREADER].closed_by_server);
	printf("%s:   %s: %llu resets after %.1f MB pipelined\n", tag,
	       actor_names[RESETTER],
	       (unsigned long long)a[RESETTER].resets_sent,
	       (double)a[RESETTER].bytes_sent / 1e6);
	printf("%s:   %s: %d at a time, %llu connections, %llu idle "
	       "timeouts received\n",
	       tag, actor_names[LORIS], a[LORIS].count,
	       (unsigned long long)a[LORIS].connects,
	       (unsigned long long)a[LORIS].timeouts_seen);
	printf("%s:   %s: %llu connect-and-go (%llu of them resets)\n", tag,
	       actor_names[VANISHER], (unsigned long long)a[VANISHER].connects,
	       (unsigned long long)a[VANISHER].resets_sent);
	printf("%s:   %s: %llu connections, %llu turned away with "
	       "\"server full\"\n",
	       tag, actor_names[FILLER], (unsigned long long)a[FILLER].connects,
	       (unsigned long long)a[FILLER].refused);
}

int scenario_hostile(const struct stress_opts *o)
{
	const char *tag = "hostile";
	static struct mix m; /* big enough to keep off the stack */
	struct load_config cfg = {0};
	struct proc sp;
	struct load_result res;
	char why[256] = "", cap[16];
	size_t honest = o->long_run ? 400 : 60;
	size_t max_clients = honest + (o->long_run ? 300 : 120);

	memset(&m, 0, sizeof(m));
	raise_nofile((long)(honest + 2 * max_clients + 256));
	snprintf(cap, sizeof(cap), "%zu", max_clients);
	const char *args[] = {
	    "--max-clients", cap, "--idle-timeout", IDLE_TIMEOUT, "--max-line",
	    MAX_LINE,        NULL};
	if (start_echoserv(o, &sp, tag, 0, args) != 0)
		return verdict(tag, false, "server did not start");

	const int counts[NACTORS] = {o->long_run ? 16 : 6, 1,
				     o->long_run ? 40 : 12, 1, 1};
	for (int k = 0; k < NACTORS; k++) {
		m.actors[k].kind = (enum actor)k;
		m.actors[k].port = sp.port;
		m.actors[k].count = counts[k];
		m.actors[k].max_clients = max_clients;
		m.actors[k].stop = &m.stop;
		m.actors[k].seed = o->seed + (uint64_t)k;
	}
	cfg.port = sp.port;
	cfg.nclients = honest;
	cfg.max_line = MAX_LINE_N;
	cfg.lines = o->long_run ? 1000 : 100;
	cfg.pct_bytes = 2;
	cfg.pct_lock = 30;
	cfg.pct_flood = 10;
	cfg.pct_halfclose = 20;
	cfg.time_limit_ms = o->long_run ? 300000 : 30000;
	cfg.min_ms = o->long_run ? 30000 : 8000;
	cfg.seed = o->seed + 7;
	cfg.tick = start_actors;
	cfg.tick_arg = &m;
	printf("%s: server --max-clients %s --idle-timeout %s --max-line %s; "
	       "%zu honest clients, %llu lines each\n",
	       tag, cap, IDLE_TIMEOUT, MAX_LINE, honest,
	       (unsigned long long)cfg.lines);
	fflush(stdout);
	int rc = load_run(&cfg, &res);
	double secs = m.started ? (double)(now_ns() - m.started_at) / 1e9 : 0.0;
	long hwm = proc_status_number(sp.pid, "VmHWM");
	stop_actors(&m);
	load_result_print(tag, &res, false);
	print_actors(tag, &m, secs);
	if (res.nlat > 0)
		printf("%s: honest lockstep round trip p50 %.2f ms, p99 %.2f "
		       "ms (%zu samples)\n",
		       tag, percentile_u32(res.lat_us, res.nlat, 0.50) / 1000.0,
		       percentile_u32(res.lat_us, res.nlat, 0.99) / 1000.0,
		       res.nlat);
	printf("%s: server peak RSS (VmHWM) %ld kB; log: %ld idle timeouts, "
	       "%ld turned away, %ld resets\n",
	       tag, hwm, file_count_lines(sp.err_path, "): timeout;"),
	       file_count_lines(sp.err_path, "turned away"),
	       file_count_lines(sp.err_path, "): reset;"));

	bool ok = rc == 0 && res.finished == honest && res.lost_lines == 0 &&
		  res.mismatched == 0;
	if (!ok)
		snprintf(why, sizeof(why),
			 "%zu of %zu honest clients finished, %llu lines "
			 "lost, %zu corrupted",
			 res.finished, honest,
			 (unsigned long long)res.lost_lines, res.mismatched);
	if (ok && m.actors[LORIS].timeouts_seen == 0) {
		ok = false;
		snprintf(why, sizeof(why), "no silent client was timed out");
	}
	sleep_ms(200); /* let the server reap the actors' connections */
	ok = still_serving(tag, &sp) && ok;
	ok = stop_echoserv(tag, &sp) && ok;
	load_result_free(&res);
	return verdict(tag, ok, why);
}
