#!/bin/sh
# test-install.sh MAKE BUILD PROGRAM... - check `make install` and
# `make uninstall` in a scratch DESTDIR:
#   - with the default PREFIX, every PROGRAM lands in usr/local/bin and
#     man/echoserv.1 (and each PROGRAM's page, if it has one) in
#     usr/local/share/man/man1; with PREFIX=/opt/echoserv, there instead;
#   - the installed echoserv runs: --version, then it listens on a free
#     loopback port, echoes a line, and exits 0 on SIGTERM;
#   - uninstall leaves no file behind.
set -eu

MAKE_CMD=$1
BUILD=$2
shift 2
PROGRAMS="$*"
dest=$(mktemp -d)
log=$dest.log
pid=
failures=0

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$dest" "$log"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "FAIL: install: $*" >&2
	failures=$((failures + 1))
}

mk() { # mk TARGET VAR=VALUE...: the project's make, quietly
	target=$1
	shift
	$MAKE_CMD --no-print-directory -s "$target" BUILD="$BUILD" "$@" >/dev/null
}

check_prefix() { # check_prefix PREFIX [make arguments]
	prefix=$1
	shift
	mk install DESTDIR="$dest" "$@" || {
		fail "make install $* failed"
		return
	}
	for p in $PROGRAMS; do
		f=$dest$prefix/bin/$p
		if ! [ -f "$f" ] || ! [ -x "$f" ]; then
			fail "$f is missing or not executable"
		fi
		if [ -f "man/$p.1" ]; then
			m=$dest$prefix/share/man/man1/$p.1
			cmp -s "man/$p.1" "$m" || fail "$m is missing or differs"
		fi
	done
	[ -f "$dest$prefix/share/man/man1/echoserv.1" ] || fail "echoserv.1 was not installed"
	mk uninstall DESTDIR="$dest" "$@" || fail "make uninstall $* failed"
	left=$(find "$dest" -type f)
	[ -z "$left" ] || fail "uninstall left: $left"
}

check_prefix /usr/local
check_prefix /opt/echoserv PREFIX=/opt/echoserv

# Run the installed server.
mk install DESTDIR="$dest" PREFIX=/opt/echoserv || fail "make install failed"
bin=$dest/opt/echoserv/bin/echoserv
want=$("$BUILD/echoserv" --version)
got=$("$bin" --version) || fail "installed echoserv --version failed"
[ "$got" = "$want" ] || fail "installed --version says '$got', expected '$want'"

: >"$log" # exists before the loop reads it, whoever runs first
"$bin" -b 127.0.0.1 0 2>"$log" &
pid=$!
i=0
port=
while [ "$i" -lt 50 ] && [ -z "$port" ]; do
	port=$(sed -n 's/^echoserv: listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$log")
	[ -n "$port" ] || sleep 0.1
	i=$((i + 1))
done
if [ -z "$port" ]; then
	fail "installed echoserv printed no listening line: $(cat "$log")"
else
	reply=$(printf 'installed\n' | nc -N -w 5 127.0.0.1 "$port") || true
	[ "$reply" = installed ] || fail "installed echoserv echoed '$reply'"
fi
kill -TERM "$pid"
i=0
while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
if kill -0 "$pid" 2>/dev/null; then
	fail "installed echoserv still runs 5 s after SIGTERM"
else
	status=0
	wait "$pid" || status=$?
	[ "$status" -eq 0 ] || fail "installed echoserv exited $status after SIGTERM, expected 0"
	grep -q '^echoserv: shutdown: served 1 client, echoed 1 line, 10 bytes$' "$log" ||
		fail "no shutdown summary: $(cat "$log")"
fi
pid=
mk uninstall DESTDIR="$dest" PREFIX=/opt/echoserv || fail "make uninstall failed"

# The systemd units: only with install-systemd, ExecStart at the binary.
units=$dest/opt/echoserv/lib/systemd/system
mk install DESTDIR="$dest" PREFIX=/opt/echoserv || fail "make install failed"
[ ! -e "$units" ] || fail "make install installed systemd units unasked"
mk install-systemd DESTDIR="$dest" PREFIX=/opt/echoserv ||
	fail "make install-systemd failed"
for u in echoserv.socket echoserv.service; do
	[ -f "$units/$u" ] || fail "install-systemd did not install $u"
done
grep -q '^ExecStart=/opt/echoserv/bin/echoserv ' "$units/echoserv.service" ||
	fail "echoserv.service: ExecStart is not the installed binary"
grep -q '@BINDIR@' "$units/echoserv.service" && fail "echoserv.service: @BINDIR@ left"
mk uninstall-systemd DESTDIR="$dest" PREFIX=/opt/echoserv ||
	fail "make uninstall-systemd failed"
left=$(find "$dest" -type f)
[ -z "$left" ] || fail "uninstall-systemd left: $left"

if [ "$failures" -ne 0 ]; then
	exit 1
fi
echo "ok: make install/uninstall ($PROGRAMS and their man pages), install-systemd"
