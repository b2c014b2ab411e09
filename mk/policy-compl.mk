# policy-compl.mk - make policy-check-compl: the policy suites
# (docs/protocol.md sections 2 and 4: tests/integration/test_defences.c,
# test_limits_faults.c) against the comparison servers that reach the
# connection core through the completion adapter (aio, io_uring) or the
# blocking one (threads, fork, co, iterative).  Every test runs on its own
# against every server, POLICY_JOBS at a time (about 60 s in all on a
# 2-core machine); tests/integration/policy-check-compl.sh says how.
#
# What each server may skip, and why (the rest must pass):

POLICY_COMPL_SERVERS := echoserv-uring echoserv-aio echoserv-threads \
			echoserv-fork echoserv-co echoserv-iterative
POLICY_COMPL_TESTS := $(BUILD)/tests/integration/test_defences \
		      $(BUILD)/tests/integration/test_limits_faults

# Tests of select() itself: its FD_SETSIZE ceiling, and its timeout as the
# trace's "select: waiting" line.  echoserv-co is a select() loop and runs
# them; the others have no such ceiling and wait otherwise.
POLICY_SELECT_ONLY := line_deadline_is_the_select_timeout \
		      capacity_beyond_fd_setsize_turns_clients_away
POLICY_COMPL_SKIPS := $(foreach s,uring aio threads fork iterative,\
			$(addprefix echoserv-$(s):,$(POLICY_SELECT_ONLY)))

# A process per client: the parent holds no client's descriptor, so
# RLIMIT_NOFILE bounds each process and EMFILE sheds no one; and each
# child logs through its own buffer, so what a child could not write to a
# stalled stderr before it exits is lost uncounted.
POLICY_COMPL_SKIPS += \
	echoserv-fork:emfile_extra_clients_are_shed_without_busy_loop \
	echoserv-fork:stalled_log_reader_does_not_stop_service

# One client at a time: these hold two or more connections open at once
# and expect the second served (or turned away) meanwhile; it waits in the
# listen queue instead.  (Tests that know it skip themselves under
# POLICY_ONE_CLIENT.)
POLICY_COMPL_SKIPS += $(addprefix echoserv-iterative:, \
	max_per_addr_turns_away_the_next_from_that_address \
	lingerers_count_toward_their_address \
	lingerers_are_at_most_max_clients \
	bind_name_listens_on_every_address \
	backpressure_non_reading_client_stops_being_read_and_loses_nothing \
	reset_mid_write_closes_only_that_client \
	clients_that_reset_at_once_do_not_disturb_the_server \
	fairness_flooding_client_does_not_starve_another \
	capacity_client_beyond_max_clients_gets_server_full \
	capacity_finished_client_frees_its_slot_at_once \
	emfile_extra_clients_are_shed_without_busy_loop \
	shutdown_stops_accepting_and_reading)

POLICY_JOBS ?= 4

CHECKS += policy-check-compl

.PHONY: policy-check-compl

policy-check-compl: deps programs $(POLICY_COMPL_TESTS)
	@POLICY_SKIPS='$(POLICY_COMPL_SKIPS)' \
	POLICY_ONE_CLIENT='echoserv-iterative' \
	POLICY_MAY_BE_UNAVAILABLE='echoserv-uring' \
	sh tests/integration/policy-check-compl.sh $(BUILD) $(POLICY_JOBS) \
		'$(POLICY_COMPL_SERVERS)' $(POLICY_COMPL_TESTS)
