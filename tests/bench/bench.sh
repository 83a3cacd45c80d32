#!/bin/sh
# bench.sh [BUILDDIR] - `make bench`: mailout side by side with Postfix
#
# Installs what the bench needs from Debian (postfix for smtp-source,
# smtp-sink and the Postfix under comparison; valgrind),
# keeps the system's own Postfix from running, builds the programs
# (without sanitizers) and the bench tools (fsyncbench, loadclient,
# queuebench for the hand-off alone, and noconfine.so for the inspection
# children under callgrind),
# then runs tests/bench/bench.py, which prints the table and writes it,
# dated, to build/bench/results.md.  Everything stays on loopback; the
# private Postfix instance runs in a temporary directory and is stopped
# at the end.  Takes about 10 minutes; REPS=N (>= 3), N_ACCEPT, N_TLS,
# DRAIN, N_HANDOFF and PROFILE_N shrink or grow it;
# PARTS=accept,drain,tls,handoff,memory,profile (any of them) runs only
# those parts.  Not part of `make check`.
#
#   make bench                        # BUILD=build
#   tests/bench/bench.sh build/bench
set -eu
BUILDDIR=${1:-build}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"

PKGS="postfix valgrind"

# install_missing - Debian packages the bench needs that are not there
install_missing() {
	missing=""
	for p in $PKGS; do
		st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[ "$st" = installed ] || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "bench: not root; install these packages first:$missing" >&2
		exit 1
	fi
	echo "bench: installing:$missing"
	# No system mail configuration: the bench runs its own instance.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
	case $missing in *postfix*) quiet_system_postfix ;; esac
}

# quiet_system_postfix - the package may start the system's Postfix
# and enable it at boot; the bench wants neither
quiet_system_postfix() {
	if [ -f /etc/postfix/main.cf ] && postfix status >/dev/null 2>&1; then
		postfix stop >/dev/null 2>&1 || true
	fi
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable postfix >/dev/null 2>&1 || true
	fi
	if command -v update-rc.d >/dev/null 2>&1; then
		update-rc.d postfix disable >/dev/null 2>&1 || true
	fi
}

tests/deps.sh
install_missing
if [ -f /etc/postfix/main.cf ] && postfix status >/dev/null 2>&1; then
	echo "bench: note: the system's Postfix is running; the bench uses its own instance" >&2
fi

make --no-print-directory BUILD="$BUILDDIR" SAN= all >/dev/null

TOOLS=$BUILDDIR/bench-tools
mkdir -p "$TOOLS" build/bench
CFLAGS_BENCH="-std=c11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
-Wmissing-prototypes -Wvla -D_GNU_SOURCE"
# shellcheck disable=SC2086
cc $CFLAGS_BENCH -o "$TOOLS/fsyncbench" tests/bench/fsyncbench.c
# shellcheck disable=SC2086
cc $CFLAGS_BENCH -pthread $(pkg-config --cflags openssl) -o "$TOOLS/loadclient" \
	tests/bench/loadclient.c $(pkg-config --libs openssl)
# shellcheck disable=SC2086
cc $CFLAGS_BENCH -Ilib -Iconf -o "$TOOLS/queuebench" tests/bench/queuebench.c \
	"$BUILDDIR/obj/libmailout.a"
# shellcheck disable=SC2086
cc $CFLAGS_BENCH -shared -fPIC -o "$TOOLS/noconfine.so" tests/bench/noconfine.c

exec /usr/bin/python3 tests/bench/bench.py --bin "$BUILDDIR/bin" --tools "$TOOLS" \
	--out build/bench
