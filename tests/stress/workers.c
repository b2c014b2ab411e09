/*
 * workers.c - --workers past one loop's ceiling (docs/protocol.md section
 * 8): N workers hold N x 1,000 clients at once (4 and 4,000 in the long
 * run, 2 and 2,000 in the short one), more than one select() loop can, and
 * every one is echoed; one worker killed with SIGKILL is replaced while
 * the other workers' clients go on being echoed; SIGTERM then drains every
 * worker and the server exits 0 with one summary.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stress.h"

/* The pid of worker id from the server's log, or -1. */
static long worker_pid(const struct proc *sp, int id)
{
	char needle[64];
	char *log = proc_log(sp);
	long pid = -1;

	snprintf(needle, sizeof(needle), "echoserv: worker %d started (pid ",
		 id);
	for (const char *p = log; (p = strstr(p, needle)) != NULL; p++)
		pid = strtol(p + strlen(needle), NULL, 10);
	free(log);
	return pid;
}

/* One more echo on each client still open; how many were echoed. */
static size_t echo_all(const int *fds, size_t n, const char *line)
{
	size_t ok = 0;

	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0 && client_echo(fds[i], line, 3.0))
			ok++;
	return ok;
}

int scenario_workers(const struct stress_opts *o)
{
	const char *tag = "workers";
	size_t nworkers = o->long_run ? 4 : 2, n = nworkers * 1000;
	char workers_arg[8];
	struct proc sp;

	snprintf(workers_arg, sizeof(workers_arg), "%zu", nworkers);
	const char *const args[] = {"--workers", workers_arg, NULL};
	if (raise_nofile((long)n + 64) < (long)n + 64)
		return verdict(tag, false, "cannot raise RLIMIT_NOFILE");
	if (start_echoserv(o, &sp, tag, (long)n + 256, args) != 0)
		return verdict(tag, false, "server did not start");
	if (!log_wait_count(&sp, "started (pid", (int)nworkers, 5.0))
		return verdict(tag, false, "the workers did not start");
	int *fds = calloc(n, sizeof(*fds));
	if (fds == NULL)
		return verdict(tag, false, "out of memory");
	int64_t t0 = now_ns();
	size_t held = 0;
	for (size_t i = 0; i < n; i++) {
		fds[i] = tcp_connect(LOOPBACK, sp.port, NULL);
		if (fds[i] >= 0 && client_echo(fds[i], "held\n", 3.0))
			held++;
	}
	size_t again = echo_all(fds, n, "all at once\n");
	printf("%s: %zu workers hold %zu of %zu clients at once (%.1f s), "
	       "%zu echoed again with all connected\n",
	       tag, nworkers, held, n, (double)(now_ns() - t0) / 1e9, again);

	long victim = worker_pid(&sp, 1);
	size_t before = 0, after;
	if (victim > 0)
		kill((pid_t)victim, SIGKILL);
	bool replaced = log_wait(&sp, "worker 1 killed by signal 9", 3.0) &&
			log_wait_count(&sp, "worker 1 started (pid", 2, 5.0);
	after = echo_all(fds, n, "after the kill\n");
	for (size_t i = 0; i < n; i++)
		before += fds[i] >= 0;
	printf("%s: worker 1 (pid %ld) killed: %s; %zu of the %zu clients "
	       "still echoed (the others were the dead worker's)\n",
	       tag, victim, replaced ? "replaced" : "NOT replaced", after,
	       before);
	bool fresh = still_serving(tag, &sp);
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	bool stopped = stop_echoserv(tag, &sp);
	bool one_summary = log_count(&sp, "shutdown: served") == 1;
	/* A fair share died with worker 1; the rest must all have gone on. */
	bool ok = held == n && again == n && replaced && fresh && stopped &&
		  one_summary && after >= n - n / nworkers - n / 10 &&
		  after < n;
	return verdict(tag, ok,
		       ok ? "" : "see the figures above (and the log)");
}
