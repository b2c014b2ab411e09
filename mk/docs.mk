# docs.mk - checks of what teaches and packages echoserv:
#
#   man-check      every man/NAME.1 renders without warnings and its OPTIONS
#                  match `build/NAME --help` (tests/docs/test-man.sh)
#   install-check  make install / uninstall in a scratch DESTDIR, then run
#                  the installed server (tests/docs/test-install.sh)
#   demo-check     scripts/demo.sh driven headless in tmux
#                  (tests/docs/test-demo.sh)
#   docs-check     every file and function docs/how-it-works.md names exists
#                  (tests/docs/test-doc-refs.sh)

.PHONY: man-check install-check demo-check docs-check

CHECKS += man-check install-check demo-check docs-check

man-check: deps programs
	@set -e; for page in $(wildcard man/*.1); do \
		name=$$(basename $$page .1); \
		echo "== $$page against $(BUILD)/$$name --help"; \
		sh tests/docs/test-man.sh $(BUILD)/$$name $$page; \
	done

install-check: deps programs
	@echo "== make install / uninstall"
	@sh tests/docs/test-install.sh "$(MAKE)" "$(BUILD)" $(notdir $(PROGRAMS))

demo-check: deps $(BUILD)/echoserv
	@echo "== scripts/demo.sh, headless"
	@sh tests/docs/test-demo.sh $(BUILD)/echoserv

docs-check:
	@echo "== docs/how-it-works.md against the source"
	@sh tests/docs/test-doc-refs.sh docs/how-it-works.md
