/*
 * main.c - echoserv: start as every server of the project starts
 * (startup.c), then hand over to the select() loop (server.c).
 */
#include <sys/select.h>

#include "server.h"
#include "startup.h"

int main(int argc, char **argv)
{
	static struct startup st;
	const struct startup_model echoserv = {
	    .name = NULL,
	    .ceiling = max_clients_ceiling(),
	    .fd_bound = FD_SETSIZE,
	};

	int rc = startup(argc, argv, &echoserv, &st);
	if (rc >= 0)
		return rc;
	st.takes_handoffs = true; /* server_run() watches st.handoff_fd */
	return startup_serve(&st, server_run);
}
