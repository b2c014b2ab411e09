/*
 * client_socket.h - the test's side of a TCP connection to the server:
 * connect, send and receive with a deadline, close cleanly or with a reset.
 *
 * Every socket is nonblocking and close-on-exec, with TCP_NODELAY (a test
 * that splits a line wants each piece sent at once).  Every function that
 * waits takes a timeout in seconds and returns when it is up.
 *
 * Two layers: tcp_connect() gives a plain socket the caller owns (the
 * stress suite opens thousands, from several threads); client_connect()
 * also remembers it, so clients_close_all() (cmocka teardown) closes what
 * a failed test left open.  Only the main thread may use the remembered
 * kind.
 */
#ifndef TEST_SUPPORT_CLIENT_SOCKET_H
#define TEST_SUPPORT_CLIENT_SOCKET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

/* How a receive ended. */
enum recv_end {
	RECV_FULL,    /* got all the bytes asked for */
	RECV_EOF,     /* the server closed cleanly (FIN) */
	RECV_RESET,   /* ECONNRESET: the server reset the connection */
	RECV_TIMEOUT, /* the deadline passed */
	RECV_ERROR    /* another error; errno in err */
};

struct recv_result {
	size_t len; /* bytes received into the buffer */
	enum recv_end end;
	int err; /* errno for RECV_RESET / RECV_ERROR */
};

/* A printable name for e ("EOF", "connection reset", ...). */
const char *recv_end_name(enum recv_end e);

/* How to connect; NULL or zeroed means the defaults. */
struct connect_opts {
	const char *source; /* local address to bind first, e.g. 127.0.0.2 */
	int rcvbuf;         /* SO_RCVBUF before connecting, if > 0 (a small
			       window makes the server's writes block sooner) */
	double timeout;     /* for the connect; 0: 5 s, scaled */
};

/*
 * Connect to host (a numeric address, "127.0.0.1" or "::1") at port.
 * Returns the fd, or -1 with errno (ETIMEDOUT if the handshake did not
 * finish in time).  The caller closes it.
 */
int tcp_connect(const char *host, int port, const struct connect_opts *co);

/* Close fd with SO_LINGER {1, 0}: the kernel sends a reset (RST). */
void tcp_close_with_reset(int fd);

/* tcp_connect with the defaults, remembered for clients_close_all(). */
int client_connect(const char *host, int port);

/* tcp_connect with co, remembered. */
int client_connect_opts(const char *host, int port,
			const struct connect_opts *co);

/* Close a client socket and forget it. */
void client_close(int fd);

/* Forget it and close it with a reset. */
void client_reset(int fd);

/* Close every remembered client socket. */
void clients_close_all(void);

/* Set the receive buffer size.  0 or -1. */
int client_set_rcvbuf(int fd, int bytes);

/* Make fd nonblocking; 0 or -1. */
int set_nonblocking(int fd);

/* Raise RLIMIT_NOFILE's soft limit towards want (at most the hard limit).
 * Returns the soft limit in force afterwards. */
long raise_nofile(long want);

/* Send all len bytes, waiting at most timeout s for room.  Returns 0, or
 * -1 with errno (ETIMEDOUT at the deadline, EPIPE/ECONNRESET...). */
int client_send_all(int fd, const void *buf, size_t len, double timeout);

/* client_send_all of a C string. */
int client_send_str(int fd, const char *s, double timeout);

/*
 * Send what the socket takes without waiting longer than stall seconds
 * for room, up to max bytes, from the generator gen (byte i of the stream
 * is gen(offset + i)).  Returns the bytes sent; errno is 0 after a stall
 * or the whole max, else the error that stopped it.  Fills the pipe when
 * the server stops reading (backpressure).
 */
size_t client_send_until_stalled(int fd, unsigned char (*gen)(size_t),
				 size_t offset, size_t max, double stall);

/*
 * Receive into buf (room for want bytes) until want bytes have arrived, the
 * server closes (EOF or reset) or timeout seconds pass.  Data beyond want
 * stays in the socket.
 */
struct recv_result client_recv(int fd, void *buf, size_t want, double timeout);

/* Receive until EOF (or reset, error, deadline, or cap bytes: RECV_FULL). */
struct recv_result client_recv_all(int fd, void *buf, size_t cap,
				   double timeout);

/*
 * Receive a long stream until EOF (or reset, error, deadline, or max
 * bytes) without storing it: byte i must be gen(offset + i).  Stops at the
 * first byte that differs and stores its index in *mismatch (else
 * (size_t)-1); r.len counts the bytes that matched.
 */
struct recv_result client_recv_check(int fd, unsigned char (*gen)(size_t),
				     size_t offset, size_t max, double timeout,
				     size_t *mismatch);

/*
 * Wait up to timeout s for the next event on fd: returns RECV_EOF for a
 * clean close with no data, RECV_RESET, RECV_TIMEOUT, or RECV_FULL if a
 * byte of data arrived instead (the byte is consumed).
 */
enum recv_end client_next_event(int fd, double timeout);

/* True if nothing at all (no data, no EOF) arrives on fd for seconds. */
bool client_silent(int fd, double seconds);

/* Receive until the server closes: true when exactly the C string want
 * came (nothing more), then a clean EOF, within timeout. */
bool client_recv_final(int fd, const char *want, double timeout);

/* One request and its reply: send line, receive exactly the same bytes
 * back within timeout.  True when the echo was exact. */
bool client_echo(int fd, const char *line, double timeout);

/* A TCP port that was free on 127.0.0.1 a moment ago (for a server that
 * must be given a number: started with its stderr closed, or under
 * systemd-socket-activate), or -1. */
int free_loopback_port(void);

/* Can this system bind an IPv6 TCP socket to addr (e.g. in6addr_any)? */
bool can_bind_ipv6(const struct in6_addr *addr);

/* Does this system have IPv6 on loopback (::1)?  Tests of IPv6
 * behaviour skip themselves where it does not. */
bool have_ipv6(void);

/* Local port of a connected socket, or -1. */
int client_local_port(int fd);

/* The socket's pending error (SO_ERROR, e.g. ECONNRESET after a reset that
 * came after the EOF), cleared by reading it; 0 if none. */
int client_so_error(int fd);

#endif
