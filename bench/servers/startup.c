/*
 * startup.c - the comparison servers' start-up (see startup.h).
 */
#include "startup.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "log.h"
#include "net.h"
#include "signals.h"

/*
 * --facts (scripts/bench_run.py reads them; src/startup.c prints the same
 * for the servers that start through it).  What these servers wait with,
 * and which holds one client at a time, is not among what they pass in,
 * so it is written here until they too start through src/startup.c.
 */
static void print_facts(const char *argv0, const char *model, size_t ceiling)
{
	static const struct {
		const char *name, *waits_with;
		bool one_client;
	} known[] = {
	    {"echoserv-threads", "read (a blocked thread per client)", false},
	    {"echoserv-fork", "read (a blocked process per client)", false},
	    {"echoserv-co", "select", false},
	    {"echoserv-iterative", "accept, then read", true},
	    {"echoserv-aio", "sigwaitinfo (aio completions)", false},
	    {"echoserv-uring", "io_uring_enter", false},
	};
	const char *slash = strrchr(argv0, '/');
	const char *name = slash != NULL ? slash + 1 : argv0;
	const char *waits_with = "?";
	bool one_client = false;

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(name, known[i].name) == 0) {
			waits_with = known[i].waits_with;
			one_client = known[i].one_client;
		}
	printf("name=%s\nmodel=%s\nwaits-with=%s\nceiling=%zu\n"
	       "clients=%s\nprotocol=echoserv\noptions=echoserv\n",
	       name, model, waits_with, ceiling, one_client ? "one" : "many");
}

int server_options(int argc, char **argv, const char *model, size_t ceiling,
		   struct options *o)
{
	char err[512];

	if (argc == 2 && strcmp(argv[1], "--facts") == 0) {
		print_facts(argv[0], model, ceiling);
		return 0;
	}
	if (options_parse(argc, argv, ceiling, o, err, sizeof(err)) != 0)
		return options_usage_error(err);
	if (o->help) {
		options_print_help(stdout, ceiling);
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
	return -1;
}

int server_listen(const struct options *o, int *listen_fd)
{
	char err[512], where[NET_ADDR_LEN];
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

int server_start(int argc, char **argv, const char *model, size_t ceiling,
		 struct options *o, int *listen_fd)
{
	int rc = server_options(argc, argv, model, ceiling, o);

	return rc >= 0 ? rc : server_listen(o, listen_fd);
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

size_t fd_ceiling(size_t own_fds)
{
	size_t limit = fd_limit();

	return limit > own_fds ? limit - own_fds : 1;
}
