/*
 * stress.h - what the scenarios of the stress suite share.
 */
#ifndef ECHOSERV_STRESS_H
#define ECHOSERV_STRESS_H

#include <stdbool.h>

#include "sutil.h"

struct stress_opts {
	bool long_run;      /* make stress (true) or make check's short run */
	const char *server; /* the echoserv binary */
	const char *logdir; /* the servers' stderr go here */
	unsigned long seed;
};

/* Each scenario prints what it tried and found, and returns 0 for PASS. */
int scenario_volume(const struct stress_opts *o);
int scenario_hostile(const struct stress_opts *o);
int scenario_exhaustion(const struct stress_opts *o);
int scenario_shutdown(const struct stress_opts *o);
int scenario_closing(const struct stress_opts *o);
int scenario_idle(const struct stress_opts *o);
int scenario_stdio(const struct stress_opts *o);

/* Start o->server with extra arguments (NULL-terminated list after the
 * port), its stderr in logdir/name.log.  nofile > 0 lowers its
 * RLIMIT_NOFILE.  Returns 0 or -1. */
int start_echoserv(const struct stress_opts *o, struct server_proc *sp,
		   const char *name, long nofile, const char *const *args);

/* SIGTERM, and check the server exits 0 within 3 s.  Prints the result
 * and returns true when it did. */
bool stop_echoserv(const char *tag, struct server_proc *sp);

/* A fresh client gets an exact echo: the server is alive and serving. */
bool still_serving(const char *tag, const struct server_proc *sp);

#endif
