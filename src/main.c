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

#define EXIT_USAGE 2

/* The self-pipe: the handler writes a byte, select() sees the read end.
 * That way a signal can never slip in between a check and the select() call
 * and go unnoticed until the next client speaks. */
static int signal_pipe[2] = {-1, -1};

static void on_stop_signal(int signo)
{
	int saved = errno;
	unsigned char b = (unsigned char)signo;
	ssize_t n = write(signal_pipe[1], &b, 1);

	(void)n; /* a full pipe already holds enough wake-ups */
	errno = saved;
}

/* The signal pipe, nonblocking at both ends, and the handlers.
 * Returns 0 or -1 with errno. */
static int install_signals(void)
{
	struct sigaction sa;

	if (pipe(signal_pipe) != 0)
		return -1;
	for (int i = 0; i < 2; i++)
		if (net_set_nonblocking(signal_pipe[i]) != 0 ||
		    net_set_cloexec(signal_pipe[i]) != 0)
			return -1;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN; /* a client that vanishes must not kill us */
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return -1;
	sa.sa_handler = on_stop_signal;
	if (sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGTERM, &sa, NULL) != 0)
		return -1;
	return 0;
}

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

static int usage_error(const char *problem)
{
	fprintf(stderr, "echoserv: %s\n", problem);
	options_print_synopsis(stderr);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct options opt;
	char err[512], where[NET_ADDR_LEN];
	int listen_fd;

	if (ensure_stdio_open() != 0)
		return 1; /* nowhere to say so: stderr is closed */
	if (options_parse(argc, argv, &opt, err, sizeof(err)) != 0)
		return usage_error(err);
	if (opt.help) {
		options_print_help(stdout);
		return 0;
	}
	if (opt.version) {
		printf("echoserv %s\n", ECHOSERV_VERSION);
		return 0;
	}
	log_quiet = opt.quiet;
	trace_on = opt.trace;

	int rc = net_listen(opt.bind_addr, opt.port, &listen_fd, where,
			    sizeof(where), err, sizeof(err));
	if (rc == NET_BAD_ADDRESS)
		return usage_error(err);
	if (rc != NET_OK) {
		log_server("%s", err);
		return 1;
	}
	if (install_signals() != 0) {
		log_server("cannot set up signal handling: %s",
			   strerror(errno));
		return 1;
	}
	/* Inherited descriptors could push ours past select()'s reach. */
	if (listen_fd >= FD_SETSIZE || signal_pipe[0] >= FD_SETSIZE) {
		log_server("too many inherited descriptors for select()");
		return 1;
	}

	log_server("listening on %s", where);
	struct server_config cfg = {
	    .max_clients = opt.max_clients,
	    .max_line = opt.max_line,
	    .idle_timeout = opt.idle_timeout,
	};
	return server_run(&cfg, listen_fd, signal_pipe[0]);
}
