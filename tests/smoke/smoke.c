/*
 * smoke.c - the quick correctness check of every server under load: each
 * one in turn serves a short verified load (random lines of 1..1024 bytes,
 * pipelined, lockstep, byte at a time and flooding clients, some of them
 * half-closing mid-line), every reply byte checked.
 *
 *     smoke [--build DIR] [--logdir DIR] [--seed N]
 *           [--one-client "SERVER..."] [--may-be-unavailable "SERVER..."]
 *           [--lines-only "SERVER..."] SERVER...
 *
 * SERVER is a program in DIR (default build), started on port 0 with
 * --max-line 1024, its stderr in logdir/smoke-SERVER.log.  A server named
 * in --one-client holds one client at a time and gets its clients one after
 * the other; one named in --may-be-unavailable that exits 1 at start saying
 * it is "unavailable" is skipped with a note; one named in --lines-only
 * echoes lines and nothing more (no options, no quit: echoserv-textbook),
 * so it is started with the port alone and every client half-closes.  Prints one line per server;
 * the exit status is the number of servers that failed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_socket.h"
#include "server_log.h"
#include "server_process.h"
#include "verified_load.h"

#define CLIENTS  50
#define LINES    400
#define MAX_LINE 1024

struct smoke_opts {
	const char *build;
	const char *logdir;
	const char *one_client;  /* space-separated server names */
	const char *may_be_gone; /* space-separated server names */
	const char *lines_only;  /* space-separated server names */
	unsigned long seed;
};

/* Is name one of the space-separated words of list? */
static bool listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p != NULL && *p != '\0';) {
		while (*p == ' ')
			p++;
		size_t w = strcspn(p, " ");
		if (w == n && strncmp(p, name, n) == 0)
			return true;
		p += w;
	}
	return false;
}

/* The load for one server: CLIENTS at once, or one at a time; all
 * half-closing (none says quit) for a lines-only server. */
static void plan_load(struct load_config *cfg, int port, size_t clients,
		      bool lines_only, uint64_t seed)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->port = (unsigned)port;
	cfg->nclients = clients;
	cfg->max_line = MAX_LINE;
	cfg->lines = LINES;
	cfg->pct_bytes = 5;
	cfg->pct_lock = 30;
	cfg->pct_flood = 10;
	cfg->pct_halfclose = lines_only ? 100 : 20;
	cfg->time_limit_ms = 20000;
	cfg->seed = seed;
	cfg->quiet = false;
}

/* Run the load (one client at a time if one_client); true when every
 * client finished with every byte verified. */
static bool verified_load(int port, bool one_client, bool lines_only,
			  uint64_t seed, struct load_result *total)
{
	struct load_config cfg;
	size_t rounds = one_client ? CLIENTS / 4 : 1;
	bool ok = true;

	memset(total, 0, sizeof(*total));
	for (size_t i = 0; i < rounds; i++) {
		struct load_result res;
		plan_load(&cfg, port, one_client ? 1 : CLIENTS, lines_only,
			  seed + i);
		if (load_run(&cfg, &res) != 0)
			ok = false;
		ok = ok && res.finished == cfg.nclients &&
		     res.lost_lines == 0 && res.mismatched == 0;
		total->connected += res.connected;
		total->finished += res.finished;
		total->mismatched += res.mismatched;
		total->lost_lines += res.lost_lines;
		total->rx_lines += res.rx_lines;
		total->rx_bytes += res.rx_bytes;
		total->seconds += res.seconds;
		load_result_free(&res);
	}
	return ok;
}

/* Start the server; 1 started, 0 unavailable here (skipped), -1 failed. */
static int start(const struct smoke_opts *o, const char *name, struct proc *sp)
{
	char program[512], log_path[512], line[256];
	const char *const args[] = {"0", "--max-line", "1024", NULL};
	const char *const port_only[] = {"0", NULL};

	snprintf(program, sizeof(program), "%s/%s", o->build, name);
	snprintf(log_path, sizeof(log_path), "%s/smoke-%s.log", o->logdir,
		 name);
	struct proc_opts opts = {.program = program, .log_path = log_path};
	if (server_start(sp, &opts,
			 listed(o->lines_only, name) ? port_only : args) == 0)
		return 1;
	char *log = read_file_text(log_path, NULL);
	bool gone = listed(o->may_be_gone, name) && sp->pid == 0 &&
		    sp->status == 1 &&
		    find_line(log, "unavailable", NULL, line, sizeof(line));
	free(log);
	if (gone)
		printf("smoke: %-17s skipped: unavailable here (\"%s\")\n",
		       name, line);
	return gone ? 0 : -1;
}

static bool smoke_one(const struct smoke_opts *o, const char *name)
{
	struct proc sp;
	struct load_result res;
	int started = start(o, name, &sp);

	if (started <= 0) {
		if (started < 0)
			printf("smoke: %-17s FAILED: did not start\n", name);
		return started == 0;
	}
	bool one = listed(o->one_client, name);
	bool ok = verified_load(sp.port, one, listed(o->lines_only, name),
				o->seed, &res);
	bool alive = proc_alive(&sp);
	printf("smoke: %-17s %zu clients%s, %llu lines (%.1f MB) verified in "
	       "%.1f s; %zu finished, %llu lost, %zu corrupted%s: %s\n",
	       name, res.connected, one ? " one at a time" : "",
	       (unsigned long long)res.rx_lines, (double)res.rx_bytes / 1e6,
	       res.seconds, res.finished, (unsigned long long)res.lost_lines,
	       res.mismatched, alive ? "" : "; the server DIED",
	       ok && alive ? "ok" : "FAILED");
	fflush(stdout);
	proc_stop(&sp);
	return ok && alive;
}

static void usage(void)
{
	fprintf(stderr, "usage: smoke [--build DIR] [--logdir DIR] [--seed N] "
			"[--one-client LIST] [--may-be-unavailable LIST] "
			"[--lines-only LIST] SERVER...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct smoke_opts o = {"build", "build/smoke", "", "", "", 1};
	int failed = 0, i;

	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--build") == 0)
			o.build = argv[i + 1];
		else if (strcmp(argv[i], "--logdir") == 0)
			o.logdir = argv[i + 1];
		else if (strcmp(argv[i], "--seed") == 0)
			o.seed = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--one-client") == 0)
			o.one_client = argv[i + 1];
		else if (strcmp(argv[i], "--may-be-unavailable") == 0)
			o.may_be_gone = argv[i + 1];
		else if (strcmp(argv[i], "--lines-only") == 0)
			o.lines_only = argv[i + 1];
		else
			usage();
	}
	if (i == argc)
		usage();
	if (mkdir(o.logdir, 0755) != 0 && access(o.logdir, W_OK) != 0) {
		perror(o.logdir);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN); /* a server that resets must not kill us */
	raise_nofile(4L * CLIENTS);
	for (; i < argc; i++)
		failed += !smoke_one(&o, argv[i]);
	printf("smoke: %d server%s failed\n", failed, failed == 1 ? "" : "s");
	return failed;
}
