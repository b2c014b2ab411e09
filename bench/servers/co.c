/*
 * co.c - echoserv-co: a select() loop driving one coroutine per client
 * (ucontext), the lecture's coroutine version.
 *
 * Each client's conversation is the same straight-line code the threaded
 * server runs (conversation.c).  Its reads and writes look blocking, but
 * when the socket is not ready they save the coroutine's context and switch
 * back to the loop (co_wait), which resumes the coroutine once select()
 * says its descriptor is ready.  One thread, no locks, and the protocol
 * still reads top to bottom.  A coroutine reads only after select() said
 * its socket was readable, so each round reads at most once per client
 * (fairness, as in echoserv).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <ucontext.h>
#include <unistd.h>

#include "clients.h"
#include "conversation.h"
#include "log.h"
#include "net.h"
#include "startup.h"

/* stdin, stdout, stderr, the listening socket, the lingering thread's
 * pipe, the reserve descriptor (clients.c). */
#define OWN_FDS 7
/* The conversation, a 16 KiB log line and a 16 KiB drain buffer fit with
 * room to spare; only the pages actually touched cost memory. */
#define CO_STACK (64 * 1024)

enum co_wait { WAIT_NONE, WAIT_READ, WAIT_WRITE };

struct coroutine {
	struct stream stream; /* first: the stream callbacks get a coroutine */
	ucontext_t ctx;
	void *stack;
	enum co_wait wait; /* what it is suspended on */
	bool finished;     /* its conversation is over and the fd closed */
	char peer[NET_ADDR_LEN];
	const struct options *opt;
};

static ucontext_t loop_ctx;           /* where a waiting coroutine returns */
static struct coroutine *co_starting; /* handed to co_main by co_spawn */

/* ========== coroutine side ========== */

/* Suspend co until its descriptor is ready for what; back in the loop. */
static void co_wait(struct coroutine *co, enum co_wait what)
{
	co->wait = what;
	if (swapcontext(&co->ctx, &loop_ctx) != 0)
		abort(); /* cannot fail with a valid context */
	co->wait = WAIT_NONE;
}

static ssize_t co_read(struct stream *st, void *buf, size_t len)
{
	struct coroutine *co = (struct coroutine *)st;

	for (;;) {
		co_wait(co, WAIT_READ);
		ssize_t n = read(st->fd, buf, len);
		if (n >= 0 ||
		    (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			return n;
	}
}

static ssize_t co_write(struct stream *st, const void *buf, size_t len)
{
	struct coroutine *co = (struct coroutine *)st;

	for (;;) {
		ssize_t n = write(st->fd, buf, len);
		if (n >= 0 ||
		    (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			return n;
		co_wait(co, WAIT_WRITE);
	}
}

/* A coroutine's body: the whole conversation, then back to the loop for
 * good (uc_link). */
static void co_main(void)
{
	struct coroutine *co = co_starting;

	serve_client(&co->stream, co->peer, co->opt, LINGER_IN_BACKGROUND);
	co->finished = true;
}

/* ============================== loop side ============================== */

struct co_server {
	const struct options *opt;
	int listen_fd;
	struct coroutine *clients[FD_SETSIZE]; /* indexed by fd */
	int max_fd;
	size_t nclients;
};

/* Switch to co until it waits or finishes; free it if it finished. */
static void co_resume(struct co_server *srv, struct coroutine *co)
{
	int fd = co->stream.fd;

	if (swapcontext(&loop_ctx, &co->ctx) != 0)
		abort();
	if (!co->finished)
		return;
	srv->clients[fd] = NULL;
	srv->nclients--;
	free(co->stack);
	free(co);
}

/* A coroutine for the client on fd, run until its first wait. */
static void co_spawn(struct co_server *srv, int fd, const struct sockaddr *addr)
{
	struct coroutine *co = calloc(1, sizeof(*co));
	void *stack = malloc(CO_STACK);

	if (co == NULL || stack == NULL || getcontext(&co->ctx) != 0) {
		log_server("out of memory for a client");
		free(co);
		free(stack);
		close(fd);
		return;
	}
	co->stream = (struct stream){fd, co_read, co_write};
	co->stack = stack;
	co->opt = srv->opt;
	net_format_addr(addr, co->peer, sizeof(co->peer));
	co->ctx.uc_stack.ss_sp = stack;
	co->ctx.uc_stack.ss_size = CO_STACK;
	co->ctx.uc_link = &loop_ctx;
	makecontext(&co->ctx, co_main, 0);

	srv->clients[fd] = co;
	srv->nclients++;
	if (fd > srv->max_fd)
		srv->max_fd = fd;
	co_starting = co;
	co_resume(srv, co);
}

/* accept_batch()'s callback, ctx the server: a coroutine for the client
 * on fd, or turned away at --max-clients.  An fd >= FD_SETSIZE must never
 * reach FD_SET, so it counts as full too. */
static void admit(void *ctx, int fd, const struct sockaddr *addr)
{
	struct co_server *srv = ctx;
	size_t clients = fd < FD_SETSIZE ? srv->nclients : SIZE_MAX;

	if (room_for_client(fd, addr, clients, srv->opt->max_clients))
		co_spawn(srv, fd, addr);
}

/* readfds/writefds from what each coroutine waits for; returns nfds. */
static int build_fd_sets(struct co_server *srv, fd_set *r, fd_set *w)
{
	int nfds = srv->listen_fd + 1;

	FD_ZERO(r);
	FD_ZERO(w);
	FD_SET(srv->listen_fd, r);
	while (srv->max_fd >= 0 && srv->clients[srv->max_fd] == NULL)
		srv->max_fd--;
	for (int fd = 0; fd <= srv->max_fd; fd++) {
		const struct coroutine *co = srv->clients[fd];
		if (co == NULL)
			continue;
		FD_SET(fd, co->wait == WAIT_WRITE ? w : r);
		if (fd >= nfds)
			nfds = fd + 1;
	}
	return nfds;
}

/* Resume every coroutine whose descriptor is ready for what it waits on. */
static void resume_ready(struct co_server *srv, const fd_set *r,
			 const fd_set *w)
{
	for (int fd = 0; fd <= srv->max_fd; fd++) {
		struct coroutine *co = srv->clients[fd];
		if (co == NULL)
			continue;
		if (FD_ISSET(fd, co->wait == WAIT_WRITE ? w : r))
			co_resume(srv, co);
	}
}

int main(int argc, char **argv)
{
	static struct co_server srv; /* the table is large: not on the stack */
	struct options opt;

	int rc = server_start(argc, argv,
			      "select() loop with a coroutine per "
			      "connection",
			      FD_SETSIZE - OWN_FDS, &opt, &srv.listen_fd);
	if (rc >= 0)
		return rc;
	srv.opt = &opt;
	srv.max_fd = -1;
	if (srv.listen_fd >= FD_SETSIZE) {
		log_server("too many inherited descriptors for select()");
		return 1;
	}
	for (;;) {
		fd_set readfds, writefds;
		int nfds = build_fd_sets(&srv, &readfds, &writefds);
		if (select(nfds, &readfds, &writefds, NULL, NULL) < 0) {
			if (errno == EINTR)
				continue;
			log_server("select: %s", strerror(errno));
			return 1;
		}
		if (FD_ISSET(srv.listen_fd, &readfds))
			accept_batch(srv.listen_fd, admit, &srv);
		resume_ready(&srv, &readfds, &writefds);
	}
}
