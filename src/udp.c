/*
 * udp.c - the UDP echo and its loop guards (see udp.h).
 */
#include "udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "net.h"

/* A source we never answer (udp.h says why); the reason, or NULL. */
static const char *guarded_source(const struct sockaddr_storage *from,
				  unsigned own_port)
{
	unsigned port = 0;

	if (from->ss_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)from)->sin_port);
	else if (from->ss_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)from)->sin6_port);
	else
		return "no source port";
	switch (port) {
	case 0:
		return "source port 0";
	case 7:
	case 13:
	case 17:
	case 19:
	case 37:
		return "a small service's port";
	default:
		return port == own_port ? "our own port" : NULL;
	}
}

/* Send one datagram back to from; counts what became of it. */
static void echo_one(int fd, unsigned port, const char *buf, size_t len,
		     const struct sockaddr_storage *from, socklen_t fromlen,
		     struct udp_stats *st)
{
	char peer[NET_ADDR_LEN];
	const char *guard = guarded_source(from, port);

	if (trace_on)
		net_format_addr((const struct sockaddr *)from, peer,
				sizeof(peer));
	if (guard != NULL) {
		st->dropped_guard++;
		TRACE("fd %d: datagram of %zu bytes from %s dropped (%s)", fd,
		      len, peer, guard);
		return;
	}
	ssize_t n =
	    sendto(fd, buf, len, 0, (const struct sockaddr *)from, fromlen);
	if (n == (ssize_t)len) {
		st->echoed++;
		st->bytes += len;
		TRACE("fd %d: datagram of %zu bytes from %s echoed", fd, len,
		      peer);
	} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
			     errno == ENOBUFS)) {
		st->dropped_busy++;
		TRACE("fd %d: datagram of %zu bytes from %s dropped (socket "
		      "full)",
		      fd, len, peer);
	} else {
		st->dropped_other++;
		TRACE("fd %d: datagram of %zu bytes from %s dropped (%s)", fd,
		      len, peer, n < 0 ? strerror(errno) : "sent in part");
	}
}

bool udp_echo_ready(int fd, unsigned port, struct udp_stats *st)
{
	static char buf[UDP_MAX_DATAGRAM + 1]; /* + 1: tells a bigger one */

	for (int i = 0; i < UDP_BATCH; i++) {
		struct sockaddr_storage from = {0};
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0,
				     (struct sockaddr *)&from, &fromlen);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNREFUSED)
				log_server("udp: recvfrom: %s",
					   strerror(errno));
			return false; /* nothing more waiting, for now */
		}
		if ((size_t)n > UDP_MAX_DATAGRAM) {
			st->dropped_other++; /* only IPv6 can carry one */
			TRACE("fd %d: datagram over %d bytes dropped", fd,
			      UDP_MAX_DATAGRAM);
			continue;
		}
		echo_one(fd, port, buf, (size_t)n, &from, fromlen, st);
	}
	return true;
}

void udp_log_summary(const struct udp_stats *st)
{
	log_server("udp: echoed %llu datagram%s, %llu bytes; dropped %llu "
		   "(%llu from guarded ports, %llu with the socket full, "
		   "%llu other)",
		   (unsigned long long)st->echoed, st->echoed == 1 ? "" : "s",
		   (unsigned long long)st->bytes,
		   (unsigned long long)(st->dropped_guard + st->dropped_busy +
					st->dropped_other),
		   (unsigned long long)st->dropped_guard,
		   (unsigned long long)st->dropped_busy,
		   (unsigned long long)st->dropped_other);
}
