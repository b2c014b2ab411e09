/*
 * nul_truncate.c - BROKEN: a line is sent back with strlen().
 *
 * Each complete line is copied out as a C string, so a line holding a
 * NUL byte comes back cut at the NUL, its LF lost with the rest.  Text
 * lines are not affected.
 */
#include <stdlib.h>
#include <string.h>

#include "gallery.h"

static void frame_as_strings(struct client *c)
{
	char *lf;

	while ((lf = memchr(c->in, '\n', c->in_len)) != NULL) {
		size_t len = (size_t)(lf - c->in) + 1;
		char *line = malloc(len + 1);
		if (line == NULL)
			die("malloc");
		memcpy(line, c->in, len);
		line[len] = '\0';
		client_out(c, line, strlen(line)); /* the bug: stops at a NUL */
		free(line);
		client_consume(c, len);
	}
}

int main(int argc, char **argv)
{
	struct gallery_hooks h = gallery_correct;

	h.frame = frame_as_strings;
	return gallery_run(argc, argv, &h);
}
