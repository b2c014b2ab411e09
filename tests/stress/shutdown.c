/*
 * shutdown.c - SIGTERM in the middle of the volume run.
 *
 * The clients (pipelined, lockstep, byte-at-a-time, flood) never stop
 * sending on their own; SIGTERM arrives while they are all busy.  The
 * server runs with the classroom trace (-T), which logs every read, so the
 * suite knows how many bytes the server had taken from each client when
 * it stopped reading.  What is checked, per client:
 *
 *   owed      the bytes of the complete lines among the bytes the server
 *             had read (everything read, if it had read the client's EOF):
 *             the replies the server had fully received a line for;
 *   written   the bytes the server's close line says it echoed;
 *   received  the bytes the client got before its connection ended;
 *
 * and the rule is received == written == owed, with every received byte
 * equal to the byte sent (docs/protocol.md §4: replies already owed are
 * delivered; §3.8: closing never destroys them).  Unfinished lines are
 * dropped, as §4 allows.  The server must exit 0 within 3 s of the
 * signal, and the drain must not have needed its 2 s bound (every client
 * reads).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "stress.h"
#include "verified_load.h"

#define MAX_LINE   "1024"
#define MAX_LINE_N 1024

/* What the server's log says about each client port. */
struct port_log {
	uint64_t read;    /* bytes read (trace) */
	bool read_eof;    /* the trace saw its end of input */
	bool closed;      /* a close line was found */
	char reason[32];  /* its reason */
	uint64_t written; /* bytes echoed, from the close line */
};

struct sigterm_plan {
	struct proc *sp;
	int64_t at_ms;  /* when to send SIGTERM, ms into the run */
	int64_t sent;   /* monotonic ns it was sent, or 0 */
	int64_t exited; /* monotonic ns the exit was first seen, or 0 */
};

static void sigterm_tick(void *arg, int64_t elapsed_ms)
{
	struct sigterm_plan *p = arg;

	if (p->sent == 0 && elapsed_ms >= p->at_ms) {
		proc_signal(p->sp, SIGTERM);
		p->sent = now_ns();
	}
	if (p->sent != 0 && p->exited == 0 && proc_wait(p->sp, 0) >= 0)
		p->exited = now_ns();
}

/* Read the log: per connection (port) bytes read, EOF, close reason and
 * bytes echoed.  fds are reused, so reads go to the port the fd had at the
 * time.  Returns 0, or -1 if the log cannot be read. */
static int parse_log(const char *path, struct port_log *ports)
{
	static unsigned fd_port[65536];
	char line[1024];
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned port, fd, lines;
		unsigned long long bytes;
		char reason[32];
		const char *c;

		if (sscanf(line, "fd %u: read %llu bytes", &fd, &bytes) == 2) {
			if (fd < 65536)
				ports[fd_port[fd]].read += bytes;
		} else if (sscanf(line, "fd %u: read end of input", &fd) == 1 &&
			   strstr(line, "end of input") != NULL) {
			if (fd < 65536)
				ports[fd_port[fd]].read_eof = true;
		} else if ((c = strstr(line, "echoserv: client 127.0.0.1:")) !=
			       NULL &&
			   sscanf(c,
				  "echoserv: client 127.0.0.1:%u connected "
				  "(fd %u)",
				  &port, &fd) == 2) {
			if (fd < 65536 && port < 65536)
				fd_port[fd] = port;
		} else if (c != NULL &&
			   sscanf(c,
				  "echoserv: client 127.0.0.1:%u closed (fd "
				  "%u): %31[^;]; echoed %u line%*[s,] %llu",
				  &port, &fd, reason, &lines, &bytes) == 5 &&
			   port < 65536) {
			ports[port].closed = true;
			ports[port].written = bytes;
			snprintf(ports[port].reason, sizeof(ports[port].reason),
				 "%s", reason);
		}
	}
	fclose(f);
	return 0;
}

/* Check every client against the log; print the findings. */
static bool check_clients(const char *tag, const struct load_config *cfg,
			  const struct load_result *res, struct port_log *ports)
{
	size_t bad = 0, dropped_partial = 0, by_reason_shutdown = 0;
	uint64_t owed_total = 0, read_total = 0;

	for (size_t i = 0; i < cfg->nclients; i++) {
		const struct load_client_result *r = &res->clients[i];
		const struct port_log *pl = &ports[r->local_port];
		uint64_t owed = load_owed(cfg, i, pl->read, pl->read_eof);

		owed_total += owed;
		read_total += pl->read;
		dropped_partial += owed < pl->read;
		by_reason_shutdown += strcmp(pl->reason, "shutdown") == 0;
		if (pl->closed && r->rx_bytes == pl->written &&
		    pl->written == owed && !r->mismatch)
			continue;
		if (bad++ < 10)
			printf("%s:   client %zu (%s, port %u): read by server "
			       "%llu, owed %llu, written %llu (%s), received "
			       "%llu%s%s\n",
			       tag, i, send_mode_name(r->mode), r->local_port,
			       (unsigned long long)pl->read,
			       (unsigned long long)owed,
			       (unsigned long long)pl->written,
			       pl->closed ? pl->reason : "no close line",
			       (unsigned long long)r->rx_bytes,
			       r->reset ? ", connection reset" : "",
			       r->mismatch ? ", CORRUPTED" : "");
	}
	printf("%s: at the signal the server had read %.1f MB; it owed %.1f "
	       "MB of replies to complete lines; %zu clients closed with "
	       "reason shutdown, %zu had an unfinished line (dropped)\n",
	       tag, (double)read_total / 1e6, (double)owed_total / 1e6,
	       by_reason_shutdown, dropped_partial);
	printf("%s: clients with received == written == owed: %zu of %zu; "
	       "clients that saw a reset: %zu\n",
	       tag, cfg->nclients - bad, cfg->nclients, res->resets);
	return bad == 0;
}

int scenario_shutdown(const struct stress_opts *o)
{
	const char *tag = "shutdown";
	static struct port_log ports[65536];
	struct load_config cfg = {0};
	struct proc sp;
	struct load_result res;
	struct sigterm_plan plan = {0};
	char why[256] = "";
	size_t want = o->long_run ? 1000 : 150;

	memset(ports, 0, sizeof(ports));
	raise_nofile((long)want + 64);
	const char *args[] = {"--max-line", MAX_LINE, "-T", NULL};
	if (start_echoserv(o, &sp, tag, 0, args) != 0)
		return verdict(tag, false, "server did not start");
	plan.sp = &sp;
	plan.at_ms = o->long_run ? 5000 : 1500;
	cfg.port = sp.port;
	cfg.nclients = want;
	cfg.max_line = MAX_LINE_N;
	cfg.lines = 1000;
	cfg.pct_bytes = 3;
	cfg.pct_lock = 25;
	cfg.pct_flood = 10;
	cfg.pct_halfclose = 0;
	cfg.time_limit_ms = (int)plan.at_ms + 5000;
	cfg.min_ms = cfg.time_limit_ms; /* never stop sending on their own */
	cfg.seed = o->seed + 11;
	cfg.tick = sigterm_tick;
	cfg.tick_arg = &plan;
	cfg.quiet = true;
	printf("%s: %zu clients sending without end (server --max-line %s "
	       "-T); SIGTERM after %.1f s\n",
	       tag, want, MAX_LINE, plan.at_ms / 1000.0);
	fflush(stdout);
	int rc = load_run(&cfg, &res);
	if (plan.sent != 0 && plan.exited == 0 &&
	    proc_wait(&sp, 3.0 - (double)(now_ns() - plan.sent) / 1e9) >= 0)
		plan.exited = now_ns();
	load_result_print(tag, &res, true);

	bool ok = rc == 0 && plan.sent != 0;
	double secs =
	    plan.exited ? (double)(plan.exited - plan.sent) / 1e9 : -1;
	int status = sp.pid == 0 ? sp.status : -1;
	printf("%s: server exit status %d, %.2f s after SIGTERM\n", tag, status,
	       secs);
	if (!(plan.exited && status == 0 && secs < 3.0)) {
		ok = false;
		snprintf(why, sizeof(why), "no exit 0 within 3 s of SIGTERM");
	} else if (secs >= 2.0) {
		ok = false;
		snprintf(why, sizeof(why), "the drain ran into its 2 s bound");
	}
	if (parse_log(sp.err_path, ports) != 0 ||
	    !check_clients(tag, &cfg, &res, ports)) {
		ok = false;
		snprintf(why, sizeof(why),
			 "some replies owed were not delivered");
	}
	if (res.mismatched != 0) {
		ok = false;
		snprintf(why, sizeof(why), "%zu clients got corrupted replies",
			 res.mismatched);
	}
	proc_stop(&sp);
	load_result_free(&res);
	return verdict(tag, ok, why);
}
