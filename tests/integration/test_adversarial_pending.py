"""End-to-end: known bugs a hostile (or merely unusual) client can trigger.

Each test states what a correct mailout does and fails today; it is
marked @unittest.expectedFailure with a "# BUG:" comment naming the
cause, so the bug stays visible without breaking make check.  When a
fix lands the test passes, unittest reports an "unexpected success",
and the test moves to test_adversarial.py without the decorator.
"""

import socket
import time
import unittest

import harness

# A class that may send only as example.org (Hochschule Offenburg's
# rule): the From: header is checked at the end of DATA (550 5.7.1).
SENDER_DOMAINS = {
    'campus': {'networks': ['127.0.0.2/32'], 'require_tls': False, 'require_dns': False,
               'verify_sender': False, 'relay_domains': ['example.org'],
               'sender_domains': ['example.org']},
}


class Base(harness.TestCase):

    def ehlo(self, rcv):
        c = self.raw(rcv)
        c.expect(250, 'EHLO client.test.example')
        return c

    def send_headers(self, rcv, headers):
        """One message with these header lines; returns the final reply."""
        c = self.ehlo(rcv)
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.expect(354, 'DATA')
        text = '\r\n'.join(list(headers) + ['To: rcpt@example.org', 'Subject: from check', '',
                                            'body', '.', ''])
        c.send(text.encode())
        return c.reply()


class FromHeaderSenderDomains(Base):
    """sender_domains must hold for every address of the From: header."""

    def setUp(self):
        super().setUp()
        self.config(clients=SENDER_DOMAINS)
        self.rcv = self.start_receiver('socket-activate-inetd')

    def assert_refused(self, headers):
        code, lines = self.send_headers(self.rcv, headers)
        self.assertEqual(code, 550, 'From: with a foreign address accepted: %r' % lines)
        self.assertEqual(self.spool_new(), [])

    # BUG: smtpd/smtpd_data.c tx_policy passes only the first From:
    # (header_scan keeps the first, counts the rest in from_count) and
    # smtpd/smtpd_policy.c policy_data_end never looks at the count; only
    # the AUTH path (auth_from_owned) refuses count > 1.
    @unittest.expectedFailure
    def test_second_from_header(self):
        self.assert_refused(['From: someone@example.org', 'From: evil@evil.net'])

    # BUG: lib/mail_data.c header_scan keeps HEADER_FROM_MAX (4096) octets
    # of From: and sets from_truncated; outside AUTH nobody reads the flag
    # (policy_data_end parses the first 4096 octets only), so an address
    # folded in after 4096 octets of comments is unchecked.
    @unittest.expectedFailure
    def test_folded_past_4096_octets(self):
        lines = ['From: someone@example.org,'] + [' (%s)' % ('c' * 900)] * 5 + [' evil@evil.net']
        self.assert_refused(lines)


class QuotedLocalPartWithAngles(Base):
    """An address the spool cannot hold must be refused where it is given,
    not accepted with 250 and then answered 451 at the end of every
    attempt (the client retries for days, every recipient delayed)."""

    def setUp(self):
        super().setUp()
        self.config()
        self.rcv = self.start_receiver('socket-activate-inetd')

    def transaction(self, sender, rcpt):
        c = self.ehlo(self.rcv)
        code, lines = c.cmd('MAIL FROM:<%s>' % sender)
        if code // 100 == 5:
            return 'refused at MAIL', code
        self.assertEqual(code, 250, lines)
        code, lines = c.cmd('RCPT TO:<%s>' % rcpt)
        if code // 100 == 5:
            return 'refused at RCPT', code
        self.assertEqual(code, 250, lines)
        c.expect(354, 'DATA')
        c.send(harness.message('angles') + b'.\r\n')
        return 'end of data', c.reply()[0]

    def assert_refused_or_queued(self, where, code):
        self.assertTrue(where.startswith('refused') or code == 250,
                        'accepted at RCPT/MAIL, then %d at the %s' % (code, where))

    # BUG: lib/mail_addr.c scan_quoted accepts '<' and '>' in a quoted
    # local part (RFC 5321 allows them), smtpd_cmd.c answers 250, but
    # lib/mail_spool.c envelope_addr_ok refuses them (the spool line
    # format): mailout-queue exits 91 and the client gets 451 4.3.0 at
    # the end of DATA, on every retry.
    @unittest.expectedFailure
    def test_recipient(self):
        self.assert_refused_or_queued(*self.transaction('sender@example.org',
                                                        '"a>b"@example.org'))

    # BUG: the same for the sender ("x<y"@example.org, or with \< ).
    @unittest.expectedFailure
    def test_sender(self):
        self.assert_refused_or_queued(*self.transaction('"x<y"@example.org',
                                                        'rcpt@example.org'))


class RecipientOvershoot(Base):
    """RFC 5321 4.5.3.1.10: past the recipient limit the server answers
    452 and the client sends the rest in a later transaction; the
    recipients accepted so far still get the message."""

    # BUG: smtpd/smtpd_proto.c smtpd_reply counts every 4xx towards
    # limits.errors, the 452 4.5.3 of smtpd_cmd.c rcpt_check included:
    # a client with recipients + errors recipients is dropped (421) before
    # DATA, so the message never goes out, on any retry.  Postfix counts
    # only beyond smtpd_recipient_overshoot_limit (1000).
    @unittest.expectedFailure
    def test_excess_recipients_do_not_end_the_session(self):
        self.config(limits={'recipients': 5, 'errors': 10})
        rcv = self.start_receiver('socket-activate-inetd')
        c = self.ehlo(rcv)
        rcpts = ['r%d@example.org' % i for i in range(20)]
        c.send(b'MAIL FROM:<sender@example.org>\r\n' +
               b''.join(b'RCPT TO:<%s>\r\n' % r.encode() for r in rcpts) + b'DATA\r\n')
        codes = []
        try:
            for _ in range(22):
                codes.append(c.reply()[0])
        except (EOFError, ConnectionError, socket.timeout):
            pass
        self.assertEqual(codes, [250] * 6 + [452] * 15 + [354], codes)
        c.send(harness.message('many') + b'.\r\n')
        text = ' '.join(c.expect(250))
        self.assert_queued(text, 'sender@example.org', rcpts[:5])


class Slowloris(Base):
    """A command line trickled in one octet at a time must not hold a
    session for longer than limits.command_timeout."""

    # BUG: smtpd/smtpd_proto.c smtpd_next_line restarts the
    # command_timeout at each io_fill, so it bounds the pause between two
    # octets, not the line: one octet per (timeout - 1) seconds keeps a
    # process forever (the same for data_timeout in DATA/BDAT).  A
    # deadline per command line (Postfix smtpd_per_request_deadline) ends it.
    @unittest.expectedFailure
    def test_trickled_line_ends_at_command_timeout(self):
        self.config(limits={'command_timeout': '2'})
        rcv = self.start_receiver('socket-activate-inetd')
        c = self.ehlo(rcv)
        start = time.monotonic()
        answered = None
        try:
            for b in b'NOOP trickled':       # 13 octets over ~6.5 s
                c.send(bytes([b]))
                time.sleep(0.5)
            c.send(b'\r\n')
            answered = c.reply(5)[0]
        except (EOFError, ConnectionError):
            pass
        self.assertNotEqual(answered, 250, 'a line trickled over %.1fs was answered' %
                            (time.monotonic() - start))


if __name__ == '__main__':
    unittest.main()
