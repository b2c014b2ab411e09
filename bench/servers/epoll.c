/*
 * epoll.c - echoserv-epoll: the same connections driven by Linux epoll, as
 * tight as it goes.  The kernel keeps the interest list, so a round costs
 * epoll_wait() plus the work of the ready clients only, however many idle
 * ones there are.  Level-triggered: a client is read once per wakeup
 * (fairness, as in echoserv) and the rest waits for the next.  Writability
 * is watched only while replies are pending, so a READING client never
 * costs an epoll_ctl().
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "clients.h"
#include "log.h"
#include "nonblocking_client.h"
#include "startup.h"

/* stdin, stdout, stderr, the listening socket, the epoll descriptor, the
 * lingering thread's pipe, the reserve descriptor (clients.c). */
#define OWN_FDS    8
#define MAX_EVENTS 256

struct epoll_conn {
	struct client c;   /* first: client_end() frees the whole */
	bool watching_out; /* EPOLLOUT is in its interest set */
};

struct epoll_server {
	const struct options *opt;
	int listen_fd;
	int epfd;
	size_t nclients;
};

/* Out of the epoll set first: the socket may linger open in the lingering
 * thread (linger.h), and its events must not come back to a freed c. */
static void conn_close(struct epoll_server *srv, struct epoll_conn *c)
{
	(void)epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->c.fd, NULL);
	client_end(&c->c, LINGER_IN_BACKGROUND);
}

/* accept_batch()'s callback, ctx the server: admit the client on fd, or
 * turn it away at --max-clients. */
static void admit(void *ctx, int fd, const struct sockaddr *addr)
{
	struct epoll_server *srv = ctx;

	struct epoll_conn *c =
	    client_admit(sizeof(*c), fd, addr, srv->nclients, srv->opt);
	if (c == NULL)
		return;
	c->watching_out = false;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		log_server("epoll_ctl: %s", strerror(errno));
		conn_close(srv, c);
		return;
	}
	srv->nclients++;
}

/* After servicing c: close it if DONE, else watch for what it waits for. */
static void settle(struct epoll_server *srv, struct epoll_conn *c)
{
	bool want_out = c->c.session.state == SESSION_WRITING;

	if (c->c.session.state == SESSION_DONE) {
		srv->nclients--;
		conn_close(srv, c);
		return;
	}
	if (want_out == c->watching_out)
		return;
	struct epoll_event ev = {.events = want_out ? EPOLLOUT : EPOLLIN,
				 .data.ptr = c};
	if (epoll_ctl(srv->epfd, EPOLL_CTL_MOD, c->c.fd, &ev) != 0) {
		session_abort(&c->c.session, CLOSE_RESET);
		srv->nclients--;
		conn_close(srv, c);
		return;
	}
	c->watching_out = want_out;
}

static void on_event(struct epoll_server *srv, struct epoll_conn *c)
{
	if (c->c.session.state == SESSION_READING)
		(void)nb_on_readable(&c->c);
	else if (c->c.session.state == SESSION_WRITING)
		(void)nb_on_writable(&c->c);
	settle(srv, c);
}

int main(int argc, char **argv)
{
	struct epoll_server srv = {0};
	struct options opt;
	struct epoll_event events[MAX_EVENTS];

	int rc = server_start(argc, argv, "Linux epoll event loop",
			      fd_ceiling(OWN_FDS), &opt, &srv.listen_fd);
	if (rc >= 0)
		return rc;
	srv.opt = &opt;
	srv.epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
	if (srv.epfd < 0 ||
	    epoll_ctl(srv.epfd, EPOLL_CTL_ADD, srv.listen_fd, &lev) != 0) {
		log_server("epoll: %s", strerror(errno));
		return 1;
	}
	for (;;) {
		int n = epoll_wait(srv.epfd, events, MAX_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_server("epoll_wait: %s", strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			if (events[i].data.ptr == NULL)
				accept_batch(srv.listen_fd, admit, &srv);
			else
				on_event(&srv, events[i].data.ptr);
		}
	}
}
