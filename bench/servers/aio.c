/*
 * aio.c - echoserv-aio: POSIX asynchronous I/O, the model UNP calls
 * asynchronous: start a read, get on with other work, be told when the
 * bytes are already in the buffer.
 *
 *     for (;;) {
 *         sigtimedwait()          one signal: a request finished
 *                                 (si_value: its socket), a listening
 *                                 socket or the signal pipe is readable
 *                                 (si_fd), or the nearest deadline came
 *         aio_error, aio_return   the request's result, to the completion
 *                                 adapter: the core's step, the next
 *                                 aio_read or aio_write
 *         the deadlines that have come (core)
 *     }
 *
 * What a connection does is the connection core's (conn.c), reached
 * through the completion adapter (completion.c), which keeps one request
 * in flight per client; this file holds only the mechanism.  POSIX aio has
 * no accept and no poll, so the listening sockets and the signal pipe are
 * announced the signal-driven way (O_ASYNC, F_SETSIG: the same realtime
 * signal, with si_fd), and a stalled stderr is looked at again every
 * STDERR_RETRY_MS.
 *
 * What "asynchronous" means here: Linux has no asynchronous socket read
 * for aio_read to use, so glibc runs each request on its own helper
 * threads, which simply block in read() or write() (after a pread() that
 * fails with ESPIPE: two system calls per request).  glibc serialises the
 * requests of one descriptor and runs at most aio_threads requests at
 * once; the rest wait in its queue.  A socket read blocks until the client
 * speaks, so every idle client holds one helper thread, and so does every
 * lingering one; a client whose read is queued behind aio_threads idle
 * ones is never served.  So this server sets aio_threads (aio_init) to
 * twice --max-clients (as many may linger as converse) and turns away the
 * rest: threads hidden behind an asynchronous interface.  The sockets are
 * blocking while served, or those threads would get EAGAIN at once.
 *
 * A read glibc's thread is blocked in cannot be cancelled (aio_cancel says
 * AIO_NOTCANCELED); when a timeout owes a client its notice while its read
 * waits, shutdown(SHUT_RD) ends that read.  So after a line timeout such a
 * client's linger ends at once (its reads see end of input): the notice
 * still goes, and the socket still closes with FIN.
 */
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* src/'s start-up (bench/servers/startup.h, which the readiness servers
 * still use, would shadow it in quotes). */
#include "startup.h"

#include "completion.h"
#include "log.h"
#include "trace.h"

/* stdin, stdout, stderr, a listening socket, the signal pipe's two ends,
 * the core's reserve descriptor. */
#define OWN_FDS 7
/* Clients at most: each costs a helper thread (and another if it
 * lingers), a 24 KiB stack and a kernel task. */
#define MAX_AIO_CLIENTS 16384
/* With no signal for this long, look at every request anyway: a
 * completion signal glibc could not queue (RLIMIT_SIGPENDING reached) is
 * lost, and no plain SIGIO stands in for it. */
#define SWEEP_NS (1000 * INT64_C(1000000))
/* A round (its wait and its work) that ends this much later than its
 * wait asked for was frozen (SIGSTOP) or starved: the helper threads,
 * thawed with it, get this long to report before any client is judged
 * idle (they may hold a client's bytes already, read but not yet
 * announced). */
#define LATE_NS  (100 * INT64_C(1000000))
#define GRACE_NS (100 * INT64_C(1000000))
/* Signals taken per round at most, beyond the one waited for. */
#define SIGNAL_BATCH 256
/* While log lines wait for a stalled stderr, look again this often. */
#define STDERR_RETRY_NS (50 * INT64_C(1000000))

/* A descriptor's request: the control block glibc works from, and whose
 * request it is (NULL: none in flight). */
struct aio_slot {
	struct aiocb cb;
	struct connection *c;
};

struct aio {
	struct completion cl;
	int signo; /* SIGRTMIN + 2: completions, listeners, signal pipe */
	sigset_t waited;
	struct aio_slot **slots; /* by fd, table_size of them */
	size_t table_size;
	size_t slots_end; /* no slot at slots_end or above */
	bool late;        /* the last wait overslept */
};

/* The clients this server can hold: descriptors, helper threads, and a
 * queued signal for each request (a quarter of the per-user queue, which
 * others share: a request each for as many clients as lingerers). */
static size_t ceiling(size_t fds)
{
	size_t n = fds > OWN_FDS ? fds - OWN_FDS : 1;
	struct rlimit rl;

	if (n > MAX_AIO_CLIENTS)
		n = MAX_AIO_CLIENTS;
	if (getrlimit(RLIMIT_SIGPENDING, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && n > rl.rlim_cur / 4)
		n = rl.rlim_cur / 4 > 0 ? rl.rlim_cur / 4 : 1;
	return n;
}

/* ============================== the mechanism ========================= */

static struct aio_slot *slot_of(struct aio *a, int fd)
{
	if (a->slots[fd] == NULL)
		a->slots[fd] = calloc(1, sizeof(*a->slots[fd]));
	if (a->slots[fd] != NULL && (size_t)fd >= a->slots_end)
		a->slots_end = (size_t)fd + 1;
	return a->slots[fd];
}

/* Start c's read or write.  The signal's value is the descriptor, not c:
 * a signal that comes after its request was seen in a sweep must find
 * nothing, not a connection since freed. */
static int aio_start(void *mech, struct connection *c, enum conn_wait what,
		     void *buf, size_t len)
{
	struct aio *a = mech;
	struct aio_slot *slot = slot_of(a, c->fd);

	if (slot == NULL)
		return -ENOMEM;
	memset(&slot->cb, 0, sizeof(slot->cb));
	slot->cb.aio_fildes = c->fd;
	slot->cb.aio_buf = buf;
	slot->cb.aio_nbytes = len;
	slot->cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
	slot->cb.aio_sigevent.sigev_signo = a->signo;
	slot->cb.aio_sigevent.sigev_value.sival_int = c->fd;
	slot->c = c;
	int rc =
	    what == CONN_WAIT_READ ? aio_read(&slot->cb) : aio_write(&slot->cb);
	if (rc != 0) {
		slot->c = NULL;
		return -errno;
	}
	return 0;
}

/* glibc cancels only a request its threads have not begun; one they are
 * blocked in ends when the socket is shut for reading. */
static void aio_stop(void *mech, struct connection *c)
{
	struct aio *a = mech;

	if (aio_cancel(c->fd, &a->slots[c->fd]->cb) == AIO_NOTCANCELED)
		(void)shutdown(c->fd, SHUT_RD);
}

static void on_signal(struct aio *a, const siginfo_t *si);

/* The signals queued already, without waiting (at most a batch: under
 * load they keep coming).  Only before deadlines are judged: in a round of
 * its own, each signal is its own wait. */
static void take_queued(struct aio *a)
{
	const struct timespec now = {0, 0};
	siginfo_t si;

	for (int i = 0; i < SIGNAL_BATCH; i++) {
		if (sigtimedwait(&a->waited, &si, &now) < 0)
			return;
		on_signal(a, &si);
	}
}

/* Before deadlines are judged: every signal queued, and after a late
 * wake the signals of the next GRACE_NS too. */
static void aio_collect(void *mech)
{
	struct aio *a = mech;
	int64_t end = conn_clock() + GRACE_NS;

	take_queued(a);
	while (a->late) {
		int64_t left = end - conn_clock();
		struct timespec ts = {0, (long)(left > 0 ? left : 0)};
		siginfo_t si;
		if (left <= 0 || sigtimedwait(&a->waited, &si, &ts) < 0)
			break;
		on_signal(a, &si);
	}
	a->late = false;
}

static const struct completion_ops aio_ops = {
    .start = aio_start,
    .cancel = aio_stop,
    .collect = aio_collect,
    .blocking_sockets = true,
};

/* ============================== completions =========================== */

/* If fd's request has finished, hand its result on; one still in progress
 * (a stale signal) is left. */
static void look_at(struct aio *a, int fd)
{
	struct aio_slot *slot = a->slots[fd];

	if (slot == NULL || slot->c == NULL)
		return;
	int err = aio_error(&slot->cb);
	if (err == EINPROGRESS)
		return;
	ssize_t n = aio_return(&slot->cb);
	struct connection *c = slot->c;
	slot->c = NULL; /* the next request may be this fd's again */
	completion_done(&a->cl, c, err != 0 ? -(long)err : (long)n);
}

static void accept_all(struct aio *a, int listen_fd)
{
	while (conn_accepting(&a->cl.core) &&
	       completion_accept(&a->cl, listen_fd))
		continue;
}

/* After a plain SIGIO (the queue overflowed) or a quiet SWEEP_NS (a
 * signal may be lost): every listening socket, the signal pipe, and every
 * request. */
static void sweep(struct aio *a)
{
	const struct conn_core *core = &a->cl.core;

	completion_signals(&a->cl);
	for (size_t i = 0; i < core->nlisteners; i++)
		accept_all(a, core->listeners[i].fd);
	for (size_t fd = 0; fd < a->slots_end; fd++)
		look_at(a, (int)fd);
}

/* A listening socket, by its descriptor. */
static bool is_listener(const struct conn_core *core, int fd)
{
	for (size_t i = 0; i < core->nlisteners; i++)
		if (core->listeners[i].fd == fd)
			return true;
	return false;
}

static void on_signal(struct aio *a, const siginfo_t *si)
{
	if (si->si_signo == SIGIO) {
		TRACE("sigtimedwait: SIGIO (the signal queue overflowed)");
		sweep(a);
	} else if (si->si_code == SI_ASYNCIO) {
		int fd = si->si_value.sival_int;
		TRACE("sigtimedwait: request done on fd %d", fd);
		if (fd >= 0 && (size_t)fd < a->slots_end)
			look_at(a, fd);
	} else if (si->si_fd == a->cl.signal_fd) {
		TRACE("sigtimedwait: signal pipe readable");
		completion_signals(&a->cl);
	} else if (is_listener(&a->cl.core, si->si_fd)) {
		TRACE("sigtimedwait: fd %d readable", si->si_fd);
		accept_all(a, si->si_fd);
	}
}

/* ============================== the loop ============================== */

/* fd raises a->signo, with si_fd, when it becomes readable. */
static int signal_when_readable(const struct aio *a, int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETOWN, getpid()) != 0 ||
	    fcntl(fd, F_SETSIG, a->signo) != 0 ||
	    fcntl(fd, F_SETFL, flags | O_ASYNC) != 0)
		return -1;
	return 0;
}

static int set_up(struct aio *a, const struct startup *st)
{
	struct aioinit ai = {0};

	a->signo = SIGRTMIN + 2;
	sigemptyset(&a->waited);
	sigaddset(&a->waited, a->signo);
	sigaddset(&a->waited, SIGIO);
	/* Blocked before any helper thread exists, so every thread inherits
	 * the mask and the signals wait for sigtimedwait() in this one. */
	if (sigprocmask(SIG_BLOCK, &a->waited, NULL) != 0)
		return -1;
	ai.aio_threads = (int)(2 * st->cfg.max_clients);
	ai.aio_num = (int)(2 * st->cfg.max_clients);
	ai.aio_idle_time = 1;
	aio_init(&ai);
	a->slots = calloc(a->table_size, sizeof(*a->slots));
	if (a->slots == NULL)
		return -1;
	for (size_t i = 0; i < st->nlisteners; i++)
		if (signal_when_readable(a, st->listeners[i].fd) != 0)
			return -1;
	return signal_when_readable(a, st->signal_fd);
}

/* Serve until the drain is over (0) or abandoned (1). */
static int serve(struct aio *a)
{
	sweep(a); /* what came before O_ASYNC raised anything */
	for (;;) {
		siginfo_t si;

		log_flush(); /* what the last round logged, as far as it goes */
		int64_t ns = completion_wait_ns(
		    &a->cl, log_pending() ? STDERR_RETRY_NS : SWEEP_NS);
		struct timespec ts = {(time_t)(ns / 1000000000),
				      (long)(ns % 1000000000)};
		if (trace_on) {
			trace_line("sigtimedwait: waiting, timeout=%.1fs",
				   (double)ns / 1e9);
			log_flush();
		}
		int64_t last_round = a->cl.core.now;
		int got = sigtimedwait(&a->waited, &si, &ts);
		conn_core_tick(&a->cl.core);
		/* The whole round counts: a freeze may land in its work. */
		a->late = a->cl.core.now - last_round > ns + LATE_NS;
		if (got >= 0) {
			on_signal(a, &si);
		} else if (errno == EAGAIN) {
			sweep(a); /* quiet for a while: a signal may be lost */
		}
		completion_expire(&a->cl);
		int over = completion_over(&a->cl);
		if (over != 0)
			return over == 2 ? 1 : 0;
	}
}

int main(int argc, char **argv)
{
	static struct aio a;
	static struct startup st;
	size_t fds = startup_fd_limit();
	const struct startup_model model = {
	    .name = "POSIX aio (glibc helper threads)",
	    .ceiling = ceiling(fds),
	};

	int rc = startup(argc, argv, &model, &st);
	if (rc >= 0)
		return rc;
	a.table_size = fds;
	if (set_up(&a, &st) != 0) {
		log_server("cannot set up aio: %s", strerror(errno));
		return 1;
	}
	if (completion_init(&a.cl, &st.cfg, st.listeners, st.nlisteners,
			    st.signal_fd, fds, &aio_ops, &a) != 0) {
		log_server("cannot allocate the connection table: %s",
			   strerror(errno));
		return 1;
	}
	if (trace_on)
		completion_trace_start(&a.cl);
	rc = serve(&a);
	completion_finish(&a.cl);
	return rc;
}
