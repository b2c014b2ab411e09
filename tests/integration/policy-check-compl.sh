#!/bin/sh
# policy-check-compl.sh - the policy suites (docs/protocol.md sections 2
# and 4: test_defences, test_limits_faults) against servers other than
# echoserv, with an explicit list of what each may skip and why (the make
# target says why, next to each entry).
#
# usage:
#   sh tests/integration/policy-check-compl.sh BUILD JOBS "SERVER..." TEST...
#
# SERVER is a program in BUILD, TEST a cmocka test program built from
# tests/integration/TEST.c.  Every test of every TEST runs on its own
# (ECHOSERV_TEST=its name) against every SERVER, JOBS at a time: each
# starts its own server on port 0, so they do not meet.  From the
# environment (make policy-check-compl passes its variables):
#
#   POLICY_SKIPS               SERVER:TEST_NAME pairs (TEST_NAME may be a
#                              shell pattern): not run for SERVER
#   POLICY_ONE_CLIENT          servers that hold one client at a time:
#                              tests needing two skip themselves
#   POLICY_MAY_BE_UNAVAILABLE  servers that may refuse to start here (exit
#                              1, "unavailable"): their tests then skip
#
# Prints one line per server and test program, then the log of each test
# that failed; exits 1 if any failed.  Logs stay in BUILD/policy-check/.
set -u

# in_list WORD LIST: is WORD one of the words of LIST?
in_list() {
	case " $2 " in *" $1 "*) return 0 ;; esac
	return 1
}

# run_one SERVER TEST NAME: one test against SERVER, its verdict in
# LOG.status: ok, skipped (by the test itself) or FAIL.
run_one() {
	one=0 maybe=0
	in_list "$1" "${POLICY_ONE_CLIENT:-}" && one=1
	in_list "$1" "${POLICY_MAY_BE_UNAVAILABLE:-}" && maybe=1
	log=$logs/$1-$3
	ECHOSERV_BIN=$build/$1 ECHOSERV_TEST=$3 ECHOSERV_ONE_CLIENT=$one \
		ECHOSERV_MAY_BE_UNAVAILABLE=$maybe "$2" >"$log.log" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		echo FAIL >"$log.status"
	elif grep -q '^\[  SKIPPED \]' "$log.log" ||
		! grep -q '^\[  PASSED  \] 1 test' "$log.log"; then
		echo skipped >"$log.status"
	else
		echo ok >"$log.status"
	fi
}

# Sourced by the jobs below for run_one alone.
[ -n "${POLICY_DEFINE_ONLY:-}" ] && return 0

build=$1
jobs=$2
servers=$3
shift 3
logs=$build/policy-check
mkdir -p "$logs"
rm -f "$logs"/*.status

# listed_skip SERVER NAME: is NAME on SERVER's skip list?
listed_skip() {
	for pair in ${POLICY_SKIPS:-}; do
		case "$pair" in "$1":*) ;; *) continue ;; esac
		# shellcheck disable=SC2254 # the pattern is meant to match
		case "$2" in ${pair#*:}) return 0 ;; esac
	done
	return 1
}

# names_of TEST: the tests TEST's main() runs, in order (its T(name) lines).
names_of() {
	sed -n 's/^[[:space:]]*T(\([A-Za-z0-9_]*\)),$/\1/p' \
		"tests/integration/$(basename "$1").c"
}

# The jobs, one line each: SERVER TEST NAME.
for server in $servers; do
	for test in "$@"; do
		for name in $(names_of "$test"); do
			if listed_skip "$server" "$name"; then
				echo "listed" >"$logs/$server-$name.status"
			else
				echo "$server $test $name"
			fi
		done
	done
done >"$logs/jobs"

export build logs
start=$(date +%s)
# xargs runs run_one in a new sh, which reads this file for it.
xargs -P "$jobs" -n 3 sh -c 'POLICY_DEFINE_ONLY=1; . "$0"; run_one "$@"' \
	"$0" <"$logs/jobs"
took=$(($(date +%s) - start))

failed=0
for server in $servers; do
	for test in "$@"; do
		ok=0 skipped=0 listed=0 bad=""
		for name in $(names_of "$test"); do
			case $(cat "$logs/$server-$name.status" 2>/dev/null) in
			ok) ok=$((ok + 1)) ;;
			skipped) skipped=$((skipped + 1)) ;;
			listed) listed=$((listed + 1)) ;;
			*) bad="$bad $name" ;;
			esac
		done
		verdict=ok
		[ -n "$bad" ] && verdict=FAIL && failed=$((failed + 1))
		printf '%-4s %-20s %-20s %d passed, %d skipped by the test, ' \
			"$verdict" "$server" "$(basename "$test")" $ok $skipped
		printf '%d on the list%s\n' $listed "${bad:+; failed:$bad}"
		for name in $bad; do
			echo "---- $server $name ($logs/$server-$name.log):"
			tail -n 40 "$logs/$server-$name.log"
		done
	done
done
echo "policy-check: $failed server/suite pair(s) failed, in $took s"
[ $failed -eq 0 ]
