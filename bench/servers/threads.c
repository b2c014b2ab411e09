/*
 * threads.c - echoserv-threads: one thread per connection, blocking I/O.
 * The "threaded variant" echoserv is benchmarked against: the protocol is
 * straight-line code (conversation.c) and the kernel's scheduler is the
 * event loop.  Its costs are a stack and a kernel task per client, and a
 * context switch for every wakeup.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clients.h"
#include "conversation.h"
#include "log.h"
#include "net.h"
#include "startup.h"

/* stdin, stdout, stderr, the listening socket and the reserve
 * descriptor (clients.c). */
#define OWN_FDS 5
/* Threads per process are bounded by memory long before descriptors. */
#define MAX_THREADS 16384
/* Enough for the conversation, the 16 KiB log line buffer and the 16 KiB
 * drain buffer of a graceful close, with room to spare; far less than the
 * 8 MiB default, which would be reserved (not used) per client. */
#define THREAD_STACK (256 * 1024)

struct thread_client {
	struct stream stream;
	char peer[NET_ADDR_LEN];
	const struct options *opt;
};

static atomic_size_t nclients;

static size_t ceiling(void)
{
	size_t fds = fd_ceiling(OWN_FDS);
	return fds < MAX_THREADS ? fds : MAX_THREADS;
}

static void *client_thread(void *arg)
{
	struct thread_client *cl = arg;

	serve_client(&cl->stream, cl->peer, cl->opt, LINGER_IN_PLACE);
	free(cl);
	atomic_fetch_sub(&nclients, 1);
	return NULL;
}

/* Start a detached thread for the client on fd; closes fd on failure. */
static void start_client(int fd, const struct sockaddr *addr,
			 const struct options *opt, const pthread_attr_t *attr)
{
	struct thread_client *cl = malloc(sizeof(*cl));
	pthread_t tid;

	if (cl == NULL) {
		log_server("out of memory for a client");
		close(fd);
		return;
	}
	cl->stream =
	    (struct stream){fd, stream_read_blocking, stream_write_blocking};
	net_format_addr(addr, cl->peer, sizeof(cl->peer));
	cl->opt = opt;
	atomic_fetch_add(&nclients, 1);
	int err = pthread_create(&tid, attr, client_thread, cl);
	if (err != 0) {
		log_server("client %s: cannot start a thread: %s", cl->peer,
			   strerror(err));
		atomic_fetch_sub(&nclients, 1);
		close(fd);
		free(cl);
	}
}

int main(int argc, char **argv)
{
	struct options opt;
	pthread_attr_t attr;
	int listen_fd;

	int rc = server_start(argc, argv, "one thread per connection",
			      ceiling(), &opt, &listen_fd);
	if (rc >= 0)
		return rc;
	if (set_blocking(listen_fd) != 0 || pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) != 0 ||
	    pthread_attr_setstacksize(&attr, THREAD_STACK) != 0) {
		log_server("cannot set up threads: %s", strerror(errno));
		return 1;
	}
	for (;;) {
		struct sockaddr_storage addr;
		int fd = accept_blocking(listen_fd, &addr);

		if (room_for_client(fd, (struct sockaddr *)&addr,
				    atomic_load(&nclients), opt.max_clients))
			start_client(fd, (struct sockaddr *)&addr, &opt, &attr);
	}
}
