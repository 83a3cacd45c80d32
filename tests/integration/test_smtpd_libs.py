"""End-to-end: the libraries a receiver session loads, and when.

mailout-smtpd links neither OpenSSL, libcrypt nor libsystemd: a plain
session has none of them mapped (read from /proc/PID/maps of the live
session), STARTTLS loads libssl and libcrypto, AUTH against the passwd
file loads libcrypt.  When one of them cannot be loaded (a file of that
soname that is no library, found first through LD_LIBRARY_PATH, which
the dynamic linker honours for programs that are not set-id), the
session says so and goes on: STARTTLS gets 454 4.7.0 and the session
stays usable in plain text; an implicit-TLS connection is closed before
any byte; AUTH gets 454 4.7.0; --check-config fails.  Every failure is
logged with the dynamic linker's own words.
"""

import os
import re
import subprocess
import unittest

import harness
import test_auth
from harness import bin

NOT_LINKED = ('libssl.so', 'libcrypto.so', 'libsystemd.so', 'libcrypt.so.')


def soname(pattern):
    """The soname mailout-smtpd dlopens, as written in the program."""
    with open(bin('mailout-smtpd'), 'rb') as f:
        m = re.search(pattern, f.read())
    if not m:
        raise AssertionError('no %r in %s' % (pattern, bin('mailout-smtpd')))
    return m.group(0).decode()


def mapped(pid):
    """Base names of the files mapped into process pid (the real names:
    libssl.so.3 may show as libssl.so.3.0.0)."""
    names = set()
    with open('/proc/%d/maps' % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[5].startswith('/'):
                names.add(os.path.basename(parts[5]))
    return names


def loaded(names, prefix):
    return sorted(n for n in names if n.startswith(prefix))


def junk_library(tc, name):
    """A directory of test tc for LD_LIBRARY_PATH with a file called name
    that is no shared object: dlopen(name) fails with "file too short"."""
    d = os.path.join(tc.tmp, 'junk-libs')
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'w') as f:
        f.write('not a library\n')
    return d


class Loading(harness.TestCase):

    def test_plain_session_maps_none_starttls_maps_openssl(self):
        self.config()
        rcv = self.start_receiver('tcpserver')
        c = self.raw(rcv)
        c.expect(250, 'EHLO client.test.example')
        pid = rcv.wait_session()
        names = mapped(pid)
        self.assertIn('mailout-smtpd', names, 'maps of the session, not of another process')
        for prefix in NOT_LINKED:
            self.assertEqual(loaded(names, prefix), [], 'a plain session has %s loaded' % prefix)
        c.expect(220, 'STARTTLS')
        c.starttls()
        c.expect(250, 'EHLO client.test.example')
        names = mapped(pid)
        self.assertTrue(loaded(names, soname(rb'libssl\.so\.\d+')), names)
        self.assertTrue(loaded(names, 'libcrypto.so'), 'libcrypto comes with libssl')
        self.assertEqual(loaded(names, 'libsystemd.so') + loaded(names, 'libcrypt.so.'), [])
        c.expect(221, 'QUIT')

    def test_starttls_454_without_libssl_session_goes_on(self):
        name = soname(rb'libssl\.so\.\d+')
        self.config()
        rcv = self.start_receiver('tcpserver', env={'LD_LIBRARY_PATH': junk_library(self, name)})
        c = self.raw(rcv)
        lines = c.expect(250, 'EHLO client.test.example')
        self.assertIn('STARTTLS', ' '.join(lines))
        got = c.expect(454, 'STARTTLS')
        self.assertTrue(got[-1].startswith('454 4.7.0 TLS not available'), got)
        c.expect(250, 'NOOP')
        c.expect(250, 'EHLO client.test.example')
        c.expect(221, 'QUIT')
        log = harness.wait_for(lambda: 'unable to load' in self.smtpd_log(rcv) and
                               self.smtpd_log(rcv), what='the load failure in the log')
        self.assertRegex(log, r'warning: TLS: unable to load %s: .*%s: file too short' %
                         (re.escape(name), re.escape(name)))

    def test_implicit_tls_closed_without_libssl(self):
        name = soname(rb'libssl\.so\.\d+')
        self.config()
        rcv = self.start_receiver('tcpserver', listener='smtps',
                                  env={'LD_LIBRARY_PATH': junk_library(self, name)})
        c = self.raw(rcv, greet=False)
        self.assertTrue(c.closed(), 'the connection stays open')
        self.assertEqual(c.buf, b'', 'no byte before TLS')
        log = harness.wait_for(lambda: 'TLS is not available for listener smtps' in
                               self.smtpd_log(rcv) and self.smtpd_log(rcv),
                               what='the refusal in the log')
        self.assertIn('TLS: unable to load %s' % name, log)


class Libcrypt(test_auth.AuthBase):

    def test_auth_loads_libcrypt_on_first_use(self):
        self.auth_config()
        rcv = self.start_receiver('tcpserver', listener='submission')
        c, _ = self.tls_raw(rcv)
        pid = rcv.wait_session()
        self.assertEqual(loaded(mapped(pid), 'libcrypt.so.'), [], 'before AUTH')
        c.expect(235, 'AUTH PLAIN ' + test_auth.plain_token('', 'alice', 'secret'))
        self.assertTrue(loaded(mapped(pid), soname(rb'libcrypt\.so\.\d+')), 'after AUTH')
        c.expect(221, 'QUIT')

    def test_auth_454_without_libcrypt(self):
        name = soname(rb'libcrypt\.so\.\d+')
        self.auth_config()
        rcv = self.start_receiver('tcpserver', listener='submission',
                                  env={'LD_LIBRARY_PATH': junk_library(self, name)})
        c, _ = self.tls_raw(rcv)
        got = c.expect(454, 'AUTH PLAIN ' + test_auth.plain_token('', 'alice', 'secret'))
        self.assertTrue(got[-1].startswith('454 4.7.0'), got)
        c.expect(221, 'QUIT')
        log = harness.wait_for(lambda: 'unable to load' in self.smtpd_log(rcv) and
                               self.smtpd_log(rcv), what='the load failure in the log')
        self.assertIn('warning: auth: unable to load %s' % name, log)
        self.assertIsNone(test_auth.FAIL2BAN_RE.search(log), 'our trouble is no failed AUTH')

    def test_check_config_fails_without_libcrypt(self):
        name = soname(rb'libcrypt\.so\.\d+')
        conf = self.auth_config()
        env = self.env({'LD_LIBRARY_PATH': junk_library(self, name)})
        p = subprocess.run([bin('mailout-smtpd'), '--check-config', '-c', conf], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        out = (p.stdout + p.stderr).decode(errors='replace')
        self.assertEqual(p.returncode, 78, out)
        self.assertIn('%s: cannot check its hashes without libcrypt' % self.passwd, out)
        self.assertIn('unable to load %s' % name, out)
        p = subprocess.run([bin('mailout-smtpd'), '--check-config', '-c', conf], env=self.env(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertNotIn('without libcrypt', (p.stdout + p.stderr).decode(errors='replace'))


if __name__ == '__main__':
    unittest.main()
