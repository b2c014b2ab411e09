/*
 * poll.c - echoserv-poll: echoserv's event loop with poll() in place of
 * select().  The same round: build the set, wait, accept, service, reap.
 * What changes is the cost model: poll() takes an array of the watched
 * descriptors only (no FD_SETSIZE ceiling, no scan of unused fd numbers),
 * but like select() the whole array crosses into the kernel every round.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clients.h"
#include "log.h"
#include "nonblocking_client.h"
#include "startup.h"

/* stdin, stdout, stderr, the listening socket, the lingering thread's
 * pipe, the reserve descriptor (clients.c). */
#define OWN_FDS 7

struct poll_server {
	const struct options *opt;
	int listen_fd;
	struct client **conns; /* indexed by fd, fd_limit() entries */
	size_t table_size;
	struct pollfd *pfd; /* [0] the listening socket, then the clients */
	size_t nclients;
};

/* accept_batch()'s callback, ctx the server: admit the client on fd, or
 * turn it away at --max-clients. */
static void admit(void *ctx, int fd, const struct sockaddr *addr)
{
	struct poll_server *srv = ctx;

	if ((size_t)fd >= srv->table_size) {
		close(fd);
		return;
	}
	struct client *c =
	    client_admit(sizeof(*c), fd, addr, srv->nclients, srv->opt);
	if (c == NULL)
		return;
	srv->conns[fd] = c;
	srv->nclients++;
}

/* The pollfd array from the connection table: READING clients wait for
 * input, WRITING ones for room.  Returns the number of entries. */
static nfds_t build_pollfds(struct poll_server *srv)
{
	nfds_t n = 1;

	srv->pfd[0].fd = srv->listen_fd;
	srv->pfd[0].events = POLLIN;
	for (size_t fd = 0, seen = 0; seen < srv->nclients; fd++) {
		const struct client *c = srv->conns[fd];
		if (c == NULL)
			continue;
		seen++;
		srv->pfd[n].fd = (int)fd;
		srv->pfd[n].events =
		    c->session.state == SESSION_WRITING ? POLLOUT : POLLIN;
		n++;
	}
	return n;
}

/* One read or write per ready client; close those that are DONE. */
static void service_clients(struct poll_server *srv, nfds_t n)
{
	for (nfds_t i = 1; i < n; i++) {
		short ev = srv->pfd[i].revents;
		struct client *c = srv->conns[srv->pfd[i].fd];
		if (ev == 0)
			continue;
		if (c->session.state == SESSION_READING)
			(void)nb_on_readable(c);
		else if (c->session.state == SESSION_WRITING)
			(void)nb_on_writable(c);
		if (c->session.state == SESSION_DONE) {
			srv->conns[c->fd] = NULL;
			srv->nclients--;
			client_end(c, LINGER_IN_BACKGROUND);
		}
	}
}

int main(int argc, char **argv)
{
	static struct poll_server srv;
	struct options opt;

	int rc = server_start(argc, argv, "poll() event loop",
			      fd_ceiling(OWN_FDS), &opt, &srv.listen_fd);
	if (rc >= 0)
		return rc;
	srv.opt = &opt;
	srv.table_size = fd_limit();
	srv.conns = calloc(srv.table_size, sizeof(*srv.conns));
	srv.pfd = calloc(srv.table_size + 1, sizeof(*srv.pfd));
	if (srv.conns == NULL || srv.pfd == NULL) {
		log_server("out of memory");
		return 1;
	}
	for (;;) {
		nfds_t n = build_pollfds(&srv);
		if (poll(srv.pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_server("poll: %s", strerror(errno));
			return 1;
		}
		if (srv.pfd[0].revents != 0)
			accept_batch(srv.listen_fd, admit, &srv);
		service_clients(&srv, n);
	}
}
