/*
 * shared_buffer.c - BROKEN: a thread per client, all sharing one buffer.
 *
 * Each client gets a thread that reads into, and writes from, the same
 * static buffer, with no lock: when two clients talk at once, one gets
 * the other's bytes.  The pause between the read and the write (a
 * server doing some work on the data) widens the window so that the
 * race shows every time two clients overlap, not once in a while.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gallery.h"

static char shared[16384]; /* the bug: one buffer for every thread */

static void *converse(void *arg)
{
	int fd = (int)(intptr_t)arg;
	const struct timespec work = {0, 5 * 1000 * 1000}; /* 5 ms */

	for (;;) {
		ssize_t n = read(fd, shared, sizeof(shared));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		nanosleep(&work, NULL);
		if (write_all(fd, shared, (size_t)n) != 0)
			break;
	}
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_attr_t attr;
	pthread_t t;

	signal(SIGPIPE, SIG_IGN);
	int lfd = gallery_listen(argc, argv, false);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		if (pthread_create(&t, &attr, converse, (void *)(intptr_t)fd))
			close(fd);
	}
}
