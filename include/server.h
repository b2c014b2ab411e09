/*
 * server.h - the select() event loop.
 *
 * It waits, with select(), for what the connection core (conn.h) says each
 * connection waits for, and hands the core what is ready: the core does
 * the rest (admission, the reads and writes, deadlines, closing, the
 * drain).  It knows nothing about the line format, which is protocol.h's
 * business, nor about policy, which is conn.h's.
 */
#ifndef ECHOSERV_SERVER_H
#define ECHOSERV_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"
#include "net.h"
#include "startup.h"

/* Descriptors the server holds itself: stdin, stdout, stderr, the listening
 * socket, the two ends of the signal pipe and the reserve descriptor. */
#define SERVER_OWN_FDS 7

/* The most clients select() can watch: FD_SETSIZE less our own descriptors
 * (with one listening socket; each further one takes a client's place). */
size_t max_clients_ceiling(void);

/*
 * Serve the clients of st's listening sockets (and the datagrams of its
 * UDP sockets) until the signal pipe says stop.  Returns the exit status:
 * 0 after a graceful shutdown, 1 if a second signal cut the drain short or
 * the loop itself failed.
 */
int server_run(struct startup *st);

#endif
