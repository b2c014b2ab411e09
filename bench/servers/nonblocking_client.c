/*
 * nonblocking_client.c - a client on a nonblocking socket (see
 * nonblocking_client.h).
 */
#include "nonblocking_client.h"

#include <errno.h>
#include <unistd.h>

#include "log.h"

bool nb_on_writable(struct client *c)
{
	while (c->session.state == SESSION_WRITING) {
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

bool nb_on_readable(struct client *c)
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
	if (c->session.state == SESSION_WRITING)
		(void)nb_on_writable(c);
	return true;
}
