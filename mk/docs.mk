# docs.mk - checks of what teaches and packages echoserv (the man pages,
# make install, the classroom demo and the documents in docs/):
#
#   man-check      every man/NAME.1 renders without warnings and its OPTIONS
#                  match `build/NAME --help` (tests/docs/test-man.sh)
#   install-check  make install / uninstall in a scratch DESTDIR, then run
#                  the installed server (tests/docs/test-install.sh)
#   demo-check     scripts/demo.sh driven headless in tmux
#                  (tests/docs/test-demo.sh)
#   docs-check     every link, name, number and log or trace line of
#                  docs/how-it-works.md and docs/protocol.md matches the
#                  source, and protocol.md's copy of --help the program's
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

demo-check: deps $(BUILD)/echoserv $(BUILD)/echoserv-iterative \
	    $(BUILD)/echoserv-nonblock
	@echo "== scripts/demo.sh, headless"
	@sh tests/docs/test-demo.sh $(BUILD)/echoserv

DOCS_CHECKED := docs/how-it-works.md docs/protocol.md

docs-check: $(BUILD)/echoserv
	@failed=0; for doc in $(DOCS_CHECKED); do \
		echo "== $$doc against the source"; \
		ECHOSERV_BIN=$(BUILD)/echoserv sh tests/docs/test-doc-refs.sh $$doc || \
			failed=$$((failed + 1)); \
	done; [ $$failed -eq 0 ]
