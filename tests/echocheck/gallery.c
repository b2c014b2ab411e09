/*
 * gallery.c - the correct line echo server the broken ones are made
 * from (see gallery.h): a poll() loop over nonblocking sockets.
 */
#include "gallery.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#define READ_SIZE    16384
#define OUT_HIGH     65536   /* owed more than this: stop reading */
#define LONGEST_LINE 1048576 /* a line longer than this is passed on as is */
#define BACKLOG      1024

const struct gallery_hooks gallery_correct = {
    .frame = gallery_frame_lines,
    .at_eof = gallery_keep_partial,
    .flush = gallery_flush,
};

void die(const char *what)
{
	fprintf(stderr, "gallery: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Grow *buf (of *cap bytes) to hold at least need bytes. */
static void reserve(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return;
	size_t n = *cap ? *cap : 4096;
	while (n < need)
		n *= 2;
	char *p = realloc(*buf, n);
	if (p == NULL)
		die("realloc");
	*buf = p;
	*cap = n;
}

void client_out(struct client *c, const char *p, size_t n)
{
	reserve(&c->out, &c->out_cap, c->out_len + n);
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
}

void client_consume(struct client *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

/* Every complete line goes back as it came, all of them at once. */
void gallery_frame_lines(struct client *c)
{
	size_t end = c->in_len;

	while (end > 0 && c->in[end - 1] != '\n')
		end--;
	if (end == 0 && c->in_len >= LONGEST_LINE)
		end = c->in_len;
	if (end > 0) {
		client_out(c, c->in, end);
		client_consume(c, end);
	}
}

/* At end of input the unterminated rest goes back as it is. */
bool gallery_keep_partial(struct client *c)
{
	client_out(c, c->in, c->in_len);
	client_consume(c, c->in_len);
	return false;
}

/* Write as much as the socket takes; the rest waits for POLLOUT. */
int gallery_flush(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n =
		    write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return -1;
		c->out_off += (size_t)n;
	}
	c->out_len = c->out_off = 0;
	return 0;
}

int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int gallery_listen(int argc, char **argv, bool nonblocking)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int one = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		exit(2);
	}
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
		die("setsockopt");
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)atoi(argv[1]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		die("bind");
	if (listen(fd, BACKLOG) != 0)
		die("listen");
	if (getsockname(fd, (struct sockaddr *)&a, &alen) != 0)
		die("getsockname");
	if (nonblocking && fcntl(fd, F_SETFL, O_NONBLOCK) != 0)
		die("fcntl");
	fprintf(stderr, "listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
	return fd;
}

/* ------------------------------------------------------------ the loop */

static struct client **clients;
static size_t nclients, clients_cap;

static void add_client(int fd, const struct gallery_hooks *h)
{
	if (!h->blocking && fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
		close(fd);
		return;
	}
	struct client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		die("calloc");
	c->fd = fd;
	if (nclients == clients_cap) {
		clients_cap = clients_cap ? 2 * clients_cap : 64;
		clients = realloc(clients, clients_cap * sizeof(*clients));
		if (clients == NULL)
			die("realloc");
	}
	clients[nclients++] = c;
}

static void drop_client(size_t i)
{
	struct client *c = clients[i];

	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
	clients[i] = clients[--nclients];
}

static size_t owed(const struct client *c)
{
	return c->out_len - c->out_off;
}

/* A read: answer what it completes; false when the client must go. */
static bool on_readable(struct client *c, const struct gallery_hooks *h)
{
	reserve(&c->in, &c->in_cap, c->in_len + READ_SIZE);
	ssize_t n = read(c->fd, c->in + c->in_len, READ_SIZE);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ||
		       errno == EINTR;
	if (n == 0) {
		c->eof = true;
		if (h->at_eof(c))
			return false;
	} else {
		c->in_len += (size_t)n;
		h->frame(c);
	}
	if (h->flush(c) != 0)
		return false;
	return !(c->eof && owed(c) == 0);
}

static bool on_writable(struct client *c, const struct gallery_hooks *h)
{
	if (h->flush(c) != 0)
		return false;
	return !(c->eof && owed(c) == 0);
}

static void accept_clients(int lfd, const struct gallery_hooks *h,
			   unsigned long *accepted)
{
	for (int i = 0; i < 64; i++) {
		if (h->max_accepts && *accepted >= h->max_accepts)
			return;
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			return; /* EAGAIN, or an error: try again next round */
		(*accepted)++;
		add_client(fd, h);
	}
}

int gallery_run(int argc, char **argv, const struct gallery_hooks *h)
{
	struct pollfd *pfds = NULL;
	size_t pfds_cap = 0;
	unsigned long accepted = 0;

	signal(SIGPIPE, SIG_IGN);
	int lfd = gallery_listen(argc, argv, true);
	for (;;) {
		if (pfds_cap < nclients + 1) {
			pfds_cap = 2 * (nclients + 1);
			pfds = realloc(pfds, pfds_cap * sizeof(*pfds));
			if (pfds == NULL)
				die("realloc");
		}
		bool listening = !h->max_accepts || accepted < h->max_accepts;
		pfds[0] = (struct pollfd){.fd = listening ? lfd : -1,
					  .events = POLLIN};
		for (size_t i = 0; i < nclients; i++) {
			struct client *c = clients[i];
			short ev = 0;
			if (!c->eof && (h->read_ahead || owed(c) < OUT_HIGH))
				ev |= POLLIN;
			if (owed(c))
				ev |= POLLOUT;
			pfds[i + 1] =
			    (struct pollfd){.fd = c->fd, .events = ev};
		}
		size_t n = nclients;
		if (poll(pfds, n + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		/* Walk from the end: drop_client() moves the last client
		 * into the slot it frees. */
		for (size_t i = n; i-- > 0;) {
			short re = pfds[i + 1].revents;
			bool keep = true;
			if (re & POLLOUT)
				keep = on_writable(clients[i], h);
			if (keep && (re & (POLLIN | POLLHUP | POLLERR)))
				keep = (pfds[i + 1].events & POLLIN)
					   ? on_readable(clients[i], h)
					   : on_writable(clients[i], h);
			if (!keep)
				drop_client(i);
		}
		if (pfds[0].revents & POLLIN)
			accept_clients(lfd, h, &accepted);
	}
}
