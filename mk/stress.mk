# mk/stress.mk - the stress and fault suite, tests/stress/, on the
# test-support library (tests/support/).
#
#   make stress         every scenario at full size (1,000 clients...)
#   make stress-short   the same scenarios in about 30 s (part of make check)
#   make valgrind-check one representative session under valgrind
#
# Loopback only; each scenario starts its own build/echoserv on port 0 and
# leaves its stderr in build/stress/SCENARIO.log.  STRESS_SEED picks the
# random streams (default 1), STRESS_ARGS adds options or scenario names.

STRESS_SEED ?= 1
STRESS_ARGS ?=
STRESS_SRCS := $(wildcard tests/stress/*.c)
STRESS_MAIN_SRCS := $(filter-out tests/stress/vg_session.c,$(STRESS_SRCS))
STRESS_DEPS := $(STRESS_SRCS) $(wildcard tests/stress/*.h) $(SUPPORT_LIB) \
	       $(SUPPORT_HEADERS)
STRESS_INC  := -Itests/stress -Itests/support

.PHONY: stress stress-short valgrind-check

$(BUILD)/tests/stress/stress: $(STRESS_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(STRESS_INC) -o $@ $(STRESS_MAIN_SRCS) \
		$(SUPPORT_LIB) -pthread

stress: $(BUILD)/echoserv $(BUILD)/tests/stress/stress
	$(BUILD)/tests/stress/stress --long --seed $(STRESS_SEED) \
		--server $(BUILD)/echoserv --logdir $(BUILD)/stress $(STRESS_ARGS)

stress-short: $(BUILD)/echoserv $(BUILD)/tests/stress/stress
	$(BUILD)/tests/stress/stress --seed $(STRESS_SEED) \
		--server $(BUILD)/echoserv --logdir $(BUILD)/stress $(STRESS_ARGS)


# One representative session under valgrind (see tests/stress/vg_session.c).
$(BUILD)/tests/stress/vg_session: tests/stress/vg_session.c tests/stress/stress.h \
		$(SUPPORT_LIB) $(SUPPORT_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(STRESS_INC) -o $@ tests/stress/vg_session.c \
		$(SUPPORT_LIB)

valgrind-check: deps $(BUILD)/echoserv $(BUILD)/tests/stress/vg_session
	@mkdir -p $(BUILD)/stress
	$(BUILD)/tests/stress/vg_session $(BUILD)/echoserv $(BUILD)/stress/valgrind.log

# valgrind first: it is quick, and its verdict stands apart from the stress
# suite's.
CHECKS += valgrind-check stress-short
