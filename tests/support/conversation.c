/*
 * conversation.c - converse() (see conversation.h).
 */
#include "conversation.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_socket.h"
#include "clock.h"

void escape_bytes(const void *bytes, size_t n, char *out, size_t cap)
{
	const unsigned char *b = bytes;
	size_t o = 0;

	for (size_t i = 0; i < n && o + 8 < cap; i++) {
		if (n > 200 && i == 80) {
			o += (size_t)snprintf(out + o, cap - o,
					      "...(%zu bytes)...", n - 160);
			i = n - 80;
		}
		unsigned char c = b[i];
		if (c == '\n')
			o += (size_t)snprintf(out + o, cap - o, "\\n");
		else if (c == '\r')
			o += (size_t)snprintf(out + o, cap - o, "\\r");
		else if (c == '\\' || c == '"')
			o += (size_t)snprintf(out + o, cap - o, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o < cap ? o : cap - 1] = '\0';
}

/* Say in why how got (and the way it ended) differs from cv->want. */
static void explain(const struct conversation *cv, const char *got,
		    const struct recv_result *r, char *why, size_t why_len)
{
	char g[256], w[256];

	escape_bytes(got, r->len, g, sizeof(g));
	escape_bytes(cv->want, cv->want_len, w, sizeof(w));
	snprintf(why, why_len,
		 "got %zu bytes \"%s\" then %s, want %zu bytes "
		 "\"%s\" then EOF",
		 r->len, g, recv_end_name(r->end), cv->want_len, w);
}

bool converse(const char *host, int port, const struct conversation *cv,
	      double timeout, char *why, size_t why_len)
{
	double deadline = now_s() + timeout;
	struct connect_opts co = {.timeout = timeout};
	size_t cap = cv->want_len + 64;
	char *got = malloc(cap);
	bool ok = false;
	int fd = tcp_connect(host, port, &co);

	if (fd < 0 || got == NULL) {
		snprintf(why, why_len, "cannot connect: %s", strerror(errno));
	} else if (client_send_all(fd, cv->send, cv->send_len, timeout) != 0 ||
		   (cv->half_close && shutdown(fd, SHUT_WR) != 0)) {
		snprintf(why, why_len, "cannot send: %s", strerror(errno));
	} else {
		struct recv_result r =
		    client_recv_all(fd, got, cap, deadline - now_s());
		ok = r.end == RECV_EOF && r.len == cv->want_len &&
		     memcmp(got, cv->want, r.len) == 0;
		if (!ok)
			explain(cv, got, &r, why, why_len);
	}
	if (fd >= 0)
		close(fd);
	free(got);
	return ok;
}
