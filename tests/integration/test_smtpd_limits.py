"""End-to-end: the receiver's limits and protocol details.

Over-long command lines (500 5.5.2, the session goes on), the error limit
(disconnect), pregreet (554), the size limit both from SIZE= and while
streaming (552 5.3.4, nothing queued), too many recipients (452 4.5.3),
the hop limit (554 5.4.6), Date and Message-ID added when missing, BDAT
(CHUNKING) and PIPELINING.
"""

import socket
import time
import unittest

import harness
from harness import QUEUE_ID_RE


class Limits(harness.TestCase):

    def receiver(self, limits=None, mode='socket-activate-inetd'):
        self.config(limits=limits)
        return self.start_receiver(mode)

    def session(self, rcv):
        c = self.raw(rcv)
        lines = c.expect(250, 'EHLO client.test.example')
        return c, lines

    # -- line length and errors ------------------------------------------

    def test_long_command_500_5_5_2_and_session_goes_on(self):
        rcv = self.receiver()
        c, _ = self.session(rcv)
        # The tail of the over-long line looks like a command: it must not run.
        c.send(b'NOOP ' + b'a' * 600 + b'QUIT\r\n')
        code, lines = c.reply()
        self.assertEqual(code, 500, lines)
        self.assertTrue(lines[-1].startswith('500 5.5.2'), lines)
        self.assertEqual(c.pending(0.5), b'', 'more than one reply to one long line')
        c.send(b'MAIL FROM:<sender@example.org> ' + b'x' * 5000 + b'\r\n')
        code, lines = c.reply()
        self.assertEqual(code, 500, lines)
        self.assertEqual(c.pending(0.3), b'')
        # A normal transaction still works.
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.expect(354, 'DATA')
        c.send(harness.message('after long lines'))
        text = ' '.join(c.expect(250, '.'))
        self.assert_queued(text, 'sender@example.org', ['rcpt@example.org'])
        c.expect(221, 'QUIT')

    def test_command_of_512_octets_is_fine(self):
        rcv = self.receiver()
        c, _ = self.session(rcv)
        line = 'NOOP ' + 'b' * (510 - 5)  # 510 + CRLF = 512 octets
        c.expect(250, line)

    def test_very_long_line_bounded(self):
        # 4 MB without a line end: answered once, memory stays bounded, no crash.
        rcv = self.receiver()
        c, _ = self.session(rcv)
        c.send(b'NOOP ' + b'z' * (4 << 20) + b'\r\n')
        code, lines = c.reply(30)
        self.assertEqual(code // 100, 5, lines)
        try:
            c.expect(250, 'NOOP')
        except (EOFError, ConnectionError):
            pass  # dropping such a client is fine too

    def test_error_limit_disconnects(self):
        rcv = self.receiver(limits={'errors': 3})
        c, _ = self.session(rcv)
        closed = False
        for i in range(6):
            try:
                code, lines = c.cmd('XYZZY %d' % i)
            except (EOFError, ConnectionError):
                closed = True
                break
            self.assertIn(code // 100, (4, 5), lines)
            if code == 421:
                closed = c.closed(5)
                break
        else:
            closed = c.closed(2)
        self.assertTrue(closed, 'not disconnected after more than limits.errors bad commands')
        self.assertLessEqual(i, 4)

    def test_pregreet_554(self):
        rcv = self.receiver(limits={'pregreet_wait': '1'})
        c = self.raw(rcv, greet=False)
        c.send(b'EHLO early.test.example\r\n')
        code, lines = c.reply(15)
        self.assertEqual(code, 554, lines)
        try:
            code, lines = c.cmd('MAIL FROM:<sender@example.org>')
            self.assertNotEqual(code // 100, 2, lines)
        except (EOFError, ConnectionError):
            pass
        self.assert_spool_empty()

    def test_patient_client_greeted_with_pregreet_wait(self):
        rcv = self.receiver(limits={'pregreet_wait': '1'})
        c = self.raw(rcv, greet=False)
        code, lines = c.reply(15)
        self.assertEqual(code, 220, lines)

    # -- size ------------------------------------------------------------

    def test_size_param_552(self):
        rcv = self.receiver(limits={'message_size': '10k'})
        c, lines = self.session(rcv)
        self.assertTrue(any('SIZE 10240' in ln for ln in lines), lines)
        code, lines = c.cmd('MAIL FROM:<sender@example.org> SIZE=20000')
        self.assertEqual(code, 552, lines)
        self.assertTrue(lines[-1].startswith('552 5.3.4'), lines)
        c.expect(250, 'MAIL FROM:<sender@example.org> SIZE=2000')

    def test_size_streaming_552_nothing_queued_session_goes_on(self):
        rcv = self.receiver(limits={'message_size': '10k'})
        c, _ = self.session(rcv)
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.expect(354, 'DATA')
        c.send(b'Subject: big\r\n\r\n' + (b'q' * 998 + b'\r\n') * 2000 + b'.\r\n')
        code, lines = c.reply(30)
        self.assertEqual(code, 552, lines)
        self.assertTrue(lines[-1].startswith('552 5.3.4'), lines)
        self.assert_spool_empty()
        self.assertEqual(self.spool_list('tmp'), [])
        # The error was latched and the rest read to the dot: the session goes on.
        c.expect(250, 'RSET')
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.expect(354, 'DATA')
        c.send(harness.message('small'))
        text = ' '.join(c.expect(250, '.'))
        self.assert_queued(text, 'sender@example.org', ['rcpt@example.org'])

    def test_size_streaming_smtplib(self):
        rcv = self.receiver(limits={'message_size': '20k'}, mode='tcpserver')
        s = self.smtp(rcv)
        s.ehlo()
        s.mail('sender@example.org')
        s.rcpt('rcpt@example.org')
        code, text = s.data(harness.message('big', 'line of text\n' * 5000))
        self.assertEqual(code, 552, text)
        self.assert_spool_empty()

    # -- recipients and hops ---------------------------------------------

    def test_too_many_recipients_452_4_5_3(self):
        rcv = self.receiver(limits={'recipients': 3})
        c, _ = self.session(rcv)
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        rcpts = ['r%d@example.org' % i for i in range(3)]
        for r in rcpts:
            c.expect(250, 'RCPT TO:<%s>' % r)
        lines = c.expect(452, 'RCPT TO:<r3@example.org>')
        self.assertTrue(lines[-1].startswith('452 4.5.3'), lines)
        c.expect(354, 'DATA')
        c.send(harness.message('three'))
        text = ' '.join(c.expect(250, '.'))
        self.assert_queued(text, 'sender@example.org', rcpts)

    def hops_message(self, n):
        rec = ['Received: from hop%d.test.example by hop%d.test.example; '
               'Mon, 24 Nov 2025 10:00:00 +0000' % (i, i + 1) for i in range(n)]
        return harness.message('hops %d' % n, headers=rec)

    def test_hop_limit_554_5_4_6(self):
        rcv = self.receiver()
        s = self.smtp(rcv)
        s.ehlo()
        s.mail('sender@example.org')
        s.rcpt('rcpt@example.org')
        code, text = s.data(self.hops_message(101))
        self.assertEqual(code, 554, text)
        self.assertTrue(text.decode().startswith('5.4.6'), text)
        self.assert_spool_empty()
        # 100 Received: headers are still fine.
        s.mail('sender@example.org')
        s.rcpt('rcpt@example.org')
        code, text = s.data(self.hops_message(100))
        self.assertEqual(code, 250, text)
        self.assertEqual(len(self.spool_new()), 1)

    # -- headers ---------------------------------------------------------

    def test_missing_date_and_message_id_added(self):
        rcv = self.receiver()
        s = self.smtp(rcv)
        s.ehlo()
        s.mail('sender@example.org')
        s.rcpt('rcpt@example.org')
        code, text = s.data(harness.message('bare', date=False, msgid=False))
        self.assertEqual(code, 250, text)
        msg = self.assert_queued(text.decode(), 'sender@example.org', ['rcpt@example.org'])
        names = [n.lower() for n, _ in harness.headers_of(msg['content'])]
        self.assertEqual(names.count('date'), 1, names)
        self.assertEqual(names.count('message-id'), 1, names)
        self.assertEqual(names[0], 'received')
        body = msg['content'].split(b'\n\n', 1)[1]
        self.assertEqual(body, b'Hello.\n')

    def test_present_date_and_message_id_kept(self):
        rcv = self.receiver()
        s = self.smtp(rcv)
        s.ehlo()
        s.mail('sender@example.org')
        s.rcpt('rcpt@example.org')
        code, text = s.data(harness.message('dressed', headers=[]))
        self.assertEqual(code, 250, text)
        msg = self.assert_queued(text.decode(), 'sender@example.org', ['rcpt@example.org'])
        hdrs = harness.headers_of(msg['content'])
        names = [n.lower() for n, _ in hdrs]
        self.assertEqual(names.count('date'), 1)
        self.assertEqual(names.count('message-id'), 1)
        self.assertIn(('Date', 'Mon, 24 Nov 2025 10:00:00 +0000'), hdrs)

    # -- BDAT and PIPELINING ---------------------------------------------

    def test_bdat_chunking(self):
        rcv = self.receiver()
        s = self.smtp(rcv)
        s.ehlo()
        self.assertTrue(s.has_extn('chunking'), s.esmtp_features)
        self.assertEqual(s.mail('sender@example.org')[0], 250)
        self.assertEqual(s.rcpt('rcpt@example.org')[0], 250)
        part1 = b'Subject: bdat\r\nDate: Mon, 24 Nov 2025 10:00:00 +0000\r\n\r\nfirst\r\n'
        part2 = b'.not stuffed\r\n.\r\nlast line\r\n'
        s.send(b'BDAT %d\r\n' % len(part1) + part1)
        code, text = s.getreply()
        self.assertEqual(code, 250, text)
        s.send(b'BDAT %d LAST\r\n' % len(part2) + part2)
        code, text = s.getreply()
        self.assertEqual(code, 250, text)
        msg = self.assert_queued(text.decode(), 'sender@example.org', ['rcpt@example.org'])
        self.assertTrue(msg['content'].endswith(b'\n\nfirst\n.not stuffed\n.\nlast line\n'),
                        msg['content'])
        self.assertEqual(s.noop()[0], 250)

    def test_bdat_zero_last_and_split_crlf(self):
        rcv = self.receiver()
        c, lines = self.session(rcv)
        self.assertTrue(any('CHUNKING' in ln for ln in lines), lines)
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        a = b'Subject: split\r\n\r\nline one\r'
        b = b'\nline two\r\n'
        c.send(b'BDAT %d\r\n' % len(a) + a)
        c.expect(250)
        c.send(b'BDAT %d\r\n' % len(b) + b)
        c.expect(250)
        c.send(b'BDAT 0 LAST\r\n')
        text = ' '.join(c.expect(250))
        msg = self.assert_queued(text, 'sender@example.org', ['rcpt@example.org'])
        self.assertTrue(msg['content'].endswith(b'\n\nline one\nline two\n'), msg['content'])

    def test_pipelining_in_one_write(self):
        rcv = self.receiver()
        c, lines = self.session(rcv)
        self.assertTrue(any('PIPELINING' in ln for ln in lines), lines)
        c.send(b'MAIL FROM:<p1@example.org>\r\nRCPT TO:<a@example.org>\r\n'
               b'RCPT TO:<victim@evil.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n')
        codes = [c.reply()[0] for _ in range(5)]
        self.assertEqual(codes[:2], [250, 250])
        self.assertEqual(codes[2] // 100, 5)
        self.assertEqual(codes[3:], [250, 354])
        c.send(harness.message('pipe 1') + b'.\r\n'
               b'RSET\r\nNOOP\r\nMAIL FROM:<p2@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n')
        t1 = ' '.join(c.expect(250))
        for code in (250, 250, 250, 250, 354):
            c.expect(code)
        c.send(harness.message('pipe 2') + b'.\r\nQUIT\r\n')
        t2 = ' '.join(c.expect(250))
        c.expect(221)
        self.assertTrue(c.closed(5))
        self.assert_queued(t1, 'p1@example.org', ['a@example.org', 'b@example.org'])
        self.assert_queued(t2, 'p2@example.org', ['c@example.org'])
        self.assertEqual(len(self.spool_new()), 2)

    def test_vrfy_help_noop_rset_replies(self):
        rcv = self.receiver()
        c, _ = self.session(rcv)
        for cmd, code in (('NOOP', 250), ('RSET', 250), ('VRFY someone', 252), ('HELP', 214)):
            with self.subTest(cmd=cmd):
                lines = c.expect(code, cmd)
                self.assertRegex(lines[-1], r'^\d{3}[ -]\d\.\d+\.\d+ ', 'no enhanced status code')
        c.expect(503, 'DATA')
        c.expect(221, 'QUIT')


if __name__ == '__main__':
    unittest.main()
