/*
 * checks.c - the cmocka side of the test-support library: assertions over
 * replies and closes, server start-or-fail, the test filter, teardown (see
 * harness.h).
 */
#include "harness.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
/* cmocka needs the three headers above it. */
#include <cmocka.h>

void harness_fail(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	/* clang-tidy 14, checking many files in one run, loses track of
	 * the va_start just above. */
	// NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	harness_dump_logs();
	fail_msg("%s", msg);
}

void assert_bytes(const char *what, const void *got, size_t got_len,
		  const void *want, size_t want_len)
{
	if (got_len == want_len && memcmp(got, want, got_len) == 0)
		return;
	char g[1024], w[1024];
	size_t first = 0;
	while (first < got_len && first < want_len &&
	       ((const unsigned char *)got)[first] ==
		   ((const unsigned char *)want)[first])
		first++;
	escape_bytes(got, got_len, g, sizeof(g));
	escape_bytes(want, want_len, w, sizeof(w));
	harness_fail("%s: got %zu bytes \"%s\", want %zu bytes \"%s\" "
		     "(first difference at byte %zu)",
		     what, got_len, g, want_len, w, first);
}

void check_recv_bytes(int fd, const void *want, size_t want_len, double timeout)
{
	char *buf = malloc(want_len + 1);
	char g[1024], w[1024];

	assert_non_null(buf);
	struct recv_result r = client_recv(fd, buf, want_len, timeout);
	if (r.end == RECV_FULL && memcmp(buf, want, want_len) == 0) {
		free(buf);
		return;
	}
	escape_bytes(buf, r.len, g, sizeof(g));
	escape_bytes(want, want_len, w, sizeof(w));
	free(buf);
	if (r.end != RECV_FULL)
		harness_fail("receive: got %zu bytes \"%s\" then %s, want "
			     "\"%s\"",
			     r.len, g, recv_end_name(r.end), w);
	harness_fail("receive: got \"%s\", want \"%s\"", g, w);
}

void check_recv(int fd, const char *want, double timeout)
{
	check_recv_bytes(fd, want, strlen(want), timeout);
}

void check_echo(int fd, const char *text)
{
	if (client_send_str(fd, text, io_timeout()) != 0)
		harness_fail("send \"%s\": %s", text, strerror(errno));
	check_recv(fd, text, io_timeout());
}

int check_connect_from(const char *from, int port)
{
	int fd = client_connect_opts("127.0.0.1", port,
				     &(struct connect_opts){.source = from});
	if (fd < 0)
		harness_fail("connect from %s: %s", from, strerror(errno));
	return fd;
}

void check_eof(int fd, double timeout)
{
	char buf[256];
	struct recv_result r = client_recv_all(fd, buf, sizeof(buf), timeout);

	if (r.len > 0) {
		char g[1024];
		escape_bytes(buf, r.len, g, sizeof(g));
		harness_fail(
		    "expected EOF, got %zu more bytes \"%s\" (then %s)", r.len,
		    g, recv_end_name(r.end));
	}
	if (r.end != RECV_EOF)
		harness_fail("expected a clean EOF, got %s (%s)",
			     recv_end_name(r.end),
			     r.err != 0 ? strerror(r.err) : "-");
}

int check_server_start(struct proc *p, const struct proc_opts *opts,
		       const char *const *args)
{
	if (server_start(p, opts, args) != 0)
		harness_fail("server did not start");
	return p->port;
}

/* Is environment variable name set to something other than "" or "0"? */
static bool env_flag(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

void skip_unless_concurrent(void)
{
	if (!env_flag("ECHOSERV_ONE_CLIENT"))
		return;
	print_message("note: %s holds one client at a time; this test "
		      "needs two, skipped\n",
		      server_program());
	skip();
}

/*
 * A server that may be unavailable here (io_uring refused by the kernel)
 * exits 1 at start with one line saying so.  Start it once: if that is
 * what happens, print the note and end the program, nothing run.
 */
static void exit_if_unavailable(void)
{
	static const char *const args[] = {"0", NULL};
	struct proc p;

	if (server_start(&p, NULL, args) == 0) {
		proc_kill(&p);
		procs_kill_all();
		return;
	}
	char *log = proc_log(&p);
	char line[256];
	if (p.pid == 0 && p.status == 1 &&
	    find_line(log, "unavailable", NULL, line, sizeof(line))) {
		printf("note: %s is unavailable on this system (\"%s\"): its "
		       "run is skipped\n",
		       server_program(), line);
		free(log);
		procs_kill_all();
		exit(0);
	}
	free(log);
	procs_kill_all();
}

void harness_init(void)
{
	const char *pattern = getenv("ECHOSERV_TEST");
	const char *skip_pattern = getenv("ECHOSERV_SKIP");

	if (pattern != NULL && *pattern != '\0')
		cmocka_set_test_filter(pattern);
	if (skip_pattern != NULL && *skip_pattern != '\0')
		cmocka_set_skip_filter(skip_pattern);
	if (env_flag("ECHOSERV_MAY_BE_UNAVAILABLE"))
		exit_if_unavailable();
}

/* Does name match one of the space-separated patterns of list? */
static bool matches_one_of(const char *list, const char *name)
{
	char pattern[256];

	for (const char *p = list; *p != '\0';) {
		size_t len = strcspn(p, " ");
		if (len > 0 && len < sizeof(pattern)) {
			memcpy(pattern, p, len);
			pattern[len] = '\0';
			if (fnmatch(pattern, name, 0) == 0)
				return true;
		}
		p += len;
		p += strspn(p, " ");
	}
	return false;
}

int harness_run_tests(const char *group, const struct CMUnitTest *tests,
		      size_t n)
{
	const char *only = getenv("ECHOSERV_TEST");
	const char *skip = getenv("ECHOSERV_SKIP");
	struct CMUnitTest *run = calloc(n > 0 ? n : 1, sizeof(*run));
	size_t m = 0;

	if (run == NULL) {
		fprintf(stderr, "test: out of memory\n");
		return 1;
	}
	if (env_flag("ECHOSERV_MAY_BE_UNAVAILABLE"))
		exit_if_unavailable();
	for (size_t i = 0; i < n; i++) {
		if (only != NULL && *only != '\0' &&
		    !matches_one_of(only, tests[i].name))
			continue;
		if (skip != NULL && matches_one_of(skip, tests[i].name))
			continue;
		run[m++] = tests[i];
	}
	int failed = _cmocka_run_group_tests(group, run, m, NULL, NULL);
	free(run);
	return failed;
}

int harness_teardown(void **state)
{
	(void)state;
	clients_close_all();
	procs_kill_all();
	return 0;
}
