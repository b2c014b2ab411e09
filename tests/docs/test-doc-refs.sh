#!/bin/sh
# test-doc-refs.sh DOC - check that a document about the source still tells
# the truth about it, as far as a script can tell:
#
#   1. every relative link points at a file or folder that exists;
#   2. every link of the form [`name()`](../src/file.c) names a function
#      defined (or declared) in that file;
#   3. every other `name()`, UPPER_CASE constant and snake_case identifier
#      in backquotes exists in src/ or include/, unless it is one of the
#      system's (listed below);
#   4. every trace and log line in its examples has a shape the server can
#      print, and the format strings those shapes come from are still in
#      the source (if the server's wording changes, this fails and the
#      examples must be run again);
#   5. the constants whose values the documents state still have them.
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

# Names of the system and the C library the document may use freely.
SYSTEM_NAMES=" select pselect poll epoll_wait epoll_ctl kqueue read write
  accept close shutdown fork fcntl pipe sigaction open listen bind socket
  FD_SETSIZE FD_SET FD_ISSET FD_ZERO EAGAIN EWOULDBLOCK EINTR EMFILE ENFILE
  ECONNABORTED ECONNRESET EPIPE O_NONBLOCK SIGPIPE SIGINT SIGTERM SHUT_WR
  SO_REUSEADDR IPV6_V6ONLY TCP_NODELAY NULL _FORTIFY_SOURCE fd_set
  swapcontext "

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

# Is $1 a constant (#define or enum member) or an identifier in the source?
defines_constant() {
	grep -Eq "#define $1([^A-Za-z0-9_]|\$)|^[[:space:]]+$1([[:space:]]*[,=]|[[:space:]]+/\*|[[:space:]]*\$)" \
		src/*.c include/*.h
}
mentions_word() {
	grep -Ewq "$1" src/*.c include/*.h
}

# The prose, without fenced code blocks.
awk '/^```/ { f = !f; next } !f' "$doc" >"$tmp/prose"

# 1. Relative links.
grep -o '](\([^)]*\))' "$tmp/prose" | sed 's/^](//; s/)$//; s/#.*//' |
	grep -v '^[a-z]*:' | grep -v '^$' | sort -u >"$tmp/links" || true
while IFS= read -r target; do
	[ -e "$docdir/$target" ] || fail "link to $target, which does not exist"
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

# 4. Trace and log lines in the examples.
awk '/^```/ { f = !f; next } f' "$doc" |
	grep -E '^(select: |fd [0-9]+: |echoserv: )' >"$tmp/lines" || true
[ -s "$tmp/lines" ] || fail "no trace examples found"
peer='(127\.0\.0\.1|\[[0-9a-f:]+\]):[0-9]+'
reason='(quit|eof|reset|timeout|line too long|shutdown|out of memory)'
set_re='\{[0-9,]*\}'
while IFS= read -r line; do
	printf '%s\n' "$line" | grep -Eq "^(\
select: (waiting |ready   ) read=$set_re write=$set_re( timeout=([0-9]+\.[0-9]s|none))?|\
fd [0-9]+: (read [0-9]+ bytes|read end of input|wrote [0-9]+ of [0-9]+ bytes( \(partial\))?|\
accepted fd [0-9]+ from $peer|closed|(read|write) failed: .+|\
discarded [0-9]+ bytes|FIN sent; discarding input until the client closes|\
READING -> WRITING \([0-9]+ lines?(, then $reason)?\)|\
WRITING -> READING|(READING|WRITING) -> DONE \($reason\))|\
echoserv: (listening on $peer|client $peer connected \(fd [0-9]+\)|\
client $peer closed \(fd [0-9]+\): $reason; echoed [0-9]+ lines?, [0-9]+ bytes?|\
client $peer turned away: server full|accept: .+: shedding client $peer|\
shutting down: delivering queued replies for up to 2 s|\
shutdown: served [0-9]+ clients?, echoed [0-9]+ lines?, [0-9]+ bytes?|\
select: \.\.\.))\$" || fail "not a line the server prints: '$line'"
done <"$tmp/lines"

# ... and the formats those shapes were read from.
for fmt in \
	'"select: %-8s read=%s write=%s%s%s"' '" timeout="' '"%.1fs"' '"none"' \
	'"fd %d: read %zd bytes"' '"fd %d: read end of input"' \
	'"fd %d: wrote %zd of %zu bytes%s"' '" (partial)"' \
	'"fd %d: accepted fd %d from %s"' '"fd %d: closed"' \
	'"fd %d: discarded %zd bytes"' \
	'"fd %d: FIN sent; discarding input until the client closes"' \
	'"fd %d: %s -> %s%s"' '" (%zu line%s%s%s)"' '", then "' '" (%s)"' \
	'"client %s connected (fd %d)"' '"client %s turned away: server full"' \
	'"accept: %s: shedding client %s"' \
	'"shutting down: delivering queued replies for up to %lld s"' \
	'"listening on %s"'; do
	grep -qF -- "$fmt" src/*.c || fail "the source no longer has the format $fmt"
done

# 5. The numbers the documents (this one and the man pages) state.  If one
#    changes in the code, this fails: read the documents again.
while IFS='|' read -r file pattern; do
	grep -Eq "$pattern" "$file" ||
		fail "$file no longer matches '$pattern': check the numbers the docs give"
done <<'EOF'
include/server.h|^#define SERVER_OWN_FDS 7$
include/protocol.h|^#define MAX_LINE_DEFAULT 8192$
include/options.h|^#define IDLE_TIMEOUT_DEFAULT 300$
src/protocol.c|^#define SESSION_MIN_BUFFER 4096$
src/net.c|^#define DRAIN_LIMIT \(?(\(size_t\))?256 \* 1024\)?$
src/server.c|^#define DRAIN_TIME \(2 \* NS_PER_SEC\)$
src/server.c|^#define ACCEPT_PAUSE \(100 \* NS_PER_MS\)$
src/server.c|^#define ACCEPT_BATCH 64$
src/server.c|^#define LINGER_QUIET \(1 \* NS_PER_SEC\)$
src/server.c|^#define LINGER_MAX +\(10 \* NS_PER_SEC\)$
EOF

if [ "$failures" -ne 0 ]; then
	echo "$doc: $failures problem(s)" >&2
	exit 1
fi
echo "ok: $doc: links, names and trace examples match the source"
