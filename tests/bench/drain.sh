#!/bin/sh
# drain.sh [BUILDDIR] - how fast does mailout-deliver drain the spool?  (by hand, not in make check)
#
# Queues N messages (default 5000) with the real mailout-queue, then times
# one mailout-deliver run to a local gateway on loopback, with
# gateway.connections = 1 and = 4.  The gateway is Postfix's smtp-sink
# when installed (apt-get install postfix; keep the postfix service
# stopped), else tests/peers/gateway.py (aiosmtpd: slower, it may be the
# limit).  A warm-up run of 20 messages comes first.  Prints messages/second.  Use a build without sanitizers:
#   make BUILD=build/bench && N=2000 tests/bench/drain.sh build/bench
set -eu
# shellcheck source=tests/bench/common.sh
. "$(dirname "$0")/common.sh"
bench_setup 5000 "${1:-build}" mailout-deliver mailout-queue
exec /usr/bin/python3 - <<'PY'
import concurrent.futures, os, shutil, subprocess, time
import harness
from deliver_util import DeliverCase

N = int(os.environ['N'])
BODY = b'Subject: bench\nFrom: <bench@example.org>\n\n' + b'A line of a small message.\n' * 20


class Bench(DeliverCase):
    def runTest(self):
        pass

    def sink(self):
        port = harness.free_port()
        if shutil.which('smtp-sink'):
            p = self.start(['smtp-sink', '-u', 'nobody', '-c', '127.0.0.1:%d' % port, '1000'], name='smtp-sink')
            harness.wait_listening(port, proc=p)
            return port, 'smtp-sink'
        return self.gateway(port=port)[0], 'aiosmtpd'

    def fill(self, n):
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            list(ex.map(lambda i: self.queue('bench@example.org', ['a@example.org'], BODY),
                        range(n)))

    def drain(self, port, conns, n=N):
        self.setup_conf(['[127.0.0.1]:%d' % port], gateway={'connections': conns})
        self.fill(n)
        t = time.monotonic()
        subprocess.run([harness.bin('mailout-deliver'), '-c', self.conf], check=True,
                       stderr=subprocess.DEVNULL, env=self.env(), timeout=3600)
        dt = time.monotonic() - t
        left = len(self.spool_new()) + len(self.spool_list('deferred'))
        return dt, left


b = Bench()
b.setUp()
try:
    port, kind = b.sink()
    b.drain(port, 1, 20)  # warm-up: the first run pays for the gateway's start
    for conns in [int(c) for c in os.environ.get("CONNS", "1 4").split()]:
        dt, left = b.drain(port, conns)
        print('drain: %d messages, %d connection(s), gateway %s: %.1f s, %.0f messages/s%s'
              % (N, conns, kind, dt, N / dt, ', %d left in the spool' % left if left else ''))
finally:
    b.doCleanups()
PY
