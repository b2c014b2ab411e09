/*
 * stdio.c - started with its standard descriptors closed, as a daemon may
 * be (`echoserv 7777 <&- >&- 2>&-`, or from a supervisor that closes them).
 *
 * Then the listening socket, the signal pipe and the rest take descriptors
 * 0, 1 and 2, and whatever the server writes "to stderr" lands in one of
 * them.  A careful UNIX daemon first makes sure 0, 1 and 2 are open (on
 * /dev/null) so that cannot happen.  The check: the server keeps running,
 * a client gets its echo, and SIGTERM ends it with status 0.  (With stderr
 * closed there is no listening line to read, so the port is chosen here:
 * an ephemeral port is bound, released and handed to the server.)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stress.h"

/* Start server on 127.0.0.1:port with every descriptor closed. */
static int start_closed(struct proc *sp, const char *server, int port)
{
	char port_text[16];
	const char *const args[] = {"--bind", "127.0.0.1", port_text, NULL};
	struct proc_opts opts = {.program = server, .stdio_closed = true};

	snprintf(port_text, sizeof(port_text), "%d", port);
	return proc_spawn(sp, &opts, args);
}

/* Connect and echo, retrying while the server starts (up to 3 s). */
static bool echo_when_up(int port)
{
	for (int tries = 0; tries < 60; tries++) {
		int fd = tcp_connect(LOOPBACK, port, NULL);
		if (fd >= 0) {
			bool ok = client_echo(fd, "are you there?\n", 3.0);
			close(fd);
			return ok;
		}
		sleep_ms(50);
	}
	return false;
}

int scenario_stdio(const struct stress_opts *o)
{
	const char *tag = "stdio";
	struct proc sp;
	int port = free_loopback_port();

	if (port <= 0)
		return verdict(tag, false, "no free port");
	if (start_closed(&sp, o->server, port) != 0)
		return verdict(tag, false, "fork failed");
	bool served = echo_when_up(port);
	bool alive = proc_alive(&sp);
	printf("%s: server started with descriptors 0, 1, 2 closed on "
	       "127.0.0.1:%d: %s, a client %s\n",
	       tag, port, alive ? "running" : "EXITED",
	       served ? "gets its echo" : "gets NO echo");
	if (!alive)
		printf("%s: it exited with status %d\n", tag, sp.status);
	bool ok = served && alive && stop_echoserv(tag, &sp);
	proc_stop(&sp);
	return verdict(tag, ok,
		       ok ? ""
			  : "with stdio closed the server does not serve "
			    "(its own writes to fd 2 land in a socket or "
			    "the signal pipe)");
}
