/*
 * clients.c - a client's arrival and departure (see clients.h).
 */
#include "clients.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "linger.h"
#include "log.h"
#include "net.h"

/* After an accept failure nothing could be done about, wait this long
 * (no busy loop). */
#define ACCEPT_PAUSE_NS 100000000L

/* A descriptor held back, so that a client can still be accepted (and
 * turned away) when the process has run out of them; -1 while lent out. */
static int reserve_fd = -1;
static bool reserve_tried;

void hold_reserve(void)
{
	if (reserve_fd < 0)
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	reserve_tried = true;
}

static void pause_accepting(void)
{
	struct timespec ts = {0, ACCEPT_PAUSE_NS};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		continue;
}

/* The waiting client would keep the listening socket readable (a busy
 * loop in a level-triggered server) or wait forever (in the others). */
bool shed_client(int listen_fd, int why)
{
	struct pollfd pfd = {.fd = listen_fd, .events = POLLIN};
	struct sockaddr_storage addr;
	socklen_t len = sizeof(addr);
	char peer[NET_ADDR_LEN];

	if (reserve_fd < 0 || poll(&pfd, 1, 0) != 1)
		return false;
	close(reserve_fd);
	int fd = accept(listen_fd, (struct sockaddr *)&addr, &len);
	if (fd >= 0) {
		net_format_addr((struct sockaddr *)&addr, peer, sizeof(peer));
		log_server("accept: %s: shedding client %s", strerror(why),
			   peer);
		turn_away(fd, peer);
	}
	reserve_fd = -1;
	hold_reserve();
	return fd >= 0;
}

/* accept() failed: log it, and shed or pause where it would only fail the
 * same way again at once. */
static void on_accept_failure(int listen_fd)
{
	int why = errno;

	if ((why == EMFILE || why == ENFILE) && shed_client(listen_fd, why))
		return;
	log_server("accept: %s", strerror(why));
	pause_accepting();
}

/* accept(2), the new socket nonblocking and close-on-exec: one call where
 * Linux has accept4, else three. */
static int accept_nonblocking(int listen_fd, struct sockaddr_storage *addr)
{
	socklen_t len = sizeof(*addr);
#ifdef __linux__
	return accept4(listen_fd, (struct sockaddr *)addr, &len,
		       SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
	int fd = accept(listen_fd, (struct sockaddr *)addr, &len);
	if (fd >= 0 &&
	    (net_set_nonblocking(fd) != 0 || net_set_cloexec(fd) != 0)) {
		close(fd);
		errno = ECONNABORTED; /* this client is lost; try the next */
		return -1;
	}
	return fd;
#endif
}

bool accept_batch(int listen_fd,
		  void (*admit)(void *ctx, int fd, const struct sockaddr *addr),
		  void *ctx)
{
	if (!reserve_tried)
		hold_reserve();
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage addr;
		int fd = accept_nonblocking(listen_fd, &addr);

		if (fd >= 0) {
			admit(ctx, fd, (struct sockaddr *)&addr);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			on_accept_failure(listen_fd);
		return false; /* the next round tries again */
	}
	return true;
}

void turn_away(int fd, const char *peer)
{
	log_client("client %s turned away: server full", peer);
	if (net_set_nonblocking(fd) != 0) {
		close(fd);
		return;
	}
	net_send_best_effort(fd, MSG_SERVER_FULL);
	net_close_gracefully(fd);
}

bool room_for_client(int fd, const struct sockaddr *addr, size_t clients,
		     size_t max_clients)
{
	char peer[NET_ADDR_LEN];

	if (clients < max_clients)
		return true;
	net_format_addr(addr, peer, sizeof(peer));
	turn_away(fd, peer);
	return false;
}

void *client_admit(size_t size, int fd, const struct sockaddr *addr,
		   size_t clients, const struct options *o)
{
	struct client *c;

	if (!room_for_client(fd, addr, clients, o->max_clients))
		return NULL;
	c = malloc(size);
	if (c == NULL) {
		log_server("out of memory for a client");
		close(fd);
		return NULL;
	}
	c->fd = fd;
	net_format_addr(addr, c->peer, sizeof(c->peer));
	(void)net_set_nodelay(fd); /* not fatal: replies just leave later */
	client_session_init(&c->session, o);
	log_connected(c->peer, fd);
	return c;
}

void client_session_init(struct session *s, const struct options *o)
{
	session_init(s, o->max_line);
	if (o->raw)
		session_set_raw(s);
}

void log_connected(const char *peer, int fd)
{
	log_client("client %s connected (fd %d)", peer, fd);
}

void client_close_and_log(int fd, const char *peer, const struct session *s,
			  enum linger_where where)
{
	log_client("client %s closed (fd %d): %s; echoed %llu line%s, %llu "
		   "byte%s",
		   peer, fd, close_reason_name(s->reason),
		   (unsigned long long)s->lines_echoed,
		   s->lines_echoed == 1 ? "" : "s",
		   (unsigned long long)s->bytes_echoed,
		   s->bytes_echoed == 1 ? "" : "s");
	switch (s->reason) {
	case CLOSE_QUIT:
	case CLOSE_TOO_LONG:
	case CLOSE_LINE_TIMEOUT:
	case CLOSE_SHUTDOWN: /* the client may still be sending */
		if (where == LINGER_IN_BACKGROUND)
			linger_in_background(fd);
		else
			linger_in_place(fd);
		return;
	case CLOSE_RESET:
	case CLOSE_NO_MEMORY:
		close(fd); /* the peer is gone, or we are: nothing to protect */
		return;
	default: /* EOF, timeout: no more input is coming */
		if (net_set_nonblocking(fd) != 0)
			close(fd);
		else
			net_close_gracefully(fd);
		return;
	}
}

void client_end(struct client *c, enum linger_where where)
{
	client_close_and_log(c->fd, c->peer, &c->session, where);
	session_free(&c->session);
	free(c);
}
