/*
 * common.c - start-up and logging shared by the comparison servers.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "server.h"
#include "signals.h"

int server_start(int argc, char **argv, const char *model, struct options *o,
		 int *listen_fd)
{
	char err[512], where[NET_ADDR_LEN];

	if (options_parse(argc, argv, max_clients_ceiling(), o, err,
			  sizeof(err)) != 0)
		return options_usage_error(err);
	if (o->help) {
		options_print_help(stdout, max_clients_ceiling());
		printf("\nThis build is a comparison server for benchmarks: "
		       "%s.\n",
		       model);
		return 0;
	}
	if (o->version) {
		printf("echoserv %s (%s)\n", ECHOSERV_VERSION, model);
		return 0;
	}
	if (!o->have_port)
		return options_usage_error("missing port");
	log_quiet = o->quiet;

	int rc = net_listen(o->bind_addr, o->port, listen_fd, where,
			    sizeof(where), err, sizeof(err));
	if (rc == NET_BAD_ADDRESS)
		return options_usage_error(err);
	if (rc != NET_OK) {
		log_server("%s", err);
		return 1;
	}
	if (signals_ignore_sigpipe() != 0) {
		log_server("cannot ignore SIGPIPE: %s", strerror(errno));
		return 1;
	}
	log_server("listening on %s", where);
	return -1;
}

size_t fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0 &&
		    getrlimit(RLIMIT_NOFILE, &rl) != 0)
			return 1024;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1048576)
		return 1048576;
	return (size_t)rl.rlim_cur;
}

void log_connected(const char *peer, int fd)
{
	log_client("client %s connected (fd %d)", peer, fd);
}

void log_closed(const char *peer, int fd, const struct session *s)
{
	log_client("client %s closed (fd %d): %s; echoed %llu line%s, %llu "
		   "byte%s",
		   peer, fd, close_reason_name(s->reason),
		   (unsigned long long)s->lines_echoed,
		   s->lines_echoed == 1 ? "" : "s",
		   (unsigned long long)s->bytes_echoed,
		   s->bytes_echoed == 1 ? "" : "s");
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

int set_blocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -1;
	return fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 ? -1 : 0;
}

void accept_batch(int listen_fd,
		  void (*admit)(void *ctx, int fd, const struct sockaddr *addr),
		  void *ctx)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage addr;
		socklen_t len = sizeof(addr);
		int fd = accept(listen_fd, (struct sockaddr *)&addr, &len);

		if (fd >= 0) {
			admit(ctx, fd, (struct sockaddr *)&addr);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_server("accept: %s", strerror(errno));
		return; /* EMFILE & co: the next round tries again */
	}
}
