/*
 * nbconn.h - one client on a nonblocking socket, for the event-loop
 * comparison servers (poll, epoll).  The same moves as echoserv's
 * server.c: one read per readiness (fairness), then an optimistic write of
 * the replies, and writes until the socket is full while WRITING.
 *
 * The loop that owns the connection decides what to wait for from
 * c->session.state: READING wants readability, WRITING writability, and
 * DONE means nb_conn_close().
 */
#ifndef BENCH_NBCONN_H
#define BENCH_NBCONN_H

#include <sys/socket.h>

#include "net.h"
#include "protocol.h"

struct nb_conn {
	int fd;
	struct session session;
	char peer[NET_ADDR_LEN];
};

/* Take over accepted socket fd (already nonblocking) in c, which the loop
 * allocated: TCP_NODELAY, a session, the connect log line. */
void nb_conn_open(struct nb_conn *c, int fd, const struct sockaddr *peer,
		  size_t max_line);

/* The socket is readable: read once, then try to send the replies. */
void nb_on_readable(struct nb_conn *c);

/* The socket is writable: send what is owed until done or it is full. */
void nb_on_writable(struct nb_conn *c);

/* Log the close, close the socket without destroying replies, and free
 * the session; c itself is the loop's to free. */
void nb_conn_close(struct nb_conn *c);

#endif
