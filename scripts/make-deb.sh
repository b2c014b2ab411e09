#!/bin/sh
# make-deb.sh OUTDIR - build the Debian package (make deb).
#
# dpkg-buildpackage writes its results into the parent of the tree it
# builds, and the parent of a checkout is nobody's to litter.  So the
# package is built from a copy of the source tree, OUTDIR/src/echoserv-V/,
# and the results are moved up to OUTDIR: the .deb (and its -dbgsym), the
# .buildinfo and the .changes.  The copy stays, for the autopkgtests
# (tests/deb/test-deb.sh), which read debian/tests from it.  The whole log
# is OUTDIR/build.log; on failure its end is shown.
#
# The build dependencies are make deps' business (make deb runs it first);
# dpkg-buildpackage checks them and stops if one is missing.
set -eu

out=$1
cd "$(dirname "$0")/.."

version=$(dpkg-parsechangelog -S Version)
stage=$out/src/echoserv-$version
rm -rf "$out"
mkdir -p "$stage"

# The copy: what git tracks and what it would track (new files not yet
# added), as they are in the work tree; outside git, everything but
# build/.  Never build/, .git or what .gitignore leaves out.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
		tar --null -T - -cf - | tar -xf - -C "$stage"
else
	tar --exclude=./build --exclude=./.git -cf - . | tar -xf - -C "$stage"
fi

log=$out/build.log
echo "make deb: building echoserv $version in $stage (log: $log)"
if ! (cd "$stage" && dpkg-buildpackage -us -uc -b) >"$log" 2>&1; then
	tail -n 40 "$log" >&2
	echo "make deb: dpkg-buildpackage failed; the whole log is $log" >&2
	exit 1
fi

for f in "$out"/src/*.deb "$out"/src/*.buildinfo "$out"/src/*.changes; do
	[ -e "$f" ] && mv "$f" "$out/"
done
for f in "$out"/*.deb; do
	echo "make deb: $f"
done
