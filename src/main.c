/*
 * main.c - parse the options, take the listening sockets (inherited from
 * systemd or bound here), drop privileges, install the signal handlers, and
 * hand over to the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include "activation.h"
#include "log.h"
#include "net.h"
#include "options.h"
#include "privileges.h"
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

/*
 * The listening sockets: those systemd passed, else bound as the options
 * say.  Returns 0, or the exit status for a failure already reported (2
 * for bad usage, 1 for a start-up failure).
 */
static int take_listeners(const struct options *opt, struct listener *out,
			  size_t *n)
{
	char err[512];
	int inherited =
	    activation_listeners(out, NET_MAX_LISTENERS, err, sizeof(err));
	if (inherited < 0) {
		log_server("%s", err);
		return 1;
	}
	if (inherited > 0) {
		*n = (size_t)inherited;
		if (opt->have_port || opt->bind_addr != NULL)
			return options_usage_error(
			    "no port or --bind with sockets passed by systemd "
			    "(LISTEN_FDS)");
		return 0;
	}
	if (!opt->have_port)
		return options_usage_error("missing port");
	int rc = net_listen_all(opt->bind_addr, opt->port, out,
				NET_MAX_LISTENERS, n, err, sizeof(err));
	if (rc == NET_BAD_ADDRESS)
		return options_usage_error(err);
	if (rc != NET_OK) {
		log_server("%s", err);
		return 1;
	}
	return 0;
}

/* Root is needed to bind a port below 1024, and for nothing after that. */
static void warn_if_needlessly_root(const struct options *opt,
				    const struct listener *l, size_t n)
{
	if (opt->user != NULL || geteuid() != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *colon = strrchr(l[i].where, ':');
		if (strncmp(l[i].where, "unix:", 5) == 0)
			continue; /* a path, not a port */
		if (colon != NULL && strtol(colon + 1, NULL, 10) < 1024) {
			log_client("warning: still root after binding %s; "
				   "--user NAME would drop privileges",
				   l[i].where);
			return;
		}
	}
}

int main(int argc, char **argv)
{
	static struct listener listeners[NET_MAX_LISTENERS];
	struct options opt;
	char err[512];
	size_t n = 0;

	if (ensure_stdio_open() != 0)
		return 1; /* nowhere to say so: stderr is closed */
	/* First of all: a message written to a stderr whose reader has gone
	 * must fail with EPIPE, not kill us before we can exit 2 or 1. */
	if (signals_ignore_sigpipe() != 0)
		return 1;
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
	log_init(opt.log_time);
	log_quiet = opt.quiet;
	trace_on = opt.trace;

	int rc = take_listeners(&opt, listeners, &n);
	if (rc != 0)
		return rc;
	if (opt.user != NULL &&
	    drop_privileges(opt.user, opt.group, err, sizeof(err)) != 0) {
		log_server("%s", err);
		return 1;
	}
	/* SIGINT and SIGTERM stop the server gracefully, SIGUSR1 asks for a
	 * status line: all three through the self-pipe.  SIGUSR2 and SIGALRM
	 * mean nothing to echoserv, and a stray one must not kill it.
	 * SIGHUP and SIGQUIT keep their default: the way to end it at once
	 * (docs/protocol.md section 2). */
	static const int routed[] = {SIGINT, SIGTERM, SIGUSR1};
	static const int ignored[] = {SIGUSR2, SIGALRM};
	int signal_fd = signals_to_pipe(routed, 3);
	if (signal_fd < 0 || signals_ignore(ignored, 2) != 0) {
		log_server("cannot set up signal handling: %s",
			   strerror(errno));
		return 1;
	}
	/* Inherited descriptors could push ours past select()'s reach. */
	for (size_t i = 0; i < n; i++)
		if (listeners[i].fd >= FD_SETSIZE || signal_fd >= FD_SETSIZE) {
			log_server("too many inherited descriptors for "
				   "select()");
			return 1;
		}

	for (size_t i = 0; i < n; i++)
		log_server("listening on %s", listeners[i].where);
	if (opt.user != NULL)
		log_client("running as user %s (uid %lu, gid %lu)", opt.user,
			   (unsigned long)getuid(), (unsigned long)getgid());
	warn_if_needlessly_root(&opt, listeners, n);
	if (opt.raw)
		log_client("raw mode (RFC 862): every byte is echoed, no line "
			   "framing");
	struct conn_config cfg = {
	    .max_clients = opt.max_clients,
	    .max_line = opt.max_line,
	    .idle_timeout = opt.idle_timeout,
	    .line_timeout = opt.line_timeout,
	    .max_per_addr = opt.max_per_addr,
	    .raw = opt.raw,
	};
	return server_run(&cfg, listeners, n, signal_fd);
}
