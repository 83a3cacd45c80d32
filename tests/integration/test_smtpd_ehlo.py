"""End-to-end: what EHLO advertises, and SMTPUTF8 addresses.

The receiver's EHLO reply names PIPELINING, SIZE (limits.message_size),
8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8 and CHUNKING; STARTTLS only on a
STARTTLS listener with a certificate, and never again inside TLS
(RFC 3207 4.2).  A UTF-8 address is queued when MAIL says SMTPUTF8
(RFC 6531 3.4) and refused with 553 5.6.7 without it.
"""

import unittest

import harness

BASE = ('PIPELINING', 'SIZE', '8BITMIME', 'ENHANCEDSTATUSCODES', 'SMTPUTF8', 'CHUNKING')


def keywords(lines):
    """The EHLO keywords (first word of each line after the greeting)."""
    return [ln[4:].split(' ')[0].upper() for ln in lines[1:]]


class Ehlo(harness.TestCase):

    def ehlo(self, c):
        lines = c.expect(250, 'EHLO client.test.example')
        self.assertTrue(all(ln.startswith('250-') for ln in lines[:-1]), lines)
        self.assertTrue(lines[-1].startswith('250 '), lines)
        return lines

    def test_starttls_listener_with_certificate(self):
        self.config(limits={'message_size': '1M'})
        rcv = self.start_receiver(listener='smtp')
        c = self.raw(rcv)
        lines = self.ehlo(c)
        kw = keywords(lines)
        for k in BASE + ('STARTTLS',):
            self.assertIn(k, kw, lines)
        self.assertIn('250-SIZE 1048576', lines)
        self.assertNotIn('AUTH', kw, 'AUTH outside TLS: %r' % lines)
        c.expect(220, 'STARTTLS')
        c.starttls()
        lines = self.ehlo(c)
        kw = keywords(lines)
        for k in BASE:
            self.assertIn(k, kw, lines)
        self.assertNotIn('STARTTLS', kw, 'STARTTLS offered inside TLS: %r' % lines)
        self.assertIn('250-SIZE 1048576', lines)

    def test_no_starttls_without_certificate(self):
        self.config(tls=False)
        rcv = self.start_receiver(listener='smtp')
        lines = self.ehlo(self.raw(rcv))
        kw = keywords(lines)
        for k in BASE:
            self.assertIn(k, kw, lines)
        self.assertNotIn('STARTTLS', kw, lines)

    def test_no_starttls_on_a_plain_listener(self):
        self.config()
        rcv = self.start_receiver(listener='plain')
        lines = self.ehlo(self.raw(rcv))
        self.assertNotIn('STARTTLS', keywords(lines), lines)
        self.assertIn('CHUNKING', keywords(lines), lines)

    def test_implicit_tls_listener(self):
        self.config()
        rcv = self.start_receiver(listener='smtps')
        s = self.smtp(rcv, ssl_wrap=True)
        code, _ = s.ehlo()
        self.assertEqual(code, 250)
        for k in BASE:
            self.assertTrue(s.has_extn(k.lower()), s.esmtp_features)
        self.assertFalse(s.has_extn('starttls'), s.esmtp_features)

    def test_helo_advertises_nothing(self):
        self.config()
        rcv = self.start_receiver(listener='smtp')
        lines = self.raw(rcv).expect(250, 'HELO client.test.example')
        self.assertEqual(len(lines), 1, lines)


class SMTPUTF8(harness.TestCase):

    SENDER = 'jörg@example.org'
    RCPT = 'müller@example.org'

    def setUp(self):
        super().setUp()
        self.config()
        self.rcv = self.start_receiver(listener='plain')

    def test_utf8_addresses_with_smtputf8_are_queued(self):
        c = self.raw(self.rcv)
        c.expect(250, 'EHLO client.test.example')
        c.expect(250, 'MAIL FROM:<%s> SMTPUTF8' % self.SENDER)
        c.expect(250, 'RCPT TO:<%s>' % self.RCPT)
        c.expect(354, 'DATA')
        body = 'From: %s\r\nTo: %s\r\nSubject: Grüße\r\n\r\nHallo.\r\n' % (self.SENDER,
                                                                          self.RCPT)
        lines = c.expect(250, body + '.')
        msg = self.assert_queued(' '.join(lines), self.SENDER, [self.RCPT],
                                 body_contains='Grüße'.encode())
        self.assertIn(self.SENDER.encode(), msg['content'])

    def test_smtplib_smtputf8(self):
        s = self.smtp(self.rcv)
        s.ehlo()
        self.assertTrue(s.has_extn('smtputf8'), s.esmtp_features)
        msg = ('From: %s\r\nTo: %s\r\nSubject: x\r\n\r\nhi\r\n' % (self.SENDER, self.RCPT))
        refused = s.sendmail(self.SENDER, [self.RCPT], msg.encode(),
                             mail_options=['SMTPUTF8'])
        self.assertEqual(refused, {})
        self.assertEqual(len(self.spool_new()), 1)
        got = self.read_spool(self.spool_new()[0])
        self.assertEqual(got['from'], self.SENDER)
        self.assertEqual(got['to'], [self.RCPT])

    def test_utf8_sender_without_smtputf8_is_553_5_6_7(self):
        c = self.raw(self.rcv)
        c.expect(250, 'EHLO client.test.example')
        code, lines = c.cmd('MAIL FROM:<%s>' % self.SENDER)
        self.assertEqual(code, 553, lines)
        self.assertTrue(lines[-1].startswith('553 5.6.7 '), lines)
        self.assert_spool_empty()

    def test_utf8_recipient_without_smtputf8_is_553_5_6_7(self):
        c = self.raw(self.rcv)
        c.expect(250, 'EHLO client.test.example')
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        code, lines = c.cmd('RCPT TO:<%s>' % self.RCPT)
        self.assertEqual(code, 553, lines)
        self.assertTrue(lines[-1].startswith('553 5.6.7 '), lines)
        # the session goes on: an ASCII recipient is still accepted
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.expect(354, 'DATA')
        lines = c.expect(250, 'Subject: t\r\n\r\nhi\r\n.')
        self.assert_queued(' '.join(lines), 'sender@example.org', ['rcpt@example.org'])


if __name__ == '__main__':
    unittest.main()
