/*
 * aio.c - echoserv-aio: POSIX asynchronous I/O, the model UNP calls
 * asynchronous: start a read, get on with other work, be told when the
 * bytes are already in the buffer.
 *
 *     aio_read(client's control block, its buffer, SIGEV_SIGNAL)
 *     for (;;) {
 *         sigwaitinfo()          a request finished (si_value: its fd)
 *         aio_error, aio_return  its result: bytes read or written
 *         session: frame, reply  then start the next request, one at a
 *                                time per client: aio_write of the
 *                                replies, or aio_read for more
 *     }
 *
 * POSIX aio has no accept, so new connections are announced the
 * signal-driven way (O_ASYNC on the listening socket, the same signal).
 *
 * What "asynchronous" means here: Linux has no asynchronous socket read
 * for aio_read to use, so glibc runs each request on its own helper
 * threads, which simply block in read() or write() (after a pread() that
 * fails with ESPIPE: two system calls per request).  glibc serialises the
 * requests of one descriptor and runs at most aio_threads requests at
 * once; the rest wait in its queue.  A socket read blocks until the client
 * speaks, so every idle client holds one helper thread, and a client whose
 * read is queued behind aio_threads idle ones is never served.  So this
 * server sets aio_threads (aio_init) to --max-clients and turns away the
 * rest: it holds as many clients as it can have threads, each with a
 * 24 KiB stack; threads hidden behind an asynchronous interface.
 */
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "clients.h"
#include "log.h"
#include "net.h"
#include "startup.h"

/* stdin, stdout, stderr, the listening socket, the lingering thread's
 * pipe, the reserve descriptor (clients.c). */
#define OWN_FDS 7
/* Helper threads, and so clients, at most: each costs a thread, a 24 KiB
 * stack and a kernel task. */
#define MAX_AIO_CLIENTS 16384
/* With no signal for this long, check every request anyway: a completion
 * signal glibc could not queue (RLIMIT_SIGPENDING reached) is lost, and no
 * plain SIGIO stands in for it. */
#define SWEEP_MS 1000

struct aio_client {
	struct client c; /* first: client_end() frees the whole */
	struct aiocb cb; /* the one request in flight: a read while READING,
			  * a write while WRITING */
};

struct aio_server {
	const struct options *opt;
	int listen_fd;
	int signo; /* SIGRTMIN + 2: completions and new connections */
	sigset_t waited;
	struct aio_client **by_fd; /* table_size entries */
	size_t fd_end;             /* no client at fd_end or above */
	size_t table_size;
	size_t nclients;
};

/* The clients this server can hold: descriptors, helper threads, and a
 * queued signal each (half the per-user queue, which others share). */
static size_t ceiling(void)
{
	size_t n = fd_ceiling(OWN_FDS);
	struct rlimit rl;

	if (n > MAX_AIO_CLIENTS)
		n = MAX_AIO_CLIENTS;
	if (getrlimit(RLIMIT_SIGPENDING, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && n > rl.rlim_cur / 2)
		n = rl.rlim_cur / 2 > 0 ? rl.rlim_cur / 2 : 1;
	return n;
}

static void client_free(struct aio_server *srv, struct aio_client *c)
{
	srv->by_fd[c->c.fd] = NULL;
	srv->nclients--;
	client_end(&c->c, LINGER_IN_BACKGROUND);
}

/* Start c's next request from its session's state, or close it if DONE.
 * The signal's value is the fd, not c: a stale signal must never reach a
 * freed client. */
static void start_next(struct aio_server *srv, struct aio_client *c)
{
	struct session *s = &c->c.session;
	size_t len = 0;
	void *buf = NULL;

	if (s->state == SESSION_READING) {
		buf = session_input_space(s, &len);
		if (buf == NULL) {
			log_server("client %s: out of memory", c->c.peer);
			session_abort(s, CLOSE_NO_MEMORY);
		}
	} else if (s->state == SESSION_WRITING) {
		buf = (void *)session_output(s, &len);
	}
	if (s->state == SESSION_DONE) {
		client_free(srv, c);
		return;
	}
	memset(&c->cb, 0, sizeof(c->cb));
	c->cb.aio_fildes = c->c.fd;
	c->cb.aio_buf = buf;
	c->cb.aio_nbytes = len;
	c->cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	c->cb.aio_sigevent.sigev_signo = srv->signo;
	c->cb.aio_sigevent.sigev_value.sival_int = c->c.fd;
	int rc =
	    s->state == SESSION_READING ? aio_read(&c->cb) : aio_write(&c->cb);
	if (rc != 0) {
		log_server("client %s: aio: %s", c->c.peer, strerror(errno));
		session_abort(s, CLOSE_RESET);
		client_free(srv, c);
	}
}

/* If c's request has finished, hand its result to the session and start
 * the next one; a request still in progress (a stale signal) is left. */
static void on_completion(struct aio_server *srv, struct aio_client *c)
{
	int err = aio_error(&c->cb);

	if (err == EINPROGRESS)
		return;
	ssize_t n = aio_return(&c->cb);
	client_on_completion(&c->c, err != 0 ? -(long)err : (long)n);
	start_next(srv, c);
}

/* accept_batch()'s callback, ctx the server: a blocking socket (the helper
 * threads block in read and write) and its first read. */
static void admit(void *ctx, int fd, const struct sockaddr *addr)
{
	struct aio_server *srv = ctx;
	struct aio_client *c;

	if ((size_t)fd >= srv->table_size || set_blocking(fd) != 0) {
		close(fd);
		return;
	}
	c = client_admit(sizeof(*c), fd, addr, srv->nclients, srv->opt);
	if (c == NULL)
		return;
	srv->by_fd[fd] = c;
	srv->nclients++;
	if ((size_t)fd >= srv->fd_end)
		srv->fd_end = (size_t)fd + 1;
	start_next(srv, c);
}

/* Accept everyone waiting, and look at every request: after a plain SIGIO
 * (the queue overflowed) or a quiet SWEEP_MS (a signal may be lost). */
static void sweep(struct aio_server *srv)
{
	while (accept_batch(srv->listen_fd, admit, srv))
		continue;
	for (size_t fd = 0; fd < srv->fd_end; fd++)
		if (srv->by_fd[fd] != NULL)
			on_completion(srv, srv->by_fd[fd]);
}

static void on_signal(struct aio_server *srv, const siginfo_t *si)
{
	if (si->si_signo == SIGIO) {
		sweep(srv);
	} else if (si->si_code == SI_ASYNCIO) {
		int fd = si->si_value.sival_int;
		if (fd >= 0 && (size_t)fd < srv->table_size &&
		    srv->by_fd[fd] != NULL)
			on_completion(srv, srv->by_fd[fd]);
	} else if (si->si_fd == srv->listen_fd) {
		while (accept_batch(srv->listen_fd, admit, srv))
			continue;
	}
}

static int set_up(struct aio_server *srv)
{
	struct aioinit ai = {0};
	int flags;

	srv->signo = SIGRTMIN + 2;
	sigemptyset(&srv->waited);
	sigaddset(&srv->waited, srv->signo);
	sigaddset(&srv->waited, SIGIO);
	/* Blocked before any helper thread exists, so every thread inherits
	 * the mask and the signals wait for sigwaitinfo() in this one. */
	if (sigprocmask(SIG_BLOCK, &srv->waited, NULL) != 0)
		return -1;
	ai.aio_threads = (int)srv->opt->max_clients;
	ai.aio_num = (int)srv->opt->max_clients;
	ai.aio_idle_time = 1;
	aio_init(&ai);
	srv->table_size = fd_limit();
	srv->by_fd = calloc(srv->table_size, sizeof(*srv->by_fd));
	flags = fcntl(srv->listen_fd, F_GETFL);
	if (srv->by_fd == NULL || flags < 0 ||
	    fcntl(srv->listen_fd, F_SETOWN, getpid()) != 0 ||
	    fcntl(srv->listen_fd, F_SETSIG, srv->signo) != 0 ||
	    fcntl(srv->listen_fd, F_SETFL, flags | O_ASYNC) != 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static struct aio_server srv;
	struct options opt;
	const struct timespec quiet = {SWEEP_MS / 1000,
				       (SWEEP_MS % 1000) * 1000000L};

	int rc = server_start(argc, argv, "POSIX aio (glibc helper threads)",
			      ceiling(), &opt, &srv.listen_fd);
	if (rc >= 0)
		return rc;
	srv.opt = &opt;
	if (set_up(&srv) != 0) {
		log_server("cannot set up aio: %s", strerror(errno));
		return 1;
	}
	sweep(&srv); /* clients that came before O_ASYNC raised nothing */
	for (;;) {
		siginfo_t si;
		if (sigtimedwait(&srv.waited, &si, &quiet) >= 0)
			on_signal(&srv, &si);
		else if (errno == EAGAIN)
			sweep(&srv);
	}
}
