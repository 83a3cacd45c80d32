#!/bin/sh
# accept.sh [BUILDDIR] - how fast does the receiver accept mail?  (by hand, not in make check)
#
# Under systemd-socket-activate and tcpserver, on loopback:
#   - one connection sending N messages (default 1000)
#   - N connections of one message each, 10 at a time
#   - peak RSS (VmHWM) of one mailout-smtpd paused in the middle of DATA
#     after 1 MB of content
# Each message goes all the way to new/ (fsync included), in a spool in a
# temporary directory that is removed afterwards.  Use a build without
# sanitizers (plain `make`), else you measure ASan.
#   N=200 tests/bench/accept.sh build
set -eu
# shellcheck source=tests/bench/common.sh
. "$(dirname "$0")/common.sh"
bench_setup 1000 "${1:-build}" mailout-smtpd mailout-queue
exec /usr/bin/python3 - <<'PY'
import concurrent.futures, os, shutil, smtplib, sys, tempfile, time
import harness

N = int(os.environ['N'])
MSG = harness.message('bench', 'A line of a small message.\n' * 20)


class Bench(harness.TestCase):
    def runTest(self):
        pass


def one_connection(rcv, n):
    s = smtplib.SMTP(rcv.addr, rcv.port, source_address=('127.0.0.2', 0), timeout=30)
    s.ehlo('bench.test.example')
    t = time.monotonic()
    for _ in range(n):
        s.mail('bench@example.org')
        s.rcpt('rcpt@example.org')
        code, text = s.data(MSG)
        if code != 250:
            raise SystemExit('refused: %d %s' % (code, text))
    dt = time.monotonic() - t
    s.quit()
    return n / dt


def one_message(rcv):
    s = smtplib.SMTP(rcv.addr, rcv.port, source_address=('127.0.0.2', 0), timeout=30)
    s.ehlo('bench.test.example')
    s.mail('bench@example.org')
    s.rcpt('rcpt@example.org')
    code, text = s.data(MSG)
    s.quit()
    if code != 250:
        raise SystemExit('refused: %d %s' % (code, text))


def many_connections(rcv, n):
    t = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(10) as ex:
        for f in [ex.submit(one_message, rcv) for _ in range(n)]:
            f.result()
    return n / (time.monotonic() - t)


def peak_rss(rcv):
    c = harness.RawClient(rcv.port, rcv.addr, '127.0.0.2', 30)
    c.expect(220)
    c.expect(250, 'EHLO bench.test.example')
    c.expect(250, 'MAIL FROM:<bench@example.org>')
    c.expect(250, 'RCPT TO:<rcpt@example.org>')
    c.expect(354, 'DATA')
    c.send(b'Subject: big\r\n\r\n' + (b'x' * 998 + b'\r\n') * 1050)
    time.sleep(0.5)
    pids = rcv.sessions()
    kb = 0
    for pid in pids:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    kb = max(kb, int(line.split()[1]))
    c.send(b'.\r\n')
    c.expect(250)
    c.close()
    return kb


def clear(spool):
    d = os.path.join(spool, 'new')
    for n in os.listdir(d):
        os.unlink(os.path.join(d, n))


b = Bench()
b.setUp()
rows = []
try:
    b.config()
    for mode in ('socket-activate-inetd', 'tcpserver'):
        rcv = b.start_receiver(mode, listener='plain')
        a = one_connection(rcv, N)
        clear(b.spool)
        m = many_connections(rcv, N)
        clear(b.spool)
        r = peak_rss(rcv)
        clear(b.spool)
        b.stop(rcv.proc)
        rows.append((mode, a, m, r))
finally:
    b.doCleanups()

print('%d messages of %d bytes each, fsynced into new/ on %s' % (N, len(MSG), os.uname().nodename))
print('%-24s %18s %22s %16s' % ('activator', '1 conn (msg/s)', '%d conns x 1 (msg/s)' % N,
                                   'smtpd VmHWM (kB)'))
for mode, a, m, r in rows:
    print('%-24s %18.1f %22.1f %16d' % (mode, a, m, r))
PY
