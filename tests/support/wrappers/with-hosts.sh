#!/bin/sh
# with-hosts.sh [ARGS...] - run the program ARGS in this same process (so
# its pid is ours) in a private mount namespace where /etc/hosts is the
# file $WRAP_HOSTS.  It lets a test give a name several addresses without
# touching the machine's own /etc/hosts.  Exits 125 if the namespace
# cannot be made (the test then skips).
exec unshare --mount sh -c \
	'mount --bind "$WRAP_HOSTS" /etc/hosts || exit 125; exec "$WRAP_PROGRAM" "$@"' \
	with-hosts "$@"
