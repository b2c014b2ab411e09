#!/bin/sh
# socket-activate.sh [ARGS...] - run the program ARGS under systemd's own
# socket activation tool, listening on $WRAP_LISTEN (ADDR:PORT): the tool
# binds it, waits for the first connection, then execs the program in this
# same process with LISTEN_PID and LISTEN_FDS set.
exec systemd-socket-activate -l "$WRAP_LISTEN" "$WRAP_PROGRAM" "$@"
