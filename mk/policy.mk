# policy.mk - the policy suites against the event loops over the connection
# core (make policy-check): every hostile case and option echoserv is
# tested for (idle and line timeouts, --max-per-addr, lingering and its
# bounds, EMFILE, the drain on SIGTERM, a stalled stderr, the logs, raw
# mode, socket activation, --user, the command line) holds for echoserv-poll,
# -epoll, -sigio and -nonblock too, since they share its core (src/conn.c)
# and start-up (src/startup.c).  Every server and suite runs at once, but
# echoserv-nonblock, which runs after them.

POLICY_SERVERS = $(CORE_LOOPS)
POLICY_TESTS := $(addprefix $(BUILD)/tests/integration/, test_defences \
		  test_limits_faults test_logging test_service test_cli)

# What does not apply, and why (CHECK_SKIPS, SERVER:PATTERN; * is every
# server), each inherent to select() or to a model, never to the policy:
#   capacity_beyond_fd_setsize_*   select()'s FD_SETSIZE ceiling: these
#       loops have none (their table is the descriptor limit)
#   line_deadline_is_the_select_timeout, trace_shows_the_event_loop_*,
#   trace_marks_partial_writes_*, trace_idle_server_sleeps_*   the
#       `select:` trace lines; each loop writes its own wait lines instead
#       (poll:, epoll_wait:, sigtimedwait:, nonblock), and tests/models
#       checks that they too sleep until the nearest deadline
#   echoserv-nonblock: emfile_extra_clients_are_shed_without_busy_loop
#       asserts the server does not spin, and this one spins by design;
#       tests/models checks that it sheds the client all the same
POLICY_SKIPS := *:capacity_beyond_fd_setsize_* \
		*:line_deadline_is_the_select_timeout \
		*:trace_shows_the_event_loop_* *:trace_marks_partial_writes_* \
		*:trace_idle_server_sleeps_* \
		echoserv-nonblock:emfile_extra_clients_are_shed_without_busy_loop

CHECKS += policy-check

.PHONY: policy-check

# echoserv-nonblock spins a core by design: it runs after the others, so
# that their timing tests do not share the machine with it.
policy-check: deps programs $(POLICY_TESTS)
	@CHECK_SKIPS='$(POLICY_SKIPS)' CHECK_ALONE=echoserv-nonblock \
	sh tests/integration/servers-check.sh policy-check $(BUILD) \
		'$(POLICY_SERVERS)' $(POLICY_TESTS)
