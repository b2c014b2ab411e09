#!/bin/sh
# as-nobody.sh [ARGS...] - run the program ARGS in this same process as
# user nobody, group nogroup, no supplementary groups (util-linux setpriv):
# a process that is not root, for tests of what only root may do.
exec setpriv --reuid=nobody --regid=nogroup --clear-groups "$WRAP_PROGRAM" "$@"
