/*
 * stress.c - the stress and fault suite, run as
 *
 *     stress [--long] [--server PATH] [--logdir DIR] [--seed N] [SCENARIO...]
 *
 * SCENARIO is volume, hostile, exhaustion, shutdown, closing, idle, stdio,
 * trickle or stalled-log (default: all, in that order).  Without --long
 * each runs for a few seconds (make check); with it, at full size (make
 * stress).  Every scenario starts its own server on an ephemeral loopback
 * port, prints what it tried and what it found, and ends with one
 * "SCENARIO: PASS" or "SCENARIO: FAIL: why" line.  The exit status is the
 * number of failed scenarios.
 */
#include "stress.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int start_echoserv(const struct stress_opts *o, struct proc *sp,
		   const char *name, long nofile, const char *const *args)
{
	char log_path[256];
	const char *argv[HARNESS_ARGS_MAX + 1];
	size_t n = 0;

	snprintf(log_path, sizeof(log_path), "%s/%s.log", o->logdir, name);
	argv[n++] = "0";
	for (size_t i = 0;
	     args != NULL && args[i] != NULL && n < HARNESS_ARGS_MAX; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	struct proc_opts opts = {.nofile =
				     nofile > 0 ? (unsigned long)nofile : 0,
				 .program = o->server,
				 .log_path = log_path};
	return server_start(sp, &opts, argv);
}

bool stop_echoserv(const char *tag, struct proc *sp)
{
	int64_t t0 = now_ns();

	if (!proc_alive(sp)) {
		printf("%s: server already gone (exit status %d)\n", tag,
		       sp->status);
		return false;
	}
	proc_signal(sp, SIGTERM);
	int status = proc_wait(sp, 3.0);
	double secs = (double)(now_ns() - t0) / 1e9;
	if (status < 0) {
		printf("%s: server still running 3 s after SIGTERM\n", tag);
		proc_stop(sp);
		return false;
	}
	printf("%s: SIGTERM -> exit status %d after %.2f s\n", tag, status,
	       secs);
	return status == 0;
}

bool still_serving(const char *tag, const struct proc *sp)
{
	int fd = tcp_connect(LOOPBACK, sp->port, NULL);
	bool ok = fd >= 0 && client_echo(fd, "still there?\n", 3.0);

	if (fd >= 0)
		close(fd);
	printf("%s: a fresh client %s\n", tag,
	       ok ? "gets its echo" : "gets NO echo");
	return ok;
}

int verdict(const char *scenario, bool ok, const char *why)
{
	printf("%s: %s%s%s\n", scenario, ok ? "PASS" : "FAIL",
	       why != NULL && why[0] != '\0' ? ": " : "",
	       why != NULL ? why : "");
	fflush(stdout);
	return ok ? 0 : 1;
}

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: stress [--long] [--server PATH] [--logdir DIR] "
	    "[--seed N] "
	    "[volume|hostile|exhaustion|shutdown|closing|idle|stdio|trickle|"
	    "stalled-log|stalled-terminal|lingerers|workers]..."
	    "\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(const struct stress_opts *);
	} scenarios[] = {{"volume", scenario_volume},
			 {"hostile", scenario_hostile},
			 {"exhaustion", scenario_exhaustion},
			 {"shutdown", scenario_shutdown},
			 {"closing", scenario_closing},
			 {"idle", scenario_idle},
			 {"stdio", scenario_stdio},
			 {"trickle", scenario_trickle},
			 {"stalled-log", scenario_stalled_log},
			 {"stalled-terminal", scenario_stalled_terminal},
			 {"lingerers", scenario_lingerers},
			 {"workers", scenario_workers}};
	enum { NSCEN = sizeof(scenarios) / sizeof(scenarios[0]) };
	struct stress_opts o = {false, "build/echoserv", "build/stress", 1};
	bool chosen[NSCEN] = {false};
	bool any = false;
	int failed = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--long") == 0) {
			o.long_run = true;
		} else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc) {
			o.server = argv[++i];
		} else if (strcmp(argv[i], "--logdir") == 0 && i + 1 < argc) {
			o.logdir = argv[++i];
		} else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			o.seed = strtoul(argv[++i], NULL, 10);
		} else {
			size_t k;
			for (k = 0; k < NSCEN; k++)
				if (strcmp(argv[i], scenarios[k].name) == 0)
					break;
			if (k == NSCEN)
				usage();
			chosen[k] = any = true;
		}
	}
	/* A client that vanishes must not kill the test either. */
	signal(SIGPIPE, SIG_IGN);
	if (mkdir(o.logdir, 0755) != 0 && access(o.logdir, W_OK) != 0) {
		perror(o.logdir);
		return 2;
	}
	for (size_t k = 0; k < NSCEN; k++) {
		if (any && !chosen[k])
			continue;
		printf("==== %s (%s run, seed %lu)\n", scenarios[k].name,
		       o.long_run ? "long" : "short", o.seed);
		fflush(stdout);
		failed += scenarios[k].run(&o) != 0;
	}
	printf("stress: %d scenario%s failed\n", failed,
	       failed == 1 ? "" : "s");
	return failed;
}
