/*
 * startup.h - how every server of the project starts: echoserv and each
 * comparison server parse the same options, take the same listening
 * sockets (systemd's, or bound as -b and the port say), drop privileges,
 * route the same signals and print the same lines, so they differ only in
 * their event loop.
 */
#ifndef ECHOSERV_STARTUP_H
#define ECHOSERV_STARTUP_H

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"
#include "net.h"
#include "options.h"

/* What a server tells the start-up about itself. */
struct startup_model {
	/* A few words for --help and --version ("poll() event loop"); NULL
	 * for echoserv itself. */
	const char *name;
	/* The call it waits in, for --facts ("poll", "epoll_wait"); NULL:
	 * "select". */
	const char *waits_with;
	/* The most clients it can serve: --max-clients' default and limit. */
	size_t ceiling;
	/* Descriptors must be below this (FD_SETSIZE for select()); 0: no
	 * bound. */
	size_t fd_bound;
	/* It serves one client at a time (the iterative design). */
	bool one_client;

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
	/* --udp: a datagram socket beside each listening socket (or those
	 * systemd passed); nonblocking. */
	struct listener udp[NET_MAX_LISTENERS];
	size_t nudp;
	int signal_fd;   /* the self-pipe's read end (signals.h) */
	int also_routed; /* the model's extra signal for the pipe, or 0 */
	/* --workers: the sockets were bound with SO_REUSEPORT, so each worker
	 * may have its own on the same port (else they share these). */
	bool ports_shared;
	/* In a worker: where to send its totals when it ends; else -1. */
	int totals_fd;
	/* --workers: the loop watches handoff_fd for clients a full worker
	 * hands over (workers_receive()); set takes_handoffs before
	 * startup_serve() if it does.  handoff_fd is -1 otherwise. */
	bool takes_handoffs;
	int handoff_fd;
	struct proxy_from proxy_from; /* --proxy-from's peers */
	struct conn_config cfg;
};

/* The descriptors this process may open: the soft RLIMIT_NOFILE, raised
 * to the hard limit first (at most 1,048,576).  For a loop whose table is
 * bounded by descriptors only (poll, epoll, ...): its table_size, and,
 * less its own descriptors, its ceiling. */
size_t startup_fd_limit(void);

/*
 * Start as docs/protocol.md sections 2 and 7 say: standard descriptors
 * held, SIGPIPE ignored, options parsed (--help and --version answered),
 * the log set up, the listening sockets taken, privileges dropped, signals
 * routed, and the listening lines printed.  Returns -1 when the caller
 * should serve (*st filled), else the exit status to return at once (0
 * after --help or --version, 2 for bad usage, 1 for a start-up failure,
 * each already reported).
 *
 * `PROGRAM --facts` (alone) prints what the benchmark kit's scripts need
 * to know, one key=value a line, and exits 0: name, model, waits-with,
 * ceiling, clients (one or many), protocol (echoserv: all of section 3)
 * and options (echoserv: all of its command line).
 */
int startup(int argc, char **argv, const struct startup_model *model,
	    struct startup *st);

/* Route SIGINT, SIGTERM and SIGUSR1 (and also_routed, if not 0: SIGCHLD
 * for the parent of --workers or of fork's children) to a new self-pipe;
 * ignore SIGUSR2 and SIGALRM.  Returns the pipe's read end, or -1 with
 * errno. */
int startup_signals(int also_routed);

/* Serve st: with --workers, through the supervisor of workers.h, else at
 * once; serve is the server's event loop. */
int startup_serve(struct startup *st, int (*serve)(struct startup *));

#endif
