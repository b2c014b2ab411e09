/*
 * check.c - the protocol check: a few conversations from section 3 of
 * docs/protocol.md, each on its own connection, compared byte for byte with
 * the exact reply.
 * It lets the smoke test show that every comparison server speaks the same
 * protocol as echoserv, not just that it echoes.
 */
#include "echobench.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A conversation may take this long before it counts as failed. */
#define CHECK_TIMEOUT_MS 3000

struct conversation {
	const char *name;
	char *send; /* bytes to send */
	size_t send_len;
	bool half_close; /* shutdown(SHUT_WR) after sending */
	char *want;      /* the whole reply, up to the server's close */
	size_t want_len;
};

/* ============================== talking ============================== */

/* Write all of buf to blocking fd; 0 or -1. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Read until the server closes (or the timeout) into got, at most cap
 * bytes.  Returns the byte count; *closed says whether it closed.
 */
static size_t read_until_close(int fd, char *got, size_t cap, bool *closed)
{
	size_t len = 0;

	*closed = false;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int ready = poll(&p, 1, CHECK_TIMEOUT_MS);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0)
			return len; /* timed out: the server never closed */
		char sink[4096];
		char *to = len < cap ? got + len : sink;
		size_t room = len < cap ? cap - len : sizeof(sink);
		ssize_t n = read(fd, to, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*closed = n == 0; /* a reset is not a clean close */
			return len;
		}
		if (len < cap)
			len += (size_t)n;
	}
}

/* Print bytes readably, at most 60 of them. */
static void show(const char *label, const char *p, size_t n)
{
	fprintf(stderr, "    %s (%zu bytes): \"", label, n);
	for (size_t i = 0; i < n && i < 60; i++) {
		unsigned char b = (unsigned char)p[i];
		if (b >= 0x20 && b < 0x7f && b != '\\' && b != '"')
			fputc(b, stderr);
		else
			fprintf(stderr, "\\x%02x", b);
	}
	fprintf(stderr, "%s\"\n", n > 60 ? "..." : "");
}

/* Hold one conversation; true if the reply and the close were exact. */
static bool check_conversation(const struct sockaddr_storage *addr,
			       socklen_t alen, const struct conversation *cv)
{
	size_t cap = cv->want_len + 64;
	char *got = malloc(cap);
	bool closed = false, ok = false;
	size_t len = 0;
	int fd = connect_blocking(addr, alen);

	if (fd < 0 || got == NULL) {
		fprintf(stderr, "    cannot connect: %s\n", strerror(errno));
	} else if (write_all(fd, cv->send, cv->send_len) != 0 ||
		   (cv->half_close && shutdown(fd, SHUT_WR) != 0)) {
		fprintf(stderr, "    cannot send: %s\n", strerror(errno));
	} else {
		len = read_until_close(fd, got, cap, &closed);
		ok = closed && len == cv->want_len &&
		     memcmp(got, cv->want, len) == 0;
		if (!ok) {
			show("wanted", cv->want, cv->want_len);
			show("got", got, len);
			fprintf(stderr, "    then %s\n",
				closed ? "closed" : "no clean close");
		}
	}
	if (fd >= 0)
		close(fd);
	free(got);
	return ok;
}

/* ============================== the cases ============================== */

/* A copy of text (n bytes); exits on out of memory: this is a test tool. */
static char *dup_bytes(const char *text, size_t n)
{
	char *p = malloc(n + 1);

	if (p == NULL) {
		fprintf(stderr, "echobench: out of memory\n");
		exit(1);
	}
	memcpy(p, text, n);
	p[n] = '\0';
	return p;
}

#define TEXT(s) dup_bytes(s, sizeof(s) - 1), sizeof(s) - 1

/* Fill cases[]; returns how many. */
static size_t make_cases(struct conversation *cv, size_t max_line)
{
	size_t n = 0;
	char all[512], err[80];
	size_t alen = 0;

	cv[n++] = (struct conversation){"echo, CRLF kept, then eof",
					TEXT("hello\r\nworld\n"), true,
					TEXT("hello\r\nworld\n")};
	cv[n++] =
	    (struct conversation){"quit ends it, the rest dropped",
				  TEXT("a\nquit\nb\n"), false, TEXT("a\n")};
	cv[n++] = (struct conversation){"quit with CR", TEXT("x\r\nquit\r\n"),
					false, TEXT("x\r\n")};
	cv[n++] = (struct conversation){"QUIT and 'quit ' are echoed",
					TEXT("QUIT\nquit \n"), true,
					TEXT("QUIT\nquit \n")};
	cv[n++] =
	    (struct conversation){"final unterminated line echoed",
				  TEXT("one\ntail"), true, TEXT("one\ntail")};
	/* 255 byte values in lines short enough for any --max-line. */
	size_t per_line = max_line / 2, in_line = 0;
	for (int b = 0; b < 256; b++) {
		if (b == '\n')
			continue;
		all[alen++] = (char)b;
		if (++in_line == per_line) {
			all[alen++] = '\n';
			in_line = 0;
		}
	}
	all[alen++] = '\n';
	cv[n++] = (struct conversation){"every byte value",
					dup_bytes(all, alen),
					alen,
					true,
					dup_bytes(all, alen),
					alen};

	/* max_line bytes without an LF: the limit is reached. */
	char *longline = malloc(max_line + 3);
	if (longline == NULL) {
		fprintf(stderr, "echobench: out of memory\n");
		exit(1);
	}
	memcpy(longline, "ok\n", 3);
	memset(longline + 3, 'x', max_line);
	int elen = snprintf(err, sizeof(err),
			    "ok\nerror: line too long (limit %zu bytes)\r\n",
			    max_line);
	cv[n++] = (struct conversation){"line too long",
					longline,
					max_line + 3,
					false,
					dup_bytes(err, (size_t)elen),
					(size_t)elen};
	return n;
}

int run_protocol_check(const struct bench_config *cfg)
{
	struct conversation cases[8];
	struct sockaddr_storage addr;
	socklen_t alen;
	int failed = 0;

	if (resolve_target(cfg, &addr, &alen) != 0)
		return 1;
	size_t n = make_cases(cases, cfg->max_line);
	for (size_t i = 0; i < n; i++) {
		bool ok = check_conversation(&addr, alen, &cases[i]);
		if (!ok)
			failed++;
		if (!cfg->quiet || !ok)
			printf("%s: %s\n", ok ? "pass" : "FAIL", cases[i].name);
		free(cases[i].send);
		free(cases[i].want);
	}
	printf("check_passed=%zu check_failed=%d\n", n - (size_t)failed,
	       failed);
	return failed;
}
