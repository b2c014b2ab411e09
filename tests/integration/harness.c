/*
 * harness.c - helper-process harness for the integration tests (see
 * harness.h for the contract and the rules every wait follows).
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
/* cmocka needs the three headers above it. */
#include <cmocka.h>

/* How often polled conditions (log file, exit) are looked at. */
#define POLL_INTERVAL 0.005
/* How long a server may take to print its listening line. */
#define START_TIMEOUT 5.0

/* ============================== bookkeeping ==============================
 */

/*
 * What teardown must clean up.  Copies, not pointers: a failed assertion
 * longjmps out of the test, and the test's struct proc goes with its stack.
 */
#define MAX_PROCS   16
#define MAX_CLIENTS 2048

struct started {
	pid_t pid; /* 0: reaped */
	char err_path[HARNESS_PATH_MAX];
	char out_path[HARNESS_PATH_MAX];
};

static struct started procs[MAX_PROCS];
static int nprocs;
static int clients[MAX_CLIENTS];
static int nclients;

static struct started *find_started(pid_t pid)
{
	for (int i = 0; i < nprocs; i++)
		if (procs[i].pid == pid)
			return &procs[i];
	return NULL;
}

static void forget_pid(pid_t pid)
{
	struct started *s = find_started(pid);
	if (s != NULL)
		s->pid = 0;
}

static void remember_client(int fd)
{
	if (nclients < MAX_CLIENTS)
		clients[nclients++] = fd;
}

/* Forget fd; returns false if the harness did not know it. */
static bool forget_client(int fd)
{
	for (int i = 0; i < nclients; i++)
		if (clients[i] == fd) {
			clients[i] = clients[--nclients];
			return true;
		}
	return false;
}

/* ============================== time ============================== */

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sleep_s(double seconds)
{
	struct timespec ts;

	if (seconds <= 0)
		return;
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

bool harness_sanitized(void)
{
	const char *v = getenv("ECHOSERV_SANITIZED");
	return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

double harness_scale(void)
{
	return harness_sanitized() ? 3.0 : 1.0;
}

double io_timeout(void)
{
	return 2.0 * harness_scale();
}

/* Milliseconds left until deadline, for poll(): at least 0, at most 1 s so
 * that a long wait re-checks the clock now and then. */
static int ms_left(double deadline)
{
	double left = deadline - now_s();

	if (left <= 0)
		return 0;
	if (left > 1.0)
		return 1000;
	return (int)(left * 1000) + 1;
}

/* ============================== processes ==============================
 */

static const char *server_binary(void)
{
	const char *bin = getenv("ECHOSERV_BIN");
	return bin != NULL && *bin != '\0' ? bin : "build/echoserv";
}

/* A fresh, empty temporary file; its path goes to path.  fd or -1. */
static int make_temp(char *path, size_t len, const char *what)
{
	const char *dir = getenv("TMPDIR");

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	snprintf(path, len, "%s/echoserv-it-%s-XXXXXX", dir, what);
	int fd = mkstemp(path);
	if (fd >= 0)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

/* In the child: close every descriptor above stderr, so the server starts
 * with the descriptors a shell would give it. */
static void close_inherited(void)
{
	long max = sysconf(_SC_OPEN_MAX);

	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = 3; fd < max; fd++)
		close(fd);
}

/* In the child: never returns. */
static void exec_child(int out_fd, int err_fd, const struct proc_opts *opts,
		       const char *const *args)
{
	char *argv[HARNESS_ARGS_MAX + 2];
	int n = 0;
	int devnull = open("/dev/null", O_RDONLY);

	argv[n++] = (char *)server_binary();
	for (int i = 0;
	     args != NULL && args[i] != NULL && n <= HARNESS_ARGS_MAX; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;

	if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 ||
	    dup2(out_fd, STDOUT_FILENO) < 0 || dup2(err_fd, STDERR_FILENO) < 0)
		_exit(126);
	close_inherited();
	/* The test runner's own SIGPIPE/SIGINT settings must not leak in. */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (opts != NULL && opts->nofile > 0) {
		struct rlimit rl = {.rlim_cur = (rlim_t)opts->nofile,
				    .rlim_max = (rlim_t)opts->nofile};
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			_exit(126);
	}
	execv(argv[0], argv);
	dprintf(STDERR_FILENO, "harness: cannot exec %s: %s\n", argv[0],
		strerror(errno));
	_exit(127);
}

int proc_spawn(struct proc *p, const struct proc_opts *opts,
	       const char *const *args)
{
	memset(p, 0, sizeof(*p));
	if (nprocs >= MAX_PROCS) {
		fprintf(stderr, "harness: too many processes in one test\n");
		return -1;
	}
	int out_fd = make_temp(p->out_path, sizeof(p->out_path), "out");
	int err_fd = make_temp(p->err_path, sizeof(p->err_path), "err");
	if (out_fd < 0 || err_fd < 0) {
		fprintf(stderr, "harness: mkstemp: %s\n", strerror(errno));
		if (out_fd >= 0)
			close(out_fd);
		if (err_fd >= 0)
			close(err_fd);
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "harness: fork: %s\n", strerror(errno));
		close(out_fd);
		close(err_fd);
		return -1;
	}
	if (pid == 0)
		exec_child(out_fd, err_fd, opts, args);
	close(out_fd);
	close(err_fd);

	p->pid = pid;
	struct started *s = &procs[nprocs++];
	s->pid = pid;
	snprintf(s->err_path, sizeof(s->err_path), "%s", p->err_path);
	snprintf(s->out_path, sizeof(s->out_path), "%s", p->out_path);
	return 0;
}

/* Decode a waitpid status, shell style. */
static int shell_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

/* Reap p if it has exited; true if it has (now or before). */
static bool try_reap(struct proc *p)
{
	int status;

	if (p->pid == 0)
		return true;
	pid_t r = waitpid(p->pid, &status, WNOHANG);
	if (r == 0)
		return false;
	if (r < 0 && errno == EINTR)
		return false;
	/* r == pid, or an error meaning it is not our child any more. */
	p->status = r == p->pid ? shell_status(status) : 255;
	forget_pid(p->pid);
	p->pid = 0;
	return true;
}

bool proc_alive(struct proc *p)
{
	return !try_reap(p);
}

int proc_wait(struct proc *p, double timeout)
{
	double deadline = now_s() + timeout;

	for (;;) {
		if (try_reap(p))
			return p->status;
		if (now_s() >= deadline)
			return -1;
		sleep_s(POLL_INTERVAL);
	}
}

int proc_signal(struct proc *p, int sig)
{
	if (p->pid == 0)
		return -1;
	return kill(p->pid, sig);
}

void proc_kill(struct proc *p)
{
	if (p->pid == 0)
		return;
	kill(p->pid, SIGKILL);
	/* SIGKILL cannot be ignored; the bound only guards a stuck kernel. */
	if (proc_wait(p, 10.0) < 0)
		fprintf(stderr, "harness: pid %ld did not die\n", (long)p->pid);
}

int proc_run(struct proc *p, const struct proc_opts *opts,
	     const char *const *args, double timeout)
{
	if (proc_spawn(p, opts, args) != 0)
		return -1;
	int st = proc_wait(p, timeout);
	if (st < 0)
		proc_kill(p);
	return st;
}

/* "echoserv: listening on ADDR:PORT" -> p->listen_addr, p->port. */
static bool parse_listening_line(struct proc *p, const char *log)
{
	static const char key[] = "echoserv: listening on ";
	char line[256];

	if (!find_line(log, key, NULL, line, sizeof(line)))
		return false;
	const char *addr = strstr(line, key) + strlen(key);
	const char *colon = strrchr(addr, ':');
	if (colon == NULL)
		return false;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port <= 0 || port > 65535)
		return false;
	snprintf(p->listen_addr, sizeof(p->listen_addr), "%s", addr);
	p->port = (int)port;
	return true;
}

int server_start(struct proc *p, const struct proc_opts *opts,
		 const char *const *args)
{
	if (proc_spawn(p, opts, args) != 0)
		return -1;
	double deadline = now_s() + START_TIMEOUT * harness_scale();
	for (;;) {
		char *log = proc_log(p);
		bool ok = parse_listening_line(p, log);
		free(log);
		if (ok)
			return 0;
		if (!proc_alive(p)) {
			fprintf(stderr,
				"harness: server exited (status %d) before "
				"listening\n",
				p->status);
			break;
		}
		if (now_s() >= deadline) {
			fprintf(stderr,
				"harness: no listening line within "
				"%.1f s\n",
				START_TIMEOUT * harness_scale());
			break;
		}
		sleep_s(POLL_INTERVAL);
	}
	harness_dump_logs();
	proc_kill(p);
	return -1;
}

/* ============================== output and logs ============================
 */

char *read_file_text(const char *path, size_t *len)
{
	size_t cap = 4096, used = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (buf == NULL) {
		fprintf(stderr, "harness: out of memory\n");
		abort();
	}
	while (fd >= 0) {
		if (cap - used < 4096) {
			cap *= 2;
			char *bigger = realloc(buf, cap);
			if (bigger == NULL) {
				fprintf(stderr, "harness: out of memory\n");
				abort();
			}
			buf = bigger;
		}
		ssize_t n = read(fd, buf + used, cap - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	if (fd >= 0)
		close(fd);
	buf[used] = '\0';
	if (len != NULL)
		*len = used;
	return buf;
}

char *proc_log(const struct proc *p)
{
	return read_file_text(p->err_path, NULL);
}

char *proc_stdout(const struct proc *p)
{
	return read_file_text(p->out_path, NULL);
}

/* Lines of text containing needle (only complete lines: a line still being
 * written has no LF yet and is not counted). */
static int count_lines(const char *text, const char *needle)
{
	int count = 0;

	for (const char *line = text; *line != '\0';) {
		const char *lf = strchr(line, '\n');
		if (lf == NULL)
			break;
		const char *hit = strstr(line, needle);
		if (hit != NULL && hit < lf)
			count++;
		line = lf + 1;
	}
	return count;
}

int log_count(const struct proc *p, const char *needle)
{
	char *log = proc_log(p);
	int n = count_lines(log, needle);

	free(log);
	return n;
}

bool log_wait_count(const struct proc *p, const char *needle, int n,
		    double timeout)
{
	double deadline = now_s() + timeout;

	for (;;) {
		if (log_count(p, needle) >= n)
			return true;
		if (now_s() >= deadline)
			return false;
		sleep_s(POLL_INTERVAL);
	}
}

bool log_wait(const struct proc *p, const char *needle, double timeout)
{
	return log_wait_count(p, needle, 1, timeout);
}

bool find_line(const char *text, const char *needle, const char *after,
	       char *line, size_t line_len)
{
	const char *from = text;

	if (after != NULL) {
		const char *a = strstr(text, after);
		if (a == NULL)
			return false;
		const char *lf = strchr(a, '\n');
		if (lf == NULL)
			return false;
		from = lf + 1;
	}
	const char *hit = strstr(from, needle);
	if (hit == NULL)
		return false;
	const char *start = hit;
	while (start > text && start[-1] != '\n')
		start--;
	const char *end = strchr(hit, '\n');
	if (end == NULL)
		return false; /* not complete yet */
	size_t n = (size_t)(end - start);
	if (n >= line_len)
		n = line_len - 1;
	memcpy(line, start, n);
	line[n] = '\0';
	return true;
}

void harness_dump_logs(void)
{
	for (int i = 0; i < nprocs; i++) {
		size_t len;
		char *log = read_file_text(procs[i].err_path, &len);
		const char *tail = log;
		int lines = 0;

		/* Show the last 30 lines at most. */
		for (const char *q = log + len; q > log; q--)
			if (q[-1] == '\n' && q != log + len && ++lines == 30) {
				tail = q;
				break;
			}
		fprintf(stderr, "---- server log %s (last lines):\n%s----\n",
			procs[i].err_path, tail);
		free(log);
	}
}

/* ============================== /proc ============================== */

long proc_cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* Fields after "(comm)": state is field 3; utime 14, stime 15. */
	const char *p = strrchr(buf, ')');
	if (p == NULL)
		return -1;
	p++;
	long utime = -1, stime = -1;
	for (int field = 2; field <= 15 && *p != '\0'; field++) {
		while (*p == ' ')
			p++;
		if (field == 14)
			utime = strtol(p, NULL, 10);
		if (field == 15)
			stime = strtol(p, NULL, 10);
		while (*p != ' ' && *p != '\0')
			p++;
	}
	return utime < 0 || stime < 0 ? -1 : utime + stime;
}

long proc_rss_kb(pid_t pid)
{
	char path[64], line[256];

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	char *text = read_file_text(path, NULL);
	long kb = -1;
	if (find_line(text, "VmRSS:", NULL, line, sizeof(line)))
		kb = strtol(line + strlen("VmRSS:"), NULL, 10);
	free(text);
	return kb;
}

/* ============================== clients ============================== */

const char *recv_end_name(enum recv_end e)
{
	switch (e) {
	case RECV_FULL:
		return "all bytes";
	case RECV_EOF:
		return "EOF";
	case RECV_RESET:
		return "connection reset";
	case RECV_TIMEOUT:
		return "timeout";
	case RECV_ERROR:
		return "error";
	}
	return "?";
}

int client_connect(const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(&ss, 0, sizeof(ss));
	if (strchr(host, ':') != NULL) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -1;
		len = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -1;
		len = sizeof(*in);
	}
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
		close(fd);
		return -1;
	}
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
		if (errno != EINPROGRESS) {
			close(fd);
			return -1;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		double deadline = now_s() + START_TIMEOUT * harness_scale();
		int err = ETIMEDOUT;
		socklen_t elen = sizeof(err);
		while (now_s() < deadline) {
			int r = poll(&pfd, 1, ms_left(deadline));
			if (r < 0 && errno == EINTR)
				continue;
			if (r > 0)
				(void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
						 &elen);
			break;
		}
		if (err != 0) {
			close(fd);
			errno = err;
			return -1;
		}
	}
	remember_client(fd);
	return fd;
}

void client_close(int fd)
{
	if (fd < 0)
		return;
	forget_client(fd);
	close(fd);
}

void client_reset(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	if (fd < 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	client_close(fd);
}

int client_set_rcvbuf(int fd, int bytes)
{
	return setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

int client_send_all(int fd, const void *buf, size_t len, double timeout)
{
	const char *p = buf;
	double deadline = now_s() + timeout;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (now_s() >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		(void)poll(&pfd, 1, ms_left(deadline));
	}
	return 0;
}

int client_send_str(int fd, const char *s, double timeout)
{
	return client_send_all(fd, s, strlen(s), timeout);
}

size_t client_send_until_stalled(int fd, unsigned char (*gen)(size_t),
				 size_t offset, size_t max, double stall)
{
	unsigned char chunk[65536];
	size_t sent = 0;

	errno = 0;
	while (sent < max) {
		size_t want =
		    max - sent < sizeof(chunk) ? max - sent : sizeof(chunk);
		for (size_t i = 0; i < want; i++)
			chunk[i] = gen(offset + sent + i);
		ssize_t n = send(fd, chunk, want, MSG_NOSIGNAL);
		if (n > 0) {
			sent += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return sent; /* errno says why */
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int r = poll(&pfd, 1, (int)(stall * 1000));
		if (r == 0)
			break; /* no room for stall seconds: the pipe is full */
	}
	errno = 0;
	return sent;
}

/*
 * Receive into buf until want bytes are there (RECV_FULL), the peer closes
 * or fails, or timeout seconds pass.  With until_eof a full buffer is
 * reported as RECV_FULL too; the difference is only in what the caller
 * asked for.
 */
static struct recv_result recv_until(int fd, char *buf, size_t want,
				     double timeout)
{
	struct recv_result r = {0, RECV_TIMEOUT, 0};
	double deadline = now_s() + timeout;

	for (;;) {
		if (r.len >= want) {
			r.end = RECV_FULL;
			return r;
		}
		ssize_t n = recv(fd, buf + r.len, want - r.len, 0);
		if (n > 0) {
			r.len += (size_t)n;
			continue;
		}
		if (n == 0) {
			r.end = RECV_EOF;
			return r;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			r.err = errno;
			r.end = errno == ECONNRESET ? RECV_RESET : RECV_ERROR;
			return r;
		}
		if (now_s() >= deadline) {
			r.end = RECV_TIMEOUT;
			return r;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		(void)poll(&pfd, 1, ms_left(deadline));
	}
}

struct recv_result client_recv(int fd, void *buf, size_t want, double timeout)
{
	return recv_until(fd, buf, want, timeout);
}

struct recv_result client_recv_all(int fd, void *buf, size_t cap,
				   double timeout)
{
	return recv_until(fd, buf, cap, timeout);
}

struct recv_result client_recv_check(int fd, unsigned char (*gen)(size_t),
				     size_t offset, size_t max, double timeout,
				     size_t *mismatch)
{
	unsigned char chunk[65536];
	struct recv_result r = {0, RECV_TIMEOUT, 0};
	double deadline = now_s() + timeout;

	*mismatch = (size_t)-1;
	while (r.len < max) {
		size_t want =
		    max - r.len < sizeof(chunk) ? max - r.len : sizeof(chunk);
		struct recv_result part =
		    recv_until(fd, (char *)chunk, want, deadline - now_s());
		for (size_t i = 0; i < part.len; i++)
			if (chunk[i] != gen(offset + r.len + i)) {
				*mismatch = r.len + i;
				r.len += i;
				r.end = RECV_ERROR;
				return r;
			}
		r.len += part.len;
		if (part.end != RECV_FULL) {
			r.end = part.end;
			r.err = part.err;
			return r;
		}
	}
	r.end = RECV_FULL;
	return r;
}

enum recv_end client_next_event(int fd, double timeout)
{
	char byte;
	struct recv_result r = recv_until(fd, &byte, 1, timeout);

	return r.end;
}

bool client_silent(int fd, double seconds)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	double deadline = now_s() + seconds;

	while (now_s() < deadline) {
		int r = poll(&pfd, 1, ms_left(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r != 0)
			return false;
	}
	return true;
}

bool can_bind_ipv6(const struct in6_addr *addr)
{
	struct sockaddr_in6 in6;
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok;

	if (fd < 0)
		return false;
	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	in6.sin6_addr = *addr;
	ok = bind(fd, (struct sockaddr *)&in6, sizeof(in6)) == 0;
	close(fd);
	return ok;
}

bool have_ipv6(void)
{
	return can_bind_ipv6(&in6addr_loopback);
}

int client_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

int client_so_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		return errno;
	return err;
}

/* ============================== assertions ============================== */

void harness_fail(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	harness_dump_logs();
	fail_msg("%s", msg);
}

/* Bytes as a C string literal, abbreviated in the middle if long. */
static void escape(const unsigned char *b, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 8 < cap; i++) {
		if (n > 200 && i == 80) {
			o += (size_t)snprintf(out + o, cap - o,
					      "...(%zu bytes)...", n - 160);
			i = n - 80;
		}
		unsigned char c = b[i];
		if (c == '\n')
			o += (size_t)snprintf(out + o, cap - o, "\\n");
		else if (c == '\r')
			o += (size_t)snprintf(out + o, cap - o, "\\r");
		else if (c == '\\' || c == '"')
			o += (size_t)snprintf(out + o, cap - o, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o < cap ? o : cap - 1] = '\0';
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
	escape(got, got_len, g, sizeof(g));
	escape(want, want_len, w, sizeof(w));
	harness_fail("%s: got %zu bytes \"%s\", want %zu bytes \"%s\" "
		     "(first difference at byte %zu)",
		     what, got_len, g, want_len, w, first);
}

void check_recv_bytes(int fd, const void *want, size_t want_len, double timeout)
{
	char *buf = malloc(want_len + 1);

	assert_non_null(buf);
	struct recv_result r = client_recv(fd, buf, want_len, timeout);
	if (r.end != RECV_FULL) {
		char g[1024], w[1024];
		escape((unsigned char *)buf, r.len, g, sizeof(g));
		escape(want, want_len, w, sizeof(w));
		free(buf);
		harness_fail("receive: got %zu bytes \"%s\" then %s, want "
			     "\"%s\"",
			     r.len, g, recv_end_name(r.end), w);
		return;
	}
	if (r.len != want_len || memcmp(buf, want, want_len) != 0) {
		char g[1024], w[1024];
		escape((unsigned char *)buf, r.len, g, sizeof(g));
		escape(want, want_len, w, sizeof(w));
		free(buf);
		harness_fail("receive: got \"%s\", want \"%s\"", g, w);
		return;
	}
	free(buf);
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

void check_eof(int fd, double timeout)
{
	char buf[256];
	struct recv_result r = client_recv_all(fd, buf, sizeof(buf), timeout);

	if (r.len > 0) {
		char g[1024];
		escape((unsigned char *)buf, r.len, g, sizeof(g));
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

/* ============================== set-up ============================== */

void harness_init(void)
{
	const char *pattern = getenv("ECHOSERV_TEST");

	if (pattern != NULL && *pattern != '\0')
		cmocka_set_test_filter(pattern);
}

int harness_teardown(void **state)
{
	bool keep = getenv("ECHOSERV_KEEP_LOGS") != NULL;

	(void)state;
	while (nclients > 0)
		client_close(clients[0]);
	for (int i = 0; i < nprocs; i++) {
		if (procs[i].pid != 0) {
			struct proc p = {.pid = procs[i].pid};
			proc_kill(&p);
		}
		if (!keep) {
			unlink(procs[i].err_path);
			unlink(procs[i].out_path);
		} else {
			fprintf(stderr, "harness: kept %s\n",
				procs[i].err_path);
		}
	}
	nprocs = 0;
	return 0;
}
