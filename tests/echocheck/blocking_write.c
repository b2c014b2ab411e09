/*
 * blocking_write.c - BROKEN: poll() on blocking sockets.
 *
 * The loop waits in poll() like an event-driven server, but its client
 * sockets are left blocking, so a write() to a client that does not read
 * waits until that client reads, and with it every other client.  The
 * code is otherwise the correct one: poll says a socket is writable, and
 * the write then blocks on the rest of a reply that does not fit.
 * echocheck's non-reader case (the event-driven litmus test) catches it.
 */
#include "gallery.h"

int main(int argc, char **argv)
{
	struct gallery_hooks h = gallery_correct;

	h.blocking = true;
	return gallery_run(argc, argv, &h);
}
