# bench.mk - the benchmark kit (docs/protocol.md section 6): the echobench
# load generator and the comparison servers, all built into $(BUILD)/.
#
# The comparison servers link the project's own protocol, network, logging
# and option modules (not copies).  aio, io_uring, threads, fork, co and
# iterative link echoserv's start-up and connection core too
# (BENCH_CORE_OBJS below); the others the kit's own start-up, client
# arrival and departure, and lingering close (bench/servers/startup.c,
# clients.c, linger.c).

BENCH_HEADERS := $(wildcard bench/echobench/*.h bench/servers/*.h) $(HEADERS)

ECHOBENCH_SRCS := $(wildcard bench/echobench/*.c)
ECHOBENCH_OBJS := $(ECHOBENCH_SRCS:bench/%.c=$(BUILD)/obj/bench/%.o)

# The project modules every comparison server shares with echoserv.
BENCH_SHARED_SRCS := src/protocol.c src/net.c src/log.c src/options.c \
		     src/signals.c
BENCH_SHARED_OBJS := $(BENCH_SHARED_SRCS:src/%.c=$(BUILD)/obj/%.o)
# The kit's own helpers for them: start-up, clients' arrival and departure,
# the lingering close, nonblocking I/O (for the servers not yet on the
# connection core: see BENCH_CORE_OBJS below).
BENCH_COMMON_OBJS := $(BUILD)/obj/bench/servers/startup.o \
		     $(BUILD)/obj/bench/servers/clients.o \
		     $(BUILD)/obj/bench/servers/linger.o \
		     $(BUILD)/obj/bench/servers/nonblocking_client.o

BENCH_SERVERS := $(BUILD)/echoserv-poll $(BUILD)/echoserv-epoll \
		 $(BUILD)/echoserv-threads $(BUILD)/echoserv-fork \
		 $(BUILD)/echoserv-co $(BUILD)/echoserv-iterative \
		 $(BUILD)/echoserv-nonblock $(BUILD)/echoserv-sigio \
		 $(BUILD)/echoserv-aio $(BUILD)/echoserv-uring

PROGRAMS += $(BUILD)/echobench $(BENCH_SERVERS)
CHECKS += bench-smoke

# epoll and accept4 are Linux's; ucontext left POSIX in 2008 and glibc shows
# it only with _GNU_SOURCE (or _XOPEN_SOURCE).  Per object, nowhere else.
$(BUILD)/obj/bench/servers/epoll.o: BENCH_EXTRA := -D_GNU_SOURCE
$(BUILD)/obj/bench/servers/clients.o: BENCH_EXTRA := -D_GNU_SOURCE
# F_SETSIG and the descriptor in siginfo (si_fd) are Linux's too.
$(BUILD)/obj/bench/servers/sigio.o: BENCH_EXTRA := -D_GNU_SOURCE
# aio_init() is glibc's; the listening socket is signal-driven as above.
$(BUILD)/obj/bench/servers/aio.o: BENCH_EXTRA := -D_GNU_SOURCE
$(BUILD)/obj/bench/servers/co.o: BENCH_EXTRA := -D_GNU_SOURCE
# MAP_ANONYMOUS (fork.c's table shared with its children) is not in
# POSIX.1-2008.
$(BUILD)/obj/bench/servers/fork.o: BENCH_EXTRA := -D_GNU_SOURCE

# POSIX aio is in librt (part of libc since glibc 2.34; -lrt is harmless).
$(BUILD)/echoserv-aio: BENCH_LIBS := -lrt

# io_uring through liburing (Debian liburing-dev), which `make` installs
# when it is missing, the way `make check` installs the test tools.
LIBURING_H := /usr/include/liburing.h
$(BUILD)/obj/bench/servers/uring.o: BENCH_EXTRA := -D_GNU_SOURCE
$(BUILD)/obj/bench/servers/uring.o: | $(LIBURING_H)
$(BUILD)/echoserv-uring: BENCH_LIBS := -luring
$(LIBURING_H):
	sh scripts/install-test-deps.sh --build

# The servers on the connection core (src/conn.c) and echoserv's start-up
# (src/startup.c): every module of echoserv but its main.c and its select()
# loop.  aio and io_uring reach the core through the completion adapter
# (bench/servers/completion.c); the blocking and coroutine designs through
# the blocking one (bench/servers/blocking.c).
BENCH_CORE_OBJS := $(filter-out $(BUILD)/obj/main.o $(BUILD)/obj/server.o,\
		   $(SERVER_OBJS))
COMPLETION_SERVERS := $(BUILD)/echoserv-aio $(BUILD)/echoserv-uring
$(COMPLETION_SERVERS): $(BUILD)/echoserv-%: $(BUILD)/obj/bench/servers/%.o \
		       $(BUILD)/obj/bench/servers/completion.o $(BENCH_CORE_OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) -lpthread $(BENCH_LIBS)
BLOCKING_SERVERS := $(BUILD)/echoserv-threads $(BUILD)/echoserv-iterative \
		    $(BUILD)/echoserv-co $(BUILD)/echoserv-fork
$(BLOCKING_SERVERS): $(BUILD)/echoserv-%: $(BUILD)/obj/bench/servers/%.o \
		     $(BUILD)/obj/bench/servers/blocking.o $(BENCH_CORE_OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) -lpthread $(BENCH_LIBS)

$(BUILD)/obj/bench/%.o: bench/%.c $(BENCH_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(BENCH_EXTRA) -Ibench/servers -c -o $@ $<

# Objects named only in the pattern rule below would count as intermediate
# and be deleted after each link (so every make rebuilt them).
.SECONDARY: $(BENCH_COMMON_OBJS) $(BUILD)/obj/bench/servers/completion.o \
	    $(BUILD)/obj/bench/servers/blocking.o \
	    $(BENCH_SERVERS:$(BUILD)/echoserv-%=$(BUILD)/obj/bench/servers/%.o)

$(BUILD)/echobench: $(ECHOBENCH_OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) -lpthread $(BENCH_LIBS)

$(BUILD)/echoserv-%: $(BUILD)/obj/bench/servers/%.o $(BENCH_COMMON_OBJS) \
		     $(BENCH_SHARED_OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) -lpthread $(BENCH_LIBS)

.PHONY: bench bench-quick bench-scaling bench-smoke

# The full matrix and the scaling run (about 20 minutes), the quick matrix
# (about 2), the scaling run alone.  deps installs gnuplot for the charts.
bench: deps programs
	scripts/bench.sh --all

bench-quick: deps programs
	scripts/bench.sh --quick

bench-scaling: deps programs
	scripts/bench.sh --scaling

# make check: correctness only (the protocol check against every server,
# then a short load on two with every echoed byte verified).
bench-smoke: programs
	scripts/bench.sh --smoke

# The protocol-rule suite runs against each of these by name (make
# protocol-check); the iterative server holds one client at a time, and
# io_uring may be refused where the server runs.
PROTOCOL_SERVERS += echoserv-iterative echoserv-nonblock echoserv-sigio \
		    echoserv-aio echoserv-uring
PROTOCOL_ONE_CLIENT += echoserv-iterative
PROTOCOL_MAY_BE_UNAVAILABLE += echoserv-uring
