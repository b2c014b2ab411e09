#!/bin/sh
# servers-check.sh - run test suites against several servers, every server
# and suite at once, one log each: make protocol-check (the protocol-rule
# suite, docs/protocol.md section 3, against every server of the kit) and
# make policy-check (the policy suites against the event loops over the
# connection core).
#
# usage: sh tests/integration/servers-check.sh NAME BUILD "SERVER..." TEST...
#
# NAME names the check (its logs go to BUILD/NAME/), SERVER is a program in
# BUILD, TEST a cmocka test program.  The make targets pass their variables
# through the environment:
#
#   CHECK_ONE_CLIENT          servers that hold one client at a time:
#                             tests needing two at once skip for them
#   CHECK_MAY_BE_UNAVAILABLE  servers that may refuse to start here (exit
#                             1, "io_uring unavailable"): their run is then
#                             skipped with a note
#   CHECK_KNOWN_GAPS          SERVER:PATTERN pairs, any number per server:
#                             the tests matching PATTERN are known to fail
#                             for SERVER.  They are run apart and their
#                             failures named; once they all pass, the line
#                             says so ("take it off the list"), without
#                             failing the check, so the fix and the list
#                             can land in either order.
#   CHECK_SKIPS               SERVER:PATTERN pairs (SERVER * for every one):
#                             tests that do not apply to SERVER at all (they
#                             are about another model), not run.
#
# PATTERN is a cmocka test name, '*' and '?' allowed (tests/support/
# harness.h).  Prints one line per server and test program, the whole log
# of a run that failed, and exits 1 if any failed.
set -u
set -f # the patterns are for the tests, not for the shell

name=$1
build=$2
servers=$3
shift 3
logs=$build/$name
mkdir -p "$logs"

# in_list WORD LIST: is WORD one of the words of LIST?
in_list() {
	case " $2 " in *" $1 "*) return 0 ;; esac
	return 1
}

# patterns_of SERVER PAIRS: the PATTERNs of SERVER's pairs in PAIRS (and of
# the "*:" pairs), separated by spaces.
patterns_of() {
	out=
	for pair in $2; do
		case "$pair" in
		"$1":* | "*":*) out="$out${out:+ }${pair#*:}" ;;
		esac
	done
	echo "$out"
}

# run_one SERVER TEST: the suite against SERVER; writes LOG.status with
# one line: "ok SUMMARY" or "FAIL SUMMARY".
run_one() {
	server=$1 test=$2
	log=$logs/$server-$(basename "$test")
	one=0 maybe=0
	in_list "$server" "${CHECK_ONE_CLIENT:-}" && one=1
	in_list "$server" "${CHECK_MAY_BE_UNAVAILABLE:-}" && maybe=1
	gap=$(patterns_of "$server" "${CHECK_KNOWN_GAPS:-}")
	skips=$(patterns_of "$server" "${CHECK_SKIPS:-}")
	ECHOSERV_BIN=$build/$server ECHOSERV_ONE_CLIENT=$one \
		ECHOSERV_MAY_BE_UNAVAILABLE=$maybe \
		ECHOSERV_SKIP="$gap${gap:+ }$skips" \
		"$test" >"$log.log" 2>&1
	rc=$?
	passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log.log")
	skipped=$(grep -c '^\[  SKIPPED \]' "$log.log")
	summary="${passed:-0} passed"
	[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
	note=$(sed -n 's/^note: //p' "$log.log" | head -n 1)
	[ -n "$note" ] && summary="$summary; note: $note"
	status=ok
	[ "$rc" -ne 0 ] && { status=FAIL; summary="$summary, $rc FAILED"; }
	if [ -n "$gap" ] && [ "$rc" -eq 0 ] && [ -z "$note" ]; then
		if ECHOSERV_BIN=$build/$server ECHOSERV_ONE_CLIENT=$one \
			ECHOSERV_TEST="$gap" ECHOSERV_SKIP="$skips" \
			"$test" >"$log.gap.log" 2>&1; then
			summary="$summary; known gap $gap CLOSED, its tests pass: take it off the known gaps"
		else
			open=$(sed -n 's/^\[  FAILED  \] \([a-z0-9_A-Z]*\)$/\1/p' \
				"$log.gap.log" | sort -u | wc -l)
			summary="$summary; known gaps still open: $open test(s) fail as listed"
		fi
	fi
	echo "$status $summary" >"$log.status"
}

for s in $servers; do
	if [ ! -x "$build/$s" ]; then
		echo "$name: $build/$s is not built" >&2
		exit 1
	fi
done
# Every server and suite at once, except the servers in CHECK_ALONE (one
# that spins a core, say), which run after the rest, each on its own: the
# timing of the others' tests must not depend on a core it takes.
for s in $servers; do
	in_list "$s" "${CHECK_ALONE:-}" && continue
	for t in "$@"; do
		run_one "$s" "$t" &
	done
done
wait
for s in ${CHECK_ALONE:-}; do
	in_list "$s" "$servers" || continue
	for t in "$@"; do
		run_one "$s" "$t" &
	done
	wait
done

failed=0
for s in $servers; do
	for t in "$@"; do
		log=$logs/$s-$(basename "$t")
		read -r status summary <"$log.status"
		printf '== %-18s %s: %s\n' "$s" "$(basename "$t")" "$summary"
		if [ "$status" != ok ]; then
			failed=$((failed + 1))
			sed 's/^/    /' "$log.log"
		fi
	done
done
echo "$name: $failed run(s) failed"
[ "$failed" -eq 0 ]
