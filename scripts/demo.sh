#!/bin/sh
# demo.sh - a live classroom demonstration of echoserv in tmux.
#
# One tmux window, four panes: the server running with the -T trace, two
# nc clients, and a pane with the on-screen script and the load generator
# command typed in, ready to run.  Each pane is an ordinary shell, so the
# teacher can stop (Ctrl-C) and restart anything with the arrow keys.
#
# With --models, the window shows two of the comparison servers instead:
# the iterative one, where a second client waits until the first leaves,
# and the nonblocking one, burning a core while idle, under top.
#
# With --view, a second tmux window runs scripts/trace-view --live: the
# server pane's trace also goes (through tee and a FIFO) to a page served on
# 127.0.0.1 that draws select()'s sets and the connection table as they
# change; a server restarted in the pane starts the page over.
#
# Everything stays on 127.0.0.1.  `demo.sh --stop` ends the demo: it stops
# the servers it started and the live view (SIGTERM, by PID) and kills its
# tmux session.
# tests/docs/test-demo.sh drives the demo headless (--detach).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)

PORT=7777
SESSION=echoserv-demo
SOCKET=
DETACH=false
MODELS=false
VIEW=false
VIEW_PORT=7778
ACTION=start
WAIT_SECS=5 # every wait below is bounded by this

usage() {
	cat <<'EOF'
usage: scripts/demo.sh [options]

Start a live demo of the echoserv event loop in a tmux session:

  +------------------------------+------------------------+
  | server: echoserv -T          | client A: nc           |
  | (the select() trace)         |                        |
  |                              +------------------------+
  +------------------------------+ client B: nc           |
  | script + load generator      |                        |
  +------------------------------+------------------------+

Type lines in the client panes and watch the server pane: select()
waking up, the bytes read and written, each READING/WRITING/DONE change.
The bottom-left pane shows what to do next, with the load generator
command typed in (build/echobench if it is built, else a flood through
nc): press Enter there to run it.  Move between panes with Ctrl-b and an
arrow key; zoom one with Ctrl-b z; leave with Ctrl-b d.

With --models, two comparison servers instead (docs/io-models.md):

  +------------------------------+------------------------+
  | echoserv-iterative           | client A: nc           |
  +------------------------------+------------------------+
  | echoserv-nonblock            | client B: nc           |
  +------------------------------+------------------------+
  | script                       | top: the nonblock one  |
  +------------------------------+------------------------+

Both clients talk to the iterative server: B's lines wait, unanswered,
until A says quit.  top shows the nonblocking server at a full core
with no client at all.

Options:
  -p, --port PORT      port on 127.0.0.1 (default 7777; 0 = any free port,
                       a new one each time the server is started); with
                       --models the nonblocking server takes PORT+1
  -m, --models         the iterative and nonblocking servers (above)
  -s, --session NAME   tmux session name (default echoserv-demo)
  -L, --socket NAME    run in a separate tmux server (tmux -L NAME)
  -d, --detach         start the demo but do not attach to it
  -v, --view           also start the live view in the browser: the trace
                       drawn as select()'s sets and the connection table
                       (scripts/trace-view --live, in tmux window 'view')
      --view-port PORT the live view's port on 127.0.0.1 (default 7778;
                       0 = any free port)
      --stop           stop the demo: SIGTERM its server, kill its session
  -h, --help           print this help and exit

Needs tmux and nc (netcat-openbsd), and a built server (run make first);
--view needs python3.
The ECHOSERV and ECHOBENCH environment variables override the paths of
build/echoserv and build/echobench; ECHOSERV_ITERATIVE and ECHOSERV_NONBLOCK
those of build/echoserv-iterative and build/echoserv-nonblock (--models,
which needs top too).  Exit status: 0 on success, 1 if the
demo could not start or stop, 2 on bad usage.
EOF
}

die() {
	echo "demo: $*" >&2
	exit 1
}

usage_error() {
	echo "demo: $*" >&2
	echo "usage: scripts/demo.sh [-p PORT] [-m] [-v] [--view-port PORT] [-s NAME] [-L SOCKET] [-d] [--stop] [-h]" >&2
	exit 2
}

# tmux, on the chosen server.
t() {
	if [ -n "$SOCKET" ]; then
		tmux -L "$SOCKET" "$@"
	else
		tmux "$@"
	fi
}

# Quote a string for sh: 'it'\''s'.
shq() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# ------------------------------------------------------------ dependencies

install_hint() { # install_hint PACKAGE: how to get it on this system
	if command -v apt-get >/dev/null 2>&1; then
		echo "sudo apt-get install $1"
	elif command -v brew >/dev/null 2>&1; then
		echo "brew install $2"
	elif command -v pkg >/dev/null 2>&1; then
		echo "pkg install $2"
	else
		echo "install $2 with your package manager"
	fi
}

check_dependencies() {
	missing=
	command -v tmux >/dev/null 2>&1 ||
		missing="$missing  tmux: $(install_hint tmux tmux)
"
	command -v nc >/dev/null 2>&1 ||
		missing="$missing  nc: $(install_hint netcat-openbsd netcat)
"
	if $VIEW && ! command -v python3 >/dev/null 2>&1; then
		missing="$missing  python3: $(install_hint python3 python3)
"
	fi
	if $MODELS && ! command -v top >/dev/null 2>&1; then
		missing="$missing  top: $(install_hint procps procps)
"
	fi
	if [ -n "$missing" ]; then
		printf 'demo: missing tools; install them with:\n%s' "$missing" >&2
		exit 1
	fi
}

# ------------------------------------------------------------ panes

# The pane of the session whose title is $1, as a tmux pane id (%N).
pane() {
	t list-panes -s -t "$SESSION" -F '#{pane_id} #{pane_title}' |
		awk -v want="$1" '{ id = $1; sub(/^[^ ]* /, "") } $0 == want { print id; exit }'
}

# The last 200 lines of pane $1, wrapped lines joined.
screen() {
	t capture-pane -p -J -S -200 -t "$1"
}

# Wait until pane $1 shows a line matching the extended regex $2; false
# after WAIT_SECS.
wait_for() {
	i=0
	while [ "$i" -lt $((WAIT_SECS * 10)) ]; do
		screen "$1" | grep -Eq "$2" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# A pane's shell: bash without the user's start-up files where there is
# bash (arrow keys recall the last command), else sh; prompt $1.
pane_shell() {
	if command -v bash >/dev/null 2>&1; then
		printf 'env PS1=%s HISTFILE= bash --norc --noprofile -i' "$(shq "$1\$ ")"
	else
		printf 'env PS1=%s sh -i' "$(shq "$1\$ ")"
	fi
}

# The PIDs of echoserv processes (any of the comparison servers too)
# started from the shell of pane $1.
server_pids() {
	shell_pid=$(t display-message -p -t "$1" '#{pane_pid}')
	ps -A -o pid= -o ppid= -o comm= |
		awk -v pp="$shell_pid" '$2 == pp && $3 ~ /^echoserv/ { print $1 }'
}

# The PIDs of the live views started from the view pane's shell.
view_pids() {
	shell_pid=$(t display-message -p -t "$1" '#{pane_pid}')
	ps -A -o pid= -o ppid= -o args= |
		awk -v pp="$shell_pid" '$2 == pp && /trace-view --live/ { print $1 }'
}

# ------------------------------------------------------------ on screen

# The script shown in the bottom-left pane: at most 78 columns, and short
# enough to fit the pane whole (tests/docs/test-demo.sh checks).
notes() { # notes PORT LOADGEN STOP-COMMAND [VIEW-URL]
	[ -n "${4:-}" ] && echo "Live view: $4 (window 'view': Ctrl-b n)"
	cat <<EOF
echoserv demo on 127.0.0.1:$1.  To stop it: $3
1. Type a line in client A.  Server pane: select() wakes, "read N bytes",
   READING -> WRITING, "wrote N of N bytes", WRITING -> READING.
2. Type in client B: one thread, one select(), both served; the sets in
   "select: waiting read={...}" are rebuilt every round.
3. Type quit in client A: READING -> DONE (quit), FIN sent, and "closed" a
   second later.  nc waits on: Ctrl-D ends it; Up, Enter reconnects.
4. Ctrl-C in the server pane: graceful shutdown, summary.  Up, Enter starts
   it again; delete the -T first for step 5 (tracing every read is slow).
5. Here: Enter runs $2.
Panes: Ctrl-b arrow.  Zoom: Ctrl-b z.  Detach: Ctrl-b d.
EOF
}

# The script of the --models window, under the same limits as notes().
models_notes() { # models_notes ITERATIVE-PORT NONBLOCK-PORT STOP-COMMAND
	cat <<EOF
Two I/O models side by side.
Stop: $3
1. Type a line in client A: echoserv-iterative (port $1) echoes it.
2. Type a line in client B: nothing comes back.  B is connected (the
   kernel finished the handshake and queued it) but the server is inside
   A's conversation, blocked in read(); it cannot even accept B.
3. Type quit in A: the server closes A, accepts B, B's line comes back.
   Ctrl-D ends A's nc; Up, Enter reconnects it: now A waits behind B.
4. top: echoserv-nonblock (port $2) has no client at all and still
   takes a whole core: its loop never sleeps, it asks every socket again
   at once.  The iterative server meanwhile sleeps in accept() at 0 %.
Panes: Ctrl-b arrow.  Zoom: Ctrl-b z.  Detach: Ctrl-b d.
EOF
}

# ------------------------------------------------------------ start

# The command that stops this demo.
stop_command() {
	c=scripts/demo.sh
	[ -n "$SOCKET" ] && c="$c -L $SOCKET"
	[ "$SESSION" != echoserv-demo ] && c="$c -s $SESSION"
	echo "$c --stop"
}

# Start "$2 -b 127.0.0.1 $3" in pane $1 (followed by $4, e.g. a pipe) and
# wait for its listening line; prints the real port.  On failure the
# session is killed and it fails.
start_server_in() {
	t send-keys -t "$1" -l "$2 -b 127.0.0.1 $3${4:-}"
	t send-keys -t "$1" Enter
	if ! wait_for "$1" '^echoserv: (listening on|cannot|invalid|usage)'; then
		t kill-session -t "$SESSION"
		die "$2 did not start within ${WAIT_SECS}s"
	fi
	line=$(screen "$1" | grep -E '^echoserv: listening on ' | tail -n 1)
	if [ -z "$line" ]; then
		screen "$1" | grep -E '^echoserv: ' >&2 || true
		t kill-session -t "$SESSION"
		die "$2 could not start (above: what it said)"
	fi
	echo "${line##*:}"
}

# The --models window: the iterative and nonblocking servers, two clients
# of the iterative one, the script, and top watching the nonblocking one.
start_models() {
	iterative=${ECHOSERV_ITERATIVE:-build/echoserv-iterative}
	nonblock=${ECHOSERV_NONBLOCK:-build/echoserv-nonblock}
	for prog in "$iterative" "$nonblock"; do
		(cd "$ROOT" && [ -x "$prog" ]) ||
			die "no server at $prog: run 'make' in $ROOT first"
	done
	nb_port=0
	[ "$PORT" -ne 0 ] && nb_port=$((PORT + 1))

	t new-session -d -s "$SESSION" -n models -x 160 -y 45 -c "$ROOT" \
		"$(pane_shell iterative)"
	t set-option -t "$SESSION" pane-border-status top >/dev/null
	t set-option -t "$SESSION" pane-border-format ' #{pane_title} ' >/dev/null
	t select-pane -t "$SESSION:models.0" -T 'iterative server'
	it=$(pane 'iterative server')
	it_port=$(start_server_in "$it" "$iterative" "$PORT") || exit 1
	nb=$(t split-window -v -P -F '#{pane_id}' -t "$it" -c "$ROOT" \
		"$(pane_shell nonblock)")
	t select-pane -t "$nb" -T 'nonblock server'
	real_nb_port=$(start_server_in "$nb" "$nonblock" "$nb_port") || exit 1
	nb_pid=$(server_pids "$nb")

	a=$(t split-window -h -P -F '#{pane_id}' -t "$it" -c "$ROOT" \
		"$(pane_shell 'client A')")
	t select-pane -t "$a" -T 'client A'
	b=$(t split-window -h -P -F '#{pane_id}' -t "$nb" -c "$ROOT" \
		"$(pane_shell 'client B')")
	t select-pane -t "$b" -T 'client B'
	# A first, and B only once the server has accepted A: the iterative
	# server serves whoever connected first, and the lesson needs A.
	t send-keys -t "$a" -l "nc 127.0.0.1 $it_port"
	t send-keys -t "$a" Enter
	wait_for "$it" ' connected \(fd ' ||
		echo "demo.sh: the iterative server has not accepted client A yet" >&2
	t send-keys -t "$b" -l "nc 127.0.0.1 $it_port"
	t send-keys -t "$b" Enter
	l=$(t split-window -v -l 15 -P -F '#{pane_id}' -t "$nb" -c "$ROOT" \
		"$(shq "$ROOT/scripts/demo.sh") --models-notes $it_port $real_nb_port $(shq "$(stop_command)"); exec $(pane_shell script)")
	t select-pane -t "$l" -T 'script'
	top=$(t split-window -v -l 15 -P -F '#{pane_id}' -t "$b" -c "$ROOT" \
		"top -d 1 -p $nb_pid")
	t select-pane -t "$top" -T 'top: echoserv-nonblock'
	t select-pane -t "$a"
	echo "demo: echoserv-iterative on 127.0.0.1:$it_port and echoserv-nonblock on 127.0.0.1:$real_nb_port in tmux session '$SESSION'"
}

start() {
	check_dependencies
	if $MODELS; then
		if t has-session -t "=$SESSION" 2>/dev/null; then
			die "session '$SESSION' is already running: stop it with 'scripts/demo.sh --stop'"
		fi
		start_models
		attach
		return
	fi
	server=${ECHOSERV:-build/echoserv}
	bench=${ECHOBENCH:-build/echobench}
	(cd "$ROOT" && [ -x "$server" ]) ||
		die "no server at $server: run 'make' in $ROOT first"
	if t has-session -t "=$SESSION" 2>/dev/null; then
		die "session '$SESSION' is already running: attach with 'tmux attach -t $SESSION' or stop it with 'scripts/demo.sh --stop'"
	fi

	# The server pane first, alone, so the clients start only once it
	# listens.  The window is sized for a projector; attaching resizes it.
	t new-session -d -s "$SESSION" -n demo -x 160 -y 45 -c "$ROOT" \
		"$(pane_shell server)"
	t set-option -t "$SESSION" pane-border-status top >/dev/null
	t set-option -t "$SESSION" pane-border-format ' #{pane_title} ' >/dev/null
	t select-pane -t "$SESSION:demo.0" -T server
	srv=$(pane server)
	view_url=
	pipe=
	if $VIEW; then
		start_view
		# tee -i: Ctrl-C in the pane stops the server, not the copy of its
		# trace, so the shutdown still shows in the pane and in the view.
		pipe=" 2>&1 | tee -i $(shq "$fifo")"
	fi
	real_port=$(start_server_in "$srv" "$server -T" "$PORT" "$pipe") || exit 1

	# Clients on the right, the script below the server.
	a=$(t split-window -h -P -F '#{pane_id}' -t "$srv" -c "$ROOT" \
		"$(pane_shell 'client A')")
	t select-pane -t "$a" -T 'client A'
	b=$(t split-window -v -P -F '#{pane_id}' -t "$a" -c "$ROOT" \
		"$(pane_shell 'client B')")
	t select-pane -t "$b" -T 'client B'
	for c in "$a" "$b"; do
		t send-keys -t "$c" -l "nc 127.0.0.1 $real_port"
		t send-keys -t "$c" Enter
	done

	if (cd "$ROOT" && [ -x "$bench" ]); then
		load="$bench -p $real_port -c 20 -P 4 -d 5"
		name="echobench: 20 connections, 4 lines in flight, 5 s"
	else
		load="yes 'the quick brown fox' | head -n 200000 | nc -N 127.0.0.1 $real_port | wc -l"
		name="200000 lines through nc (echobench is not built)"
	fi
	# The script pane prints the notes, then becomes a shell with the load
	# command typed in.
	l=$(t split-window -v -l 15 -P -F '#{pane_id}' -t "$srv" -c "$ROOT" \
		"$(shq "$ROOT/scripts/demo.sh") --notes $real_port $(shq "$name") $(shq "$(stop_command)") $(shq "$view_url"); exec $(pane_shell bench)")
	t select-pane -t "$l" -T 'script + load generator'
	wait_for "$l" '^bench\$' || true
	t send-keys -t "$l" -l "$load"
	t select-pane -t "$(pane 'client A')"

	echo "demo: echoserv on 127.0.0.1:$real_port in tmux session '$SESSION'"
	[ -n "$view_url" ] && echo "demo: live view at $view_url (tmux window 'view')"
	attach
}

# Attach to the session, or say how to (--detach).
attach() {
	if $DETACH; then
		how=
		[ -n "$SOCKET" ] && how=" -L $SOCKET"
		echo "demo: attach with 'tmux$how attach -t $SESSION'; stop with '$(stop_command)'"
	elif [ -n "${TMUX:-}" ] && [ -z "$SOCKET" ]; then
		t switch-client -t "$SESSION"
	else
		t attach-session -t "$SESSION"
	fi
}

# The live view: a window of its own whose shell runs trace-view --live on
# a FIFO the server pane's tee writes into.  Sets fifo and view_url.
start_view() {
	fifo_dir=$(mktemp -d "${TMPDIR:-/tmp}/echoserv-demo.XXXXXX") ||
		die "cannot make a directory for the trace FIFO"
	fifo=$fifo_dir/trace
	mkfifo "$fifo" || die "cannot make the FIFO $fifo"
	t set-option -t "$SESSION" @demo_fifo_dir "$fifo_dir"
	t new-window -d -t "$SESSION" -n view -c "$ROOT" "$(pane_shell view)"
	t select-pane -t "$SESSION:view.0" -T 'live view'
	v=$(pane 'live view')
	t send-keys -t "$v" -l "python3 scripts/trace-view --live --port $VIEW_PORT $(shq "$fifo")"
	t send-keys -t "$v" Enter
	if ! wait_for "$v" '^trace-view: (live view at|cannot)'; then
		t kill-session -t "$SESSION"
		rm -rf "$fifo_dir"
		die "the live view did not start within ${WAIT_SECS}s"
	fi
	view_url=$(screen "$v" | sed -n 's/^trace-view: live view at \(http:[^ ]*\).*/\1/p' | tail -n 1)
	if [ -z "$view_url" ]; then
		screen "$v" | grep -E '^trace-view: ' >&2 || true
		t kill-session -t "$SESSION"
		rm -rf "$fifo_dir"
		die "the live view could not start (above: what it said)"
	fi
}

# ------------------------------------------------------------ stop

stop() {
	command -v tmux >/dev/null 2>&1 || die "tmux is not installed"
	t has-session -t "=$SESSION" 2>/dev/null ||
		die "no session '$SESSION' to stop"
	pids=
	for p in $(t list-panes -s -t "$SESSION" -F '#{pane_id}'); do
		pids="$pids $(server_pids "$p")"
	done
	for pid in $pids; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	# The server delivers what it owes and exits within 3 s of SIGTERM.
	i=0
	for pid in $pids; do
		while kill -0 "$pid" 2>/dev/null && [ "$i" -lt $((WAIT_SECS * 10)) ]; do
			sleep 0.1
			i=$((i + 1))
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "demo: echoserv (pid $pid) ignored SIGTERM; killing it" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
		echo "demo: stopped echoserv (pid $pid)"
	done
	v=$(pane 'live view')
	if [ -n "$v" ]; then
		for pid in $(view_pids "$v"); do
			kill -TERM "$pid" 2>/dev/null || true
			i=0
			while kill -0 "$pid" 2>/dev/null && [ "$i" -lt $((WAIT_SECS * 10)) ]; do
				sleep 0.1
				i=$((i + 1))
			done
			echo "demo: stopped the live view (pid $pid)"
		done
	fi
	fifo_dir=$(t show-options -v -t "$SESSION" @demo_fifo_dir 2>/dev/null || true)
	t kill-session -t "=$SESSION"
	case $fifo_dir in
	*/echoserv-demo.*) rm -rf "$fifo_dir" ;;
	esac
	echo "demo: closed tmux session '$SESSION'"
}

# ------------------------------------------------------------ arguments

while [ $# -gt 0 ]; do
	case $1 in
	-p | --port)
		[ $# -ge 2 ] || usage_error "option '$1' needs a value"
		PORT=$2
		shift 2
		;;
	--port=*)
		PORT=${1#*=}
		shift
		;;
	-s | --session)
		[ $# -ge 2 ] || usage_error "option '$1' needs a value"
		SESSION=$2
		shift 2
		;;
	--session=*)
		SESSION=${1#*=}
		shift
		;;
	-L | --socket)
		[ $# -ge 2 ] || usage_error "option '$1' needs a value"
		SOCKET=$2
		shift 2
		;;
	--socket=*)
		SOCKET=${1#*=}
		shift
		;;
	-d | --detach)
		DETACH=true
		shift
		;;
	-m | --models)
		MODELS=true
		shift
		;;
	-v | --view)
		VIEW=true
		shift
		;;
	--view-port)
		[ $# -ge 2 ] || usage_error "option '$1' needs a value"
		VIEW_PORT=$2
		VIEW=true
		shift 2
		;;
	--view-port=*)
		VIEW_PORT=${1#*=}
		VIEW=true
		shift
		;;
	--stop)
		ACTION=stop
		shift
		;;
	--notes) # used inside the demo: print the on-screen script
		notes "$2" "$3" "$4" "${5:-}"
		exit 0
		;;
	--models-notes) # the same for --models
		models_notes "$2" "$3" "$4"
		exit 0
		;;
	-h | --help)
		usage
		exit 0
		;;
	*) usage_error "unknown argument '$1'" ;;
	esac
done

case $PORT in
'' | *[!0-9]*) usage_error "invalid port '$PORT' (expected 0..65535)" ;;
esac
if [ "${#PORT}" -gt 5 ] || [ "$PORT" -gt 65535 ]; then
	usage_error "invalid port '$PORT' (expected 0..65535)"
fi
case $VIEW_PORT in
'' | *[!0-9]*) usage_error "invalid view port '$VIEW_PORT' (expected 0..65535)" ;;
esac
if [ "${#VIEW_PORT}" -gt 5 ] || [ "$VIEW_PORT" -gt 65535 ]; then
	usage_error "invalid view port '$VIEW_PORT' (expected 0..65535)"
fi
if $VIEW && $MODELS; then
	usage_error "--view draws echoserv's trace: it does not go with --models"
fi
case $SESSION in
'' | *[!A-Za-z0-9_-]*) usage_error "invalid session name '$SESSION' (letters, digits, - and _)" ;;
esac

case $ACTION in
start) start ;;
stop) stop ;;
esac
