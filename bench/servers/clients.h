/*
 * clients.h - a client's arrival and departure, the same in every
 * comparison server: accepting, turning away at --max-clients, the
 * connect and close log lines echoserv writes (the tests parse them), and
 * the close that keeps replies.  What happens in between is the model's.
 */
#ifndef BENCH_CLIENTS_H
#define BENCH_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "net.h"
#include "options.h"
#include "protocol.h"

/* A client of a comparison server: its socket, its protocol session, and
 * its address for the logs.  A server's own per-client struct begins with
 * one. */
struct client {
	int fd;
	struct session session;
	char peer[NET_ADDR_LEN];
};

/* Clients accepted per call of accept_batch() at most, so a connect storm
 * cannot starve the clients already connected. */
#define ACCEPT_BATCH 64

/*
 * Accept up to ACCEPT_BATCH waiting clients on the nonblocking listen_fd
 * and hand each to admit(ctx, fd, addr), fd nonblocking and close-on-exec.
 * Stops when no one is waiting, or on an error (logged; the next round
 * tries again).  Out of descriptors (EMFILE, ENFILE), the waiting client
 * is shed with a reserve descriptor: accepted and turned away, so the
 * listening socket does not stay readable and spin the loop.  Returns true when it stopped because the batch was used
 * up, so more clients may be waiting.
 */
bool accept_batch(int listen_fd,
		  void (*admit)(void *ctx, int fd, const struct sockaddr *addr),
		  void *ctx);

/* Hold the reserve descriptor that shed_client() lends out.
 * accept_batch() does so on first use. */
void hold_reserve(void);

/*
 * accept() on listen_fd failed with why, EMFILE or ENFILE: give up the
 * reserve descriptor, accept the waiting client, turn it away ("server
 * full"), and take the reserve back.  Returns true if a client was shed;
 * false if none was waiting (accept() says EMFILE before it looks at the
 * queue) or there was no reserve.
 */
bool shed_client(int listen_fd, int why);

/*
 * With clients connected already, is there room for one more?  If not,
 * the client on fd is turned away: sent "server full" (best effort),
 * logged and closed.  Returns true when the caller should admit it.
 */
bool room_for_client(int fd, const struct sockaddr *addr, size_t clients,
		     size_t max_clients);

/*
 * The usual admission of the client on fd (an accept_batch() callback's
 * work): turned away if clients already reach --max-clients, else size
 * bytes are allocated (a struct that begins with struct client) and the
 * client opened in them: TCP_NODELAY, a session, the connect log line.
 * Returns it, or NULL when fd was turned away or closed (out of memory,
 * logged).
 */
void *client_admit(size_t size, int fd, const struct sockaddr *addr,
		   size_t clients, const struct options *o);

/* A new client's session, framed as the options say: --max-line, and
 * --raw (RFC 862, every byte echoed, docs/protocol.md 3.9). */
void client_session_init(struct session *s, const struct options *o);

/* Send "server full" (best effort), log it and close fd gracefully. */
void turn_away(int fd, const char *peer);

/* The connect log line, as echoserv writes it (-q hides it). */
void log_connected(const char *peer, int fd);

/* Where a closing client lingers (linger.h): in a background thread, for
 * event loops, or in the caller (no server here does, any more). */
enum linger_where { LINGER_IN_BACKGROUND, LINGER_IN_PLACE };

/*
 * The conversation on fd is over: write the close log line and close fd
 * without destroying replies: at once if the peer is gone, after a
 * lingering close if it may still be sending (quit, line too long).
 */
void client_close_and_log(int fd, const char *peer, const struct session *s,
			  enum linger_where where);

/* client_close_and_log() for a client from client_admit(), then its session and c
 * itself freed. */
void client_end(struct client *c, enum linger_where where);

#endif
