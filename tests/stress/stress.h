/*
 * stress.h - what the scenarios of the stress suite share: the options of
 * the run, the scenarios, and starting, checking and stopping echoserv on
 * top of the test-support library.
 */
#ifndef ECHOSERV_STRESS_H
#define ECHOSERV_STRESS_H

#include <stdbool.h>

#include "client_socket.h"
#include "clock.h"
#include "line_stream.h"
#include "proc_stats.h"
#include "server_log.h"
#include "server_process.h"

/* Every scenario's clients connect here (the server listens on all). */
#define LOOPBACK "127.0.0.1"

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
int scenario_trickle(const struct stress_opts *o);
int scenario_stalled_log(const struct stress_opts *o);
int scenario_stalled_terminal(const struct stress_opts *o);
int scenario_lingerers(const struct stress_opts *o);
int scenario_workers(const struct stress_opts *o);

/* Start o->server on port 0 with extra arguments (a NULL-terminated list
 * after the port), its stderr in logdir/name.log.  nofile > 0 lowers its
 * RLIMIT_NOFILE.  Returns 0 or -1. */
int start_echoserv(const struct stress_opts *o, struct proc *sp,
		   const char *name, long nofile, const char *const *args);

/* SIGTERM, and check the server exits 0 within 3 s.  Prints the result
 * and returns true when it did. */
bool stop_echoserv(const char *tag, struct proc *sp);

/* A fresh client gets an exact echo: the server is alive and serving. */
bool still_serving(const char *tag, const struct proc *sp);

/* Print a scenario's verdict line and return 0 for PASS, 1 for FAIL. */
int verdict(const char *scenario, bool ok, const char *why);

#endif
