/*
 * conversation.h - one whole conversation with the server: connect, send
 * some bytes, perhaps half-close, and compare everything it sends back, up
 * to its close, with the exact reply expected.
 */
#ifndef TEST_SUPPORT_CONVERSATION_H
#define TEST_SUPPORT_CONVERSATION_H

#include <stdbool.h>
#include <stddef.h>

struct conversation {
	const char *name;
	const void *send; /* bytes to send */
	size_t send_len;
	bool half_close;  /* shutdown(SHUT_WR) after sending */
	const void *want; /* the whole reply, up to the server's close */
	size_t want_len;
};

/*
 * Hold cv with the server at host:port, allowing timeout seconds.  True
 * when the reply was exactly cv->want followed by a clean close (FIN, not
 * a reset); otherwise why says what differed.
 */
bool converse(const char *host, int port, const struct conversation *cv,
	      double timeout, char *why, size_t why_len);

/* Bytes as a C string literal, abbreviated in the middle if long. */
void escape_bytes(const void *bytes, size_t n, char *out, size_t cap);

#endif
