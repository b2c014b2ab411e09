#!/usr/bin/env bash
# bench.sh - benchmark echoserv against the comparison servers, one per I/O
# model (docs/protocol.md section 6).
#
# usage: scripts/bench.sh [--quick | --smoke] [--scaling | --all]
#                         [--servers "a b ..."] [--out DIR] [--no-build]
#                         [--no-chart]
#        scripts/bench.sh --cores N [--share] [--rate LINES]
#                         [--connections N] [--quick | --smoke] ...
#
#   (default)  the matrix: connections {1,10,100,1000} x pipeline {1,16} at
#              64-byte lines, 16 KiB lines at 10 connections, 1,000 idle +
#              10 active, best of 3 rounds; then server CPU with 1,000 idle
#              clients and no traffic, and system calls per echoed line.
#   --scaling  only the scaling run: 10, 100, 1,000, 3,000 and 10,000
#              connections, 10 active and the rest idle, and all active;
#              each model up to its ceiling or its first failure; best
#              of 2 rounds per point.
#   --all      both (what a committed run under bench/results/ is).
#   --cores N  the multi-core track alone (scripts/bench_cores.py): every
#              design pinned to CPUs 0..N-1, the event loops with
#              --workers N where they take it, threads and fork as they
#              are, echobench on the remaining CPUs; at 1 core and at N,
#              side by side in each of 3 rounds: CPU per line at a fixed
#              rate (--rate, default 20000 lines/s) and saturation lines/s
#              on --connections (default 100), pipeline 1, and the ratios.
#              A point that leaves echobench no CPU is not run (it says
#              so, and runs the most cores that fit) unless --share: then
#              echobench runs on the server's CPUs, at 1 core and at N,
#              and those rows say "shared".  With --quick 2 rounds of
#              shorter windows; with --smoke a check of the path (two
#              servers, 0.3 s windows, shared where it must be: its
#              figures are not for quoting).
#   --quick    shorter windows, one round, a smaller matrix (about 2 min).
#   --smoke    what `make check` runs: the protocol check against every
#              server, then a short verified load against echoserv and
#              echoserv-threads; correctness only, no speed figures kept.
#   --out DIR  where the results go (default build/bench/MODE-DATE); the
#              logs always go to build/bench/logs/NAME-OF-DIR, and to
#              DIR/logs.tar.xz when DIR is outside build/.
#
# This shell part builds, raises the descriptor limit, notes the machine
# and its load before and after; scripts/bench_run.py runs the servers and
# writes CSV files (scripts/bench_cores.py for --cores);
# scripts/bench_report.py turns them into results.md and
# the PNG charts (gnuplot; scripts/install-test-deps.sh installs it).
set -euo pipefail

cd "$(dirname "$0")/.."
COMMAND="scripts/bench.sh$(printf ' %q' "$@")"

MODE=full
PARTS=matrix
SERVERS=""
CORES=""
CORES_FLAGS=()
OUT=""
BUILD_FIRST=1
CHART=1
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) MODE=quick ;;
	--smoke) MODE=smoke ;;
	--scaling) PARTS=scaling ;;
	--all) PARTS=all ;;
	--servers) SERVERS="$2"; shift ;;
	--servers=*) SERVERS="${1#*=}" ;;
	--out) OUT="$2"; shift ;;
	--out=*) OUT="${1#*=}" ;;
	--no-build) BUILD_FIRST=0 ;;
	--no-chart) CHART=0 ;;
	--cores) CORES="$2"; shift ;;
	--cores=*) CORES="${1#*=}" ;;
	--share) CORES_FLAGS+=(--share) ;;
	--rate | --connections) CORES_FLAGS+=("$1" "$2"); shift ;;
	--rate=* | --connections=*) CORES_FLAGS+=("$1") ;;
	-h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done

if [ -n "$CORES" ]; then
	case "$CORES" in
	'' | *[!0-9]* | 0) echo "bench.sh: --cores needs a whole number, 1 or more" >&2; exit 2 ;;
	esac
	[ "$PARTS" = matrix ] || { echo "bench.sh: --cores runs the multi-core track alone (not with --scaling or --all)" >&2; exit 2; }
elif [ ${#CORES_FLAGS[@]} -gt 0 ]; then
	echo "bench.sh: --share, --rate and --connections go with --cores" >&2
	exit 2
fi

if [ -z "$OUT" ]; then
	name=$MODE
	[ "$MODE" != smoke ] && [ "$PARTS" != matrix ] && name="$MODE-$PARTS"
	[ -n "$CORES" ] && name="$MODE-cores$CORES"
	OUT="build/bench/$name-$(date -u +%Y%m%d-%H%M%S)"
fi
# The servers' and echobench's logs (thousands of small files) stay in
# build/, whatever --out says; a run written outside build/ (one to commit
# under bench/results/) gets them as one archive, OUT/logs.tar.xz.
LOGS="build/bench/logs/$(basename "$OUT")"
rm -rf "$LOGS"
mkdir -p "$OUT" "$LOGS"

if [ "$BUILD_FIRST" = 1 ]; then
	make -s programs >/dev/null
fi

# 10,000 connections need as many descriptors in echobench and in the
# server: the soft limit goes up to the hard one here (bench_run.py does
# the same in every process it starts).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

machine() {
	echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "host:     $(uname -srm)"
	command -v lscpu >/dev/null 2>&1 &&
		echo "cpu:      $(lscpu | sed -n 's/^Model name: *//p' | head -n1)"
	if [ -n "$CORES" ]; then
		echo "cores:    $(getconf _NPROCESSORS_ONLN); the multi-core track: where each ran is in cores-plan.csv and results.md (taskset)"
	else
		echo "cores:    $(getconf _NPROCESSORS_ONLN); server on CPU 0, echobench on CPU 1 (taskset)"
	fi
	echo "memory:   $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "compiler: $(${CC:-cc} --version 2>/dev/null | head -n1)"
	echo "fd limit: $(ulimit -n) (hard $(ulimit -Hn))"
	echo "ports:    $(tr '\t' ' ' </proc/sys/net/ipv4/ip_local_port_range) (ephemeral range); somaxconn $(cat /proc/sys/net/core/somaxconn)"
	echo "command:  $COMMAND"
	echo "uptime before: $(uptime)"
	pressure before
}

# The kernel's CPU pressure (PSI): the share of recent time in which some
# task waited for a CPU, a measure of how crowded the shared machine was.
pressure() {
	[ -r /proc/pressure/cpu ] &&
		echo "cpu pressure $1: $(sed -n 's/^some //p' /proc/pressure/cpu)"
	return 0
}
machine >"$OUT/machine.txt"

rc=0
if [ -n "$CORES" ]; then
	echo "bench.sh: $MODE run of the multi-core track (--cores $CORES), results in $OUT"
	python3 scripts/bench_cores.py --cores "$CORES" --mode "$MODE" \
		${CORES_FLAGS[@]+"${CORES_FLAGS[@]}"} --servers "$SERVERS" \
		--out "$OUT" --logs "$LOGS" || rc=$?
else
	echo "bench.sh: $MODE run$([ "$MODE" = smoke ] || echo " ($PARTS)"), results in $OUT"
	case "$PARTS" in
	matrix) flags=(--matrix) ;;
	scaling) flags=(--scaling) ;;
	all) flags=(--matrix --scaling) ;;
	esac
	[ "$MODE" = smoke ] && flags=()
	python3 scripts/bench_run.py --mode "$MODE" "${flags[@]}" \
		--servers "$SERVERS" --out "$OUT" --logs "$LOGS" || rc=$?
fi
{
	echo "uptime after:  $(uptime)"
	pressure after
} >>"$OUT/machine.txt"

case "$(cd "$OUT" && pwd)/" in
"$(pwd)/build/"*) echo "bench.sh: logs in $LOGS" ;;
*)
	tar -C "$LOGS" --sort=name --owner=0 --group=0 --numeric-owner \
		--transform 's|^\.|logs|' -cJf "$OUT/logs.tar.xz" . || rc=1
	echo "bench.sh: logs in $LOGS and $OUT/logs.tar.xz"
	;;
esac

# A smoke run keeps no figures; the multi-core smoke still writes its
# report, to check that path too.
if [ "$MODE" != smoke ] || [ -n "$CORES" ]; then
	report=(python3 scripts/bench_report.py "$OUT")
	[ "$CHART" = 1 ] || report+=(--no-chart)
	"${report[@]}" || rc=1
	echo "== wrote $OUT/results.md"
fi
exit "$rc"
