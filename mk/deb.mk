# deb.mk - the Debian package (debian/).
#
#   make deb        build it with dpkg-buildpackage -us -uc -b from a copy
#                   of the tree, into build/deb/ (scripts/make-deb.sh)
#   make deb-check  the same, then lintian (no errors, no warnings), its
#                   contents, and its autopkgtests (debian/tests) on this
#                   machine in a throw-away root (tests/deb/test-deb.sh);
#                   part of make check
#
# Both start with deps, which installs dpkg-dev, debhelper, lintian,
# autopkgtest and the build dependencies when they are missing.

DEB_DIR := $(BUILD)/deb

.PHONY: deb deb-check

CHECKS += deb-check

deb: deps
	@sh scripts/make-deb.sh $(DEB_DIR)

deb-check: deps
	@sh tests/deb/test-deb.sh $(DEB_DIR)
