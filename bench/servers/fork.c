/*
 * fork.c - echoserv-fork: one process per connection, blocking I/O, at
 * most --max-clients children.
 *
 * The parent waits in select() on the listening socket and a self-pipe.
 * The SIGCHLD handler only writes a byte to the pipe; the children are
 * reaped in the main loop with waitpid(WNOHANG) until none is left.  That
 * avoids the races the lecture warns about: a handler that calls waitpid
 * once loses children whose signals were merged into one; a handler that
 * counts children races with the loop that reads the count; and a signal
 * that lands between checking the count and blocking in accept() would
 * not wake the loop (here it leaves a byte in the pipe, so select returns).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clients.h"
#include "conversation.h"
#include "log.h"
#include "net.h"
#include "startup.h"
#include "signals.h"

/* A process per client: the cap is the process table, not descriptors. */
#define MAX_CHILDREN 4096

static int signal_fd = -1; /* read end of the self-pipe (signals.h) */

struct fork_server {
	const struct options *opt;
	int listen_fd;
	pid_t *children; /* max_clients slots, 0 = free */
	size_t nchildren;
};

/* Collect every child that has exited (signals may have merged). */
static void reap_children(struct fork_server *srv)
{
	pid_t pid;

	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
		for (size_t i = 0; i < srv->opt->max_clients; i++)
			if (srv->children[i] == pid) {
				srv->children[i] = 0;
				srv->nchildren--;
				break;
			}
}

/* SIGINT/SIGTERM: end the children's conversations too, and exit. */
static int stop(struct fork_server *srv)
{
	for (size_t i = 0; i < srv->opt->max_clients; i++)
		if (srv->children[i] > 0)
			(void)kill(srv->children[i], SIGTERM);
	log_server("shutdown: stopped %zu child%s", srv->nchildren,
		   srv->nchildren == 1 ? "" : "ren");
	return 0;
}

/* accept_batch()'s callback, ctx the server: fork a child for the client
 * on fd, or turn it away at the cap. */
static void start_child(void *ctx, int fd, const struct sockaddr *addr)
{
	struct fork_server *srv = ctx;
	char peer[NET_ADDR_LEN];
	size_t slot = 0;

	if (!room_for_client(fd, addr, srv->nchildren, srv->opt->max_clients))
		return;
	net_format_addr(addr, peer, sizeof(peer));
	while (srv->children[slot] != 0)
		slot++;
	pid_t pid = fork();
	if (pid < 0) {
		log_server("client %s: fork: %s", peer, strerror(errno));
		turn_away(fd, peer);
		return;
	}
	if (pid == 0) {
		struct stream st = {fd, stream_read_blocking,
				    stream_write_blocking};
		close(srv->listen_fd);
		signals_reset_in_child();
		if (set_blocking(fd) != 0)
			_exit(1);
		serve_client(&st, peer, srv->opt, LINGER_IN_PLACE);
		_exit(0);
	}
	close(fd);
	srv->children[slot] = pid;
	srv->nchildren++;
}

/* The pipe is readable: reap, and report whether a stop signal came. */
static bool on_signals(struct fork_server *srv)
{
	unsigned char sigs[64];
	bool stop_now = false;
	ssize_t n;

	while ((n = read(signal_fd, sigs, sizeof(sigs))) > 0)
		for (ssize_t i = 0; i < n; i++)
			if (sigs[i] != SIGCHLD)
				stop_now = true;
	reap_children(srv);
	return stop_now;
}

int main(int argc, char **argv)
{
	struct fork_server srv = {0};
	struct options opt;

	int rc = server_start(argc, argv, "one process per connection",
			      MAX_CHILDREN, &opt, &srv.listen_fd);
	if (rc >= 0)
		return rc;
	srv.opt = &opt;
	srv.children = calloc(opt.max_clients, sizeof(*srv.children));
	static const int signals[] = {SIGCHLD, SIGINT, SIGTERM};
	if (srv.children != NULL)
		signal_fd = signals_to_pipe(signals, 3);
	if (srv.children == NULL || signal_fd < 0 ||
	    srv.listen_fd >= FD_SETSIZE || signal_fd >= FD_SETSIZE) {
		log_server("cannot start: %s", strerror(errno));
		return 1;
	}
	for (;;) {
		fd_set readfds;
		FD_ZERO(&readfds);
		FD_SET(srv.listen_fd, &readfds);
		FD_SET(signal_fd, &readfds);
		int nfds =
		    (srv.listen_fd > signal_fd ? srv.listen_fd : signal_fd) + 1;
		if (select(nfds, &readfds, NULL, NULL, NULL) < 0) {
			if (errno == EINTR)
				continue;
			log_server("select: %s", strerror(errno));
			return 1;
		}
		if (FD_ISSET(signal_fd, &readfds) && on_signals(&srv))
			return stop(&srv);
		if (FD_ISSET(srv.listen_fd, &readfds))
			accept_batch(srv.listen_fd, start_child, &srv);
	}
}
