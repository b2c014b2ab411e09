#!/bin/sh
# test-doc-refs.sh DOC - check that a document about the source still tells
# the truth about it, as far as a script can tell:
#
#   1. every link points at a file or folder that exists inside the
#      repository (no web addresses, nothing outside the clone);
#   2. every link of the form [`name()`](../src/file.c) names a function
#      defined (or declared) in that file;
#   3. every other `name()`, UPPER_CASE constant and snake_case identifier
#      in backquotes exists in src/ or include/, unless it is one of the
#      system's (listed below);
#   4. every trace and log line in its examples has a shape the server can
#      print, and the format strings those shapes come from are still in
#      the source (if the server's wording changes, this fails and the
#      examples must be run again);
#   5. the constants whose values the documents state still have them;
#   6. docs/protocol.md only: its sections 1-7 and rules 3.1-3.10 are all
#      there, in order, and its copy of --help is what $ECHOSERV_BIN --help
#      prints (when ECHOSERV_BIN is set).
set -eu

doc=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
docdir=$(dirname "$doc")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
	echo "FAIL: $doc: $*" >&2
	failures=$((failures + 1))
}

[ -f "$doc" ] || {
	echo "FAIL: $doc does not exist" >&2
	exit 1
}

# Names of the system, the C library, make and the protocol the document
# may use freely.
SYSTEM_NAMES=" select pselect poll epoll_wait epoll_ctl kqueue read write
  accept close shutdown fork fcntl pipe sigaction open listen bind socket
  send recv sendto recvfrom setgroups setuid setgid getopt
  FD_SETSIZE FD_SET FD_ISSET FD_ZERO EAGAIN EWOULDBLOCK EINTR EMFILE ENFILE
  ECONNABORTED ECONNRESET EPIPE EPROTO O_NONBLOCK SIGPIPE SIGINT SIGTERM
  SIGHUP SIGQUIT SIGUSR1 SIGUSR2 SIGALRM SIGCHLD SIGKILL SHUT_WR SO_REUSEADDR SO_REUSEPORT IPV6_V6ONLY TCP_NODELAY MSG_DONTWAIT PIPE_BUF
  NULL NDEBUG _FORTIFY_SOURCE fd_set swapcontext MAP_SHARED SCM_RIGHTS
  LISTEN_PID LISTEN_FDS LISTEN_FDNAMES DESTDIR PREFIX QUIT "

is_system() {
	case $SYSTEM_NAMES in
	*" $1 "* | *" $1
"*) return 0 ;;
	esac
	return 1
}

# Is $1 a function defined or declared (or a function-like macro) in the
# files $2...?
defines_function() {
	name=$1
	shift
	grep -Eq "^([A-Za-z_][A-Za-z0-9_ *]*[ *])?$name\(|#define $name\(" "$@"
}

# Is $1 a constant (#define or enum member, one member a line or a whole
# enum on one line) or an identifier in the source?
defines_constant() {
	grep -Eq "#define $1([^A-Za-z0-9_]|\$)|^[[:space:]]+$1([[:space:]]*[,=]|[[:space:]]+/\*|[[:space:]]*\$)|enum [A-Za-z0-9_]+ \{([^}]*,)? *$1( *=[^,}]*)? *[,}]" \
		src/*.c include/*.h
}
mentions_word() {
	grep -Ewq "$1" src/*.c include/*.h
}

# The prose, without fenced code blocks.
awk '/^```/ { f = !f; next } !f' "$doc" >"$tmp/prose"

# 1. Links: relative, to something in the repository.
grep -o '](\([^)]*\))' "$tmp/prose" | sed 's/^](//; s/)$//; s/#.*//' |
	grep -v '^$' | sort -u >"$tmp/links" || true
while IFS= read -r target; do
	case $target in
	[a-z]*:* | /*)
		fail "link to $target, outside the repository"
		continue
		;;
	esac
	[ -e "$docdir/$target" ] || {
		fail "link to $target, which does not exist"
		continue
	}
	case $(realpath "$docdir/$target") in
	"$ROOT" | "$ROOT"/*) ;;
	*) fail "link to $target, outside the repository" ;;
	esac
done <"$tmp/links"

# 2. Function links: [`name()`](path).  (The backquotes are Markdown's.)
# shellcheck disable=SC2016
grep -o '\[`[a-z_][a-z0-9_]*()`\]([^)]*)' "$tmp/prose" |
	sed 's/^\[`\([a-z0-9_]*\)()`\](\(.*\))$/\1 \2/' | sort -u >"$tmp/keyed" || true
while read -r name target; do
	[ -f "$docdir/$target" ] || continue # reported by 1.
	defines_function "$name" "$docdir/$target" ||
		fail "$name() is not defined in $target"
done <"$tmp/keyed"

# 3. Names in backquotes.
# shellcheck disable=SC2016
grep -o '`[^`]*`' "$tmp/prose" | tr -d '`' | sort -u >"$tmp/quoted" || true
while IFS= read -r q; do
	case $q in
	*[!A-Za-z0-9_\(\)\[\].,\ -]*) continue ;; # commands, messages, paths
	esac
	name=${q%%[(\[]*}
	[ -n "$name" ] || continue
	if is_system "$name"; then
		continue
	fi
	case $q in
	*\)) # a function, possibly with arguments: name() or name(ARG)
		case $name in *[!a-z0-9_]*) continue ;; esac
		defines_function "$name" src/*.c include/*.h ||
			fail "\`$q\`: no function $name() in src/ or include/"
		arg=${q#*\(}
		arg=${arg%\)}
		case $arg in
		'' | *[!A-Z0-9_]*) ;;
		*) is_system "$arg" || defines_constant "$arg" ||
			fail "\`$q\`: no constant $arg in src/ or include/" ;;
		esac
		;;
	*)
		case $name in
		[A-Z_][A-Z0-9_][A-Z0-9_]*)
			case $name in *[!A-Z0-9_]*) continue ;; esac
			defines_constant "$name" ||
				fail "\`$q\`: no constant $name in src/ or include/"
			;;
		[a-z]*_* | *\[*)
			case $name in *[!a-z0-9_]*) continue ;; esac
			mentions_word "$name" ||
				fail "\`$q\`: no identifier $name in src/ or include/"
			;;
		esac
		;;
	esac
done <"$tmp/quoted"

# 4. Trace and log lines in the examples, with or without the timestamp of
#    --log-time in front.
stamp='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z '
awk '/^```/ { f = !f; next } f' "$doc" | sed -E "s/^$stamp//" |
	grep -E '^(select: |fd [0-9]+: |echoserv: |trace: )' >"$tmp/lines" || true
[ -s "$tmp/lines" ] || fail "no trace examples found"
peer='([0-9]+(\.[0-9]+){3}|\[[0-9a-f:.]+\]):[0-9]+'
reason='(quit|eof|reset|timeout|line timeout|line too long|shutdown|out of memory)'
away='(server full|too many connections)'
linger_end='(client closed|client gone|quiet|linger limit|shutdown|too many lingering|room for a new client|descriptors needed)'
set_re='\{[0-9,]*\}'
while IFS= read -r line; do
	printf '%s\n' "$line" | grep -Eq "^(\
trace: echoserv [0-9]+\.[0-9]+\.[0-9]+ pid [0-9]+ FD_SETSIZE [0-9]+|\
select: waiting  read=$set_re write=$set_re timeout=([0-9]+\.[0-9]s|none)|\
select: ready    read=$set_re write=$set_re|\
fd [0-9]+: (listening socket $peer|signal pipe|\
read [0-9]+ bytes|read end of input|wrote [0-9]+ of [0-9]+ bytes( \(partial\))?|\
accepted fd [0-9]+ from $peer|turned away: $away|(read|write) failed: .+|\
discarded [0-9]+ bytes|\
READING -> WRITING \([0-9]+ lines?(, then $reason)?\)|\
READING -> WRITING \(raw, [0-9]+ bytes\)|\
WRITING -> READING|(READING|WRITING) -> DONE \($reason\)|\
DONE -> LINGERING \(FIN sent, discarding input\)|\
DONE -> CLOSED|LINGERING -> CLOSED \($linger_end\))|\
echoserv: (listening on $peer|client $peer connected \(fd [0-9]+\)|\
client $peer closed \(fd [0-9]+\): $reason; echoed [0-9]+ lines?, [0-9]+ bytes?|\
client $peer closed \(fd [0-9]+\): $reason; echoed [0-9]+ bytes? raw|\
client $peer turned away: $away|accept: .+: shedding client $peer|\
accept: .+; pausing new connections for [0-9]+ ms|\
client $peer: out of memory|\
raw mode \(RFC 862\): every byte is echoed, no line framing|\
running as user .+ \(uid [0-9]+, gid [0-9]+\)|\
status: [0-9]+ clients?, [0-9]+ lingering; served [0-9]+, echoed [0-9]+ lines, [0-9]+ bytes so far|\
warning: still root after binding $peer; --user NAME would drop privileges|\
shutting down: delivering queued replies for up to 2 s|\
second signal: abandoning the drain|\
shutdown: served [0-9]+ clients?, echoed [0-9]+ lines?, [0-9]+ bytes?|\
[0-9]+ log lines? dropped|\
invalid port '[^']*' \(expected 0\.\.65535\)|\
cannot listen on $peer: .+|\
select: .+))\$" || fail "not a line the server prints: '$line'"
done <"$tmp/lines"

# ... and the formats those shapes were read from (a string the compiler
# joins may be split in the source: each piece is listed).
while IFS= read -r fmt; do
	grep -qF -- "$fmt" src/*.c include/*.h ||
		fail "the source no longer has the format $fmt"
done <<'EOF'
"trace: echoserv %s pid %ld FD_SETSIZE %d"
"fd %d: listening socket %s"
"fd %d: signal pipe"
"select: %-8s read=%s write=%s%s"
"waiting"
"ready"
" timeout=none"
" timeout=%.1fs"
"fd %d: read %ld bytes"
"fd %d: read end of input"
"fd %d: read failed: %s"
"fd %d: write failed: %s"
"fd %d: wrote %ld of %zu bytes%s"
" (partial)"
"fd %d: accepted fd %d from %s"
"fd %d: turned away: %s"
"fd %d: discarded %ld bytes"
"fd %d: %s -> %s%s"
" (%zu line%s%s%s)"
", then "
" (raw, %zu bytes)"
" (%s)"
"FIN sent, discarding input"
"CLOSED"
"too many lingering"
"room for a new client"
"descriptors needed"
"client closed"
"client gone"
"linger limit"
"quiet"
"LINGERING"
"server full"
"too many connections"
"line timeout"
"out of memory"
"client %s connected (fd %d)"
"client %s closed (fd %d): %s; echoed %llu line%s, "
"client %s closed (fd %d): %s; echoed %llu byte%s "
"raw"
"client %s turned away: %s"
"client %s: out of memory"
"accept: %s: shedding client %s"
"accept: %s; pausing new connections for %lld ms"
"raw mode (RFC 862): every byte is echoed, no line "
"running as user %s (uid %lu, gid %lu)"
"warning: still root after binding %s; "
"--user NAME would drop privileges"
"shutting down: delivering queued replies for up to %u s"
"second signal: abandoning the drain"
"status: %zu client%s, %zu lingering; served %llu, echoed "
"shutdown: served %llu client%s, echoed %llu line%s, %llu "
"%llu log line%s dropped"
"listening on %s"
"invalid port '%s' (expected 0..65535)"
"cannot listen on %s: %s"
"select: %s"
"%Y-%m-%dT%H:%M:%S"
".%03ldZ "
EOF

# 5. The numbers and messages the documents (these and the man pages)
#    state.  If one changes in the code, this fails: read the documents
#    again.
while IFS='|' read -r file pattern; do
	grep -Eq "$pattern" "$file" ||
		fail "$file no longer matches '$pattern': check the numbers the docs give"
done <<'EOF'
include/options.h|^#define ECHOSERV_VERSION "1\.1\.0"$
include/server.h|^#define SERVER_OWN_FDS 7$
include/protocol.h|^#define MAX_LINE_MIN +16$
include/protocol.h|^#define MAX_LINE_MAX +1048576$
include/protocol.h|^#define MAX_LINE_DEFAULT 8192$
include/protocol.h|^#define MSG_SERVER_FULL +"error: server full\\r\\n"$
include/protocol.h|^#define MSG_TOO_MANY +"error: too many connections\\r\\n"$
include/protocol.h|^#define MSG_IDLE_TIMEOUT "error: idle timeout\\r\\n"$
include/protocol.h|^#define MSG_LINE_TIMEOUT "error: line timeout\\r\\n"$
src/protocol.c|"error: line too long \(limit %zu bytes\)\\r\\n"
include/options.h|^#define IDLE_TIMEOUT_DEFAULT 300$
include/options.h|^#define LINE_TIMEOUT_DEFAULT 60$
include/options.h|^#define TIMEOUT_MAX +86400$
include/net.h|^#define NET_MAX_LISTENERS 16$
include/peers.h|^#define PEER_SLOTS 4096$
include/activation.h|^#define ACTIVATION_FIRST_FD 3$
src/net.c|^#define PORT_ATTEMPTS 8$
src/protocol.c|^#define SESSION_MIN_BUFFER 4096$
src/net.c|^#define DRAIN_LIMIT \(?(\(size_t\))?256 \* 1024\)?$
src/log.c|^#define LOG_BUFFER_SIZE \(256 \* 1024\)$
src/log.c|^#define LOG_LINE_MAX 16384$
src/log.c|^#define EXIT_FLUSH_MS 500$
include/conn.h|^#define CONN_DRAIN_SECONDS 2$
src/conn.c|^#define ACCEPT_PAUSE \(100 \* NS_PER_MS\)$
src/conn.c|^#define ACCEPT_BATCH 64$
src/conn.c|^#define LINGER_QUIET \(1 \* NS_PER_SEC\)$
src/conn.c|^#define LINGER_MAX +\(10 \* NS_PER_SEC\)$
EOF

# 6. The contract's own shape: its sections and rules keep their numbers,
#    since the code and the tests cite them ("protocol.md 3.8").
if [ "$(basename "$doc")" = protocol.md ]; then
	grep -E '^## [0-9]+\. ' "$doc" | sed -E 's/^## ([0-9]+)\..*/\1/' |
		tr '\n' ' ' >"$tmp/sections"
	[ "$(cat "$tmp/sections")" = "1 2 3 4 5 6 7 8 " ] ||
		fail "sections are $(cat "$tmp/sections")instead of 1 to 8"
	awk '/^## 3\. / { f = 1; next } /^## / { f = 0 } f' "$doc" |
		grep -E '^[0-9]+\. \*\*' | sed -E 's/^([0-9]+)\..*/\1/' |
		tr '\n' ' ' >"$tmp/rules"
	[ "$(cat "$tmp/rules")" = "1 2 3 4 5 6 7 8 9 10 " ] ||
		fail "section 3 has rules $(cat "$tmp/rules")instead of 1 to 10"
	# The --help text quoted in section 2, against the program's own.
	awk '/^```/ { if (f) exit; n++; next }
	     n && !f && /^usage: echoserv / { f = 1 } f' "$doc" >"$tmp/help"
	[ -s "$tmp/help" ] || fail "no copy of --help found"
	if [ -n "${ECHOSERV_BIN:-}" ]; then
		"$ECHOSERV_BIN" --help >"$tmp/help.real"
		diff -u "$tmp/help" "$tmp/help.real" >"$tmp/help.diff" ||
			fail "its --help differs from $ECHOSERV_BIN --help: $(cat "$tmp/help.diff")"
	fi
fi

if [ "$failures" -ne 0 ]; then
	echo "$doc: $failures problem(s)" >&2
	exit 1
fi
echo "ok: $doc: links, names, numbers and trace examples match the source"
