/*
 * fork.c - echoserv-fork: one process per connection, blocking I/O, at
 * most --max-clients children in conversation.
 *
 *     parent                           a child (blocking.c)
 *     for (;;) {                       a connection core of its own, for
 *         poll(listening sockets,      its one client: the same agent as
 *              signal pipe)            a thread's (poll on its socket
 *         SIGCHLD: reap                until its deadline, read or write,
 *         accept: the core's verdict,  the core's step), and its own
 *                 then fork()          signal pipe for the parent's word
 *     }
 *
 * Each child runs its client's whole policy in its own core: the idle and
 * line timeouts, the notices, the lingering close, the log lines and the
 * trace, and the drain when the parent passes SIGTERM on.  What spans the
 * clients is the parent's: admission (conn_admission(), the core's
 * verdict, over the children in conversation and a --max-per-addr count
 * of all of them, lingering ones too), the bound of --max-clients
 * lingerers (the oldest child lingering beyond it is told to cut its
 * linger short), the status line, the summary and the drain.  The parent
 * decides before fork(), so no two children can take the last place.
 * The children say how they are (conversing, lingering, closed) and what
 * they have echoed in a table in shared memory, one slot each, that only
 * they write; a child that begins to linger also sends its parent a
 * SIGCHLD.
 *
 * The signals: the parent's SIGCHLD handler only writes a byte to the
 * self-pipe and the children are reaped in the loop with
 * waitpid(WNOHANG) until none is left.  That avoids the races the lecture
 * warns about: a handler that calls waitpid once loses children whose
 * signals were merged into one; a handler that counts children races with
 * the loop that reads the count; and a signal that lands between checking
 * the count and blocking in accept() would not wake the loop (here it
 * leaves a byte in the pipe, so poll returns).
 *
 * What is the model's: the parent holds no client's descriptor, so
 * RLIMIT_NOFILE bounds each process, not the server, and EMFILE sheds no
 * one; each child logs through its own buffer, so lines a child could not
 * write to a stalled stderr before it exits are lost, uncounted.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* src/'s start-up (bench/servers/startup.h, which the readiness servers
 * still use, would shadow it in quotes). */
#include "startup.h"

#include "blocking.h"
#include "log.h"
#include "signals.h"
#include "trace.h"

/* A process per client: the cap is the process table, not descriptors. */
#define MAX_CHILDREN 4096
/* Clients accepted per round at most (a connect storm cannot starve the
 * signals), and the pause after an accept() failure. */
#define ACCEPT_BATCH 64
#define ACCEPT_PAUSE (100 * INT64_C(1000000))
/* The children end their own drains at CONN_DRAIN_SECONDS; the parent
 * waits this much longer for them before it kills the rest. */
#define DRAIN_GRACE (500 * INT64_C(1000000))
/* A child reports a write a moment after it made it: SIGUSR1's line waits
 * (as the core's does for loops that do their own I/O), so what a client
 * has seen is counted. */
#define STATUS_DELAY (CONN_STATUS_DELAY_MS * INT64_C(1000000))
#define MAX_WATCHED  (NET_MAX_LISTENERS + 2)

/* What a child reports in the shared table; only it writes its slot, once
 * the parent has handed it over. */
enum child_state { SLOT_FREE, CONVERSING, LINGERING, CLOSED };
struct child_report {
	_Atomic int state;
	_Atomic int64_t linger_began; /* monotonic ns */
	_Atomic uint64_t lines, bytes;
};

/* What the parent keeps of a child. */
struct child {
	pid_t pid;
	struct peer_key key;
	bool counted; /* in peers, for --max-per-addr */
	bool cut;     /* told to cut its linger short */
};

struct fork_server {
	struct startup *st;
	struct child_report *reports; /* nslots, shared with the children */
	struct child *children;       /* nslots */
	size_t nslots, nchildren;
	struct peer_table peers;
	uint64_t served, lines, bytes; /* of the children reaped */
	int64_t now, accept_resume, drain_deadline;
	int64_t status_due; /* SIGUSR1's line is owed then; 0: not owed */
	bool draining, listening;
};

/* ============================== a child =============================== */

static int child_signal_fd = -1;
static volatile sig_atomic_t cut_asked; /* SIGUSR2: the parent says so */

static void on_cut(int signo)
{
	(void)signo;
	cut_asked = 1;
}

/* The core's watch hook in a child: report how the conversation stands. */
static void report(void *ctx, struct connection *c, enum conn_wait wait)
{
	struct child_report *r = ctx;

	atomic_store(&r->lines, c->session.lines_echoed);
	atomic_store(&r->bytes, c->session.bytes_echoed);
	if (wait == CONN_WAIT_NOTHING) {
		atomic_store(&r->state, CLOSED);
	} else if (c->state == CONN_LINGERING &&
		   atomic_load(&r->state) == CONVERSING) {
		atomic_store(&r->linger_began, conn_clock());
		atomic_store(&r->state, LINGERING);
		(void)kill(getppid(), SIGCHLD); /* its lingerers changed */
	}
}

/* A child's wait: its socket, its signal pipe (the parent's SIGTERM), and
 * the parent's word to cut a linger short. */
static enum agent_wake child_wait(struct blocking *b, struct connection *c,
				  enum conn_wait what, int64_t deadline)
{
	if (blocking_write_at_once(c, what))
		return AGENT_READY;
	enum agent_wake wake =
	    blocking_poll(c->fd, what, deadline, child_signal_fd);
	if (wake == AGENT_WOKEN)
		conn_on_signals(&b->core, child_signal_fd);
	if (cut_asked) {
		cut_asked = 0;
		(void)conn_cut_linger(&b->core, "too many lingering");
	}
	return wake;
}

static int child_signals(void)
{
	static const int routed[] = {SIGINT, SIGTERM};
	static const int ignored[] = {SIGUSR1};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_cut; /* no SA_RESTART: it ends the wait */
	child_signal_fd = signals_to_pipe(routed, 2);
	if (child_signal_fd < 0 || signals_ignore(ignored, 1) != 0 ||
	    sigaction(SIGUSR2, &sa, NULL) != 0)
		return -1;
	return 0;
}

/* In the child: serve the client on fd with a core of its own, report in
 * r, and exit. */
static void run_child(struct fork_server *srv, struct child_report *r,
		      int listen_fd, int fd, const struct sockaddr *addr)
{
	static struct blocking b;

	for (size_t i = 0; i < srv->st->nlisteners; i++)
		close(srv->st->listeners[i].fd);
	signals_reset_in_child();
	log_after_fork();
	if (child_signals() != 0 ||
	    blocking_init(&b, &srv->st->cfg, NULL, 0, (size_t)fd + 1, report,
			  r) != 0) {
		log_server("child: cannot start: %s", strerror(errno));
		exit(1);
	}
	b.wait = child_wait;
	b.wait_name = "poll";
	struct connection *c = conn_admit(&b.core, listen_fd, fd, addr);
	if (c != NULL)
		blocking_serve(&b, c);
	conn_close_all(&b.core); /* the drain is over: what is left */
	atomic_store(&r->state, CLOSED);
	exit(0); /* the log is flushed at exit */
}

/* ============================== the children's table ================== */

static size_t count_in(const struct fork_server *srv, enum child_state st)
{
	size_t n = 0;

	for (size_t i = 0; i < srv->nslots; i++)
		n += atomic_load(&srv->reports[i].state) == (int)st;
	return n;
}

/* Collect every child that has exited (signals may have merged). */
static void reap(struct fork_server *srv)
{
	pid_t pid;

	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
		for (size_t i = 0; i < srv->nslots; i++) {
			struct child *ch = &srv->children[i];
			if (ch->pid != pid)
				continue;
			srv->lines += atomic_load(&srv->reports[i].lines);
			srv->bytes += atomic_load(&srv->reports[i].bytes);
			if (ch->counted)
				peers_remove(&srv->peers, &ch->key);
			*ch = (struct child){0};
			atomic_store(&srv->reports[i].state, SLOT_FREE);
			srv->nchildren--;
			break;
		}
}

/* At most --max-clients lingerers, as the core keeps them: the oldest
 * beyond that is told to cut its linger short. */
static void bound_lingerers(struct fork_server *srv)
{
	size_t lingering = 0;

	for (size_t i = 0; i < srv->nslots; i++)
		lingering += atomic_load(&srv->reports[i].state) == LINGERING &&
			     !srv->children[i].cut;
	while (lingering-- > srv->st->cfg.max_clients) {
		size_t oldest = srv->nslots;
		for (size_t i = 0; i < srv->nslots; i++)
			if (atomic_load(&srv->reports[i].state) == LINGERING &&
			    !srv->children[i].cut &&
			    (oldest == srv->nslots ||
			     atomic_load(&srv->reports[i].linger_began) <
				 atomic_load(
				     &srv->reports[oldest].linger_began)))
				oldest = i;
		srv->children[oldest].cut = true;
		(void)kill(srv->children[oldest].pid, SIGUSR2);
	}
}

/* SIGUSR1: the children's reports, summed. */
static void status(const struct fork_server *srv)
{
	uint64_t lines = srv->lines, bytes = srv->bytes;

	for (size_t i = 0; i < srv->nslots; i++)
		if (srv->children[i].pid != 0) {
			lines += atomic_load(&srv->reports[i].lines);
			bytes += atomic_load(&srv->reports[i].bytes);
		}
	log_status(count_in(srv, CONVERSING), count_in(srv, LINGERING),
		   srv->served, lines, bytes);
}

static void kill_children(const struct fork_server *srv, int signo)
{
	for (size_t i = 0; i < srv->nslots; i++)
		if (srv->children[i].pid > 0)
			(void)kill(srv->children[i].pid, signo);
}

/* ============================== the parent ============================ */

/* Admit the client on fd (the core's verdict) and fork its child. */
static void admit(struct fork_server *srv, int listen_fd, int fd,
		  const struct sockaddr *addr)
{
	char peer[NET_ADDR_LEN];
	struct peer_key key;
	size_t slot = 0;

	net_format_addr(addr, peer, sizeof(peer));
	if (net_set_nonblocking(fd) != 0) {
		close(fd);
		return;
	}
	while (slot < srv->nslots && srv->children[slot].pid != 0)
		slot++;
	bool keyed = srv->st->cfg.max_per_addr != 0 && peer_key_of(addr, &key);
	size_t from_addr = keyed ? peers_count(&srv->peers, &key) : 0;
	size_t conversing =
	    slot < srv->nslots ? count_in(srv, CONVERSING) : SIZE_MAX;
	if (!conn_admission(&srv->st->cfg, fd, peer, conversing, from_addr))
		return;
	struct child_report *r = &srv->reports[slot];
	atomic_store(&r->lines, 0);
	atomic_store(&r->bytes, 0);
	atomic_store(&r->state, CONVERSING);
	log_flush();
	pid_t pid = fork();
	if (pid == 0)
		run_child(srv, r, listen_fd, fd, addr);
	if (pid < 0) {
		log_server("client %s: fork: %s", peer, strerror(errno));
		atomic_store(&r->state, SLOT_FREE);
		(void)conn_admission(&srv->st->cfg, fd, peer, SIZE_MAX, 0);
		return;
	}
	TRACE("fork: child %ld for fd %d", (long)pid, fd);
	close(fd);
	srv->children[slot] = (struct child){.pid = pid, .key = key};
	srv->children[slot].counted = keyed && peers_add(&srv->peers, &key);
	srv->nchildren++;
	srv->served++;
}

static void accept_clients(struct fork_server *srv, int listen_fd)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		/* Zeroed: an unnamed Unix-domain client fills in no path. */
		struct sockaddr_storage addr = {0};
		socklen_t len = sizeof(addr);
		int fd = accept(listen_fd, (struct sockaddr *)&addr, &len);

		if (fd >= 0) {
			admit(srv, listen_fd, fd, (struct sockaddr *)&addr);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			log_server("accept: %s", strerror(errno));
			srv->accept_resume = srv->now + ACCEPT_PAUSE;
		}
		return;
	}
}

/* SIGINT or SIGTERM: no more clients, and every child drains its own. */
static void begin_drain(struct fork_server *srv)
{
	log_draining(CONN_DRAIN_SECONDS);
	for (size_t i = 0; i < srv->st->nlisteners; i++)
		close(srv->st->listeners[i].fd);
	srv->listening = false;
	srv->draining = true;
	srv->drain_deadline =
	    srv->now + CONN_DRAIN_SECONDS * INT64_C(1000000000) + DRAIN_GRACE;
	kill_children(srv, SIGTERM);
}

/* The self-pipe: SIGCHLD reaps, the rest as the core reads them.  Returns
 * false if the drain is abandoned. */
static bool on_signals(struct fork_server *srv)
{
	unsigned char sigs[64];
	ssize_t n;

	while ((n = read(srv->st->signal_fd, sigs, sizeof(sigs))) > 0)
		for (ssize_t i = 0; i < n; i++) {
			if (sigs[i] == SIGCHLD)
				continue;
			switch (conn_signal_meaning(sigs[i], srv->draining)) {
			case CONN_SIGNAL_STATUS:
				if (srv->status_due == 0)
					srv->status_due =
					    srv->now + STATUS_DELAY;
				break;
			case CONN_SIGNAL_DRAIN:
				begin_drain(srv);
				break;
			case CONN_SIGNAL_ABANDON:
				log_abandoning();
				return false;
			case CONN_SIGNAL_OTHER:
				break;
			}
		}
	reap(srv);
	return true;
}

static int64_t earlier(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* The parent's wait: the drain's end, accepting resumed, a status line. */
static int64_t parent_deadline(const struct fork_server *srv)
{
	int64_t next = srv->draining ? srv->drain_deadline : NO_DEADLINE;

	if (srv->accept_resume > srv->now)
		next = earlier(next, srv->accept_resume);
	if (srv->status_due != 0)
		next = earlier(next, srv->status_due);
	return next;
}

/* One round of the parent.  Returns -1 to go on, else the exit status. */
static int parent_round(struct fork_server *srv)
{
	const struct startup *st = srv->st;
	struct pollfd p[MAX_WATCHED];
	nfds_t n = 0;

	log_flush();
	p[n++] = (struct pollfd){.fd = st->signal_fd, .events = POLLIN};
	if (log_pending())
		p[n++] =
		    (struct pollfd){.fd = STDERR_FILENO, .events = POLLOUT};
	nfds_t first_listener = n;
	bool accepting = srv->listening && srv->accept_resume <= srv->now;
	for (size_t i = 0; accepting && i < st->nlisteners; i++)
		p[n++] = (struct pollfd){.fd = st->listeners[i].fd,
					 .events = POLLIN};
	int timeout = blocking_poll_timeout(parent_deadline(srv));
	TRACE("poll: signals%s, timeout=%d ms",
	      accepting ? " and new clients" : "", timeout);
	log_flush();
	int ready = poll(p, n, timeout);
	srv->now = conn_clock();
	if (ready < 0 && errno != EINTR) {
		log_server("poll: %s", strerror(errno));
		return 1;
	}
	if (p[0].revents != 0 && !on_signals(srv))
		return 1;
	for (nfds_t i = first_listener; i < n && srv->listening; i++)
		if (p[i].revents != 0)
			accept_clients(srv, p[i].fd);
	bound_lingerers(srv);
	if (srv->status_due != 0 && srv->now >= srv->status_due) {
		srv->status_due = 0;
		status(srv);
	}
	if (srv->draining &&
	    (srv->nchildren == 0 || srv->now >= srv->drain_deadline))
		return 0;
	return -1;
}

/* The end (the drain over, or abandoned): whoever is left is killed and
 * reaped, and the summary counts them all. */
static void finish(struct fork_server *srv)
{
	kill_children(srv, SIGKILL);
	while (srv->nchildren > 0 && waitpid(-1, NULL, 0) > 0)
		reap(srv);
	for (size_t i = 0; i < srv->nslots; i++)
		if (srv->children[i].pid != 0) {
			srv->lines += atomic_load(&srv->reports[i].lines);
			srv->bytes += atomic_load(&srv->reports[i].bytes);
		}
	log_summary(srv->served, srv->lines, srv->bytes);
}

int main(int argc, char **argv)
{
	static struct fork_server srv;
	static struct startup st;
	const struct startup_model model = {
	    .name = "one process per connection",
	    .ceiling = MAX_CHILDREN,
	    .also_routed = SIGCHLD,
	};

	int rc = startup(argc, argv, &model, &st);
	if (rc >= 0)
		return rc;
	srv.st = &st;
	/* As many may linger as converse, and a few be on their way out. */
	srv.nslots = 2 * st.cfg.max_clients + 16;
	srv.children = calloc(srv.nslots, sizeof(*srv.children));
	srv.reports =
	    mmap(NULL, srv.nslots * sizeof(*srv.reports),
		 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (srv.children == NULL || srv.reports == MAP_FAILED) {
		log_server("cannot start: %s", strerror(errno));
		return 1;
	}
	peers_init(&srv.peers);
	srv.listening = true;
	srv.now = conn_clock();
	if (trace_on) {
		trace_header();
		for (size_t i = 0; i < st.nlisteners; i++)
			TRACE("fd %d: listening socket %s", st.listeners[i].fd,
			      st.listeners[i].where);
		TRACE("fd %d: signal pipe", st.signal_fd);
	}
	while ((rc = parent_round(&srv)) < 0)
		continue;
	finish(&srv);
	return rc;
}
