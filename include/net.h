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

#include <stddef.h>
#include <sys/socket.h>

#define NET_OK     0
#define NET_FAILED (-1) /* socket/bind/listen failed: a start-up failure */
#define NET_BAD_ADDRESS                                                        \
	(-2) /* the address does not parse or resolve: bad usage */

/* "255.255.255.255:65535" or "[v6 address]:65535", NUL included. */
#define NET_ADDR_LEN 64

/*
 * Listen on host (NULL: all addresses, dual-stack [::] where the system has
 * IPv6, else 0.0.0.0) at port (0: an ephemeral port).  On success *fd is a
 * nonblocking listening socket and where holds its real address, e.g.
 * "[::]:7777".  On failure err holds one line naming the problem.
 */
int net_listen(const char *host, unsigned port, int *fd, char *where,
	       size_t where_len, char *err, size_t err_len);

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
 * Close a connection without destroying replies (SPEC 3.8): send FIN after
 * the queued data, read and discard the input already waiting (closing with
 * unread input makes TCP send a reset), then close.  fd must be nonblocking.
 */
void net_close_gracefully(int fd);

#endif
