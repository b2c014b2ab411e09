/*
 * conversation.c - a client's conversation as straight-line code (see
 * conversation.h).  All protocol decisions are protocol.c's; this file only
 * moves bytes between the stream and the session.
 */
#include "conversation.h"

#include <errno.h>
#include <stdbool.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "protocol.h"

ssize_t stream_read_blocking(struct stream *st, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(st->fd, buf, len);
		if (n >= 0 || errno != EINTR)
			return n;
	}
}

ssize_t stream_write_blocking(struct stream *st, const void *buf, size_t len)
{
	for (;;) {
		ssize_t n = write(st->fd, buf, len);
		if (n >= 0 || errno != EINTR)
			return n;
	}
}

/* A read or write failed with errno: was it the socket's timeout? */
static bool timed_out(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK;
}

/* Send everything the session owes; 0, or -1 if the client is gone (or
 * stopped reading for longer than the send timeout). */
static int send_owed(struct stream *st, struct session *s)
{
	while (s->state == SESSION_WRITING) {
		size_t len;
		const char *out = session_output(s, &len);
		ssize_t n = st->write(st, out, len);
		if (n < 0) {
			session_abort(s, timed_out() ? CLOSE_TIMEOUT
						     : CLOSE_RESET);
			return -1;
		}
		session_on_output(s, (size_t)n);
	}
	return 0;
}

/* Read, frame, reply, until the session is DONE. */
static void converse(struct stream *st, struct session *s, const char *peer)
{
	while (s->state != SESSION_DONE) {
		size_t room;
		char *space = session_input_space(s, &room);
		if (space == NULL) {
			log_server("client %s: out of memory", peer);
			session_abort(s, CLOSE_NO_MEMORY);
			return;
		}
		ssize_t n = st->read(st, space, room);
		if (n > 0)
			session_on_input(s, (size_t)n);
		else if (n == 0)
			session_on_eof(s);
		else if (timed_out())
			session_finish(s, CLOSE_TIMEOUT); /* "idle timeout" */
		else
			session_abort(s, CLOSE_RESET);
		if (send_owed(st, s) != 0)
			return;
	}
}

void serve_client(struct stream *st, const char *peer, const struct options *o,
		  enum linger_where where)
{
	struct session s;

	(void)net_set_nodelay(st->fd); /* not fatal: replies just leave later */
	client_session_init(&s, o);
	log_connected(peer, st->fd);
	converse(st, &s, peer);
	client_close(st->fd, peer, &s, where);
	session_free(&s);
}
