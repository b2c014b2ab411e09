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

#include "stress.h"
#include "conversation.h"

#define TIMEOUT 5.0 /* seconds */

/* Hold one conversation: send what, half-close if asked, and expect
 * exactly want then EOF. */
static bool exchange(int port, const char *what, bool half_close,
		     const char *want, const char *name)
{
	struct conversation cv = {name,       what, strlen(what),
				  half_close, want, strlen(want)};
	char why[512];
	bool ok = converse(LOOPBACK, port, &cv, TIMEOUT, why, sizeof(why));

	printf("vg_session: %-14s %s%s\n", name,
	       ok ? "ok" : "WRONG: ", ok ? "" : why);
	return ok;
}

/* Say quit, keep sending 256 KB after it, then read: the reply before
 * quit and EOF (the server discards the rest while closing politely). */
static bool quit_then_junk(int port)
{
	static char junk[256 * 1024];
	int fd = tcp_connect(LOOPBACK, port, NULL);

	memset(junk, 'j', sizeof(junk));
	bool ok = fd >= 0 && client_send_str(fd, "x\nquit\n", TIMEOUT) == 0;
	for (size_t i = 0; ok && i < sizeof(junk); i += 1024)
		if (client_send_all(fd, junk + i, 1024, TIMEOUT) != 0)
			break; /* the server may close first: fine */
	ok = ok && client_recv_final(fd, "x\n", TIMEOUT);
	if (fd >= 0)
		close(fd);
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
	struct proc sp;
	struct proc_opts opts = {
	    .program = "valgrind", .log_path = argv[2], .start_timeout = 30.0};
	bool ok = true;

	if (argc != 3) {
		fprintf(stderr, "usage: vg_session SERVER LOGFILE\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	const char *const vg[] = {"--leak-check=full",
				  "--error-exitcode=1",
				  argv[1],
				  "0",
				  "--max-line",
				  "64",
				  NULL};
	if (server_start(&sp, &opts, vg) != 0)
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

	int rst = tcp_connect(LOOPBACK, sp.port, NULL);
	if (rst >= 0) {
		ok &= client_echo(rst, "then a reset\n", TIMEOUT);
		(void)client_send_str(rst, "x\ny\nz\n", TIMEOUT);
		tcp_close_with_reset(rst);
		printf("vg_session: reset          done\n");
	}
	int open_fd = tcp_connect(LOOPBACK, sp.port, NULL);
	ok &= open_fd >= 0 && client_echo(open_fd, "open\n", TIMEOUT);
	if (open_fd >= 0)
		(void)client_send_str(open_fd, "owed at shutdown\npartial",
				      TIMEOUT);
	sleep_ms(300); /* let the server frame that line */

	proc_signal(&sp, SIGTERM);
	if (open_fd >= 0) {
		bool good = client_recv_final(open_fd, "owed at shutdown\n",
					      2 * TIMEOUT);
		printf("vg_session: %-14s %s\n", "shutdown",
		       good ? "ok" : "WRONG reply or no EOF");
		ok &= good;
		close(open_fd);
	}
	if (proc_wait(&sp, 20.0) < 0) {
		printf("vg_session: server still running 20 s after SIGTERM\n");
		proc_stop(&sp);
		return 1;
	}
	print_summary(argv[2]);
	int status = sp.status;
	printf("vg_session: exit status %d (valgrind exits 1 on an error or "
	       "a leak)\n",
	       status);
	ok &= status == 0;
	printf("vg_session: %s\n", ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
}
