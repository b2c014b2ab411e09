#!/bin/sh
# run-checks.sh MAKE CHECK... - what `make check` does after building: run
# every check (`MAKE CHECK`), each to its end even when one before it
# failed, then print one table (check, result, seconds), the total time
# and a last line "N passed, N failed".  Exits 1 if any check failed.
#
# A check's own output goes to the terminal as it runs; the table at the
# end is what to read first.  Times are wall-clock seconds from date(1)
# (tenths where date knows %N, whole seconds elsewhere).
set -u

make=$1
shift

now() { # seconds since the epoch, with a fraction where date gives one
	t=$(date +%s.%N 2>/dev/null)
	case $t in
	*N* | "") date +%s ;;
	*) echo "$t" ;;
	esac
}

elapsed() { # elapsed START END: seconds between, one decimal
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'
}

results=""
passed=0
failed=0
start=$(now)
for check in "$@"; do
	echo "==== make $check"
	t0=$(now)
	if $make --no-print-directory "$check"; then
		result=pass
		passed=$((passed + 1))
	else
		result=FAIL
		failed=$((failed + 1))
	fi
	t1=$(now)
	echo "==== make $check: $result ($(elapsed "$t0" "$t1") s)"
	results="$results$check $result $(elapsed "$t0" "$t1")
"
done
end=$(now)

echo
echo "==== make check: results"
printf '%s' "$results" | awk -v total="$(elapsed "$start" "$end")" '
	BEGIN { printf "%-22s %-7s %8s\n", "check", "result", "seconds" }
	{ printf "%-22s %-7s %8s\n", $1, $2, $3 }
	END { printf "%-22s %-7s %8s\n", "total", "", total }'
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
