/*
 * vg_session.c - one representative session with the server under
 * valgrind (make valgrind-check).
 *
 *     vg_session SERVER LOGFILE
 *
 * Starts "valgrind --leak-check=full --error-exitcode=1 SERVER 0
 * --max-line 64", then: a client echoes lines (CRLF, pipelined) and says
 * quit; one says quit and goes on sending 256 KB; one half-closes after an
 * unterminated line; one sends an over-long line; one resets mid-conversation;
 * one is still connected, with a reply owed, when SIGTERM arrives.  Passes when
 * every reply is exact and the server exits with status 0 (valgrind exits 1 if
 * it found an error or a leak).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sutil.h"

#define TIMEOUT_MS 5000

/* Send what, half-close if asked, and expect exactly want then EOF. */
static bool exchange(unsigned port, const char *what, bool half_close,
		     const char *want, const char *name)
{
	char buf[256];
	bool eof;
	int err;
	int fd = connect_loopback(port);

	if (fd < 0 || write_all(fd, what, strlen(what)) != 0 ||
	    (half_close && shutdown(fd, SHUT_WR) != 0)) {
		printf("vg_session: %s: cannot talk to the server\n", name);
		if (fd >= 0)
			close(fd);
		return false;
	}
	size_t got =
	    read_until_eof(fd, buf, sizeof(buf) - 1, TIMEOUT_MS, &eof, &err);
	close(fd);
	bool ok = eof && got == strlen(want) && memcmp(buf, want, got) == 0;
	printf("vg_session: %-14s %s\n", name,
	       ok ? "ok" : "WRONG reply or no EOF");
	return ok;
}

/* Say quit, keep sending 256 KB after it, then read: the reply before
 * quit and EOF (the server discards the rest while closing politely). */
static bool quit_then_junk(unsigned port)
{
	static char junk[256 * 1024];
	char buf[64];
	bool eof = false;
	int err = 0;
	int fd = connect_loopback(port);

	memset(junk, 'j', sizeof(junk));
	bool ok = fd >= 0 && write_all(fd, "x\nquit\n", 7) == 0;
	for (size_t i = 0; ok && i < sizeof(junk); i += 1024)
		if (write_all(fd, junk + i, 1024) != 0)
			break; /* the server may close first: fine */
	size_t got =
	    ok ? read_until_eof(fd, buf, sizeof(buf), TIMEOUT_MS, &eof, &err)
	       : 0;
	if (fd >= 0)
		close(fd);
	ok = ok && eof && got == 2 && memcmp(buf, "x\n", 2) == 0;
	printf("vg_session: %-14s %s\n", "quit + junk",
	       ok ? "ok" : "WRONG reply or no EOF");
	return ok;
}

/* Print valgrind's verdict lines from the log. */
static void print_summary(const char *log_path)
{
	char line[512];
	FILE *f = fopen(log_path, "r");

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "ERROR SUMMARY") != NULL ||
		    strstr(line, "definitely lost") != NULL ||
		    strstr(line, "All heap blocks were freed") != NULL ||
		    strstr(line, "in use at exit") != NULL ||
		    strstr(line, "echoserv: shutdown:") != NULL)
			printf("vg_session: log: %s", line);
	fclose(f);
}

int main(int argc, char **argv)
{
	struct server_proc sp;
	bool ok = true;

	if (argc != 3) {
		fprintf(stderr, "usage: vg_session SERVER LOGFILE\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	char *vg[] = {"valgrind",
		      "--leak-check=full",
		      "--error-exitcode=1",
		      argv[1],
		      "0",
		      "--max-line",
		      "64",
		      NULL};
	if (server_start(&sp, vg, argv[2], 0, 30000) != 0)
		return 1;

	ok &= exchange(sp.port, "hello\nCRLF line\r\na\nb\nquit\nafter\n",
		       false, "hello\nCRLF line\r\na\nb\n", "echo + quit");
	ok &= exchange(sp.port, "one\nunterminated", true, "one\nunterminated",
		       "eof");
	ok &=
	    exchange(sp.port,
		     "short\n0123456789012345678901234567890123456789012345"
		     "678901234567890123456789\n",
		     false, "short\nerror: line too long (limit 64 bytes)\r\n",
		     "line too long");

	ok &= quit_then_junk(sp.port);

	int rst = connect_loopback(sp.port);
	if (rst >= 0) {
		ok &= echo_once(rst, "then a reset\n", TIMEOUT_MS) == 0;
		(void)write_all(rst, "x\ny\nz\n", 6);
		close_with_reset(rst);
		printf("vg_session: reset          done\n");
	}
	int open_fd = connect_loopback(sp.port);
	ok &= open_fd >= 0 && echo_once(open_fd, "open\n", TIMEOUT_MS) == 0;
	if (open_fd >= 0)
		(void)write_all(open_fd, "owed at shutdown\npartial", 24);
	sleep_ms(300); /* let the server frame that line */

	server_signal(&sp, SIGTERM);
	if (open_fd >= 0) {
		char buf[64];
		bool eof;
		int err;
		size_t got = read_until_eof(open_fd, buf, sizeof(buf), 10000,
					    &eof, &err);
		bool good = eof && got == 17 &&
			    memcmp(buf, "owed at shutdown\n", 17) == 0;
		printf("vg_session: %-14s %s\n", "shutdown",
		       good ? "ok" : "WRONG reply or no EOF");
		ok &= good;
		close(open_fd);
	}
	if (!server_wait(&sp, 20000)) {
		printf("vg_session: server still running 20 s after SIGTERM\n");
		server_stop(&sp);
		return 1;
	}
	print_summary(argv[2]);
	int status = WIFEXITED(sp.status) ? WEXITSTATUS(sp.status) : -1;
	printf("vg_session: exit status %d (valgrind exits 1 on an error or "
	       "a leak)\n",
	       status);
	ok &= status == 0;
	printf("vg_session: %s\n", ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
}
