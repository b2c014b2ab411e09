#!/bin/sh
# throwaway-root.sh SCRATCH COMMAND... - run COMMAND as root with the
# machine's /usr, /etc and /var (and /bin, /sbin, /lib* where they are
# directories, not links into /usr) behind copy-on-write overlays, in a
# mount namespace of its own.  Whatever COMMAND installs or removes (a
# package, apt's lists, systemd links) lands in a tmpfs mounted on SCRATCH
# and vanishes with the namespace; the rest of the machine never sees it.
# TMPDIR points into the tmpfs too.  Other directories (the checkout, /work,
# /tmp, /root) are the real ones: write results there.
#
# Needs root (mount, unshare), util-linux's unshare and overlayfs.
set -eu

if [ "${ECHOSERV_THROWAWAY_ROOT:-}" != inside ]; then
	[ "$(id -u)" -eq 0 ] || {
		echo "throwaway-root: needs root (mounts overlays in a namespace)" >&2
		exit 1
	}
	exec unshare --mount --propagation private \
		env ECHOSERV_THROWAWAY_ROOT=inside sh "$0" "$@"
fi

mkdir -p "$1"
scratch=$(cd "$1" && pwd)
shift
mount -t tmpfs -o mode=0755 echoserv-throwaway "$scratch"
mkdir "$scratch/tmp"
chmod 1777 "$scratch/tmp"
for d in usr etc var bin sbin lib lib32 lib64 libx32; do
	[ -d "/$d" ] && [ ! -L "/$d" ] || continue
	mkdir "$scratch/$d.upper" "$scratch/$d.work"
	mount -t overlay "echoserv-throwaway-$d" \
		-o "lowerdir=/$d,upperdir=$scratch/$d.upper,workdir=$scratch/$d.work" "/$d"
done
TMPDIR=$scratch/tmp exec "$@"
