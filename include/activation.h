/*
 * activation.h - listening sockets handed over by systemd (socket
 * activation).
 *
 * The protocol is a documented environment convention, no library needed
 * (systemd's sd_listen_fds(3)): LISTEN_PID holds the pid of the process the
 * sockets are meant for, LISTEN_FDS how many there are, and they are
 * descriptors 3, 4, ...  A process whose pid is not LISTEN_PID ignores them
 * (they were meant for a parent or a wrapper).
 */
#ifndef ECHOSERV_ACTIVATION_H
#define ECHOSERV_ACTIVATION_H

#include <stddef.h>

#include "net.h"

/* The first descriptor systemd passes. */
#define ACTIVATION_FIRST_FD 3

/*
 * If the environment passes sockets to this process, check that each is a
 * listening stream socket, make it nonblocking and close-on-exec, fill
 * out[0..n) with it and its address, and remove the variables from the
 * environment.  Returns how many sockets were passed (0: none, bind as
 * usual), or -1 with one line naming the problem in err.
 */
int activation_listeners(struct listener *out, size_t max, char *err,
			 size_t err_len);

#endif
