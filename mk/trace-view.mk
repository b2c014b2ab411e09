# trace-view.mk - the trace viewer, scripts/trace-view, and its
# checks:
#
#   trace-view-unit     the parser, the page, the SVG and the live streams
#                       (python3 -m unittest, tests/trace-view/test_parser.py)
#   trace-view-browser  a session recorded from build/echoserv -T, drawn and
#                       checked in headless Chromium round by round, keys and
#                       a screenshot; a 100,000-round page opened and stepped
#   trace-view-live     --live with a real server while the page is open,
#                       then a fast trace it must skip through
#   trace-view-stalled  a real trace whose stderr stalled (lines dropped)
#                       is drawn, not refused as two servers mixed
#
# The pages and screenshots land in build/trace-view/.

TV_DIR := $(BUILD)/trace-view
TV_BIG_ROUNDS := 100000

.PHONY: trace-view-check trace-view-unit trace-view-browser trace-view-live \
	trace-view-stalled

CHECKS += trace-view-check

trace-view-check: trace-view-unit trace-view-stalled trace-view-browser \
	trace-view-live

trace-view-unit:
	@echo "== scripts/trace-view: parser and outputs (unittest)"
	@cd tests/trace-view && python3 -m unittest test_parser

$(TV_DIR)/big.trace: tests/trace-view/big_trace.py
	@mkdir -p $(dir $@)
	python3 tests/trace-view/big_trace.py $@ $(TV_BIG_ROUNDS)

$(TV_DIR)/big.html: $(TV_DIR)/big.trace scripts/trace-view
	scripts/trace-view $< -o $@

trace-view-browser: deps $(BUILD)/echoserv $(TV_DIR)/big.html
	@echo "== scripts/trace-view: a recorded session in headless Chromium"
	@python3 tests/trace-view/record_session.py $(BUILD)/echoserv $(TV_DIR)/session.trace
	@scripts/trace-view $(TV_DIR)/session.trace -o $(TV_DIR)/session.html
	@python3 tests/trace-view/test_browser.py $(TV_DIR)/session.trace \
		$(TV_DIR)/session.html $(TV_DIR)/big.html $(TV_BIG_ROUNDS)

trace-view-live: deps $(BUILD)/echoserv
	@echo "== scripts/trace-view --live: a real server, the page open"
	@python3 tests/trace-view/test_live.py $(BUILD)/echoserv

trace-view-stalled: $(BUILD)/echoserv
	@echo "== scripts/trace-view: a trace with dropped log lines"
	@mkdir -p $(TV_DIR)
	@python3 tests/trace-view/test_stalled_log.py $(BUILD)/echoserv $(TV_DIR)/stalled.trace
