# mk/fuzz.mk - libFuzzer targets over the protocol module and the PROXY
# protocol parser (src/proxy.c).
#
#   make fuzz           fuzz the protocol module for FUZZ_SECONDS (default 60)
#   make fuzz-proxy     fuzz the PROXY protocol parser for FUZZ_SECONDS
#   make fuzz-short     replay both seed corpora (any compiler), then fuzz
#                       each target 5 s
#
# The target needs clang's fuzzer runtime (Debian: libclang-rt-14-dev, which
# scripts/install-test-deps.sh installs).  New inputs go to build/fuzz/corpus,
# the checked-in seeds in tests/fuzz/corpus are only read; a crash leaves its
# reproducer in build/fuzz/, to be replayed with build/fuzz/replay FILE.
# Seeds with descriptive names were written by hand; the hash-named ones are
# inputs libFuzzer found, kept for the coverage they start from.  The PROXY
# target works the same way with build/fuzz/proxy-corpus, its seeds in
# tests/fuzz/proxy-corpus, reproducers named build/fuzz/proxy-crash-* and
# build/fuzz/replay-proxy to replay them.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_SRCS    := tests/fuzz/fuzz_protocol.c tests/fuzz/oracle.c src/protocol.c
FUZZ_DEPS    := $(FUZZ_SRCS) $(wildcard tests/fuzz/*.h) $(HEADERS)
FUZZ_RUN      = ASAN_OPTIONS=detect_leaks=1 $(BUILD)/fuzz/fuzz_protocol \
                -max_len=8192 -print_final_stats=1 \
                -artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/corpus tests/fuzz/corpus

FUZZ_PROXY_SRCS := tests/fuzz/fuzz_proxy.c src/proxy.c src/peers.c
FUZZ_PROXY_DEPS := $(FUZZ_PROXY_SRCS) $(HEADERS)
FUZZ_PROXY_RUN   = ASAN_OPTIONS=detect_leaks=1 $(BUILD)/fuzz/fuzz_proxy \
                   -max_len=2048 -print_final_stats=1 \
                   -artifact_prefix=$(BUILD)/fuzz/proxy- \
                   $(BUILD)/fuzz/proxy-corpus tests/fuzz/proxy-corpus

.PHONY: fuzz fuzz-short fuzz-replay fuzz-proxy fuzz-replay-proxy

$(BUILD)/fuzz/fuzz_protocol: $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(STD) $(WARN) $(FUZZ_FLAGS) -Iinclude -Itests/fuzz -o $@ $(FUZZ_SRCS)

# The same target with a plain main(): replays files under any compiler.
$(BUILD)/fuzz/replay: tests/fuzz/replay.c $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/fuzz -o $@ tests/fuzz/replay.c $(FUZZ_SRCS)

fuzz-replay: $(BUILD)/fuzz/replay
	$(BUILD)/fuzz/replay tests/fuzz/corpus/*

$(BUILD)/fuzz/fuzz_proxy: $(FUZZ_PROXY_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(STD) $(WARN) $(FUZZ_FLAGS) -Iinclude -o $@ $(FUZZ_PROXY_SRCS)

$(BUILD)/fuzz/replay-proxy: tests/fuzz/replay.c $(FUZZ_PROXY_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ tests/fuzz/replay.c $(FUZZ_PROXY_SRCS)

fuzz-replay-proxy: $(BUILD)/fuzz/replay-proxy
	$(BUILD)/fuzz/replay-proxy tests/fuzz/proxy-corpus/*

fuzz-proxy: deps $(BUILD)/fuzz/fuzz_proxy
	@mkdir -p $(BUILD)/fuzz/proxy-corpus
	$(FUZZ_PROXY_RUN) -max_total_time=$(FUZZ_SECONDS)

fuzz: deps $(BUILD)/fuzz/fuzz_protocol
	@mkdir -p $(BUILD)/fuzz/corpus
	$(FUZZ_RUN) -max_total_time=$(FUZZ_SECONDS)

# The protocol target first, as it always ran, then the PROXY target; both
# run whatever the first finds, and the check fails if either did.
fuzz-short: deps fuzz-replay fuzz-replay-proxy $(BUILD)/fuzz/fuzz_protocol \
	    $(BUILD)/fuzz/fuzz_proxy
	@mkdir -p $(BUILD)/fuzz/corpus $(BUILD)/fuzz/proxy-corpus
	@echo "fuzz-short: 5 s of libFuzzer, log in $(BUILD)/fuzz/short.log"
	@status=0; $(FUZZ_RUN) -max_total_time=5 >$(BUILD)/fuzz/short.log 2>&1 || status=$$?; \
		grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::(number_of_executed|average_exec)|ERROR|fuzz_protocol:' \
			$(BUILD)/fuzz/short.log; \
	echo "fuzz-short: 5 s of libFuzzer on the PROXY parser, log in $(BUILD)/fuzz/proxy-short.log"; \
	$(FUZZ_PROXY_RUN) -max_total_time=5 >$(BUILD)/fuzz/proxy-short.log 2>&1 || status=$$?; \
		grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::(number_of_executed|average_exec)|ERROR|fuzz_proxy:' \
			$(BUILD)/fuzz/proxy-short.log; exit $$status

CHECKS += fuzz-short
