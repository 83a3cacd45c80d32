"""test_deliver_bounce.py - mailout-deliver queues its bounces over queue.socket

With queue.socket set and no $MAILOUT_QUEUE, a bounce goes to
mailout-queue --socket (one per connection, under systemd-socket-activate
on a unix socket in the test's directory, as mailout-queue.socket does).
Checks what a user would see: the DSN in new/ from <> to the sender,
delivered to the gateway by the next run; while the socket is down, the
recipient stays "failed" in the state file and the message waits in
deferred/ until a later run can queue the bounce.
Run: MAILOUT_BIN=build/check/bin /usr/bin/python3 -m unittest test_deliver_bounce
(from tests/integration).
"""

import os
import shutil
import subprocess
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
        harness.wait_for(lambda: os.path.exists(self.qsock), what='the queue socket')
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
        self.assertEqual(self.read_spool(dsn_id)['to'], ['root@example.org'])
        # the message itself went to the gateway once only
        self.assertEqual([m['rcpt_tos'] for m, _ in self.received(gw)], [['good@example.org']])


if __name__ == '__main__':
    unittest.main()
