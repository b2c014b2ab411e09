/*
 * options.c - turns argv into struct options, or into one clear complaint.
 */
#include "options.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "server.h"

enum opt_kind { FLAG, VALUE };

struct opt_spec {
	char short_name;
	const char *long_name;
	enum opt_kind kind;
};

static const struct opt_spec OPTS[] = {
    {'b', "bind", VALUE},     {'c', "max-clients", VALUE},
    {'l', "max-line", VALUE}, {'t', "idle-timeout", VALUE},
    {'T', "trace", FLAG},     {'q', "quiet", FLAG},
    {'h', "help", FLAG},      {'V', "version", FLAG},
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

void options_print_help(FILE *out)
{
	options_print_synopsis(out);
	fprintf(
	    out,
	    "A single-threaded select() TCP server that echoes lines.\n"
	    "\n"
	    "  -b, --bind ADDR          listen address: IPv4 or IPv6 "
	    "literal or host name\n"
	    "                           (default: all addresses, [::] "
	    "dual-stack or 0.0.0.0)\n"
	    "  -c, --max-clients N      simultaneous clients, 1..%zu "
	    "(default %zu)\n"
	    "  -l, --max-line BYTES     longest line accepted, terminator "
	    "included,\n"
	    "                           %d..%d (default %d)\n"
	    "  -t, --idle-timeout SECS  close a client idle for SECS, "
	    "0..%d (default %d; 0 = never)\n"
	    "  -T, --trace              classroom trace of the event loop "
	    "on stderr\n"
	    "  -q, --quiet              log errors only\n"
	    "  -h, --help               print this help and exit\n"
	    "  -V, --version            print the version and exit\n"
	    "\n"
	    "<port> is 0..65535; 0 picks a free port.  A line whose content "
	    "is \"quit\"\n"
	    "ends the conversation.  Exit status: 0 after SIGINT/SIGTERM, "
	    "1 if the server\n"
	    "cannot start, 2 on bad usage.\n",
	    max_clients_ceiling(), max_clients_ceiling(), MAX_LINE_MIN,
	    MAX_LINE_MAX, MAX_LINE_DEFAULT, IDLE_TIMEOUT_MAX,
	    IDLE_TIMEOUT_DEFAULT);
}

/* A whole decimal number in lo..hi, digits only (no sign, no spaces). */
static bool parse_number(const char *text, uintmax_t lo, uintmax_t hi,
			 uintmax_t *out)
{
	uintmax_t v = 0;

	if (*text == '\0')
		return false;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (uintmax_t)(*p - '0');
		if (v > hi)
			return false; /* also stops overflow */
	}
	if (v < lo)
		return false;
	*out = v;
	return true;
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

/* Store an option's value; -1 with a message if the value is bad. */
static int apply_value(const struct opt_spec *opt, const char *value,
		       struct options *o, char *err, size_t err_len)
{
	uintmax_t v;

	switch (opt->short_name) {
	case 'b':
		if (*value == '\0') {
			snprintf(err, err_len, "empty address for --bind");
			return -1;
		}
		o->bind_addr = value;
		return 0;
	case 'c':
		if (!parse_number(value, 1, max_clients_ceiling(), &v)) {
			snprintf(err, err_len,
				 "invalid --max-clients '%s' (expected 1..%zu)",
				 value, max_clients_ceiling());
			return -1;
		}
		o->max_clients = (size_t)v;
		return 0;
	case 'l':
		if (!parse_number(value, MAX_LINE_MIN, MAX_LINE_MAX, &v)) {
			snprintf(err, err_len,
				 "invalid --max-line '%s' (expected %d..%d)",
				 value, MAX_LINE_MIN, MAX_LINE_MAX);
			return -1;
		}
		o->max_line = (size_t)v;
		return 0;
	case 't':
		if (!parse_number(value, 0, IDLE_TIMEOUT_MAX, &v)) {
			snprintf(
			    err, err_len,
			    "invalid --idle-timeout '%s' (expected a whole "
			    "number of seconds, 0..%d)",
			    value, IDLE_TIMEOUT_MAX);
			return -1;
		}
		o->idle_timeout = (unsigned)v;
		return 0;
	}
	snprintf(err, err_len, "internal error: option -%c", opt->short_name);
	return -1;
}

/* "--name", "--name=value" or "--name value"; returns argv slots used. */
static int parse_long(int argc, char **argv, int i, struct options *o,
		      char *err, size_t err_len)
{
	const char *name = argv[i] + 2;
	const char *eq = strchr(name, '=');
	size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
	const struct opt_spec *opt = find_long(name, len);

	if (opt == NULL) {
		snprintf(err, err_len, "unknown option '--%.*s'", (int)len,
			 name);
		return -1;
	}
	if (opt->kind == FLAG) {
		if (eq != NULL) {
			snprintf(err, err_len, "option '--%s' takes no value",
				 opt->long_name);
			return -1;
		}
		apply_flag(opt, o);
		return 1;
	}
	if (eq != NULL)
		return apply_value(opt, eq + 1, o, err, err_len) == 0 ? 1 : -1;
	if (i + 1 >= argc) {
		snprintf(err, err_len, "option '--%s' needs a value",
			 opt->long_name);
		return -1;
	}
	return apply_value(opt, argv[i + 1], o, err, err_len) == 0 ? 2 : -1;
}

/* "-qT", "-c5" or "-c 5"; returns argv slots used. */
static int parse_short(int argc, char **argv, int i, struct options *o,
		       char *err, size_t err_len)
{
	for (const char *p = argv[i] + 1; *p != '\0'; p++) {
		const struct opt_spec *opt = find_short(*p);
		if (opt == NULL) {
			snprintf(err, err_len, "unknown option '-%c'", *p);
			return -1;
		}
		if (opt->kind == FLAG) {
			apply_flag(opt, o);
			continue;
		}
		if (p[1] != '\0')
			return apply_value(opt, p + 1, o, err, err_len) == 0
				   ? 1
				   : -1;
		if (i + 1 >= argc) {
			snprintf(err, err_len, "option '-%c' needs a value",
				 *p);
			return -1;
		}
		return apply_value(opt, argv[i + 1], o, err, err_len) == 0 ? 2
									   : -1;
	}
	return 1;
}

static int set_port(const char *text, struct options *o, bool *have_port,
		    char *err, size_t err_len)
{
	uintmax_t v;

	if (*have_port) {
		snprintf(err, err_len,
			 "unexpected argument '%s' (one port only)", text);
		return -1;
	}
	if (!parse_number(text, 0, 65535, &v)) {
		snprintf(err, err_len, "invalid port '%s' (expected 0..65535)",
			 text);
		return -1;
	}
	o->port = (unsigned)v;
	*have_port = true;
	return 0;
}

static bool looks_negative(const char *arg)
{
	return arg[0] == '-' && arg[1] >= '0' && arg[1] <= '9';
}

int options_parse(int argc, char **argv, struct options *o, char *err,
		  size_t err_len)
{
	bool have_port = false, only_operands = false;

	memset(o, 0, sizeof(*o));
	o->max_clients = max_clients_ceiling();
	o->max_line = MAX_LINE_DEFAULT;
	o->idle_timeout = IDLE_TIMEOUT_DEFAULT;

	for (int i = 1; i < argc;) {
		const char *arg = argv[i];
		int used;

		if (only_operands || arg[0] != '-' || arg[1] == '\0' ||
		    looks_negative(arg)) {
			if (set_port(arg, o, &have_port, err, err_len) != 0)
				return -1;
			used = 1;
		} else if (strcmp(arg, "--") == 0) {
			only_operands = true;
			used = 1;
		} else if (arg[1] == '-') {
			used = parse_long(argc, argv, i, o, err, err_len);
		} else {
			used = parse_short(argc, argv, i, o, err, err_len);
		}
		if (used < 0)
			return -1;
		i += used;
	}
	if (!have_port && !o->help && !o->version) {
		snprintf(err, err_len, "missing port");
		return -1;
	}
	return 0;
}
