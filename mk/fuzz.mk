# mk/fuzz.mk - libFuzzer target over the protocol module.
#
#   make fuzz           fuzz for FUZZ_SECONDS (default 60)
#   make fuzz-short     replay the seed corpus (any compiler), then fuzz 5 s
#
# The target needs clang's fuzzer runtime (Debian: libclang-rt-14-dev, which
# scripts/install-test-deps.sh installs).  New inputs go to build/fuzz/corpus,
# the checked-in seeds in tests/fuzz/corpus are only read; a crash leaves its
# reproducer in build/fuzz/, to be replayed with build/fuzz/replay FILE.
# Seeds with descriptive names were written by hand; the hash-named ones are
# inputs libFuzzer found, kept for the coverage they start from.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_SRCS    := tests/fuzz/fuzz_protocol.c tests/fuzz/oracle.c src/protocol.c
FUZZ_DEPS    := $(FUZZ_SRCS) $(wildcard tests/fuzz/*.h) $(HEADERS)
FUZZ_RUN      = ASAN_OPTIONS=detect_leaks=1 $(BUILD)/fuzz/fuzz_protocol \
                -max_len=8192 -print_final_stats=1 \
                -artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/corpus tests/fuzz/corpus

.PHONY: fuzz fuzz-short fuzz-replay

$(BUILD)/fuzz/fuzz_protocol: $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(STD) $(WARN) $(FUZZ_FLAGS) -Iinclude -Itests/fuzz -o $@ $(FUZZ_SRCS)

# The same target with a plain main(): replays files under any compiler.
$(BUILD)/fuzz/replay: tests/fuzz/replay.c $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/fuzz -o $@ tests/fuzz/replay.c $(FUZZ_SRCS)

fuzz-replay: $(BUILD)/fuzz/replay
	$(BUILD)/fuzz/replay tests/fuzz/corpus/*

fuzz: deps $(BUILD)/fuzz/fuzz_protocol
	@mkdir -p $(BUILD)/fuzz/corpus
	$(FUZZ_RUN) -max_total_time=$(FUZZ_SECONDS)

fuzz-short: deps fuzz-replay $(BUILD)/fuzz/fuzz_protocol
	@mkdir -p $(BUILD)/fuzz/corpus
	@echo "fuzz-short: 5 s of libFuzzer, log in $(BUILD)/fuzz/short.log"
	@status=0; $(FUZZ_RUN) -max_total_time=5 >$(BUILD)/fuzz/short.log 2>&1 || status=$$?; \
		grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::(number_of_executed|average_exec)|ERROR|fuzz_protocol:' \
			$(BUILD)/fuzz/short.log; exit $$status

CHECKS += fuzz-short
