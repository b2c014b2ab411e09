/*
 * short_write.c - BROKEN: the short count of write() is ignored.
 *
 * Replies are written with one write() call, and whatever it did not
 * take (the client's window was full) is forgotten instead of kept for
 * the next POLLOUT.  Nothing shows while clients read promptly; a client
 * that reads slowly, or later, loses the middle of its replies.
 */
#include <errno.h>
#include <unistd.h>

#include "gallery.h"

static int write_once(struct client *c)
{
	ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		return -1;
	c->out_len = c->out_off = 0; /* the bug: the rest is dropped */
	return 0;
}

int main(int argc, char **argv)
{
	struct gallery_hooks h = gallery_correct;

	h.flush = write_once;
	return gallery_run(argc, argv, &h);
}
