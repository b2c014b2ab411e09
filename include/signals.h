/*
 * signals.h - signals delivered race-free through a self-pipe.
 *
 * The handler only writes the signal's number, as one byte, into a pipe.
 * The event loop watches the pipe's read end in the same select() as its
 * sockets, so a signal can never slip in between a check and the wait and
 * go unnoticed until the next client speaks.
 */
#ifndef ECHOSERV_SIGNALS_H
#define ECHOSERV_SIGNALS_H

#include <stddef.h>

/* Ignore SIGPIPE, so writing to a vanished client fails with EPIPE instead
 * of killing the server.  0, or -1 with errno. */
int signals_ignore_sigpipe(void);

/* Ignore each of the n signals in signos.  0, or -1 with errno. */
int signals_ignore(const int *signos, size_t n);

/*
 * Send each of the n signals in signos (at most 8) to the self-pipe.
 * Returns the pipe's read end, nonblocking: each byte read from it is the
 * number of one signal received.  -1 with errno on failure.  Call once.
 */
int signals_to_pipe(const int *signos, size_t n);

/* In a child after fork(): default handling for those signals again, and
 * the pipe closed; the child may then call signals_to_pipe() for its own. */
void signals_reset_in_child(void);

#endif
