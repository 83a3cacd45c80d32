"""test_sendmail.py - mailout-sendmail with the real mailout-queue

What a cron job, a PHP script or an admin sees: the exit code, stderr,
and the file that lands in the spool's new/ - its envelope and its
headers (Date, Message-ID, From added; local senders masqueraded per the
rewrite section in the envelope and in From:; Bcc: gone under -t).
-bp runs mailout-spool list, -bs runs mailout-smtpd on the pipe, and
with the gateway and mailout-deliver the message arrives end to end.

Runs the programs from $MAILOUT_BIN (default build/check/bin) with
Debian's /usr/bin/python3.  Everything happens in a temporary directory;
every child runs under a timeout.
"""

import os
import pwd
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TIMEOUT = 30
EX_OK, EX_USAGE, EX_DATAERR, EX_TEMPFAIL = 0, 64, 65, 75
ME = pwd.getpwuid(os.getuid()).pw_name
MAP = """# test senders
www-data              webmaster@example.org
nobody@printer.local  scanner@example.org
"""


class SendmailTest(harness.TestCase):

    def setUp(self):
        super().setUp()
        if not harness.have_bin('mailout-sendmail') or not harness.have_bin('mailout-queue'):
            self.fail('mailout-sendmail and mailout-queue must be built in %s' %
                      harness.BIN_DIR)
        self.map = os.path.join(self.tmp, 'senders')
        with open(self.map, 'w') as f:
            f.write(MAP)
        self.setup_config()

    def setup_config(self, limits=None, spool=None, extra=''):
        rewrite = harness.render_section('rewrite', {'domain': 'example.org', 'map': self.map})
        self.config(limits=limits, spool=spool, tls=False, extra=rewrite + extra,
                    clients=dict(harness.DEFAULT_CLIENTS, local={
                        'networks': ['127.0.0.1/32'], 'require_tls': False,
                        'require_dns': False, 'verify_sender': False,
                        'relay_domains': ['example.org']}))

    def sendmail(self, args, data, env=None, argv0=None):
        """Run mailout-sendmail ARGS with data on stdin; (exit, stderr)."""
        argv = [harness.bin('mailout-sendmail')] + list(args)
        p = subprocess.run(argv, input=data, capture_output=True, timeout=TIMEOUT,
                           env=self.env(env), executable=argv[0] if argv0 else None)
        return p.returncode, p.stderr.decode('utf-8', 'replace'), p.stdout

    def only_message(self):
        ids = self.spool_new()
        self.assertEqual(len(ids), 1, 'want exactly one message in new/, have %r' % ids)
        return self.read_spool(ids[0])

    def header(self, msg, name):
        values = [v for n, v in harness.headers_of(msg['content']) if n.lower() == name.lower()]
        return values

    # -- the cron pipe ---------------------------------------------------

    def test_cron_pipe(self):
        """printf 'To: ...' | sendmail -t -i: queued, headers added, root
        masqueraded in envelope and From:."""
        code, err, _ = self.sendmail(['-t', '-i'], b'To: root\nSubject: hi\n\nbody\n.\nmore\n')
        self.assertEqual(code, EX_OK, err)
        msg = self.only_message()
        self.assertEqual(msg['from'], '%s@example.org' % ME)
        self.assertEqual(msg['to'], ['root@example.org'])
        frm = self.header(msg, 'From')
        self.assertEqual(len(frm), 1)
        self.assertRegex(frm[0], r'(^|<)%s@example\.org>?$' % re.escape(ME))
        self.assertEqual(self.header(msg, 'To'), ['root@example.org'])
        self.assertEqual(len(self.header(msg, 'Date')), 1)
        mid = self.header(msg, 'Message-ID')
        self.assertEqual(mid, ['<%s@relay.test.example>' % msg['id']])
        received = self.header(msg, 'Received')
        self.assertEqual(len(received), 1)
        self.assertRegex(received[0], r'^from userid %d by relay\.test\.example \(mailout\) '
                         r'id %s; ' % (os.getuid(), re.escape(msg['id'])))
        self.assertTrue(msg['content'].endswith(b'\n\nbody\n.\nmore\n'), msg['content'])

    def test_dot_ends_input_without_i(self):
        code, err, _ = self.sendmail(['alice'], b'Subject: x\r\n\r\nline1\r\n.\r\nline2\r\n')
        self.assertEqual(code, EX_OK, err)
        msg = self.only_message()
        self.assertEqual(msg['to'], ['alice@example.org'])
        self.assertTrue(msg['content'].endswith(b'\n\nline1\n'), msg['content'])

    def test_sender_name_and_map(self):
        """-f from the map, -F in a generated From:, argument recipients
        as an address list."""
        code, err, _ = self.sendmail(
            ['-f', 'www-data@host.local', '-F', 'Web Server', 'alice, Bob <bob@example.net>',
             'carol@example.org'], b'Subject: report\n\nok\n')
        self.assertEqual(code, EX_OK, err)
        msg = self.only_message()
        self.assertEqual(msg['from'], 'webmaster@example.org')
        self.assertEqual(msg['to'], ['alice@example.org', 'bob@example.net', 'carol@example.org'])
        self.assertEqual(self.header(msg, 'From'), ['Web Server <webmaster@example.org>'])

    def test_from_header_rewritten(self):
        code, err, _ = self.sendmail(
            ['-fnobody@printer.local', 'dave@example.org'],
            b'From: Scanner <nobody@printer.local>\nDate: Mon, 24 Nov 2025 10:00:00 +0000\n'
            b'Message-ID: <given@x>\n\nscan\n')
        self.assertEqual(code, EX_OK, err)
        msg = self.only_message()
        self.assertEqual(msg['from'], 'scanner@example.org')
        self.assertEqual(self.header(msg, 'From'), ['Scanner <scanner@example.org>'])
        self.assertEqual(self.header(msg, 'Date'), ['Mon, 24 Nov 2025 10:00:00 +0000'])
        self.assertEqual(self.header(msg, 'Message-ID'), ['<given@x>'])

    def test_t_drops_bcc_and_adds_arguments(self):
        code, err, _ = self.sendmail(
            ['-t', '-oi', 'extra@example.org'],
            b'To: a@example.org\nCc: B <b@example.org>\nBcc: hidden@example.org\n'
            b'Subject: t\n\nbody\n')
        self.assertEqual(code, EX_OK, err)
        msg = self.only_message()
        self.assertEqual(sorted(msg['to']), ['a@example.org', 'b@example.org',
                                             'extra@example.org', 'hidden@example.org'])
        self.assertEqual(self.header(msg, 'Bcc'), [])
        self.assertNotIn(b'hidden', msg['content'])

    def test_null_sender(self):
        code, err, _ = self.sendmail(['-f', '<>', 'a@example.org'], b'Subject: n\n\nx\n')
        self.assertEqual(code, EX_OK, err)
        self.assertEqual(self.only_message()['from'], '')

    def test_legacy_options_ignored(self):
        code, err, _ = self.sendmail(['-odi', '-oem', '-B8BITMIME', '-FCronDaemon', '-i', '-v',
                                      '-U', '-Ox=y', 'root'], b'Subject: legacy\n\nx\n')
        self.assertEqual(code, EX_OK, err)
        self.assertEqual(self.only_message()['to'], ['root@example.org'])

    # -- refusals: nothing queued ----------------------------------------

    def test_no_recipients(self):
        code, err, _ = self.sendmail(['-t'], b'Subject: nobody\n\nx\n')
        self.assertEqual(code, EX_USAGE)
        self.assertIn('no recipients', err)
        self.assertEqual(self.spool_new(), [])

    def test_bad_addresses(self):
        code, err, _ = self.sendmail(['a@b@c'], b'Subject: x\n\nx\n')
        self.assertEqual(code, EX_DATAERR, err)
        code, err, _ = self.sendmail(['-t'], b'To: John Doe\n\nx\n')
        self.assertEqual(code, EX_DATAERR, err)
        code, err, _ = self.sendmail(['-f', 'a b c', 'x@example.org'], b'Subject: x\n\nx\n')
        self.assertEqual(code, EX_DATAERR, err)
        self.assertEqual(self.spool_new(), [])
        self.assertEqual(self.spool_list('tmp'), [])

    def test_unqueueable_addresses(self):
        # RFC 5321 allows these quoted local parts; the spool's line format
        # cannot carry them, so mailout-sendmail refuses them up front
        code, err, _ = self.sendmail(['"a>b"@example.org'], b'Subject: x\n\nx\n')
        self.assertEqual(code, EX_DATAERR, err)
        self.assertIn('cannot be queued', err)
        self.assertIn('"a>b"@example.org', err)
        code, err, _ = self.sendmail(['-t'], b'To: ok@example.org, "<c"@example.org\n\nx\n')
        self.assertEqual(code, EX_DATAERR, err)
        self.assertIn('cannot be queued', err)
        code, err, _ = self.sendmail(['-f', '"x<y"@example.org', 'ok@example.org'],
                                     b'Subject: x\n\nx\n')
        self.assertEqual(code, EX_DATAERR, err)
        self.assertIn('sender address not accepted', err)
        self.assertEqual(self.spool_new(), [])
        self.assertEqual(self.spool_list('tmp'), [])
        # a quoted local part the spool can carry still goes through
        code, err, _ = self.sendmail(['"a b"@example.org'], b'Subject: x\n\nx\n')
        self.assertEqual(code, EX_OK, err)
        self.assertEqual(self.only_message()['to'], ['"a b"@example.org'])

    def test_size_limit(self):
        self.setup_config(limits={'message_size': '4k'})
        code, err, _ = self.sendmail(['a@example.org'], b'Subject: big\n\n' + b'x' * 80 + b'\n'
                                     + (b'y' * 99 + b'\n') * 100)
        self.assertEqual(code, EX_DATAERR, err)
        self.assertIn('message_size', err)
        self.assertEqual(self.spool_new(), [])
        code, err, _ = self.sendmail(['a@example.org'], b'Subject: small\n\nfits\n')
        self.assertEqual(code, EX_OK, err)

    def test_big_message_streams(self):
        """A message of several MB with long lines goes through whole."""
        body = (b'z' * 5000 + b'\n') * 1000
        code, err, _ = self.sendmail(['-i', 'a@example.org'], b'Subject: big\n\n' + body)
        self.assertEqual(code, EX_OK, err)
        self.assertTrue(self.only_message()['content'].endswith(b'\n\n' + body))

    def test_queue_failure_is_temporary(self):
        """A spool mailout-queue cannot use: 75, so cron's caller may retry."""
        self.setup_config(spool=os.path.join(self.tmp, 'no-such-spool'))
        code, err, _ = self.sendmail(['a@example.org'], b'Subject: x\n\nx\n')
        self.assertEqual(code, EX_TEMPFAIL, err)

    def test_missing_queue_program(self):
        code, err, _ = self.sendmail(['a@example.org'], b'Subject: x\n\nx\n',
                                     env={'MAILOUT_QUEUE': os.path.join(self.tmp, 'nope')})
        self.assertEqual(code, EX_TEMPFAIL, err)
        self.assertIn('nope', err)
        self.assertEqual(self.spool_new(), [])

    def test_gateway_down_still_queued(self):
        """The config's gateway port has no listener; queueing does not care."""
        code, err, _ = self.sendmail(['a@example.org'], b'Subject: down\n\nx\n')
        self.assertEqual(code, EX_OK, err)
        self.assertEqual(len(self.spool_new()), 1)

    # -- the other modes -------------------------------------------------

    def test_bp_lists_the_queue(self):
        if not harness.have_bin('mailout-spool'):
            self.skipTest('mailout-spool is not built')
        code, err, _ = self.sendmail(['a@example.org'], b'Subject: listed\n\nx\n')
        self.assertEqual(code, EX_OK, err)
        qid = self.spool_new()[0]
        code, err, out = self.sendmail(['-bp'], b'')
        self.assertEqual(code, EX_OK, err)
        self.assertIn(qid, out.decode())
        self.assertIn('a@example.org', out.decode())

    def test_bs_speaks_smtp_on_the_pipe(self):
        if not harness.have_bin('mailout-smtpd'):
            self.skipTest('mailout-smtpd is not built')
        self.setup_config(extra=harness.render_section('listener local',
                                                       {'tls': 'none', 'auth': 'none'}))
        dialogue = (b'EHLO localhost\r\nMAIL FROM:<alice@example.org>\r\n'
                    b'RCPT TO:<bob@example.org>\r\nDATA\r\nSubject: bs\r\n\r\nvia -bs\r\n.\r\n'
                    b'QUIT\r\n')
        code, err, out = self.sendmail(['-bs'], dialogue)
        text = out.decode('utf-8', 'replace')
        self.assertIn('221', text, err)
        m = harness.QUEUE_ID_RE.search(text)
        self.assertIsNotNone(m, text + err)
        msg = self.read_spool(m.group(1))
        self.assertEqual(msg['to'], ['bob@example.org'])
        self.assertIn(b'via -bs', msg['content'])

    def test_end_to_end_to_the_gateway(self):
        """Queued with the gateway down; mailout-deliver (via sendmail -q)
        brings it to the gateway once it is up."""
        if not harness.have_bin('mailout-deliver'):
            self.skipTest('mailout-deliver is not built')
        if not os.path.exists(os.path.join(harness.REPO, 'tests/peers/gateway.py')):
            self.skipTest('tests/peers/gateway.py is not there yet')
        port = harness.free_port()
        self.setup_config(extra='')
        text = open(self.conf).read()
        text = re.sub(r'servers = \{[^}]*\}', 'servers = { "[127.0.0.1]:%d" }' % port, text)
        self.write_config(text)
        code, err, _ = self.sendmail(['-t', '-i'], b'To: root\nSubject: e2e\n\ncron output\n')
        self.assertEqual(code, EX_OK, err)
        _, maildir = self.start_gateway(port=port)
        code, err, out = self.sendmail(['-q'], b'')
        self.assertEqual(code, EX_OK, err + out.decode('utf-8', 'replace'))
        got = []
        harness.wait_for(lambda: got.extend(self._gateway_files(maildir)) or got,
                         what='a message at the gateway')
        with open(got[0], 'rb') as f:
            data = f.read()
        self.assertIn(b'cron output', data)
        self.assertIn(b'To: root@example.org', data)
        self.assertRegex(data, rb'From: .*%s@example\.org' % re.escape(ME).encode())

    @staticmethod
    def _gateway_files(maildir):
        out = []
        for root, _, files in os.walk(maildir):
            out += [os.path.join(root, f) for f in files if not f.startswith('.')]
        return sorted(out)


if __name__ == '__main__':
    unittest.main()
