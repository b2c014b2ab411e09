/*
 * options.h - the command line (SPEC section 2), parsed without getopt so
 * options may come before or after the port on every system.
 */
#ifndef ECHOSERV_OPTIONS_H
#define ECHOSERV_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define ECHOSERV_VERSION "1.0.0"

#define IDLE_TIMEOUT_DEFAULT 300
#define IDLE_TIMEOUT_MAX     86400

struct options {
	const char *bind_addr; /* NULL: all addresses */
	unsigned port;
	size_t max_clients; /* 1 .. max_clients_ceiling() */
	size_t max_line;
	unsigned idle_timeout; /* seconds; 0 = never */
	bool trace;
	bool quiet;
	bool help;
	bool version;
};

/*
 * Fill o from argv.  Returns 0, or -1 with one line naming the problem in
 * err (bad usage: the caller prints it with the usage line and exits 2).
 * With --help or --version the port may be missing.
 */
int options_parse(int argc, char **argv, struct options *o, char *err,
		  size_t err_len);

/* Bad usage: print "echoserv: <problem>" and the synopsis on stderr, and
 * return the exit status for it, 2. */
int options_usage_error(const char *problem);

/* The one-line synopsis, "usage: echoserv [options] <port>". */
void options_print_synopsis(FILE *out);

/* The full --help text. */
void options_print_help(FILE *out);

#endif
