#!/bin/sh
# test-demo.sh [SERVER] - drive scripts/demo.sh headless, as a teacher would
# drive it on a projector, and check what the panes show.
#
# The demo runs on its own tmux server (tmux -L), on a free port, detached.
# The test types into the client panes with send-keys and reads the panes
# with capture-pane; every wait is bounded.  At the end it stops the demo
# with --stop and checks that the server it started is gone; on any exit it
# kills its own tmux server and, by PID, the echoserv started in the demo.
# Then the same for --models: the iterative server's second client waits
# until the first leaves, and top shows the nonblocking server.  Then
# --view: the live trace view fed by the server pane, across a restart.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEMO=$ROOT/scripts/demo.sh
SERVER=${1:-build/echoserv}
SOCK=echoserv-demo-test-$$
SESSION=demo-test
WAIT_TENTHS=50 # 5 s per wait
failures=0
server_pid=
models_pids=
view_pid=

t() { tmux -L "$SOCK" "$@"; }

cleanup() {
	for pid in $server_pid $models_pids $view_pid; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	t kill-server 2>/dev/null || true
	# tmux leaves its socket file behind; it is ours, by its name.
	sock_file=${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$SOCK
	if [ -S "$sock_file" ]; then
		rm -f "$sock_file"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "FAIL: demo: $*" >&2
	failures=$((failures + 1))
}

pane() { # the pane titled $1
	t list-panes -s -t "$SESSION" -F '#{pane_id} #{pane_title}' |
		awk -v want="$1" '{ id = $1; sub(/^[^ ]* /, "") } $0 == want { print id; exit }'
}

screen() { t capture-pane -p -J -S -500 -t "$1"; }

# wait_for PANE ERE [COUNT]: until at least COUNT (default 1) lines match.
wait_for() {
	i=0
	while [ "$i" -lt "$WAIT_TENTHS" ]; do
		n=$(screen "$1" | grep -Ec "$2" || true)
		[ "$n" -ge "${3:-1}" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

type_line() { # type_line PANE TEXT: type TEXT and press Enter
	t send-keys -t "$1" -l "$2"
	t send-keys -t "$1" Enter
}

# notes_whole PANE FIRST-LINE-ERE PREFIX: the script pane shows the notes
# whole, first line to last.
notes_whole() {
	visible=$(t capture-pane -p -J -t "$1")
	echo "$visible" | grep -Eq "$2" ||
		fail "${3}the first line of the notes is not on screen"
	echo "$visible" | grep -q "Detach: Ctrl-b d" ||
		fail "${3}the last line of the notes is not on screen"
}

# gone PID: wait (bounded) until PID has exited; false if it still runs.
gone() {
	i=0
	while kill -0 "$1" 2>/dev/null && [ "$i" -lt "$WAIT_TENTHS" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	! kill -0 "$1" 2>/dev/null
}

show() { # show PANE: the pane, for a failure report
	echo "---- pane '$1':" >&2
	screen "$(pane "$1")" | grep -v '^$' | tail -n 25 >&2
}

if ! command -v tmux >/dev/null 2>&1 || ! command -v nc >/dev/null 2>&1; then
	echo "FAIL: demo: the test needs tmux and nc (make deps installs them)" >&2
	exit 1
fi

# --help and bad usage.
"$DEMO" --help | grep -q -- '--detach' || fail "--help does not describe --detach"
"$DEMO" --help | grep -q -- '--view' || fail "--help does not describe --view"
if "$DEMO" --view-port x >/dev/null 2>&1; then
	fail "--view-port x was accepted"
else
	[ $? -eq 2 ] || fail "--view-port x did not exit 2"
fi
if "$DEMO" --port 70000 >/dev/null 2>&1; then
	fail "--port 70000 was accepted"
else
	[ $? -eq 2 ] || fail "--port 70000 did not exit 2"
fi

# Start it.
out=$(ECHOSERV=$SERVER "$DEMO" --detach --port 0 --socket "$SOCK" --session "$SESSION") ||
	{
		echo "FAIL: demo: scripts/demo.sh --detach failed: $out" >&2
		exit 1
	}
port=$(echo "$out" | sed -n 's/.*on 127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p')
[ -n "$port" ] || {
	echo "FAIL: demo: no port in its output: $out" >&2
	exit 1
}

srv=$(pane server)
a=$(pane 'client A')
b=$(pane 'client B')
l=$(pane 'script + load generator')
for p in "$srv" "$a" "$b" "$l"; do
	[ -n "$p" ] || {
		echo "FAIL: demo: a pane is missing: $(t list-panes -s -t "$SESSION" -F '#{pane_title}' | tr '\n' ',')" >&2
		exit 1
	}
done
shell_pid=$(t display-message -p -t "$srv" '#{pane_pid}')
server_pid=$(ps -A -o pid= -o ppid= -o comm= |
	awk -v pp="$shell_pid" '$2 == pp && $3 ~ /^echoserv/ { print $1 }')
[ -n "$server_pid" ] || fail "no echoserv process in the server pane"

# Both clients connected: the server traced two accepts.
wait_for "$srv" "^echoserv: listening on 127\.0\.0\.1:$port\$" ||
	fail "the server pane shows no listening line"
wait_for "$srv" '^fd [0-9]+: accepted fd [0-9]+ from 127\.0\.0\.1:' 2 ||
	fail "the server pane does not show two accepted clients"

# A line typed in client A comes back: the pane shows it twice (typed,
# then echoed), and the server pane traces the read, write and states.
type_line "$a" "hello from client A"
wait_for "$a" '^hello from client A$' 2 || fail "client A's line was not echoed"
wait_for "$srv" '^fd [0-9]+: read 20 bytes$' || fail "no 'read 20 bytes' trace"
wait_for "$srv" '^fd [0-9]+: READING -> WRITING \(1 line\)$' ||
	fail "no READING -> WRITING trace"
wait_for "$srv" '^fd [0-9]+: wrote 20 of 20 bytes$' || fail "no 'wrote 20 of 20' trace"
wait_for "$srv" '^select: waiting  read=\{[0-9,]+\} write=\{\} timeout=' ||
	fail "no 'select: waiting' trace"

# Client B is served by the same loop; its line does not reach client A.
type_line "$b" "and from B"
wait_for "$b" '^and from B$' 2 || fail "client B's line was not echoed"
if screen "$a" | grep -q 'and from B'; then
	fail "client B's line showed up in client A"
fi

# quit ends client A's conversation: DONE in the trace, and the server
# closes.  An interactive nc keeps running while its keyboard side is open:
# Ctrl-D ends it, and the pane's shell is back at its prompt.
type_line "$a" quit
wait_for "$srv" '^fd [0-9]+: (READING|WRITING) -> DONE \(quit\)$' ||
	fail "no '-> DONE (quit)' trace"
t send-keys -t "$a" C-d
wait_for "$a" '^client A\$ ?$' || fail "client A's shell did not get its prompt back after quit"
wait_for "$srv" '^echoserv: client 127\.0\.0\.1:[0-9]+ closed \(fd [0-9]+\): quit; echoed 1 line, 20 bytes$' ||
	fail "no close line for client A"

# The script pane shows the notes whole, first line to last, and has the
# load command typed in.
wait_for "$l" "^bench\\\$ .*$port" || fail "the load generator command is not typed in"
notes_whole "$l" "^echoserv demo on 127\.0\.0\.1:$port\." ""

# Ctrl-C in the server pane: graceful shutdown, its summary, the prompt.
# Up and Enter start the server again (on a new free port: it was 0).
t send-keys -t "$srv" C-c
wait_for "$srv" '^echoserv: shutdown: served 2 clients, echoed 2 lines, 31 bytes$' ||
	fail "no shutdown summary after Ctrl-C"
wait_for "$srv" '^server\$ ?$' || fail "no prompt in the server pane after Ctrl-C"
t send-keys -t "$srv" Up Enter
wait_for "$srv" '^echoserv: listening on ' 2 || fail "Up, Enter did not start the server again"
server_pid=$(ps -A -o pid= -o ppid= -o comm= |
	awk -v pp="$shell_pid" '$2 == pp && $3 ~ /^echoserv/ { print $1 }')
[ -n "$server_pid" ] || fail "no echoserv process in the server pane after the restart"

if [ "$failures" -ne 0 ]; then
	show server
	show 'client A'
	show 'client B'
	show 'script + load generator'
fi

# Stop: the server gets SIGTERM and exits, the session goes away.
"$DEMO" --stop --socket "$SOCK" --session "$SESSION" >/dev/null || fail "--stop failed"
if [ -n "$server_pid" ] && ! gone "$server_pid"; then
	fail "echoserv (pid $server_pid) still runs after --stop"
fi
if t has-session -t "=$SESSION" 2>/dev/null; then
	fail "the tmux session is still there after --stop"
fi

# ------------------------------------------------------------ --models
SESSION=demo-models-test
BIN_DIR=$(dirname "$SERVER")
out=$(ECHOSERV_ITERATIVE=$BIN_DIR/echoserv-iterative \
	ECHOSERV_NONBLOCK=$BIN_DIR/echoserv-nonblock \
	"$DEMO" --models --detach --port 0 --socket "$SOCK" --session "$SESSION") ||
	{
		echo "FAIL: demo: scripts/demo.sh --models --detach failed: $out" >&2
		exit 1
	}
it_port=$(echo "$out" | sed -n 's/.*iterative on 127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p')
[ -n "$it_port" ] || fail "--models: no iterative port in its output: $out"
it=$(pane 'iterative server')
nb=$(pane 'nonblock server')
a=$(pane 'client A')
b=$(pane 'client B')
l=$(pane 'script')
top=$(pane 'top: echoserv-nonblock')
for p in "$it" "$nb" "$a" "$b" "$l" "$top"; do
	[ -n "$p" ] || {
		echo "FAIL: demo: --models: a pane is missing: $(t list-panes -s -t "$SESSION" -F '#{pane_title}' | tr '\n' ',')" >&2
		exit 1
	}
done
for p in "$it" "$nb"; do
	shell_pid=$(t display-message -p -t "$p" '#{pane_pid}')
	models_pids="$models_pids $(ps -A -o pid= -o ppid= -o comm= |
		awk -v pp="$shell_pid" '$2 == pp && $3 ~ /^echoserv/ { print $1 }')"
done
nb_pid=${models_pids##* }
[ "$(echo $models_pids | wc -w)" -eq 2 ] || fail "--models: not two servers running: '$models_pids'"

# A is served; B's line waits while A is connected, and only one client
# has been accepted.
wait_for "$it" '^echoserv: client 127\.0\.0\.1:[0-9]+ connected' ||
	fail "--models: the iterative server accepted no client"
type_line "$a" "first from A"
wait_for "$a" '^first from A$' 2 || fail "--models: client A's line was not echoed"
type_line "$b" "second from B"
sleep 1
n=$(screen "$b" | grep -c '^second from B$' || true)
[ "$n" -eq 1 ] || fail "--models: client B was answered while A was connected"
n=$(screen "$it" | grep -c ' connected (fd ' || true)
[ "$n" -eq 1 ] || fail "--models: the iterative server accepted $n clients at once"

# A leaves: B is accepted and its waiting line comes back.
type_line "$a" quit
wait_for "$it" '^echoserv: client 127\.0\.0\.1:[0-9]+ closed \(fd [0-9]+\): quit; echoed 1 line, 13 bytes$' ||
	fail "--models: no close line for client A"
wait_for "$b" '^second from B$' 2 || fail "--models: client B's line did not come back after A left"
t send-keys -t "$a" C-d

# top watches the nonblocking server.
wait_for "$top" "^ *$nb_pid .*echoserv" || fail "--models: top does not show echoserv-nonblock (pid $nb_pid)"
notes_whole "$l" "^Two I/O models side by side" "--models: "
if [ "$(screen "$l" | grep -v '^Stop: ' | awk 'length > 78' | wc -l)" -ne 0 ]; then
	fail "--models: a line of the notes is wider than 78 columns"
fi

if [ "$failures" -ne 0 ]; then
	show 'iterative server'
	show 'client A'
	show 'client B'
	show 'top: echoserv-nonblock'
fi
"$DEMO" --stop --socket "$SOCK" --session "$SESSION" >/dev/null || fail "--models: --stop failed"
for pid in $models_pids; do
	gone "$pid" || fail "--models: server pid $pid still runs after --stop"
done

# ------------------------------------------------------------ --view
# --view: the live view in a window of its own, fed by the server pane.
# events URL TEXT: the session of the live view's event stream at URL, once
# its rounds show TEXT (5 s at most); nothing if they do not.
events() {
	python3 - "$1" "$2" <<'PY'
import json, sys, time, urllib.request
url, want = sys.argv[1] + "events", sys.argv[2]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
end, session, event = time.monotonic() + 5, None, None
try:
    r = opener.open(url, timeout=5)
except OSError:
    sys.exit(0)
while time.monotonic() < end:
    try:
        line = r.readline().decode()
    except OSError:
        break
    if line.startswith("event: "):
        event = line[7:].strip()
    elif line.startswith("data: "):
        if event == "hello":
            session = json.loads(line[6:])["session"]
        elif event == "rounds" and want in line:
            print(session)
            break
PY
}
SESSION=view-test
out=$(ECHOSERV=$SERVER "$DEMO" --detach --port 0 --view --view-port 0 --socket "$SOCK" --session "$SESSION") ||
	{
		echo "FAIL: demo: scripts/demo.sh --view failed: $out" >&2
		exit 1
	}
url=$(echo "$out" | sed -n "s|^demo: live view at \(http://127\.0\.0\.1:[0-9]*/\) (tmux window 'view')\$|\1|p")
srv=$(pane server)
a=$(pane 'client A')
v=$(pane 'live view')
if [ -z "$url" ] || [ -z "$v" ] || [ -z "$srv" ] || [ -z "$a" ]; then
	echo "FAIL: demo: --view: no live view (url '$url'): $out" >&2
	exit 1
fi
shell_pid=$(t display-message -p -t "$srv" '#{pane_pid}')
server_pid=$(ps -A -o pid= -o ppid= -o comm= |
	awk -v pp="$shell_pid" '$2 == pp && $3 ~ /^echoserv/ { print $1 }')
view_shell=$(t display-message -p -t "$v" '#{pane_pid}')
view_pid=$(ps -A -o pid= -o ppid= -o args= |
	awk -v pp="$view_shell" '$2 == pp && /trace-view --live/ { print $1 }')
[ -n "$view_pid" ] || fail "--view: no trace-view process in the view pane"
wait_for "$(pane 'script + load generator')" "^Live view: $url" ||
	fail "--view: the notes do not give the live view's address"
wait_for "$srv" '^fd [0-9]+: accepted fd [0-9]+ from 127\.0\.0\.1:' 2 ||
	fail "--view: the server pane does not show the two clients"
type_line "$a" "seen in the browser"
wait_for "$a" '^seen in the browser$' 2 || fail "--view: client A's line was not echoed"
wait_for "$srv" '^fd [0-9]+: read 20 bytes$' || fail "--view: the server pane lost its trace"
first=$(events "$url" "read 20 bytes")
[ -n "$first" ] || fail "--view: the live view's rounds do not show the read"
# Ctrl-C: the shutdown shows in the pane (tee survives it); Up, Enter
# starts a new server, and the live view starts over with its trace.
t send-keys -t "$srv" C-c
wait_for "$srv" '^echoserv: shutdown: served 2 clients' ||
	fail "--view: no shutdown summary in the server pane after Ctrl-C"
wait_for "$srv" '^server\$ ?$' || fail "--view: no prompt after Ctrl-C"
t send-keys -t "$srv" Up Enter
wait_for "$srv" '^echoserv: listening on ' 2 || fail "--view: Up, Enter did not restart the server"
second=$(events "$url" "listening socket")
[ -n "$second" ] && [ "$second" != "$first" ] ||
	fail "--view: after the restart the live view did not start a new run ('$first', '$second')"
server_pid=$(ps -A -o pid= -o ppid= -o comm= |
	awk -v pp="$shell_pid" '$2 == pp && $3 ~ /^echoserv/ { print $1 }')
fifo_dir=$(t show-options -v -t "$SESSION" @demo_fifo_dir 2>/dev/null || true)
if [ "$failures" -ne 0 ]; then
	show server
	show 'live view'
fi
"$DEMO" --stop --socket "$SOCK" --session "$SESSION" >/dev/null || fail "--view: --stop failed"
gone "$view_pid" || fail "--view: trace-view (pid $view_pid) still runs after --stop"
[ -z "$server_pid" ] || gone "$server_pid" || fail "--view: echoserv (pid $server_pid) still runs after --stop"
[ -n "$fifo_dir" ] && [ -e "$fifo_dir" ] && fail "--view: $fifo_dir is still there after --stop"

if [ "$failures" -ne 0 ]; then
	echo "demo: $failures check(s) failed" >&2
	exit 1
fi
echo "ok: scripts/demo.sh starts, echoes, traces and stops cleanly; --models shows the waiting client and the busy loop; --view serves the live trace"
