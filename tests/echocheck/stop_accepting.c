/*
 * stop_accepting.c - BROKEN: stops accepting after 1,000 connections.
 *
 * A counter of connections ever accepted that is never decremented,
 * checked against a table size, as a server with a fixed client table
 * indexed by a counter does.  The first 1,000 clients are served; after
 * that, new ones wait in the listen queue for ever (the kernel completes
 * their handshake, nobody answers).
 */
#include "gallery.h"

int main(int argc, char **argv)
{
	struct gallery_hooks h = gallery_correct;

	h.max_accepts = 1000;
	return gallery_run(argc, argv, &h);
}
