/*
 * textbook.c - echoserv-textbook: the lecture's select() echo server, and
 * nothing more.  A line comes in, the same line goes back.
 *
 * It is the benchmark kit's baseline (docs/io-models.md): the design
 * echoserv starts from, without its defences, so that a run shows what
 * they cost.  Left out on purpose: any limit on clients (it takes all
 * that select() can watch), any line limit (a client that never sends LF
 * makes its buffer grow without bound), timeouts (a client that says
 * nothing holds its place for ever), quit, error messages, every log line
 * but the listening one, a graceful shutdown (SIGTERM just ends it), and
 * every option.  It listens on the loopback only: with no defences it is
 * not for a network.
 *
 * Kept, because an echo is not exact without it: whole lines come back, in
 * order, byte for byte; a client that sends faster than it reads is not
 * read until its replies are out (so its buffer holds one unfinished line
 * at most, beyond what is owed); and one that half-closes gets every reply,
 * its unterminated last line too, before we close.  We close only after
 * the client's EOF, so no unread input is ever left to turn our close into
 * a reset that would destroy replies.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

struct client {
	char *buf;   /* what it sent that is not echoed yet */
	size_t len;  /* bytes in buf */
	size_t cap;  /* buf's size */
	size_t owed; /* buf[0..owed): whole lines (after EOF, all) to send */
	size_t sent; /* of those, sent already */
	bool eof;    /* it half-closed: close once everything is sent */
	size_t slot; /* where its fd is in live[] */
};

static struct client clients[FD_SETSIZE]; /* by fd */
static int live[FD_SETSIZE];              /* the clients' fds, densely */
static size_t nlive;

/* A new client, unless select() could not watch it. */
static void accept_client(int listen_fd)
{
	int fd = accept(listen_fd, NULL, NULL);
	if (fd < 0)
		return; /* it gave up, or we are out of descriptors: next time */
	/* FD_SET on an fd beyond FD_SETSIZE would write past the set. */
	if (fd >= FD_SETSIZE || fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
		close(fd);
		return;
	}
	clients[fd] = (struct client){.slot = nlive};
	live[nlive++] = fd;
}

/* Forget the client on fd; the last of live[] takes its slot.  False, for
 * the callers' "is it still there?". */
static bool drop_client(int fd)
{
	int last = live[--nlive];

	live[clients[fd].slot] = last;
	clients[last].slot = clients[fd].slot;
	free(clients[fd].buf);
	close(fd);
	return false;
}

/* Send what is owed, as far as the socket takes it.  False if the client
 * is gone. */
static bool send_owed(int fd)
{
	struct client *c = &clients[fd];

	while (c->sent < c->owed) {
		ssize_t n = write(fd, c->buf + c->sent, c->owed - c->sent);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true; /* full: select() says when there is room */
		if (n < 0)
			return drop_client(fd);
		c->sent += (size_t)n;
	}
	/* All sent: keep only the unfinished line, and read again. */
	memmove(c->buf, c->buf + c->owed, c->len - c->owed);
	c->len -= c->owed;
	c->owed = c->sent = 0;
	return c->eof ? drop_client(fd) : true;
}

/* Read once; what now ends in an LF is owed, and sent at once if it can
 * be.  False if the client is gone. */
static bool read_input(int fd)
{
	struct client *c = &clients[fd];

	if (c->len == c->cap) { /* no line limit: the buffer grows */
		char *buf = realloc(c->buf, c->cap == 0 ? 4096 : 2 * c->cap);
		if (buf == NULL)
			return drop_client(fd);
		c->buf = buf;
		c->cap = c->cap == 0 ? 4096 : 2 * c->cap;
	}
	ssize_t n = read(fd, c->buf + c->len, c->cap - c->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n < 0)
		return drop_client(fd); /* a reset: nothing left to deliver */
	if (n == 0) {
		c->eof = true;
		c->owed = c->len; /* the last line, terminated or not */
	}
	for (size_t i = c->len + (size_t)n; i > c->len; i--)
		if (c->buf[i - 1] == '\n') {
			c->owed = i;
			break;
		}
	c->len += (size_t)n;
	return c->owed > 0 || c->eof ? send_owed(fd) : true;
}

/* A listening socket on 127.0.0.1:port, nonblocking, or -1. */
static int listen_on(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(fd, SOMAXCONN) != 0 || fcntl(fd, F_SETFL, O_NONBLOCK) ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		return -1;
	fprintf(stderr, "echoserv: listening on 127.0.0.1:%d\n",
		ntohs(a.sin_port));
	return fd;
}

int main(int argc, char **argv)
{
	char *end = NULL;
	long port = argc == 2 ? strtol(argv[1], &end, 10) : -1;

	if (argc == 2 && strcmp(argv[1], "--facts") == 0) {
		printf("name=echoserv-textbook\nmodel=the textbook select() "
		       "loop, no defences\nwaits-with=select\nceiling=%d\n"
		       "clients=many\nprotocol=lines\noptions=port\n",
		       FD_SETSIZE - 4); /* stdin, stdout, stderr, listener */
		return 0;
	}
	if (end == NULL || *end != '\0' || end == argv[1] || port < 0 ||
	    port > 65535) {
		fprintf(stderr, "usage: echoserv-textbook PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN); /* a write to a vanished client: EPIPE */
	int listen_fd = listen_on((int)port);
	if (listen_fd < 0) {
		perror("echoserv-textbook: listen");
		return 1;
	}
	for (;;) {
		fd_set readfds, writefds;
		FD_ZERO(&readfds);
		FD_ZERO(&writefds);
		FD_SET(listen_fd, &readfds);
		int nfds = listen_fd + 1;
		for (size_t i = 0; i < nlive; i++) {
			int fd = live[i];
			FD_SET(fd, clients[fd].owed > 0 ? &writefds : &readfds);
			nfds = fd >= nfds ? fd + 1 : nfds;
		}
		int ready = select(nfds, &readfds, &writefds, NULL, NULL);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0) {
			perror("echoserv-textbook: select");
			return 1;
		}
		if (FD_ISSET(listen_fd, &readfds)) {
			ready--;
			accept_client(listen_fd);
		}
		/* A dropped client's slot goes to the last: look at it again. */
		for (size_t i = 0; i < nlive && ready > 0;) {
			int fd = live[i];
			bool kept = true;
			if (FD_ISSET(fd, &readfds)) {
				ready--;
				kept = read_input(fd);
			} else if (FD_ISSET(fd, &writefds)) {
				ready--;
				kept = send_owed(fd);
			}
			if (kept)
				i++;
		}
	}
}
