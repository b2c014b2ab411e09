/*
 * nul_crash.c - BROKEN: a process per client that crashes on a NUL byte.
 *
 * The parent accepts and forks; each child echoes its client with
 * blocking read() and write(), and abort()s when what it read holds a
 * NUL, the way code that assumes text falls over on binary input.  Only
 * that client's process dies (its connection is reset); the parent and
 * every other client go on.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gallery.h"

static void child(int fd)
{
	const struct rlimit no_core = {0, 0};
	char buf[16384];

	setrlimit(RLIMIT_CORE, &no_core); /* crash without a core file */
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			exit(0);
		if (memchr(buf, '\0', (size_t)n) != NULL)
			abort(); /* the bug */
		if (write_all(fd, buf, (size_t)n) != 0)
			exit(0);
	}
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN); /* children are reaped by the system */
	int lfd = gallery_listen(argc, argv, false);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		pid_t pid = fork();
		if (pid == 0) {
			close(lfd);
			child(fd);
		}
		close(fd);
	}
}
