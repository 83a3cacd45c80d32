"""End-to-end: the relay stays closed.

Recipients outside relay_domains and every classic relay trick (source
route, %-hack, bang path, quoted local part with @, IP literal, look-alike
domains) get a 5xx at RCPT and nothing is queued.  A client in no class
gets 554 5.7.1 at the greeting.  The class whose network matches the
client most specifically applies, whatever the order in the file.
"""

import unittest

import harness

REFUSED = [
    'victim@evil.net',
    'victim@evil-example.org',
    'victim@example.org.evil.net',
    'victim@notexample.org',
    'victim@example.orgx',
    '@example.org:victim@evil.net',
    '@relay.test.example,@example.org:victim@evil.net',
    'victim%evil.net@example.org',
    'evil.net!victim@example.org',
    '"victim@evil.net"@example.org',
    '"victim@evil.net"',
    'victim@[192.0.2.1]',
    'victim@[127.0.0.1]',
    'victim@[IPv6:2001:db8::1]',
    'victim@evil.net@example.org',
    'victim@example.org@evil.net',
    'victim@evil.net.',
    'victim',
]

ACCEPTED = [
    'someone@example.org',
    'other@EXAMPLE.ORG',
    'someone@sub.example.org',
    'someone@a.b.example.org',
]


class Relay(harness.TestCase):

    def setUp(self):
        super().setUp()
        self.config()
        self.rcv = self.start_receiver('socket-activate-inetd')

    def test_tricks_refused_5xx_nothing_queued(self):
        for rcpt in REFUSED:
            with self.subTest(rcpt=rcpt):
                c = self.raw(self.rcv)
                c.expect(250, 'EHLO client.test.example')
                c.expect(250, 'MAIL FROM:<sender@example.org>')
                code, lines = c.cmd('RCPT TO:<%s>' % rcpt)
                self.assertEqual(code // 100, 5, '%s: %r' % (rcpt, lines))
                self.assertRegex(lines[-1], r'^5\d\d 5\.\d+\.\d+ ')
                code, lines = c.cmd('DATA')
                self.assertEqual(code // 100, 5, 'DATA without a recipient: %r' % lines)
                c.expect(221, 'QUIT')
        self.assert_spool_empty()

    def test_domain_outside_gets_550_5_7_1(self):
        c = self.raw(self.rcv)
        c.expect(250, 'EHLO client.test.example')
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        lines = c.expect(550, 'RCPT TO:<victim@evil-example.org>')
        self.assertTrue(lines[-1].startswith('550 5.7.1'), lines)

    def test_campus_domains_accepted(self):
        c = self.raw(self.rcv)
        c.expect(250, 'EHLO client.test.example')
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        for rcpt in ACCEPTED:
            c.expect(250, 'RCPT TO:<%s>' % rcpt)
        c.expect(354, 'DATA')
        c.send(harness.message('campus'))
        text = ' '.join(c.expect(250, '.'))
        qid = harness.QUEUE_ID_RE.search(text).group(1)
        msg = self.read_spool(qid)
        # The receiver may fold the domain's case; the recipients are the same.
        self.assertEqual([a.lower() for a in msg['to']], [a.lower() for a in ACCEPTED])

    def test_mixed_recipients_only_good_ones_queued(self):
        s = self.smtp(self.rcv)
        s.ehlo()
        s.mail('sender@example.org')
        self.assertEqual(s.rcpt('ok@example.org')[0], 250)
        self.assertEqual(s.rcpt('victim@evil.net')[0] // 100, 5)
        self.assertEqual(s.rcpt('victim%evil.net@example.org')[0] // 100, 5)
        code, text = s.data(harness.message('mixed'))
        self.assertEqual(code, 250, text)
        self.assert_queued(text.decode(), 'sender@example.org', ['ok@example.org'])

    def test_client_in_no_class_554_at_greeting(self):
        c = self.raw(self.rcv, source='127.0.0.3', greet=False)
        code, lines = c.reply()
        self.assertEqual(code, 554, lines)
        self.assertTrue(lines[-1].startswith('554 5.7.1'), lines)
        # Whatever the client says next, nothing is accepted.
        try:
            code, lines = c.cmd('MAIL FROM:<sender@example.org>')
            self.assertNotEqual(code // 100, 2, lines)
            code, lines = c.cmd('RCPT TO:<rcpt@example.org>')
            self.assertNotEqual(code // 100, 2, lines)
        except (EOFError, ConnectionError):
            pass
        self.assert_spool_empty()

    def test_swaks_from_outside_refused(self):
        rc, out = self.swaks(self.rcv, source='127.0.0.3')
        self.assertNotEqual(rc, 0, out)
        self.assertIn('554 5.7.1', out)
        self.assert_spool_empty()


class LongestPrefix(harness.TestCase):
    """wide: 127.0.0.0/8 requires TLS; narrow: 127.0.0.2/32 does not."""

    WIDE = {'networks': ['127.0.0.0/8'], 'require_tls': True, 'relay_domains': ['example.org']}
    NARROW = {'networks': ['127.0.0.2/32'], 'require_tls': False,
              'relay_domains': ['example.org']}
    MIDDLE = {'networks': ['127.0.0.0/24'], 'require_tls': False,
              'relay_domains': ['middle.example.org']}

    def mail_reply(self, rcv, source):
        c = self.raw(rcv, source=source)
        c.expect(250, 'EHLO client.test.example')
        code, lines = c.cmd('MAIL FROM:<sender@example.org>')
        if code == 250:
            code, lines = c.cmd('RCPT TO:<rcpt@example.org>')
        c.cmd('QUIT')
        return code, lines

    def check(self, clients):
        self.config(clients=clients)
        rcv = self.start_receiver('socket-activate-fds')
        code, lines = self.mail_reply(rcv, '127.0.0.2')
        self.assertEqual(code, 250, 'narrow class (/32) should apply: %r' % lines)
        code, lines = self.mail_reply(rcv, '127.0.0.4')
        self.assertEqual(code, 550, 'middle class (/24) should apply: %r' % lines)
        code, lines = self.mail_reply(rcv, '127.1.0.4')
        self.assertEqual(code, 530, 'wide class (/8) should apply: %r' % lines)
        self.stop(rcv.proc)

    def test_order_wide_first(self):
        self.check({'wide': self.WIDE, 'middle': self.MIDDLE, 'narrow': self.NARROW})

    def test_order_narrow_first(self):
        self.check({'narrow': self.NARROW, 'middle': self.MIDDLE, 'wide': self.WIDE})


if __name__ == '__main__':
    unittest.main()
