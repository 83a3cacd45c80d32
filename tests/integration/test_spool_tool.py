"""test_spool_tool.py - mailout-spool on a real spool

Messages are put in the spool by the real mailout-queue (qmail-queue
protocol), and deferred by the real mailout-deliver against a gateway
port nobody listens on; then mailout-spool is run as an admin would and
the test looks at what the admin sees: exit codes, output (list --json
parsed with Python's json, stats --prometheus checked line by line
against the text exposition format) and where the files are.

Runs the programs from $MAILOUT_BIN (default build/check/bin) with
Debian's /usr/bin/python3; everything stays in a temporary directory and
every child runs under a timeout.
"""

import fcntl
import json
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deliver_util  # noqa: E402
import harness  # noqa: E402

TIMEOUT = 30
EX_OK, EX_USAGE, EX_NOINPUT, EX_TEMPFAIL = 0, 64, 66, 75
QUOTED = '"john \\"q\\" doe"@example.org'  # a quoted local part with quotes inside

# Prometheus text exposition format, one line at a time.
PROM_LINE = re.compile(
    r'^(# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*'
    r'|# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)'
    r'|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"'
    r'(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*\})? -?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)$')


class SpoolToolTest(harness.TestCase):

    def setUp(self):
        super().setUp()
        for prog in ('mailout-spool', 'mailout-queue'):
            if not harness.have_bin(prog):
                self.fail('%s is not built in %s' % (prog, harness.BIN_DIR))
        self.config(tls=False, gateway={'servers': ['[127.0.0.1]:%d' % harness.free_port()],
                                        'tls': 'none', 'command_timeout': '2s'})

    def queue(self, sender, *rcpts, body=b'Subject: t\n\nbody\n'):
        """One message through mailout-queue; returns its ID."""
        env_r, env_w = os.pipe()
        p = subprocess.Popen([harness.bin('mailout-queue')], stdin=subprocess.PIPE,
                             stdout=env_r, stderr=subprocess.PIPE, env=self.env())
        os.close(env_r)
        p.stdin.write(body)
        p.stdin.close()
        env = b'F' + sender.encode() + b'\0' + b''.join(b'T' + r.encode() + b'\0'
                                                       for r in rcpts) + b'\0'
        os.write(env_w, env)
        os.close(env_w)
        err = p.stderr.read()
        p.stderr.close()
        self.assertEqual(p.wait(TIMEOUT), 0, err)
        ids = [i for i in self.spool_new() if i not in getattr(self, '_seen', set())]
        self.assertEqual(len(ids), 1)
        self._seen = getattr(self, '_seen', set()) | set(ids)
        return ids[0]

    def spool_tool(self, *args):
        p = subprocess.run([harness.bin('mailout-spool')] + list(args), capture_output=True,
                           timeout=TIMEOUT, env=self.env())
        return p.returncode, p.stdout.decode('utf-8'), p.stderr.decode('utf-8', 'replace')

    def deliver(self, qid):
        """mailout-deliver against the dead gateway: qid deferred."""
        if not harness.have_bin('mailout-deliver'):
            self.skipTest('mailout-deliver is not built')
        p = subprocess.run([harness.bin('mailout-deliver')], capture_output=True,
                           timeout=TIMEOUT, env=self.env())
        if qid in self.spool_new():
            self.skipTest('mailout-deliver made no attempt (exit %d): %s' %
                          (p.returncode, p.stderr.decode('utf-8', 'replace')[-300:]))
        return p

    def defer(self, qid, attempts=1, delay=900, reply='451 4.4.1 gateway unreachable "x"'):
        """What one failed attempt of mailout-deliver leaves (mail_state.h
        format): state/ID written, new/ID moved to deferred/ID."""
        now = int(time.time())
        with open(os.path.join(self.spool, 'state', qid), 'w') as f:
            f.write('attempts %d\nfirst_attempt %d\nnext_attempt %d\nwarned 0\n'
                    'rcpt <alice@example.org> deferred %d %s\n' %
                    (attempts, now, now + delay, now, reply))
        os.rename(os.path.join(self.spool, 'new', qid),
                  os.path.join(self.spool, 'deferred', qid))

    def listing(self):
        code, out, err = self.spool_tool('list', '--json')
        self.assertEqual(code, EX_OK, err)
        return {m['id']: m for m in (json.loads(line) for line in out.splitlines())}

    def where(self, qid):
        return [d for d in ('new', 'deferred', 'hold') if qid in self.spool_list(d)]

    # -- list ------------------------------------------------------------

    def test_list_json_queued(self):
        a = self.queue('root@example.org', 'alice@example.org', QUOTED)
        b = self.queue('', 'bob@example.org')
        msgs = self.listing()
        self.assertEqual(sorted(msgs), sorted([a, b]))
        m = msgs[a]
        self.assertEqual(m['state'], 'queued')
        self.assertEqual(m['sender'], 'root@example.org')
        self.assertEqual([r['address'] for r in m['recipients']], ['alice@example.org', QUOTED])
        self.assertEqual({r['status'] for r in m['recipients']}, {'pending'})
        self.assertEqual(m['attempts'], 0)
        self.assertIsNone(m['next_attempt'])
        self.assertIsNone(m['last_error'])
        self.assertEqual(m['size'], len(b'Subject: t\n\nbody\n'))
        self.assertLessEqual(abs(m['queued_at'] - time.time()), 60)
        self.assertEqual(msgs[b]['sender'], '')
        code, out, err = self.spool_tool('list')
        self.assertEqual(code, EX_OK, err)
        self.assertIn(a, out)
        self.assertIn('<bob@example.org>', out)

    def test_list_deferred(self):
        qid = self.queue('root@example.org', 'alice@example.org', 'bob@example.org')
        self.defer(qid, attempts=2)
        m = self.listing()[qid]
        self.assertEqual(m['state'], 'deferred')
        self.assertEqual(m['attempts'], 2)
        self.assertGreater(m['next_attempt'], time.time())
        self.assertEqual([(r['address'], r['status']) for r in m['recipients']],
                         [('alice@example.org', 'deferred'), ('bob@example.org', 'pending')])
        self.assertEqual(m['last_error'], '451 4.4.1 gateway unreachable "x"')
        self.assertEqual(m['recipients'][0]['reply'], m['last_error'])
        # a state line without origin= and relay= (an older deliverer)
        self.assertEqual((m['recipients'][0]['relay'], m['recipients'][0]['origin']),
                         (None, None))
        self.assertEqual((m['recipients'][1]['relay'], m['recipients'][1]['origin']),
                         (None, None))

    def test_list_after_a_real_attempt(self):
        qid = self.queue('root@example.org', 'alice@example.org')
        self.deliver(qid)
        self.assertEqual(self.where(qid), ['deferred'])
        m = self.listing()[qid]
        self.assertEqual((m['state'], m['attempts']), ('deferred', 1))
        self.assertEqual(m['recipients'][0]['status'], 'deferred')
        self.assertRegex(m['last_error'] or '', r'^4\d\d ')

    # -- actions ---------------------------------------------------------

    def test_hold_release(self):
        qid = self.queue('root@example.org', 'alice@example.org')
        code, out, err = self.spool_tool('hold', qid)
        self.assertEqual(code, EX_OK, err)
        self.assertEqual(self.where(qid), ['hold'])
        self.assertEqual(self.listing()[qid]['state'], 'held')
        # a held message is not attempted, not even by --flush
        self.assertTrue(harness.have_bin('mailout-deliver'), 'mailout-deliver is not built')
        p = subprocess.run([harness.bin('mailout-deliver'), '--flush'], capture_output=True,
                           timeout=TIMEOUT, env=self.env())
        self.assertEqual(p.returncode, EX_OK, p.stderr.decode('utf-8', 'replace'))
        self.assertEqual(self.where(qid), ['hold'])
        self.assertEqual(self.listing()[qid]['attempts'], 0)
        code, out, err = self.spool_tool('release', qid)
        self.assertEqual(code, EX_OK, err)
        self.assertEqual(self.where(qid), ['deferred'])
        m = self.listing()[qid]
        self.assertEqual(m['state'], 'deferred')
        self.assertTrue(m['next_attempt'] is None or m['next_attempt'] <= time.time())

    def test_retry_makes_deferred_due(self):
        qid = self.queue('root@example.org', 'alice@example.org')
        self.defer(qid)
        self.assertGreater(self.listing()[qid]['next_attempt'], time.time())
        code, out, err = self.spool_tool('retry', qid)
        self.assertEqual(code, EX_OK, err)
        self.assertLessEqual(self.listing()[qid]['next_attempt'], time.time())
        with open(os.path.join(self.spool, 'state', qid)) as f:
            self.assertIn('attempts 1', f.read())

    def test_delete(self):
        qid = self.queue('root@example.org', 'alice@example.org')
        self.defer(qid)
        self.assertTrue(os.path.exists(os.path.join(self.spool, 'state', qid)))
        code, out, err = self.spool_tool('delete', qid)
        self.assertEqual(code, EX_OK, err)
        self.assertEqual(self.where(qid), [])
        self.assertFalse(os.path.exists(os.path.join(self.spool, 'state', qid)))
        code, out, err = self.spool_tool('delete', qid)
        self.assertEqual(code, EX_NOINPUT)

    def test_busy_message_is_not_touched(self):
        """The deliverer's flock held: every action says busy (75)."""
        qid = self.queue('root@example.org', 'alice@example.org')
        with open(os.path.join(self.spool, 'new', qid), 'rb') as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            for action in ('hold', 'delete', 'retry'):
                code, out, err = self.spool_tool(action, qid)
                self.assertEqual(code, EX_TEMPFAIL, action)
                self.assertIn('busy', err)
            self.assertEqual(self.where(qid), ['new'])
        code, out, err = self.spool_tool('hold', qid)
        self.assertEqual(code, EX_OK, err)

    def test_unknown_and_malicious_ids(self):
        for bad in ('0000000000000000.AAAAAAAAAAAA', '../../../etc/passwd', 'new', ''):
            code, out, err = self.spool_tool('hold', bad)
            self.assertEqual(code, EX_NOINPUT, bad)
            code, out, err = self.spool_tool('show', bad)
            self.assertEqual(code, EX_NOINPUT, bad)

    def test_show(self):
        qid = self.queue('root@example.org', 'alice@example.org',
                         body=b'Subject: shown\n\nthe body\n')
        code, out, err = self.spool_tool('show', qid)
        self.assertEqual(code, EX_OK, err)
        self.assertIn('State: queued', out)
        self.assertIn('Envelope-To: <alice@example.org>', out)
        self.assertTrue(out.endswith('Subject: shown\n\nthe body\n'), out)

    USAGE_ERRORS = ([], ['--help'], ['-h'], ['-x', 'list'], ['--frob', 'list'], ['-c'],
                    ['list', '--xml'], ['list', '--json', 'x'], ['list', '--prometheus'],
                    ['frobnicate'], ['hold'], ['retry', '--all'], ['delete', 'x', '-f'],
                    ['show'], ['show', 'a', 'b'], ['show', '--raw', 'a'],
                    ['stats', '--csv'], ['stats', '--json', '--prometheus'])

    def test_usage(self):
        for args in self.USAGE_ERRORS:
            code, out, err = self.spool_tool(*args)
            self.assertEqual(code, EX_USAGE, args)
            self.assertIn('usage: mailout-spool', err, args)
            self.assertEqual(out, '', args)

    def test_usage_before_the_spool_is_opened(self):
        """A bad command line is a usage error (64) even where the spool is
        missing: the arguments are checked before the spool is opened."""
        conf = self.write_config(self.render_config(
            spool=os.path.join(self.tmp, 'no-such-spool'), tls=False), name='nospool.conf')
        for args in self.USAGE_ERRORS:
            code, out, err = self.spool_tool('-c', conf, *args)
            self.assertEqual(code, EX_USAGE, args)
            self.assertIn('usage: mailout-spool', err, args)
            self.assertNotIn('no-such-spool', err, args)
        # a good command line meets the missing spool: temporary (75)
        for args in (['list'], ['-c%s' % conf, 'stats', '--json'], ['hold', 'x']):
            if not args[0].startswith('-c'):
                args = ['-c', conf] + args
            code, out, err = self.spool_tool(*args)
            self.assertEqual(code, EX_TEMPFAIL, args)
            self.assertIn('no-such-spool', err, args)

    # -- stats -----------------------------------------------------------

    def test_stats_prometheus(self):
        a = self.queue('root@example.org', 'alice@example.org')
        self.queue('root@example.org', 'bob@example.org')
        self.assertEqual(self.spool_tool('hold', a)[0], EX_OK)
        with open(os.path.join(self.spool, 'counters'), 'w') as f:
            f.write('delivered 7\nbounced 2\ndeferred 3\n')
        code, out, err = self.spool_tool('stats', '--prometheus')
        self.assertEqual(code, EX_OK, err)
        values = {}
        for line in out.splitlines():
            self.assertRegex(line, PROM_LINE)
            if not line.startswith('#'):
                name, value = line.rsplit(' ', 1)
                values[name] = float(value)
        self.assertEqual(values['mailout_queue_messages{state="queued"}'], 1)
        self.assertEqual(values['mailout_queue_messages{state="held"}'], 1)
        self.assertEqual(values['mailout_queue_messages{state="deferred"}'], 0)
        self.assertEqual(values['mailout_delivered_total'], 7)
        self.assertEqual(values['mailout_bounced_total'], 2)
        self.assertGreaterEqual(values['mailout_queue_oldest_message_age_seconds'], 0)
        self.assertGreater(values['mailout_queue_size_bytes'], 0)
        code, out, err = self.spool_tool('stats', '--json')
        self.assertEqual(code, EX_OK, err)
        s = json.loads(out)
        self.assertEqual((s['queued'], s['held'], s['delivered']), (1, 1, 7))


class FailedStatus(deliver_util.DeliverCase):
    """A recipient the gateway refused (5xx) whose bounce could not be
    queued yet: the state file says "failed", the message waits in
    deferred/ for the bounce, and mailout-spool shows all of it."""

    def spool_tool(self, *args):
        p = subprocess.run([harness.bin('mailout-spool'), '-c', self.conf] + list(args),
                           capture_output=True, timeout=TIMEOUT, env=self.env())
        self.assertEqual(p.returncode, EX_OK, p.stderr.decode('utf-8', 'replace'))
        return p.stdout.decode('utf-8')

    def test_failed_recipient_until_the_bounce_is_queued(self):
        port, gw = self.gateway('--reply-rcpt', 'gone@example.org=550 5.1.1 no such user')
        self.setup_conf(['[127.0.0.1]:%d' % port])
        qid = self.queue('root@example.org', ['ok@example.org', 'gone@example.org'],
                         b'Subject: f\n\nf\n')
        # mailout-queue refuses the bounce (as when the disk is full)
        p = subprocess.run([harness.bin('mailout-deliver'), '-c', self.conf],
                           capture_output=True, timeout=TIMEOUT,
                           env=self.env({'MAILOUT_QUEUE': '/bin/false'}))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b'cannot queue the bounce', p.stderr)
        self.assertEqual(self.spool_list('deferred'), [qid])
        self.assertRegex(self.state(qid), r'rcpt <gone@example.org> failed \d+ origin=gateway '
                         r'relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+ 550 5\.1\.1 ')

        (m,) = [json.loads(line) for line in self.spool_tool('list', '--json').splitlines()]
        self.assertEqual(m['state'], 'deferred')
        self.assertEqual([(r['address'], r['status']) for r in m['recipients']],
                         [('ok@example.org', 'sent'), ('gone@example.org', 'failed')])
        self.assertEqual(m['recipients'][1]['reply'], '550 5.1.1 no such user')
        relay = '127.0.0.1[127.0.0.1]:%d' % port
        self.assertEqual([(r['relay'], r['origin']) for r in m['recipients']],
                         [(relay, 'gateway'), (relay, 'gateway')])
        self.assertEqual(m['last_error'], '550 5.1.1 no such user')
        self.assertEqual(m['attempts'], 1)
        self.assertIsNotNone(m['next_attempt'])
        table = self.spool_tool('list')
        self.assertIn('<ok@example.org>(sent) <gone@example.org>(failed)', table)
        show = self.spool_tool('show', qid)
        self.assertIn('State: deferred', show)
        self.assertRegex(show, r'gone@example.org.*failed.*550 5\.1\.1 no such user')
        self.assertIn('Recipient-Relay: <gone@example.org> %s (gateway)\n' % relay, show)
        stats = json.loads(self.spool_tool('stats', '--json'))
        self.assertEqual((stats['queued'], stats['deferred'], stats['held']), (0, 1, 0))
        self.assertEqual((stats['delivered'], stats['bounced']), (1, 0))

        # the next run queues the bounce and never sends the message again
        self.deliver('--flush')
        self.assertEqual(self.spool_list('deferred'), [])
        self.assertEqual(self.spool_list('state'), [])
        (bounce,) = self.spool_new()
        self.assertEqual(self.read_spool(bounce)['to'], ['root@example.org'])
        self.assertEqual([meta['rcpt_tos'] for meta, _ in self.received(gw)],
                         [['ok@example.org']])
        stats = json.loads(self.spool_tool('stats', '--json'))
        self.assertEqual((stats['queued'], stats['deferred']), (1, 0))
        self.assertEqual((stats['delivered'], stats['bounced']), (1, 1))


if __name__ == '__main__':
    unittest.main()
