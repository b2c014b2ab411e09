/*
 * nbconn.c - a client on a nonblocking socket (see nbconn.h).
 */
#include "nbconn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"
#include "log.h"

void nb_conn_open(struct nb_conn *c, int fd, const struct sockaddr *peer,
		  size_t max_line)
{
	c->fd = fd;
	net_format_addr(peer, c->peer, sizeof(c->peer));
	(void)net_set_nodelay(fd); /* not fatal: replies just leave later */
	session_init(&c->session, max_line);
	log_connected(c->peer, fd);
}

void nb_on_writable(struct nb_conn *c)
{
	while (c->session.state == WRITING) {
		size_t len;
		const char *out = session_output(&c->session, &len);
		ssize_t n = write(c->fd, out, len);

		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				session_abort(&c->session, CLOSE_RESET);
			return;
		}
		session_on_output(&c->session, (size_t)n);
		if ((size_t)n < len)
			return; /* the socket buffer is full */
	}
}

void nb_on_readable(struct nb_conn *c)
{
	size_t room;
	char *space = session_input_space(&c->session, &room);

	if (space == NULL) {
		log_server("client %s: out of memory", c->peer);
		session_abort(&c->session, CLOSE_NO_MEMORY);
		return;
	}
	ssize_t n = read(c->fd, space, room);
	if (n > 0)
		session_on_input(&c->session, (size_t)n);
	else if (n == 0)
		session_on_eof(&c->session);
	else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return;
	else
		session_abort(&c->session, CLOSE_RESET);
	if (c->session.state == WRITING)
		nb_on_writable(c);
}

void nb_conn_close(struct nb_conn *c)
{
	log_closed(c->peer, c->fd, &c->session);
	if (c->session.reason == CLOSE_RESET)
		close(c->fd); /* the peer is gone: nothing left to protect */
	else
		net_close_gracefully(c->fd);
	session_free(&c->session);
}
