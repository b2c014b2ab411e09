/*
 * nonblocking_client.c - a client on a nonblocking socket (see
 * nonblocking_client.h).
 */
#include "nonblocking_client.h"

#include <errno.h>
#include <unistd.h>

#include "clients.h"
#include "log.h"

void nb_client_open(struct nb_client *c, int fd, const struct sockaddr *peer,
		    size_t max_line)
{
	c->fd = fd;
	net_format_addr(peer, c->peer, sizeof(c->peer));
	(void)net_set_nodelay(fd); /* not fatal: replies just leave later */
	session_init(&c->session, max_line);
	log_connected(c->peer, fd);
}

bool nb_client_on_writable(struct nb_client *c)
{
	while (c->session.state == WRITING) {
		size_t len;
		const char *out = session_output(&c->session, &len);
		ssize_t n = write(c->fd, out, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return false;
			session_abort(&c->session, CLOSE_RESET);
			return true;
		}
		session_on_output(&c->session, (size_t)n);
		if ((size_t)n < len)
			return false; /* the socket buffer is full */
	}
	return true;
}

bool nb_client_on_readable(struct nb_client *c)
{
	size_t room;
	char *space = session_input_space(&c->session, &room);

	if (space == NULL) {
		log_server("client %s: out of memory", c->peer);
		session_abort(&c->session, CLOSE_NO_MEMORY);
		return true;
	}
	ssize_t n = read(c->fd, space, room);
	if (n > 0)
		session_on_input(&c->session, (size_t)n);
	else if (n == 0)
		session_on_eof(&c->session);
	else if (errno == EAGAIN || errno == EWOULDBLOCK)
		return false;
	else if (errno == EINTR)
		return true;
	else
		session_abort(&c->session, CLOSE_RESET);
	if (c->session.state == WRITING)
		(void)nb_client_on_writable(c);
	return true;
}

void nb_client_close(struct nb_client *c)
{
	client_close(c->fd, c->peer, &c->session, LINGER_IN_BACKGROUND);
	session_free(&c->session);
}
