#!/bin/sh
# socket-activate.sh [ARGS...] - run the program ARGS under systemd's own
# socket activation tool, listening on $WRAP_LISTEN (ADDR:PORT, or a path
# for a Unix socket; a datagram socket if $WRAP_DATAGRAM is set): the tool
# binds it, waits for the first connection (or datagram), then execs the
# program in this same process with LISTEN_PID and LISTEN_FDS set.
if [ -n "${WRAP_DATAGRAM:-}" ]; then
	exec systemd-socket-activate --datagram -l "$WRAP_LISTEN" "$WRAP_PROGRAM" "$@"
fi
exec systemd-socket-activate -l "$WRAP_LISTEN" "$WRAP_PROGRAM" "$@"
