#!/bin/sh
# protocol-check.sh - run the protocol-rule suite (docs/protocol.md section
# 3) against every server named, all servers at once, one log each.
#
# usage: sh tests/integration/protocol-check.sh BUILD "SERVER..." TEST...
#
# SERVER is a program in BUILD; TEST a cmocka test program.  make
# protocol-check passes its make variables through the environment:
#
#   PROTOCOL_ONE_CLIENT          servers that hold one client at a time:
#                                tests needing two at once skip for them
#   PROTOCOL_MAY_BE_UNAVAILABLE  servers that may refuse to start here
#                                (exit 1, "io_uring unavailable"): their
#                                run is then skipped with a note
#   PROTOCOL_KNOWN_GAPS          SERVER:PATTERN pairs, one per server: the
#                                tests matching PATTERN are known to fail
#                                for SERVER.  They are run apart and their
#                                failures named; once they all pass, the
#                                line says so ("take it off the list"),
#                                without failing the check, so the fix and
#                                the list can land in either order.
#
# Prints one line per server and test program, the whole log of a run that
# failed, and exits 1 if any failed.  Logs stay in BUILD/protocol-check/.
set -u

build=$1
servers=$2
shift 2
logs=$build/protocol-check
mkdir -p "$logs"

# in_list WORD LIST: is WORD one of the words of LIST?
in_list() {
	case " $2 " in *" $1 "*) return 0 ;; esac
	return 1
}

# gap_of SERVER: the PATTERN of SERVER's known gap, or nothing.
gap_of() {
	for pair in ${PROTOCOL_KNOWN_GAPS:-}; do
		case "$pair" in "$1":*) echo "${pair#*:}"; return ;; esac
	done
}

# run_one SERVER TEST: the suite against SERVER; writes LOG.status with
# one line: "ok SUMMARY" or "FAIL SUMMARY".
run_one() {
	server=$1 test=$2
	log=$logs/$server-$(basename "$test")
	one=0 maybe=0
	in_list "$server" "${PROTOCOL_ONE_CLIENT:-}" && one=1
	in_list "$server" "${PROTOCOL_MAY_BE_UNAVAILABLE:-}" && maybe=1
	gap=$(gap_of "$server")
	ECHOSERV_BIN=$build/$server ECHOSERV_ONE_CLIENT=$one \
		ECHOSERV_MAY_BE_UNAVAILABLE=$maybe ECHOSERV_SKIP=$gap \
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
			ECHOSERV_TEST=$gap "$test" >"$log.gap.log" 2>&1; then
			summary="$summary; known gap $gap CLOSED, its tests pass: take it off PROTOCOL_KNOWN_GAPS"
		else
			open=$(sed -n 's/^\[  FAILED  \] \([a-z0-9_A-Z]*\)$/\1/p' \
				"$log.gap.log" | sort -u | tr '\n' ' ')
			summary="$summary; known gap still open, failing: $open"
		fi
	fi
	echo "$status $summary" >"$log.status"
}

for s in $servers; do
	if [ ! -x "$build/$s" ]; then
		echo "protocol-check: $build/$s is not built" >&2
		exit 1
	fi
done
for s in $servers; do
	for t in "$@"; do
		run_one "$s" "$t" &
	done
done
wait

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
echo "protocol-check: $failed run(s) failed"
[ "$failed" -eq 0 ]
