#!/bin/bash
# run-local.sh BUILDDIR - a complete local relay for trying mailout by hand
#
# Started by `make run`, which builds BUILDDIR with LOCALSTATEDIR=run/var
# and SYSCONFDIR=run/etc, so the programs find no config file and use the
# built-in default: spool run/var/spool/mailout, clients on loopback,
# gateway [127.0.0.1]:10025 with tls = may.  This script starts
#   - the test gateway (tests/peers/gateway.py) on 127.0.0.1:10025,
#     STARTTLS with a self-signed certificate, writing to run/gateway/
#   - mailout-smtpd per connection on 127.0.0.1:2525 (systemd-socket-activate),
#     handing each message to the built mailout-scan (MAILOUT_SCAN), which
#     refuses executable attachments and passes the rest to the built
#     mailout-queue (MAILOUT_QUEUE)
#   - a delivery loop: mailout-deliver every 2 seconds, if it is built
#     (its bounces go to the built mailout-queue too)
# and stops all three, by pid, on Ctrl-C or SIGTERM.  When one of them
# dies on its own, the others are stopped too and the script exits
# non-zero, naming it.  Everything stays under run/.
set -u

BUILDDIR=${1:?usage: tests/run-local.sh BUILDDIR}
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 1
case $BUILDDIR in /*) BIN=$BUILDDIR/bin ;; *) BIN=$TOP/$BUILDDIR/bin ;; esac
RUN=$TOP/run
SPOOL=$RUN/var/spool/mailout
LISTEN=127.0.0.1:2525
GATEWAY=127.0.0.1:10025

for p in mailout-smtpd mailout-queue mailout-scan; do
	if [ ! -x "$BIN/$p" ]; then
		echo "run-local: $BIN/$p is not built (run: make run)" >&2
		exit 1
	fi
done
for p in systemd-socket-activate openssl; do
	if ! command -v "$p" >/dev/null 2>&1; then
		echo "run-local: $p is missing (run: make deps, as root)" >&2
		exit 1
	fi
done
if ! /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
	echo "run-local: /usr/bin/python3 has no aiosmtpd (run: make deps, as root)" >&2
	exit 1
fi
# The built programs, not installed ones: the receiver runs the scanner,
# the scanner and the deliverer's bounces run the queue.
export MAILOUT_QUEUE=$BIN/mailout-queue
export MAILOUT_SCAN=$BIN/mailout-scan
if [ -e "$RUN/etc/mailout/mailout.conf" ]; then
	echo "run-local: using $RUN/etc/mailout/mailout.conf (remove it for the built-in default)"
fi

# port_busy PORT - is something listening on PORT (any address)?
port_busy() {
	awk -v h=":$(printf '%04X' "$1")" '$2 ~ (h "$") && $4 == "0A" { f = 1 } END { exit !f }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null
}
for port in 2525 10025; do
	if port_busy "$port"; then
		echo "run-local: port $port is in use (another make run?); stop what listens there:" >&2
		echo "  ss -ltnp 'sport = :$port'" >&2
		exit 1
	fi
done

mkdir -p "$SPOOL"/tmp "$SPOOL"/new "$SPOOL"/deferred "$SPOOL"/hold "$SPOOL"/state \
	"$RUN/gateway" "$RUN/etc" "$RUN/run/mailout" "$RUN/tls" "$RUN/log" || exit 1
chmod 0700 "$RUN/run/mailout" || exit 1 # state_dir: rates, AUTH failures, TLS ticket keys

if [ ! -s "$RUN/tls/gateway.pem" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
		-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
		-keyout "$RUN/tls/gateway.key" -out "$RUN/tls/gateway.pem" >/dev/null 2>&1 || {
		echo "run-local: cannot make the gateway certificate" >&2
		exit 1
	}
fi

pids=()
# cleanup RC - stop what we started, by pid; a stop asked for (Ctrl-C,
# SIGTERM) is no failure
cleanup() {
	local rc=$1
	trap - INT TERM EXIT
	echo
	echo "run-local: stopping"
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null
	done
	exit "$rc"
}
trap 'cleanup 0' INT TERM
trap 'cleanup $?' EXIT

# wait_port PORT PID NAME - until PORT listens; at most 10 seconds
wait_port() {
	local i
	for i in $(seq 100); do
		port_busy "$1" && return 0
		if ! kill -0 "$2" 2>/dev/null; then
			echo "run-local: $3 exited; see $RUN/log/$3.log" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "run-local: $3 does not listen on port $1" >&2
	return 1
}

/usr/bin/python3 tests/peers/gateway.py --listen "$GATEWAY" --maildir "$RUN/gateway" \
	--tls-cert "$RUN/tls/gateway.pem" --tls-key "$RUN/tls/gateway.key" \
	>"$RUN/log/gateway.log" 2>&1 &
pids+=($!)
wait_port 10025 $! gateway || exit 1

# The receiver logs to the terminal, as it would to the journal.
systemd-socket-activate -l "$LISTEN" --accept \
	-E MAILOUT_QUEUE="$MAILOUT_QUEUE" -E MAILOUT_SCAN="$MAILOUT_SCAN" "$BIN/mailout-smtpd" \
	2> >(grep --line-buffered -v -E '^(Communication attempt|Execing|Spawned|Child [0-9]+ died)' >&2) &
pids+=($!)
wait_port 2525 $! receiver || exit 1

(
	trap 'exit 0' TERM
	for _ in $(seq 1000000); do
		if [ -x "$BIN/mailout-deliver" ]; then
			"$BIN/mailout-deliver" -v >>"$RUN/log/deliver.log" 2>&1
		fi
		sleep 2 &
		wait $!
	done
) &
pids+=($!)

cat <<INFO

mailout is running (built in $BUILDDIR), everything under run/:
  receiver:  $LISTEN  mailout-smtpd per connection, built-in default config
             (run/etc/mailout/mailout.conf, if you create it, wins)
  scanner:   mailout-scan refuses executable attachments (554 5.7.1)
  spool:     run/var/spool/mailout/{new,deferred,state}   (ls, cat, grep)
  delivery:  mailout-deliver every 2 s, log in run/log/deliver.log
  gateway:   $GATEWAY (STARTTLS), log in run/log/gateway.log
  delivered: run/gateway/   (one .eml and one .json per message)

Try it, from another terminal:
  swaks --server $LISTEN --to you@example.org
  ls run/gateway/                                  # within a few seconds
  swaks --server $LISTEN --to you@example.org --attach-name setup.exe --attach @/bin/true
                                                   # refused: 554 5.7.1
  $BUILDDIR/bin/mailout-spool list                 # what waits

Stop: Ctrl-C here, or kill -TERM $$ (stops all three by pid).

INFO
if [ ! -x "$BIN/mailout-deliver" ]; then
	echo "run-local: $BIN/mailout-deliver is not built yet: mail stays in the spool"
fi
# Until one of the three ends (none should): then stop the others and
# say which one died.  -p (bash 5.1) names it; only our pids count, not
# the receiver's log filter.
died=
wait -n -p died "${pids[@]}"
rc=$?
case $died in
"${pids[0]}") what="the gateway (log: $RUN/log/gateway.log)" ;;
"${pids[1]}") what="the receiver (systemd-socket-activate; its log is above)" ;;
"${pids[2]}") what="the delivery loop (log: $RUN/log/deliver.log)" ;;
*) what="pid ${died:-?}" ;;
esac
echo "run-local: $what exited with status $rc" >&2
[ "$rc" -ne 0 ] || rc=1 # none of them may end on its own
cleanup "$rc"
