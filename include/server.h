/*
 * server.h - the select() event loop.
 *
 * It owns the listening sockets' clients: accepts them, moves bytes between
 * their sockets and their protocol sessions, enforces the limits of
 * docs/protocol.md section 4, and shuts down gracefully when the signal
 * pipe speaks.  It knows nothing about the line format: that is
 * protocol.h's business.
 */
#ifndef ECHOSERV_SERVER_H
#define ECHOSERV_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "net.h"

/* Descriptors the server holds itself: stdin, stdout, stderr, the listening
 * socket, the two ends of the signal pipe and the reserve descriptor. */
#define SERVER_OWN_FDS 7

struct server_config {
	size_t max_clients;    /* 1 .. max_clients_ceiling() */
	size_t max_line;       /* MAX_LINE_MIN .. MAX_LINE_MAX */
	unsigned idle_timeout; /* seconds; 0 = never */
	unsigned line_timeout; /* seconds; 0 = never */
	size_t max_per_addr;   /* clients from one address; 0 = no limit */
	bool raw;              /* RFC 862 framing for every session */
};

/* The most clients select() can watch: FD_SETSIZE less our own descriptors
 * (with one listening socket; each further one takes a client's place). */
size_t max_clients_ceiling(void);

/*
 * Serve clients on the n listening sockets (nonblocking) until a byte
 * arrives on signal_fd (the read end of the self-pipe the signal handler
 * writes to).  Returns the exit status: 0 after a graceful shutdown, 1 if a
 * second signal cut the drain short or the loop itself failed.
 */
int server_run(const struct server_config *cfg,
	       const struct listener *listeners, size_t n, int signal_fd);

#endif
