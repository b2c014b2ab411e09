#!/bin/sh
# install-test-deps.sh - install what `make check` needs, if it is missing.
#
# Each line of NEEDS is "test-for-presence package": a command to run that
# succeeds when the dependency is there, and the Debian package providing it.
# Nothing is installed when everything is present, so this is quick and safe
# to run before every test run.  With --build, only what `make` itself
# needs (it calls this so when liburing is missing).
set -eu

missing=""
need() { # need "check command" package
	if ! sh -c "$1" >/dev/null 2>&1; then
		missing="$missing $2"
	fi
}

# The build: liburing for the io_uring comparison server.
need 'test -f /usr/include/liburing.h' liburing-dev
if [ "${1:-}" != --build ]; then
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
fi

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
