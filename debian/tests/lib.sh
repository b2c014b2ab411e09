# lib.sh - helpers for the tests in debian/tests, sourced by each.
#
# Every wait is bounded; every process a test starts is stopped by the pid
# it was given, in cleanup(), whatever the test's outcome.

set -eu

tmp=$(mktemp -d)
pids=""

cleanup() {
	for p in $pids; do
		kill -KILL "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	for f in "$tmp"/*.log; do
		[ -s "$f" ] && { echo "--- $f"; cat "$f"; }
	done
	exit 1
}

# started PID: remember a process to stop at the end.
started() {
	pids="$pids $1"
}

# wait_for FILE REGEX SECONDS: until a line of FILE matches REGEX (grep -E).
wait_for() {
	tries=$(($3 * 10))
	while ! grep -Eq "$2" "$1" 2>/dev/null; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || return 1
		sleep 0.1
	done
}

# wait_exit PID SECONDS: until the process has exited; then its status is
# that of `wait PID`.  Returns 124 if it is still running.
wait_exit() {
	tries=$(($2 * 10))
	while kill -0 "$1" 2>/dev/null; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || return 124
		sleep 0.1
	done
	wait "$1"
}

# listening_port LOG: the port of the server's first listening line.
listening_port() {
	sed -n 's/^echoserv: listening on .*:\([0-9][0-9]*\)$/\1/p' "$1" | head -n 1
}

# converse PORT INPUT-FILE OUTPUT-FILE: send the input, half-close, keep
# what comes back until the server closes (at most 10 s).
converse() {
	timeout 10 nc -N 127.0.0.1 "$1" <"$2" >"$3"
}
