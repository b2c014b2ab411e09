# echoserv - build, test and install.  Everything is built under build/.

CC      ?= cc
CFLAGS  ?= -O2 -g
STD     := -std=c11 -D_POSIX_C_SOURCE=200809L
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ALL_CFLAGS = $(STD) $(WARN) $(CPPFLAGS) $(CFLAGS) -Iinclude

BUILD   := build
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=all

SERVER_SRCS := src/main.c src/startup.c src/options.c src/server.c src/conn.c \
               src/signals.c src/numbers.c \
               src/net.c src/log.c \
               src/trace.c src/peers.c src/activation.c src/privileges.c \
               src/protocol.c src/udp.c src/proxy.c src/workers.c
SERVER_OBJS := $(SERVER_SRCS:src/%.c=$(BUILD)/obj/%.o)
SAN_OBJS    := $(SERVER_SRCS:src/%.c=$(BUILD)/asan/obj/%.o)
HEADERS     := $(wildcard include/*.h)

.PHONY: all programs run check unit unit-run integration protocol-check smoke \
	integration-asan deps clean format format-check

# Programs `make` builds; fragments in mk/ add theirs (the load generator...).
PROGRAMS := $(BUILD)/echoserv
# Programs left out because something they need is not installed, as
# NAME:DEBIAN-PACKAGE; `make` names each in one line, `make deps` installs
# what they need.  A plain `make` never installs anything itself.
SKIPPED :=
# What `make check` runs, in order; fragments in mk/ append their checks.
CHECKS := format-check unit integration protocol-check smoke integration-asan

all: programs

$(BUILD)/echoserv: $(SERVER_OBJS)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS)

$(BUILD)/obj/%.o: src/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The same server built with AddressSanitizer and UBSan, for the tests.
$(BUILD)/asan/echoserv: $(SAN_OBJS)
	$(CC) $(STD) $(WARN) $(SAN_FLAGS) -Iinclude -o $@ $^

$(BUILD)/asan/obj/%.o: src/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(STD) $(WARN) $(SAN_FLAGS) -Iinclude -c -o $@ $<

# Build and start the server on the default port.
PORT ?= 7777
run: programs
	./$(BUILD)/echoserv $(PORT)

# ---------------------------------------------------------------- tests
# Unit tests (cmocka): one binary per module under test.
TEST_LIBS := -lcmocka
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(wildcard tests/unit/test_*.c))
LIB_SRCS := $(filter-out src/main.c,$(SERVER_SRCS))

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB_SRCS) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB_SRCS) $(TEST_LIBS)

# The test-support library (tests/support/): the server as a helper
# process, its log, /proc figures, client sockets, conversations, the
# verified load and the cmocka checks.  One archive that the integration
# tests, the stress suite and the smoke test link.
SUPPORT_SRCS    := $(wildcard tests/support/*.c)
SUPPORT_HEADERS := $(wildcard tests/support/*.h)
SUPPORT_OBJS    := $(SUPPORT_SRCS:tests/support/%.c=$(BUILD)/obj/tests/support/%.o)
SUPPORT_LIB     := $(BUILD)/tests/libtestsupport.a

$(BUILD)/obj/tests/support/%.o: tests/support/%.c $(SUPPORT_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/support -c -o $@ $<

$(SUPPORT_LIB): $(SUPPORT_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# Integration tests (cmocka): each drives the real binary over loopback.
IT_TESTS := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,$(wildcard tests/integration/test_*.c))

# The protocol-rule suite (docs/protocol.md section 3) runs against every
# server in PROTOCOL_SERVERS (programs in build/) under make
# protocol-check, echoserv included, so `make integration` leaves it out.
# Fragments append (mk/bench.mk: every server of bench/servers.list);
# servers that hold one client at a time go in PROTOCOL_ONE_CLIENT, servers
# that may be unavailable at run time in PROTOCOL_MAY_BE_UNAVAILABLE,
# servers that echo lines and nothing more (no options, no quit) in
# PROTOCOL_LINES_ONLY, and tests known to fail for a server in
# PROTOCOL_KNOWN_GAPS as SERVER:PATTERN pairs, any number per server (see
# tests/integration/servers-check.sh).
PROTOCOL_TESTS := $(BUILD)/tests/integration/test_protocol_rules
PROTOCOL_SERVERS := echoserv
PROTOCOL_ONE_CLIENT :=
PROTOCOL_MAY_BE_UNAVAILABLE :=
PROTOCOL_LINES_ONLY :=
PROTOCOL_KNOWN_GAPS :=
IT_ECHOSERV_TESTS = $(filter-out $(PROTOCOL_TESTS),$(IT_TESTS))

$(BUILD)/tests/integration/%: tests/integration/%.c $(SUPPORT_LIB) $(SUPPORT_HEADERS) $(wildcard tests/integration/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/support -Itests/integration -o $@ $< $(SUPPORT_LIB) $(TEST_LIBS)

# What the build, the tests, the benchmark and the package need, installed
# if missing (apt-get, as root or through sudo).  make check, make bench and
# make deb start with it; a plain make never does.
deps:
	@sh scripts/install-test-deps.sh

# Each runs every test program, then fails if any of them failed.
# unit-run is the same without deps (the package build runs it).
unit: deps unit-run

unit-run: $(UNIT_TESTS)
	@failed=0; for t in $(UNIT_TESTS); do echo "== $$t"; \
		$$t || failed=$$((failed + 1)); done; \
	echo "unit: $$failed test program(s) failed"; [ $$failed -eq 0 ]

integration: deps $(BUILD)/echoserv $(IT_TESTS)
	@failed=0; for t in $(IT_ECHOSERV_TESTS); do echo "== $$t"; \
		ECHOSERV_BIN=$(BUILD)/echoserv $$t || failed=$$((failed + 1)); done; \
	echo "integration: $$failed test program(s) failed"; [ $$failed -eq 0 ]

protocol-check: deps programs $(PROTOCOL_TESTS)
	@CHECK_ONE_CLIENT='$(PROTOCOL_ONE_CLIENT)' \
	CHECK_MAY_BE_UNAVAILABLE='$(PROTOCOL_MAY_BE_UNAVAILABLE)' \
	CHECK_KNOWN_GAPS='$(PROTOCOL_KNOWN_GAPS)' \
	sh tests/integration/servers-check.sh protocol-check $(BUILD) \
		'$(PROTOCOL_SERVERS)' $(PROTOCOL_TESTS)

# The smoke test: a short verified load against every protocol server.
SMOKE := $(BUILD)/tests/smoke/smoke

$(SMOKE): tests/smoke/smoke.c $(SUPPORT_LIB) $(SUPPORT_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/support -o $@ $< $(SUPPORT_LIB)

smoke: programs $(SMOKE)
	@$(SMOKE) --build $(BUILD) --logdir $(BUILD)/smoke \
		--one-client '$(PROTOCOL_ONE_CLIENT)' \
		--may-be-unavailable '$(PROTOCOL_MAY_BE_UNAVAILABLE)' \
		--lines-only '$(PROTOCOL_LINES_ONLY)' $(PROTOCOL_SERVERS)

integration-asan: deps $(BUILD)/asan/echoserv $(IT_TESTS)
	@failed=0; for t in $(IT_TESTS); do echo "== $$t (ASan+UBSan server)"; \
		ECHOSERV_BIN=$(BUILD)/asan/echoserv ECHOSERV_SANITIZED=1 $$t \
		|| failed=$$((failed + 1)); done; \
	echo "integration-asan: $$failed test program(s) failed"; [ $$failed -eq 0 ]

# ---------------------------------------------------------------- style
C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find src include tests bench -name '*.[ch]')

format:
	clang-format -i $(C_FILES)

format-check:
	@command -v clang-format >/dev/null 2>&1 || { echo "format-check: clang-format not installed, skipped"; exit 0; }; \
	bad=$$(for f in $(C_FILES); do clang-format --dry-run -Werror $$f >/dev/null 2>&1 || echo $$f; done); \
	if [ -n "$$bad" ]; then echo "format-check: not formatted (run make format):"; echo "$$bad"; exit 1; fi

# Fragments: each adds the programs and checks of one part of the project.
include $(wildcard mk/*.mk)

programs: $(PROGRAMS)
	@$(foreach s,$(SKIPPED),echo "make: skipped $(BUILD)/$(word 1,$(subst :, ,$(s))): needs $(word 2,$(subst :, ,$(s))) (make deps installs it)";)

# Every check in CHECKS, each to its end even when an earlier one failed,
# then a table of them and "N passed, N failed" (scripts/run-checks.sh).
# programs is made after deps, by a new make that sees what deps installed.
check: deps
	@$(MAKE) --no-print-directory programs
	@sh scripts/run-checks.sh "$(MAKE)" $(CHECKS)

clean:
	rm -rf $(BUILD)
