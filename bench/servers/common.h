/*
 * common.h - what every comparison server shares beyond the project's own
 * modules: the same start-up as echoserv (options, listening line, SIGPIPE)
 * and the same per-client log lines.
 *
 * The comparison servers exist to be measured against echoserv (protocol.md
 * section 6), so they speak exactly its protocol through protocol.h and
 * print exactly its messages; they differ only in how they wait for I/O.
 * They leave out what a benchmark never exercises: the idle timeout (-t is
 * accepted and ignored), the trace (-T) and the graceful drain on SIGTERM
 * (they just stop).
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <sys/socket.h>

#include "options.h"
#include "protocol.h"

/*
 * Parse argv as echoserv does, then listen and print the listening line.
 * model is a few words for --help ("poll() event loop").  Returns -1 when
 * the caller should serve (*o and *listen_fd set, SIGPIPE ignored), else
 * the exit status to return at once (0 after --help, 1 or 2 on failure).
 */
int server_start(int argc, char **argv, const char *model, struct options *o,
		 int *listen_fd);

/* The descriptors this process may open: the soft RLIMIT_NOFILE, raised to
 * the hard limit first. */
size_t fd_limit(void);

/* The per-client log lines, as echoserv writes them (-q hides them). */
void log_connected(const char *peer, int fd);
void log_closed(const char *peer, int fd, const struct session *s);

/* Send "server full" (best effort), log it and close fd gracefully. */
void turn_away(int fd, const char *peer);

/* Clients accepted per call of accept_batch() at most, so a connect storm
 * cannot starve the clients already connected. */
#define ACCEPT_BATCH 64

/*
 * Accept up to ACCEPT_BATCH waiting clients on listen_fd and hand each to
 * admit(ctx, fd, addr).  Stops when no one is waiting, or on an error
 * (logged; the next round tries again).
 */
void accept_batch(int listen_fd,
		  void (*admit)(void *ctx, int fd, const struct sockaddr *addr),
		  void *ctx);

/* Make fd blocking again; 0 or -1 with errno. */
int set_blocking(int fd);

#endif
