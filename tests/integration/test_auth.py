"""End-to-end: authenticated submission (RFC 4954, RFC 6409).

The receiver's submission (STARTTLS) and smtps (implicit TLS) listeners
with auth = "required", against a passwd file made here with real crypt
hashes (sha512-crypt, bcrypt, yescrypt), a sender map, a sender pattern
and a PAM service file: msmtp, swaks and smtplib authenticate with
PLAIN and LOGIN; AUTH is offered only inside TLS; nothing is accepted
before AUTH; an authenticated user relays to any domain, but only as
one of their own addresses (MAIL FROM and the From: header); wrong
passwords are answered with 535 and counted per client address across
sessions; every malformed AUTH input gets its reply and the session goes
on.  Client addresses are loopback addresses (127.0.0.2, .3, ...).
"""

import base64
import ctypes
import os
import re
import subprocess
import unittest
import warnings

import certs
import harness

with warnings.catch_warnings():
    warnings.simplefilter('ignore', DeprecationWarning)
    import crypt

FAIL2BAN_RE = re.compile(r'warning: \S+\[(?P<host>[0-9a-fA-F.:]+)\]: SASL (PLAIN|LOGIN) '
                         r'authentication failed: user=\S*')


def yescrypt(password):
    """A $y$ hash through libxcrypt's crypt_gensalt (Python's crypt
    module has no yescrypt method)."""
    lib = ctypes.CDLL('libcrypt.so.1')
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    return crypt.crypt(password, lib.crypt_gensalt(b'$y$', 0, None, 0).decode())


def plain_token(*parts):
    return base64.b64encode('\0'.join(parts).encode()).decode()


def b64(s):
    return base64.b64encode(s.encode()).decode()


LISTENERS = {
    'submission': {'tls': 'starttls', 'auth': 'required'},
    'smtps': {'tls': 'implicit', 'auth': 'required'},
    'smtp': {'tls': 'starttls', 'auth': 'optional'},
}
CLIENTS = {
    'campus': {'networks': ['127.0.0.2/32'], 'require_tls': False, 'require_dns': False,
               'verify_sender': False, 'relay_domains': ['example.org']},
}


class AuthBase(harness.TestCase):

    def setUp(self):
        super().setUp()
        self.state = os.path.join(self.tmp, 'state')
        os.mkdir(self.state)
        self.passwd = os.path.join(self.tmp, 'passwd')
        with open(self.passwd, 'w') as f:
            f.write('# user:crypt-hash:addresses\n')
            f.write('alice:%s:alice@example.org, Alice.Smith@Example.ORG\n' %
                    crypt.crypt('secret', crypt.mksalt(crypt.METHOD_SHA512)))
            f.write('bob:%s:\n' % crypt.crypt('b0bpass', crypt.mksalt(crypt.METHOD_BLOWFISH,
                                                                        rounds=32)))
            f.write('carol:%s\n' % yescrypt('c4rol'))
            f.write('mallory:hunter2:mallory@example.org\n')
        self.sender_map = os.path.join(self.tmp, 'senders')
        with open(self.sender_map, 'w') as f:
            f.write('# USER ADDR,ADDR\ncarol carol@lab.example.net, c.k@example.org\n'
                    'dave dave@example.org\n')

    def auth_config(self, passwd=None, pam='', max_failures=3, delay='0', extra=''):
        auth = {'passwd_file': passwd or self.passwd, 'pam_service': pam,
                'sender_map': self.sender_map, 'sender_patterns': ['%u@stud.example.org'],
                'max_failures': max_failures, 'failure_window': '15m', 'failure_delay': delay}
        return self.config(listeners=LISTENERS, clients=CLIENTS,
                           extra=harness.render_section('auth', auth) +
                           'state_dir = "%s"\n' % self.state + extra)

    def tls_raw(self, rcv, source='127.0.0.3'):
        """A raw client past STARTTLS and EHLO; returns (client, EHLO lines)."""
        c = self.raw(rcv, source=source)
        c.expect(250, 'EHLO client.test.example')
        c.expect(220, 'STARTTLS')
        c.starttls()
        return c, c.expect(250, 'EHLO client.test.example')

    def log(self, rcv):
        return self.smtpd_log(rcv)


class Submission(AuthBase):

    def test_not_offered_before_starttls(self):
        self.auth_config()
        rcv = self.start_receiver(listener='submission')
        c = self.raw(rcv, source='127.0.0.3')
        lines = c.expect(250, 'EHLO client.test.example')
        self.assertFalse(any('AUTH' in ln for ln in lines), lines)
        self.assertIn('STARTTLS', ' '.join(lines))
        got = c.expect(5, 'AUTH PLAIN ' + plain_token('', 'alice', 'secret'))
        self.assertTrue(got[0].startswith('538 5.7.11'), got)
        got = c.expect(5, 'MAIL FROM:<alice@example.org>')
        self.assertTrue(got[0].startswith('530 5.7.0'), got)
        c.expect(220, 'STARTTLS')
        c.starttls()
        lines = c.expect(250, 'EHLO client.test.example')
        self.assertIn('250-AUTH PLAIN LOGIN', lines)
        got = c.expect(5, 'MAIL FROM:<alice@example.org>')
        self.assertTrue(got[0].startswith('530 5.7.0'), got)
        c.expect(235, 'AUTH PLAIN ' + plain_token('', 'alice', 'secret'))
        c.expect(250, 'MAIL FROM:<alice@example.org>')
        c.expect(221, 'QUIT')
        self.assert_spool_empty()

    def test_msmtp_plain_starttls_relays_anywhere(self):
        self.auth_config()
        rcv = self.start_receiver(listener='submission')
        msg = harness.message('msmtp', 'from msmtp\n').replace(
            b'From: sender@example.org', b'From: Alice <alice@example.org>')
        rc, out = self.msmtp(rcv, msg, '--auth=plain', '--user=alice',
                             '--passwordeval=echo secret', '--tls=on', '--tls-starttls=on',
                             '--tls-trust-file=' + certs.ca()[0], source='127.0.0.3',
                             sender='alice@example.org', to=('friend@elsewhere.example',))
        self.assertEqual(rc, 0, out)
        q = self.assert_queued(out, 'alice@example.org', ['friend@elsewhere.example'],
                               body_contains=b'from msmtp')
        received = harness.headers_of(q['content'])[0]
        self.assertEqual(received[0], 'Received')
        self.assertIn('ESMTPSA', received[1])
        self.assertIn('authenticated as alice', received[1])
        self.assertIn('sasl_username=alice', self.log(rcv))
        # the accept line names the user too, as Postfix's smtpd line does
        self.assertRegex(self.log(rcv), r'(?m)^mailout-smtpd: %s: from=<alice@example\.org>, '
                         r'size=\d+, nrcpt=1, client=\S+\[127\.0\.0\.3\], '
                         r'tls=TLSv1\.[23], sasl_username=alice$' % re.escape(q['id']))

    def test_swaks_login_starttls_pattern_address(self):
        self.auth_config()
        rcv = self.start_receiver(listener='submission')
        rc, out = self.swaks(rcv, '--tls', '--auth', 'LOGIN', '--auth-user', 'bob',
                             '--auth-password', 'b0bpass', '--header',
                             'From: bob@stud.example.org', '--body', 'bob via swaks',
                             source='127.0.0.4', sender='bob@stud.example.org',
                             to='someone@example.net')
        self.assertEqual(rc, 0, out)
        self.assertIn('235 2.7.0', out)
        self.assert_queued(out, 'bob@stud.example.org', ['someone@example.net'],
                           body_contains=b'bob via swaks')

    def test_swaks_implicit_tls_sender_map(self):
        self.auth_config()
        rcv = self.start_receiver(listener='smtps')
        rc, out = self.swaks(rcv, '--tlsc', '--auth', 'PLAIN', '--auth-user', 'carol',
                             '--auth-password', 'c4rol', '--header',
                             'From: Carol <carol@lab.example.net>', source='127.0.0.5',
                             sender='carol@LAB.example.net', to='x@far.example')
        self.assertEqual(rc, 0, out)
        self.assert_queued(out, 'carol@lab.example.net', ['x@far.example'])

    def test_smtplib_ssl_second_address_case_insensitive_domain(self):
        self.auth_config()
        rcv = self.start_receiver(listener='smtps')
        s = self.smtp(rcv, source='127.0.0.3', ssl_wrap=True)
        s.ehlo('client.test.example')
        self.assertIn('PLAIN', s.esmtp_features.get('auth', ''))
        s.login('alice', 'secret')
        msg = harness.message('two', 'second address\n').replace(
            b'From: sender@example.org', b'From: "A. Smith" <Alice.Smith@example.org>')
        refused = s.sendmail('Alice.Smith@EXAMPLE.org', ['r@example.com'], msg)
        self.assertEqual(refused, {})
        self.assertEqual(len(self.spool_new()), 1)
        # the local part is exact: alice.smith is not Alice.Smith
        code, text = s.mail('alice.smith@example.org')
        self.assertEqual(code, 553, text)
        self.assertIn(b'5.7.1', text)
        self.assertIn(b'not owned by user alice', text)

    def test_foreign_sender_and_from(self):
        self.auth_config()
        rcv = self.start_receiver(listener='submission')
        c, _ = self.tls_raw(rcv)
        c.expect(235, 'AUTH PLAIN ' + plain_token('', 'alice', 'secret'))
        got = c.expect(5, 'MAIL FROM:<boss@example.org>')
        self.assertRegex(got[0], r'^553 5\.7\.1 Sender address <boss@example.org> is not '
                                 r'owned by user alice; use alice@example.org')
        got = c.expect(5, 'MAIL FROM:<bob@stud.example.org>')
        self.assertTrue(got[0].startswith('553 5.7.1'), got)
        c.expect(250, 'MAIL FROM:<alice@example.org>')
        c.expect(250, 'RCPT TO:<r@example.net>')
        c.expect(354, 'DATA')
        c.send(harness.message('forged').replace(b'From: sender@example.org',
                                                 b'From: The Boss <boss@example.org>'))
        got = c.expect(5, '.')
        self.assertRegex(got[0], r'^553 5\.7\.1 From: address <boss@example.org> is not owned')
        c.expect(250, 'NOOP')
        self.assert_spool_empty()

    def test_wrong_password_and_session_limit(self):
        self.auth_config(max_failures=10)
        rcv = self.start_receiver(listener='submission')
        c, _ = self.tls_raw(rcv)
        got = c.expect(5, 'AUTH PLAIN ' + plain_token('', 'alice', 'wrong'))
        self.assertTrue(got[0].startswith('535 5.7.8'), got)
        got = c.expect(5, 'AUTH PLAIN ' + plain_token('', 'nosuchuser', 'wrong'))
        self.assertTrue(got[0].startswith('535 5.7.8'), got)
        c.expect(334, 'AUTH LOGIN')
        c.expect(334, b64('alice'))
        got = c.expect(4, b64('still wrong'))
        self.assertTrue(got[0].startswith('421 4.7.0'), got)
        self.assertTrue(c.closed())
        log = self.log(rcv)
        hits = [m.group('host') for m in FAIL2BAN_RE.finditer(log)]
        self.assertEqual(hits, ['127.0.0.3'] * 3, log)
        self.assertIn('SASL LOGIN authentication failed: user=alice', log)
        self.assertNotIn('wrong', log)

    def test_failure_delay_grows(self):
        self.auth_config(max_failures=10, delay='1s')
        rcv = self.start_receiver(listener='submission')
        c, _ = self.tls_raw(rcv)
        import time
        t0 = time.monotonic()
        c.expect(5, 'AUTH PLAIN ' + plain_token('', 'alice', 'wrong'))
        t1 = time.monotonic()
        c.expect(5, 'AUTH PLAIN ' + plain_token('', 'alice', 'wrong'))
        t2 = time.monotonic()
        self.assertGreaterEqual(t1 - t0, 0.9)
        self.assertGreaterEqual(t2 - t1, 1.9)
        c.expect(235, 'AUTH PLAIN ' + plain_token('', 'alice', 'secret'))

    def test_guessing_limit_per_address_across_sessions(self):
        self.auth_config(max_failures=3)
        rcv = self.start_receiver(listener='submission')
        c, _ = self.tls_raw(rcv, source='127.0.0.2')
        for _ in range(2):
            c.expect(535, 'AUTH PLAIN ' + plain_token('', 'alice', 'guess'))
        c.expect(221, 'QUIT')
        c, _ = self.tls_raw(rcv, source='127.0.0.2')
        c.expect(535, 'AUTH PLAIN ' + plain_token('', 'bob', 'guess'))
        c.expect(221, 'QUIT')
        # a third session from 127.0.0.2: refused for now, even with the password
        c, _ = self.tls_raw(rcv, source='127.0.0.2')
        got = c.expect(4, 'AUTH PLAIN ' + plain_token('', 'alice', 'secret'))
        self.assertTrue(got[0].startswith('454 4.7.0'), got)
        got = c.expect(5, 'MAIL FROM:<alice@example.org>')
        self.assertTrue(got[0].startswith('530'), got)
        # another address is not affected
        d, _ = self.tls_raw(rcv, source='127.0.0.3')
        d.expect(235, 'AUTH PLAIN ' + plain_token('', 'alice', 'secret'))
        d.expect(250, 'MAIL FROM:<alice@example.org>')

    def test_malformed_auth_inputs(self):
        self.auth_config(max_failures=10, extra='limits { errors = 100 }\n')
        rcv = self.start_receiver(listener='submission')
        c, _ = self.tls_raw(rcv)
        cases = [
            ('AUTH PLAIN !!!!', '501 5.5.2'),                      # not base64
            ('AUTH PLAIN YWJj', '501 5.5.2'),                      # "abc": no NUL
            ('AUTH PLAIN ' + b64('alice\0secret'), '501 5.5.2'),   # one NUL
            ('AUTH PLAIN ' + b64('\0alice\0sec\0ret'), '501 5.5.2'),  # three NULs
            ('AUTH PLAIN ' + b64('\0\0secret'), '501 5.5.2'),      # no user
            ('AUTH PLAIN =', '501 5.5.2'),                         # empty
            ('AUTH PLAIN YWJ=j', '501 5.5.2'),                     # data after padding
            ('AUTH PLAIN YWJjZA', '501 5.5.2'),                    # not a multiple of 4
            ('AUTH PLAIN ' + plain_token('bob', 'alice', 'secret'), '535 5.7.1'),  # authzid
            ('AUTH CRAM-MD5', '504 5.5.4'),
            ('AUTH', '504 5.5.4'),
            ('AUTH PLAIN a b', '501 5.5.4'),
            ('AUTH PLAIN ' + b64('\0alice\0' + 'x' * 5000), '501 5.5.2'),  # too long
            ('AUTH PLAIN ' + 'QUFB' * 3100, '500 5.5.2'),          # line over 12288
        ]
        for line, want in cases:
            got = c.cmd(line)[1]
            self.assertTrue(got[0].startswith(want), '%r: %r' % (line[:60], got))
        # continuation responses: cancel, bad base64, empty
        c.expect(334, 'AUTH PLAIN')
        got = c.cmd('*')[1]
        self.assertTrue(got[0].startswith('501 5.7.0'), got)
        c.expect(334, 'AUTH LOGIN')
        got = c.cmd('%%%%')[1]
        self.assertTrue(got[0].startswith('501 5.5.2'), got)
        c.expect(334, 'AUTH PLAIN')
        got = c.cmd('')[1]
        self.assertTrue(got[0].startswith('501 5.5.2'), got)
        c.expect(250, 'NOOP')
        # after all that, the session still authenticates, once
        c.expect(334, 'AUTH LOGIN ' + b64('alice'))
        c.expect(235, b64('secret'))
        got = c.cmd('AUTH PLAIN ' + plain_token('', 'alice', 'secret'))[1]
        self.assertTrue(got[0].startswith('503 5.5.1'), got)
        c.expect(250, 'MAIL FROM:<alice@example.org> AUTH=<>')
        got = c.cmd('AUTH PLAIN ' + plain_token('', 'alice', 'secret'))[1]
        self.assertTrue(got[0].startswith('503 5.5.1'), got)
        self.assertNotIn('secret', self.log(rcv))

    def test_auth_during_transaction_on_optional_listener(self):
        self.auth_config()
        rcv = self.start_receiver(listener='smtp')
        c, lines = self.tls_raw(rcv, source='127.0.0.2')
        self.assertIn('250-AUTH PLAIN LOGIN', lines)
        c.expect(250, 'MAIL FROM:<device@example.org>')
        got = c.cmd('AUTH PLAIN ' + plain_token('', 'alice', 'secret'))[1]
        self.assertTrue(got[0].startswith('503 5.5.1'), got)
        c.expect(250, 'RSET')
        c.expect(235, 'AUTH PLAIN ' + plain_token('', 'alice', 'secret'))
        # authenticated: any domain, own address only
        c.expect(250, 'MAIL FROM:<alice@example.org>')
        c.expect(250, 'RCPT TO:<x@not-campus.example>')

    def test_plain_text_hash_is_temporary_and_a_config_error(self):
        conf = self.auth_config()
        rcv = self.start_receiver(listener='submission')
        c, _ = self.tls_raw(rcv)
        got = c.expect(4, 'AUTH PLAIN ' + plain_token('', 'mallory', 'hunter2'))
        self.assertTrue(got[0].startswith('454 4.7.0'), got)
        self.assertIn(self.passwd + ':5: not a crypt hash', self.log(rcv))
        p = subprocess.run([harness.bin('mailout-smtpd'), '--check-config', '-c', conf],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60,
                           env=self.env())
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 78, out)
        self.assertIn(self.passwd + ':5: not a crypt hash', out)
        self.assertNotIn(':2:', out)

    def test_explain_auth_user(self):
        conf = self.auth_config()

        def explain(*args):
            p = subprocess.run([harness.bin('mailout-smtpd'), '-c', conf, '-l', 'submission',
                                '--explain', '192.0.2.9', '--tls', *args],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60,
                               env=self.env())
            return p.returncode, p.stdout.decode()

        rc, out = explain('--auth', 'alice', '--from', 'alice@example.org', '--rcpt', 'x@far.example')
        self.assertEqual(rc, 0, out)
        self.assertIn('user in %s:2' % self.passwd, out)
        self.assertIn('alice@example.org,Alice.Smith@Example.ORG,alice@stud.example.org', out)
        self.assertIn('sender of user alice: listed in the passwd file -> 250', out)
        rc, out = explain('--auth', 'alice', '--from', 'boss@example.org', '--rcpt', 'x@far.example')
        self.assertEqual(rc, 69, out)
        self.assertIn('553 5.7.1 Sender address <boss@example.org> is not owned by user alice', out)
        rc, out = explain('--auth', 'nobody', '--from', 'n@example.org', '--rcpt', 'x@far.example')
        self.assertEqual(rc, 69, out)
        self.assertIn('-> 535 5.7.8', out)
        rc, out = explain('--auth', 'mallory', '--from', 'm@example.org', '--rcpt', 'x@far.example')
        self.assertIn(':5: not a crypt hash', out)
        self.assertIn('-> 454 4.7.0', out)

    def test_passwd_file_as_systemd_credential(self):
        creds = os.path.join(self.tmp, 'credentials')
        os.mkdir(creds)
        os.rename(self.passwd, os.path.join(creds, 'mailout-passwd'))
        self.auth_config(passwd='mailout-passwd')
        rcv = self.start_receiver('tcpserver', listener='submission',
                                  env={'CREDENTIALS_DIRECTORY': creds})
        c, _ = self.tls_raw(rcv)
        c.expect(235, 'AUTH PLAIN ' + plain_token('', 'carol', 'c4rol'))
        c.expect(250, 'MAIL FROM:<c.k@example.org>')


PAM_DIR = '/etc/pam.d'


@unittest.skipUnless(os.geteuid() == 0 and os.path.isdir(PAM_DIR), 'needs root and /etc/pam.d')
class PAM(AuthBase):
    """A PAM service made by the test: pam_exec checks the password the
    receiver's conversation function supplies (dave / d4ve); users in
    the passwd file never reach PAM."""

    def pam_service(self, body):
        name = 'mailout-test-%d-%s' % (os.getpid(), self.id().rsplit('.', 1)[-1][:20])
        path = os.path.join(PAM_DIR, name)
        with open(path, 'w') as f:
            f.write(body)
        self.addCleanup(os.unlink, path)
        return name

    def checker(self):
        script = os.path.join(self.tmp, 'check.sh')
        with open(script, 'w') as f:
            f.write('#!/bin/bash\nIFS= read -r -d "" pw\n'
                    '[ "$PAM_USER" = dave ] && [ "$pw" = d4ve ]\n')
        os.chmod(script, 0o755)
        os.chmod(self.tmp, 0o755)
        return script

    def test_pam_both_ways(self):
        svc = self.pam_service(
            'auth [success=1 default=ignore] pam_exec.so quiet expose_authtok %s\n'
            'auth requisite pam_deny.so\nauth required pam_permit.so\n'
            'account required pam_permit.so\n' % self.checker())
        self.auth_config(pam=svc, max_failures=10)
        rcv = self.start_receiver(listener='submission')
        c, lines = self.tls_raw(rcv)
        got = c.expect(5, 'AUTH PLAIN ' + plain_token('', 'dave', 'wrong'))
        self.assertTrue(got[0].startswith('535 5.7.8'), got)
        # alice is in the passwd file: PAM is not asked for her
        c.expect(535, 'AUTH PLAIN ' + plain_token('', 'alice', 'd4ve'))
        c.expect(235, 'AUTH PLAIN ' + plain_token('', 'dave', 'd4ve'))
        c.expect(250, 'MAIL FROM:<dave@example.org>')
        rc, out = self.msmtp(rcv, harness.message('pam').replace(
            b'From: sender@example.org', b'From: dave@stud.example.org'),
            '--auth=login', '--user=dave', '--passwordeval=echo d4ve', '--tls=on',
            '--tls-starttls=on', '--tls-trust-file=' + certs.ca()[0], source='127.0.0.4',
            sender='dave@stud.example.org', to=('y@example.com',))
        self.assertEqual(rc, 0, out)
        self.assert_queued(out, 'dave@stud.example.org', ['y@example.com'])

    def test_pam_backend_down_is_temporary(self):
        svc = self.pam_service('auth required pam_exec.so quiet /bin/false\n'
                               'account required pam_permit.so\n')
        self.auth_config(pam=svc)
        rcv = self.start_receiver(listener='submission')
        c, _ = self.tls_raw(rcv)
        got = c.expect(4, 'AUTH PLAIN ' + plain_token('', 'dave', 'd4ve'))
        self.assertTrue(got[0].startswith('454 4.7.0'), got)

    def test_pam_deny(self):
        svc = self.pam_service('auth required pam_deny.so\naccount required pam_permit.so\n')
        self.auth_config(pam=svc)
        rcv = self.start_receiver(listener='submission')
        c, _ = self.tls_raw(rcv)
        got = c.expect(5, 'AUTH PLAIN ' + plain_token('', 'dave', 'd4ve'))
        self.assertTrue(got[0].startswith('535 5.7.8'), got)


class LongLines(AuthBase):
    """RFC 5321 4.5.3.1.6: a message with a line over 1000 octets is
    read to its end and refused once with 500 5.5.2; nothing is queued
    and the session goes on."""

    def test_data_and_bdat_line_too_long(self):
        self.config()
        rcv = self.start_receiver(listener='plain')
        c = self.raw(rcv)
        c.expect(250, 'EHLO client.test.example')
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.expect(354, 'DATA')
        c.send(harness.message('long', 'short\r\n' + 'x' * 1200 + '\r\nend\r\n'))
        got = c.expect(5, '.')
        self.assertTrue(got[0].startswith('500 5.5.2 Line too long'), got)
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        body = harness.message('long bdat', 'y' * 1001 + '\r\n')
        c.send(b'BDAT %d LAST\r\n' % len(body) + body)
        got = c.expect(5)
        self.assertTrue(got[0].startswith('500 5.5.2 Line too long'), got)
        self.assert_spool_empty()
        # a line of exactly 998 octets and its CRLF is fine
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.expect(354, 'DATA')
        c.send(harness.message('ok', 'z' * 998 + '\r\n'))
        text = ' '.join(c.expect(250, '.'))
        self.assert_queued(text, 'sender@example.org', ['rcpt@example.org'])


if __name__ == '__main__':
    unittest.main()
