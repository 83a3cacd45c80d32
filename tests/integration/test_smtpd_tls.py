"""End-to-end: TLS in the receiver, with real TLS clients.

STARTTLS with openssl s_client, swaks --tls and smtplib; implicit TLS
(the smtps listener) with swaks --tlsc and smtplib.SMTP_SSL; every client
verifies the test CA.  The Received: header records the TLS version; a
class with require_tls gets 530 5.7.0 at MAIL before STARTTLS and 250
after.  STARTTLS discards input sent before the handshake (CVE-2011-0411).
A key that does not match its certificate fails the handshake, logged;
handshake errors are logged in OpenSSL's words, not its numbers.
openssl.cnf is read only when OPENSSL_CONF names one.
"""

import re
import ssl
import unittest

import certs
import harness
from harness import ID_PATTERN

TLS_RE = re.compile(r'TLSv1\.[23]')


def campus(require_tls=False, networks=('127.0.0.2/32',)):
    return {'campus': {'networks': list(networks), 'require_tls': require_tls,
                       'relay_domains': ['example.org']}}


class TLS(harness.TestCase):

    def received(self, msg):
        hdrs = harness.headers_of(msg['content'])
        self.assertEqual(hdrs[0][0].lower(), 'received')
        return hdrs[0][1]

    def test_openssl_s_client_starttls(self):
        self.config(clients=campus(networks=['127.0.0.1/32']))
        rcv = self.start_receiver('socket-activate-inetd')
        c = self.s_client(rcv, starttls=True)
        lines = c.expect(250, 'EHLO client.test.example')
        self.assertFalse(any('STARTTLS' in ln for ln in lines),
                         'STARTTLS offered again inside TLS: %r' % lines)
        c.expect(250, 'MAIL FROM:<sclient@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.expect(354, 'DATA')
        c.send(harness.message('s_client', 'over openssl s_client\n'))
        text = ' '.join(c.expect(250, '.'))
        msg = self.assert_queued(text, 'sclient@example.org', ['rcpt@example.org'],
                                 body_contains=b'over openssl s_client')
        c.expect(221, 'QUIT')
        self.assertRegex(self.received(msg), TLS_RE)

    def test_swaks_starttls_verified(self):
        self.config()
        rcv = self.start_receiver('socket-activate-fds')
        rc, out = self.swaks(rcv, '--tls', '--tls-verify', '--tls-ca-path', certs.ca()[0],
                             '--body', 'over swaks starttls')
        self.assertEqual(rc, 0, out)
        self.assertIn('TLS started', out)
        msg = self.assert_queued(out, 'sender@example.org', ['rcpt@example.org'],
                                 body_contains=b'over swaks starttls')
        self.assertRegex(self.received(msg), TLS_RE)

    def test_smtplib_starttls_received_names_version_and_cipher(self):
        self.config()
        rcv = self.start_receiver('tcpserver')
        s = self.smtp(rcv)
        s.ehlo()
        self.assertTrue(s.has_extn('starttls'), s.esmtp_features)
        ctx = ssl.create_default_context(cafile=certs.ca()[0])
        self.assertEqual(s.starttls(context=ctx)[0], 220)
        version, cipher = s.sock.version(), s.sock.cipher()[0]
        s.ehlo()
        self.assertFalse(s.has_extn('starttls'), 'STARTTLS offered inside TLS')
        self.assertEqual(s.mail('sender@example.org')[0], 250)
        self.assertEqual(s.rcpt('rcpt@example.org')[0], 250)
        code, text = s.data(harness.message('smtplib tls'))
        self.assertEqual(code, 250, text)
        msg = self.assert_queued(text.decode(), 'sender@example.org', ['rcpt@example.org'])
        received = self.received(msg)
        self.assertIn(version, received)
        self.assertIn(cipher, received)

    def test_implicit_tls_swaks(self):
        self.config()
        rcv = self.start_receiver('socket-activate-inetd', listener='smtps')
        rc, out = self.swaks(rcv, '--tlsc', '--tls-verify', '--tls-ca-path', certs.ca()[0])
        self.assertEqual(rc, 0, out)
        msg = self.assert_queued(out, 'sender@example.org', ['rcpt@example.org'])
        self.assertRegex(self.received(msg), TLS_RE)

    def test_implicit_tls_smtplib(self):
        self.config()
        rcv = self.start_receiver('socket-activate-fds', listener='smtps')
        s = self.smtp(rcv, ssl_wrap=True)
        version = s.sock.version()
        s.ehlo()
        self.assertFalse(s.has_extn('starttls'), 'STARTTLS offered inside implicit TLS')
        self.assertEqual(s.mail('sender@example.org')[0], 250)
        self.assertEqual(s.rcpt('rcpt@example.org')[0], 250)
        code, text = s.data(harness.message('smtps'))
        self.assertEqual(code, 250, text)
        msg = self.assert_queued(text.decode(), 'sender@example.org', ['rcpt@example.org'])
        self.assertIn(version, self.received(msg))

    def test_implicit_tls_s_client(self):
        self.config(clients=campus(networks=['127.0.0.1/32']))
        rcv = self.start_receiver('tcpserver', listener='smtps')
        c = self.s_client(rcv, starttls=False)
        c.expect(220)
        c.expect(250, 'EHLO client.test.example')
        c.expect(250, 'NOOP')
        c.expect(221, 'QUIT')

    def test_require_tls_530_before_starttls_250_after(self):
        self.config(clients=campus(require_tls=True))
        rcv = self.start_receiver('socket-activate-inetd')
        c = self.raw(rcv)
        c.expect(250, 'EHLO client.test.example')
        lines = c.expect(530, 'MAIL FROM:<sender@example.org>')
        self.assertTrue(lines[-1].startswith('530 5.7.0'), lines)
        c.expect(220, 'STARTTLS')
        c.starttls()
        c.expect(250, 'EHLO client.test.example')
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.expect(354, 'DATA')
        c.send(harness.message('after starttls'))
        text = ' '.join(c.expect(250, '.'))
        self.assert_queued(text, 'sender@example.org', ['rcpt@example.org'])

    def test_require_tls_refuses_plain_session_whole(self):
        self.config(clients=campus(require_tls=True))
        rcv = self.start_receiver('socket-activate-fds')
        rc, out = self.swaks(rcv)
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r'530 5\.7\.0')
        self.assert_spool_empty()

    def test_starttls_discards_pipelined_plaintext(self):
        # CVE-2011-0411: "STARTTLS\r\nRSET\r\n" in one write.  The RSET was
        # sent in the clear; it must never be answered inside TLS.
        self.config()
        rcv = self.start_receiver('socket-activate-inetd')
        c = self.raw(rcv)
        c.expect(250, 'EHLO client.test.example')
        c.send(b'STARTTLS\r\nRSET\r\n')
        code, lines = c.reply()
        self.assertEqual(code, 220, lines)
        c.starttls()  # fails if a plaintext reply to RSET arrived
        code, lines = c.cmd('EHLO client.test.example')
        self.assertEqual(code, 250, lines)
        self.assertGreater(len(lines), 1, 'first reply inside TLS is not our EHLO reply: %r'
                           % lines)
        self.assertTrue(any('PIPELINING' in ln for ln in lines), lines)
        c.expect(250, 'NOOP')
        self.assertEqual(c.pending(0.5), b'', 'extra replies inside TLS')

    def test_starttls_injected_mail_command_is_not_run(self):
        # A MAIL injected before the handshake must not start a transaction:
        # our RCPT right after the handshake then gets 503 (no MAIL yet).
        self.config()
        rcv = self.start_receiver('socket-activate-fds')
        c = self.raw(rcv)
        c.expect(250, 'EHLO client.test.example')
        c.send(b'STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n')
        c.expect(220)
        c.starttls()
        c.expect(250, 'EHLO client.test.example')
        code, lines = c.cmd('RCPT TO:<rcpt@example.org>')
        self.assertEqual(code, 503, lines)
        self.assertEqual(c.pending(0.5), b'')

    def test_queue_id_in_reply_over_tls(self):
        self.config()
        rcv = self.start_receiver('socket-activate-inetd')
        s = self.smtp(rcv)
        s.starttls(context=ssl.create_default_context(cafile=certs.ca()[0]))
        s.ehlo()
        s.mail('sender@example.org')
        s.rcpt('rcpt@example.org')
        code, text = s.data(harness.message('id'))
        self.assertEqual(code, 250)
        self.assertRegex(text.decode(), r'^2\.0\.0 Ok: queued as ' + ID_PATTERN + '$')

    def test_key_not_matching_certificate_fails_handshake(self):
        cert, _ = certs.server('localhost')
        _, other_key = certs.server('other.test.example')
        self.config(tls=False, extra=harness.render_section('tls', {'cert': cert,
                                                                    'key': other_key}))
        rcv = self.start_receiver('tcpserver')
        c = self.raw(rcv)
        c.expect(250, 'EHLO client.test.example')
        c.expect(220, 'STARTTLS')
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            c.starttls()
        c.close()
        log = harness.wait_for(lambda: 'TLS handshake failed' in self.smtpd_log(rcv) and
                               self.smtpd_log(rcv), what='the failed handshake in the log')
        self.assertIn('key values mismatch', log)
        self.assertNotIn('queued as', log)
        self.assertNotIn('lib(', log)

    def test_handshake_error_logged_in_words(self):
        """OpenSSL's error strings are loaded only for an error to be
        logged: a client that speaks HTTP after 220 to STARTTLS is
        logged with them all the same."""
        self.config()
        rcv = self.start_receiver('tcpserver')
        c = self.raw(rcv)
        c.expect(250, 'EHLO client.test.example')
        c.expect(220, 'STARTTLS')
        c.send(b'GET / HTTP/1.0\r\n\r\n')
        self.assertTrue(c.closed())
        c.close()
        log = harness.wait_for(lambda: 'TLS handshake' in self.smtpd_log(rcv) and
                               self.smtpd_log(rcv), what='the failed handshake in the log')
        self.assertIn('SSL routines::http request', log)
        self.assertNotIn('lib(', log)

    def test_openssl_conf_read_only_when_named(self):
        """The receiver skips openssl.cnf (it costs every TLS session)
        unless OPENSSL_CONF names one: a config there that lets only
        CHACHA20 serve TLS 1.3 is obeyed."""
        cnf = self.write_config('openssl_conf = init\n[init]\nssl_conf = ssl\n'
                                '[ssl]\nsystem_default = sys\n'
                                '[sys]\nCiphersuites = TLS_CHACHA20_POLY1305_SHA256\n',
                                name='openssl.cnf')
        self.config()
        ctx = ssl.create_default_context(cafile=certs.ca()[0])
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        for env, want in (({}, 'TLS_AES_256_GCM_SHA384'),
                          ({'OPENSSL_CONF': cnf}, 'TLS_CHACHA20_POLY1305_SHA256')):
            rcv = self.start_receiver('tcpserver', env=env)
            s = self.smtp(rcv)
            self.assertEqual(s.starttls(context=ctx)[0], 220)
            self.assertEqual(s.sock.cipher()[0], want, env)
            s.quit()
            self.stop(rcv.proc)


if __name__ == '__main__':
    unittest.main()
