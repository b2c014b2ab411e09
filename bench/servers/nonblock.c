/*
 * nonblock.c - echoserv-nonblock: nonblocking sockets and no waiting at
 * all, the "process calls recvfrom repeatedly" model.
 *
 *     for (;;) {
 *         accept(listen_fd)             EAGAIN unless someone is waiting
 *         for each client:
 *             read() if READING         EAGAIN unless it sent something
 *             write() if WRITING        EAGAIN unless there is room
 *     }
 *
 * Every call returns at once, so one thread serves every client and no
 * slow client blocks another: the answer to the iterative server's
 * problem.  The price is that the loop never sleeps.  With nothing to do
 * it still asks every socket, as fast as the core allows, and keeps
 * that core at 100 % (watch it in top): the lesson this server exists
 * to show, and what select(), poll() and epoll() were made to fix.
 */
#include <stdlib.h>

#include "clients.h"
#include "log.h"
#include "nonblocking_client.h"
#include "startup.h"

/* stdin, stdout, stderr, the listening socket, the lingering thread's
 * pipe, the reserve descriptor (clients.c). */
#define OWN_FDS 7

struct nonblock_server {
	const struct options *opt;
	struct client **clients; /* [0, nclients), in no order */
	size_t nclients;
};

/* accept_batch()'s callback, ctx the server: admit the client on fd, or
 * turn it away at --max-clients. */
static void admit(void *ctx, int fd, const struct sockaddr *addr)
{
	struct nonblock_server *srv = ctx;
	struct client *c =
	    client_admit(sizeof(*c), fd, addr, srv->nclients, srv->opt);

	if (c != NULL)
		srv->clients[srv->nclients++] = c;
}

/* One try at every client: a read if it is READING, writes if WRITING;
 * the DONE ones are closed (the last client takes the slot). */
static void try_every_client(struct nonblock_server *srv)
{
	for (size_t i = 0; i < srv->nclients;) {
		struct client *c = srv->clients[i];
		if (c->session.state == SESSION_READING)
			(void)nb_on_readable(c);
		else if (c->session.state == SESSION_WRITING)
			(void)nb_on_writable(c);
		if (c->session.state != SESSION_DONE) {
			i++;
			continue;
		}
		client_end(c, LINGER_IN_BACKGROUND);
		srv->clients[i] = srv->clients[--srv->nclients];
	}
}

int main(int argc, char **argv)
{
	struct nonblock_server srv = {0};
	struct options opt;
	int listen_fd;

	int rc = server_start(argc, argv, "nonblocking polling, no waiting",
			      fd_ceiling(OWN_FDS), &opt, &listen_fd);
	if (rc >= 0)
		return rc;
	srv.opt = &opt;
	srv.clients = calloc(opt.max_clients, sizeof(*srv.clients));
	if (srv.clients == NULL) {
		log_server("out of memory");
		return 1;
	}
	for (;;) {
		(void)accept_batch(listen_fd, admit, &srv);
		try_every_client(&srv);
	}
}
