"""test_deliver_bounce.py - mailout-deliver queues its bounces over queue.socket

With queue.socket set and no $MAILOUT_QUEUE, a bounce goes to
mailout-queue --socket (one per connection, under systemd-socket-activate
on a unix socket in the test's directory, as mailout-queue.socket does).
Checks what a user would see: the DSN in new/ from <> to the sender,
delivered to the gateway by the next run; while the socket is down, the
recipient stays "failed" in the state file and the message waits in
deferred/ until a later run can queue the bounce.

Who decided each outcome is recorded with it, so a bounce never guesses:
the gateway's 550, or its 451 that outlived queue.lifetime, is reported
with Remote-MTA and "smtp;" even when the connection broke later in the
run (or the bounce is queued by a later run that never connected); a
lost connection is mailout's own ("X-mailout;", no Remote-MTA).
Run: MAILOUT_BIN=build/check/bin /usr/bin/python3 -m unittest test_deliver_bounce
(from tests/integration).
"""

import os
import shutil
import subprocess
import time
import unittest

import harness
from deliver_util import RUN_TIMEOUT, DeliverCase, parse_dsn
from harness import bin

MSG = b'Subject: hello\nFrom: <root@example.org>\nMessage-ID: <1@x>\n\nHi.\n'
BAD = 'bad@example.org=550 5.1.1 no such user'


class TestBounceOverSocket(DeliverCase):

    def setUp(self):
        super().setUp()
        if not shutil.which('systemd-socket-activate'):
            self.skipTest('systemd-socket-activate is not installed')
        self.qsock = os.path.join(self.tmp, 'queue.sock')

    def start_queue_socket(self):
        argv = ['systemd-socket-activate', '-l', self.qsock, '--accept', '--inetd',
                bin('mailout-queue'), '--socket', '-c', self.conf]
        p = self.start(argv, name='queue-socket')
        harness.wait_unix_listening(self.qsock, proc=p)
        return p

    def run_deliver(self, *args):
        """mailout-deliver with no $MAILOUT_QUEUE: the socket is the queue."""
        p = subprocess.run([bin('mailout-deliver'), '-c', self.conf, *args],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=self.env({'MAILOUT_QUEUE': ''}), timeout=RUN_TIMEOUT)
        log = p.stdout.decode(errors='replace')
        self.assertEqual(p.returncode, 0, log)
        return log

    def test_bounce_queued_over_the_socket(self):
        port, gw = self.gateway('--reply-rcpt', BAD)
        self.setup_conf(['[127.0.0.1]:%d' % port], queue={'socket': self.qsock})
        qsock = self.start_queue_socket()
        qid = self.queue('root@example.org', ['good@example.org', 'bad@example.org'], MSG)
        log = self.run_deliver()
        self.assertIn('status=bounced (550 5.1.1 no such user)', log)
        self.assertIn('bounce notification queued for <root@example.org>', log)
        # the socket's mailout-queue wrote it: the activator ran one
        self.assertIn('Execing', qsock.log_tail())
        (dsn_id,) = self.spool_new()
        self.assertNotEqual(dsn_id, qid)
        env = self.read_spool(dsn_id)
        self.assertEqual((env['from'], env['to']), ('', ['root@example.org']))
        self.run_deliver()
        got = self.received(gw)
        self.assertEqual([m['rcpt_tos'] for m, _ in got],
                         [['good@example.org'], ['root@example.org']])
        msg, groups = parse_dsn(got[1][1])
        self.assertEqual(msg.get_content_type(), 'multipart/report')
        self.assertEqual(groups[1]['final-recipient'], 'rfc822; bad@example.org')
        self.assertEqual(groups[1]['status'], '5.1.1')
        self.assert_spool_drained()

    def test_socket_down_keeps_failed_until_a_later_run(self):
        port, gw = self.gateway('--reply-rcpt', BAD)
        self.setup_conf(['[127.0.0.1]:%d' % port], queue={'socket': self.qsock})
        qid = self.queue('root@example.org', ['good@example.org', 'bad@example.org'], MSG)
        log = self.run_deliver()
        self.assertIn('cannot queue the bounce; will retry', log)
        self.assertEqual(self.spool_new(), [])
        self.assertEqual(self.spool_list('deferred'), [qid])
        self.assertRegex(self.state(qid), r'rcpt <bad@example.org> failed \d+ origin=gateway '
                         r'relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+ 550 5\.1\.1 ')
        self.start_queue_socket()
        self.run_deliver('--flush')
        self.assertEqual(self.spool_list('deferred'), [])
        (dsn_id,) = self.spool_new()
        dsn = self.read_spool(dsn_id)
        self.assertEqual(dsn['to'], ['root@example.org'])
        # this run never connected (nothing to send): the recorded relay
        # still names who said 550
        _, groups = parse_dsn(dsn['content'])
        self.assertEqual(groups[1]['remote-mta'], 'dns; 127.0.0.1')
        self.assertEqual(groups[1]['diagnostic-code'], 'smtp; 550 5.1.1 no such user')
        # the message itself went to the gateway once only
        self.assertEqual([m['rcpt_tos'] for m, _ in self.received(gw)], [['good@example.org']])


class TestWhoDecided(DeliverCase):
    """The gateway answers some recipients, then drops the connection
    during DATA: the bounce still names it for its own replies."""

    def bounce_groups(self):
        """The one bounce the run queued (new/ or, once tried, deferred/)."""
        ids = [(sub, i) for sub in ('new', 'deferred') for i in self.spool_list(sub)]
        dsns = [self.read_spool(i, sub) for sub, i in ids]
        dsns = [d for d in dsns if d['from'] == '']
        self.assertEqual(len(dsns), 1, ids)
        self.assertEqual(dsns[0]['to'], ['root@example.org'])
        _, groups = parse_dsn(dsns[0]['content'])
        return {g['final-recipient']: g for g in groups[1:]}

    def test_gateway_550_then_connection_lost(self):
        port, _ = self.gateway('--reply-rcpt', BAD, '--drop-in-data')
        self.setup_conf(['[127.0.0.1]:%d' % port])
        qid = self.queue('root@example.org', ['good@example.org', 'bad@example.org'], MSG)
        self.deliver()
        self.assertRegex(self.state(qid), r'rcpt <good@example.org> deferred \d+ origin=local '
                         r'relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d 451 4\.4\.2 lost connection' % port)
        groups = self.bounce_groups()
        self.assertEqual(list(groups), ['rfc822; bad@example.org'])
        g = groups['rfc822; bad@example.org']
        self.assertEqual(g['status'], '5.1.1')
        self.assertEqual(g['remote-mta'], 'dns; 127.0.0.1')
        self.assertEqual(g['diagnostic-code'], 'smtp; 550 5.1.1 no such user')

    def test_gateway_451_expires(self):
        port, _ = self.gateway('--reply-rcpt', 'slow@example.org=451 4.3.0 try later',
                               '--drop-in-data')
        self.setup_conf(['[127.0.0.1]:%d' % port], queue={'lifetime': '1s'})
        self.queue('root@example.org', ['good@example.org', 'slow@example.org'], MSG)
        time.sleep(1.2)
        self.deliver()
        groups = self.bounce_groups()
        self.assertEqual(sorted(groups), ['rfc822; good@example.org', 'rfc822; slow@example.org'])
        slow, good = groups['rfc822; slow@example.org'], groups['rfc822; good@example.org']
        # the gateway's own 451 outlived the lifetime: its words, its name
        self.assertEqual(slow['status'], '5.4.7')
        self.assertEqual(slow['remote-mta'], 'dns; 127.0.0.1')
        self.assertEqual(slow['diagnostic-code'], 'smtp; 451 4.3.0 try later')
        # the lost connection was ours to notice: nobody named as saying it
        self.assertEqual(good['status'], '5.4.7')
        self.assertNotIn('remote-mta', good)
        self.assertTrue(good['diagnostic-code'].startswith('X-mailout; lost connection with '),
                        good)

    def test_old_state_line_keeps_todays_rules(self):
        """A state line of an older deliverer (no origin=): a 4xx that
        expires while no session is up is reported as ours."""
        self.setup_conf(['[127.0.0.1]:%d' % harness.free_port()], queue={'lifetime': '1s'})
        qid = self.queue('root@example.org', ['slow@example.org'], MSG)
        os.makedirs(os.path.join(self.spool, 'state'), exist_ok=True)
        with open(os.path.join(self.spool, 'state', qid), 'w') as f:
            f.write('attempts 1\nfirst_attempt 1\nnext_attempt 1\nwarned 0\n'
                    'rcpt <slow@example.org> failed 1 451 4.4.1 mailout: connect failed\n')
        self.deliver()
        g = self.bounce_groups()['rfc822; slow@example.org']
        self.assertNotIn('remote-mta', g)
        self.assertEqual(g['diagnostic-code'], 'X-mailout; connect failed')


if __name__ == '__main__':
    unittest.main()
