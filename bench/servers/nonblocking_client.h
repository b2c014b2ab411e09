/*
 * nonblocking_client.h - one client on a nonblocking socket, for the
 * comparison servers that wait for readiness (poll, epoll, nonblocking
 * polling, signal-driven I/O).  The same moves as echoserv's server.c:
 * one read per readiness (fairness), then an optimistic write of the
 * replies, and writes until the socket is full while WRITING.
 *
 * The loop that owns the client decides what to wait for from
 * c->session.state: READING wants readability, WRITING writability, and
 * DONE means nb_client_close().
 */
#ifndef BENCH_NONBLOCKING_CLIENT_H
#define BENCH_NONBLOCKING_CLIENT_H

#include <stdbool.h>
#include <sys/socket.h>

#include "net.h"
#include "protocol.h"

struct nb_client {
	int fd;
	struct session session;
	char peer[NET_ADDR_LEN];
};

/* Take over accepted socket fd (already nonblocking) in c, which the loop
 * allocated: TCP_NODELAY, a session, the connect log line. */
void nb_client_open(struct nb_client *c, int fd, const struct sockaddr *peer,
		    size_t max_line);

/*
 * The socket is (or may be) readable: read once, then try to send the
 * replies.  Returns false when the socket said EAGAIN, i.e. it has been
 * drained and only a new readiness event can make it worth trying again.
 */
bool nb_client_on_readable(struct nb_client *c);

/* The socket is (or may be) writable: send what is owed until done or the
 * socket is full.  Returns false when it was full (EAGAIN or a partial
 * write). */
bool nb_client_on_writable(struct nb_client *c);

/* Log the close, close the socket without destroying replies, and free
 * the session; c itself is the loop's to free. */
void nb_client_close(struct nb_client *c);

#endif
