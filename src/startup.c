/*
 * startup.c - how every server of the project starts (see startup.h).
 */
#include "startup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "activation.h"
#include "log.h"
#include "privileges.h"
#include "signals.h"
#include "workers.h"

/* Where the descriptor table stops being worth counting to. */
#define FD_LIMIT_MAX ((size_t)1 << 20)

size_t startup_fd_limit(void)
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
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > FD_LIMIT_MAX)
		return FD_LIMIT_MAX;
	return (size_t)rl.rlim_cur;
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

/*
 * The datagram sockets: those systemd passed move from the listeners to
 * st->udp (served whether or not --udp was given: the socket unit asked
 * for them); with --udp and sockets bound here, one beside each listening
 * socket, on the same address and port.  Returns 0, or 1 after a
 * start-up failure it reported.
 */
static int take_udp_sockets(struct startup *st)
{
	char err[512];
	size_t kept = 0;

	for (size_t i = 0; i < st->nlisteners; i++) {
		if (st->listeners[i].datagram)
			st->udp[st->nudp++] = st->listeners[i];
		else
			st->listeners[kept++] = st->listeners[i];
	}
	st->nlisteners = kept;
	if (!st->opt.udp || st->nudp > 0 || st->nlisteners == 0)
		return 0;
	if (net_bind_udp(st->listeners, st->nlisteners, st->udp, err,
			 sizeof(err)) != NET_OK) {
		log_server("%s", err);
		return 1;
	}
	st->nudp = st->nlisteners;
	return 0;
}

/* --help and --version: echoserv's own text, and for a comparison
 * server a line naming its model. */
static void print_help(const struct startup_model *m)
{
	options_print_help(stdout, m->ceiling);
	if (m->name != NULL)
		printf("\nThis build is a comparison server for benchmarks: "
		       "%s.\n",
		       m->name);
}

static void print_version(const struct startup_model *m)
{
	if (m->name != NULL)
		printf("echoserv %s (%s)\n", ECHOSERV_VERSION, m->name);
	else
		printf("echoserv %s\n", ECHOSERV_VERSION);
}

/* --facts: the server's name as it was started, and its model, for
 * scripts/bench_run.py (docs/io-models.md). */
static void print_facts(const char *argv0, const struct startup_model *m)
{
	const char *slash = strrchr(argv0, '/');

	printf("name=%s\n", slash != NULL ? slash + 1 : argv0);
	printf("model=%s\n", m->name != NULL ? m->name : "select() event loop");
	printf("waits-with=%s\n",
	       m->waits_with != NULL ? m->waits_with : "select");
	printf("ceiling=%zu\n", m->ceiling);
	printf("clients=%s\n", m->one_client ? "one" : "many");
	printf("protocol=echoserv\n");
	printf("options=echoserv\n");
}

/*
 * SIGINT and SIGTERM stop the server gracefully, SIGUSR1 asks for a status
 * line: all three through the self-pipe.  SIGUSR2 and SIGALRM mean nothing
 * to echoserv, and a stray one must not kill it.  SIGHUP and SIGQUIT keep
 * their default: the way to end it at once (docs/protocol.md section 2).
 * also_routed (if not 0) goes through the pipe too.  Returns the pipe's
 * read end, or -1 with errno.
 */
int startup_signals(int also_routed)
{
	const int routed[] = {SIGINT, SIGTERM, SIGUSR1, also_routed};
	static const int ignored[] = {SIGUSR2, SIGALRM};
	int signal_fd = signals_to_pipe(routed, also_routed != 0 ? 4 : 3);

	if (signal_fd < 0 || signals_ignore(ignored, 2) != 0)
		return -1;
	return signal_fd;
}

/* The lines that say how the server runs, once it is listening. */
static void announce(const struct startup *st)
{
	for (size_t i = 0; i < st->nlisteners; i++)
		log_server("listening on %s", st->listeners[i].where);
	for (size_t i = 0; i < st->nudp; i++)
		log_server("listening on %s (udp)", st->udp[i].where);
	if (st->opt.user != NULL)
		log_client("running as user %s (uid %lu, gid %lu)",
			   st->opt.user, (unsigned long)getuid(),
			   (unsigned long)getgid());
	warn_if_needlessly_root(&st->opt, st->listeners, st->nlisteners);
	if (st->opt.raw)
		log_client("raw mode (RFC 862): every byte is echoed, no line "
			   "framing");
	if (st->opt.proxy_from != NULL)
		log_client("PROXY protocol headers expected from %s",
			   st->opt.proxy_from);
}

int startup(int argc, char **argv, const struct startup_model *model,
	    struct startup *st)
{
	char err[512];

	memset(st, 0, sizeof(*st));
	st->totals_fd = -1;
	st->handoff_fd = -1;
	if (argc == 2 && strcmp(argv[1], "--facts") == 0) {
		print_facts(argv[0], model);
		return 0;
	}
	if (ensure_stdio_open() != 0)
		return 1; /* nowhere to say so: stderr is closed */
	/* First of all: a message written to a stderr whose reader has gone
	 * must fail with EPIPE, not kill us before we can exit 2 or 1. */
	if (signals_ignore_sigpipe() != 0)
		return 1;
	if (options_parse(argc, argv, model->ceiling, &st->opt, err,
			  sizeof(err)) != 0)
		return options_usage_error(err);
	if (st->opt.help || st->opt.version) {
		if (st->opt.help)
			print_help(model);
		else
			print_version(model);
		return 0;
	}
	if (st->opt.proxy_from != NULL &&
	    proxy_from_parse(st->opt.proxy_from, &st->proxy_from, err,
			     sizeof(err)) != 0)
		return options_usage_error(err);
	log_init(st->opt.log_time);
	log_quiet = st->opt.quiet;
	trace_on = st->opt.trace;

	int rc = model->can_run != NULL ? model->can_run(model->ctx) : 0;
	if (rc != 0)
		return rc;
	/* Workers of their own on one port need every socket to allow it
	 * from the start; sockets systemd passed are shared as they are. */
	if (st->opt.workers > 1 && getenv("LISTEN_FDS") == NULL)
		st->ports_shared = net_share_port();
	rc = take_listeners(&st->opt, st->listeners, &st->nlisteners);
	if (rc == 0)
		rc = take_udp_sockets(st);
	if (rc != 0)
		return rc;
	if (st->opt.user != NULL && drop_privileges(st->opt.user, st->opt.group,
						    err, sizeof(err)) != 0) {
		log_server("%s", err);
		return 1;
	}
	/* The parent of --workers hears of its workers' ends (SIGCHLD); each
	 * worker routes what the model asks for, as a single process does. */
	st->also_routed = model->also_routed;
	st->signal_fd =
	    startup_signals(st->opt.workers > 1 ? SIGCHLD : model->also_routed);
	if (st->signal_fd < 0) {
		log_server("cannot set up signal handling: %s",
			   strerror(errno));
		return 1;
	}
	/* Inherited descriptors could push ours past the loop's reach. */
	for (size_t i = 0; model->fd_bound > 0 && i < NET_MAX_LISTENERS; i++)
		if ((i < st->nlisteners &&
		     (size_t)st->listeners[i].fd >= model->fd_bound) ||
		    (i < st->nudp &&
		     (size_t)st->udp[i].fd >= model->fd_bound) ||
		    (size_t)st->signal_fd >= model->fd_bound) {
			log_server("too many inherited descriptors for "
				   "select()");
			return 1;
		}
	announce(st);
	st->cfg = (struct conn_config){
	    .max_clients = st->opt.max_clients,
	    .max_line = st->opt.max_line,
	    .idle_timeout = st->opt.idle_timeout,
	    .line_timeout = st->opt.line_timeout,
	    .max_per_addr = st->opt.max_per_addr,
	    .raw = st->opt.raw,
	    .proxy_from = st->opt.proxy_from != NULL ? &st->proxy_from : NULL,
	    .totals_fd = -1,
	};
	return -1;
}

int startup_serve(struct startup *st, int (*serve)(struct startup *))
{
	if (st->opt.workers > 1)
		return workers_run(st, serve);
	return serve(st);
}
