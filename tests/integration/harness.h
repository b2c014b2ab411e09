/*
 * harness.h - drive the real echoserv binary over loopback sockets.
 *
 * The integration tests treat the server the way libuv's test runner treats
 * its echo server: as a helper process.  A test starts it (fork/exec of
 * $ECHOSERV_BIN, default build/echoserv) on port 0, learns the real port
 * from the "echoserv: listening on ADDR:PORT" line on its stderr, talks to it
 * with ordinary client sockets, and looks at its log, its exit status and,
 * where the system has /proc, its CPU time and memory.
 *
 * Rules the harness keeps, so the tests can rely on them:
 *
 *  - Every wait is bounded.  Functions that wait take a timeout in seconds
 *    and poll a condition (poll(2) on a socket, waitpid(WNOHANG), the log
 *    file) until it holds or the time is up; none sleeps blindly.
 *  - The server's stdout and stderr go to temporary files, never to pipes,
 *    so the server can never block on a full pipe nobody reads.
 *  - The harness remembers every process it started and every client socket
 *    it opened.  harness_teardown() kills (SIGKILL, by PID) whatever is
 *    still running, reaps it, closes the sockets and removes the files, so
 *    a failed assertion in one test cannot leak into the next.  It touches
 *    no process it did not start.
 *  - Descriptors the harness opens are close-on-exec, and the child closes
 *    everything above stderr before exec: the server sees exactly the
 *    descriptors it would see when started from a shell.
 *
 * Timing: upper bounds (how long something may take) are multiplied by
 * harness_scale(), which is larger when ECHOSERV_SANITIZED is set (the
 * ASan+UBSan build is slower).  Lower bounds ("not before 0.9 s") are never
 * scaled.
 *
 * Functions named check_* and assert_* use cmocka assertions and may only be
 * called from inside a cmocka test; everything else reports failure through
 * its return value and leaves the verdict to the caller.
 *
 * Running by hand:
 *
 *     ECHOSERV_BIN=build/echoserv build/tests/integration/test_cli
 *     ECHOSERV_TEST='rule3_*' ...      only the tests matching the pattern
 *     ECHOSERV_KEEP_LOGS=1 ...         keep the servers' stderr files
 */
#ifndef ECHOSERV_TEST_HARNESS_H
#define ECHOSERV_TEST_HARNESS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* ============================== processes ============================== */

#define HARNESS_PATH_MAX 256
#define HARNESS_ARGS_MAX 32

/* One process started by the harness (normally the server). */
struct proc {
	pid_t pid;  /* 0 once reaped */
	int status; /* shell-style exit status once reaped, see proc_wait */
	int port;   /* from the listening line; 0 if not (yet) known */
	char listen_addr[80]; /* "ADDR:PORT" from the listening line */
	char err_path[HARNESS_PATH_MAX]; /* its stderr */
	char out_path[HARNESS_PATH_MAX]; /* its stdout */
};

/* How to start a process. */
struct proc_opts {
	unsigned long nofile; /* RLIMIT_NOFILE (soft = hard) if > 0 */
};

/* Multiplier for upper time bounds: 1, or more under ECHOSERV_SANITIZED. */
double harness_scale(void);

/* True when the server under test is the sanitizer build. */
bool harness_sanitized(void);

/* Monotonic clock in seconds. */
double now_s(void);

/* Sleep for seconds (pacing only, never synchronisation). */
void sleep_s(double seconds);

/*
 * Start $ECHOSERV_BIN with args (a NULL-terminated list, the program name
 * not included), stdout and stderr redirected to fresh temporary files.
 * opts may be NULL.  Returns 0, or -1 if fork/exec set-up failed.  Does not
 * wait for anything.
 */
int proc_spawn(struct proc *p, const struct proc_opts *opts,
	       const char *const *args);

/*
 * Start the server like proc_spawn and wait (up to 5 s, scaled) for its
 * listening line; fill p->port and p->listen_addr.  Returns 0, or -1 if the
 * line did not come (the process is then killed and its log printed).
 */
int server_start(struct proc *p, const struct proc_opts *opts,
		 const char *const *args);

/* Send signal sig to p (if it has not been reaped).  0 or -1. */
int proc_signal(struct proc *p, int sig);

/*
 * Wait up to timeout seconds for p to exit and reap it.  Returns its
 * shell-style status (the exit code, or 128 + signal number if a signal
 * killed it), or -1 if it was still running at the deadline.
 */
int proc_wait(struct proc *p, double timeout);

/* Kill p with SIGKILL if it is still running, and reap it. */
void proc_kill(struct proc *p);

/* Is p still running (not exited)? */
bool proc_alive(struct proc *p);

/*
 * Run to completion: spawn, wait up to timeout seconds, kill on timeout.
 * Returns the status as proc_wait, or -1 on timeout.
 */
int proc_run(struct proc *p, const struct proc_opts *opts,
	     const char *const *args, double timeout);

/* ============================== output and logs ============================
 */

/* The whole of a file as a NUL-terminated malloc'd string ("" if missing);
 * *len (if not NULL) gets its length.  Never NULL. */
char *read_file_text(const char *path, size_t *len);

/* p's stderr so far (caller frees). */
char *proc_log(const struct proc *p);

/* p's stdout so far (caller frees). */
char *proc_stdout(const struct proc *p);

/* How many lines of p's stderr contain needle. */
int log_count(const struct proc *p, const char *needle);

/* Wait up to timeout s until at least n lines of p's stderr contain needle.
 * Returns true if they did. */
bool log_wait_count(const struct proc *p, const char *needle, int n,
		    double timeout);

/* log_wait_count with n = 1. */
bool log_wait(const struct proc *p, const char *needle, double timeout);

/*
 * The first line of text containing needle, copied into line (without its
 * LF) - or, if after is not NULL, the first such line after the first line
 * containing after.  Returns false if there is none.
 */
bool find_line(const char *text, const char *needle, const char *after,
	       char *line, size_t line_len);

/* Print the last lines of every started process's stderr (for failures). */
void harness_dump_logs(void);

/* ============================== /proc ============================== */

/* utime + stime of pid in clock ticks, or -1 where /proc is missing. */
long proc_cpu_ticks(pid_t pid);

/* VmRSS of pid in kB, or -1 where /proc is missing. */
long proc_rss_kb(pid_t pid);

/* ============================== clients ============================== */

/* How a receive ended. */
enum recv_end {
	RECV_FULL,    /* got all the bytes asked for */
	RECV_EOF,     /* the server closed cleanly (FIN) */
	RECV_RESET,   /* ECONNRESET: the server reset the connection */
	RECV_TIMEOUT, /* the deadline passed */
	RECV_ERROR    /* another error; errno in err */
};

struct recv_result {
	size_t len; /* bytes received into the buffer */
	enum recv_end end;
	int err; /* errno for RECV_RESET / RECV_ERROR */
};

/* A printable name for e ("EOF", "reset", ...). */
const char *recv_end_name(enum recv_end e);

/*
 * Connect to host (a numeric loopback address, "127.0.0.1" or "::1") at
 * port, waiting at most 5 s (scaled).  The socket is nonblocking and
 * close-on-exec, and the harness closes it in teardown unless the test
 * closes it with client_close() or client_reset() first.  Returns the fd or
 * -1.
 */
int client_connect(const char *host, int port);

/* Close a client socket and forget it. */
void client_close(int fd);

/* Close with SO_LINGER {1, 0}: the kernel sends a reset (RST). */
void client_reset(int fd);

/* Set the receive buffer size before traffic starts (a small buffer makes
 * the server's writes block sooner).  0 or -1. */
int client_set_rcvbuf(int fd, int bytes);

/* Send all len bytes, waiting (poll) at most timeout s for room.
 * Returns 0, or -1 (deadline or error). */
int client_send_all(int fd, const void *buf, size_t len, double timeout);

/* client_send_all of a C string. */
int client_send_str(int fd, const char *s, double timeout);

/*
 * Send what the socket takes without waiting longer than stall seconds for
 * room, up to max bytes, from the generator gen (byte i of the stream is
 * gen(offset + i)).  Returns the bytes sent.  Used to fill the pipe when
 * the server stops reading (backpressure).
 */
size_t client_send_until_stalled(int fd, unsigned char (*gen)(size_t),
				 size_t offset, size_t max, double stall);

/*
 * Receive into buf (room for want bytes) until want bytes have arrived, the
 * server closes (EOF or reset) or timeout seconds pass.  Data beyond want
 * stays in the socket.
 */
struct recv_result client_recv(int fd, void *buf, size_t want, double timeout);

/*
 * Receive a long stream until EOF (or reset, error, deadline, or max
 * bytes) without storing it: byte i must be gen(offset + i).  Stops at the
 * first byte that differs and stores its index in *mismatch (else
 * (size_t)-1); r.len counts the bytes that matched.
 */
struct recv_result client_recv_check(int fd, unsigned char (*gen)(size_t),
				     size_t offset, size_t max, double timeout,
				     size_t *mismatch);

/* Receive until EOF (or reset, error, deadline, or cap bytes: RECV_FULL). */
struct recv_result client_recv_all(int fd, void *buf, size_t cap,
				   double timeout);

/*
 * Wait up to timeout s for the next event on fd: returns RECV_EOF for a
 * clean close with no data, RECV_RESET, RECV_TIMEOUT, or RECV_FULL if a byte
 * of data arrived instead (the byte is consumed).
 */
enum recv_end client_next_event(int fd, double timeout);

/*
 * Nothing at all (no data, no EOF) arrives on fd for seconds.  Returns true
 * if the socket stayed silent.
 */
bool client_silent(int fd, double seconds);

/* Does this system have IPv6 on loopback (::1)?  Tests of IPv6 behaviour
 * skip themselves where it does not. */
/* Can this system bind an IPv6 TCP socket to addr (e.g. in6addr_any)? */
bool can_bind_ipv6(const struct in6_addr *addr);

bool have_ipv6(void);

/* Local port of a connected socket, or -1. */
int client_local_port(int fd);

/* The socket's pending error (SO_ERROR, e.g. ECONNRESET after a reset that
 * came after the EOF), cleared by reading it; 0 if none. */
int client_so_error(int fd);

/* ============================== assertions ============================== */

/*
 * Fail the current cmocka test: print the message, the tail of every
 * started server's log, then fail.  For use inside tests only.
 */
void harness_fail(const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Fail unless got[0..got_len) is exactly want[0..want_len) (what names it). */
void assert_bytes(const char *what, const void *got, size_t got_len,
		  const void *want, size_t want_len);

/* Receive exactly strlen(want) bytes within timeout and assert they are
 * want. */
void check_recv(int fd, const char *want, double timeout);

/* Receive exactly want_len bytes and assert they are want. */
void check_recv_bytes(int fd, const void *want, size_t want_len,
		      double timeout);

/* Send text, and assert the reply is exactly text (an echo). */
void check_echo(int fd, const char *text);

/* Assert the server closes cleanly (EOF, not a reset) within timeout, with
 * no more data before it. */
void check_eof(int fd, double timeout);

/* Start the server or fail the test; returns its port. */
int check_server_start(struct proc *p, const struct proc_opts *opts,
		       const char *const *args);

/* ============================== set-up ============================== */

/*
 * cmocka teardown: kill and reap every process still running, close every
 * client socket, remove the temporary files (kept if ECHOSERV_KEEP_LOGS is
 * set).  Returns 0.
 */
int harness_teardown(void **state);

/* Call before running the tests: honours ECHOSERV_TEST (a cmocka test
 * name pattern, '*' and '?' allowed). */
void harness_init(void);

/* Default timeout for one exchange with the server (2 s, scaled). */
double io_timeout(void);

#endif
