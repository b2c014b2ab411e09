/*
 * server_process.c - start, watch and stop the server under test (see
 * server_process.h for the rules every function keeps).
 */
/* posix_openpt, grantpt, unlockpt and ptsname are XSI. */
#define _XOPEN_SOURCE 700

#include "server_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "clock.h"
#include "server_log.h"

/* How often polled conditions (the log file, an exit) are looked at. */
#define POLL_INTERVAL 0.005
/* How long a server may take to print its listening line, unscaled. */
#define START_TIMEOUT 5.0

/* ============================== bookkeeping ============================ */

/*
 * What procs_kill_all() must clean up.  Copies, not pointers: a failed
 * cmocka assertion longjmps out of the test, and the test's struct proc
 * goes with its stack.  An entry is freed when its process is reaped,
 * unless it still has temporary files to remove.
 */
#define MAX_PROCS 64

struct started {
	pid_t pid;    /* 0: reaped */
	bool in_use;  /* the slot holds a process or its files */
	bool temp;    /* err_path and out_path are ours to remove */
	int err_pipe; /* our read end of its stderr, or -1 */
	char err_path[HARNESS_PATH_MAX];
	char out_path[HARNESS_PATH_MAX];
};

static struct started procs[MAX_PROCS];

static struct started *find_started(pid_t pid)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].in_use && procs[i].pid == pid)
			return &procs[i];
	return NULL;
}

static struct started *free_slot(void)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (!procs[i].in_use)
			return &procs[i];
	return NULL;
}

/* p was reaped: forget it, and its slot unless files remain to remove. */
static void forget_pid(pid_t pid)
{
	struct started *s = find_started(pid);

	if (s == NULL)
		return;
	s->pid = 0;
	if (!s->temp && s->err_pipe < 0)
		s->in_use = false;
}

/* ============================== starting =============================== */

const char *server_program(void)
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
	snprintf(path, len, "%s/echoserv-test-%s-XXXXXX", dir, what);
	int fd = mkstemp(path);
	if (fd >= 0)
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

/* In the child: close every descriptor from first up. */
static void close_from(int first)
{
	long max = sysconf(_SC_OPEN_MAX);

	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = first; fd < max; fd++)
		close(fd);
}

/* In the child: put in_fd, out_fd, err_fd on 0, 1, 2 and close the rest;
 * or, with closed, close them all.  Only async-signal-safe calls. */
static void set_up_stdio(int in_fd, int out_fd, int err_fd, bool closed)
{
	if (closed) {
		close_from(0);
		return;
	}
	if (in_fd < 0 || out_fd < 0 || err_fd < 0 ||
	    dup2(in_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
	    dup2(err_fd, STDERR_FILENO) < 0)
		_exit(126);
	close_from(3);
}

/* In the child: never returns. */
static void exec_child(const char *program, int out_fd, int err_fd,
		       const struct proc_opts *opts, const char *const *args)
{
	char *argv[HARNESS_ARGS_MAX + 2];
	char wrapper[HARNESS_PATH_MAX];
	int n = 0;
	int devnull = open("/dev/null", O_RDONLY);

	if (opts->wrapper != NULL) {
		snprintf(wrapper, sizeof(wrapper), "tests/support/wrappers/%s",
			 opts->wrapper);
		if (setenv("WRAP_PROGRAM", program, 1) != 0)
			_exit(126);
		program = wrapper;
	}
	argv[n++] = (char *)program;
	for (int i = 0;
	     args != NULL && args[i] != NULL && n <= HARNESS_ARGS_MAX; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;

	set_up_stdio(devnull, out_fd, err_fd, opts->stdio_closed);
	/* The test runner's own signal settings must not leak in. */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (opts->nofile > 0) {
		struct rlimit rl = {.rlim_cur = (rlim_t)opts->nofile,
				    .rlim_max = (rlim_t)opts->nofile};
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			_exit(126);
	}
	execvp(argv[0], argv);
	if (!opts->stdio_closed)
		dprintf(STDERR_FILENO, "test: cannot exec %s: %s\n", argv[0],
			strerror(errno));
	_exit(127);
}

static int dev_null(int *fd)
{
	*fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	return *fd >= 0 ? 0 : -1;
}

/* A pseudo-terminal: *slave for the child, *master for the test.  Output
 * processing is off, so the test reads exactly the bytes written. */
static int open_pty(int *slave, int *master)
{
	struct termios t;

	*master = posix_openpt(O_RDWR | O_NOCTTY);
	if (*master < 0)
		return -1;
	(void)fcntl(*master, F_SETFD, FD_CLOEXEC);
	const char *name = grantpt(*master) == 0 && unlockpt(*master) == 0
			       ? ptsname(*master)
			       : NULL;
	if (name == NULL)
		return -1;
	*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0 || tcgetattr(*slave, &t) != 0)
		return -1;
	t.c_oflag &= ~(tcflag_t)OPOST;
	return tcsetattr(*slave, TCSANOW, &t);
}

/*
 * Open what the child's stdout and stderr go to, as opts says: *out_fd
 * and *err_fd, both -1 on failure.  With a pipe, *pipe_rd is its read end.
 */
static int open_outputs(struct proc *p, const struct proc_opts *opts,
			int *out_fd, int *err_fd, int *pipe_rd)
{
	*out_fd = *err_fd = *pipe_rd = -1;
	if (opts->stdio_closed)
		return 0;
	if (opts->stderr_pty)
		return open_pty(err_fd, pipe_rd) != 0 ? -1 : dev_null(out_fd);
	if (opts->stderr_dgram) {
		int fds[2];
		if (socketpair(AF_UNIX, SOCK_DGRAM, 0, fds) != 0)
			return -1;
		(void)fcntl(fds[0], F_SETFD, FD_CLOEXEC);
		(void)fcntl(fds[1], F_SETFD, FD_CLOEXEC);
		*pipe_rd = fds[0];
		*err_fd = fds[1];
		return dev_null(out_fd);
	}
	if (opts->stderr_no_reader) {
		int fds[2];
		if (pipe(fds) != 0)
			return -1;
		close(fds[0]);
		(void)fcntl(fds[1], F_SETFD, FD_CLOEXEC);
		*err_fd = fds[1];
		return dev_null(out_fd);
	}
	if (opts->stderr_pipe) {
		int fds[2];
		if (pipe(fds) != 0)
			return -1;
		(void)fcntl(fds[0], F_SETFD, FD_CLOEXEC);
		(void)fcntl(fds[1], F_SETFD, FD_CLOEXEC);
		*pipe_rd = fds[0];
		*err_fd = fds[1];
		*out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	} else if (opts->log_path != NULL) {
		snprintf(p->err_path, sizeof(p->err_path), "%s",
			 opts->log_path);
		/* Emptied before the child exists, so the listening line of
		 * an earlier run is never mistaken for this one's. */
		*err_fd = open(opts->log_path,
			       O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		*out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	} else {
		*out_fd = make_temp(p->out_path, sizeof(p->out_path), "out");
		*err_fd = make_temp(p->err_path, sizeof(p->err_path), "err");
	}
	return *out_fd >= 0 && *err_fd >= 0 ? 0 : -1;
}

static void close_if_open(int fd)
{
	if (fd >= 0)
		close(fd);
}

int proc_spawn(struct proc *p, const struct proc_opts *opts,
	       const char *const *args)
{
	static const struct proc_opts defaults;
	struct started *s = free_slot();
	int out_fd, err_fd, pipe_rd;

	if (opts == NULL)
		opts = &defaults;
	memset(p, 0, sizeof(*p));
	p->err_pipe = -1;
	if (s == NULL) {
		fprintf(stderr, "test: more than %d processes at once\n",
			MAX_PROCS);
		return -1;
	}
	const char *program = opts->program ? opts->program : server_program();
	if (open_outputs(p, opts, &out_fd, &err_fd, &pipe_rd) != 0) {
		fprintf(stderr, "test: cannot open the outputs of %s: %s\n",
			program, strerror(errno));
		close_if_open(out_fd);
		close_if_open(err_fd);
		close_if_open(pipe_rd);
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "test: fork: %s\n", strerror(errno));
		close_if_open(out_fd);
		close_if_open(err_fd);
		close_if_open(pipe_rd);
		return -1;
	}
	if (pid == 0)
		exec_child(program, out_fd, err_fd, opts, args);
	close_if_open(out_fd);
	close_if_open(err_fd);

	p->pid = pid;
	p->err_pipe = pipe_rd;
	p->err_dgram = opts->stderr_dgram;
	snprintf(p->program, sizeof(p->program), "%s", program);
	memset(s, 0, sizeof(*s));
	s->in_use = true;
	s->pid = pid;
	s->temp = pipe_rd < 0 && !opts->stderr_no_reader &&
		  !opts->stdio_closed && opts->log_path == NULL;
	s->err_pipe = pipe_rd;
	snprintf(s->err_path, sizeof(s->err_path), "%s", p->err_path);
	snprintf(s->out_path, sizeof(s->out_path), "%s", p->out_path);
	return 0;
}

/* ============================== waiting ================================ */

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
		fprintf(stderr, "test: pid %ld did not die\n", (long)p->pid);
}

int proc_stop(struct proc *p)
{
	if (p->pid != 0) {
		proc_signal(p, SIGTERM);
		if (proc_wait(p, 3.0) < 0)
			proc_kill(p);
	}
	return p->status;
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

/* ============================== the listening line ===================== */

/*
 * Read p's stderr pipe one byte at a time until the listening line has
 * been read whole (not a byte more: the rest is the test's to read, or
 * not), until deadline.  Returns true if it came; counts the lines read.
 */
static bool listening_line_from_pipe(struct proc *p, double deadline)
{
	char line[512];
	size_t len = 0;

	while (now_s() < deadline) {
		struct pollfd pfd = {.fd = p->err_pipe, .events = POLLIN};
		int r = poll(&pfd, 1, ms_until(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		if (p->err_dgram) { /* a datagram is a line */
			ssize_t n =
			    recv(p->err_pipe, line, sizeof(line) - 1, 0);
			if (n <= 0)
				return false;
			line[n] = '\0';
			p->pipe_lines++;
			if (parse_listening_line(line, p->listen_addr,
						 sizeof(p->listen_addr),
						 &p->port))
				return true;
			continue;
		}
		char c;
		ssize_t n = read(p->err_pipe, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false; /* the server closed its stderr: gone */
		if (len < sizeof(line) - 2 || c == '\n')
			line[len++] = c;
		if (c != '\n')
			continue;
		line[len] = '\0';
		len = 0;
		p->pipe_lines++;
		if (parse_listening_line(line, p->listen_addr,
					 sizeof(p->listen_addr), &p->port))
			return true;
	}
	return false;
}

/* The listening line from p's stderr file, if it is there yet. */
static bool listening_line_from_file(struct proc *p)
{
	char *log = read_file_text(p->err_path, NULL);
	bool ok = parse_listening_line(log, p->listen_addr,
				       sizeof(p->listen_addr), &p->port);

	free(log);
	return ok;
}

int server_start(struct proc *p, const struct proc_opts *opts,
		 const char *const *args)
{
	double wait = opts != NULL && opts->start_timeout > 0
			  ? opts->start_timeout
			  : START_TIMEOUT * harness_scale();

	if (proc_spawn(p, opts, args) != 0)
		return -1;
	double deadline = now_s() + wait;
	if (p->err_pipe >= 0) {
		if (listening_line_from_pipe(p, deadline))
			return 0;
		fprintf(stderr,
			"test: no listening line from %s on its stderr pipe "
			"within %.1f s\n",
			p->program, wait);
		proc_kill(p);
		proc_close_pipe(p);
		return -1;
	}
	for (;;) {
		if (listening_line_from_file(p))
			return 0;
		if (!proc_alive(p)) {
			fprintf(stderr,
				"test: %s exited (status %d) before listening "
				"(its stderr: %s)\n",
				p->program, p->status, p->err_path);
			break;
		}
		if (now_s() >= deadline) {
			fprintf(stderr,
				"test: no listening line from %s within %.1f s "
				"(its stderr: %s)\n",
				p->program, wait, p->err_path);
			break;
		}
		sleep_s(POLL_INTERVAL);
	}
	harness_dump_logs();
	proc_kill(p);
	return -1;
}

/* ============================== cleaning up ============================ */

void proc_close_pipe(struct proc *p)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].in_use && procs[i].err_pipe == p->err_pipe) {
			procs[i].err_pipe = -1;
			if (procs[i].pid == 0 && !procs[i].temp)
				procs[i].in_use = false;
		}
	close_if_open(p->err_pipe);
	p->err_pipe = -1;
}

void harness_dump_logs(void)
{
	for (int i = 0; i < MAX_PROCS; i++) {
		if (!procs[i].in_use || procs[i].err_path[0] == '\0')
			continue;
		size_t len;
		char *log = read_file_text(procs[i].err_path, &len);
		fprintf(stderr, "---- server log %s (last lines):\n%s----\n",
			procs[i].err_path, last_lines(log, len, 30));
		free(log);
	}
}

void procs_kill_all(void)
{
	bool keep = getenv("ECHOSERV_KEEP_LOGS") != NULL;

	for (int i = 0; i < MAX_PROCS; i++) {
		struct started *s = &procs[i];
		if (!s->in_use)
			continue;
		if (s->pid != 0) {
			struct proc p = {.pid = s->pid};
			kill(p.pid, SIGKILL);
			(void)proc_wait(&p, 10.0);
		}
		close_if_open(s->err_pipe);
		if (s->temp && !keep) {
			unlink(s->err_path);
			unlink(s->out_path);
		} else if (s->temp) {
			fprintf(stderr, "test: kept %s\n", s->err_path);
		}
		s->in_use = false;
	}
}
