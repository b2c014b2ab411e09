#!/usr/bin/env bash
# bench.sh - benchmark echoserv against the comparison servers (protocol.md 6).
#
# usage: scripts/bench.sh [--quick | --smoke] [--servers "a b ..."]
#                         [--out DIR] [--no-build] [--no-chart]
#
# Builds everything, then for each server and each scenario starts the
# server afresh on an ephemeral loopback port (pinned to CPU 0), runs
# build/echobench against it (pinned to CPU 1), and records messages/s,
# MB/s, latency, errors and the server's peak RSS.  Then it counts system
# calls per echoed line (perf stat, else strace -c) and writes, under the
# results folder: results.csv, results.md (tables, target ratios and the
# machine), chart.png (msgs/s against connections; gnuplot) and the raw
# logs.
#
#   full     connections {1,10,100,1000} x pipeline {1,16} at 64-byte lines,
#            16 KiB lines at 10 connections, 1,000 idle + 10 active;
#            all six servers; about 6 minutes.
#   --quick  a smaller matrix with short windows, under a minute.
#   --smoke  what `make check` runs: the protocol check against every
#            server, then a short load against echoserv and echoserv-threads;
#            correctness only (fails on any error), no speed assertions.
#
# Every load is bounded in time by echobench itself; every server this
# script starts is stopped by its PID, also when the script is interrupted.
set -euo pipefail

cd "$(dirname "$0")/.."

MODE=full
SERVERS=""
OUT=""
BUILD_FIRST=1
CHART=1
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) MODE=quick ;;
	--smoke) MODE=smoke ;;
	--servers) SERVERS="$2"; shift ;;
	--servers=*) SERVERS="${1#*=}" ;;
	--out) OUT="$2"; shift ;;
	--out=*) OUT="${1#*=}" ;;
	--no-build) BUILD_FIRST=0 ;;
	--no-chart) CHART=0 ;;
	-h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done

ALL_SERVERS="echoserv echoserv-poll echoserv-epoll echoserv-threads echoserv-fork echoserv-co"
# scenario: name connections pipeline size idle
case "$MODE" in
full)
	WARMUP=0.3; DURATION=1; REPEATS=4
	SCENARIOS="c1-p1:1:1:64:0 c1-p16:1:16:64:0 c10-p1:10:1:64:0 c10-p16:10:16:64:0
		c100-p1:100:1:64:0 c100-p16:100:16:64:0 c1000-p1:1000:1:64:0 c1000-p16:1000:16:64:0
		c10-16k:10:1:16384:0 idle1000+10:10:1:64:1000"
	SYSCALL_SERVERS="$ALL_SERVERS" ;;
quick)
	WARMUP=0.2; DURATION=0.5; REPEATS=1
	SCENARIOS="c1-p1:1:1:64:0 c100-p1:100:1:64:0 c100-p16:100:16:64:0
		c1000-p1:1000:1:64:0 idle1000+10:10:1:64:1000"
	SYSCALL_SERVERS="echoserv" ;;
smoke)
	WARMUP=0.1; DURATION=0.3; REPEATS=1
	SCENARIOS="c1-p1:1:1:64:0 c10-p16:10:16:64:0 c100-p1:100:1:64:0
		c10-16k:10:1:16384:0 idle1000+10:10:1:64:1000"
	SYSCALL_SERVERS=""
	CHART=0 ;;
esac
CHECK_SERVERS="$ALL_SERVERS"
if [ -z "$SERVERS" ]; then
	if [ "$MODE" = smoke ]; then
		SERVERS="echoserv echoserv-threads"
	else
		SERVERS="$ALL_SERVERS"
	fi
else
	CHECK_SERVERS="$SERVERS"
fi

if [ -z "$OUT" ]; then
	OUT="bench/results/tmp/$MODE-$(date -u +%Y%m%d-%H%M%S)"
fi
mkdir -p "$OUT/logs"
BIN=build

# ---------------------------------------------------------------- set-up

if [ "$BUILD_FIRST" = 1 ]; then
	make -s programs >/dev/null
fi

# 1,000 idle connections plus the active ones need more descriptors than
# the usual soft limit of 1,024, in the servers and in echobench.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 4096 2>/dev/null || true

# Descriptors inherited from whoever started us would be inherited by the
# servers too, and push select()'s clients past FD_SETSIZE sooner: close
# them (Linux /proc; elsewhere nothing is done).
if [ -d /proc/$$/fd ]; then
	for fdpath in /proc/$$/fd/*; do
		fd=${fdpath##*/}
		case "$fd" in 0 | 1 | 2 | 255 | *[!0-9]*) continue ;; esac
		eval "exec $fd>&-" 2>/dev/null || true
	done
fi

# Server and load generator on different cores, when there are two.
NCPU=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
if [ "$NCPU" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
	PIN_SERVER="taskset -c 0"
	PIN_LOAD="taskset -c 1"
else
	PIN_SERVER=""
	PIN_LOAD=""
fi

STARTED_PIDS=""
SERVER_PID=""
cleanup() {
	for pid in $STARTED_PIDS $SERVER_PID; do
		kill -TERM "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- machine

describe_machine() {
	echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "host:     $(uname -srm)"
	if command -v lscpu >/dev/null 2>&1; then
		echo "cpu:      $(lscpu | sed -n 's/^Model name: *//p' | head -n1)"
	fi
	echo "cores:    $NCPU online; server pinned: ${PIN_SERVER:-no}; load: ${PIN_LOAD:-no}"
	echo "memory:   $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo 2>/dev/null)"
	echo "compiler: $(${CC:-cc} --version 2>/dev/null | head -n1)"
	echo "fd limit: $(ulimit -n)"
	echo "mode:     $MODE (warm-up ${WARMUP} s, window ${DURATION} s per scenario, $REPEATS round(s), best kept)"
	echo "load avg: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
	echo "busiest processes over one second before the run (%cpu command):"
	busiest | sed 's/^/    /'
}

# The five busiest processes over the last second (top), else since start.
busiest() {
	if command -v top >/dev/null 2>&1; then
		top -b -w 120 -n 2 -d 1 2>/dev/null | awk '/^ *PID/ {n++; next} n == 2 && NF >= 12 {print $9, $12}' | head -n 5
	else
		ps -eo pcpu=,comm= --sort=-pcpu 2>/dev/null | head -n 5
	fi
}
describe_machine >"$OUT/machine.txt"

# ---------------------------------------------------------------- servers

SERVER_PID=""
SERVER_PORT=""

# start_server NAME ERRFILE ARGS...: start it pinned, wait for the
# listening line, set SERVER_PID and SERVER_PORT.
start_server() {
	local name=$1 err=$2
	shift 2
	$PIN_SERVER "$BIN/$name" -q "$@" 0 2>"$err" &
	SERVER_PID=$!
	STARTED_PIDS="$STARTED_PIDS $SERVER_PID"
	for _ in $(seq 1 100); do
		SERVER_PORT=$(sed -n 's/^echoserv: listening on .*:\([0-9]*\)$/\1/p' "$err" 2>/dev/null)
		[ -n "$SERVER_PORT" ] && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "bench.sh: $name did not start:" >&2
	cat "$err" >&2
	return 1
}

# stop_server: SIGTERM, then SIGKILL if it has not gone within 4 s.
stop_server() {
	local pid=$SERVER_PID
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 80); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	STARTED_PIDS=$(echo "$STARTED_PIDS" | sed "s/ $pid\b//")
}

# Resident memory of pid and its child processes, in KiB: proportional
# set sizes (Pss), so pages the forked children share with the parent are
# not counted once per child.  Falls back to VmRSS.
tree_kib() {
	local pid=$1 p files=()
	for p in $pid $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
		if [ -r /proc/"$p"/smaps_rollup ]; then
			files+=(/proc/"$p"/smaps_rollup)
		else
			files+=(/proc/"$p"/status)
		fi
	done
	awk '/^(Pss|VmRSS):/ {kib += $2} END {print kib + 0}' "${files[@]}" 2>/dev/null || echo 0
}

# Sample tree_kib every 0.2 s into file (the largest value) until killed.
sample_memory() {
	local pid=$1 file=$2 peak=0 now
	while kill -0 "$pid" 2>/dev/null; do
		now=$(tree_kib "$pid")
		if [ "$now" -gt "$peak" ]; then
			peak=$now
			echo "$peak" >"$file"
		fi
		sleep 0.3
	done
}

# Peak memory of the server: the kernel's high-water mark VmHWM for a
# single process, or the sampled peak for a process tree, whichever is
# larger.
peak_kib() {
	local pid=$1 sampled=$2 hwm
	hwm=$(awk '/^VmHWM:/ {print $2}' /proc/"$pid"/status 2>/dev/null || echo 0)
	[ -s "$sampled" ] || echo 0 >"$sampled"
	local s
	s=$(cat "$sampled")
	[ "${hwm:-0}" -gt "$s" ] && echo "$hwm" || echo "$s"
}

# kv KEY LINE: the value of KEY in a key=value line.
kv() {
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# ---------------------------------------------------------------- 1. check

FAILURES=0
echo "bench.sh: $MODE run, results in $OUT"
echo "== protocol check (echo, quit, EOF, every byte, line too long)"
for s in $CHECK_SERVERS; do
	start_server "$s" "$OUT/logs/$s-check.err"
	if $PIN_LOAD "$BIN/echobench" -p "$SERVER_PORT" --check -q \
		>"$OUT/logs/$s-check.out" 2>&1; then
		echo "   $s: $(tail -n1 "$OUT/logs/$s-check.out")"
	else
		echo "   $s: FAILED"
		sed 's/^/      /' "$OUT/logs/$s-check.out"
		FAILURES=$((FAILURES + 1))
	fi
	stop_server
done

# ---------------------------------------------------------------- 2. load

RUNS="$OUT/runs.csv"
CSV="$OUT/results.csv"
HEADER="server,scenario,connections,pipeline,size,idle,msgs_per_s,mb_per_s,p50_us,p99_us,p999_us,errors,peak_rss_kib,cpu_us_per_line,status"
echo "run,$HEADER" >"$RUNS"
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# CPU time of pid and its reaped children so far, in clock ticks.
cpu_ticks() {
	awk '{print $14 + $15 + $16 + $17}' /proc/"$1"/stat 2>/dev/null || echo 0
}

# run_scenario RUN SERVER NAME CONNS PIPELINE SIZE IDLE: one measurement,
# appended to runs.csv.
run_scenario() {
	local run=$1 s=$2 name=$3 conns=$4 pipe=$5 size=$6 idle=$7
	local log="$OUT/logs/$s-$name-$run" args=()
	# 16 KiB lines need a longer --max-line than the default 8192.
	[ "$size" -gt 4096 ] && args=(-l 65536)
	start_server "$s" "$log.err" "${args[@]}" || {
		echo "$run,$s,$name,$conns,$pipe,$size,$idle,,,,,,,,,did not start" >>"$RUNS"
		FAILURES=$((FAILURES + 1))
		return
	}
	sample_memory "$SERVER_PID" "$log.rss" &
	local sampler=$! rc=0 t0 t1
	t0=$(cpu_ticks "$SERVER_PID")
	$PIN_LOAD "$BIN/echobench" -p "$SERVER_PORT" -c "$conns" -P "$pipe" \
		-s "$size" -i "$idle" -w "$WARMUP" -d "$DURATION" \
		>"$log.out" 2>&1 || rc=$?
	# A forked child's time counts once the parent has reaped it.
	[ "$s" = echoserv-fork ] && sleep 0.3
	t1=$(cpu_ticks "$SERVER_PID")
	local rss
	rss=$(peak_kib "$SERVER_PID" "$log.rss")
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	stop_server
	local line status cpu
	line=$(grep '^msgs_per_s=' "$log.out" | tail -n1 || true)
	if [ -z "$line" ]; then
		status="no result (echobench exit $rc)"
	elif [ "$(kv errors "$line")" != 0 ]; then
		status="errors: $(kv mismatches "$line") wrong; $(kv closed "$line") closed; $(kv lost "$line") lost; $(kv connect_failed "$line") not connected; $(kv idle_dropped "$line") idle dropped"
	else
		status=ok
	fi
	[ "$status" = ok ] || FAILURES=$((FAILURES + 1))
	# Server CPU per echoed line: what the server costs, whatever else
	# the machine is doing (throughput suffers from neighbours; this less).
	cpu=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v l="$(kv echoed "$line")" \
		'BEGIN {if (l > 0) printf "%.2f", t * 1e6 / hz / l}')
	printf '   %-17s %-13s %10s msgs/s  p99 %8s us  rss %6s KiB  cpu %5s us/line  %s\n' \
		"$s" "$name" "$(kv msgs_per_s "$line")" "$(kv p99_us "$line")" "$rss" "$cpu" "$status"
	echo "$run,$s,$name,$conns,$pipe,$size,$idle,$(kv msgs_per_s "$line"),$(kv mb_per_s "$line"),$(kv p50_us "$line"),$(kv p99_us "$line"),$(kv p999_us "$line"),$(kv errors "$line"),$rss,$cpu,$status" >>"$RUNS"
}

# Rounds over the whole matrix, servers interleaved inside each scenario,
# so a burst of load from a neighbour hits every server alike.
echo "== load: $REPEATS round(s); server on ${PIN_SERVER:-any CPU}, echobench on ${PIN_LOAD:-any CPU}"
for run in $(seq 1 "$REPEATS"); do
	for sc in $SCENARIOS; do
		IFS=: read -r name conns pipe size idle <<<"$sc"
		for s in $SERVERS; do
			run_scenario "$run" "$s" "$name" "$conns" "$pipe" "$size" "$idle"
		done
	done
done

# results.csv: per server and scenario the run with the most msgs/s (a
# neighbour's burst only ever slows a run down, so the best run is the
# nearest to the undisturbed figure), a failed run anywhere marks the
# result, and peak RSS is the largest seen.
best_results() {
	echo "$HEADER"
	tail -n +2 "$RUNS" | sort -t, -k2,2 -k3,3 -k8,8g | awk -F, -v OFS=, '
		function flush() {
			if (n == 0) return
			split(rows[n], f, ",")
			f[14] = rss; f[16] = bad != "" ? bad : f[16]
			line = f[2]
			for (i = 3; i <= 16; i++) line = line "," f[i]
			print line
			n = 0; rss = 0; bad = ""
		}
		$2 "," $3 != key { flush(); key = $2 "," $3 }
		{ rows[++n] = $0; if ($14 + 0 > rss) rss = $14 + 0
		  if ($16 != "ok") bad = $16 }
		END { flush() }'
}
best_results >"$CSV"

# ---------------------------------------------------------------- capacity

# Past select()'s ceiling: 1,100 idle connections and one active one.  A
# server that cannot watch them all turns the rest away ("server full");
# that is a finding about the server, not a failure of the run.
CAPCSV="$OUT/capacity.csv"
echo "server,connections,turned_away,status" >"$CAPCSV"
if [ "$MODE" != smoke ]; then
	echo "== capacity: 1,100 idle connections + 1 active"
	for s in $SERVERS; do
		log="$OUT/logs/capacity-$s"
		start_server "$s" "$log.err" || continue
		$PIN_LOAD "$BIN/echobench" -p "$SERVER_PORT" -c 1 -i 1100 \
			-w 0.1 -d 0.3 >"$log.out" 2>&1 || true
		stop_server
		line=$(grep '^msgs_per_s=' "$log.out" | tail -n1 || true)
		away=$(( $(kv idle_dropped "$line") + $(kv mismatches "$line") + $(kv closed "$line") ))
		if [ "$away" -eq 0 ]; then st="all 1101 served"; else st="$away turned away"; fi
		printf '   %-17s %s\n' "$s" "$st"
		echo "$s,1101,$away,$st" >>"$CAPCSV"
	done
fi

# ---------------------------------------------------------------- 3. syscalls

SYSCSV="$OUT/syscalls.csv"
echo "server,scenario,syscalls,lines,syscalls_per_line,tool" >"$SYSCSV"

# Count the server's system calls over its whole life (start-up and the
# accepts included; they are few against the lines) and divide by the
# lines echobench saw echoed, warm-up included.
count_syscalls() {
	local s=$1 name=$2 conns=$3 pipe=$4 tool=$5
	local log="$OUT/logs/syscalls-$s-$name" cmd
	case "$tool" in
	perf) cmd=(perf stat -e raw_syscalls:sys_enter -x ',' -o "$log.count") ;;
	strace) cmd=(strace -f -c -o "$log.count") ;;
	esac
	$PIN_SERVER "${cmd[@]}" "$BIN/$s" -q 0 2>"$log.err" &
	local wrapper=$!
	STARTED_PIDS="$STARTED_PIDS $wrapper"
	SERVER_PORT=""
	for _ in $(seq 1 100); do
		SERVER_PORT=$(sed -n 's/^echoserv: listening on .*:\([0-9]*\)$/\1/p' "$log.err" 2>/dev/null)
		[ -n "$SERVER_PORT" ] && break
		sleep 0.05
	done
	local server
	server=$(cat /proc/"$wrapper"/task/*/children 2>/dev/null | awk '{print $1}')
	if [ "$conns" -gt 0 ]; then
		$PIN_LOAD "$BIN/echobench" -p "$SERVER_PORT" -c "$conns" -P "$pipe" \
			-w "$WARMUP" -d "$DURATION" >"$log.out" 2>&1 || true
	fi
	[ -n "$server" ] && kill -TERM "$server" 2>/dev/null || true
	# perf and strace write their counts when the server has exited.
	for _ in $(seq 1 80); do
		kill -0 "$wrapper" 2>/dev/null || break
		sleep 0.05
	done
	SERVER_PID=$wrapper
	stop_server
	local calls lines
	if [ "$tool" = perf ]; then
		calls=$(awk -F, '/raw_syscalls:sys_enter/ {print $1}' "$log.count")
	else
		calls=$(awk '$NF == "total" {print $(NF-2)}' "$log.count")
	fi
	if [ "$conns" -eq 0 ]; then
		BASELINE=${calls:-0}
		return
	fi
	lines=$(kv echoed "$(grep '^msgs_per_s=' "$log.out" | tail -n1)")
	local per
	per=$(awk -v c="${calls:-0}" -v b="$BASELINE" -v l="${lines:-0}" 'BEGIN {if (l > 0) printf "%.2f", (c - b) / l; else print "n/a"}')
	printf '   %-17s %-10s %6s syscalls per echoed line (%s calls less %s at start and stop, %s lines, %s)\n' \
		"$s" "$name" "$per" "$calls" "$BASELINE" "$lines" "$tool"
	echo "$s,$name,$calls,$lines,$per,$tool" >>"$SYSCSV"
}

SYSTOOL=""
if [ -n "$SYSCALL_SERVERS" ]; then
	if command -v perf >/dev/null 2>&1 &&
		perf stat -e raw_syscalls:sys_enter -x, true >/dev/null 2>&1; then
		SYSTOOL=perf
	elif command -v strace >/dev/null 2>&1; then
		SYSTOOL=strace
	else
		echo "== syscalls per line: neither perf nor strace works here; skipped"
	fi
fi
if [ -n "$SYSTOOL" ]; then
	echo "== system calls per echoed line ($SYSTOOL)"
	for s in $SYSCALL_SERVERS; do
		# Start-up and shutdown alone, subtracted from the runs below.
		BASELINE=0
		count_syscalls "$s" baseline 0 0 "$SYSTOOL"
		count_syscalls "$s" c1-p1 1 1 "$SYSTOOL"
		count_syscalls "$s" c100-p1 100 1 "$SYSTOOL"
		count_syscalls "$s" c100-p16 100 16 "$SYSTOOL"
	done
fi

# ---------------------------------------------------------------- 4. report

# value SERVER SCENARIO COLUMN: one field of the CSV.
value() {
	awk -F, -v s="$1" -v n="$2" -v c="$3" '
		NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		$1 == s && $2 == n { print $col[c]; exit }' "$CSV"
}
ratio() { # ratio A B: A / B rounded down to three decimals (so a verdict is never flattered by rounding), or n/a
	awk -v a="$1" -v b="$2" 'BEGIN {if (a != "" && b != "" && b > 0) printf "%.3f", int(a / b * 1000) / 1000; else print "n/a"}'
}
verdict() { # verdict RATIO MIN: met / NOT met
	awk -v r="$1" -v m="$2" 'BEGIN {if (r == "n/a") print "n/a"; else if (r + 0 >= m) print "met"; else print "**not met**"}'
}

write_markdown() {
	local names="" sc
	for sc in $SCENARIOS; do names="$names ${sc%%:*}"; done
	echo "# echoserv benchmark ($MODE run)"
	echo
	echo '```'
	cat "$OUT/machine.txt"
	echo '```'
	echo
	echo "Messages per second, best of $REPEATS round(s) (64-byte lines unless noted; 'cN-pP' = N connections,"
	echo "P lines in flight on each; idle1000+10 = 1,000 idle connections and 10 active)."
	echo
	printf '| scenario |'
	for s in $SERVERS; do printf ' %s |' "$s"; done
	echo
	printf '|---|'
	for s in $SERVERS; do printf -- '---:|'; done
	echo
	for n in $names; do
		printf '| %s |' "$n"
		for s in $SERVERS; do
			local v st
			v=$(value "$s" "$n" msgs_per_s)
			st=$(value "$s" "$n" status)
			[ "$st" = ok ] || v="${v:-–} ($st)"
			printf ' %s |' "${v:-–}"
		done
		echo
	done
	echo
	echo "Latency p50 / p99 / p99.9 in microseconds (write of a line to its echo):"
	echo
	printf '| scenario |'
	for s in $SERVERS; do printf ' %s |' "$s"; done
	echo
	printf '|---|'
	for s in $SERVERS; do printf -- '---:|'; done
	echo
	for n in $names; do
		printf '| %s |' "$n"
		for s in $SERVERS; do
			printf ' %s / %s / %s |' "$(value "$s" "$n" p50_us)" \
				"$(value "$s" "$n" p99_us)" "$(value "$s" "$n" p999_us)"
		done
		echo
	done
	echo
	echo "Server CPU time per echoed line in microseconds (user + system, from"
	echo "/proc; less sensitive to the neighbours than messages/s):"
	echo
	printf '| scenario |'
	for s in $SERVERS; do printf ' %s |' "$s"; done
	echo
	printf '|---|'
	for s in $SERVERS; do printf -- '---:|'; done
	echo
	for n in $names; do
		printf '| %s |' "$n"
		for s in $SERVERS; do printf ' %s |' "$(value "$s" "$n" cpu_us_per_line)"; done
		echo
	done
	echo
	echo "Peak server memory in MiB (RSS high-water mark; for echoserv-fork the"
	echo "sampled sum of Pss over the parent and its children):"
	echo
	printf '| scenario |'
	for s in $SERVERS; do printf ' %s |' "$s"; done
	echo
	printf '|---|'
	for s in $SERVERS; do printf -- '---:|'; done
	echo
	for n in $names; do
		printf '| %s |' "$n"
		for s in $SERVERS; do
			awk -v k="$(value "$s" "$n" peak_rss_kib)" 'BEGIN {if (k == "") printf " – |"; else printf " %.1f |", k / 1024}'
		done
		echo
	done
	if [ "$(wc -l <"$SYSCSV")" -gt 1 ]; then
		echo
		echo "System calls per echoed line ($SYSTOOL over the server's whole life, less"
		echo "those of a start and stop with no client; accepts and closes included):"
		echo
		echo "| server | c1-p1 | c100-p1 | c100-p16 |"
		echo "|---|---:|---:|---:|"
		for s in $SYSCALL_SERVERS; do
			printf '| %s |' "$s"
			for n in c1-p1 c100-p1 c100-p16; do
				printf ' %s |' "$(awk -F, -v s="$s" -v n="$n" '$1 == s && $2 == n {print $5}' "$SYSCSV")"
			done
			echo
		done
	fi
	if echo " $SERVERS " | grep -q ' echoserv ' &&
		echo " $SERVERS " | grep -q ' echoserv-epoll '; then
		echo
		echo "Speed targets, as ratios from this run:"
		echo
		echo "| target | measured | verdict |"
		echo "|---|---:|---|"
		local n r
		for n in $names; do
			case "$n" in
			c1-* | c10-p* | c100-*) min=0.95 ;;
			c1000-*) min=0.85 ;;
			*) continue ;;
			esac
			r=$(ratio "$(value echoserv "$n" msgs_per_s)" "$(value echoserv-epoll "$n" msgs_per_s)")
			echo "| echoserv / epoll, $n ≥ $min | $r | $(verdict "$r" "$min") |"
		done
		if echo " $SERVERS " | grep -q ' echoserv-threads '; then
			r=$(ratio "$(value echoserv c100-p1 msgs_per_s)" "$(value echoserv-threads c100-p1 msgs_per_s)")
			echo "| echoserv / threads, c100-p1 ≥ 1.5 | $r | $(verdict "$r" 1.5) |"
		fi
		r=$(ratio "$(value echoserv c100-p16 msgs_per_s)" "$(value echoserv c100-p1 msgs_per_s)")
		echo "| echoserv c100 pipeline 16 / pipeline 1 ≥ 5 | $r | $(verdict "$r" 5) |"
		local p1 p16
		p1=$(awk -F, '$1 == "echoserv" && ($2 == "c1-p1" || $2 == "c100-p1") && $5 + 0 > m {m = $5 + 0} END {if (m != "") print m}' "$SYSCSV")
		p16=$(awk -F, '$1 == "echoserv" && $2 == "c100-p16" {print $5}' "$SYSCSV")
		echo "| syscalls per line, pipeline 1 ≤ 3 (worst of c1, c100) | ${p1:-n/a} | $(awk -v v="${p1:-n/a}" 'BEGIN {if (v == "n/a") print "n/a"; else if (v + 0 <= 3) print "met"; else print "**not met**"}') |"
		echo "| syscalls per line, c100 pipeline 16 well under 1 | ${p16:-n/a} | $(awk -v v="${p16:-n/a}" 'BEGIN {if (v == "n/a") print "n/a"; else if (v + 0 < 0.5) print "met"; else print "**not met**"}') |"
		local idle
		idle=$(value echoserv idle1000+10 peak_rss_kib)
		echo "| peak RSS, 1,000 idle clients ≤ 16 MiB | $(awk -v k="$idle" 'BEGIN {if (k == "") print "n/a"; else printf "%.1f MiB", k / 1024}') | $(awk -v k="$idle" 'BEGIN {if (k == "") print "n/a"; else if (k <= 16384) print "met"; else print "**not met**"}') |"
	fi
	echo
	if [ "$(wc -l <"$CAPCSV")" -gt 1 ]; then
		echo
		echo "Capacity: 1,100 idle connections and 1 active, opened at once:"
		echo
		echo "| server | result |"
		echo "|---|---|"
		awk -F, 'NR > 1 {print "| " $1 " | " $4 " |"}' "$CAPCSV"
	fi
	echo
	echo "echoserv and echoserv-co use select(): at most $("$BIN/echoserv" --help | sed -n 's/.*clients, 1\.\.\([0-9]*\).*/\1/p') clients (FD_SETSIZE $(getconf FD_SETSIZE 2>/dev/null || echo 1024) less their own descriptors);"
	echo "a client beyond that is sent \"error: server full\" and closed."
	[ -f "$OUT/chart.png" ] && printf '\n![msgs/s against connections](chart.png)\n'
	return 0
}

# ---------------------------------------------------------------- 5. chart

# gnuplot comes from Debian; install it if it is missing and we may.
ensure_gnuplot() {
	command -v gnuplot >/dev/null 2>&1 && return 0
	command -v apt-get >/dev/null 2>&1 || return 1
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	echo "bench.sh: installing gnuplot-nox for the chart" >&2
	$sudo apt-get update -qq >/dev/null 2>&1 || true
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq gnuplot-nox >/dev/null 2>&1
	command -v gnuplot >/dev/null 2>&1
}

draw_chart() {
	local data="$OUT/chart.dat" s p
	: >"$data"
	# Blocks: msgs/s at pipeline 1, at pipeline 16, then CPU per line at
	# pipeline 1; one block per server in each.
	for col in 7:1 7:16 14:1; do
		for s in $SERVERS; do
			echo "\"$s\"" >>"$data"
			awk -F, -v s="$s" -v c="${col%%:*}" -v p="${col##*:}" \
				'$1 == s && $4 == p && $5 == 64 && $6 == 0 && $c != "" {print $3, $c}' "$CSV" | sort -n >>"$data"
			printf '\n\n' >>"$data"
		done
	done
	local n
	n=$(echo "$SERVERS" | wc -w)
	gnuplot <<EOF
set terminal pngcairo size 1500,520 noenhanced font ",10"
set output "$OUT/chart.png"
set multiplot layout 1,3 title "echoserv and comparison servers, 64-byte lines, loopback; $(sed -n 's/^cpu: *//p' "$OUT/machine.txt"), $(sed -n 's/^cores: *\([0-9]*\).*/\1/p' "$OUT/machine.txt") cores; $(sed -n 's/^date: *//p' "$OUT/machine.txt")"
set logscale x
set xrange [0.8:1300]
set xlabel "connections"
set ylabel "messages/s"
set format y "%.1s%c"
set key top left
set grid
set title "pipeline 1"
plot for [i=0:$((n - 1))] "$data" index i using 1:2 with linespoints title columnhead(1)
set title "pipeline 16"
plot for [i=$n:$((2 * n - 1))] "$data" index i using 1:2 with linespoints title columnhead(1)
set title "server CPU per echoed line, pipeline 1 (lower is better)"
set ylabel "microseconds"
set format y "%g"
set logscale y
plot for [i=$((2 * n)):$((3 * n - 1))] "$data" index i using 1:2 with linespoints title columnhead(1)
unset multiplot
EOF
}

if [ "$CHART" = 1 ]; then
	if ensure_gnuplot; then
		draw_chart || echo "bench.sh: gnuplot failed; no chart" >&2
	else
		echo "bench.sh: gnuplot not available; no chart" >&2
	fi
fi

{
	echo "end:      $(date -u '+%Y-%m-%d %H:%M:%S UTC'); load avg $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
	echo "busiest processes over one second after the run (%cpu command):"
	busiest | sed 's/^/    /'
} >>"$OUT/machine.txt"
write_markdown >"$OUT/results.md"
echo "== wrote $OUT/results.md, results.csv$([ -f "$OUT/chart.png" ] && echo ", chart.png")"
if [ "$FAILURES" -gt 0 ]; then
	echo "bench.sh: $FAILURES failure(s): see above and $OUT/logs" >&2
	exit 1
fi
exit 0
