/*
 * net.c - socket helpers (see net.h).
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ============================== addresses ============================== */

void net_format_addr(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host,
			 (unsigned)ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;
		unsigned port = ntohs(in6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			/* An IPv4 client of a dual-stack socket: show it as
			 * IPv4. */
			inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host,
				  sizeof(host));
			snprintf(buf, len, "%s:%u", host, port);
		} else {
			inet_ntop(AF_INET6, &in6->sin6_addr, host,
				  sizeof(host));
			snprintf(buf, len, "[%s]:%u", host, port);
		}
	} else {
		snprintf(buf, len, "(unknown address family %d)",
			 (int)sa->sa_family);
	}
}

/* "host:port" for messages about an address we could not use. */
static void format_wanted(const char *host, unsigned port, char *buf,
			  size_t len)
{
	if (strchr(host, ':') != NULL)
		snprintf(buf, len, "[%s]:%u", host, port);
	else
		snprintf(buf, len, "%s:%u", host, port);
}

/* ============================== listening ============================== */

static bool is_unspecified_v6(const struct sockaddr *sa)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
	return sa->sa_family == AF_INET6 &&
	       IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
}

/* Socket, bind and listen on one resolved address; fd or -1 with errno. */
static int listen_on_addr(const struct addrinfo *ai)
{
	int one = 1, zero = 0;
	int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd < 0)
		return -1;
	/* Rebind at once after a restart, while old connections linger in
	 * TIME_WAIT.  It does not let two servers share a port. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
		goto fail;
	/* [::] serves IPv4 clients too, whatever the system default is. */
	if (is_unspecified_v6(ai->ai_addr) &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) != 0)
		goto fail;
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(fd, SOMAXCONN) != 0 || net_set_nonblocking(fd) != 0 ||
	    net_set_cloexec(fd) != 0)
		goto fail;
	return fd;
fail:;
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Resolve host and listen on the first of its addresses that works. */
static int listen_on_host(const char *host, unsigned port, int *fd, char *where,
			  size_t where_len, char *err, size_t err_len)
{
	struct addrinfo hints, *list;
	char service[8], wanted[NET_ADDR_LEN + 256];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%u", port);

	int rc = getaddrinfo(host, service, &hints, &list);
	if (rc != 0) {
		snprintf(err, err_len, "cannot resolve address '%s': %s", host,
			 gai_strerror(rc));
		return NET_BAD_ADDRESS;
	}
	int saved = 0;
	for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
		*fd = listen_on_addr(ai);
		if (*fd >= 0) {
			struct sockaddr_storage local;
			socklen_t len = sizeof(local);
			if (getsockname(*fd, (struct sockaddr *)&local, &len) ==
			    0)
				net_format_addr((struct sockaddr *)&local,
						where, where_len);
			else
				net_format_addr(ai->ai_addr, where, where_len);
			freeaddrinfo(list);
			return NET_OK;
		}
		saved = errno;
		net_format_addr(ai->ai_addr, wanted, sizeof(wanted));
	}
	freeaddrinfo(list);
	if (saved == 0)
		format_wanted(host, port, wanted, sizeof(wanted));
	snprintf(err, err_len, "cannot listen on %s: %s", wanted,
		 strerror(saved));
	errno = saved;
	return NET_FAILED;
}

int net_listen(const char *host, unsigned port, int *fd, char *where,
	       size_t where_len, char *err, size_t err_len)
{
	if (host != NULL)
		return listen_on_host(host, port, fd, where, where_len, err,
				      err_len);
	/* Default: dual-stack [::]; plain IPv4 on a system without IPv6. */
	int rc = listen_on_host("::", port, fd, where, where_len, err, err_len);
	if (rc == NET_OK || rc == NET_BAD_ADDRESS ||
	    (errno != EAFNOSUPPORT && errno != EADDRNOTAVAIL &&
	     errno != EPROTONOSUPPORT))
		return rc;
	return listen_on_host("0.0.0.0", port, fd, where, where_len, err,
			      err_len);
}

/* ============================== descriptors ============================== */

int net_set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0)
		return -1;
	return fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ? -1 : 0;
}

int net_set_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);
	if (flags < 0)
		return -1;
	return fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0 ? -1 : 0;
}

int net_set_nodelay(int fd)
{
	int one = 1;
	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void net_send_best_effort(int fd, const char *msg)
{
	ssize_t n = write(fd, msg, strlen(msg));
	(void)n; /* best effort: the connection is being closed anyway */
}

/* ============================== closing ============================== */

/* How much waiting input a close may read and throw away.  It bounds the
 * work one close can cost, even against a client that never stops sending. */
#define DRAIN_LIMIT ((size_t)256 * 1024)

void net_close_gracefully(int fd)
{
	char sink[16384];
	size_t drained = 0;

	/* FIN goes after the replies already queued; errors (e.g. the peer
	 * already reset) change nothing here. */
	(void)shutdown(fd, SHUT_WR);
	while (drained < DRAIN_LIMIT) {
		ssize_t n = read(fd, sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* EOF, nothing waiting (EAGAIN), or an error */
		drained += (size_t)n;
	}
	close(fd);
}
