/*
 * startup.h - how every server of the project starts: echoserv and each
 * comparison server parse the same options, take the same listening
 * sockets (systemd's, or bound as -b and the port say), drop privileges,
 * route the same signals and print the same lines, so they differ only in
 * their event loop.
 */
#ifndef ECHOSERV_STARTUP_H
#define ECHOSERV_STARTUP_H

#include <stddef.h>

#include "conn.h"
#include "net.h"
#include "options.h"

/* What a server tells the start-up about itself. */
struct startup_model {
	/* A few words for --help and --version ("poll() event loop"); NULL
	 * for echoserv itself. */
	const char *name;
	/* The most clients it can serve: --max-clients' default and limit. */
	size_t ceiling;
	/* Descriptors must be below this (FD_SETSIZE for select()); 0: no
	 * bound. */
	size_t fd_bound;
	/* If not NULL, called once the options are read and before anything
	 * listens, for a server that must check it can run here (io_uring
	 * may be refused): 0 to go on, else the exit status, the reason
	 * already logged. */
	int (*can_run)(void *ctx);
	void *ctx;
	/* One more signal for the self-pipe (fork.c: SIGCHLD), or 0. */
	int also_routed;
};

/* What the start-up hands the loop. */
struct startup {
	struct options opt;
	struct listener listeners[NET_MAX_LISTENERS]; /* nonblocking */
	size_t nlisteners;
	int signal_fd; /* the self-pipe's read end (signals.h) */
	struct conn_config cfg;
};

/*
 * Start as docs/protocol.md sections 2 and 7 say: standard descriptors
 * held, SIGPIPE ignored, options parsed (--help and --version answered),
 * the log set up, the listening sockets taken, privileges dropped, signals
 * routed, and the listening lines printed.  Returns -1 when the caller
 * should serve (*st filled), else the exit status to return at once (0
 * after --help or --version, 2 for bad usage, 1 for a start-up failure,
 * each already reported).
 */
int startup(int argc, char **argv, const struct startup_model *model,
	    struct startup *st);

/* For a server whose clients are bounded by descriptors alone (every one
 * but select()'s): the descriptors it may hold, the soft RLIMIT_NOFILE
 * raised to the hard limit first (at most 2^20).  Call it before
 * startup(), to give the model its ceiling. */
size_t startup_fd_limit(void);

#endif
