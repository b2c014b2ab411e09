/*
 * client_socket.c - the test's client connections (see client_socket.h).
 */
#include "client_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"

/* How long a connect may take, unscaled. */
#define CONNECT_TIMEOUT 5.0

/* ============================== remembered clients ===================== */

static int *clients;
static size_t nclients, clients_cap;

static void remember_client(int fd)
{
	if (nclients == clients_cap) {
		size_t cap = clients_cap ? 2 * clients_cap : 256;
		int *grown = realloc(clients, cap * sizeof(*clients));
		if (grown == NULL)
			return; /* not remembered: the test closes it */
		clients = grown;
		clients_cap = cap;
	}
	clients[nclients++] = fd;
}

/* Forget fd (newest first: tests mostly close what they opened last). */
static void forget_client(int fd)
{
	for (size_t i = nclients; i-- > 0;)
		if (clients[i] == fd) {
			clients[i] = clients[--nclients];
			return;
		}
}

void clients_close_all(void)
{
	while (nclients > 0)
		close(clients[--nclients]);
}

/* ============================== connecting ============================= */

const char *recv_end_name(enum recv_end e)
{
	switch (e) {
	case RECV_FULL:
		return "all bytes";
	case RECV_EOF:
		return "EOF";
	case RECV_RESET:
		return "connection reset";
	case RECV_TIMEOUT:
		return "timeout";
	case RECV_ERROR:
		return "error";
	}
	return "?";
}

/* host:port into ss (IPv6 if host has a colon).  0 or -1. */
static int make_addr(const char *host, int port, struct sockaddr_storage *ss,
		     socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(host, ':') != NULL) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return inet_pton(AF_INET6, host, &in6->sin6_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)port);
	*len = sizeof(*in);
	return inet_pton(AF_INET, host, &in->sin_addr) == 1 ? 0 : -1;
}

int set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -1;
	return fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ? -1 : 0;
}

/* Wait for a nonblocking connect to finish; 0, or -1 with errno. */
static int finish_connect(int fd, double timeout)
{
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	double deadline = now_s() + timeout;
	int err = ETIMEDOUT;
	socklen_t elen = sizeof(err);

	while (now_s() < deadline) {
		int r = poll(&pfd, 1, ms_until(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r > 0) {
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen))
				err = errno;
			break;
		}
	}
	errno = err;
	return err == 0 ? 0 : -1;
}

/* Bind fd to source (port 0) before it connects.  0 or -1. */
static int bind_source(int fd, const char *source)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (make_addr(source, 0, &ss, &len) != 0) {
		errno = EINVAL;
		return -1;
	}
	return bind(fd, (struct sockaddr *)&ss, len);
}

int tcp_connect(const char *host, int port, const struct connect_opts *co)
{
	static const struct connect_opts defaults;
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;

	if (co == NULL)
		co = &defaults;
	if (make_addr(host, port, &ss, &len) != 0) {
		errno = EINVAL;
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || set_nonblocking(fd) != 0 ||
	    (co->source != NULL && bind_source(fd, co->source) != 0) ||
	    (co->rcvbuf > 0 && client_set_rcvbuf(fd, co->rcvbuf) != 0))
		goto fail;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
		double t = co->timeout > 0 ? co->timeout
					   : CONNECT_TIMEOUT * harness_scale();
		if (errno != EINPROGRESS || finish_connect(fd, t) != 0)
			goto fail;
	}
	return fd;
fail:;
	int err = errno;
	close(fd);
	errno = err;
	return -1;
}

void tcp_close_with_reset(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	if (fd < 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

int client_connect_opts(const char *host, int port,
			const struct connect_opts *co)
{
	int fd = tcp_connect(host, port, co);

	if (fd >= 0)
		remember_client(fd);
	return fd;
}

int client_connect(const char *host, int port)
{
	return client_connect_opts(host, port, NULL);
}

void client_close(int fd)
{
	if (fd < 0)
		return;
	forget_client(fd);
	close(fd);
}

void client_reset(int fd)
{
	if (fd < 0)
		return;
	forget_client(fd);
	tcp_close_with_reset(fd);
}

int client_set_rcvbuf(int fd, int bytes)
{
	return setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

long raise_nofile(long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < want) {
		rlim_t to = (rlim_t)want;
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < to)
			to = rl.rlim_max;
		rl.rlim_cur = to;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
			return -1;
	}
	return rl.rlim_cur == RLIM_INFINITY ? want : (long)rl.rlim_cur;
}

/* ============================== sending ================================ */

int client_send_all(int fd, const void *buf, size_t len, double timeout)
{
	const char *p = buf;
	double deadline = now_s() + timeout;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (now_s() >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		(void)poll(&pfd, 1, ms_until(deadline));
	}
	return 0;
}

int client_send_str(int fd, const char *s, double timeout)
{
	return client_send_all(fd, s, strlen(s), timeout);
}

size_t client_send_until_stalled(int fd, unsigned char (*gen)(size_t),
				 size_t offset, size_t max, double stall)
{
	unsigned char chunk[65536];
	size_t sent = 0;

	while (sent < max) {
		size_t want = max - sent;
		if (want > sizeof(chunk))
			want = sizeof(chunk);
		for (size_t i = 0; i < want; i++)
			chunk[i] = gen(offset + sent + i);
		ssize_t n = send(fd, chunk, want, MSG_NOSIGNAL);
		if (n > 0) {
			sent += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return sent; /* errno says why */
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		if (poll(&pfd, 1, (int)(stall * 1000)) == 0)
			break; /* no room for stall seconds: the pipe is full */
	}
	errno = 0;
	return sent;
}

/* ============================== receiving ============================== */

/*
 * Receive into buf until want bytes are there (RECV_FULL), the peer closes
 * or fails, or timeout seconds pass.
 */
static struct recv_result recv_until(int fd, char *buf, size_t want,
				     double timeout)
{
	struct recv_result r = {0, RECV_TIMEOUT, 0};
	double deadline = now_s() + timeout;

	for (;;) {
		if (r.len >= want) {
			r.end = RECV_FULL;
			return r;
		}
		ssize_t n = recv(fd, buf + r.len, want - r.len, 0);
		if (n > 0) {
			r.len += (size_t)n;
			continue;
		}
		if (n == 0) {
			r.end = RECV_EOF;
			return r;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			r.err = errno;
			r.end = errno == ECONNRESET ? RECV_RESET : RECV_ERROR;
			return r;
		}
		if (now_s() >= deadline) {
			r.end = RECV_TIMEOUT;
			return r;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		(void)poll(&pfd, 1, ms_until(deadline));
	}
}

struct recv_result client_recv(int fd, void *buf, size_t want, double timeout)
{
	return recv_until(fd, buf, want, timeout);
}

struct recv_result client_recv_all(int fd, void *buf, size_t cap,
				   double timeout)
{
	return recv_until(fd, buf, cap, timeout);
}

struct recv_result client_recv_check(int fd, unsigned char (*gen)(size_t),
				     size_t offset, size_t max, double timeout,
				     size_t *mismatch)
{
	unsigned char chunk[65536];
	struct recv_result r = {0, RECV_TIMEOUT, 0};
	double deadline = now_s() + timeout;

	*mismatch = (size_t)-1;
	while (r.len < max) {
		size_t want =
		    max - r.len < sizeof(chunk) ? max - r.len : sizeof(chunk);
		struct recv_result part =
		    recv_until(fd, (char *)chunk, want, deadline - now_s());
		for (size_t i = 0; i < part.len; i++)
			if (chunk[i] != gen(offset + r.len + i)) {
				*mismatch = r.len + i;
				r.len += i;
				r.end = RECV_ERROR;
				return r;
			}
		r.len += part.len;
		if (part.end != RECV_FULL) {
			r.end = part.end;
			r.err = part.err;
			return r;
		}
	}
	r.end = RECV_FULL;
	return r;
}

enum recv_end client_next_event(int fd, double timeout)
{
	char byte;

	return recv_until(fd, &byte, 1, timeout).end;
}

bool client_silent(int fd, double seconds)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	double deadline = now_s() + seconds;

	while (now_s() < deadline) {
		int r = poll(&pfd, 1, ms_until(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r != 0)
			return false;
	}
	return true;
}

bool client_recv_final(int fd, const char *want, double timeout)
{
	char buf[512];
	size_t len = strlen(want);

	if (len >= sizeof(buf))
		return false;
	struct recv_result r = recv_until(fd, buf, len + 1, timeout);
	return r.end == RECV_EOF && r.len == len && memcmp(buf, want, len) == 0;
}

bool client_echo(int fd, const char *line, double timeout)
{
	char buf[512];
	size_t len = strlen(line);
	double deadline = now_s() + timeout;

	if (len > sizeof(buf) || client_send_all(fd, line, len, timeout) != 0)
		return false;
	struct recv_result r = recv_until(fd, buf, len, deadline - now_s());
	return r.end == RECV_FULL && memcmp(buf, line, len) == 0;
}

/* ============================== addresses ============================== */

int free_loopback_port(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int port = -1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (make_addr("127.0.0.1", 0, &ss, &len) == 0 &&
	    bind(fd, (struct sockaddr *)&ss, len) == 0)
		port = client_local_port(fd);
	close(fd);
	return port;
}

bool can_bind_ipv6(const struct in6_addr *addr)
{
	struct sockaddr_in6 in6;
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok;

	if (fd < 0)
		return false;
	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	in6.sin6_addr = *addr;
	ok = bind(fd, (struct sockaddr *)&in6, sizeof(in6)) == 0;
	close(fd);
	return ok;
}

bool have_ipv6(void)
{
	return can_bind_ipv6(&in6addr_loopback);
}

int client_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

int client_so_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		return errno;
	return err;
}
