/*
 * workers.c - --workers N: one event loop per core (see workers.h).
 *
 * The parent has bound the listening sockets.  It binds one more set per
 * further worker on the same addresses and ports (SO_REUSEPORT: the kernel
 * spreads new connections over the workers' sockets), or, where the system
 * lacks it or systemd passed the sockets, lets every worker accept on the
 * same ones.  Then it forks the workers and only supervises:
 *
 *     for (;;) {
 *         sleep in select() on the signal pipe (SIGCHLD, SIGTERM, ...)
 *         a worker died abnormally   restart it, after a back-off
 *         SIGTERM or SIGINT          pass it on, close the listening
 *                                    sockets, wait for every worker
 *         SIGUSR1                    pass it on: each logs its status
 *     }
 *
 * The parent keeps every set open, so a worker's replacement inherits its
 * sockets, and the clients that queued on them meanwhile are served, not
 * refused.  Each worker sends its totals up a pipe when it ends; the
 * parent prints the one summary line.
 *
 * --max-per-addr counts connections over the whole server: the counts
 * live in a file mapped MAP_SHARED (unlinked at once) that every worker
 * maps, one table per worker, each written only by its worker under an
 * fcntl() lock.  A worker's lock goes with it if it dies, and the parent
 * empties its table before the replacement starts.
 */
#include "workers.h"

#ifdef __linux__
#include <sys/prctl.h> /* PR_SET_PDEATHSIG: see die_with_parent() */
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "signals.h"
#include "trace.h"
#include "udp.h"

#define NS_PER_MS INT64_C(1000000)
/* A worker that dies is restarted after RESTART_MIN, doubled each time it
 * dies again within RESTART_STABLE of its start, up to RESTART_MAX. */
#define RESTART_MIN    (100 * NS_PER_MS)
#define RESTART_MAX    (10000 * NS_PER_MS)
#define RESTART_STABLE (10000 * NS_PER_MS)

struct worker {
	unsigned id;                 /* 1..n, as the logs name it */
	pid_t pid;                   /* 0: not running */
	int totals_rd, totals_wr;    /* its totals, when it ends */
	int64_t started, restart_at; /* restart_at: 0 if none is due */
	int64_t backoff;
	struct listener tcp[NET_MAX_LISTENERS], udp[NET_MAX_LISTENERS];
	int handoff_rx, handoff_tx; /* clients other workers hand it */
	uint64_t served, lines, bytes;
	struct udp_stats datagrams;
};

/* ============================== shared counts ========================== */

struct shared_peers {
	int fd;      /* the mapped file, also what is locked */
	unsigned me; /* the worker this process is, 0 in the parent */
	unsigned n;
	size_t max_clients; /* each worker's -c */
	/* In the shared mapping: each worker's clients now (written by it
	 * alone, read by the others to choose where to hand one), and with
	 * --max-per-addr its table of counts. */
	volatile size_t *load;
	struct peer_table *tables; /* n of them, or NULL */
	const int *handoff_tx;     /* worker w's at [w - 1] */
};

static void lock(const struct shared_peers *sp, short type)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET};

	while (fcntl(sp->fd, F_SETLKW, &fl) != 0 && errno == EINTR)
		continue;
}

static int shared_admit(void *ctx, const struct peer_key *key, size_t limit)
{
	struct shared_peers *sp = ctx;
	size_t total = 0;

	lock(sp, F_WRLCK);
	for (unsigned w = 0; w < sp->n; w++)
		total += peers_count(&sp->tables[w], key);
	int r = total >= limit                            ? 0
		: peers_add(&sp->tables[sp->me - 1], key) ? 1
							  : -1;
	lock(sp, F_UNLCK);
	return r;
}

static void shared_release(void *ctx, const struct peer_key *key)
{
	struct shared_peers *sp = ctx;

	lock(sp, F_WRLCK);
	peers_remove(&sp->tables[sp->me - 1], key);
	lock(sp, F_UNLCK);
}

/* The shared mapping, in a temporary file that only this server's
 * processes hold: the loads, and the tables if with_tables.  0, or -1
 * with errno. */
static int shared_peers_open(struct shared_peers *sp, unsigned n,
			     bool with_tables)
{
	const char *dir = getenv("TMPDIR");
	char path[256];
	size_t head = WORKERS_MAX * sizeof(size_t);
	size_t size = head + (with_tables ? n * sizeof(struct peer_table) : 0);

	snprintf(path, sizeof(path), "%s/echoserv-peers-XXXXXX",
		 dir != NULL && *dir != '\0' ? dir : "/tmp");
	sp->fd = mkstemp(path);
	if (sp->fd < 0)
		return -1;
	(void)unlink(path);
	(void)net_set_cloexec(sp->fd);
	if (ftruncate(sp->fd, (off_t)size) != 0)
		return -1;
	void *p =
	    mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, sp->fd, 0);
	if (p == MAP_FAILED)
		return -1;
	/* A new file reads as zeros: no load, every table empty. */
	sp->load = p;
	sp->tables =
	    with_tables ? (struct peer_table *)((char *)p + head) : NULL;
	sp->n = n;
	return 0;
}

/* --------------------------------------------------------- hand-off */

/* The peer's address rides along as the datagram's bytes. */
static bool hand_off(void *ctx, int fd, const struct sockaddr *addr)
{
	const struct shared_peers *sp = ctx;
	unsigned best = 0;
	size_t best_load = sp->max_clients;

	for (unsigned w = 1; w <= sp->n; w++)
		if (w != sp->me && sp->load[w - 1] < best_load) {
			best = w;
			best_load = sp->load[w - 1];
		}
	if (best == 0)
		return false; /* every worker is full: turned away */
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct sockaddr_storage peer = {0};
	memcpy(&peer, addr,
	       addr->sa_family == AF_INET6  ? sizeof(struct sockaddr_in6)
	       : addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
					    : sizeof(peer));
	struct iovec iov = {.iov_base = &peer, .iov_len = sizeof(peer)};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sp->handoff_tx[best - 1], &msg, 0) ==
	       (ssize_t)sizeof(peer);
}

static void publish(void *ctx, size_t nclients)
{
	const struct shared_peers *sp = ctx;

	sp->load[sp->me - 1] = nclients;
}

bool workers_receive(int handoff_fd, int *fd, struct sockaddr_storage *addr)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = {.iov_base = addr, .iov_len = sizeof(*addr)};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf)};

	*fd = -1;
	memset(addr, 0, sizeof(*addr));
	if (recvmsg(handoff_fd, &msg, 0) < 0)
		return false;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (c != NULL && c->cmsg_level == SOL_SOCKET &&
	    c->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(c), sizeof(int));
	return true;
}

/* ============================== a worker ============================== */

/*
 * A worker must not outlive its parent: killed (SIGKILL, the OOM killer),
 * the parent could no longer stop it, and it would hold the port.  On
 * Linux the kernel sends the worker SIGTERM when the parent dies, and it
 * drains as if the parent had passed the signal on.  Elsewhere there is
 * no such request in POSIX, and a worker goes on until it is stopped
 * itself (the man page says so).  parent is the pid before the fork: if
 * the parent died already, the worker stops at once.
 */
static void die_with_parent(pid_t parent)
{
#if defined(__linux__) && defined(PR_SET_PDEATHSIG)
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
	if (getppid() != parent)
		(void)raise(SIGTERM); /* delivered once signals are routed */
}

/* In the child: become worker w and serve until told to stop. */
static void worker_main(struct startup *st, const struct worker *all,
			unsigned n, const struct worker *w, bool shared,
			struct shared_peers *sp, int (*serve)(struct startup *),
			const sigset_t *mask)
{
	static const struct peer_counter counter = {shared_admit,
						    shared_release, NULL};
	static struct peer_counter mine;
	static struct worker_handoff handoff = {hand_off, publish, NULL};

	log_set_worker(w->id);
	signals_reset_in_child();
	st->signal_fd = startup_signals(st->also_routed);
	if (st->signal_fd < 0) {
		log_server("cannot set up signal handling: %s",
			   strerror(errno));
		_exit(1);
	}
	sigprocmask(SIG_SETMASK, mask, NULL); /* its own pipe is ready */
	/* Only its own sockets (all of them share one set without
	 * SO_REUSEPORT), and only its own end of its totals pipe. */
	for (unsigned i = 0; i < n; i++) {
		close(all[i].totals_rd);
		if (&all[i] != w) {
			close(all[i].totals_wr);
			close(all[i].handoff_rx);
		}
		for (size_t k = 0;
		     !shared && &all[i] != w && k < st->nlisteners; k++)
			close(all[i].tcp[k].fd);
		for (size_t k = 0; !shared && &all[i] != w && k < st->nudp; k++)
			close(all[i].udp[k].fd);
	}
	memcpy(st->listeners, w->tcp, sizeof(st->listeners));
	memcpy(st->udp, w->udp, sizeof(st->udp));
	st->totals_fd = w->totals_wr;
	st->cfg.no_summary = true;
	st->cfg.totals_fd = w->totals_wr;
	sp->me = w->id;
	sp->load[w->id - 1] = 0;
	if (sp->tables != NULL) {
		mine = counter;
		mine.ctx = sp;
		st->cfg.shared_peers = &mine;
	}
	if (st->takes_handoffs) {
		handoff.ctx = sp;
		st->cfg.handoff = &handoff;
		st->handoff_fd = w->handoff_rx;
	}
	exit(serve(st)); /* exit(): the log is flushed at exit */
}

/* Start worker w (again).  0, or -1 with errno. */
static int worker_start(struct startup *st, struct worker *all, unsigned n,
			struct worker *w, bool shared, struct shared_peers *sp,
			int (*serve)(struct startup *))
{
	int fds[2];
	sigset_t block, old;

	if (pipe(fds) != 0)
		return -1;
	w->totals_rd = fds[0];
	w->totals_wr = fds[1];
	(void)net_set_nonblocking(w->totals_rd);
	if (sp->tables != NULL) {
		lock(sp, F_WRLCK); /* what a dead one counted is gone */
		peers_init(&sp->tables[w->id - 1]);
		lock(sp, F_UNLCK);
	}
	/* No signal may reach the child before it has a pipe of its own:
	 * its handler would write to the parent's. */
	sigfillset(&block);
	sigprocmask(SIG_BLOCK, &block, &old);
	log_flush();
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		die_with_parent(parent);
		worker_main(st, all, n, w, shared, sp, serve, &old);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(w->totals_wr);
	w->totals_wr = -1;
	if (pid < 0) {
		close(w->totals_rd);
		return -1;
	}
	w->pid = pid;
	w->started = conn_clock();
	w->restart_at = 0;
	log_server("worker %u started (pid %ld)", w->id, (long)pid);
	return 0;
}

/* What worker w sent up its pipe as it ended ("C L B", then with UDP
 * "udp E B G F O"), added to its totals. */
static void worker_collect(struct worker *w)
{
	char buf[512];
	ssize_t n = read(w->totals_rd, buf, sizeof(buf) - 1);
	unsigned long long v[5];

	if (n > 0) {
		buf[n] = '\0';
		if (sscanf(buf, "%llu %llu %llu", &v[0], &v[1], &v[2]) == 3) {
			w->served += v[0];
			w->lines += v[1];
			w->bytes += v[2];
		}
		const char *u = strstr(buf, "udp ");
		if (u != NULL &&
		    sscanf(u, "udp %llu %llu %llu %llu %llu", &v[0], &v[1],
			   &v[2], &v[3], &v[4]) == 5) {
			w->datagrams.echoed += v[0];
			w->datagrams.bytes += v[1];
			w->datagrams.dropped_guard += v[2];
			w->datagrams.dropped_busy += v[3];
			w->datagrams.dropped_other += v[4];
		}
	}
	close(w->totals_rd);
	w->totals_rd = -1;
}

/* ============================== supervising ============================ */

struct supervisor {
	struct startup *st;
	struct worker *w;
	unsigned n;
	bool shared; /* one set of sockets for every worker */
	struct shared_peers sp;
	int (*serve)(struct startup *);
	bool stopping, abandon;
	int status;
};

static void close_sockets(struct supervisor *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		if (s->shared && i > 0)
			break;
		for (size_t k = 0; k < s->st->nlisteners; k++)
			close(s->w[i].tcp[k].fd);
		for (size_t k = 0; k < s->st->nudp; k++)
			close(s->w[i].udp[k].fd);
	}
}

static void signal_workers(struct supervisor *s, int sig)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->w[i].pid > 0)
			(void)kill(s->w[i].pid, sig);
}

/* A worker ended: count it, and restart it if it should not have. */
static void on_exit_of(struct supervisor *s, struct worker *w, int wstatus)
{
	int64_t now = conn_clock();
	char how[64];

	worker_collect(w);
	w->pid = 0;
	bool clean = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
	if (WIFEXITED(wstatus))
		snprintf(how, sizeof(how), "exited with status %d",
			 WEXITSTATUS(wstatus));
	else
		snprintf(how, sizeof(how), "killed by signal %d",
			 WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0);
	if (s->stopping) {
		if (!clean) {
			s->status = 1;
			log_server("worker %u %s", w->id, how);
		}
		return;
	}
	w->backoff =
	    now - w->started >= RESTART_STABLE || w->backoff == 0
		? RESTART_MIN
		: (w->backoff * 2 > RESTART_MAX ? RESTART_MAX : w->backoff * 2);
	w->restart_at = now + w->backoff;
	log_server("worker %u %s; restarting it in %lld ms", w->id, how,
		   (long long)(w->backoff / NS_PER_MS));
}

static void reap(struct supervisor *s)
{
	int wstatus;
	pid_t pid;

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0)
		for (unsigned i = 0; i < s->n; i++)
			if (s->w[i].pid == pid)
				on_exit_of(s, &s->w[i], wstatus);
}

static void on_signals(struct supervisor *s)
{
	unsigned char sigs[16];
	ssize_t n = read(s->st->signal_fd, sigs, sizeof(sigs));

	for (ssize_t i = 0; i < n; i++) {
		if (sigs[i] == SIGCHLD) {
			reap(s);
		} else if (sigs[i] == SIGUSR1) {
			signal_workers(s, SIGUSR1);
		} else if (!s->stopping) {
			log_server("shutting down: each worker delivers its "
				   "queued replies for up to 2 s");
			s->stopping = true;
			close_sockets(s);
			signal_workers(s, SIGTERM);
		} else {
			log_server("second signal: abandoning the drain");
			s->abandon = true;
			signal_workers(s, SIGTERM);
		}
	}
}

static bool all_ended(const struct supervisor *s)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->w[i].pid > 0)
			return false;
	return true;
}

/* The nearest restart due, as a select() timeout (NULL: none). */
static struct timeval *next_restart(const struct supervisor *s,
				    struct timeval *tv)
{
	int64_t next = INT64_MAX, now = conn_clock();

	for (unsigned i = 0; !s->stopping && i < s->n; i++)
		if (s->w[i].pid == 0 && s->w[i].restart_at > 0 &&
		    s->w[i].restart_at < next)
			next = s->w[i].restart_at;
	if (next == INT64_MAX)
		return NULL;
	int64_t us = next > now ? (next - now + 999) / 1000 : 0;
	tv->tv_sec = (time_t)(us / 1000000);
	tv->tv_usec = (suseconds_t)(us % 1000000);
	return tv;
}

static void restart_due(struct supervisor *s)
{
	int64_t now = conn_clock();

	for (unsigned i = 0; !s->stopping && i < s->n; i++) {
		struct worker *w = &s->w[i];
		if (w->pid == 0 && w->restart_at > 0 && now >= w->restart_at &&
		    worker_start(s->st, s->w, s->n, w, s->shared, &s->sp,
				 s->serve) != 0) {
			log_server("cannot restart worker %u: %s", w->id,
				   strerror(errno));
			w->restart_at = now + RESTART_MAX;
		}
	}
}

/* Sleep until a signal or a restart is due; then see to it. */
static void supervise_once(struct supervisor *s)
{
	fd_set r, w;
	struct timeval tv;
	int fd = s->st->signal_fd;

	log_flush();
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(fd, &r);
	if (log_pending())
		FD_SET(STDERR_FILENO, &w);
	int nfds = (fd > STDERR_FILENO ? fd : STDERR_FILENO) + 1;
	if (select(nfds, &r, &w, NULL, next_restart(s, &tv)) > 0 &&
	    FD_ISSET(fd, &r))
		on_signals(s);
	reap(s); /* a SIGCHLD can merge with another in the pipe */
	restart_due(s);
}

/* A socket pair per worker on which the others hand it clients. */
static int open_handoffs(struct supervisor *s)
{
	static int tx[WORKERS_MAX];

	s->sp.max_clients = s->st->cfg.max_clients;
	s->sp.handoff_tx = tx;
	for (unsigned i = 0; i < s->n; i++) {
		int fds[2];
		if (socketpair(AF_UNIX, SOCK_DGRAM, 0, fds) != 0)
			return -1;
		s->w[i].handoff_rx = fds[0];
		s->w[i].handoff_tx = tx[i] = fds[1];
		(void)net_set_nonblocking(fds[0]);
		(void)net_set_nonblocking(fds[1]); /* a full one: turned away */
		(void)net_set_cloexec(fds[0]);
		(void)net_set_cloexec(fds[1]);
	}
	return 0;
}

/* One more set of sockets per further worker, on the same ports. */
static int bind_sets(struct supervisor *s)
{
	char err[512];
	struct startup *st = s->st;

	for (unsigned i = 0; i < s->n; i++) {
		struct worker *w = &s->w[i];
		if (i == 0 || s->shared) {
			memcpy(w->tcp, st->listeners, sizeof(w->tcp));
			memcpy(w->udp, st->udp, sizeof(w->udp));
			continue;
		}
		if (net_listen_like(st->listeners, st->nlisteners, w->tcp, err,
				    sizeof(err)) != NET_OK ||
		    net_listen_like(st->udp, st->nudp, w->udp, err,
				    sizeof(err)) != NET_OK) {
			log_server("worker %u: %s", w->id, err);
			return -1;
		}
	}
	return 0;
}

int workers_run(struct startup *st, int (*serve)(struct startup *))
{
	struct supervisor s = {.st = st, .n = st->opt.workers, .serve = serve};
	uint64_t served = 0, lines = 0, bytes = 0;
	struct udp_stats udp = {0};

	s.w = calloc(s.n, sizeof(*s.w));
	if (s.w == NULL)
		return 1;
	s.shared = !st->ports_shared;
	if (shared_peers_open(&s.sp, s.n, st->opt.max_per_addr > 0) != 0 ||
	    open_handoffs(&s) != 0) {
		log_server("cannot set up what the workers share: %s",
			   strerror(errno));
		return 1;
	}
	if (bind_sets(&s) != 0)
		return 1;
	log_client("%u workers, %s", s.n,
		   s.shared ? "accepting on shared sockets"
			    : "each on its own sockets (SO_REUSEPORT)");
	for (unsigned i = 0; i < s.n; i++) {
		s.w[i].id = i + 1;
		s.w[i].totals_rd = s.w[i].totals_wr = -1;
		if (worker_start(st, s.w, s.n, &s.w[i], s.shared, &s.sp,
				 serve) != 0) {
			log_server("cannot start worker %u: %s", i + 1,
				   strerror(errno));
			s.stopping = true;
			signal_workers(&s, SIGTERM);
			break;
		}
	}
	while (!(s.stopping && all_ended(&s)))
		supervise_once(&s);
	for (unsigned i = 0; i < s.n; i++) {
		served += s.w[i].served;
		lines += s.w[i].lines;
		bytes += s.w[i].bytes;
		udp.echoed += s.w[i].datagrams.echoed;
		udp.bytes += s.w[i].datagrams.bytes;
		udp.dropped_guard += s.w[i].datagrams.dropped_guard;
		udp.dropped_busy += s.w[i].datagrams.dropped_busy;
		udp.dropped_other += s.w[i].datagrams.dropped_other;
	}
	log_summary(served, lines, bytes);
	if (st->nudp > 0)
		udp_log_summary(&udp);
	free(s.w);
	return s.abandon ? 1 : s.status;
}
