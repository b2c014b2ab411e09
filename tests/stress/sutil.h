/*
 * sutil.h - small helpers for the stress suite: the server as a child
 * process, loopback sockets, clocks, /proc figures, a random generator and
 * the random line stream every scenario sends and verifies.
 *
 * Kept here rather than shared with tests/integration so the suite does not
 * depend on a harness that is changing under it.
 */
#ifndef ECHOSERV_STRESS_SUTIL_H
#define ECHOSERV_STRESS_SUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ------------------------------------------------------------ the server */

struct server_proc {
	pid_t pid;
	unsigned port;
	char log_path[256]; /* its stderr */
	int exited;         /* reaped: status holds the wait status */
	int status;
};

/*
 * Start argv (argv[0] is the program, e.g. "build/echoserv", or a wrapper
 * such as valgrind) with stderr to log_path and stdout to /dev/null, and
 * wait up to wait_ms for its "echoserv: listening on ADDR:PORT" line.
 * nofile > 0 lowers the child's RLIMIT_NOFILE to that first.  Returns 0,
 * or -1 with a message on stderr (the child, if any, is killed).
 */
int server_start(struct server_proc *sp, char *const argv[],
		 const char *log_path, long nofile, int wait_ms);

/* Send sig; 0 or -1. */
int server_signal(struct server_proc *sp, int sig);

/* Wait up to wait_ms for the server to exit.  Returns 1 when it has exited
 * (status in sp->status), 0 when it is still running. */
int server_wait(struct server_proc *sp, int wait_ms);

/* Still running (not exited, not a zombie)? */
bool server_alive(struct server_proc *sp);

/* Stop it for good: SIGTERM, then SIGKILL after 3 s.  Returns the wait
 * status.  Safe to call more than once. */
int server_stop(struct server_proc *sp);

/* User plus system CPU time of pid in nanoseconds, from /proc/PID/stat,
 * or -1 where /proc is not there. */
int64_t proc_cpu_ns(pid_t pid);

/* A field such as "VmHWM" of /proc/PID/status, in kB, or -1. */
long proc_status_kb(pid_t pid, const char *field);

/* Descriptors pid has open (entries in /proc/PID/fd), or -1. */
int proc_open_fds(pid_t pid);

/* Lines of the log at path that contain needle, or -1. */
long count_log_lines(const char *path, const char *needle);

/* -------------------------------------------------------------- sockets */

/* A TCP connection to 127.0.0.1:port (blocking connect), or -1. */
int connect_loopback(unsigned port);

/* Make fd nonblocking; 0 or -1. */
int set_nonblocking(int fd);

/* Close with SO_LINGER 0: the peer gets a reset. */
void close_with_reset(int fd);

/* Write all of buf (blocking fd), retrying EINTR; 0 or -1. */
int write_all(int fd, const void *buf, size_t len);

/* Read up to cap bytes until EOF, an error or timeout_ms without data
 * (poll).  Returns the bytes read; *eof says whether EOF was seen and
 * *err holds the errno of a failed read (0 if none). */
size_t read_until_eof(int fd, void *buf, size_t cap, int timeout_ms, bool *eof,
		      int *err);

/* One request/reply: send line (ending in LF), read the same bytes back
 * within timeout_ms.  Returns 0 when the echo was exact. */
int echo_once(int fd, const char *line, int timeout_ms);

/* Raise RLIMIT_NOFILE's soft limit towards want (at most the hard limit).
 * Returns the soft limit in force afterwards. */
long raise_nofile(long want);

/* ------------------------------------------------------------- time etc */

/* Monotonic clock in nanoseconds. */
int64_t now_ns(void);

/* Sleep ms milliseconds (EINTR tolerant). */
void sleep_ms(long ms);

/* xorshift64*: small, fast and good enough for test data. */
struct rng {
	uint64_t s;
};
void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform-ish in 0..n-1 (n > 0). */
uint64_t rng_below(struct rng *r, uint64_t n);

/* The value at fraction q (0..1) of n sorted samples (sorts them). */
uint32_t percentile_u32(uint32_t *v, size_t n, double q);

/* ------------------------------------------------------ the line stream */

/*
 * A client's random byte stream: lines of random length 1..max_line
 * (terminator included) of random bytes other than LF, never a "quit"
 * line.  Two generators with the same seed produce the same stream, so a
 * client can verify replies without keeping what it sent.
 */
struct linegen {
	struct rng rng;
	size_t max_line;
	size_t left;     /* bytes left in the current line, LF included */
	uint64_t pool;   /* random bits not used yet */
	unsigned pooled; /* how many bytes of pool are left */
	uint64_t lines;  /* LFs produced */
	uint64_t bytes;  /* bytes produced */
};

void linegen_init(struct linegen *g, uint64_t seed, size_t max_line);

/* The next byte of the stream. */
unsigned char linegen_byte(struct linegen *g);

/* True when the next byte starts a new line. */
bool linegen_at_line_start(const struct linegen *g);

/* ------------------------------------------------------------- reporting */

/* Print a scenario's verdict line and return 0 for PASS, 1 for FAIL. */
int verdict(const char *scenario, bool ok, const char *why);

#endif
