# bench.mk - the benchmark kit (docs/protocol.md section 6): the echobench
# load generator and the comparison servers, all built into $(BUILD)/.
#
# The comparison servers link the project's own protocol, network, logging
# and option modules (not copies), and the kit's own start-up, client
# arrival and departure, and lingering close (bench/servers/startup.c,
# clients.c, linger.c).

BENCH_HEADERS := $(wildcard bench/echobench/*.h bench/servers/*.h) $(HEADERS)

ECHOBENCH_SRCS := $(wildcard bench/echobench/*.c)
ECHOBENCH_OBJS := $(ECHOBENCH_SRCS:bench/%.c=$(BUILD)/obj/bench/%.o)

# The project modules every comparison server shares with echoserv.
BENCH_SHARED_SRCS := src/protocol.c src/net.c src/log.c src/options.c src/numbers.c \
		     src/signals.c
BENCH_SHARED_OBJS := $(BENCH_SHARED_SRCS:src/%.c=$(BUILD)/obj/%.o)
# The kit's own helpers for them: start-up, clients' arrival and departure,
# the lingering close, nonblocking and blocking I/O.
BENCH_COMMON_OBJS := $(BUILD)/obj/bench/servers/startup.o \
		     $(BUILD)/obj/bench/servers/clients.o \
		     $(BUILD)/obj/bench/servers/linger.o \
		     $(BUILD)/obj/bench/servers/nonblocking_client.o \
		     $(BUILD)/obj/bench/servers/conversation.o

BENCH_SERVERS := $(BUILD)/echoserv-poll $(BUILD)/echoserv-epoll \
		 $(BUILD)/echoserv-threads $(BUILD)/echoserv-fork \
		 $(BUILD)/echoserv-co $(BUILD)/echoserv-iterative \
		 $(BUILD)/echoserv-nonblock $(BUILD)/echoserv-sigio \
		 $(BUILD)/echoserv-aio

# io_uring through liburing (Debian liburing-dev): built when its header
# is installed, else skipped and named by `make` (`make deps` installs it;
# make check, make bench and make deb start with deps, so they have it).
LIBURING_H ?= /usr/include/liburing.h
ifneq ($(wildcard $(LIBURING_H)),)
BENCH_SERVERS += $(BUILD)/echoserv-uring
# The protocol rules run against it too; the kernel may refuse io_uring.
PROTOCOL_SERVERS += echoserv-uring
PROTOCOL_MAY_BE_UNAVAILABLE += echoserv-uring
else
SKIPPED += echoserv-uring:liburing-dev
endif

PROGRAMS += $(BUILD)/echobench $(BENCH_SERVERS)
CHECKS += bench-smoke bench-rate-check bench-cores-check

# epoll and accept4 are Linux's; ucontext left POSIX in 2008 and glibc shows
# it only with _GNU_SOURCE (or _XOPEN_SOURCE).  Per object, nowhere else.
$(BUILD)/obj/bench/servers/epoll.o: BENCH_EXTRA := -D_GNU_SOURCE
$(BUILD)/obj/bench/servers/clients.o: BENCH_EXTRA := -D_GNU_SOURCE
# F_SETSIG and the descriptor in siginfo (si_fd) are Linux's too.
$(BUILD)/obj/bench/servers/sigio.o: BENCH_EXTRA := -D_GNU_SOURCE
# aio_init() is glibc's; the listening socket is signal-driven as above.
$(BUILD)/obj/bench/servers/aio.o: BENCH_EXTRA := -D_GNU_SOURCE
$(BUILD)/obj/bench/servers/co.o: BENCH_EXTRA := -D_GNU_SOURCE
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

# Objects named only in the pattern rule below would count as intermediate
# and be deleted after each link (so every make rebuilt them).
.SECONDARY: $(BENCH_COMMON_OBJS) \
	    $(BENCH_SERVERS:$(BUILD)/echoserv-%=$(BUILD)/obj/bench/servers/%.o)

$(BUILD)/echobench: $(ECHOBENCH_OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) -lpthread $(BENCH_LIBS)

$(BUILD)/echoserv-%: $(BUILD)/obj/bench/servers/%.o $(BENCH_COMMON_OBJS) \
		     $(BENCH_SHARED_OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) -lpthread $(BENCH_LIBS)

.PHONY: bench bench-quick bench-scaling bench-smoke bench-rate-check \
	bench-cores bench-cores-check

# The full matrix and the scaling run (about 20 minutes), the quick matrix
# (about 2), the scaling run alone.  deps installs gnuplot for the charts
# and liburing; bench.sh then builds (a new make, which sees liburing).
bench: deps
	scripts/bench.sh --all

bench-quick: deps
	scripts/bench.sh --quick

bench-scaling: deps
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
# protocol-check; io_uring's server is added above when it is built); the
# iterative server holds one client at a time.
PROTOCOL_SERVERS += echoserv-iterative echoserv-nonblock echoserv-sigio \
		    echoserv-aio
PROTOCOL_ONE_CLIENT += echoserv-iterative
