/*
 * signals.c - the self-pipe (see signals.h).
 */
#include "signals.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "net.h"

#define MAX_SIGNALS 8

static int signal_pipe[2] = {-1, -1};
static int routed[MAX_SIGNALS];
static size_t nrouted;

/* All a handler may safely do here: note the signal in the pipe. */
static void on_signal(int signo)
{
	int saved = errno;
	unsigned char b = (unsigned char)signo;
	ssize_t n = write(signal_pipe[1], &b, 1);

	(void)n; /* a full pipe already holds enough wake-ups */
	errno = saved;
}

static int set_handler(int signo, void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = handler;
	sa.sa_flags = SA_NOCLDSTOP; /* SIGCHLD: exits only, not stops */
	return sigaction(signo, &sa, NULL);
}

int signals_ignore_sigpipe(void)
{
	return set_handler(SIGPIPE, SIG_IGN);
}

int signals_ignore(const int *signos, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (set_handler(signos[i], SIG_IGN) != 0)
			return -1;
	return 0;
}

int signals_to_pipe(const int *signos, size_t n)
{
	if (n > MAX_SIGNALS || signal_pipe[0] >= 0) {
		errno = EINVAL;
		return -1;
	}
	if (pipe(signal_pipe) != 0)
		return -1;
	for (int i = 0; i < 2; i++)
		if (net_set_nonblocking(signal_pipe[i]) != 0 ||
		    net_set_cloexec(signal_pipe[i]) != 0)
			return -1;
	for (size_t i = 0; i < n; i++) {
		if (set_handler(signos[i], on_signal) != 0)
			return -1;
		routed[nrouted++] = signos[i];
	}
	return signal_pipe[0];
}

void signals_reset_in_child(void)
{
	for (size_t i = 0; i < nrouted; i++)
		(void)set_handler(routed[i], SIG_DFL);
	nrouted = 0; /* the child may route its own */
	close(signal_pipe[0]);
	close(signal_pipe[1]);
	signal_pipe[0] = signal_pipe[1] = -1;
}
