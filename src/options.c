/*
 * options.c - turns argv into struct options, or into one clear complaint.
 */
#include "options.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "numbers.h"
#include "workers.h"
#include "protocol.h"

enum opt_kind { FLAG, VALUE };

/* Options without a one-letter form have a short_name above 'z', so every
 * option still has one code to switch on. */
enum {
	LINE_TIMEOUT = 256,
	MAX_PER_ADDR,
	RAW,
	UDP,
	USER,
	GROUP,
	LOG_TIME,
	PROXY_FROM,
	WORKERS
};

struct opt_spec {
	int short_name;
	const char *long_name;
	enum opt_kind kind;
};

static const struct opt_spec OPTS[] = {
    {'b', "bind", VALUE},
    {'c', "max-clients", VALUE},
    {'l', "max-line", VALUE},
    {'t', "idle-timeout", VALUE},
    {LINE_TIMEOUT, "line-timeout", VALUE},
    {MAX_PER_ADDR, "max-per-addr", VALUE},
    {RAW, "raw", FLAG},
    {UDP, "udp", FLAG},
    {PROXY_FROM, "proxy-from", VALUE},
    {WORKERS, "workers", VALUE},
    {USER, "user", VALUE},
    {GROUP, "group", VALUE},
    {LOG_TIME, "log-time", FLAG},
    {'T', "trace", FLAG},
    {'q', "quiet", FLAG},
    {'h', "help", FLAG},
    {'V', "version", FLAG},
};
#define N_OPTS (sizeof(OPTS) / sizeof(OPTS[0]))

void options_print_synopsis(FILE *out)
{
	fprintf(out, "usage: echoserv [options] <port>\n");
}

int options_usage_error(const char *problem)
{
	fprintf(stderr, "echoserv: %s\n", problem);
	options_print_synopsis(stderr);
	return 2;
}

/* Each line of the source is a line of the output, so that what --help
 * looks like can be read here (and kept in step with the man page). */
void options_print_help(FILE *out, size_t ceiling)
{
	size_t mib = ceiling; /* clients x 1 MiB lines, in MiB */

	options_print_synopsis(out);
	/* clang-format off */
	fprintf(out, "A single-threaded select() TCP server that echoes lines.\n");
	fprintf(out, "\n");
	fprintf(out, "  -b, --bind ADDR          listen address: IPv4 or IPv6 literal ([::1] too)\n");
	fprintf(out, "                           or host name (each of its addresses); default: all\n");
	fprintf(out, "                           addresses, [::] dual-stack or 0.0.0.0\n");
	fprintf(out, "  -c, --max-clients N      simultaneous clients (per worker), 1..%zu\n", ceiling);
	fprintf(out, "                           (default %zu)\n", ceiling);
	fprintf(out, "  -l, --max-line BYTES     longest line accepted, terminator included,\n");
	fprintf(out, "                           %d..%d (default %d)\n", MAX_LINE_MIN, MAX_LINE_MAX, MAX_LINE_DEFAULT);
	fprintf(out, "  -t, --idle-timeout SECS  close a client idle for SECS, 0..%d\n", TIMEOUT_MAX);
	fprintf(out, "                           (default %d; 0 = never)\n", IDLE_TIMEOUT_DEFAULT);
	fprintf(out, "      --line-timeout SECS  a line must arrive whole within SECS of its first\n");
	fprintf(out, "                           byte, 0..%d (default %d; 0 = never)\n", TIMEOUT_MAX, LINE_TIMEOUT_DEFAULT);
	fprintf(out, "      --max-per-addr N     simultaneous clients from one peer address,\n");
	fprintf(out, "                           0..%zu (default 0 = no limit)\n", ceiling);
	fprintf(out, "      --raw                RFC 862 echo: every byte back, no line framing\n");
	fprintf(out, "      --udp                also echo UDP datagrams on the same port(s)\n");
	fprintf(out, "      --workers N          N worker processes on the same port, 1..%d\n", WORKERS_MAX);
	fprintf(out, "                           (default 1: one process)\n");
	fprintf(out, "      --proxy-from LIST    these peers (ADDR[/BITS],...) begin with a PROXY\n");
	fprintf(out, "                           protocol header naming the real client\n");
	fprintf(out, "      --user NAME          once listening, drop privileges to this user\n");
	fprintf(out, "      --group NAME         ... and this group (default: the user's)\n");
	fprintf(out, "      --log-time           ISO 8601 UTC timestamps on log lines\n");
	fprintf(out, "  -T, --trace              classroom trace of the event loop on stderr\n");
	fprintf(out, "  -q, --quiet              keep only the listening lines, server errors and\n");
	fprintf(out, "                           the summary: nothing per client\n");
	fprintf(out, "  -h, --help               print this help and exit\n");
	fprintf(out, "  -V, --version            print the version and exit\n");
	fprintf(out, "\n");
	fprintf(out, "<port> is 0..65535; 0 picks a free port.  It is optional when systemd passes\n");
	fprintf(out, "the listening sockets (LISTEN_FDS).  A line whose content is \"quit\" ends the\n");
	fprintf(out, "conversation.  Memory: at most one buffer of max(--max-line, 4096) bytes per\n");
	fprintf(out, "client, e.g. %zu clients x 1 MiB lines = %zu MiB.  Exit status: 0 after\n", ceiling, mib);
	fprintf(out, "SIGINT/SIGTERM, 1 if the server cannot start, 2 on bad usage.\n");
	/* clang-format on */
}

static const struct opt_spec *find_short(char c)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (OPTS[i].short_name == c)
			return &OPTS[i];
	return NULL;
}

static const struct opt_spec *find_long(const char *name, size_t len)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (strlen(OPTS[i].long_name) == len &&
		    strncmp(OPTS[i].long_name, name, len) == 0)
			return &OPTS[i];
	return NULL;
}

/* Store the effect of a flag option (one that takes no value). */
static void apply_flag(const struct opt_spec *opt, struct options *o)
{
	switch (opt->short_name) {
	case UDP:
		o->udp = true;
		break;
	case RAW:
		o->raw = true;
		break;
	case LOG_TIME:
		o->log_time = true;
		break;
	case 'T':
		o->trace = true;
		break;
	case 'q':
		o->quiet = true;
		break;
	case 'h':
		o->help = true;
		break;
	case 'V':
		o->version = true;
		break;
	}
}

/* The state of one parse: where the values go and where a complaint does. */
struct parse {
	struct options *o;
	size_t ceiling;
	char *err;
	size_t err_len;
};

/* A number option's value in lo..hi into *out; else a complaint naming the
 * option and its range. */
static int number_value(struct parse *ps, const struct opt_spec *opt,
			const char *value, uintmax_t lo, uintmax_t hi,
			const char *unit, uintmax_t *out)
{
	if (parse_decimal(value, lo, hi, out))
		return 0;
	snprintf(ps->err, ps->err_len,
		 "invalid --%s '%s' (expected %s%ju..%ju)", opt->long_name,
		 value, unit, lo, hi);
	return -1;
}

/* A name option's value (address, user, group): anything but empty. */
static int name_value(struct parse *ps, const struct opt_spec *opt,
		      const char *value, const char **out)
{
	if (*value == '\0') {
		snprintf(ps->err, ps->err_len, "empty value for --%s",
			 opt->long_name);
		return -1;
	}
	*out = value;
	return 0;
}

static const char SECONDS[] = "a whole number of seconds, ";

/* Store an option's value; -1 with a message if the value is bad. */
static int apply_value(struct parse *ps, const struct opt_spec *opt,
		       const char *value)
{
	struct options *o = ps->o;
	uintmax_t v = 0;
	int rc;

	switch (opt->short_name) {
	case 'b':
		return name_value(ps, opt, value, &o->bind_addr);
	case PROXY_FROM:
		return name_value(ps, opt, value, &o->proxy_from);
	case WORKERS:
		rc = number_value(ps, opt, value, 1, WORKERS_MAX, "", &v);
		o->workers = (unsigned)v;
		return rc;
	case USER:
		return name_value(ps, opt, value, &o->user);
	case GROUP:
		return name_value(ps, opt, value, &o->group);
	case 'c':
		rc = number_value(ps, opt, value, 1, ps->ceiling, "", &v);
		o->max_clients = (size_t)v;
		return rc;
	case MAX_PER_ADDR:
		rc = number_value(ps, opt, value, 0, ps->ceiling, "", &v);
		o->max_per_addr = (size_t)v;
		return rc;
	case 'l':
		rc = number_value(ps, opt, value, MAX_LINE_MIN, MAX_LINE_MAX,
				  "", &v);
		o->max_line = (size_t)v;
		return rc;
	case 't':
		rc = number_value(ps, opt, value, 0, TIMEOUT_MAX, SECONDS, &v);
		o->idle_timeout = (unsigned)v;
		return rc;
	case LINE_TIMEOUT:
		rc = number_value(ps, opt, value, 0, TIMEOUT_MAX, SECONDS, &v);
		o->line_timeout = (unsigned)v;
		return rc;
	}
	snprintf(ps->err, ps->err_len, "internal error: option --%s",
		 opt->long_name);
	return -1;
}

/* How an option was written, for messages: "--name" or "-c". */
static void option_name(const struct opt_spec *opt, bool as_long, char *buf,
			size_t len)
{
	if (as_long)
		snprintf(buf, len, "--%s", opt->long_name);
	else
		snprintf(buf, len, "-%c", (char)opt->short_name);
}

/* A value option's value: inline (after = or the letter) or the next
 * argument.  Returns the argv slots used, or -1. */
static int take_value(struct parse *ps, const struct opt_spec *opt,
		      bool as_long, const char *inline_value, int argc,
		      char **argv, int i)
{
	if (inline_value != NULL)
		return apply_value(ps, opt, inline_value) == 0 ? 1 : -1;
	if (i + 1 >= argc) {
		char name[64];
		option_name(opt, as_long, name, sizeof(name));
		snprintf(ps->err, ps->err_len, "option '%s' needs a value",
			 name);
		return -1;
	}
	return apply_value(ps, opt, argv[i + 1]) == 0 ? 2 : -1;
}

/* "--name", "--name=value" or "--name value"; returns argv slots used. */
static int parse_long(struct parse *ps, int argc, char **argv, int i)
{
	const char *name = argv[i] + 2;
	const char *eq = strchr(name, '=');
	size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
	const struct opt_spec *opt = find_long(name, len);

	if (opt == NULL) {
		snprintf(ps->err, ps->err_len, "unknown option '--%.*s'",
			 (int)len, name);
		return -1;
	}
	if (opt->kind == VALUE)
		return take_value(ps, opt, true, eq != NULL ? eq + 1 : NULL,
				  argc, argv, i);
	if (eq != NULL) {
		snprintf(ps->err, ps->err_len, "option '--%s' takes no value",
			 opt->long_name);
		return -1;
	}
	apply_flag(opt, ps->o);
	return 1;
}

/* "-qT", "-c5" or "-c 5"; returns argv slots used. */
static int parse_short(struct parse *ps, int argc, char **argv, int i)
{
	for (const char *p = argv[i] + 1; *p != '\0'; p++) {
		const struct opt_spec *opt = find_short(*p);
		if (opt == NULL) {
			snprintf(ps->err, ps->err_len, "unknown option '-%c'",
				 *p);
			return -1;
		}
		if (opt->kind == VALUE)
			return take_value(ps, opt, false,
					  p[1] != '\0' ? p + 1 : NULL, argc,
					  argv, i);
		apply_flag(opt, ps->o);
	}
	return 1;
}

static int set_port(struct parse *ps, const char *text)
{
	uintmax_t v;

	if (ps->o->have_port) {
		snprintf(ps->err, ps->err_len,
			 "unexpected argument '%s' (one port only)", text);
		return -1;
	}
	if (!parse_decimal(text, 0, 65535, &v)) {
		snprintf(ps->err, ps->err_len,
			 "invalid port '%s' (expected 0..65535)", text);
		return -1;
	}
	ps->o->port = (unsigned)v;
	ps->o->have_port = true;
	return 0;
}

static bool looks_negative(const char *arg)
{
	return arg[0] == '-' && arg[1] >= '0' && arg[1] <= '9';
}

int options_parse(int argc, char **argv, size_t ceiling, struct options *o,
		  char *err, size_t err_len)
{
	bool only_operands = false;

	memset(o, 0, sizeof(*o));
	struct parse ps = {o, ceiling, err, err_len};
	o->max_clients = ceiling;
	o->max_line = MAX_LINE_DEFAULT;
	o->workers = 1;
	o->idle_timeout = IDLE_TIMEOUT_DEFAULT;
	o->line_timeout = LINE_TIMEOUT_DEFAULT;

	for (int i = 1; i < argc;) {
		const char *arg = argv[i];
		int used;

		if (only_operands || arg[0] != '-' || arg[1] == '\0' ||
		    looks_negative(arg)) {
			if (set_port(&ps, arg) != 0)
				return -1;
			used = 1;
		} else if (strcmp(arg, "--") == 0) {
			only_operands = true;
			used = 1;
		} else if (arg[1] == '-') {
			used = parse_long(&ps, argc, argv, i);
		} else {
			used = parse_short(&ps, argc, argv, i);
		}
		if (used < 0)
			return -1;
		i += used;
	}
	if (o->group != NULL && o->user == NULL) {
		snprintf(err, err_len, "--group needs --user");
		return -1;
	}
	return 0;
}
