/*
 * protocol.c - line framing and the READING / WRITING / DONE state machine.
 *
 * No system calls in here: see protocol.h for the contract.
 */
#include "protocol.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The buffer holds one maximal line, and never less than this: with a tiny
 * --max-line a bigger buffer still lets one read take many pipelined lines.
 */
#define SESSION_MIN_BUFFER 4096

/* ============================== state ============================== */

/* The one place where a session changes state. */
static void set_state(struct session *s, enum session_state next)
{
	s->state = next;
}

static bool output_owed(const struct session *s)
{
	return s->out_sent < s->out_end ||
	       (s->notice != NULL && s->notice_sent < s->notice_len);
}

/* After input or output: WRITING while anything is owed, else DONE if the
 * conversation has ended, else READING. */
static void settle(struct session *s)
{
	if (output_owed(s))
		set_state(s, SESSION_WRITING);
	else if (s->reason != CLOSE_NONE)
		set_state(s, SESSION_DONE);
	else
		set_state(s, SESSION_READING);
}

/* The conversation ends for reason why; keep the first reason given. */
static void end_conversation(struct session *s, enum close_reason why)
{
	if (s->reason == CLOSE_NONE)
		s->reason = why;
}

/* Forget the bytes after the owed replies: they will never be echoed. */
static void drop_unframed_input(struct session *s)
{
	s->len = s->out_end;
	s->scanned = s->out_end;
}

static void owe_notice(struct session *s, const char *text, size_t len)
{
	s->notice = text;
	s->notice_len = len;
	s->notice_sent = 0;
}

/* ============================== framing ============================== */

/* protocol.md 3.3: the content (everything before the LF) is "quit" or
 * "quit\r". */
static bool is_quit(const char *line, size_t len_with_lf)
{
	return (len_with_lf == 5 && memcmp(line, "quit\n", 5) == 0) ||
	       (len_with_lf == 6 && memcmp(line, "quit\r\n", 6) == 0);
}

/* protocol.md 3.5: replies already owed go first, then the error, then close.
 */
static void reject_long_line(struct session *s)
{
	int n =
	    snprintf(s->notice_buf, sizeof(s->notice_buf),
		     "error: line too long (limit %zu bytes)\r\n", s->max_line);
	assert(n > 0 && (size_t)n < sizeof(s->notice_buf));
	drop_unframed_input(s);
	owe_notice(s, s->notice_buf, (size_t)n);
	end_conversation(s, CLOSE_TOO_LONG);
}

/*
 * Walk the complete lines in buf[out_end, len).  Each one joins the replies
 * owed, which are simply the front of the buffer: echoing needs no copy.
 * Stops at "quit" (dropping it and all after it) or at an over-long line.
 */
static void frame_lines(struct session *s)
{
	size_t line_start = s->out_end;
	size_t pos = s->scanned;

	while (pos < s->len) {
		char *lf = memchr(s->buf + pos, '\n', s->len - pos);
		if (lf == NULL)
			break;
		size_t end = (size_t)(lf - s->buf) + 1;
		if (is_quit(s->buf + line_start, end - line_start)) {
			s->out_end = line_start;
			drop_unframed_input(s);
			end_conversation(s, CLOSE_QUIT);
			return;
		}
		if (end - line_start > s->max_line) {
			s->out_end = line_start;
			reject_long_line(s);
			return;
		}
		s->out_lines++;
		line_start = end;
		pos = end;
	}
	s->out_end = line_start;
	s->scanned = s->len;
	if (s->len - s->out_end >= s->max_line)
		reject_long_line(s);
}

/* RFC 862: everything held is owed back as it is. */
static void frame_raw(struct session *s)
{
	s->out_end = s->len;
	s->scanned = s->len;
}

/* ============================== interface ============================== */

void session_init(struct session *s, size_t max_line)
{
	assert(max_line >= MAX_LINE_MIN && max_line <= MAX_LINE_MAX);
	memset(s, 0, sizeof(*s));
	s->max_line = max_line;
	s->buf_size =
	    max_line > SESSION_MIN_BUFFER ? max_line : SESSION_MIN_BUFFER;
	set_state(s, SESSION_READING);
}

void session_set_raw(struct session *s)
{
	assert(s->buf == NULL && s->len == 0);
	s->raw = true;
}

void session_free(struct session *s)
{
	free(s->buf);
	s->buf = NULL;
}

char *session_input_space(struct session *s, size_t *room)
{
	assert(s->state == SESSION_READING && s->out_end == 0);
	if (s->buf == NULL) {
		s->buf = malloc(s->buf_size);
		if (s->buf == NULL)
			return NULL;
	}
	/* READING holds at most max_line - 1 bytes of one unfinished line. */
	*room = s->buf_size - s->len;
	return s->buf + s->len;
}

void session_on_input(struct session *s, size_t n)
{
	assert(s->state == SESSION_READING && n > 0 &&
	       n <= s->buf_size - s->len);
	size_t old_len = s->len;
	s->len += n;
	if (s->raw)
		frame_raw(s);
	else
		frame_lines(s);
	/* The unfinished line starts at out_end: in this input or before? */
	s->line_begun = session_has_partial_line(s) && s->out_end >= old_len;
	settle(s);
}

void session_on_eof(struct session *s)
{
	assert(s->state == SESSION_READING);
	if (s->len > 0) {
		/* 3.6: a final unterminated line is echoed as it is. */
		s->out_end = s->len;
		s->out_lines = 1;
	}
	end_conversation(s, CLOSE_EOF);
	settle(s);
}

const char *session_output(const struct session *s, size_t *len)
{
	if (s->out_sent < s->out_end) {
		*len = s->out_end - s->out_sent;
		return s->buf + s->out_sent;
	}
	if (s->notice != NULL && s->notice_sent < s->notice_len) {
		*len = s->notice_len - s->notice_sent;
		return s->notice + s->notice_sent;
	}
	*len = 0;
	return NULL;
}

/* All replies from the buffer are sent: count them and move the unfinished
 * line (if any) to the front, ready for more input. */
static void replies_delivered(struct session *s)
{
	s->lines_echoed += s->out_lines;
	s->out_lines = 0;
	memmove(s->buf, s->buf + s->out_end, s->len - s->out_end);
	s->len -= s->out_end;
	s->scanned -= s->out_end;
	s->out_end = 0;
	s->out_sent = 0;
}

void session_on_output(struct session *s, size_t n)
{
	assert(s->state == SESSION_WRITING);
	if (s->out_sent < s->out_end) {
		assert(n <= s->out_end - s->out_sent);
		s->out_sent += n;
		s->bytes_echoed += n;
		if (s->out_sent == s->out_end)
			replies_delivered(s);
	} else {
		assert(s->notice != NULL &&
		       n <= s->notice_len - s->notice_sent);
		s->notice_sent += n;
	}
	settle(s);
}

void session_finish(struct session *s, enum close_reason why)
{
	if (s->state == SESSION_DONE)
		return;
	end_conversation(s, why);
	drop_unframed_input(s);
	if (why == CLOSE_TIMEOUT && s->notice == NULL)
		owe_notice(s, MSG_IDLE_TIMEOUT, strlen(MSG_IDLE_TIMEOUT));
	if (why == CLOSE_LINE_TIMEOUT && s->notice == NULL)
		owe_notice(s, MSG_LINE_TIMEOUT, strlen(MSG_LINE_TIMEOUT));
	settle(s);
}

void session_abort(struct session *s, enum close_reason why)
{
	s->reason = why;
	s->out_sent = s->out_end = 0;
	s->out_lines = 0;
	s->notice = NULL;
	drop_unframed_input(s);
	set_state(s, SESSION_DONE);
}

size_t session_lines_owed(const struct session *s)
{
	return s->out_lines;
}

size_t session_bytes_owed(const struct session *s)
{
	return s->out_end - s->out_sent;
}

bool session_has_partial_line(const struct session *s)
{
	return !s->raw && s->reason == CLOSE_NONE && s->len > s->out_end;
}

bool session_line_begun(const struct session *s)
{
	return s->line_begun;
}

const char *session_state_name(enum session_state st)
{
	switch (st) {
	case SESSION_READING:
		return "READING";
	case SESSION_WRITING:
		return "WRITING";
	case SESSION_DONE:
		return "DONE";
	}
	return "?";
}

const char *close_reason_name(enum close_reason why)
{
	switch (why) {
	case CLOSE_NONE:
		return "open";
	case CLOSE_QUIT:
		return "quit";
	case CLOSE_EOF:
		return "eof";
	case CLOSE_RESET:
		return "reset";
	case CLOSE_TIMEOUT:
		return "timeout";
	case CLOSE_LINE_TIMEOUT:
		return "line timeout";
	case CLOSE_TOO_LONG:
		return "line too long";
	case CLOSE_SHUTDOWN:
		return "shutdown";
	case CLOSE_NO_MEMORY:
		return "out of memory";
	}
	return "?";
}
