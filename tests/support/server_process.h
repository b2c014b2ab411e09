/*
 * server_process.h - the server under test as a helper process.
 *
 * A test starts the server the way libuv's test runner starts its echo
 * server: fork/exec of a program by path (by default $ECHOSERV_BIN, else
 * build/echoserv; any other program, a comparison server or valgrind, by
 * proc_opts.program), on port 0, then reads the real port from its
 * "echoserv: listening on ADDR:PORT" line.
 *
 * Rules kept here, so tests can rely on them:
 *
 *  - Every wait is bounded: functions that wait take a timeout in seconds
 *    and poll their condition (waitpid(WNOHANG), the log file) until it
 *    holds or the time is up.
 *  - The server's stderr goes to a file, never to a pipe nobody reads, so
 *    it cannot block on one -- unless a test asks for exactly that
 *    (proc_opts.stderr_pipe).
 *  - Every process started is remembered.  procs_kill_all() kills
 *    (SIGKILL, by PID) whatever is still running, reaps it and removes its
 *    temporary files; it touches no process it did not start.
 *  - The child gets exactly the descriptors a shell would give it: stdin
 *    on /dev/null, stdout and stderr redirected, everything above closed,
 *    SIGPIPE, SIGINT and SIGTERM at their defaults.
 */
#ifndef TEST_SUPPORT_SERVER_PROCESS_H
#define TEST_SUPPORT_SERVER_PROCESS_H

#include <stdbool.h>
#include <sys/types.h>

#define HARNESS_PATH_MAX 256
#define HARNESS_ARGS_MAX 32

/* One process started by the test (normally the server). */
struct proc {
	pid_t pid;  /* 0 once reaped */
	int status; /* shell-style exit status once reaped, see proc_wait */
	int port;   /* from the listening line; 0 if not (yet) known */
	char program[HARNESS_PATH_MAX]; /* what was started */
	char listen_addr[80]; /* "ADDR:PORT" from the listening line */
	char err_path[HARNESS_PATH_MAX]; /* its stderr ("" with a pipe) */
	char out_path[HARNESS_PATH_MAX]; /* its stdout ("" for /dev/null) */
	int err_pipe;   /* read end of its stderr pipe (pty, socket), or -1 */
	bool err_dgram; /* err_pipe is a datagram socket: a line a read */
	int pipe_lines; /* lines server_start read from err_pipe */
};

/* How to start a process; a NULL or zeroed one means the defaults. */
struct proc_opts {
	unsigned long nofile; /* RLIMIT_NOFILE (soft = hard) if > 0 */
	/* The program: a path, or a name looked up in PATH (valgrind).
	 * NULL: $ECHOSERV_BIN, else build/echoserv. */
	const char *program;
	/* Run it through this script of tests/support/wrappers/ (e.g.
	 * "with-hosts.sh"), which execs it in the same process: the script
	 * gets the program in WRAP_PROGRAM and its other settings from the
	 * WRAP_* variables the test sets.  NULL: no wrapper. */
	const char *wrapper;
	/* stderr to this file (emptied first), stdout to /dev/null.  NULL:
	 * both to fresh temporary files, removed by procs_kill_all(). */
	const char *log_path;
	/* stderr to a pipe whose read end the test holds (p->err_pipe). */
	bool stderr_pipe;
	/* Or, held the same way in p->err_pipe: a pseudo-terminal (the test
	 * holds the master; output is not post-processed, so lines end in
	 * LF), or a Unix datagram socket (one line per datagram). */
	bool stderr_pty;
	bool stderr_dgram;
	/* stderr a pipe whose reader is gone before the program starts. */
	bool stderr_no_reader;
	/* Start with descriptors 0, 1 and 2 closed, as a careless daemon
	 * launcher might; no listening line can be read then. */
	bool stdio_closed;
	/* How long server_start waits for the listening line; 0: 5 s,
	 * scaled by harness_scale(). */
	double start_timeout;
};

/* The program proc_spawn runs when opts->program is NULL. */
const char *server_program(void);

/*
 * Start the program with args (a NULL-terminated list, the program name
 * not included).  opts may be NULL.  Returns 0, or -1 if the set-up
 * failed (message on stderr).  Does not wait for anything.
 */
int proc_spawn(struct proc *p, const struct proc_opts *opts,
	       const char *const *args);

/*
 * proc_spawn, then wait for the listening line and fill p->port and
 * p->listen_addr.  Returns 0, or -1 if the line did not come in time or
 * the process exited first (it is then killed and its log printed).
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

/* Is p still running (not exited)?  Reaps it if it has exited. */
bool proc_alive(struct proc *p);

/* Kill p with SIGKILL if it is still running, and reap it. */
void proc_kill(struct proc *p);

/* Stop p for good: SIGTERM, SIGKILL if it is still there after 3 s.
 * Returns its status as proc_wait.  Safe to call more than once. */
int proc_stop(struct proc *p);

/*
 * Run to completion: spawn, wait up to timeout seconds, kill on timeout.
 * Returns the status as proc_wait, or -1 on timeout.
 */
int proc_run(struct proc *p, const struct proc_opts *opts,
	     const char *const *args, double timeout);

/* Close p's stderr pipe (the test is done reading it, or wants the
 * server's writes to it to fail). */
void proc_close_pipe(struct proc *p);

/* Print the last lines of every remembered process's stderr file. */
void harness_dump_logs(void);

/* Kill and reap every process still running, close the pipes and remove
 * the temporary files (kept, and named, if ECHOSERV_KEEP_LOGS is set). */
void procs_kill_all(void);

#endif
