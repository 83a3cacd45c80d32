"""Delivery started by cron, the timer and the .path unit at once.

On a host where the admin keeps the crontab line and also enables the
systemd units, three mailout-deliver runs can start in the same second
(and an admin may type `sendmail -q` too).  The spool has 200 messages
queued by the real mailout-queue; the runs are released together from a
FIFO barrier.  What the admin must see: every message reaches the
gateway exactly once, exactly one "status=sent" log line per message
across all runs, every run exits 0, no run prints a warning or error,
and the spool is empty afterwards.
"""

import os
import re
import subprocess
import time
import unittest

import deliver_util
import harness
from harness import ID_PATTERN, bin

N = 200
SENT_RE = re.compile(r'(' + ID_PATTERN + r'): to=<([^>]*)>, relay=\S+, delay=\d+, status=sent \(')
BAD_RE = re.compile(r'\b(warning|fatal|panic|error):|AddressSanitizer|runtime error', re.I)


class CronTimerPath(deliver_util.DeliverCase):

    def start_together(self, argvs):
        """Start each argv behind one FIFO; release them all at once.
        Returns [(name, Popen, stderr path)]."""
        fifo = os.path.join(self.tmp, 'barrier')
        os.mkfifo(fifo)
        runs = []
        for name, argv in argvs:
            err = os.path.join(self.tmp, 'run-%s.err' % name)
            shell = 'read _ < "$0"; exec "$@"'
            with open(err + '.out', 'wb') as out, open(err, 'wb') as errf:
                p = subprocess.Popen(['/bin/sh', '-c', shell, fifo] + argv,
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=errf,
                                     env=self.env(), start_new_session=True)
            self.addCleanup(_reap, p)
            runs.append((name, p, err))
        # Every reader must be blocked in open() before the writer opens.
        harness.wait_for(lambda: all(_blocked_on_fifo(p.pid) for _, p, _ in runs),
                         what='the runs to wait at the barrier')
        with open(fifo, 'w'):
            pass
        return runs

    def queue_many(self, n):
        for i in range(n):
            self.queue('cron@example.org', ['admin@example.org'],
                       b'Subject: cron %d\nX-Seq: %d\n\nbody %d\n' % (i, i, i))
        self.assertEqual(len(self.spool_new()), n)

    def test_three_runs_at_once_deliver_each_message_once(self):
        port, gw = self.gateway()
        self.setup_conf(['[127.0.0.1]:%d' % port], gateway={'connections': 2})
        self.queue_many(N)
        ids = set(self.spool_new())
        deliver = bin('mailout-deliver')
        runs = self.start_together([
            ('cron', [deliver, '-c', self.conf]),
            ('timer', [deliver, '-c', self.conf]),
            ('path', [deliver, '-c', self.conf]),
        ])
        self.check_runs(runs, ids, gw)

    def test_sendmail_q_joins_a_running_delivery(self):
        # `sendmail -q` by hand (mailout-deliver --flush) while cron's run
        # and the .path unit's run are going.
        port, gw = self.gateway()
        self.setup_conf(['[127.0.0.1]:%d' % port], gateway={'connections': 2})
        self.queue_many(N // 2)
        ids = set(self.spool_new())
        deliver = bin('mailout-deliver')
        runs = self.start_together([
            ('cron', [deliver, '-c', self.conf]),
            ('path', [deliver, '-c', self.conf]),
            ('sendmail-q', [bin('mailout-sendmail'), '-c', self.conf, '-q']),
        ])
        self.check_runs(runs, ids, gw)

    def check_runs(self, runs, ids, gw):
        sent = {}
        deadline = time.monotonic() + deliver_util.RUN_TIMEOUT * 2
        for name, p, err in runs:
            rc = p.wait(timeout=max(1, deadline - time.monotonic()))
            with open(err, 'rb') as f:
                log = f.read().decode('utf-8', 'replace')
            self.assertEqual(rc, 0, 'run %s exited %s:\n%s' % (name, rc, log[-3000:]))
            bad = [ln for ln in log.splitlines() if BAD_RE.search(ln)]
            self.assertEqual(bad, [], 'run %s is not quiet' % name)
            for m in SENT_RE.finditer(log):
                sent.setdefault(m.group(1), []).append(name)
        self.by_run = {name: sum(1 for v in sent.values() if name in v) for name, _, _ in runs}
        # The gateway got each message exactly once.
        seqs = []
        for _, data in self.received(gw):
            m = re.search(rb'^X-Seq: (\d+)\r?$', data, re.M)
            self.assertIsNotNone(m, 'a message without X-Seq reached the gateway')
            seqs.append(int(m.group(1)))
        self.assertEqual(sorted(seqs), list(range(len(ids))),
                         'gateway: each message once (sent lines per run: %r)' % self.by_run)
        # One sent line per message, whichever run sent it.
        twice = {k: v for k, v in sent.items() if len(v) != 1}
        self.assertEqual(twice, {}, 'messages logged as sent more than once')
        self.assertEqual(set(sent), ids, 'every queue ID has its sent line')
        self.assert_spool_drained()


def _blocked_on_fifo(pid):
    """The shell has opened nothing yet: it waits in open() on the FIFO."""
    try:
        with open('/proc/%d/wchan' % pid) as f:
            wchan = f.read()
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            cmd = f.read()
    except OSError:
        return False
    return cmd.startswith(b'/bin/sh') and wchan in ('fifo_open', 'pipe_wait', 'wait_for_partner')


def _reap(p):
    if p.poll() is None:
        try:
            os.killpg(p.pid, 9)
        except OSError:
            pass
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        pass


if __name__ == '__main__':
    unittest.main()
