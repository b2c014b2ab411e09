# echocheck.mk - echocheck, the conformance and robustness checker for any
# echo server (scripts/echocheck and its package scripts/echocheck_lib/),
# zipped into one executable file, $(BUILD)/echocheck, that `make install`
# installs with man/echocheck.1; the gallery of deliberately broken
# servers it is tested on (tests/echocheck/*.c, built into
# $(BUILD)/tests/echocheck/); and its check:
#
#   echocheck-check   the unit tests of the case logic; bad usage and the
#                     exit statuses; every server of the kit against the
#                     profiles it must pass (tests/echocheck/expectations.py
#                     lists them, the known gaps included); each broken
#                     server failing exactly the cases aimed at it; the
#                     JSON and JUnit reports; the HTML report in headless
#                     Chromium.  Reports land in $(BUILD)/echocheck-reports/.

ECHOCHECK_SRCS := scripts/echocheck $(wildcard scripts/echocheck_lib/*.py \
		  scripts/echocheck_lib/cases/*.py)
ECHOCHECK_STAGE := $(BUILD)/obj/echocheck

# A plain `make` builds what it can: echocheck needs python3 (3.7 or later).
ifneq ($(shell command -v python3 2>/dev/null),)
PROGRAMS += $(BUILD)/echocheck
else
$(info make: skipping echocheck: python3 is not installed (apt-get install python3))
endif

# The package as a zip application: one file, run by python3, that holds
# every module (python3 -m zipapp is in the standard library).
$(BUILD)/echocheck: $(ECHOCHECK_SRCS)
	@rm -rf $(ECHOCHECK_STAGE) && mkdir -p $(ECHOCHECK_STAGE)
	cp -R scripts/echocheck_lib $(ECHOCHECK_STAGE)/
	cp scripts/echocheck $(ECHOCHECK_STAGE)/__main__.py
	find $(ECHOCHECK_STAGE) -name __pycache__ -prune -exec rm -rf {} +
	python3 -m zipapp $(ECHOCHECK_STAGE) -p '/usr/bin/env python3' -o $@

# The gallery: gallery.c is the correct server the others are made from.
GALLERY := correct blocking_write drop_partial one_at_a_time crlf \
	   short_write no_drain nul_truncate nul_crash small_buffer \
	   shared_buffer stop_accepting
GALLERY_DIR := $(BUILD)/tests/echocheck
GALLERY_BINS := $(GALLERY:%=$(GALLERY_DIR)/%)
GALLERY_OBJ := $(BUILD)/obj/tests/echocheck

$(GALLERY_OBJ)/%.o: tests/echocheck/%.c tests/echocheck/gallery.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(GALLERY_DIR)/%: $(GALLERY_OBJ)/%.o $(GALLERY_OBJ)/gallery.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ -lpthread

.SECONDARY: $(GALLERY:%=$(GALLERY_OBJ)/%.o) $(GALLERY_OBJ)/gallery.o

.PHONY: echocheck-check echocheck-gallery

echocheck-gallery: $(GALLERY_BINS)

CHECKS += echocheck-check

echocheck-check: deps programs $(GALLERY_BINS)
	@start=$$(date +%s); failed=0; \
	for t in test_units test_usage; do \
		echo "== tests/echocheck/$$t.py"; \
		python3 tests/echocheck/$$t.py $(BUILD) || failed=$$((failed + 1)); \
	done; \
	echo "== tests/echocheck/test_servers.py: the kit and the gallery"; \
	python3 tests/echocheck/test_servers.py $(BUILD) || failed=$$((failed + 1)); \
	echo "== tests/echocheck/test_html.py: the report in headless Chromium"; \
	python3 tests/echocheck/test_html.py $(BUILD) || failed=$$((failed + 1)); \
	echo "echocheck-check: $$failed test program(s) failed, $$(( $$(date +%s) - start )) s"; \
	[ $$failed -eq 0 ]
