# bench.mk - the benchmark kit (docs/protocol.md section 6): the echobench load
# generator and the comparison servers, all built into $(BUILD)/.
#
# The comparison servers link the project's own protocol, network, logging
# and option modules (not copies); each defines its own max_clients_ceiling()
# in place of src/server.c.

BENCH_HEADERS := $(wildcard bench/echobench/*.h bench/servers/*.h) $(HEADERS)

ECHOBENCH_SRCS := $(wildcard bench/echobench/*.c)
ECHOBENCH_OBJS := $(ECHOBENCH_SRCS:bench/%.c=$(BUILD)/obj/bench/%.o)

# The project modules every comparison server shares with echoserv.
BENCH_SHARED_SRCS := src/protocol.c src/net.c src/log.c src/options.c \
		     src/signals.c
BENCH_SHARED_OBJS := $(BENCH_SHARED_SRCS:src/%.c=$(BUILD)/obj/%.o)
# The kit's own helpers for them: start-up, nonblocking and blocking I/O.
BENCH_COMMON_OBJS := $(BUILD)/obj/bench/servers/common.o \
		     $(BUILD)/obj/bench/servers/nbconn.o \
		     $(BUILD)/obj/bench/servers/conversation.o

BENCH_SERVERS := $(BUILD)/echoserv-poll $(BUILD)/echoserv-epoll \
		 $(BUILD)/echoserv-threads $(BUILD)/echoserv-fork \
		 $(BUILD)/echoserv-co

PROGRAMS += $(BUILD)/echobench $(BENCH_SERVERS)
CHECKS += bench-smoke

# epoll and accept4 are Linux's; ucontext left POSIX in 2008 and glibc shows
# it only with _GNU_SOURCE (or _XOPEN_SOURCE).  Per object, nowhere else.
$(BUILD)/obj/bench/servers/epoll.o: BENCH_EXTRA := -D_GNU_SOURCE
$(BUILD)/obj/bench/servers/co.o: BENCH_EXTRA := -D_GNU_SOURCE

$(BUILD)/obj/bench/%.o: bench/%.c $(BENCH_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(BENCH_EXTRA) -Ibench/servers -c -o $@ $<

$(BUILD)/echobench: $(ECHOBENCH_OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) -lpthread

$(BUILD)/echoserv-%: $(BUILD)/obj/bench/servers/%.o $(BENCH_COMMON_OBJS) \
		     $(BENCH_SHARED_OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) -lpthread

.PHONY: bench bench-quick bench-smoke

# The full matrix (several minutes) and the quick one (under a minute).
bench: programs
	scripts/bench.sh

bench-quick: programs
	scripts/bench.sh --quick

# make check: the quick mode against two servers, correctness only (the
# protocol check, then the load with every echoed byte verified).
bench-smoke: programs
	scripts/bench.sh --smoke
