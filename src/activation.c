/*
 * activation.c - systemd socket activation without libsystemd (see
 * activation.h).
 */
#include "activation.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "numbers.h"

/* A decimal number in 1..max from the environment variable name, or 0 if
 * it is unset, empty or not such a number. */
static uintmax_t env_number(const char *name, uintmax_t max)
{
	const char *text = getenv(name);
	uintmax_t v;

	return text != NULL && parse_decimal(text, 1, max, &v) ? v : 0;
}

/* Is fd a listening stream socket, or a datagram socket (*datagram)?  If
 * neither, a line in err says why. */
static int check_socket(int fd, bool *datagram, char *err, size_t err_len)
{
	struct stat st;
	int type = 0, listening = 0;
	socklen_t len = sizeof(type);

	if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		snprintf(err, err_len,
			 "inherited descriptor %d (LISTEN_FDS) is not a socket",
			 fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
	    (type != SOCK_STREAM && type != SOCK_DGRAM)) {
		snprintf(err, err_len,
			 "inherited socket %d (LISTEN_FDS) is not a stream "
			 "or datagram socket",
			 fd);
		return -1;
	}
	*datagram = type == SOCK_DGRAM;
	if (*datagram)
		return 0; /* served by --udp's echo, no listening needed */
	len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 ||
	    !listening) {
		snprintf(err, err_len,
			 "inherited socket %d (LISTEN_FDS) is not listening "
			 "(inetd-style Accept=yes is not supported)",
			 fd);
		return -1;
	}
	return 0;
}

/* The port of a socket address; 0 if it has none (a Unix socket). */
static unsigned port_of(const struct sockaddr_storage *addr)
{
	if (addr->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)addr)->sin_port);
	if (addr->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
	return 0;
}

int activation_listeners(struct listener *out, size_t max, char *err,
			 size_t err_len)
{
	uintmax_t pid = env_number("LISTEN_PID", UINTMAX_MAX / 10);
	uintmax_t n = env_number("LISTEN_FDS", max);

	if (getenv("LISTEN_FDS") == NULL || pid != (uintmax_t)getpid())
		return 0; /* not started by socket activation, or not for us */
	if (n == 0) {
		snprintf(
		    err, err_len,
		    "LISTEN_FDS='%s': expected a number of sockets, 1..%zu",
		    getenv("LISTEN_FDS"), max);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int fd = ACTIVATION_FIRST_FD + (int)i;
		struct sockaddr_storage addr;
		socklen_t len = sizeof(addr);

		bool datagram;

		if (check_socket(fd, &datagram, err, err_len) != 0)
			return -1;
		if (net_set_nonblocking(fd) != 0 || net_set_cloexec(fd) != 0 ||
		    getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
			snprintf(err, err_len, "inherited socket %d: %s", fd,
				 strerror(errno));
			return -1;
		}
		out[i].fd = fd;
		out[i].port = port_of(&addr);
		out[i].datagram = datagram;
		net_format_addr((struct sockaddr *)&addr, out[i].where,
				sizeof(out[i].where));
	}
	/* Ours now: a child we might start must not take them for its own. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return (int)n;
}
