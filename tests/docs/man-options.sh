#!/bin/sh
# man-options.sh - print the options of a program, one per line, as
#   TAG<TAB>NUMBERS
# where TAG is "-c, --max-clients N" (names and value name) and NUMBERS the
# sorted ranges ("1..1017") and numeric defaults ("default 1017") its
# description states.  Two sources, which test-man.sh compares:
#
#   man-options.sh help PROGRAM   from `PROGRAM --help`
#   man-options.sh man PAGE       from the OPTIONS section of a man page
set -eu

# Turn "TAG<TAB>description" records into "TAG<TAB>numbers".
numbers() {
	awk -F '\t' '
	function add(t) { toks[++n] = t }
	{
		tag = $1; desc = $2; n = 0
		gsub(/  +/, " ", tag)
		s = desc
		while (match(s, /[0-9]+\.\.[0-9]+/)) {
			add(substr(s, RSTART, RLENGTH))
			s = substr(s, RSTART + RLENGTH)
		}
		s = desc
		while (match(s, /default:? +[0-9][0-9.]*/)) {
			t = substr(s, RSTART, RLENGTH)
			s = substr(s, RSTART + RLENGTH)
			sub(/^default:? +/, "", t); sub(/\.+$/, "", t)
			add("default " t)
		}
		# insertion sort: a stable order to compare
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && toks[j-1] > toks[j]; j--) {
				x = toks[j]; toks[j] = toks[j-1]; toks[j-1] = x
			}
		out = ""
		for (i = 1; i <= n; i++)
			out = out (i > 1 ? " " : "") toks[i]
		print tag "\t" out
	}'
}

# --help: an option line starts with two spaces and "-"; its description
# follows the tag after two or more spaces and may go on in lines indented
# further that do not start with "-".
from_help() {
	"$1" --help | awk '
	function flush() { if (tag != "") print tag "\t" desc; tag = "" }
	/^  +-/ {
		flush()
		line = $0; sub(/^ +/, "", line)
		if (match(line, /   */) && RSTART > 1) {
			tag = substr(line, 1, RSTART - 1)
			desc = substr(line, RSTART + RLENGTH)
		} else {
			tag = line; desc = ""
		}
		next
	}
	/^      +[^ -]/ && tag != "" { d = $0; sub(/^ +/, "", d); desc = desc " " d; next }
	{ flush() }
	END { flush() }' | numbers
}

# The man page, rendered as plain text on very long lines without
# hyphenation: in OPTIONS, a tag is indented 7 columns and starts with "-",
# its description is indented further (or follows a short tag on its line
# after two or more spaces).
from_man() {
	groff -man -Tascii -P-cbou -rLL=3000n -rHY=0 "$1" 2>/dev/null | awk '
	function flush() { if (tag != "") print tag "\t" desc; tag = "" }
	/^OPTIONS$/ { inside = 1; next }
	/^[A-Z]/ { if (inside) flush(); inside = 0; next }
	!inside { next }
	/^       -/ {
		flush(); tag = $0; sub(/^ +/, "", tag); sub(/ +$/, "", tag); desc = ""
		# A tag shorter than the indent shares its line with the text.
		if (match(tag, /   */)) {
			desc = substr(tag, RSTART + RLENGTH)
			tag = substr(tag, 1, RSTART - 1)
		}
		next
	}
	/^        +[^ ]/ && tag != "" { d = $0; sub(/^ +/, "", d); desc = desc " " d; next }
	END { flush() }' | numbers
}

case "${1:-}" in
help) from_help "$2" ;;
man) from_man "$2" ;;
*)
	echo "usage: $0 help PROGRAM | man PAGE" >&2
	exit 2
	;;
esac
