/*
 * small_buffer.c - BROKEN: lines are kept in a fixed buffer of 1024
 * bytes.
 *
 * A line that fits (1024 bytes with its LF, or fewer) comes back whole;
 * a longer one comes back cut to its first 1023 bytes and an LF, the
 * rest thrown away, as a server built around `char line[1024]` does.
 */
#include <string.h>

#include "gallery.h"

#define LINE_BUFFER 1024

static void frame_fixed(struct client *c)
{
	char *lf;

	while ((lf = memchr(c->in, '\n', c->in_len)) != NULL) {
		size_t len = (size_t)(lf - c->in) + 1;
		if (len <= LINE_BUFFER) {
			client_out(c, c->in, len);
		} else { /* the bug: cut to the buffer */
			client_out(c, c->in, LINE_BUFFER - 1);
			client_out(c, "\n", 1);
		}
		client_consume(c, len);
	}
}

int main(int argc, char **argv)
{
	struct gallery_hooks h = gallery_correct;

	h.frame = frame_fixed;
	return gallery_run(argc, argv, &h);
}
