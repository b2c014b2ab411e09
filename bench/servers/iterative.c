/*
 * iterative.c - echoserv-iterative: the lecture's opening loop, one client
 * at a time over blocking sockets.
 *
 *     for (;;) {
 *         fd = accept(listen_fd);    sleeps until a client comes
 *         converse(fd);              sleeps in read() and write() until
 *         close(fd);                 that client leaves
 *     }
 *
 * Nothing else runs while a client talks: the next one's connect()
 * succeeds (the kernel completes the handshake and holds it in the listen
 * queue) but its lines wait unanswered until the first client leaves.
 * --idle-timeout becomes the socket's receive and send timeout
 * (SO_RCVTIMEO, SO_SNDTIMEO), so a client that goes silent, or stops
 * reading, is closed after that long: the only defence one slow client
 * leaves the others.  --max-clients has nothing to limit; a client is
 * never turned away, it waits.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "clients.h"
#include "conversation.h"
#include "log.h"
#include "net.h"
#include "startup.h"

/* stdin, stdout, stderr, the listening socket, the reserve descriptor
 * (clients.c). */
#define OWN_FDS 5

/* The idle timeout as both socket timeouts; 0 (never) leaves them off. */
static int set_timeouts(int fd, unsigned seconds)
{
	struct timeval tv = {.tv_sec = (time_t)seconds, .tv_usec = 0};

	if (seconds == 0)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct options opt;
	int listen_fd;

	int rc = server_start(argc, argv, "iterative, one client at a time",
			      fd_ceiling(OWN_FDS), &opt, &listen_fd);
	if (rc >= 0)
		return rc;
	if (set_blocking(listen_fd) != 0) {
		log_server("cannot make the listening socket blocking: %s",
			   strerror(errno));
		return 1;
	}
	for (;;) {
		struct sockaddr_storage addr;
		char peer[NET_ADDR_LEN];
		int fd = accept_blocking(listen_fd, &addr);
		struct stream st = {fd, stream_read_blocking,
				    stream_write_blocking};

		net_format_addr((struct sockaddr *)&addr, peer, sizeof(peer));
		if (set_timeouts(fd, opt.idle_timeout) != 0) {
			log_server("client %s: cannot set its timeouts: %s",
				   peer, strerror(errno));
			close(fd);
			continue;
		}
		serve_client(&st, peer, &opt, LINGER_IN_PLACE);
	}
}
