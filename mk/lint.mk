# mk/lint.mk - static checks: cppcheck and clang-tidy over the
# server and this project's own test tools, with the checked-in .clang-tidy
# (tests/stress/.clang-tidy adds one exception, explained there).
#
#   make lint    runs both, reports every finding, fails if there is one
#
# Not part of make check: clang-tidy takes a while on a busy machine.

LINT_C    := $(wildcard src/*.c tests/support/*.c tests/stress/*.c tests/smoke/*.c \
		     tests/fuzz/*.c)
LINT_INC  := -Iinclude -Itests/support -Itests/stress -Itests/fuzz
CPPCHECK_FLAGS := --enable=warning,style,performance,portability --std=c11 \
                  -D_POSIX_C_SOURCE=200809L --inline-suppr --quiet \
                  --error-exitcode=1 $(LINT_INC)

.PHONY: lint lint-cppcheck lint-clang-tidy

lint-cppcheck:
	cppcheck $(CPPCHECK_FLAGS) src include tests/support tests/stress tests/smoke \
		tests/fuzz

lint-clang-tidy:
	clang-tidy --quiet $(LINT_C) -- $(STD) $(LINT_INC)

# Both run, whatever the first finds; the target fails if either did.
lint: deps
	@status=0; \
	$(MAKE) --no-print-directory lint-cppcheck || status=1; \
	$(MAKE) --no-print-directory lint-clang-tidy || status=1; \
	if [ $$status -eq 0 ]; then echo "lint: clean"; else echo "lint: findings above"; fi; \
	exit $$status
