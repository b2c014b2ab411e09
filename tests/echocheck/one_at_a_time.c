/*
 * one_at_a_time.c - BROKEN (by design, for a concurrent server): the
 * iterative server of the first lecture.
 *
 * It accepts one client, echoes what it reads with blocking read() and
 * write() until that client closes, and only then accepts the next.
 * Each conversation alone is right; a second client waits in the listen
 * queue, unanswered, for as long as the first stays.
 */
#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gallery.h"

static void converse(int fd)
{
	char buf[16384];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || write_all(fd, buf, (size_t)n) != 0)
			return;
	}
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	int lfd = gallery_listen(argc, argv, false);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		converse(fd);
		close(fd);
	}
}
