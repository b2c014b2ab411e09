#!/bin/sh
# test-man.sh PROGRAM PAGE - check a man page against its program:
#   1. it renders without a single warning (groff -ww; mandoc -Tlint and
#      man --warnings too where they are installed);
#   2. it has the classic sections, in order;
#   3. its OPTIONS list the same options, value names, ranges and defaults,
#      in the same order, as `PROGRAM --help`;
#   4. the version in its title line is the one `PROGRAM --version` prints;
#   5. the comparison of 3 is not blind: a copy of the page with one number
#      changed must fail it.
set -eu

prog=$1
page=$2
here=$(cd "$(dirname "$0")" && pwd)
name=$(basename "$page" .1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

fail() {
	echo "FAIL: $name: $*" >&2
	failed=1
}

# 1. Lint.
if ! command -v groff >/dev/null 2>&1; then
	echo "FAIL: groff is not installed (apt-get install groff-base)" >&2
	exit 1
fi
groff -ww -man -Tutf8 -z "$page" 2>"$tmp/lint"
[ -s "$tmp/lint" ] && fail "groff -ww warns: $(cat "$tmp/lint")"
if command -v mandoc >/dev/null 2>&1; then
	mandoc -Tlint -Wwarning "$page" >"$tmp/lint" 2>&1 ||
		fail "mandoc -Tlint: $(cat "$tmp/lint")"
fi
if command -v man >/dev/null 2>&1; then
	MANWIDTH=80 man --warnings -l "$page" 2>"$tmp/lint" >/dev/null ||
		fail "man -l failed"
	[ -s "$tmp/lint" ] && fail "man --warnings -l warns: $(cat "$tmp/lint")"
fi

# 2. Sections: the classic ones, in this order; a page may add its own
# (MEMORY, LOGGING...) between them.
want="NAME|SYNOPSIS|DESCRIPTION|OPTIONS|EXIT STATUS|EXAMPLES|SEE ALSO"
have=$(sed -n 's/^\.SH  *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$page" | tr '\n' '|' | sed 's/|$//')
echo "$have" | awk -v want="$want" '
	{ n = split(want, w, "|"); m = split($0, h, "|"); j = 1
	  for (i = 1; i <= m && j <= n; i++) if (h[i] == w[j]) j++
	  exit j <= n }' || fail "sections are '$have', expected '$want' in this order"

# 3. Options against --help.
compare() { # compare PAGE: 0 when its options match --help
	sh "$here/man-options.sh" help "$prog" >"$tmp/help.opts"
	sh "$here/man-options.sh" man "$1" >"$tmp/man.opts"
	[ -s "$tmp/help.opts" ] || {
		echo "no options found in $prog --help" >&2
		return 1
	}
	diff -u "$tmp/help.opts" "$tmp/man.opts" >"$tmp/diff"
}
if ! compare "$page"; then
	fail "OPTIONS differ from --help (- help, + man page):"
	cat "$tmp/diff" >&2
fi

# 4. Version.
if version=$("$prog" --version 2>/dev/null); then
	grep -q "^\.TH .*\"$version\"" "$page" ||
		fail "title line does not name '$version'"
fi

# 5. The comparison must be able to fail: change the first number in a
#    range of the OPTIONS section (1..1017 -> 1..10170) and compare again.
awk '/^\.SH OPTIONS/ { o = 1 } /^\.SH PROTOCOL/ { o = 0 }
     o && !done && sub(/[0-9]+\.\.[0-9]+/, "&0") { done = 1 } { print }' \
	"$page" >"$tmp/mutant.1"
if cmp -s "$page" "$tmp/mutant.1"; then
	fail "self-test: no range in OPTIONS to change"
elif compare "$tmp/mutant.1"; then
	fail "self-test: a page with a changed range still matched --help"
fi

if [ "$failed" -ne 0 ]; then
	exit 1
fi
echo "ok: $page matches $prog --help and renders cleanly"
