/*
 * oracle.c - the expected reply to a byte stream, straight from
 * docs/protocol.md §3.
 *
 * Deliberately naive: one pass over the whole input, one line at a time,
 * no buffers, no state machine.  Its only job is to be obviously right.
 */
#include "oracle.h"

#include <stdio.h>
#include <string.h>

/* docs/protocol.md §3.3: the content before the LF is exactly "quit" or
 * "quit\r". */
static bool content_is_quit(const unsigned char *line, size_t content_len)
{
	if (content_len == 4)
		return memcmp(line, "quit", 4) == 0;
	if (content_len == 5)
		return memcmp(line, "quit\r", 5) == 0;
	return false;
}

/* Append n bytes to out; the caller sized out generously. */
static void put(unsigned char *out, size_t out_cap, struct oracle_result *res,
		const void *bytes, size_t n)
{
	if (res->out_len + n > out_cap)
		n = out_cap - res->out_len; /* cannot happen: see the header */
	memcpy(out + res->out_len, bytes, n);
	res->out_len += n;
}

/* docs/protocol.md §3.5: the error message after the replies already owed. */
static void put_too_long(unsigned char *out, size_t out_cap,
			 struct oracle_result *res, size_t max_line)
{
	char msg[64];
	int len =
	    snprintf(msg, sizeof(msg),
		     "error: line too long (limit %zu bytes)\r\n", max_line);

	put(out, out_cap, res, msg, (size_t)len);
	res->end = ORACLE_TOO_LONG;
}

void oracle_expect(const unsigned char *in, size_t n, size_t max_line, bool eof,
		   unsigned char *out, size_t out_cap,
		   struct oracle_result *res)
{
	size_t start = 0;

	memset(res, 0, sizeof(*res));
	res->end = ORACLE_OPEN;
	while (start < n) {
		const unsigned char *lf = memchr(in + start, '\n', n - start);
		/* The line's content: everything up to the LF, or to the end
		 * of the input when there is no LF yet. */
		size_t content =
		    lf != NULL ? (size_t)(lf - (in + start)) : n - start;

		/* A line of max_line bytes or more without its LF: as soon
		 * as the server holds max_line of them, it is an error, even
		 * if the LF would have come in the very next byte. */
		if (content >= max_line) {
			res->consumed = start + max_line;
			put_too_long(out, out_cap, res, max_line);
			return;
		}
		if (lf == NULL)
			break; /* an unterminated final line */
		if (content_is_quit(in + start, content)) {
			res->consumed = start + content + 1;
			res->end = ORACLE_QUIT;
			return;
		}
		put(out, out_cap, res, in + start, content + 1);
		res->echo_len += content + 1;
		res->echo_lines++;
		start += content + 1;
	}
	res->consumed = n;
	if (!eof)
		return;
	if (start < n) { /* docs/protocol.md §3.6: echoed as it is */
		put(out, out_cap, res, in + start, n - start);
		res->echo_len += n - start;
		res->echo_lines++;
	}
	res->end = ORACLE_EOF;
}
