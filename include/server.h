/*
 * server.h - the select() event loop.
 *
 * It owns the listening socket's clients: accepts them, moves bytes between
 * their sockets and their protocol sessions, enforces the limits of SPEC
 * section 4, and shuts down gracefully when the signal pipe speaks.  It knows
 * nothing about the line format: that is protocol.h's business.
 */
#ifndef ECHOSERV_SERVER_H
#define ECHOSERV_SERVER_H

#include <stddef.h>

/* Descriptors the server holds itself: stdin, stdout, stderr, the listening
 * socket, the two ends of the signal pipe and the reserve descriptor. */
#define SERVER_OWN_FDS 7

struct server_config {
	size_t max_clients;    /* 1 .. max_clients_ceiling() */
	size_t max_line;       /* MAX_LINE_MIN .. MAX_LINE_MAX */
	unsigned idle_timeout; /* seconds; 0 = never */
};

/* The most clients select() can watch: FD_SETSIZE less our own descriptors. */
size_t max_clients_ceiling(void);

/*
 * Serve clients on listen_fd (nonblocking, listening) until a byte arrives
 * on signal_fd (the read end of the self-pipe the signal handler writes to).
 * Returns the exit status: 0 after a graceful shutdown, 1 if a second signal
 * cut the drain short or the loop itself failed.
 */
int server_run(const struct server_config *cfg, int listen_fd, int signal_fd);

#endif
