/*
 * server_log.h - reading what the server wrote: its stderr file, lines
 * counted or waited for, the listening line.
 *
 * Only complete lines count: a line still being written has no LF yet.
 */
#ifndef TEST_SUPPORT_SERVER_LOG_H
#define TEST_SUPPORT_SERVER_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "server_process.h"

/* The whole of a file as a NUL-terminated malloc'd string ("" if it is
 * missing); *len (if not NULL) gets its length.  Never NULL. */
char *read_file_text(const char *path, size_t *len);

/* p's stderr so far (caller frees). */
char *proc_log(const struct proc *p);

/* p's stdout so far (caller frees). */
char *proc_stdout(const struct proc *p);

/* How many complete lines of text contain needle. */
int count_lines(const char *text, const char *needle);

/* How many lines of p's stderr contain needle. */
int log_count(const struct proc *p, const char *needle);

/* Lines of the file at path that contain needle, or -1 if it cannot be
 * read. */
long file_count_lines(const char *path, const char *needle);

/* Wait up to timeout s until at least n lines of p's stderr contain
 * needle.  Returns true if they did. */
bool log_wait_count(const struct proc *p, const char *needle, int n,
		    double timeout);

/* log_wait_count with n = 1. */
bool log_wait(const struct proc *p, const char *needle, double timeout);

/*
 * The first complete line of text containing needle, copied into line
 * (without its LF) -- or, if after is not NULL, the first such line after
 * the first line containing after.  Returns false if there is none.
 */
bool find_line(const char *text, const char *needle, const char *after,
	       char *line, size_t line_len);

/*
 * The first "echoserv: listening on ADDR:PORT" line in text: ADDR:PORT
 * into addr, the port into *port.  False if there is none yet.
 */
bool parse_listening_line(const char *text, char *addr, size_t addr_len,
			  int *port);

/* The sum of N over the "echoserv: N log lines dropped" lines of text
 * ("1 log line dropped" too); *reports (if not NULL) gets how many such
 * lines there were. */
long log_dropped_total(const char *text, int *reports);

/* Where the last n lines of text (len bytes) begin. */
const char *last_lines(const char *text, size_t len, int n);

#endif
