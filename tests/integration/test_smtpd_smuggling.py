"""End-to-end: SMTP smuggling (SEC Consult, December 2023).

For each end-of-data variant that some receivers accept, a client sends a
message whose content hides that variant followed by a second, smuggled
transaction, then the real <CR><LF>.<CR><LF> and QUIT, all in one write
on a raw socket.  mailout must queue exactly one message, answer exactly
one 250 for it, and the stored content, dot-stuffed again as delivery
will send it, must contain no end-of-data before its real end.
"""

import unittest

import harness

VARIANTS = [
    b'\n.\n',
    b'\r.\r',
    b'\n.\r\n',
    b'\r\n.\n',
    b'\r\n.\r',
    b'\r.\r\n',
    b'\n.\r',
    b'\r.\n',
    b'\r\n.\r\r\n',
]

SMUGGLED = (b'MAIL FROM:<evil@example.org>\r\n'
            b'RCPT TO:<victim@example.org>\r\n'
            b'DATA\r\n'
            b'From: evil@example.org\r\n'
            b'To: victim@example.org\r\n'
            b'Subject: smuggled\r\n'
            b'\r\n'
            b'smuggled body')


class Smuggling(harness.TestCase):

    def setUp(self):
        super().setUp()
        self.config()
        self.rcv = self.start_receiver('socket-activate-inetd')

    def one(self, variant, tag):
        c = self.raw(self.rcv)
        c.send(b'EHLO client.test.example\r\n')
        c.expect(250)
        c.send(b'MAIL FROM:<sender@example.org>\r\nRCPT TO:<rcpt@example.org>\r\nDATA\r\n')
        c.expect(250)
        c.expect(250)
        c.expect(354)
        before = set(self.spool_new())
        c.send(b'From: sender@example.org\r\nTo: rcpt@example.org\r\nSubject: ' + tag +
               b'\r\n\r\nfirst part' + variant + SMUGGLED + b'\r\n.\r\nQUIT\r\n')
        code, lines = c.reply()
        self.assertEqual(code, 250, lines)
        text = ' '.join(lines)
        code, lines = c.reply()
        self.assertEqual(code, 221, 'a reply other than to QUIT: %r (smuggled command '
                         'answered?)' % lines)
        self.assertTrue(c.closed(5), 'connection open after QUIT')
        self.assertEqual(c.buf, b'', 'bytes after the 221')
        new = set(self.spool_new()) - before
        self.assertEqual(len(new), 1, 'not exactly one message queued: %r' % new)
        msg = self.assert_queued(text, 'sender@example.org', ['rcpt@example.org'])
        self.assertEqual(new, {msg['id']})
        wire = harness.dot_stuff(msg['content'])
        self.assertTrue(wire.endswith(b'\r\n.\r\n'))
        self.assertNotIn(b'\r\n.\r\n', wire[:-3], 'an end-of-data would reach the gateway')
        self.assertFalse(wire.startswith(b'.\r\n'))
        self.assertIn(b'smuggled body', msg['content'], 'the smuggled text is content')
        return msg

    def test_every_variant(self):
        for i, variant in enumerate(VARIANTS):
            with self.subTest(variant=variant):
                self.one(variant, b'variant %d' % i)
        self.assertEqual(len(self.spool_new()), len(VARIANTS))
        for qid in self.spool_new():
            msg = self.read_spool(qid)
            self.assertEqual(msg['from'], 'sender@example.org')
            self.assertEqual(msg['to'], ['rcpt@example.org'])

    def test_variant_split_across_writes(self):
        # The same bytes one at a time around the variant: a reader that
        # only looks inside one read() would miss nothing and find nothing.
        c = self.raw(self.rcv)
        c.expect(250, 'EHLO client.test.example')
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.expect(354, 'DATA')
        c.send(b'Subject: split\r\n\r\nfirst part')
        for b in b'\n.\r\n' + SMUGGLED[:40]:
            c.send(bytes([b]))
        self.assertEqual(c.pending(0.3), b'', 'the server answered inside the content')
        c.send(SMUGGLED[40:] + b'\r\n.\r\n')
        text = ' '.join(c.expect(250))
        c.expect(221, 'QUIT')
        self.assertEqual(len(self.spool_new()), 1)
        self.assert_queued(text, 'sender@example.org', ['rcpt@example.org'])

    def test_stored_dot_lines_are_stuffed_on_the_way_out(self):
        c = self.raw(self.rcv)
        c.expect(250, 'EHLO client.test.example')
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.expect(354, 'DATA')
        c.send(b'Subject: dots\r\n\r\n..\r\n...x\r\n.\r\n')
        text = ' '.join(c.expect(250))
        msg = self.assert_queued(text, 'sender@example.org', ['rcpt@example.org'])
        self.assertTrue(msg['content'].endswith(b'\n.\n..x\n'), msg['content'])
        self.assertNotIn(b'\r\n.\r\n', harness.dot_stuff(msg['content'])[:-3])


if __name__ == '__main__':
    unittest.main()
