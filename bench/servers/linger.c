/*
 * linger.c - the lingering close (see linger.h).
 *
 * The lingering thread owns every socket handed to it.  It waits in poll()
 * on them and on a wake-up pipe, with the nearest deadline as timeout;
 * linger_in_background() puts a socket on a list under a mutex and writes
 * a byte to the pipe.  Nothing else is shared, and the thread never logs.
 */
#include "linger.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

struct lingerer {
	int fd;
	int64_t quiet_end; /* ms on the monotonic clock */
	int64_t hard_end;
};

struct linger_list {
	struct lingerer *items;
	size_t len, cap;
};

static pthread_once_t start_once = PTHREAD_ONCE_INIT;
static bool thread_running;
static int wake_fds[2] = {-1, -1};
static pthread_mutex_t handed_lock = PTHREAD_MUTEX_INITIALIZER;
static struct linger_list handed; /* given to the thread, not yet taken */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool list_push(struct linger_list *l, struct lingerer item)
{
	if (l->len == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct lingerer *p = realloc(l->items, cap * sizeof(*p));
		if (p == NULL)
			return false;
		l->items = p;
		l->cap = cap;
	}
	l->items[l->len++] = item;
	return true;
}

/*
 * Read and drop what is waiting on fd (nonblocking).  Returns false when
 * the linger is over for it: the client closed or failed.  *got tells
 * whether any input came (the quiet time starts again).
 */
static bool discard_input(int fd, bool *got)
{
	char sink[16384];

	*got = false;
	for (int i = 0; i < 16; i++) {
		ssize_t n = read(fd, sink, sizeof(sink));
		if (n > 0) {
			*got = true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
	}
	return true;
}

/* Poll timeout in ms until the nearest deadline of l. */
static int nearest_deadline(const struct linger_list *l, int64_t now)
{
	int64_t best = -1;

	for (size_t i = 0; i < l->len; i++) {
		const struct lingerer *g = &l->items[i];
		int64_t end =
		    g->quiet_end < g->hard_end ? g->quiet_end : g->hard_end;
		int64_t left = end > now ? end - now : 0;
		if (best < 0 || left < best)
			best = left;
	}
	return (int)best;
}

/* Move what was handed over into mine; drain the wake-up pipe. */
static void take_handed(struct linger_list *mine)
{
	char drain[64];

	while (read(wake_fds[0], drain, sizeof(drain)) > 0)
		continue;
	pthread_mutex_lock(&handed_lock);
	for (size_t i = 0; i < handed.len; i++)
		if (!list_push(mine, handed.items[i]))
			close(handed.items[i].fd); /* out of memory: RST risk */
	handed.len = 0;
	pthread_mutex_unlock(&handed_lock);
}

/* Discard the input of the ready sockets; close those that are done. */
static void service(struct linger_list *mine, const struct pollfd *pfd,
		    size_t watched)
{
	int64_t now = now_ms();
	size_t kept = 0;

	for (size_t i = 0; i < mine->len; i++) {
		struct lingerer g = mine->items[i];
		bool open = true, got = false;
		if (i < watched && pfd[i + 1].revents != 0)
			open = discard_input(g.fd, &got);
		if (got)
			g.quiet_end = now + LINGER_QUIET_MS;
		if (!open || now >= g.quiet_end || now >= g.hard_end) {
			close(g.fd);
			continue;
		}
		mine->items[kept++] = g;
	}
	mine->len = kept;
}

static void *linger_thread(void *arg)
{
	struct linger_list mine = {0};
	struct pollfd *pfd = NULL;
	size_t pfd_cap = 0;

	(void)arg;
	for (;;) {
		if (mine.len + 1 > pfd_cap) {
			size_t cap = mine.cap + 1;
			struct pollfd *p = realloc(pfd, cap * sizeof(*p));
			if (p != NULL) {
				pfd = p;
				pfd_cap = cap;
			}
		}
		if (pfd_cap == 0) { /* out of memory: try again shortly */
			(void)poll(NULL, 0, 10);
			continue;
		}
		size_t n = mine.len + 1 <= pfd_cap ? mine.len : pfd_cap - 1;
		pfd[0] = (struct pollfd){.fd = wake_fds[0], .events = POLLIN};
		for (size_t i = 0; i < n; i++)
			pfd[i + 1] = (struct pollfd){.fd = mine.items[i].fd,
						     .events = POLLIN};
		int timeout = nearest_deadline(&mine, now_ms());
		if (poll(pfd, n + 1, timeout) < 0 && errno != EINTR)
			continue;
		service(&mine, pfd, n);
		if (pfd[0].revents != 0)
			take_handed(&mine);
	}
	return NULL;
}

static void start_thread(void)
{
	pthread_t tid;
	pthread_attr_t attr;

	if (pipe(wake_fds) != 0)
		return;
	if (net_set_nonblocking(wake_fds[0]) != 0 ||
	    net_set_nonblocking(wake_fds[1]) != 0 ||
	    net_set_cloexec(wake_fds[0]) != 0 ||
	    net_set_cloexec(wake_fds[1]) != 0 || pthread_attr_init(&attr) != 0)
		return;
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	(void)pthread_attr_setstacksize(&attr, 128 * 1024);
	thread_running = pthread_create(&tid, &attr, linger_thread, NULL) == 0;
	pthread_attr_destroy(&attr);
}

void linger_in_background(int fd)
{
	bool got;

	(void)shutdown(fd, SHUT_WR); /* fails only if the peer is gone */
	if (net_set_nonblocking(fd) != 0 || !discard_input(fd, &got)) {
		close(fd); /* the client has closed already: nothing to wait for
			    */
		return;
	}
	pthread_once(&start_once, start_thread);
	if (!thread_running) {
		net_close_gracefully(fd); /* the best we can do alone */
		return;
	}
	int64_t now = now_ms();
	struct lingerer g = {fd, now + LINGER_QUIET_MS, now + LINGER_MAX_MS};
	pthread_mutex_lock(&handed_lock);
	bool ok = list_push(&handed, g);
	pthread_mutex_unlock(&handed_lock);
	if (!ok) {
		net_close_gracefully(fd);
		return;
	}
	ssize_t w = write(wake_fds[1], "", 1); /* full: it wakes all the same */
	(void)w;
}

void linger_in_place(int fd)
{
	int64_t now = now_ms();
	int64_t quiet_end = now + LINGER_QUIET_MS,
		hard_end = now + LINGER_MAX_MS;
	bool got;

	(void)shutdown(fd, SHUT_WR);
	if (net_set_nonblocking(fd) != 0) {
		close(fd);
		return;
	}
	while (discard_input(fd, &got)) {
		now = now_ms();
		if (got)
			quiet_end = now + LINGER_QUIET_MS;
		int64_t end = quiet_end < hard_end ? quiet_end : hard_end;
		if (now >= end)
			break;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)(end - now)) < 0 && errno != EINTR)
			break;
	}
	close(fd);
}
