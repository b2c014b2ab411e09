/*
 * exhaustion.c - descriptor exhaustion: the server runs under a low
 * RLIMIT_NOFILE (64) and a connect storm far above it arrives.
 *
 * docs/protocol.md §4: no busy loop, no exit; the pending client is shed and
 * service goes on.  While the storm lasts, a few resident clients keep doing
 * lockstep echoes (every one must succeed).  Then the storm holds its
 * connections open but stops connecting, and the server's CPU time over
 * that quiet spell must be near zero: a spinning accept loop would show
 * there as a whole core.  Finally the storm lets go and a fresh client must
 * be served.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stress.h"

#define SERVER_NOFILE 64
#define RESIDENTS     8
#define STORM_HOLD    600 /* connections the storm keeps open at once */

struct storm {
	unsigned port;
	atomic_bool stop_connecting;
	atomic_bool let_go;
	int ring[STORM_HOLD];
	size_t next;
	uint64_t connects, failures, turned_away;
};

/* Close one of the storm's connections, noting a "server full". */
static void storm_close(struct storm *s, int fd)
{
	char buf[64];
	ssize_t r = read(fd, buf, sizeof(buf));

	if (r >= 18 && memcmp(buf, "error: server full", 18) == 0)
		s->turned_away++;
	close(fd);
}

/* Connect as fast as possible, keeping STORM_HOLD connections open (the
 * oldest is closed to make room); then hold them until let go. */
static void *storm_main(void *arg)
{
	struct storm *s = arg;

	for (size_t i = 0; i < STORM_HOLD; i++)
		s->ring[i] = -1;
	while (!atomic_load(&s->stop_connecting)) {
		int fd = tcp_connect(LOOPBACK, s->port, NULL);
		if (fd < 0) {
			s->failures++;
			sleep_ms(1);
			continue;
		}
		s->connects++;
		if (s->ring[s->next] >= 0)
			storm_close(s, s->ring[s->next]);
		s->ring[s->next] = fd;
		s->next = (s->next + 1) % STORM_HOLD;
	}
	while (!atomic_load(&s->let_go))
		sleep_ms(10);
	for (size_t i = 0; i < STORM_HOLD; i++)
		if (s->ring[i] >= 0)
			storm_close(s, s->ring[i]);
	return NULL;
}

/* Every resident does one echo; returns how many failed, and adds each
 * round trip (us) to lat. */
static int residents_echo(const int *fds, uint32_t *lat, size_t *nlat,
			  size_t cap)
{
	int failed = 0;

	for (int i = 0; i < RESIDENTS; i++) {
		int64_t t0 = now_ns();
		if (fds[i] < 0 ||
		    !client_echo(fds[i], "resident line\n", 5.0)) {
			failed++;
			continue;
		}
		if (*nlat < cap)
			lat[(*nlat)++] = (uint32_t)((now_ns() - t0) / 1000);
	}
	return failed;
}

static double cpu_share(int64_t cpu0, int64_t cpu1, int64_t t0, int64_t t1)
{
	if (cpu0 < 0 || cpu1 < 0 || t1 <= t0)
		return -1.0;
	return 100.0 * (double)(cpu1 - cpu0) / (double)(t1 - t0);
}

int scenario_exhaustion(const struct stress_opts *o)
{
	const char *tag = "exhaustion";
	static struct storm s;
	static uint32_t lat[200000];
	size_t nlat = 0;
	struct proc sp;
	pthread_t th;
	int fds[RESIDENTS];
	int failed = 0;
	char why[256] = "";
	int storm_ms = o->long_run ? 15000 : 3000;

	raise_nofile(STORM_HOLD + 256);
	memset(&s, 0, sizeof(s));
	if (start_echoserv(o, &sp, tag, SERVER_NOFILE, NULL) != 0)
		return verdict(tag, false, "server did not start");
	printf("%s: server under RLIMIT_NOFILE %d (%d descriptors open at "
	       "start); %d resident clients; storm of connects for %.0f s, "
	       "holding up to %d\n",
	       tag, SERVER_NOFILE, proc_open_fds(sp.pid), RESIDENTS,
	       storm_ms / 1000.0, STORM_HOLD);
	fflush(stdout);
	for (int i = 0; i < RESIDENTS; i++)
		fds[i] = tcp_connect(LOOPBACK, sp.port, NULL);
	failed += residents_echo(fds, lat, &nlat, 200000);

	s.port = sp.port;
	int64_t t0 = now_ns(), cpu0 = proc_cpu_ns(sp.pid);
	if (pthread_create(&th, NULL, storm_main, &s) != 0) {
		proc_stop(&sp);
		return verdict(tag, false, "cannot start the storm thread");
	}
	while (now_ns() - t0 < (int64_t)storm_ms * 1000000)
		failed += residents_echo(fds, lat, &nlat, 200000);
	atomic_store(&s.stop_connecting, true);
	int64_t t1 = now_ns(), cpu1 = proc_cpu_ns(sp.pid);
	int server_fds = proc_open_fds(sp.pid);

	/* The quiet spell: the server is full, nothing new arrives. */
	sleep_ms(200);
	int64_t t2 = now_ns(), cpu2 = proc_cpu_ns(sp.pid);
	sleep_ms(2000);
	int64_t t3 = now_ns(), cpu3 = proc_cpu_ns(sp.pid);
	failed += residents_echo(fds, lat, &nlat, 200000);
	atomic_store(&s.let_go, true);
	pthread_join(th, NULL);
	sleep_ms(300);

	double storm_cpu = cpu_share(cpu0, cpu1, t0, t1);
	double quiet_cpu = cpu_share(cpu2, cpu3, t2, t3);
	printf("%s: storm: %llu connects (%.0f/s), %llu failed, %llu seen "
	       "turned away with \"server full\"; server log: %ld sheds\n",
	       tag, (unsigned long long)s.connects,
	       (double)s.connects / ((double)(t1 - t0) / 1e9),
	       (unsigned long long)s.failures,
	       (unsigned long long)s.turned_away,
	       file_count_lines(sp.err_path, "shedding client"));
	printf("%s: server descriptors at the storm's end %d (limit %d); "
	       "server CPU %.1f%% of a core during the storm, %.1f%% during "
	       "the 2 s quiet spell at the limit\n",
	       tag, server_fds, SERVER_NOFILE, storm_cpu, quiet_cpu);
	uint32_t p99 = percentile_u32(lat, nlat, 0.99); /* sorts lat */
	printf("%s: resident echoes: %zu, failed %d, p99 %.2f ms, max %.2f "
	       "ms\n",
	       tag, nlat, failed, p99 / 1000.0,
	       nlat ? lat[nlat - 1] / 1000.0 : 0.0);
	bool ok = failed == 0 && quiet_cpu >= 0 && quiet_cpu < 10.0;
	if (!ok)
		snprintf(why, sizeof(why),
			 "%d resident echoes failed; quiet CPU %.1f%%", failed,
			 quiet_cpu);
	ok = still_serving(tag, &sp) && ok;
	printf("%s: server descriptors after the storm %d\n", tag,
	       proc_open_fds(sp.pid));
	for (int i = 0; i < RESIDENTS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	ok = stop_echoserv(tag, &sp) && ok;
	return verdict(tag, ok, why);
}
