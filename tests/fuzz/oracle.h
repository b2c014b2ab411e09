/*
 * oracle.h - what docs/protocol.md section 3 says a session must send back,
 * computed directly from the rules, written without looking at protocol.c.
 *
 * The oracle sees the whole input at once (no reads, no buffers): it walks
 * the lines of the stream and applies rules 3.1-3.6.  The fuzzer compares
 * its answer with what the real state machine produced from the same bytes
 * cut at arbitrary points.
 */
#ifndef ECHOSERV_FUZZ_ORACLE_H
#define ECHOSERV_FUZZ_ORACLE_H

#include <stdbool.h>
#include <stddef.h>

/* How the conversation ends in the oracle's view. */
enum oracle_end {
	ORACLE_OPEN,     /* still going: the client may send more */
	ORACLE_QUIT,     /* a "quit" line */
	ORACLE_TOO_LONG, /* max_line bytes of a line held without LF */
	ORACLE_EOF       /* end of input */
};

struct oracle_result {
	enum oracle_end end;
	size_t echo_len;   /* echoed bytes at the front of out */
	size_t echo_lines; /* lines echoed (a final unterminated one too) */
	size_t out_len;    /* echo_len plus the error message, if any */
	size_t consumed;   /* input bytes the rules looked at */
};

/*
 * Expected reply to the n input bytes in, for a server with the given
 * max_line, written to out (out_cap must be at least n + 64).  eof: the
 * client half-closed after the last byte.  partial_kept: when false, an
 * unterminated final line is simply not echoed (graceful shutdown drops it,
 * docs/protocol.md §4); when eof is true it is echoed (§3.6).
 */
void oracle_expect(const unsigned char *in, size_t n, size_t max_line, bool eof,
		   unsigned char *out, size_t out_cap,
		   struct oracle_result *res);

#endif
