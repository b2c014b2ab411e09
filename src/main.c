/*
 * main.c - parse the options, install the signal handlers, listen, and hand
 * over to the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "options.h"
#include "server.h"
#include "signals.h"

/* If we were started with stdin, stdout or stderr closed, the listening
 * socket or the signal pipe would take those numbers, and a log line could
 * land in the pipe and read as a signal.  Hold them with /dev/null.
 * Returns 0 or -1 with errno. */
static int ensure_stdio_open(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int null_fd = open("/dev/null", O_RDWR);
		if (null_fd < 0)
			return -1;
		if (null_fd != fd) { /* cannot happen: fd was the lowest free */
			close(null_fd);
			errno = EBADF;
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options opt;
	char err[512], where[NET_ADDR_LEN];
	int listen_fd;

	if (ensure_stdio_open() != 0)
		return 1; /* nowhere to say so: stderr is closed */
	if (options_parse(argc, argv, max_clients_ceiling(), &opt, err,
			  sizeof(err)) != 0)
		return options_usage_error(err);
	if (opt.help) {
		options_print_help(stdout, max_clients_ceiling());
		return 0;
	}
	if (opt.version) {
		printf("echoserv %s\n", ECHOSERV_VERSION);
		return 0;
	}
	if (!opt.have_port)
		return options_usage_error("missing port");
	log_quiet = opt.quiet;
	trace_on = opt.trace;

	int rc = net_listen(opt.bind_addr, opt.port, &listen_fd, where,
			    sizeof(where), err, sizeof(err));
	if (rc == NET_BAD_ADDRESS)
		return options_usage_error(err);
	if (rc != NET_OK) {
		log_server("%s", err);
		return 1;
	}
	static const int stop_signals[] = {SIGINT, SIGTERM};
	int signal_fd = signals_to_pipe(stop_signals, 2);
	if (signal_fd < 0 || signals_ignore_sigpipe() != 0) {
		log_server("cannot set up signal handling: %s",
			   strerror(errno));
		return 1;
	}
	/* Inherited descriptors could push ours past select()'s reach. */
	if (listen_fd >= FD_SETSIZE || signal_fd >= FD_SETSIZE) {
		log_server("too many inherited descriptors for select()");
		return 1;
	}

	log_server("listening on %s", where);
	struct server_config cfg = {
	    .max_clients = opt.max_clients,
	    .max_line = opt.max_line,
	    .idle_timeout = opt.idle_timeout,
	};
	return server_run(&cfg, listen_fd, signal_fd);
}
