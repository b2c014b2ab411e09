/*
 * net.h - socket helpers: listen, accept, nonblocking mode, graceful close,
 * and printing addresses.  They know nothing about lines or clients.
 *
 * Like redis' anet.c, a helper that can fail for a reason the user must see
 * takes an error buffer and returns NET_OK or an error code; the caller
 * decides what to do with the message.
 */
#ifndef ECHOSERV_NET_H
#define ECHOSERV_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* What the helpers that take an error buffer return. */
#define NET_OK          0
#define NET_FAILED      (-1) /* socket/bind/listen failed: start-up failure */
#define NET_BAD_ADDRESS (-2) /* the address does not resolve: bad usage */

/* "255.255.255.255:65535" or "[v6 address]:65535", NUL included. */
#define NET_ADDR_LEN 64

/* One listening socket (or, for --udp, one datagram socket) and its real
 * address, e.g. "[::]:7777". */
struct listener {
	int fd;
	unsigned port;
	bool datagram; /* a UDP socket: datagrams, not connections */
	char where[NET_ADDR_LEN];
};

/* The most listening sockets one server holds (addresses of one name, or
 * sockets inherited from systemd). */
#define NET_MAX_LISTENERS 16

/*
 * Listen at port (0: an ephemeral port) on host: an IPv4 literal, an IPv6
 * literal bare or in brackets ("::1", "[::1]"), or a name, which gets one
 * socket per address it resolves to, all on the same port (with port 0,
 * the one the first socket was given).  NULL: all addresses, dual-stack
 * [::] where the system has IPv6, else 0.0.0.0.  On success out[0..*n)
 * are nonblocking, close-on-exec listening sockets.  On failure nothing is
 * left open and err holds one line naming the problem.
 */
int net_listen_all(const char *host, unsigned port, struct listener *out,
		   size_t max, size_t *n, char *err, size_t err_len);

/*
 * For --udp: a nonblocking, close-on-exec UDP socket bound to the address
 * and port of each of the n listening sockets in tcp (dual-stack where the
 * TCP socket is), into out[0..n).  On failure nothing is left open and
 * err names the problem.
 */
int net_bind_udp(const struct listener *tcp, size_t n, struct listener *out,
		 char *err, size_t err_len);

/* For --workers: every socket bound from now on also sets SO_REUSEPORT,
 * so that each worker can have its own on the same port and the kernel
 * spreads the clients.  false where the system has no SO_REUSEPORT. */
bool net_share_port(void);

/* Once net_share_port() said true: a socket like each of the n in model
 * (listening stream, or datagram), bound to the same address and port,
 * into out[0..n).  On failure nothing is left open, err says why. */
int net_listen_like(const struct listener *model, size_t n,
		    struct listener *out, char *err, size_t err_len);

/* Write "ADDR:PORT" (IPv6 as "[ADDR]:PORT", IPv4-mapped IPv6 as plain
 * IPv4) into buf. */
void net_format_addr(const struct sockaddr *sa, char *buf, size_t len);

/* Make fd nonblocking; 0 or -1 with errno. */
int net_set_nonblocking(int fd);

/* Set close-on-exec; 0 or -1 with errno. */
int net_set_cloexec(int fd);

/* Disable Nagle's algorithm, so a small reply leaves at once; 0 or -1. */
int net_set_nodelay(int fd);

/* Best effort: one nonblocking write of a short message, result ignored. */
void net_send_best_effort(int fd, const char *msg);

/*
 * Close a connection without destroying replies (docs/protocol.md 3.8): send
 * FIN after the queued data, read and discard the input already waiting
 * (closing with unread input makes TCP send a reset), then close.  fd must be
 * nonblocking.
 */
void net_close_gracefully(int fd);

#endif
