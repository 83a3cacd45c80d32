#!/bin/sh
# handoff.sh [BUILDDIR] - what one message's hand-off to the spool costs:
# mailout-queue spawned per message, mailout-queue --socket per connection
# (Accept=yes) and the service on the listening socket (Accept=no)
#
# Builds the programs without sanitizers and tests/bench/queuebench.c
# (the client: lib/mail_qclient.c, as mailout-smtpd uses it), then runs
# tests/bench/handoff.py, which prints the table and writes it to
# build/bench/handoff.md with the callgrind files beside it.  Needs
# systemd-socket-activate and valgrind; the spool is in a temporary
# directory under SPOOL_DIR (default /var/tmp: a real disk, so every
# commit fsyncs).  N (default 2000) messages per run, REPS (default 3)
# runs.  Not part of `make check`.
set -eu
BUILDDIR=${1:-build}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"

make --no-print-directory BUILD="$BUILDDIR" SAN= all >/dev/null
TOOLS=$BUILDDIR/bench-tools
mkdir -p "$TOOLS" build/bench
# shellcheck disable=SC2086
cc -std=c11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wvla -D_GNU_SOURCE -Ilib -Iconf \
	-o "$TOOLS/queuebench" tests/bench/queuebench.c "$BUILDDIR/obj/libmailout.a"

exec /usr/bin/python3 tests/bench/handoff.py --bin "$BUILDDIR/bin" --tool "$TOOLS/queuebench" \
	--dir "${SPOOL_DIR:-/var/tmp}" -n "${N:-2000}" --reps "${REPS:-3}" --out build/bench/handoff.md
