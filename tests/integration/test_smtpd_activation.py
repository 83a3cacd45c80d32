"""End-to-end: mailout-smtpd under each socket activator, with real clients.

systemd-socket-activate (--inetd: stdin/stdout; without: LISTEN_FDS, fd 3)
and tcpserver (UCSPI) each start one mailout-smtpd per connection; swaks,
msmtp and smtplib each send one message, which must land in new/ with the
envelope and content sent, under the queue ID that the reply names.
"""

import re
import unittest

import harness
from harness import CLIENT, ID_PATTERN, QUEUE_ID_RE

MODES = ('socket-activate-inetd', 'socket-activate-fds', 'tcpserver')


class Activation(harness.TestCase):

    def send_swaks(self, rcv, tag):
        rc, out = self.swaks(rcv, '--header', 'Subject: swaks ' + tag,
                             '--body', 'body from swaks %s\n.leading dot\n' % tag,
                             to='rcpt@example.org')
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r'250 2\.0\.0 Ok: queued as ' + ID_PATTERN)
        msg = self.assert_queued(out, 'sender@example.org', ['rcpt@example.org'],
                                 body_contains=b'body from swaks ' + tag.encode())
        # Dot-stuffing is undone: the stored line starts with one dot.
        self.assertIn(b'\n.leading dot\n', msg['content'])
        return msg

    def send_msmtp(self, rcv, tag):
        body = harness.message('msmtp ' + tag, 'body from msmtp %s\n' % tag)
        rc, out = self.msmtp(rcv, body, '--tls=off', sender='cron@example.org',
                             to=('a@example.org', 'b@sub.example.org'))
        self.assertEqual(rc, 0, out)
        return self.assert_queued(out, 'cron@example.org', ['a@example.org', 'b@sub.example.org'],
                                  body_contains=b'body from msmtp ' + tag.encode())

    def send_smtplib(self, rcv, tag):
        s = self.smtp(rcv)
        code, _ = s.ehlo()
        self.assertEqual(code, 250)
        self.assertEqual(s.mail('printer@example.org')[0], 250)
        self.assertEqual(s.rcpt('admin@example.org')[0], 250)
        code, text = s.data(harness.message('smtplib ' + tag, 'body from smtplib %s\n' % tag))
        text = text.decode()
        self.assertEqual(code, 250, text)
        self.assertTrue(text.startswith('2.0.0 Ok: queued as '), text)
        msg = self.assert_queued(text, 'printer@example.org', ['admin@example.org'],
                                 body_contains=b'body from smtplib ' + tag.encode())
        self.assertEqual(s.quit()[0], 221)
        return msg

    def check_canonical(self, msg):
        content = msg['content']
        self.assertNotIn(b'\r', content, 'content is not stored with LF line ends')
        hdrs = harness.headers_of(content)
        self.assertEqual(hdrs[0][0].lower(), 'received', 'first header is not Received:')
        self.assertIn(CLIENT, hdrs[0][1])
        self.assertIn(msg['id'], hdrs[0][1], 'Received: does not name the queue ID')

    def test_each_client_under_each_activator(self):
        for mode in MODES:
            rcv = self.start_receiver(mode)
            for name, send in (('swaks', self.send_swaks), ('msmtp', self.send_msmtp),
                               ('smtplib', self.send_smtplib)):
                with self.subTest(mode=mode, client=name):
                    before = set(self.spool_new())
                    msg = send(rcv, '%s-%s' % (mode, name))
                    self.assertEqual(set(self.spool_new()) - before, {msg['id']},
                                     'exactly one new spool file')
                    self.check_canonical(msg)
                    self.assertEqual(msg['version'], '1')
            rcv.wait_no_session()
            self.stop(rcv.proc)
        self.assertEqual(len(self.spool_new()), len(MODES) * 3)

    def test_ids_are_distinct_and_sortable(self):
        rcv = self.start_receiver('socket-activate-inetd')
        ids = []
        s = self.smtp(rcv)
        s.ehlo()
        for i in range(5):
            self.assertEqual(s.mail('sender@example.org')[0], 250)
            self.assertEqual(s.rcpt('rcpt@example.org')[0], 250)
            code, text = s.data(harness.message('n%d' % i))
            self.assertEqual(code, 250)
            ids.append(QUEUE_ID_RE.search(text.decode()).group(1))
        s.quit()
        self.assertEqual(len(set(ids)), 5)
        self.assertEqual(sorted(ids), ids, 'queue IDs do not sort by time')
        self.assertEqual(self.spool_new(), sorted(ids))

    def test_ipv6_loopback(self):
        clients = dict(harness.DEFAULT_CLIENTS)
        clients['v6'] = {'networks': ['::1/128'], 'require_tls': False,
                         'relay_domains': ['example.org']}
        self.config(clients=clients)
        rcv = self.start_receiver('socket-activate-fds', addr='::1')
        s = self.smtp(rcv, source='::1')
        s.ehlo()
        self.assertEqual(s.mail('v6@example.org')[0], 250)
        self.assertEqual(s.rcpt('rcpt@example.org')[0], 250)
        code, text = s.data(harness.message('v6'))
        self.assertEqual(code, 250, text)
        msg = self.assert_queued(text.decode(), 'v6@example.org', ['rcpt@example.org'])
        self.assertIn('::1', harness.headers_of(msg['content'])[0][1])

    def test_tcpserver_environment_names_the_client(self):
        # Under tcpserver the client address may come from TCPREMOTEIP;
        # either way the Received: header must name the real peer.
        rcv = self.start_receiver('tcpserver')
        rc, out = self.swaks(rcv)
        self.assertEqual(rc, 0, out)
        msg = self.assert_queued(out, 'sender@example.org', ['rcpt@example.org'])
        received = harness.headers_of(msg['content'])[0][1]
        self.assertTrue(re.search(r'\[?127\.0\.0\.2\]?', received), received)


if __name__ == '__main__':
    unittest.main()
