/*
 * options.h - the command line (docs/protocol.md section 2), parsed without
 * getopt so options may come before or after the port on every system.
 */
#ifndef ECHOSERV_OPTIONS_H
#define ECHOSERV_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define ECHOSERV_VERSION "1.1.0"

#define IDLE_TIMEOUT_DEFAULT 300
#define LINE_TIMEOUT_DEFAULT 60
#define TIMEOUT_MAX          86400

struct options {
	const char *bind_addr; /* NULL: all addresses */
	unsigned port;
	bool have_port;     /* false: no port given (socket activation) */
	size_t max_clients; /* 1 .. ceiling */
	size_t max_line;
	unsigned idle_timeout;  /* seconds; 0 = never */
	unsigned line_timeout;  /* seconds; 0 = never */
	size_t max_per_addr;    /* clients from one address; 0 = no limit */
	bool raw;               /* RFC 862: every byte back, no framing */
	bool udp;               /* RFC 862 over UDP too */
	const char *proxy_from; /* --proxy-from's list as given, or NULL */
	unsigned workers;       /* --workers: processes, 1 = just this one */
	const char *user;       /* drop privileges to them, or NULL */
	const char *group;
	bool log_time; /* ISO 8601 UTC timestamps on log lines */
	bool trace;
	bool quiet;
	bool help;
	bool version;
};

/*
 * Fill o from argv.  ceiling is the most clients the program can serve:
 * --max-clients defaults to it and may not exceed it.  Returns 0, or -1
 * with one line naming the problem in err (bad usage: the caller prints it
 * with the usage line and exits 2).  A missing port is not an error here:
 * o->have_port says whether one was given, and the caller decides (it is
 * optional only when the sockets are inherited).
 */
int options_parse(int argc, char **argv, size_t ceiling, struct options *o,
		  char *err, size_t err_len);

/* Bad usage: print "echoserv: <problem>" and the synopsis on stderr, and
 * return the exit status for it, 2. */
int options_usage_error(const char *problem);

/* The one-line synopsis, "usage: echoserv [options] <port>". */
void options_print_synopsis(FILE *out);

/* The full --help text; ceiling as for options_parse(). */
void options_print_help(FILE *out, size_t ceiling);

#endif
