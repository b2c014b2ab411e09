/*
 * drop_partial.c - BROKEN: the last, unterminated line is dropped when
 * the client half-closes.
 *
 * At end of input it throws away what is left in the line buffer instead
 * of sending it back (docs/protocol.md 3.6): `printf 'a\nb' | nc -N`
 * gets "a\n" only.
 */
#include "gallery.h"

static bool drop_the_rest(struct client *c)
{
	client_consume(c, c->in_len); /* the bug: the rest is not answered */
	return false;
}

int main(int argc, char **argv)
{
	struct gallery_hooks h = gallery_correct;

	h.at_eof = drop_the_rest;
	return gallery_run(argc, argv, &h);
}
