/*
 * crlf.c - NON-STRICT: every line comes back ending in CR LF.
 *
 * Each complete line is answered with its content and "\r\n", whatever
 * ended it, as a server written for telnet users might.  Those users do
 * not notice; a byte-for-byte client does.  echocheck calls that
 * NON-STRICT, not FAIL.
 */
#include <string.h>

#include "gallery.h"

static void frame_crlf(struct client *c)
{
	char *lf;

	while ((lf = memchr(c->in, '\n', c->in_len)) != NULL) {
		size_t len = (size_t)(lf - c->in);
		client_out(c, c->in, len);
		client_out(c, "\r\n", 2); /* the deviation */
		client_consume(c, len + 1);
	}
}

int main(int argc, char **argv)
{
	struct gallery_hooks h = gallery_correct;

	h.frame = frame_crlf;
	return gallery_run(argc, argv, &h);
}
