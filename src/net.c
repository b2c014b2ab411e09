/*
 * net.c - socket helpers (see net.h).
 *
 * SO_REUSEPORT (for --workers) is not in POSIX, but the BSDs, macOS and
 * Linux all have it; glibc shows it only outside strict POSIX mode, hence
 * _DEFAULT_SOURCE for this file alone.  Where it is missing the workers
 * share one socket (net_share_port() says so).
 */
/* NOLINTNEXTLINE(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */
#define _DEFAULT_SOURCE 1

#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
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
	} else if (sa->sa_family == AF_UNIX) {
		/* A client of a Unix-domain socket (socket activation) is
		 * usually unnamed; a listening socket has its path. */
		const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
		size_t n = strnlen(un->sun_path, sizeof(un->sun_path));
		if (n == 0)
			snprintf(buf, len, "unix:(unnamed)");
		else
			snprintf(buf, len, "unix:%.*s", (int)n, un->sun_path);
	} else {
		snprintf(buf, len, "(unknown address family %d)",
			 (int)sa->sa_family);
	}
}

/* ============================== listening ============================== */

/* --workers: sockets bound from now on share their port (SO_REUSEPORT). */
static bool share_port;

bool net_share_port(void)
{
#ifdef SO_REUSEPORT
	share_port = true;
	return true;
#else
	return false;
#endif
}

/* SO_REUSEADDR always; SO_REUSEPORT too once net_share_port() was
 * called.  0 or -1 with errno. */
static int set_reuse(int fd)
{
	int one = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
		return -1;
#ifdef SO_REUSEPORT
	if (share_port &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
		return -1;
#endif
	return 0;
}

static bool is_unspecified_v6(const struct sockaddr *sa)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
	return sa->sa_family == AF_INET6 &&
	       IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
}

static void set_port(struct sockaddr *sa, unsigned port)
{
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
	else if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
}

static unsigned get_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

/*
 * Socket, bind and listen on one address; fd or -1 with errno.  [::] alone
 * serves IPv4 clients too (dual-stack), whatever the system default is;
 * among several addresses every IPv6 socket is IPv6-only, so that [::] and
 * 0.0.0.0 of one name can both be bound.
 */
static int listen_on_addr(const struct sockaddr *sa, socklen_t len, bool alone)
{
	int one = 1, v6only = alone ? 0 : 1;
	int fd = socket(sa->sa_family, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	/* Rebind at once after a restart, while old connections linger in
	 * TIME_WAIT.  It does not let two servers share a port (only the
	 * workers of one, with net_share_port()). */
	(void)one;
	if (set_reuse(fd) != 0)
		goto fail;
	if (sa->sa_family == AF_INET6 && (is_unspecified_v6(sa) || !alone) &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
		       sizeof(v6only)) != 0)
		goto fail;
	if (bind(fd, sa, len) != 0 || listen(fd, SOMAXCONN) != 0 ||
	    net_set_nonblocking(fd) != 0 || net_set_cloexec(fd) != 0)
		goto fail;
	return fd;
fail:;
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* "[::1]" -> "::1" into buf; other hosts are copied as they are. */
static const char *strip_brackets(const char *host, char *buf, size_t len)
{
	size_t n = strlen(host);

	if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 1 <= len) {
		snprintf(buf, len, "%.*s", (int)(n - 2), host + 1);
		return buf;
	}
	return host;
}

/* Has an address equal to ai's come earlier in the list?  (A name listed
 * twice in /etc/hosts resolves twice.) */
static bool seen_before(const struct addrinfo *list, const struct addrinfo *ai)
{
	for (const struct addrinfo *p = list; p != ai; p = p->ai_next)
		if (p->ai_addrlen == ai->ai_addrlen &&
		    memcmp(p->ai_addr, ai->ai_addr, ai->ai_addrlen) == 0)
			return true;
	return false;
}

static void close_all(struct listener *out, size_t *n)
{
	while (*n > 0)
		close(out[--*n].fd);
}

/* The address family is missing from this system: among several
 * addresses of a name, that one is skipped. */
static bool family_missing(int err)
{
	return err == EAFNOSUPPORT || err == EPROTONOSUPPORT;
}

/*
 * One attempt: a socket on each address of list at port.  With port 0
 * every socket after the first takes the port the first was given, which
 * may be taken on another address: *retry is then set.
 */
static int listen_on_list(const struct addrinfo *list, unsigned port,
			  struct listener *out, size_t max, size_t *n,
			  bool *retry, char *err, size_t err_len)
{
	bool alone = list->ai_next == NULL;
	unsigned want = port;
	int failed = 0;

	*n = 0;
	*retry = false;
	for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
		struct sockaddr_storage addr;
		socklen_t len = sizeof(addr);

		if (seen_before(list, ai) || *n == max)
			continue;
		memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
		set_port((struct sockaddr *)&addr, want);
		int fd = listen_on_addr((struct sockaddr *)&addr,
					ai->ai_addrlen, alone);
		if (fd < 0 && !alone && family_missing(errno))
			continue; /* e.g. ::1 of localhost without IPv6 */
		if (fd < 0) {
			failed = errno;
			*retry = port == 0 && *n > 0 && failed == EADDRINUSE;
			net_format_addr((struct sockaddr *)&addr, out[0].where,
					sizeof(out[0].where));
			snprintf(err, err_len, "cannot listen on %s: %s",
				 out[0].where, strerror(failed));
			close_all(out, n);
			errno = failed;
			return NET_FAILED;
		}
		if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0)
			memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
		want = get_port((struct sockaddr *)&addr);
		out[*n].fd = fd;
		out[*n].port = want;
		out[*n].datagram = false;
		net_format_addr((struct sockaddr *)&addr, out[*n].where,
				sizeof(out[*n].where));
		++*n;
	}
	if (*n == 0) {
		snprintf(err, err_len, "cannot listen: no usable address");
		errno = EADDRNOTAVAIL;
		return NET_FAILED;
	}
	return NET_OK;
}

/* With port 0, how often to try again for a port free on every address. */
#define PORT_ATTEMPTS 8

/*
 * Is host an IPv4 address in one of the old numeric forms inet_aton()
 * takes and getaddrinfo() passes on: fewer than four parts ("127.1"),
 * hex or octal parts ("0x7f.1", "0177.0.0.1"), one big number
 * ("2130706433")?  Nobody writes them on purpose, and what they mean is
 * a surprise ("127.1" is 127.0.0.1), so they are refused: only dotted
 * quads in decimal are IPv4 addresses here.
 */
static bool is_odd_ipv4_form(const char *host)
{
	struct addrinfo hints, *list;
	struct in_addr quad;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(host, NULL, &hints, &list) != 0)
		return false; /* not numeric IPv4 at all */
	freeaddrinfo(list);
	return inet_pton(AF_INET, host, &quad) != 1;
}

/* Resolve host and listen on each of its addresses. */
static int listen_on_host(const char *host, unsigned port, struct listener *out,
			  size_t max, size_t *n, char *err, size_t err_len)
{
	struct addrinfo hints, *list;
	char bare[256];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;

	if (is_odd_ipv4_form(host)) {
		snprintf(err, err_len,
			 "address '%s': write an IPv4 address as four decimal "
			 "numbers, a.b.c.d",
			 host);
		return NET_BAD_ADDRESS;
	}
	int rc = getaddrinfo(strip_brackets(host, bare, sizeof(bare)), "0",
			     &hints, &list);
	if (rc != 0) {
		snprintf(err, err_len, "cannot resolve address '%s': %s", host,
			 gai_strerror(rc));
		return NET_BAD_ADDRESS;
	}
	bool retry = true;
	for (int attempt = 0; retry && attempt < PORT_ATTEMPTS; attempt++)
		rc = listen_on_list(list, port, out, max, n, &retry, err,
				    err_len);
	int saved = errno;
	freeaddrinfo(list);
	errno = saved;
	return rc;
}

int net_listen_all(const char *host, unsigned port, struct listener *out,
		   size_t max, size_t *n, char *err, size_t err_len)
{
	if (host != NULL)
		return listen_on_host(host, port, out, max, n, err, err_len);
	/* Default: dual-stack [::]; plain IPv4 on a system without IPv6. */
	int rc = listen_on_host("::", port, out, max, n, err, err_len);
	if (rc == NET_OK || rc == NET_BAD_ADDRESS ||
	    (!family_missing(errno) && errno != EADDRNOTAVAIL))
		return rc;
	return listen_on_host("0.0.0.0", port, out, max, n, err, err_len);
}

/* One more socket of type (SOCK_DGRAM, or SOCK_STREAM listening) where
 * the socket tcp_fd listens. */
static int bind_like(int tcp_fd, int type, struct listener *out, char *err,
		     size_t err_len)
{
	struct sockaddr_storage addr;
	socklen_t len = sizeof(addr);
	int one = 1, v6only = 0;
	socklen_t optlen = sizeof(v6only);

	if (getsockname(tcp_fd, (struct sockaddr *)&addr, &len) != 0) {
		snprintf(err, err_len, "udp: getsockname: %s", strerror(errno));
		return -1;
	}
	net_format_addr((struct sockaddr *)&addr, out->where,
			sizeof(out->where));
	int fd = socket(addr.ss_family, type, 0);
	if (fd < 0)
		goto fail;
	if (addr.ss_family == AF_INET6 &&
	    (getsockopt(tcp_fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &optlen) !=
		 0 ||
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
			sizeof(v6only)) != 0))
		goto fail;
	(void)one;
	if (set_reuse(fd) != 0 ||
	    bind(fd, (struct sockaddr *)&addr, len) != 0 ||
	    (type == SOCK_STREAM && listen(fd, SOMAXCONN) != 0) ||
	    net_set_nonblocking(fd) != 0 || net_set_cloexec(fd) != 0)
		goto fail;
	out->fd = fd;
	out->port = get_port((struct sockaddr *)&addr);
	out->datagram = type == SOCK_DGRAM;
	return 0;
fail:;
	int saved = errno;
	if (fd >= 0)
		close(fd);
	snprintf(err, err_len, "cannot listen on %s%s: %s", out->where,
		 type == SOCK_DGRAM ? " (udp)" : "", strerror(saved));
	errno = saved;
	return -1;
}

int net_bind_udp(const struct listener *tcp, size_t n, struct listener *out,
		 char *err, size_t err_len)
{
	for (size_t i = 0; i < n; i++) {
		if (bind_like(tcp[i].fd, SOCK_DGRAM, &out[i], err, err_len) !=
		    0) {
			while (i > 0)
				close(out[--i].fd);
			return NET_FAILED;
		}
	}
	return NET_OK;
}

int net_listen_like(const struct listener *model, size_t n,
		    struct listener *out, char *err, size_t err_len)
{
	for (size_t i = 0; i < n; i++) {
		int type = model[i].datagram ? SOCK_DGRAM : SOCK_STREAM;
		if (bind_like(model[i].fd, type, &out[i], err, err_len) != 0) {
			while (i > 0)
				close(out[--i].fd);
			return NET_FAILED;
		}
	}
	return NET_OK;
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
