#!/bin/sh
# test-deb.sh OUTDIR - make check's test of the Debian package:
#
#   1. make deb builds it (scripts/make-deb.sh) into OUTDIR, and writes
#      nothing beside the checkout (dpkg-buildpackage's habit);
#   2. lintian finds no error and no warning (informational tags are shown);
#   3. dpkg -c: /usr/bin/echoserv, its man page and both units, and nothing
#      of the benchmark kit; the packaged service runs /usr/bin/echoserv; the
#      packaged binary's --version is the changelog's version;
#   4. the autopkgtests of debian/tests pass, run by autopkgtest on this
#      machine (null testbed) inside tests/deb/throwaway-root.sh: apt
#      installs the package into copy-on-write overlays of /usr, /etc and
#      /var that vanish afterwards, so the machine is left as it was (no
#      /usr/bin/echoserv, no enabled socket, dpkg's database unchanged), and
#      two checkouts running this at once do not meet in dpkg's database.
#
# Step 4 needs root (through sudo when run as another user).  Every step is
# bounded in time.
set -eu

out=$1
cd "$(dirname "$0")/../.."
root=$(pwd)
failed=0

fail() {
	echo "FAIL: deb: $*" >&2
	failed=1
}

version=$(dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)
deb=$out/echoserv_${version}_$arch.deb
changes=$out/echoserv_${version}_$arch.changes
stage=$out/src/echoserv-$version

# Things dpkg-buildpackage would leave in the parent of the tree it builds.
beside() {
	for f in ../echoserv_"${version}"_* ../echoserv-dbgsym_"${version}"_*; do
		[ -e "$f" ] && echo "$f"
	done
	return 0
}

# ---- 1. the build
before=$(beside)
timeout 600 sh scripts/make-deb.sh "$out" || {
	echo "FAIL: deb: make deb failed" >&2
	exit 1
}
[ "$(beside)" = "$before" ] || fail "files written beside the checkout: $(beside)"
[ -f "$deb" ] || {
	echo "FAIL: deb: no $deb" >&2
	exit 1
}

# ---- 2. lintian
echo "== lintian $changes"
status=0
timeout 300 lintian --display-info --fail-on error,warning "$changes" \
	>"$out/lintian.log" 2>"$out/lintian.err" || status=$?
cat "$out/lintian.log"
grep -v '^running with root privileges is not recommended!$' "$out/lintian.err" >&2 || true
[ "$status" -eq 0 ] || fail "lintian exited $status"
if grep -Eq '^[EW]: ' "$out/lintian.log"; then
	fail "lintian reports errors or warnings"
fi
echo "lintian: $(grep -c '^[EWIPX]: ' "$out/lintian.log" || true) tag(s), none an error or a warning"

# ---- 3. the contents
echo "== dpkg -c $deb"
dpkg -c "$deb" | awk '{ print $NF }' | sed 's|^\./|/|' >"$out/contents"
# Units under /lib/systemd/system (debhelper of Debian 12) or
# /usr/lib/systemd/system (later ones).
for want in /usr/bin/echoserv /usr/share/man/man1/echoserv.1.gz \
	'(/usr)?/lib/systemd/system/echoserv.service' \
	'(/usr)?/lib/systemd/system/echoserv.socket' \
	/usr/share/doc/echoserv/copyright; do
	if grep -Eqx "$want" "$out/contents"; then
		echo "ok: $want"
	else
		fail "dpkg -c shows no $want"
	fi
done
others=$(grep -E '^/usr/bin/.' "$out/contents" | grep -vx /usr/bin/echoserv || true)
[ -z "$others" ] || fail "programs other than echoserv packaged: $others"

x=$out/contents.d
rm -rf "$x"
dpkg-deb -x "$deb" "$x"
exec_start=""
for unit in "$x"/lib/systemd/system/echoserv.service \
	"$x"/usr/lib/systemd/system/echoserv.service; do
	[ -f "$unit" ] && exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
done
case $exec_start in
"/usr/bin/echoserv "* | /usr/bin/echoserv) echo "ok: ExecStart=$exec_start" ;;
*) fail "the packaged service's ExecStart is '$exec_start'" ;;
esac
got=$("$x/usr/bin/echoserv" --version)
[ "$got" = "echoserv $version" ] ||
	fail "the packaged binary says '$got', debian/changelog says $version"

# ---- 4. the autopkgtests, in a throw-away root
echo "== autopkgtest $deb $stage -- null (in tests/deb/throwaway-root.sh)"
case $root/ in
/usr/* | /etc/* | /var/*)
	fail "the checkout is under /usr, /etc or /var, which the throw-away root hides"
	exit 1
	;;
esac
# Root for the overlays; sudo when run as another user (as make deps does).
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
installed_before=$(dpkg-query -W -f='${Status} ${Version}' echoserv 2>/dev/null || true)
rm -rf "$out/autopkgtest" "$out/throwaway"
status=0
# Inside, apt's archive sources are dropped first: the test dependencies
# are make deps' (installed already), and autopkgtest's closing apt-get
# update then has nothing to fetch, so the check needs no network.
timeout 600 $SUDO sh tests/deb/throwaway-root.sh "$out/throwaway" sh -c '
	rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources
	exec "$@"' sh \
	autopkgtest --output-dir "$out/autopkgtest" --timeout-test=120 \
	--no-built-binaries "$deb" "$stage" -- null \
	>"$out/autopkgtest.log" 2>&1 || status=$?
rmdir "$out/throwaway" 2>/dev/null || true
if [ -f "$out/autopkgtest/summary" ]; then
	cat "$out/autopkgtest/summary"
fi
if [ "$status" -ne 0 ]; then
	tail -n 40 "$out/autopkgtest.log" >&2
	fail "autopkgtest exited $status (log: $out/autopkgtest.log)"
fi
grep -qv ' PASS$' "$out/autopkgtest/summary" 2>/dev/null &&
	fail "not every autopkgtest passed"
[ "$(grep -c ' PASS$' "$out/autopkgtest/summary" 2>/dev/null)" -ge 4 ] ||
	fail "fewer than 4 autopkgtests passed"

# The machine is as it was.
installed_after=$(dpkg-query -W -f='${Status} ${Version}' echoserv 2>/dev/null || true)
[ "$installed_after" = "$installed_before" ] ||
	fail "echoserv's package state went from '$installed_before' to '$installed_after'"
if [ -z "$installed_before" ]; then
	for f in /usr/bin/echoserv /etc/systemd/system/sockets.target.wants/echoserv.socket; do
		[ ! -e "$f" ] && [ ! -L "$f" ] || fail "$f was left on the machine"
	done
fi

[ "$failed" -eq 0 ] && echo "deb: $deb built, lintian-clean, its autopkgtests passed"
exit "$failed"
