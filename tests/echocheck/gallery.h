/*
 * gallery.h - the deliberately broken echo servers of tests/echocheck/.
 *
 * gallery.c is one correct line echo server: a poll() loop over
 * nonblocking sockets that answers every complete line, keeps what a
 * write could not take for the next one, stops reading a client that
 * owes too much, and at end of input answers the unterminated rest and
 * closes once everything is written.  Its work is done by three seams
 * (framing, end of input, writing) and a few switches.  Each broken
 * server is a small program that replaces one seam with a flawed version,
 * so that the bug is the whole of its file; a few (one client at a time,
 * a thread per client, a process per client) have a loop of their own.
 * echocheck must fail each of them exactly where its bug shows, and pass
 * correct.c everywhere (tests/echocheck/expectations.py).
 */
#ifndef GALLERY_H
#define GALLERY_H

#include <stdbool.h>
#include <stddef.h>

/* One client of gallery.c's loop. */
struct client {
	int fd;
	char *in; /* bytes read and not answered yet */
	size_t in_len, in_cap;
	char *out; /* replies not written yet: out[out_off..out_len) */
	size_t out_len, out_off, out_cap;
	bool eof; /* the client has half-closed */
};

struct gallery_hooks {
	/* Answer the complete lines at the front of c->in into c->out. */
	void (*frame)(struct client *c);
	/* End of input: answer the rest of c->in; true to close at once,
	 * without waiting for c->out to be written. */
	bool (*at_eof)(struct client *c);
	/* Write c->out as far as the socket takes it: 0, or -1 on an error
	 * (the client is then closed). */
	int (*flush)(struct client *c);
	bool blocking;             /* leave the client sockets blocking */
	bool read_ahead;           /* read even while much is owed */
	unsigned long max_accepts; /* stop accepting after this many (0: no) */
};

/* The correct seams, for the broken servers to keep or call. */
extern const struct gallery_hooks gallery_correct;
void gallery_frame_lines(struct client *c);
bool gallery_keep_partial(struct client *c);
int gallery_flush(struct client *c);

/* Append n bytes to c->out; drop the first n bytes of c->in. */
void client_out(struct client *c, const char *p, size_t n);
void client_consume(struct client *c, size_t n);

/* Serve with these hooks on 127.0.0.1, port argv[1] (0: any); never
 * returns but on a start-up error (1) or bad usage (2). */
int gallery_run(int argc, char **argv, const struct gallery_hooks *h);

/* For the servers with a loop of their own: a listening socket on
 * 127.0.0.1, port argv[1], announced on stderr as "listening on
 * 127.0.0.1:PORT"; exits on failure. */
int gallery_listen(int argc, char **argv, bool nonblocking);

/* Write all of buf to a blocking fd: 0, or -1. */
int write_all(int fd, const char *buf, size_t len);

/* Print what failed and why, and exit 1. */
void die(const char *what);

#endif
