/*
 * protocol.h - the echo protocol and the per-client state machine.
 *
 * This module is the whole of docs/protocol.md section 3 and nothing else:
 * bytes go in, bytes to send come out, and the state says what the client
 * is waiting for.  It makes no system calls and knows nothing about
 * sockets, so the unit tests and the fuzzer can drive it directly, and
 * every server in this project (the select() server and the comparison
 * servers) shares it.
 *
 * Two framings: lines (the default: echo complete lines, "quit", a line
 * limit) and raw (RFC 862, session_set_raw: every byte is owed back as soon
 * as it is read).  The state machine is the same for both.
 *
 * The life of a session:
 *
 *     READING --(complete lines, quit, EOF, line too long)--> WRITING
 *     WRITING --(all output sent, conversation goes on)-----> READING
 *     WRITING --(all output sent, conversation over)--------> DONE
 *     READING --(quit or EOF with nothing left to send)-----> DONE
 *     any     --(session_abort: reset, shutdown, ...)-------> DONE
 *
 * Every transition is made by set_state() in protocol.c.  What happens to
 * the connection after DONE (closing at once, or lingering first) is the
 * event loop's business: see server.c.
 *
 * A session owns one buffer.  Input is read into its free tail; complete
 * lines at its front are echoed straight from it (no copy); after they are
 * sent the unfinished line moves to the front.  While a session is WRITING
 * it takes no input, which is what bounds its memory (backpressure).
 */
#ifndef ECHOSERV_PROTOCOL_H
#define ECHOSERV_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits of --max-line (docs/protocol.md section 2). */
#define MAX_LINE_MIN     16
#define MAX_LINE_MAX     1048576
#define MAX_LINE_DEFAULT 8192

/* Server-originated messages (docs/protocol.md 3.7). */
#define MSG_SERVER_FULL  "error: server full\r\n"
#define MSG_TOO_MANY     "error: too many connections\r\n"
#define MSG_IDLE_TIMEOUT "error: idle timeout\r\n"
#define MSG_LINE_TIMEOUT "error: line timeout\r\n"
#define MSG_BAD_PROXY    "error: bad proxy header\r\n"

enum session_state {
	SESSION_READING, /* waiting for input */
	SESSION_WRITING, /* replies are owed; no input is taken until they are sent */
	SESSION_DONE /* nothing more to say: the connection can be closed */
};

/* Why a conversation ended; NONE while it goes on. */
enum close_reason {
	CLOSE_NONE,
	CLOSE_QUIT,
	CLOSE_EOF,
	CLOSE_RESET,
	CLOSE_TIMEOUT,
	CLOSE_LINE_TIMEOUT,
	CLOSE_TOO_LONG,
	CLOSE_SHUTDOWN,
	CLOSE_NO_MEMORY
};

struct session {
	enum session_state state;
	enum close_reason reason; /* set once the conversation is ending */
	size_t max_line;          /* longest line, terminator included */
	bool raw;                 /* RFC 862: no framing, every byte echoed */
	bool line_begun;          /* the last input began an unfinished line */

	char *buf; /* allocated on first use, buf_size bytes */
	size_t buf_size;
	size_t len; /* bytes held: [0, out_end) replies, then a partial line */
	size_t out_sent;  /* bytes of [0, out_end) already sent */
	size_t out_end;   /* end of the replies owed from buf */
	size_t out_lines; /* lines in [0, out_end) */
	size_t scanned;   /* buf[out_end, scanned) is known to hold no LF */

	const char *notice; /* server message owed after the replies, or NULL */
	size_t notice_len;
	size_t notice_sent;
	char notice_buf[64];

	uint64_t lines_echoed; /* lines whose last byte has been sent */
	/* Echoed bytes sent (server messages excluded). */
	uint64_t bytes_echoed;
};

/* Prepare s for a new client; max_line is in MAX_LINE_MIN..MAX_LINE_MAX.
 * Allocates nothing: an idle client costs only the struct. */
void session_init(struct session *s, size_t max_line);

/* Switch a session just initialised to raw framing (RFC 862, protocol.md
 * 3.9): every byte read is owed back at once; no quit, no line limit. */
void session_set_raw(struct session *s);

/* Free what s holds.  s may be re-initialised afterwards. */
void session_free(struct session *s);

/* Where the next input may be read to, and how much (> 0).  Only valid in
 * READING.  Returns NULL if the buffer cannot be allocated. */
char *session_input_space(struct session *s, size_t *room);

/* n > 0 bytes were read into the space session_input_space() gave.  Frames
 * the lines and moves to WRITING if anything is now owed, or DONE. */
void session_on_input(struct session *s, size_t n);

/* The client sent end of input (read returned 0).  A final unterminated line
 * is echoed as it is, then the session ends (protocol.md 3.6). */
void session_on_eof(struct session *s);

/* The next bytes to send; *len is 0 when nothing is owed. */
const char *session_output(const struct session *s, size_t *len);

/* n bytes of session_output() were sent.  When all is sent the session goes
 * back to READING, or to DONE if the conversation is over. */
void session_on_output(struct session *s, size_t n);

/* Stop taking input but deliver what is owed (graceful shutdown), then DONE.
 * For CLOSE_TIMEOUT and CLOSE_LINE_TIMEOUT the "idle timeout" or "line
 * timeout" message is owed after the replies. */
void session_finish(struct session *s, enum close_reason why);

/* End the conversation now, dropping anything owed: state becomes DONE. */
void session_abort(struct session *s, enum close_reason why);

/* Lines framed by the last session_on_input/on_eof that are owed. */
size_t session_lines_owed(const struct session *s);

/* Echoed bytes owed and not yet sent (server messages excluded). */
size_t session_bytes_owed(const struct session *s);

/* Does s hold the start of a line whose LF has not arrived?  (Never in raw
 * mode, nor once the conversation is ending.)  The server times such a line
 * (--line-timeout); session_line_begun() says whether the last input began
 * it, which is when its clock starts. */
bool session_has_partial_line(const struct session *s);
bool session_line_begun(const struct session *s);

/* Printable names, for logs and the trace. */
const char *session_state_name(enum session_state st);
const char *close_reason_name(enum close_reason why);

#endif
