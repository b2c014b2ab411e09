# bench.mk - the benchmark kit (docs/protocol.md section 6): the echobench
# load generator and the comparison servers, all built into $(BUILD)/.
#
# Which servers there are, and how each is built, is bench/servers.list,
# the one list (scripts/bench_run.py reads it too):
#
#   core        the event loops over the connection core (poll, epoll,
#               nonblocking polling, signal-driven I/O): bench/servers/X.c
#               holds only how it waits, and links echoserv's own modules,
#               all but main.c and server.c (the select() loop)
#   completion  aio and io_uring: the same, through the completion adapter
#               (bench/servers/completion.c)
#   blocking    threads, fork, coroutines, iterative: their designs over
#               the core's policy, through bench/servers/blocking.c
#   alone       echoserv-textbook: its one file and nothing else

BENCH_HEADERS := $(wildcard bench/echobench/*.h bench/servers/*.h) $(HEADERS)

ECHOBENCH_SRCS := $(wildcard bench/echobench/*.c)
ECHOBENCH_OBJS := $(ECHOBENCH_SRCS:bench/%.c=$(BUILD)/obj/bench/%.o)

# The servers of bench/servers.list built as NAME says ($(1): core,
# completion, blocking, alone).
SERVERS_LIST := bench/servers.list
servers_built = $(shell awk '$$1 ~ /^[a-z]/ && $$2 == "$(1)" { print $$1 }' \
		  $(SERVERS_LIST))
CORE_LOOPS := $(call servers_built,core)
COMPLETION := $(call servers_built,completion)
BLOCKING   := $(call servers_built,blocking)
ALONE      := $(call servers_built,alone)
# In the list's order: the names protocol-check and smoke run by.
BENCH_NAMES := $(filter $(CORE_LOOPS) $(COMPLETION) $(BLOCKING) $(ALONE), \
		 $(shell awk '$$1 ~ /^[a-z]/ { print $$1 }' $(SERVERS_LIST)))
# io_uring through liburing (Debian liburing-dev): built when its header
# is installed, else skipped and named by `make` (`make deps` installs it;
# make check, make bench and make deb start with deps, so they have it).
LIBURING_H ?= /usr/include/liburing.h
ifeq ($(wildcard $(LIBURING_H)),)
BENCH_NAMES := $(filter-out echoserv-uring,$(BENCH_NAMES))
SKIPPED += echoserv-uring:liburing-dev
endif
BENCH_SERVERS := $(BENCH_NAMES:%=$(BUILD)/%)

# The core loops link echoserv's own objects, its loop and main() aside.
CORE_OBJS := $(filter-out $(BUILD)/obj/main.o $(BUILD)/obj/server.o, \
	       $(SERVER_OBJS))
PROGRAMS += $(BUILD)/echobench $(BENCH_SERVERS)
CHECKS += bench-smoke bench-rate-check bench-cores-check

# epoll and accept4 are Linux's; ucontext left POSIX in 2008 and glibc shows
# it only with _GNU_SOURCE (or _XOPEN_SOURCE).  Per object, nowhere else
# (never in src/).
$(BUILD)/obj/bench/servers/epoll.o: BENCH_EXTRA := -D_GNU_SOURCE
# F_SETSIG and the descriptor in siginfo (si_fd) are Linux's too.
$(BUILD)/obj/bench/servers/sigio.o: BENCH_EXTRA := -D_GNU_SOURCE
# aio_init() is glibc's; the listening socket is signal-driven as above.
$(BUILD)/obj/bench/servers/aio.o: BENCH_EXTRA := -D_GNU_SOURCE
$(BUILD)/obj/bench/servers/co.o: BENCH_EXTRA := -D_GNU_SOURCE
$(BUILD)/obj/bench/servers/fork.o: BENCH_EXTRA := -D_GNU_SOURCE
# echobench's paced load (--rate) sleeps in Linux's ppoll(), which takes
# nanoseconds (load.c falls back to poll() elsewhere).
$(BUILD)/obj/bench/echobench/load.o: BENCH_EXTRA := -D_GNU_SOURCE

# POSIX aio is in librt (part of libc since glibc 2.34; -lrt is harmless).
$(BUILD)/echoserv-aio: BENCH_LIBS := -lrt

# io_uring's server links liburing.
$(BUILD)/obj/bench/servers/uring.o: BENCH_EXTRA := -D_GNU_SOURCE
$(BUILD)/echoserv-uring: BENCH_LIBS := -luring

$(BUILD)/obj/bench/%.o: bench/%.c $(BENCH_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(BENCH_EXTRA) -Ibench/servers -c -o $@ $<

# Objects named only in the pattern rules below would count as
# intermediate and be deleted after each link (so every make rebuilt them).
.SECONDARY: $(BUILD)/obj/bench/servers/completion.o \
	    $(BUILD)/obj/bench/servers/blocking.o \
	    $(BENCH_SERVERS:$(BUILD)/echoserv-%=$(BUILD)/obj/bench/servers/%.o)

$(BUILD)/echobench: $(ECHOBENCH_OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) -lpthread $(BENCH_LIBS)

$(CORE_LOOPS:%=$(BUILD)/%): $(BUILD)/echoserv-%: \
		$(BUILD)/obj/bench/servers/%.o $(CORE_OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS)

# aio and io_uring reach the core through the completion adapter; the
# blocking designs (threads, fork, co, iterative) through blocking.c.
$(COMPLETION:%=$(BUILD)/%): $(BUILD)/echoserv-%: \
		$(BUILD)/obj/bench/servers/%.o \
		$(BUILD)/obj/bench/servers/completion.o $(CORE_OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) -lpthread $(BENCH_LIBS)

$(BLOCKING:%=$(BUILD)/%): $(BUILD)/echoserv-%: \
		$(BUILD)/obj/bench/servers/%.o \
		$(BUILD)/obj/bench/servers/blocking.o $(CORE_OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) -lpthread $(BENCH_LIBS)

$(ALONE:%=$(BUILD)/%): $(BUILD)/echoserv-%: $(BUILD)/obj/bench/servers/%.o
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS)

.PHONY: bench bench-quick bench-scaling bench-smoke bench-rate-check \
	bench-cores bench-cores-check

# The full matrix and the scaling run (about 20 minutes), the quick matrix
# (about 2), the scaling run alone.  deps installs gnuplot for the charts.
bench: deps programs
	scripts/bench.sh --all

bench-quick: deps programs
	scripts/bench.sh --quick

bench-scaling: deps programs
	scripts/bench.sh --scaling

# The multi-core track (BENCHMARKS.md): every design on BENCH_CORES pinned
# CPUs (default: all online) against 1, side by side, 3 rounds.  Where
# that leaves echobench no CPU it says so and runs what fits;
# BENCH_CORES_FLAGS=--share runs it anyway on the server's CPUs, labelled
# shared (about 8 minutes on 2 CPUs).
BENCH_CORES ?= $(shell getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
BENCH_CORES_FLAGS ?=
bench-cores: deps
	scripts/bench.sh --cores $(BENCH_CORES) $(BENCH_CORES_FLAGS)

# make check: correctness only (the protocol check against every server,
# then a short load on two with every echoed byte verified).
bench-smoke: programs
	scripts/bench.sh --smoke

# make check: echobench --rate holds the rate asked, goes round the
# connections in turn and skips what is owed too long (about 8 s).
bench-rate-check: programs
	python3 tests/bench/test_rate.py $(BUILD)

# make check: the multi-core track's plan for each machine size, --workers
# found by what a server does, and scripts/bench.sh --cores 2 --smoke end
# to end (about 10 s).
bench-cores-check: programs
	python3 tests/bench/test_cores.py $(BUILD)

# The protocol-rule suite runs against each of these by name (make
# protocol-check), and the smoke test puts a verified load on each (make
# smoke).  The iterative server holds one client at a time, and io_uring
# may be refused where the server runs.
PROTOCOL_SERVERS += $(BENCH_NAMES)
PROTOCOL_ONE_CLIENT += echoserv-iterative
PROTOCOL_MAY_BE_UNAVAILABLE += echoserv-uring

# echoserv-textbook echoes lines exactly and nothing more, by design
# (bench/servers/textbook.c): it takes no option but the port, and has no
# quit, no line limit and no error messages.  The smoke test starts it with
# the port alone and half-closes every client; the tests of the rules it
# leaves out are its known gaps, each for that reason:
#   rule3_quit_{ends,cr,alone,split,then}_*  quit ending the conversation
#       (to it, quit is a line like any other: the tests saying "QUIT",
#       "quit " and an unterminated quit are ordinary lines pass, and run)
#   rule5_*  the line limit and its message (and --max-line to start with)
#   rule8_*  a close after quit or after a line too long: it only ever
#       closes after the client's EOF, so it has no such close to get right
PROTOCOL_LINES_ONLY += echoserv-textbook
PROTOCOL_KNOWN_GAPS += echoserv-textbook:rule3_quit_ends_* \
		       echoserv-textbook:rule3_quit_cr_* \
		       echoserv-textbook:rule3_quit_alone_* \
		       echoserv-textbook:rule3_quit_split_* \
		       echoserv-textbook:rule3_quit_then_* \
		       echoserv-textbook:rule5_* echoserv-textbook:rule8_*
