/*
 * trace.h - what the servers tell: the classroom trace of select() (-T),
 * the trace line of a connection's change of state, and the per-client log
 * lines, formatted here for the loop (server.c) and the connection core
 * (conn.c).  It formats and hands lines to log.h; it decides nothing.
 *
 * The trace of one round looks like this (docs/protocol.md section 5):
 *
 *     select: waiting  read={3,4,7} write={} timeout=299.8s
 *     select: ready    read={7} write={}
 *     fd 7: read 6 bytes
 *     fd 7: READING -> WRITING (1 line)
 *     fd 7: wrote 6 of 6 bytes
 *     fd 7: WRITING -> READING
 */
#ifndef ECHOSERV_TRACE_H
#define ECHOSERV_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/select.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "conn.h"
#include "protocol.h"

/* "trace: echoserv VERSION pid N FD_SETSIZE N": the first trace line, so a
 * reader can tell one server's trace from another's. */
void trace_header(void);

/* With -T, before the first wait: the header, then who the descriptors
 * the trace will name are ("fd 3: listening socket [::]:7777", "fd 5:
 * signal pipe").  A loop adds its own (the epoll instance, ...). */
void trace_descriptors(const struct listener *l, size_t n, int signal_fd);

/* "select: waiting  read={...} write={...} timeout=1.5s" (timeout NULL:
 * "none") before select(), or with ready set "select: ready ..." after it,
 * listing the members of the sets below nfds. */
void trace_select(const fd_set *r, const fd_set *w, int nfds,
		  const struct timeval *timeout, bool ready);

/* The same for the comparison servers' loops, whose waits do not take
 * fd_sets: "poll: waiting  read={3,4} write={7} timeout=1.5s" before the
 * wait (timeout_ns < 0: "none"), or with ready "poll: ready    read={3}
 * write={}" after it; who names the call.  r and w hold nr and nw
 * descriptors; with both NULL the sets are left out ("epoll_wait: waiting
 * timeout=1.5s": the kernel holds them). */
void trace_wait(const char *who, bool ready, const int *r, size_t nr,
		const int *w, size_t nw, int64_t timeout_ns);

/* "fd 7: READING -> WRITING (2 lines, then quit)": the connection on fd
 * moved from `from` to `to`; s is its session, why (or NULL) what made it
 * move ("FIN sent, discarding input", "quiet", ...). */
void trace_transition(int fd, enum conn_state from, enum conn_state to,
		      const struct session *s, const char *why);

/* The per-client log lines (-q hides them):
 *   "client ADDR:PORT connected (fd N)"
 *   "client ADDR:PORT closed (fd N): REASON; echoed L lines, B bytes"
 *   "client ADDR:PORT turned away: WHY" */
void log_connected(const char *peer, int fd);
void log_closed(const char *peer, int fd, const struct session *s);
void log_turned_away(const char *peer, const char *why);

/* "shutdown: served C clients, echoed L lines, B bytes" (always shown). */
void log_summary(uint64_t clients, uint64_t lines, uint64_t bytes);

/* SIGUSR1's line, whatever -q says: "status: N clients, M lingering;
 * served C, echoed L lines, B bytes so far". */
void log_status(size_t clients, size_t lingering, uint64_t served,
		uint64_t lines, uint64_t bytes);

/* The drain begins: "shutting down: delivering queued replies for up to
 * S s" (-q hides it); a second signal: "second signal: abandoning the
 * drain". */
void log_draining(unsigned seconds);
void log_abandoning(void);

#endif
