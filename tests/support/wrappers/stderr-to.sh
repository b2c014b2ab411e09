#!/bin/sh
# stderr-to.sh [ARGS...] - run the program ARGS in this same process with
# its standard error opened on $WRAP_STDERR, e.g. a FIFO the test holds
# open and does not read.
exec "$WRAP_PROGRAM" "$@" 2>"$WRAP_STDERR"
