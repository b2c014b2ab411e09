/*
 * conversation.h - one client's whole conversation as straight-line code:
 * read, hand the bytes to the session, write what it owes, until it is
 * DONE.  The thread-per-connection and process-per-connection servers run
 * it over blocking sockets, and so does the iterative server, with receive
 * and send timeouts; the coroutine server runs it over reads and writes
 * that yield to its select() loop instead of blocking.
 */
#ifndef BENCH_CONVERSATION_H
#define BENCH_CONVERSATION_H

#include <stddef.h>
#include <sys/types.h>

#include "clients.h"

/*
 * A byte stream.  read and write behave like read(2) and write(2) on a
 * blocking socket: they wait as long as it takes (EINTR is retried inside),
 * so -1 is a real error, except EAGAIN/EWOULDBLOCK: the socket's receive
 * or send timeout (SO_RCVTIMEO, SO_SNDTIMEO) expired, which ends the
 * conversation as an idle timeout.
 */
struct stream {
	int fd;
	ssize_t (*read)(struct stream *st, void *buf, size_t len);
	ssize_t (*write)(struct stream *st, const void *buf, size_t len);
};

/* read(2) and write(2) on a blocking fd, EINTR retried. */
ssize_t stream_read_blocking(struct stream *st, void *buf, size_t len);
ssize_t stream_write_blocking(struct stream *st, const void *buf, size_t len);

/*
 * Serve the client on st->fd from its connect log line to its close: the
 * whole protocol through protocol.h, then the close log line and a close
 * that keeps replies, lingering where says.  peer names the client in the
 * logs; o gives the framing (--max-line, --raw).
 */
void serve_client(struct stream *st, const char *peer, const struct options *o,
		  enum linger_where where);

#endif
