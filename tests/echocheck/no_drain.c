/*
 * no_drain.c - BROKEN: closes at end of input without draining its
 * replies.
 *
 * When read() returns 0 it answers the last line, tries one write, and
 * closes, whatever that write could not take.  It also reads while
 * replies are owed (its queue is unbounded), so end of input can arrive
 * while much is still queued.  A client that sends a lot and half-closes
 * before reading gets only the first part back, then a FIN.
 */
#include "gallery.h"

static bool close_at_once(struct client *c)
{
	gallery_keep_partial(c);
	gallery_flush(c);
	return true; /* the bug: close now, whatever is still owed */
}

int main(int argc, char **argv)
{
	struct gallery_hooks h = gallery_correct;

	h.at_eof = close_at_once;
	h.read_ahead = true;
	return gallery_run(argc, argv, &h);
}
