/*
 * volume.c - the volume scenario: many concurrent honest clients, every
 * reply byte verified.
 *
 * Long run: 1,000 clients (or what RLIMIT_NOFILE and the select() ceiling
 * allow), 2,000 lines each (byte-at-a-time clients 40, lockstep 500), lines
 * of 1..1024 bytes.  Short run: 300 clients, 400 lines, 1..512 bytes.
 *
 * The server runs with --line-timeout 0: one thread drives all the
 * clients, and on a busy machine a byte-at-a-time client of the long run
 * can take over a minute (the default limit) for one line of 1,024 single
 * bytes.  The line timeout has its own scenario (trickle.c).
 */
#include <stdio.h>
#include <stdlib.h>

#include "stress.h"
#include "verified_load.h"

/* The select() server's default --max-clients ceiling (FD_SETSIZE less
 * what it holds itself). */
#define SERVER_CEILING 1017

int scenario_volume(const struct stress_opts *o)
{
	const char *tag = "volume";
	struct load_config cfg = {0};
	struct proc sp;
	struct load_result res;
	char why[256] = "";
	size_t want = o->long_run ? 1000 : 300;
	const char *ml = o->long_run ? "1024" : "512";

	/* Our side needs one descriptor per client, plus a few. */
	long lim = raise_nofile((long)want + 64);
	if (lim < (long)want + 64) {
		want = lim > 96 ? (size_t)lim - 64 : 32;
		printf("%s: RLIMIT_NOFILE is %ld: %zu clients\n", tag, lim,
		       want);
	}
	if (want > SERVER_CEILING)
		want = SERVER_CEILING;
	const char *args[] = {"--max-line", ml, "--line-timeout", "0", NULL};
	if (start_echoserv(o, &sp, tag, 0, args) != 0)
		return verdict(tag, false, "server did not start");

	cfg.port = sp.port;
	cfg.nclients = want;
	cfg.max_line = o->long_run ? 1024 : 512; /* as ml says */
	cfg.lines = o->long_run ? 2000 : 400;
	cfg.pct_bytes = 3;
	cfg.pct_lock = 25;
	cfg.pct_flood = 10;
	cfg.pct_halfclose = 20;
	cfg.time_limit_ms = o->long_run ? 300000 : 20000;
	cfg.seed = o->seed;
	printf("%s: %zu clients, %llu lines each of 1..%s bytes, random "
	       "bytes, random splits; server --max-line %s --line-timeout 0\n",
	       tag, want, (unsigned long long)cfg.lines, ml, ml);
	fflush(stdout);
	int rc = load_run(&cfg, &res);
	load_result_print(tag, &res, false);
	if (res.nlat > 0) {
		uint32_t p50 = percentile_u32(res.lat_us, res.nlat, 0.50);
		uint32_t p99 = percentile_u32(res.lat_us, res.nlat, 0.99);
		printf("%s: lockstep round trip p50 %.2f ms, p99 %.2f ms (%zu "
		       "samples)\n",
		       tag, p50 / 1000.0, p99 / 1000.0, res.nlat);
	}
	printf("%s: server peak RSS (VmHWM) %ld kB\n", tag,
	       proc_status_number(sp.pid, "VmHWM"));

	bool ok = rc == 0 && res.connected == want && res.finished == want &&
		  res.lost_lines == 0 && res.mismatched == 0;
	if (!ok)
		snprintf(why, sizeof(why),
			 "%zu of %zu clients finished, %llu lines lost, %zu "
			 "corrupted",
			 res.finished, want, (unsigned long long)res.lost_lines,
			 res.mismatched);
	ok = still_serving(tag, &sp) && ok;
	ok = stop_echoserv(tag, &sp) && ok;
	load_result_free(&res);
	return verdict(tag, ok, why);
}
