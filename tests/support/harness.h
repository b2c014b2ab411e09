/*
 * harness.h - what the integration tests use: the whole test-support
 * library (the server as a helper process, its log, /proc figures, client
 * sockets, conversations) plus cmocka assertions over them.
 *
 * The integration tests treat the server the way libuv's test runner
 * treats its echo server: as a helper process.  A test starts it on port
 * 0 (server_start; the program is $ECHOSERV_BIN, default build/echoserv),
 * learns the real port from its listening line, talks to it with ordinary
 * client sockets, and looks at its log, its exit status and, where the
 * system has /proc, its CPU time and memory.  Every wait is bounded (see
 * clock.h for how bounds are scaled under the sanitizer build).
 *
 * Functions named check_* and assert_* use cmocka assertions and may only
 * be called from inside a cmocka test; everything else reports failure
 * through its return value and leaves the verdict to the caller.
 *
 * Running by hand:
 *
 *     ECHOSERV_BIN=build/echoserv build/tests/integration/test_cli
 *     ECHOSERV_TEST='rule3_*' ...      only the tests matching the pattern
 *     ECHOSERV_SKIP='rule8_*' ...      all but the tests matching it
 *                                      (each: one or more fnmatch(3)
 *                                      patterns, separated by spaces)
 *     ECHOSERV_KEEP_LOGS=1 ...         keep the servers' stderr files
 *     ECHOSERV_ONE_CLIENT=1 ...        the server holds one client at a
 *                                      time: tests needing two skip
 *     ECHOSERV_MAY_BE_UNAVAILABLE=1 ... a server that exits 1 at start
 *                                      saying "unavailable" is skipped
 */
#ifndef TEST_SUPPORT_HARNESS_H
#define TEST_SUPPORT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

#include "client_socket.h"
#include "clock.h"
#include "conversation.h"
#include "proc_stats.h"
#include "server_log.h"
#include "server_process.h"

/*
 * Fail the current cmocka test: print the message, the tail of every
 * started server's log, then fail.
 */
void harness_fail(const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Fail unless got[0..got_len) is exactly want[0..want_len) (what names
 * it). */
void assert_bytes(const char *what, const void *got, size_t got_len,
		  const void *want, size_t want_len);

/* Receive exactly strlen(want) bytes within timeout; assert they are
 * want. */
void check_recv(int fd, const char *want, double timeout);

/* Receive exactly want_len bytes and assert they are want. */
void check_recv_bytes(int fd, const void *want, size_t want_len,
		      double timeout);

/* Send text, and assert the reply is exactly text (an echo). */
void check_echo(int fd, const char *text);

/* Assert the server closes cleanly (EOF, not a reset) within timeout,
 * with no more data before it. */
void check_eof(int fd, double timeout);

/* Connect to 127.0.0.1:port from the local address from (127.0.0.2, say:
 * another client address for --max-per-addr), or fail the test. */
int check_connect_from(const char *from, int port);

/* Start the server or fail the test; returns its port. */
int check_server_start(struct proc *p, const struct proc_opts *opts,
		       const char *const *args);

/* Skip the current test, with a note, when the server under test holds
 * one client at a time (ECHOSERV_ONE_CLIENT).  Call it first in a test
 * that needs two clients connected at once. */
void skip_unless_concurrent(void);

/*
 * cmocka teardown: kill and reap every process still running, close every
 * client socket, remove the temporary files (kept if ECHOSERV_KEEP_LOGS is
 * set).  Returns 0.
 */
int harness_teardown(void **state);

/*
 * Call before running the tests: honours ECHOSERV_TEST and ECHOSERV_SKIP
 * (cmocka name patterns, '*' and '?' allowed, one each).  Under
 * ECHOSERV_MAY_BE_UNAVAILABLE it first starts the server once; if it
 * exits 1 saying it is unavailable here, the note is printed and the
 * program exits 0 with nothing run.
 */
void harness_init(void);

struct CMUnitTest;

/*
 * harness_init() and cmocka_run_group_tests(tests, NULL, NULL) in one,
 * where ECHOSERV_TEST and ECHOSERV_SKIP may each hold several patterns
 * (fnmatch(3), separated by spaces): a test runs if it matches one of
 * ECHOSERV_TEST (when set) and none of ECHOSERV_SKIP.  Returns what
 * cmocka returns: the number of tests that failed.
 */
int harness_run_tests(const char *group, const struct CMUnitTest *tests,
		      size_t n);
#define harness_run(tests)                                                     \
	harness_run_tests(#tests, tests, sizeof(tests) / sizeof((tests)[0]))

#endif
