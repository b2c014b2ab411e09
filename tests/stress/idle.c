/*
 * idle.c - an idle server sleeps (docs/protocol.md §4: select()'s timeout is
 * the nearest deadline, so an idle server does not wake up needlessly).
 *
 * Many clients connect, each sends one line and gets its echo, and then
 * they all say nothing.  Over the next 2 s the server must use next to no
 * CPU and wake up only a handful of times (voluntary context switches from
 * /proc/PID/status).  Then the same with --idle-timeout 1: every client
 * must get "error: idle timeout" and be closed, after about a second, and
 * the server must go back to sleep.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stress.h"

/* Connect n clients and have each do one echo; returns how many did. */
static size_t connect_idle(unsigned port, int *fds, size_t n)
{
	size_t ok = 0;

	for (size_t i = 0; i < n; i++) {
		fds[i] = tcp_connect(LOOPBACK, port, NULL);
		if (fds[i] >= 0 && client_echo(fds[i], "hello\n", 3.0))
			ok++;
	}
	return ok;
}

/* Server CPU (% of a core) and wake-ups over ms of quiet. */
static void measure_quiet(pid_t pid, int ms, double *cpu, long *wakeups)
{
	int64_t t0 = now_ns(), c0 = proc_cpu_ns(pid);
	long w0 = proc_status_number(pid, "voluntary_ctxt_switches");

	sleep_ms(ms);
	int64_t t1 = now_ns(), c1 = proc_cpu_ns(pid);
	long w1 = proc_status_number(pid, "voluntary_ctxt_switches");
	*cpu = c0 >= 0 && c1 >= 0
		   ? 100.0 * (double)(c1 - c0) / (double)(t1 - t0)
		   : -1.0;
	*wakeups = w0 >= 0 && w1 >= 0 ? w1 - w0 : -1;
}

/* Every client should now hold "error: idle timeout\r\n" and EOF. */
static size_t count_timed_out(const int *fds, size_t n)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0 &&
		    client_recv_final(fds[i], "error: idle timeout\r\n", 2.0))
			count++;
	}
	return count;
}

int scenario_idle(const struct stress_opts *o)
{
	const char *tag = "idle";
	size_t n = o->long_run ? 1000 : 200;
	int *fds = calloc(n, sizeof(*fds));
	struct proc sp;
	char why[160] = "";
	double cpu;
	long wakeups;

	if (fds == NULL)
		return verdict(tag, false, "out of memory");
	raise_nofile((long)n + 64);
	if (start_echoserv(o, &sp, tag, 0, NULL) != 0) {
		free(fds);
		return verdict(tag, false, "server did not start");
	}
	size_t echoed = connect_idle(sp.port, fds, n);
	sleep_ms(200);
	measure_quiet(sp.pid, 2000, &cpu, &wakeups);
	printf("%s: %zu clients connected and echoed once, then silent: "
	       "server CPU %.2f%% of a core, %ld wake-ups in 2 s\n",
	       tag, echoed, cpu, wakeups);
	bool ok = echoed == n && cpu >= 0 && cpu < 2.0 && wakeups >= 0 &&
		  wakeups <= 5;
	if (!ok)
		snprintf(why, sizeof(why),
			 "idle server: %.2f%% CPU, %ld "
			 "wake-ups in 2 s",
			 cpu, wakeups);
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	ok = stop_echoserv(tag, &sp) && ok;

	const char *const args[] = {"--idle-timeout", "1", NULL};
	if (start_echoserv(o, &sp, "idle-timeout", 0, args) != 0) {
		free(fds);
		return verdict(tag, false, "server did not start");
	}
	int64_t t0 = now_ns();
	echoed = connect_idle(sp.port, fds, n);
	size_t timed_out = count_timed_out(fds, n);
	double secs = (double)(now_ns() - t0) / 1e9;
	measure_quiet(sp.pid, 1000, &cpu, &wakeups);
	printf("%s: --idle-timeout 1: %zu of %zu clients got \"error: idle "
	       "timeout\" and EOF within %.2f s; afterwards %.2f%% CPU, %ld "
	       "wake-ups in 1 s\n",
	       tag, timed_out, n, secs, cpu, wakeups);
	if (echoed != n || timed_out != n || wakeups > 5) {
		ok = false;
		snprintf(why, sizeof(why),
			 "%zu of %zu clients echoed, %zu timed out; %ld "
			 "wake-ups after",
			 echoed, n, timed_out, wakeups);
	}
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	ok = stop_echoserv(tag, &sp) && ok;
	free(fds);
	return verdict(tag, ok, why);
}
