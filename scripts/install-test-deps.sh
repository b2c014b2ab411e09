#!/bin/sh
# install-test-deps.sh - install what `make check`, `make bench` and
# `make deb` need, if it is missing (this is `make deps`; a plain `make`
# never calls it).
#
# Each need line is "test-for-presence package": a command to run that
# succeeds when the dependency is there, and the Debian package providing it.
# Nothing is installed when everything is present, so this is quick and safe
# to run before every test run.
set -eu

missing=""
need() { # need "check command" package
	if ! sh -c "$1" >/dev/null 2>&1; then
		missing="$missing $2"
	fi
}

installed() { # installed PACKAGE: is this Debian package installed?
	echo "dpkg-query -W -f='\${Status}' $1 2>/dev/null | grep -q 'ok installed'"
}

# The build: liburing for the io_uring comparison server.
need 'test -f /usr/include/liburing.h' liburing-dev
need 'test -f /usr/include/cmocka.h' libcmocka-dev
# The fuzzer (clang and its libFuzzer runtime), valgrind-check, lint.
need 'command -v clang' clang
need 'printf "int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }" | clang -fsanitize=fuzzer -x c -o /dev/null -' libclang-rt-14-dev
need 'command -v valgrind' valgrind
need 'command -v cppcheck' cppcheck
need 'command -v clang-tidy' clang-tidy
# The demo test drives tmux and nc; the man page test renders
# with groff and man.
need 'command -v tmux' tmux
need 'command -v top' procps
need 'nc -h 2>&1 | grep -q OpenBSD' netcat-openbsd
need 'command -v groff' groff-base
need 'command -v man' man-db
# The benchmark's PNG charts (scripts/bench_report.py) are drawn by gnuplot.
need 'command -v gnuplot' gnuplot-nox
# Running as a service: socket activation by systemd's own tool; unshare
# and setpriv (a private /etc/hosts, a process that is not root).
need 'command -v systemd-socket-activate' systemd
need 'command -v setpriv && command -v unshare' util-linux
# The trace viewer's pages are checked in headless Chromium,
# driven through chromedriver.
need 'command -v chromium' chromium
need 'command -v chromedriver' chromium-driver
# make deb and its check: dpkg-buildpackage (dpkg-dev) with the compiler
# and make it expects (build-essential), debhelper, lintian, autopkgtest.
need "$(installed build-essential)" build-essential
need 'command -v dpkg-buildpackage' dpkg-dev
need 'command -v dh' debhelper
need 'command -v lintian' lintian
need 'command -v autopkgtest' autopkgtest
# Servers and tools to compare echoserv with and to test it through:
# haproxy (a PROXY-protocol sender), socat (UDP and stream clients),
# inetd's built-in echo (openbsd-inetd).  Their packages may start a
# system service on a machine whose policy allows it; the tests start
# their own instances and need none running.
# haproxy is in /usr/sbin, which an ordinary user's PATH may lack.
need 'command -v haproxy || test -x /usr/sbin/haproxy' haproxy
need 'command -v socat' socat
need "$(installed openbsd-inetd)" openbsd-inetd

[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-test-deps: missing:$missing (install them with your package manager)" >&2
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
echo "install-test-deps: installing$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
