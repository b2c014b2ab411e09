/*
 * test_workers.c - docs/protocol.md section 8, --workers N: N worker
 * processes on one port, each a whole select() server; the parent
 * restarts a worker that dies, passes SIGTERM on, and prints one summary;
 * --max-per-addr counts over the whole server.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka needs the three headers above it. */
#include <cmocka.h>

static struct proc server;

#define HELD 24

/* The pid the log gives worker id (its latest start). */
static long worker_pid(int id)
{
	char needle[64], line[256];
	char *log = proc_log(&server);
	long pid = -1;

	snprintf(needle, sizeof(needle), "echoserv: worker %d started (pid ",
		 id);
	for (const char *p = log; (p = strstr(p, needle)) != NULL; p++)
		pid = strtol(p + strlen(needle), NULL, 10);
	(void)line;
	free(log);
	return pid;
}

/* Clients held open at once are all echoed, by more than one worker. */
static void workers_share_the_clients(void **state)
{
	(void)state;
	static const char *const args[] = {"--workers", "2", "-b",
					   "127.0.0.1", "0", NULL};
	int port = check_server_start(&server, NULL, args);
	int fd[HELD];

	assert_true(log_wait_count(&server, "started (pid", 2, io_timeout()));
	for (int i = 0; i < HELD; i++)
		fd[i] = check_connect_from("127.0.0.1", port);
	for (int i = 0; i < HELD; i++)
		check_echo(fd[i], "held open\n");
	assert_true(
	    log_wait_count(&server, "connected (fd", HELD, io_timeout()));
	if (log_count(&server, "echoserv[1]: client") == 0 ||
	    log_count(&server, "echoserv[2]: client") == 0)
		harness_fail("one worker served all %d clients", HELD);
}

/* SIGKILL one worker: it is restarted (logged), the other's clients
 * notice nothing, and new clients are served. */
static void workers_killed_worker_is_replaced(void **state)
{
	(void)state;
	static const char *const args[] = {"--workers", "2", "-b",
					   "127.0.0.1", "0", NULL};
	int port = check_server_start(&server, NULL, args);
	int fd[HELD];

	assert_true(log_wait_count(&server, "started (pid", 2, io_timeout()));
	long victim = worker_pid(1);
	assert_true(victim > 0);
	for (int i = 0; i < HELD; i++) {
		fd[i] = check_connect_from("127.0.0.1", port);
		check_echo(fd[i], "before\n");
	}
	assert_int_equal(kill((pid_t)victim, SIGKILL), 0);
	assert_true(log_wait(&server, "worker 1 killed by signal 9; restarting",
			     io_timeout()));
	assert_true(
	    log_wait_count(&server, "worker 1 started (pid", 2, io_timeout()));
	/* Worker 2's clients go on; worker 1's were cut with it. */
	int alive = 0;
	for (int i = 0; i < HELD; i++)
		if (client_echo(fd[i], "after\n", io_timeout()))
			alive++;
	if (alive == 0)
		harness_fail("no client survived the death of one worker");
	for (int i = 0; i < 10; i++) {
		int c = check_connect_from("127.0.0.1", port);
		check_echo(c, "a new client\n");
		client_close(c);
	}
	assert_true(worker_pid(1) != victim);
}

/* SIGTERM: every worker drains, the parent exits 0 with one summary that
 * counts every worker's clients. */
static void workers_sigterm_drains_all_with_one_summary(void **state)
{
	(void)state;
	static const char *const args[] = {"--workers", "3", "-b",
					   "127.0.0.1", "0", NULL};
	int port = check_server_start(&server, NULL, args);

	assert_true(log_wait_count(&server, "started (pid", 3, io_timeout()));
	for (int i = 0; i < 12; i++) {
		int c = check_connect_from("127.0.0.1", port);
		check_echo(c, "count me\n");
		client_close(c);
	}
	assert_true(log_wait_count(&server, "closed (fd", 12, io_timeout()));
	double t0 = now_s();
	assert_int_equal(proc_signal(&server, SIGTERM), 0);
	assert_int_equal(proc_wait(&server, 3 * harness_scale()), 0);
	if (now_s() - t0 > 3.0 * harness_scale())
		harness_fail("took %.1f s to stop", now_s() - t0);
	assert_int_equal(log_count(&server, "shutdown: served"), 1);
	assert_true(log_wait(&server,
			     "echoserv: shutdown: served 12 clients, echoed 12 "
			     "lines, 108 bytes",
			     0.1));
}

/* --max-per-addr is the whole server's: the third from one address is
 * turned away whichever worker it reaches; another address is served. */
static void workers_max_per_addr_counts_over_every_worker(void **state)
{
	(void)state;
	static const char *const args[] = {"--workers", "2", "--max-per-addr",
					   "2",         "0", NULL};
	int port = check_server_start(&server, NULL, args);

	assert_true(log_wait_count(&server, "started (pid", 2, io_timeout()));
	int a = check_connect_from("127.0.0.1", port);
	int b = check_connect_from("127.0.0.1", port);
	check_echo(a, "a\n");
	check_echo(b, "b\n");
	for (int i = 0; i < 8; i++) { /* new ports: both workers get some */
		int c = check_connect_from("127.0.0.1", port);
		check_recv(c, "error: too many connections\r\n", io_timeout());
		client_close(c);
	}
	int other = check_connect_from("127.0.0.2", port);
	check_echo(other, "another address\n");
	client_close(a);
	assert_true(log_wait(&server, "closed (fd", io_timeout()));
	int d = check_connect_from("127.0.0.1", port);
	check_echo(d, "a place came free\n");
}

/* The parent killed with SIGKILL (the OOM killer, say): its workers must
 * not go on holding the port with nobody to stop them.  (Linux: the kernel
 * tells them; see die_with_parent() in src/workers.c.) */
static void workers_end_when_the_parent_is_killed(void **state)
{
	(void)state;
	static const char *const args[] = {"--workers", "2", "-b",
					   "127.0.0.1", "0", NULL};
	int port = check_server_start(&server, NULL, args);

	assert_true(log_wait_count(&server, "started (pid", 2, io_timeout()));
	long w1 = worker_pid(1), w2 = worker_pid(2);
	assert_true(w1 > 0 && w2 > 0);
	int fd = check_connect_from("127.0.0.1", port);
	check_echo(fd, "before\n");
	proc_kill(&server); /* SIGKILL, reaped */
	double until = now_s() + 5 * harness_scale();
	while (now_s() < until &&
	       (kill((pid_t)w1, 0) == 0 || kill((pid_t)w2, 0) == 0))
		sleep_s(0.05);
#ifdef __linux__
	if (kill((pid_t)w1, 0) == 0 || kill((pid_t)w2, 0) == 0) {
		kill((pid_t)w1, SIGKILL);
		kill((pid_t)w2, SIGKILL);
		harness_fail(
		    "workers still running 5 s after their parent died");
	}
#else
	kill((pid_t)w1, SIGKILL);
	kill((pid_t)w2, SIGKILL);
#endif
}

/* The help says -c is per worker. */
static void workers_help_says_max_clients_is_per_worker(void **state)
{
	(void)state;
	static const char *const args[] = {"--help", NULL};

	assert_int_equal(proc_run(&server, NULL, args, 5 * harness_scale()), 0);
	char *out = proc_stdout(&server);
	assert_non_null(strstr(out, "simultaneous clients (per worker)"));
	assert_non_null(strstr(out, "--workers N"));
	free(out);
}

#define T(f) cmocka_unit_test_teardown(f, harness_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(workers_share_the_clients),
	    T(workers_killed_worker_is_replaced),
	    T(workers_sigterm_drains_all_with_one_summary),
	    T(workers_max_per_addr_counts_over_every_worker),
	    T(workers_end_when_the_parent_is_killed),
	    T(workers_help_says_max_clients_is_per_worker),
	};

	harness_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
