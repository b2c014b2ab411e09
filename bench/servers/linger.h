/*
 * linger.h - the closing phase the comparison servers share: send FIN after
 * the replies, then read and discard the client's input until it closes
 * too, its input has been quiet for LINGER_QUIET_MS, or LINGER_MAX_MS have
 * passed, and only then close (docs/protocol.md 3.8: closing with unread
 * input makes TCP send a reset, which destroys replies not yet read).
 *
 * echoserv does this in its own loop, as the LINGERING state.  A comparison
 * server is there to show one I/O model, so the closing phase is not part
 * of it: event loops hand the socket to one lingering thread (the same in
 * every server, idle unless a client is closing), and servers that block
 * anyway (a thread or a process per client, the iterative server) linger
 * in place.
 */
#ifndef BENCH_LINGER_H
#define BENCH_LINGER_H

#define LINGER_QUIET_MS 1000
#define LINGER_MAX_MS   10000

/* Send FIN on fd and hand it to the lingering thread, which closes it.
 * The caller forgets fd at once.  fd may be blocking or not. */
void linger_in_background(int fd);

/* Send FIN on fd, discard its input until the linger ends, close it.
 * Returns when fd is closed (at most LINGER_MAX_MS later). */
void linger_in_place(int fd);

#endif
