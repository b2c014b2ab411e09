/*
 * uring.c - echoserv-uring: completion-based I/O with Linux io_uring
 * (through liburing).  Instead of asking "which sockets are ready?" and
 * then reading, the server hands the kernel the reads themselves and is
 * told when they are done, with the bytes already in the buffer.
 *
 *     submit accept(listen_fd)
 *     for (;;) {
 *         io_uring_submit_and_wait()   one system call: hands the kernel
 *                                      the new requests, sleeps until at
 *                                      least one has completed
 *         for each completion:
 *             accept done  -> submit recv into the client's buffer,
 *                             submit the next accept
 *             recv done    -> session: frame; submit send of the replies
 *                             (or the next recv)
 *             send done    -> submit the rest, or the next recv
 *     }
 *
 * Requests and completions pass through two rings shared with the kernel,
 * so a busy server submits many requests and reaps many completions per
 * system call.  Each client has one request in flight at a time, into its
 * own session buffer.  How it fails: io_uring is often refused (seccomp
 * profiles of container runtimes return EPERM, kernel.io_uring_disabled,
 * kernels before 5.6 lack accept): the server then exits 1 with one line
 * saying "io_uring unavailable" and why.
 */
#include <errno.h>
#include <liburing.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clients.h"
#include "log.h"
#include "net.h"
#include "startup.h"

/* stdin, stdout, stderr, the listening socket, the ring, the lingering
 * thread's pipe, the reserve descriptor (clients.c). */
#define OWN_FDS    8
#define RING_SLOTS 1024
/* user_data of the two requests that are not a client's (clients are
 * pointers, so never 1 or 2). */
#define ACCEPT_TAG 1
#define PAUSE_TAG  2
/* After an accept failure nothing could be done about, wait this long (no
 * busy loop). */
#define ACCEPT_PAUSE_NS 100000000LL

struct uring_server {
	const struct options *opt;
	int listen_fd;
	struct io_uring ring;
	struct sockaddr_storage accept_addr; /* filled by the accept request */
	socklen_t accept_len;
	struct __kernel_timespec pause;
	size_t nclients;
};

/* A free submission slot; when the ring is full, submit what it holds. */
static struct io_uring_sqe *get_sqe(struct uring_server *srv)
{
	struct io_uring_sqe *sqe;

	while ((sqe = io_uring_get_sqe(&srv->ring)) == NULL)
		(void)io_uring_submit(&srv->ring);
	return sqe;
}

static void submit_accept(struct uring_server *srv)
{
	struct io_uring_sqe *sqe = get_sqe(srv);

	srv->accept_len = sizeof(srv->accept_addr);
	io_uring_prep_accept(sqe, srv->listen_fd,
			     (struct sockaddr *)&srv->accept_addr,
			     &srv->accept_len, 0);
	io_uring_sqe_set_data64(sqe, ACCEPT_TAG);
}

/* Submit c's next request from its session's state, or close it. */
static void submit_next(struct uring_server *srv, struct client *c)
{
	struct session *s = &c->session;
	size_t len;

	if (s->state == SESSION_READING) {
		char *space = session_input_space(s, &len);
		if (space != NULL) {
			struct io_uring_sqe *sqe = get_sqe(srv);
			io_uring_prep_recv(sqe, c->fd, space, len, 0);
			io_uring_sqe_set_data(sqe, c);
			return;
		}
		log_server("client %s: out of memory", c->peer);
		session_abort(s, CLOSE_NO_MEMORY);
	}
	if (s->state == SESSION_WRITING) {
		const char *out = session_output(s, &len);
		struct io_uring_sqe *sqe = get_sqe(srv);
		io_uring_prep_send(sqe, c->fd, out, len, MSG_NOSIGNAL);
		io_uring_sqe_set_data(sqe, c);
		return;
	}
	srv->nclients--;
	client_end(c, LINGER_IN_BACKGROUND);
}

/* A recv or send of c finished with res (bytes, or -errno). */
static void on_client_done(struct uring_server *srv, struct client *c, int res)
{
	client_on_completion(c, res);
	submit_next(srv, c);
}

/* The accept finished with res (a socket, or -errno): admit the client,
 * and accept the next one (after a pause if accepting fails). */
static void on_accept_done(struct uring_server *srv, int res)
{
	if ((res == -EMFILE || res == -ENFILE) &&
	    shed_client(srv->listen_fd, -res))
		res = -EAGAIN; /* shed; accept the next one at once */
	if (res < 0 && res != -EINTR && res != -ECONNABORTED &&
	    res != -EAGAIN) {
		log_server("accept: %s", strerror(-res));
		struct io_uring_sqe *sqe = get_sqe(srv);
		io_uring_prep_timeout(sqe, &srv->pause, 0, 0);
		io_uring_sqe_set_data64(sqe, PAUSE_TAG);
		return;
	}
	submit_accept(srv);
	if (res < 0)
		return;
	const struct sockaddr *addr = (struct sockaddr *)&srv->accept_addr;
	struct client *c =
	    client_admit(sizeof(*c), res, addr, srv->nclients, srv->opt);
	if (c == NULL)
		return;
	srv->nclients++;
	submit_next(srv, c);
}

static void on_completion(struct uring_server *srv,
			  const struct io_uring_cqe *cqe)
{
	uint64_t tag = io_uring_cqe_get_data64(cqe);

	if (tag == ACCEPT_TAG)
		on_accept_done(srv, cqe->res);
	else if (tag == PAUSE_TAG)
		submit_accept(srv);
	else
		on_client_done(srv, io_uring_cqe_get_data(cqe), cqe->res);
}

/*
 * How the kernel should run the ring, best first.  Only this thread
 * submits (SINGLE_ISSUER), and completion work may wait until it asks for
 * completions (DEFER_TASKRUN, Linux 6.1) instead of interrupting it as
 * they arrive: fewer switches per echoed line.  COOP_TASKRUN (5.19) is
 * the halfway house; 0 works everywhere.
 */
static const unsigned setup_flags[] = {IORING_SETUP_SINGLE_ISSUER |
					   IORING_SETUP_DEFER_TASKRUN,
				       IORING_SETUP_COOP_TASKRUN, 0};

/*
 * Set up the ring, or say in one line why io_uring cannot be had here.
 * Returns 0, or 1 (the exit status) after printing that line.
 */
static int ring_open(struct uring_server *srv)
{
	struct io_uring_params p;
	struct io_uring_probe *probe;
	int rc = -EINVAL;

	/* Newest flags first, then without them on older kernels (EINVAL). */
	for (size_t i = 0;
	     i < sizeof(setup_flags) / sizeof(setup_flags[0]) && rc == -EINVAL;
	     i++) {
		memset(&p, 0, sizeof(p));
		p.flags = setup_flags[i];
		rc = io_uring_queue_init_params(RING_SLOTS, &srv->ring, &p);
	}
	if (rc < 0) {
		log_server("io_uring unavailable: io_uring_setup: %s%s",
			   strerror(-rc),
			   rc == -EPERM ? " (refused: seccomp, or "
					  "kernel.io_uring_disabled)"
					: "");
		return 1;
	}
	probe = io_uring_get_probe_ring(&srv->ring);
	if (probe == NULL ||
	    !io_uring_opcode_supported(probe, IORING_OP_ACCEPT) ||
	    !io_uring_opcode_supported(probe, IORING_OP_RECV) ||
	    !io_uring_opcode_supported(probe, IORING_OP_SEND)) {
		log_server("io_uring unavailable: the kernel lacks accept, "
			   "recv or send (Linux 5.6 or later needed)");
		io_uring_free_probe(probe);
		return 1;
	}
	io_uring_free_probe(probe);
	if (!(p.features & IORING_FEAT_NODROP))
		log_server("warning: completions may be dropped when the "
			   "ring is full (Linux 5.5 or later fixes that)");
	return 0;
}

int main(int argc, char **argv)
{
	static struct uring_server srv;
	struct options opt;

	int rc = server_options(argc, argv, "Linux io_uring completions",
				fd_ceiling(OWN_FDS), &opt);
	if (rc >= 0)
		return rc;
	if (ring_open(&srv) != 0)
		return 1;
	rc = server_listen(&opt, &srv.listen_fd);
	if (rc >= 0)
		return rc;
	/* Blocking sockets: io_uring waits for readiness itself, and an
	 * O_NONBLOCK one could complete a request with -EAGAIN. */
	if (set_blocking(srv.listen_fd) != 0) {
		log_server("cannot make the listening socket blocking: %s",
			   strerror(errno));
		return 1;
	}
	srv.opt = &opt;
	srv.pause.tv_nsec = ACCEPT_PAUSE_NS;
	hold_reserve();
	submit_accept(&srv);
	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		rc = io_uring_submit_and_wait(&srv.ring, 1);
		if (rc < 0 && rc != -EINTR) {
			log_server("io_uring_enter: %s", strerror(-rc));
			return 1;
		}
		io_uring_for_each_cqe(&srv.ring, head, cqe)
		{
			on_completion(&srv, cqe);
			seen++;
		}
		io_uring_cq_advance(&srv.ring, seen);
	}
}
