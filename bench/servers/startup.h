/*
 * startup.h - the start-up every comparison server shares with echoserv:
 * the same options, the same listening line, SIGPIPE ignored.
 *
 * The comparison servers exist to be measured against echoserv
 * (docs/protocol.md section 6), so they speak exactly its protocol through
 * protocol.h and print exactly its messages; they differ only in how they
 * wait for I/O; --raw (RFC 862) works in all of them.  They leave out
 * what a benchmark never exercises, accepting and ignoring its options:
 * the idle timeout (-t; except the iterative server, for which it is the
 * only defence), --line-timeout, --max-per-addr, --user/--group,
 * --log-time, the trace (-T) and the graceful drain on SIGTERM (they just
 * stop).
 */
#ifndef BENCH_STARTUP_H
#define BENCH_STARTUP_H

#include <stddef.h>

#include "options.h"

/*
 * Parse argv as echoserv does, with ceiling as the largest --max-clients
 * (and its default), then listen and print the listening line.  model is
 * a few words for --help ("poll() event loop").  Returns -1 when the
 * caller should serve (*o and *listen_fd set, the socket nonblocking,
 * SIGPIPE ignored), else the exit status to return at once (0 after
 * --help, 1 or 2 on failure).
 */
int server_start(int argc, char **argv, const char *model, size_t ceiling,
		 struct options *o, int *listen_fd);

/* server_start() in two halves, for a server that must check something
 * between them (io_uring: is it allowed here?): the options (-1 to go on,
 * else the exit status), then the listening socket (the same). */
int server_options(int argc, char **argv, const char *model, size_t ceiling,
		   struct options *o);
int server_listen(const struct options *o, int *listen_fd);

/* The descriptors this process may open: the soft RLIMIT_NOFILE, raised to
 * the hard limit first. */
size_t fd_limit(void);

/* fd_limit() less the own descriptors, for a server whose clients are
 * bounded by descriptors only. */
size_t fd_ceiling(size_t own_fds);

#endif
