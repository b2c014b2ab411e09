/*
 * sutil.c - helpers for the stress suite (see sutil.h).
 */
#include "sutil.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ============================== the server ============================== */

/* In the child: lower the descriptor limit, redirect stdio, close what the
 * test process holds, exec.  Only async-signal-safe calls. */
static void exec_server(char *const argv[], int log_fd, long nofile)
{
	int null_fd = open("/dev/null", O_RDWR);

	if (log_fd < 0 || null_fd < 0)
		_exit(126);
	if (dup2(null_fd, STDIN_FILENO) < 0 ||
	    dup2(null_fd, STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0)
		_exit(126);
	long max = sysconf(_SC_OPEN_MAX);
	for (long fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
		close((int)fd);
	if (nofile > 0) {
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
			_exit(126);
		rl.rlim_cur = (rlim_t)nofile;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			_exit(126);
	}
	execvp(argv[0], argv);
	_exit(127);
}

/* The port of the "echoserv: listening on ADDR:PORT" line in the log, or
 * 0 if it is not there yet. */
static unsigned find_listen_port(const char *log_path)
{
	char line[512];
	unsigned port = 0;
	FILE *f = fopen(log_path, "r");

	if (f == NULL)
		return 0;
	while (port == 0 && fgets(line, sizeof(line), f) != NULL) {
		const char *tag = strstr(line, "echoserv: listening on ");
		const char *colon = tag != NULL ? strrchr(tag, ':') : NULL;
		if (colon != NULL)
			port = (unsigned)strtoul(colon + 1, NULL, 10);
	}
	fclose(f);
	return port;
}

int server_start(struct server_proc *sp, char *const argv[],
		 const char *log_path, long nofile, int wait_ms)
{
	memset(sp, 0, sizeof(*sp));
	snprintf(sp->log_path, sizeof(sp->log_path), "%s", log_path);
	/* Emptied here, before the child exists, so the listening line of
	 * an earlier run can never be mistaken for this one's. */
	int log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (log_fd < 0) {
		perror(log_path);
		return -1;
	}
	sp->pid = fork();
	if (sp->pid < 0) {
		perror("stress: fork");
		close(log_fd);
		return -1;
	}
	if (sp->pid == 0)
		exec_server(argv, log_fd, nofile);
	close(log_fd);

	int64_t deadline = now_ns() + (int64_t)wait_ms * 1000000;
	while (now_ns() < deadline) {
		sp->port = find_listen_port(log_path);
		if (sp->port != 0)
			return 0;
		if (server_wait(sp, 0)) {
			fprintf(stderr, "stress: %s exited at start (see %s)\n",
				argv[0], log_path);
			return -1;
		}
		sleep_ms(20);
	}
	fprintf(stderr, "stress: no listening line from %s in %d ms\n", argv[0],
		wait_ms);
	server_stop(sp);
	return -1;
}

int server_signal(struct server_proc *sp, int sig)
{
	if (sp->pid <= 0 || sp->exited)
		return -1;
	return kill(sp->pid, sig);
}

int server_wait(struct server_proc *sp, int wait_ms)
{
	int64_t deadline = now_ns() + (int64_t)wait_ms * 1000000;

	if (sp->pid <= 0)
		return 1;
	while (!sp->exited) {
		pid_t r = waitpid(sp->pid, &sp->status, WNOHANG);
		if (r == sp->pid) {
			sp->exited = 1;
			break;
		}
		if (r < 0 && errno != EINTR) {
			sp->exited = 1; /* not ours any more: nothing to wait */
			sp->status = -1;
			break;
		}
		if (now_ns() >= deadline)
			return 0;
		sleep_ms(5);
	}
	return 1;
}

bool server_alive(struct server_proc *sp)
{
	return !server_wait(sp, 0);
}

int server_stop(struct server_proc *sp)
{
	if (sp->pid <= 0)
		return -1;
	if (!sp->exited) {
		server_signal(sp, SIGTERM);
		if (!server_wait(sp, 3000)) {
			kill(sp->pid, SIGKILL);
			server_wait(sp, 3000);
		}
	}
	return sp->status;
}

int64_t proc_cpu_ns(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long utime, stime;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which is in parentheses and may
	 * hold spaces: state is field 3, utime 14, stime 15. */
	const char *p = strrchr(buf, ')');
	if (p == NULL ||
	    sscanf(p + 1,
		   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   &utime, &stime) != 2)
		return -1;
	long hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0)
		return -1;
	return (int64_t)((utime + stime) * (1000000000ULL / (unsigned long)hz));
}

long proc_status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	long kb = -1;
	size_t flen = strlen(field);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			kb = strtol(line + flen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

int proc_open_fds(pid_t pid)
{
	char path[64];
	int count = 0;
	DIR *d;
	const struct dirent *e;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			count++;
	closedir(d);
	return count;
}

long count_log_lines(const char *path, const char *needle)
{
	char line[1024];
	long count = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, needle) != NULL)
			count++;
	fclose(f);
	return count;
}

/* ============================== sockets ============================== */

int connect_loopback(unsigned port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
		close(fd);
		return -1;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		if (errno == EINTR)
			continue;
		close(fd);
		return -1;
	}
	return fd;
}

int set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -1;
	return fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ? -1 : 0;
}

void close_with_reset(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

size_t read_until_eof(int fd, void *buf, size_t cap, int timeout_ms, bool *eof,
		      int *err)
{
	size_t got = 0;

	*eof = false;
	*err = 0;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return got;
		char sink[4096];
		char *to = got < cap ? (char *)buf + got : sink;
		size_t room = got < cap ? cap - got : sizeof(sink);
		ssize_t n = read(fd, to, room);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			*err = errno;
			return got;
		}
		if (n == 0) {
			*eof = true;
			return got;
		}
		if (got < cap)
			got += (size_t)n;
	}
}

int echo_once(int fd, const char *line, int timeout_ms)
{
	size_t len = strlen(line), got = 0;
	char buf[512];
	int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000;

	if (len > sizeof(buf) || write_all(fd, line, len) != 0)
		return -1;
	while (got < len) {
		int left = (int)((deadline - now_ns()) / 1000000);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (left <= 0 || poll(&p, 1, left) <= 0)
			return -1;
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return memcmp(buf, line, len) == 0 ? 0 : -1;
}

long raise_nofile(long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < want) {
		rlim_t to = (rlim_t)want;
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < to)
			to = rl.rlim_max;
		rl.rlim_cur = to;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
			return -1;
	}
	return rl.rlim_cur == RLIM_INFINITY ? want : (long)rl.rlim_cur;
}

/* ============================== time etc ============================== */

int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void rng_seed(struct rng *r, uint64_t seed)
{
	/* xorshift needs a state other than zero: make it odd. */
	r->s = (seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL) | 1u;
}

uint64_t rng_next(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1DULL;
}

uint64_t rng_below(struct rng *r, uint64_t n)
{
	return (rng_next(r) >> 11) % n;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

uint32_t percentile_u32(uint32_t *v, size_t n, double q)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u32);
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

/* ============================== the line stream ==========================
 */

void linegen_init(struct linegen *g, uint64_t seed, size_t max_line)
{
	memset(g, 0, sizeof(*g));
	rng_seed(&g->rng, seed);
	g->max_line = max_line;
}

bool linegen_at_line_start(const struct linegen *g)
{
	return g->left == 0;
}

/* Line lengths: mostly uniform in 1..max_line, with the edges (an empty
 * line, a line of exactly max_line bytes) a little more often. */
static size_t pick_line_len(struct linegen *g)
{
	uint64_t r = rng_below(&g->rng, 100);

	if (r < 3)
		return 1;
	if (r < 6)
		return g->max_line;
	return 1 + (size_t)rng_below(&g->rng, g->max_line);
}

unsigned char linegen_byte(struct linegen *g)
{
	bool first = false;

	if (g->left == 0) {
		g->left = pick_line_len(g);
		first = true;
	}
	g->bytes++;
	if (--g->left == 0) {
		g->lines++;
		return '\n';
	}
	if (g->pooled == 0) {
		g->pool = rng_next(&g->rng);
		g->pooled = 8;
	}
	unsigned char b = (unsigned char)g->pool;
	g->pool >>= 8;
	g->pooled--;
	if (b == '\n')
		b = '\r'; /* CRs are fine anywhere, LFs end lines */
	if (first && b == 'q')
		b = 'Q'; /* never a "quit" line */
	return b;
}

/* ============================== reporting ============================== */

int verdict(const char *scenario, bool ok, const char *why)
{
	printf("%s: %s%s%s\n", scenario, ok ? "PASS" : "FAIL",
	       why != NULL && why[0] != '\0' ? ": " : "",
	       why != NULL ? why : "");
	fflush(stdout);
	return ok ? 0 : 1;
}
