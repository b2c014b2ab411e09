/*
 * main.c - echobench's command line and report.
 *
 * usage: echobench [options] -p PORT
 * The last line printed is machine-readable key=value pairs; the exit
 * status is 0 only if every echoed byte was right and nothing was lost.
 */
#include "echobench.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define EXIT_ERRORS 1
#define EXIT_USAGE  2

static void usage(FILE *out)
{
	fprintf(out, "usage: echobench [options] -p PORT\n");
}

static void help(void)
{
	usage(stdout);
	printf(
	    "Load generator for line echo servers: keeps PIPELINE lines in "
	    "flight on each\n"
	    "connection, verifies every echoed byte, reports messages/s, "
	    "MB/s, latency.\n"
	    "\n"
	    "  -H, --host HOST         server address (default 127.0.0.1)\n"
	    "  -p, --port PORT         server port (required)\n"
	    "  -c, --connections N     active connections (default 10); 0 "
	    "holds the idle\n"
	    "                          ones open for the warm-up and window "
	    "(or until\n"
	    "                          SIGUSR1), sending nothing\n"
	    "  -i, --idle N            extra connections that stay idle "
	    "(default 0)\n"
	    "  -s, --size BYTES        line size, LF included, 1..%d "
	    "(default 64)\n"
	    "  -P, --pipeline N        lines in flight per connection "
	    "(default 1)\n"
	    "  -d, --duration SECS     measured window (default 5)\n"
	    "  -w, --warmup SECS       load before the window, not measured "
	    "(default 1)\n"
	    "  -t, --threads N         load threads (default 1)\n"
	    "  -r, --rate LINES        send LINES lines/s in all, paced evenly "
	    "over the\n"
	    "                          connections (default 0: as fast as the "
	    "pipeline\n"
	    "                          allows); a line more than 20 ms late is "
	    "not sent\n"
	    "      --connect-timeout SECS  time to connect everything "
	    "(default 10)\n"
	    "      --check             run protocol conversations (echo, "
	    "quit, EOF,\n"
	    "                          line too long) instead of the load\n"
	    "  -l, --max-line BYTES    the server's --max-line, for --check "
	    "(default 8192)\n"
	    "  -q, --quiet             print only the final key=value line\n"
	    "  -h, --help              print this help and exit\n"
	    "\n"
	    "The warm-up starts once every active connection has had a line "
	    "echoed.\n"
	    "Latency is from the write of a line's last byte to the arrival of "
	    "its echo's\n"
	    "last byte.  MB/s counts echoed bytes (one direction).  Exit "
	    "status: 0 if no\n"
	    "errors, 1 if any byte was wrong, lost or a connection failed, 2 "
	    "on bad usage.\n",
	    ECHOBENCH_MAX_SIZE);
}

/* ============================== options ============================== */

enum opt_id {
	OPT_HOST,
	OPT_PORT,
	OPT_CONNS,
	OPT_IDLE,
	OPT_SIZE,
	OPT_PIPELINE,
	OPT_DURATION,
	OPT_WARMUP,
	OPT_THREADS,
	OPT_RATE,
	OPT_CONNECT_TIMEOUT,
	OPT_CHECK,
	OPT_MAX_LINE,
	OPT_QUIET,
	OPT_HELP
};

struct opt {
	char short_name; /* 0: long only */
	const char *long_name;
	bool takes_value;
	enum opt_id id;
};

static const struct opt OPTS[] = {
    {'H', "host", true, OPT_HOST},
    {'p', "port", true, OPT_PORT},
    {'c', "connections", true, OPT_CONNS},
    {'i', "idle", true, OPT_IDLE},
    {'s', "size", true, OPT_SIZE},
    {'P', "pipeline", true, OPT_PIPELINE},
    {'d', "duration", true, OPT_DURATION},
    {'w', "warmup", true, OPT_WARMUP},
    {'t', "threads", true, OPT_THREADS},
    {'r', "rate", true, OPT_RATE},
    {0, "connect-timeout", true, OPT_CONNECT_TIMEOUT},
    {0, "check", false, OPT_CHECK},
    {'l', "max-line", true, OPT_MAX_LINE},
    {'q', "quiet", false, OPT_QUIET},
    {'h', "help", false, OPT_HELP},
};
#define N_OPTS (sizeof(OPTS) / sizeof(OPTS[0]))

/* A whole number in lo..hi; false if text is not one. */
static bool parse_count(const char *text, size_t lo, size_t hi, size_t *out)
{
	char *end;
	unsigned long long v;

	if (*text < '0' || *text > '9')
		return false;
	v = strtoull(text, &end, 10);
	if (*end != '\0' || v < lo || v > hi)
		return false;
	*out = (size_t)v;
	return true;
}

/* Seconds, 0 <= s <= 3600, fractions allowed. */
static bool parse_seconds(const char *text, double *out)
{
	char *end;
	double v;

	if ((*text < '0' || *text > '9') && *text != '.')
		return false;
	v = strtod(text, &end);
	if (*end != '\0' || !(v >= 0 && v <= 3600))
		return false;
	*out = v;
	return true;
}

/* Store one option's value; false (after saying why) if it is bad. */
static bool apply(const struct opt *o, const char *v, struct bench_config *cfg)
{
	bool ok = true;
	size_t n = 0;

	switch (o->id) {
	case OPT_HOST:
		cfg->host = v;
		break;
	case OPT_PORT:
		cfg->port = v;
		break;
	case OPT_CONNS:
		ok = parse_count(v, 0, 1000000, &cfg->connections);
		break;
	case OPT_IDLE:
		ok = parse_count(v, 0, 1000000, &cfg->idle);
		break;
	case OPT_SIZE:
		ok = parse_count(v, 1, ECHOBENCH_MAX_SIZE, &cfg->size);
		break;
	case OPT_PIPELINE:
		ok = parse_count(v, 1, 65536, &cfg->pipeline);
		break;
	case OPT_DURATION:
		ok = parse_seconds(v, &cfg->duration) && cfg->duration > 0;
		break;
	case OPT_WARMUP:
		ok = parse_seconds(v, &cfg->warmup);
		break;
	case OPT_THREADS:
		ok = parse_count(v, 1, 256, &cfg->threads);
		break;
	case OPT_RATE:
		ok = parse_count(v, 0, ECHOBENCH_MAX_RATE, &n);
		cfg->rate = (double)n;
		break;
	case OPT_CONNECT_TIMEOUT:
		ok = parse_seconds(v, &cfg->connect_time) &&
		     cfg->connect_time > 0;
		break;
	case OPT_MAX_LINE:
		ok = parse_count(v, 16, ECHOBENCH_MAX_SIZE, &cfg->max_line);
		break;
	case OPT_CHECK:
		cfg->check = true;
		break;
	case OPT_QUIET:
		cfg->quiet = true;
		break;
	case OPT_HELP:
		help();
		exit(0);
	}
	if (!ok)
		fprintf(stderr, "echobench: invalid value '%s' for --%s\n", v,
			o->long_name);
	return ok;
}

static const struct opt *find_opt(const char *arg, size_t *name_len)
{
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt *o = &OPTS[i];
		size_t len = strlen(o->long_name);
		if (arg[1] == '-' && strncmp(arg + 2, o->long_name, len) == 0 &&
		    (arg[2 + len] == '\0' || arg[2 + len] == '=')) {
			*name_len = 2 + len;
			return o;
		}
		if (arg[1] != '-' && o->short_name != 0 &&
		    arg[1] == o->short_name) {
			*name_len = 2;
			return o;
		}
	}
	return NULL;
}

/* Parse argv into cfg; false (after saying why) on bad usage. */
static bool parse_args(int argc, char **argv, struct bench_config *cfg)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		size_t name_len;
		const struct opt *o =
		    arg[0] == '-' ? find_opt(arg, &name_len) : NULL;
		if (o == NULL) {
			fprintf(stderr, "echobench: unknown argument '%s'\n",
				arg);
			return false;
		}
		const char *value = NULL;
		if (o->takes_value) {
			if (arg[name_len] != '\0')
				value = arg + name_len + (arg[1] == '-');
			else if (i + 1 < argc)
				value = argv[++i];
			else {
				fprintf(
				    stderr,
				    "echobench: option '%s' needs a value\n",
				    arg);
				return false;
			}
		} else if (arg[name_len] != '\0') {
			fprintf(stderr, "echobench: unknown argument '%s'\n",
				arg);
			return false;
		}
		if (!apply(o, value, cfg))
			return false;
	}
	if (cfg->port == NULL) {
		fprintf(stderr, "echobench: missing --port\n");
		return false;
	}
	if (cfg->connections == 0 && cfg->idle == 0 && !cfg->check) {
		fprintf(stderr, "echobench: --connections 0 needs --idle\n");
		return false;
	}
	if (cfg->connections == 0 && cfg->rate > 0 && !cfg->check) {
		fprintf(stderr, "echobench: --rate needs active connections\n");
		return false;
	}
	return true;
}

/* ============================== report ============================== */

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static uint64_t total_errors(const struct bench_result *r)
{
	return r->mismatches + r->closed + r->lost + r->connect_failed +
	       r->idle_dropped;
}

static void report(const struct bench_config *cfg, const struct bench_result *r)
{
	double rate = r->window > 0 ? (double)r->messages / r->window : 0;
	double mbps = rate * (double)cfg->size / 1e6;
	const struct histogram *h = &r->latency;

	if (!cfg->quiet) {
		printf("echobench: %s port %s, %zu connection%s (+%zu idle), "
		       "%zu-byte lines, pipeline %zu, %zu thread%s\n",
		       cfg->host, cfg->port, cfg->connections,
		       cfg->connections == 1 ? "" : "s", cfg->idle, cfg->size,
		       cfg->pipeline, cfg->threads,
		       cfg->threads == 1 ? "" : "s");
		if (cfg->rate > 0)
			printf("  paced at    %.0f lines/s asked; %llu lines "
			       "skipped, due over 20 ms before they could go\n",
			       cfg->rate, (unsigned long long)r->late);
		printf("  window      %.2f s after %.2f s of warm-up\n",
		       r->window, cfg->warmup);
		printf("  messages/s  %.0f (%llu lines)\n", rate,
		       (unsigned long long)r->messages);
		printf("  MB/s        %.2f (echoed bytes, one direction)\n",
		       mbps);
		printf(
		    "  latency us  p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
		    us(hist_quantile(h, 0.50)), us(hist_quantile(h, 0.99)),
		    us(hist_quantile(h, 0.999)), us(h->max));
		printf("  errors      %llu (mismatch %llu, closed %llu, lost "
		       "%llu, connect %llu, idle dropped %llu)\n",
		       (unsigned long long)total_errors(r),
		       (unsigned long long)r->mismatches,
		       (unsigned long long)r->closed,
		       (unsigned long long)r->lost,
		       (unsigned long long)r->connect_failed,
		       (unsigned long long)r->idle_dropped);
	}
	printf(
	    "msgs_per_s=%.0f mb_per_s=%.3f p50_us=%.1f p99_us=%.1f "
	    "p999_us=%.1f max_us=%.1f messages=%llu echoed=%llu "
	    "before_start=%llu "
	    "errors=%llu "
	    "mismatches=%llu closed=%llu lost=%llu connect_failed=%llu "
	    "idle_dropped=%llu connections=%zu idle=%zu size=%zu "
	    "pipeline=%zu threads=%zu rate=%.0f late=%llu window_s=%.3f\n",
	    rate, mbps, us(hist_quantile(h, 0.50)), us(hist_quantile(h, 0.99)),
	    us(hist_quantile(h, 0.999)), us(h->max),
	    (unsigned long long)r->messages, (unsigned long long)r->echoed,
	    (unsigned long long)r->before_start,
	    (unsigned long long)total_errors(r),
	    (unsigned long long)r->mismatches, (unsigned long long)r->closed,
	    (unsigned long long)r->lost, (unsigned long long)r->connect_failed,
	    (unsigned long long)r->idle_dropped, cfg->connections, cfg->idle,
	    cfg->size, cfg->pipeline, cfg->threads, cfg->rate,
	    (unsigned long long)r->late, r->window);
}

/* ============================== main ============================== */

/*
 * As many descriptors as the hard limit allows: 1,000 connections need
 * more than the usual soft limit of 1,024 leaves.  False (after saying
 * why) if even that is too few for the connections asked for.
 */
static bool raise_fd_limit(size_t connections)
{
	struct rlimit rl;
	const size_t spare = 16; /* stdio, poll's own, a margin */

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		perror("echobench: getrlimit");
		return false;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			perror("echobench: setrlimit");
		else if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
			return false;
	}
	if (rl.rlim_cur != RLIM_INFINITY && connections + spare > rl.rlim_cur) {
		fprintf(stderr,
			"echobench: %zu connections need %zu descriptors; the "
			"limit is %llu (raise the hard limit: ulimit -Hn)\n",
			connections, connections + spare,
			(unsigned long long)rl.rlim_cur);
		return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	struct bench_config cfg = {
	    .host = "127.0.0.1",
	    .connections = 10,
	    .size = 64,
	    .pipeline = 1,
	    .duration = 5,
	    .warmup = 1,
	    .threads = 1,
	    .connect_time = 10,
	    .drain_time = 2,
	    .max_line = 8192,
	};
	struct bench_result res;

	if (!parse_args(argc, argv, &cfg)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	/* A server that closes on us must not kill us with SIGPIPE. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		perror("echobench: signal");
	if (cfg.check)
		return run_protocol_check(&cfg) == 0 ? 0 : EXIT_ERRORS;

	if (!raise_fd_limit(cfg.connections + cfg.idle))
		return EXIT_ERRORS;
	if (run_load(&cfg, &res) != 0)
		return EXIT_ERRORS;
	report(&cfg, &res);
	return total_errors(&res) == 0 ? 0 : EXIT_ERRORS;
}
