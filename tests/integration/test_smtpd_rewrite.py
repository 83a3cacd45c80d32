"""End-to-end: the receiver masquerades senders for classes with rewrite = true.

Class `servers` (127.0.0.2) has rewrite = true; class `printers`
(127.0.0.4) has not.  For `servers`, an unqualified `MAIL FROM:<root>`
is accepted and queued as root@example.org; the From:, To: and Cc:
headers are rewritten in the stored message (map entries win over the
domain), also when folded or sent in pieces; a missing From: is added
from the envelope sender; sender_domains applies to the rewritten
address.  For `printers`, `MAIL FROM:<root>` is refused as before and
the headers are stored as sent.  A real gateway (aiosmtpd) shows that
what leaves the host is the rewritten message.
"""

import glob
import json
import os
import subprocess
import time
import unittest

import harness

SERVERS = '127.0.0.2'
PRINTERS = '127.0.0.4'
STRICT = '127.0.0.5'

MAP = """# who is who
root            admin@example.org
www-data@web1.local  webmaster@example.org
cron@elsewhere.test  jobs@example.org
"""

CLIENTS = {
    'servers': {'networks': [SERVERS + '/32'], 'require_tls': False, 'require_dns': False,
                'verify_sender': False, 'relay_domains': ['example.org'], 'rewrite': True},
    'printers': {'networks': [PRINTERS + '/32'], 'require_tls': False, 'require_dns': False,
                 'verify_sender': False, 'relay_domains': ['example.org']},
    'strict': {'networks': [STRICT + '/32'], 'require_tls': False, 'require_dns': False,
               'verify_sender': False, 'relay_domains': ['example.org'],
               'sender_domains': ['example.org'], 'rewrite': True},
}


def header(msg, name):
    """Values of the header fields called name, unfolded."""
    return [v for n, v in harness.headers_of(msg['content']) if n.lower() == name.lower()]


def raw_header(msg, name):
    """The header field called name as stored, folding kept (bytes)."""
    head = msg['content'].split(b'\n\n', 1)[0]
    out, cur = [], None
    for line in head.split(b'\n'):
        if line[:1] in (b' ', b'\t') and cur is not None:
            cur.append(line)
            continue
        if cur is not None:
            out.append(b'\n'.join(cur))
        cur = [line] if line.lower().startswith(name.lower().encode() + b':') else None
    if cur is not None:
        out.append(b'\n'.join(cur))
    return out


class Rewrite(harness.TestCase):

    def setUp(self):
        super().setUp()
        self.map = os.path.join(self.tmp, 'senders')
        with open(self.map, 'w') as f:
            f.write(MAP)
        os.chmod(self.map, 0o644)
        rewrite = harness.render_section('rewrite', {'domain': 'example.org', 'map': self.map})
        self.config(clients=CLIENTS, tls=False, extra=rewrite)
        self.rcv = self.start_receiver('socket-activate-inetd', listener='plain')

    def send(self, source, sender, content, rcpts=('rcpt@example.org',), expect=250):
        """A raw session: MAIL FROM:<sender>, DATA content (CRLF lines,
        without the final dot).  Returns the spool entry (or None)."""
        c = self.raw(self.rcv, source=source)
        c.expect(250, 'EHLO client.test.example')
        c.expect(250, 'MAIL FROM:<%s>' % sender)
        for r in rcpts:
            c.expect(250, 'RCPT TO:<%s>' % r)
        c.expect(354, 'DATA')
        c.send(content + b'.\r\n')
        code, lines = c.reply()
        self.assertEqual(code, expect, lines)
        c.expect(221, 'QUIT')
        if code != 250:
            return None
        m = harness.QUEUE_ID_RE.search(' '.join(lines))
        self.assertIsNotNone(m, lines)
        return self.read_spool(m.group(1))

    def test_unqualified_root_masqueraded_envelope_and_header(self):
        msg = self.send(SERVERS, 'daemon', b'From: daemon\r\nTo: rcpt@example.org\r\n'
                        b'Subject: cron\r\n\r\nbody\r\n')
        self.assertEqual(msg['from'], 'daemon@example.org')
        self.assertEqual(header(msg, 'From'), ['daemon@example.org'])
        self.assertIn(b'\n\nbody\n', msg['content'])

    def test_map_wins_over_domain(self):
        msg = self.send(SERVERS, 'root', b'From: Cron Daemon <root>\r\nSubject: x\r\n\r\nhi\r\n')
        self.assertEqual(msg['from'], 'admin@example.org')
        self.assertEqual(header(msg, 'From'), ['Cron Daemon <admin@example.org>'])

    def test_local_domain_and_full_address_map(self):
        msg = self.send(SERVERS, 'www-data@web1.local',
                        b'From: www-data@web1.local\r\nCc: ops@host.local\r\n'
                        b'To: "Jobs" <cron@elsewhere.test>\r\n\r\nhi\r\n')
        self.assertEqual(msg['from'], 'webmaster@example.org')
        self.assertEqual(header(msg, 'From'), ['webmaster@example.org'])
        # recipients in headers are only qualified; the map is for senders
        self.assertEqual(header(msg, 'Cc'), ['ops@example.org'])
        self.assertEqual(header(msg, 'To'), ['"Jobs" <cron@elsewhere.test>'])
        msg = self.send(SERVERS, 'cron@elsewhere.test', b'From: cron@elsewhere.test\r\n\r\nx\r\n')
        self.assertEqual(msg['from'], 'jobs@example.org')
        self.assertEqual(header(msg, 'From'), ['jobs@example.org'])

    def test_qualified_sender_untouched(self):
        msg = self.send(SERVERS, 'someone@example.org',
                        b'From: Someone <someone@example.org>\r\nSubject: x\r\n\r\nhi\r\n')
        self.assertEqual(msg['from'], 'someone@example.org')
        self.assertEqual(header(msg, 'From'), ['Someone <someone@example.org>'])

    def test_long_folded_from(self):
        names = ['user%02d' % i for i in range(40)]
        lines = ['From: "Backup Robot" <root>,']
        lines += ['\t%s,' % n for n in names[:-1]] + ['\t' + names[-1]]
        content = ('\r\n'.join(lines) + '\r\nSubject: folded\r\n\r\nbody\r\n').encode()
        msg = self.send(SERVERS, 'root', content)
        stored = raw_header(msg, 'From')
        self.assertEqual(len(stored), 1, msg['content'][:3000])
        # the folding stays, every address is qualified
        self.assertEqual(stored[0].count(b'\n'), len(names))
        value = header(msg, 'From')[0]
        self.assertIn('"Backup Robot" <admin@example.org>', value)
        for n in names:
            self.assertIn('%s@example.org' % n, value)
        self.assertEqual(header(msg, 'Subject'), ['folded'])

    def test_header_in_pieces(self):
        """The From: field arrives split over several reads."""
        c = self.raw(self.rcv, source=SERVERS)
        c.expect(250, 'EHLO client.test.example')
        c.expect(250, 'MAIL FROM:<root>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.expect(354, 'DATA')
        pieces = [b'Subject: pieces\r\nFr', b'om: Cron <ro', b'ot>\r\n', b'\t(continued)',
                  b'\r\n', b'To: ops\r\n', b'\r\nbody line\r\n.\r\n']
        for p in pieces:
            c.send(p)
            time.sleep(0.05)
        code, lines = c.reply()
        self.assertEqual(code, 250, lines)
        msg = self.read_spool(harness.QUEUE_ID_RE.search(' '.join(lines)).group(1))
        self.assertEqual(header(msg, 'From'), ['Cron <admin@example.org> (continued)'])
        self.assertEqual(header(msg, 'To'), ['ops@example.org'])
        self.assertIn(b'\n\nbody line\n', msg['content'])

    def test_bdat_chunks(self):
        """BDAT (RFC 3030): the From: field split across chunks."""
        c = self.raw(self.rcv, source=SERVERS)
        c.expect(250, 'EHLO client.test.example')
        c.expect(250, 'MAIL FROM:<root>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        chunks = [b'Subject: bdat\r\nFrom: Cron <r', b'oot>,\r\n', b' www-data@web1.local\r\n\r\nb']
        for i, ch in enumerate(chunks):
            last = ' LAST' if i == len(chunks) - 1 else ''
            c.send(b'BDAT %d%s\r\n' % (len(ch), last.encode()) + ch)
            code, lines = c.reply()
            self.assertEqual(code, 250, lines)
        msg = self.read_spool(harness.QUEUE_ID_RE.search(' '.join(lines)).group(1))
        self.assertEqual(msg['from'], 'admin@example.org')
        self.assertEqual(header(msg, 'From'), ['Cron <admin@example.org>, webmaster@example.org'])
        self.assertTrue(msg['content'].endswith(b'\n\nb'), msg['content'])

    def test_unreadable_map_is_temporary(self):
        os.unlink(self.map)
        os.mkdir(self.map)  # not a regular file: the map cannot be read
        c = self.raw(self.rcv, source=SERVERS)
        c.expect(250, 'EHLO client.test.example')
        code, lines = c.cmd('MAIL FROM:<root>')
        self.assertEqual(code, 451, lines)
        self.assertTrue(lines[-1].startswith('451 4.'), lines)
        # a class without rewrite does not need the map
        c = self.raw(self.rcv, source=PRINTERS)
        c.expect(250, 'EHLO printer.test.example')
        c.expect(250, 'MAIL FROM:<printer@example.org>')
        self.assert_spool_empty()

    def test_no_from_gets_envelope_sender(self):
        msg = self.send(SERVERS, 'backup', b'Subject: no from\r\n\r\nhi\r\n')
        self.assertEqual(msg['from'], 'backup@example.org')
        self.assertEqual(header(msg, 'From'), ['backup@example.org'])
        self.assertEqual(header(msg, 'Subject'), ['no from'])

    def test_no_header_section(self):
        msg = self.send(SERVERS, 'root', b'just a body line\r\n')
        self.assertEqual(header(msg, 'From'), ['admin@example.org'])
        self.assertTrue(msg['content'].endswith(b'\n\njust a body line\n'), msg['content'])

    def test_null_sender_gets_no_from(self):
        msg = self.send(SERVERS, '', b'Subject: bounce\r\n\r\nhi\r\n')
        self.assertEqual(msg['from'], '')
        self.assertEqual(header(msg, 'From'), [])

    def test_swaks_root(self):
        rc, out = self.swaks(self.rcv, '--header', 'From: root', source=SERVERS, sender='root')
        self.assertEqual(rc, 0, out)
        m = harness.QUEUE_ID_RE.search(out)
        self.assertIsNotNone(m, out)
        msg = self.read_spool(m.group(1))
        self.assertEqual(msg['from'], 'admin@example.org')
        self.assertEqual(header(msg, 'From'), ['admin@example.org'])

    def test_smtplib_local_sender(self):
        s = self.smtp(self.rcv, source=SERVERS)
        s.ehlo()
        code, text = s.mail('nobody@localhost')
        self.assertEqual(code, 250, text)
        self.assertEqual(s.rcpt('rcpt@example.org')[0], 250)
        code, text = s.data(b'From: Nobody <nobody@localhost>\r\nSubject: s\r\n\r\nhi\r\n')
        self.assertEqual(code, 250, text)
        msg = self.assert_queued(text.decode(), 'nobody@example.org', ['rcpt@example.org'])
        self.assertEqual(header(msg, 'From'), ['Nobody <nobody@example.org>'])

    def test_without_rewrite_root_refused_and_from_untouched(self):
        c = self.raw(self.rcv, source=PRINTERS)
        c.expect(250, 'EHLO printer.test.example')
        code, lines = c.cmd('MAIL FROM:<root>')
        self.assertIn(code, (501, 553), lines)
        self.assertRegex(lines[-1], r'^5\d\d 5\.1\.[37] ')
        c.expect(221, 'QUIT')
        msg = self.send(PRINTERS, 'printer@example.org',
                        b'From: root@host.local\r\nTo: ops\r\nSubject: x\r\n\r\nhi\r\n')
        self.assertEqual(msg['from'], 'printer@example.org')
        self.assertEqual(header(msg, 'From'), ['root@host.local'])
        self.assertEqual(header(msg, 'To'), ['ops'])

    def test_without_rewrite_no_from_added(self):
        msg = self.send(PRINTERS, 'printer@example.org', b'Subject: none\r\n\r\nhi\r\n')
        self.assertEqual(header(msg, 'From'), [])

    def test_sender_domains_checks_rewritten_sender(self):
        # root becomes admin@example.org: inside sender_domains
        msg = self.send(STRICT, 'root', b'From: root\r\n\r\nhi\r\n')
        self.assertEqual(msg['from'], 'admin@example.org')
        # a sender outside stays outside
        c = self.raw(self.rcv, source=STRICT)
        c.expect(250, 'EHLO client.test.example')
        code, lines = c.cmd('MAIL FROM:<someone@elsewhere.test>')
        self.assertEqual(code // 100, 5, lines)
        c.expect(221, 'QUIT')
        # and so does a From: that is not rewritten into example.org
        before = self.spool_new()
        self.send(STRICT, 'root', b'From: someone@elsewhere.test\r\n\r\nhi\r\n', expect=550)
        self.assertEqual(self.spool_new(), before)

    def test_gateway_sees_rewritten_message(self):
        gw_port, maildir = self.start_gateway()
        msg = self.send(SERVERS, 'root', b'From: root\r\nTo: ops\r\nSubject: to gw\r\n\r\nhi\r\n')
        self.assertEqual(msg['from'], 'admin@example.org')
        rewrite = harness.render_section('rewrite', {'domain': 'example.org', 'map': self.map})
        self.config(clients=CLIENTS, tls=False, extra=rewrite, gateway={
            'servers': ['[127.0.0.1]:%d' % gw_port], 'tls': 'none'})
        p = subprocess.run([harness.bin('mailout-deliver'), '-c', self.conf, '--flush'],
                           env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout)
        got = sorted(glob.glob(os.path.join(maildir, '*.json')))
        self.assertEqual(len(got), 1, p.stdout)
        with open(got[0]) as f:
            meta = json.load(f)
        with open(got[0][:-len('.json')] + '.eml', 'rb') as f:
            data = f.read()
        self.assertEqual(meta['mail_from'], 'admin@example.org')
        self.assertEqual(meta['rcpt_tos'], ['rcpt@example.org'])
        self.assertIn(b'\r\nFrom: admin@example.org\r\n', data)
        self.assertIn(b'\r\nTo: ops@example.org\r\n', data)
        self.assertNotIn(b'From: root\r\n', data)

class Explain(harness.TestCase):
    """--explain applies the session's sender rewriting before the policy."""

    def setUp(self):
        super().setUp()
        self.map = os.path.join(self.tmp, 'senders')
        with open(self.map, 'w') as f:
            f.write(MAP)
        os.chmod(self.map, 0o644)
        rewrite = harness.render_section('rewrite', {'domain': 'example.org', 'map': self.map})
        self.config(clients=CLIENTS, tls=False, extra=rewrite)

    def explain(self, client, sender, conf=None):
        p = subprocess.run([harness.bin('mailout-smtpd'), '-c', conf or self.conf,
                            '--explain', client, '--from', sender, '--rcpt', 'rcpt@example.org'],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30, env=self.env())
        return p.returncode, p.stdout.decode('utf-8', 'replace')

    def line(self, out, step):
        """The report line of step ('rewrite', 'mail'), or None."""
        got = [l for l in out.splitlines() if l.split(' ', 1)[0] == step]
        self.assertLessEqual(len(got), 1, out)
        return got[0] if got else None

    def test_unqualified_sender_masqueraded_by_domain(self):
        rc, out = self.explain(SERVERS, 'daemon')
        self.assertEqual(rc, 0, out)
        self.assertRegex(self.line(out, 'rewrite'),
                         r'^rewrite +<daemon> -> <daemon@example\.org> \(rewrite\.domain\)$')
        self.assertRegex(self.line(out, 'mail'), r'^mail +<daemon@example\.org>: .* -> 250 ')
        self.assertNotIn('syntax', out)

    def test_map_wins_and_is_named(self):
        for sender in ('root', '<root>', 'root@localhost', '<root@relay.test.example>'):
            with self.subTest(sender=sender):
                rc, out = self.explain(SERVERS, sender)
                self.assertEqual(rc, 0, out)
                self.assertIn('-> <admin@example.org> (rewrite.map %s)' % self.map,
                              self.line(out, 'rewrite'))
                self.assertRegex(self.line(out, 'mail'),
                                 r'^mail +<admin@example\.org>: .* -> 250 ')

    def test_qualified_and_null_senders_untouched(self):
        for sender, shown in (('alice@example.org', '<alice@example.org>'), ('<>', '<>')):
            with self.subTest(sender=sender):
                rc, out = self.explain(SERVERS, sender)
                self.assertEqual(rc, 0, out)
                self.assertIsNone(self.line(out, 'rewrite'), out)
                self.assertTrue(self.line(out, 'mail').startswith('mail      %s: ' % shown), out)

    def test_sender_domains_checks_rewritten_sender(self):
        rc, out = self.explain(STRICT, 'root')
        self.assertEqual(rc, 0, out)
        self.assertRegex(self.line(out, 'mail'), r'^mail +<admin@example\.org>: .* -> 250 ')
        rc, out = self.explain(STRICT, 'someone@elsewhere.test')
        self.assertEqual(rc, 69, out)
        self.assertIsNone(self.line(out, 'rewrite'), out)
        self.assertRegex(self.line(out, 'mail'), r' -> 5\d\d ')

    def test_without_rewrite_root_is_a_syntax_error(self):
        rc, out = self.explain(PRINTERS, 'root')
        self.assertEqual(rc, 69, out)
        self.assertIsNone(self.line(out, 'rewrite'), out)
        self.assertRegex(self.line(out, 'mail'), r'^mail +<root>: address syntax -> 501 5\.1\.7 ')

    def test_unreadable_map_is_temporary(self):
        rewrite = harness.render_section('rewrite', {'domain': 'example.org', 'map': self.tmp})
        conf = self.write_config(self.render_config(clients=CLIENTS, tls=False, extra=rewrite),
                                 name='dirmap.conf')
        rc, out = self.explain(SERVERS, 'root', conf=conf)
        self.assertEqual(rc, 75, out)
        self.assertRegex(self.line(out, 'mail'), r'cannot be read -> 451 4\.3\.5 ')
        self.assertNotIn('rcpt ', out)


if __name__ == '__main__':
    unittest.main()
