"""The systemd units, checked without a running systemd.

The units are installed (with the programs) under a temporary PREFIX, so
that every path they name exists; then `systemd-analyze verify` must
accept each file without a word, and `systemd-analyze security
--offline=yes` must rate each service at 2.0 or below (the figures are
printed).  The sysusers.d and tmpfiles.d files are applied to a scratch
root with systemd-sysusers and systemd-tmpfiles --root.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from test_install import make

SERVICES = ('mailout-smtpd@.service', 'mailout-submission@.service', 'mailout-smtps@.service',
            'mailout-queue.service', 'mailout-deliver.service')
EXPOSURE_MAX = 2.0


def run(argv, **kw):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120, **kw)
    return p.returncode, p.stdout.decode('utf-8', 'replace')


class Units(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='mailout-units-')
        cls.prefix = os.path.join(cls.tmp, 'prefix')
        cls.var = os.path.join(cls.tmp, 'var')
        cls.run_dir = os.path.join(cls.tmp, 'run')
        try:
            make('install', BUILD=os.path.join(cls.tmp, 'build'), PREFIX=cls.prefix,
                 LOCALSTATEDIR=cls.var, RUNSTATEDIR=cls.run_dir)
        except Exception:
            cls.tearDownClass()
            raise
        cls.unitdir = os.path.join(cls.prefix, 'lib/systemd/system')
        cls.units = sorted(os.path.join(cls.unitdir, n) for n in os.listdir(cls.unitdir))
        # what the .path unit watches must exist for verify
        os.makedirs(os.path.join(cls.var, 'spool/mailout/new'))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def unit(self, name):
        with open(os.path.join(self.unitdir, name)) as f:
            return f.read()

    def test_verify(self):
        self.assertGreaterEqual(len(self.units), 11, self.units)
        for path in self.units:
            with self.subTest(unit=os.path.basename(path)):
                rc, out = run(['systemd-analyze', 'verify', '--man=no', path],
                              cwd=self.unitdir)
                self.assertEqual((rc, out.strip()), (0, ''), 'systemd-analyze verify complains')

    def test_verify_can_fail(self):
        # The check above must be able to fail: a unit naming a missing program.
        bad = os.path.join(self.tmp, 'mailout-broken.service')
        with open(bad, 'w') as f:
            f.write(self.unit('mailout-deliver.service').replace('mailout-deliver\n',
                                                                 'mailout-nonexistent\n'))
        rc, out = run(['systemd-analyze', 'verify', '--man=no', bad])
        self.assertIn('mailout-nonexistent', out)

    def test_security_exposure(self):
        figures = []
        for name in SERVICES:
            rc, out = run(['systemd-analyze', 'security', '--offline=yes',
                           os.path.join(self.unitdir, name)])
            m = re.search(r'Overall exposure level for (\S+): ([0-9.]+)', out)
            self.assertIsNotNone(m, 'no exposure figure for %s:\n%s' % (name, out[-3000:]))
            figures.append((name, float(m.group(2)), out))
        sys.stderr.write('\nsystemd-analyze security --offline=yes:\n')
        for name, level, _ in figures:
            sys.stderr.write('  %-30s %.1f\n' % (name, level))
        for name, level, out in figures:
            with self.subTest(unit=name):
                self.assertLessEqual(level, EXPOSURE_MAX, '%s: exposure %.1f\n%s' %
                                     (name, level, '\n'.join(ln for ln in out.splitlines()
                                                             if ln.startswith('\u2717'))))

    def test_services_are_confined(self):
        for name in SERVICES:
            text = self.unit(name)
            with self.subTest(unit=name):
                self.assertRegex(text, r'(?m)^User=mailout')
                self.assertRegex(text, r'(?m)^ProtectSystem=strict$')
                self.assertRegex(text, r'(?m)^NoNewPrivileges=yes$')
                self.assertRegex(text, r'(?m)^CapabilityBoundingSet=$')
        # the receiver never writes the spool; the queue writer has no network
        for name in ('mailout-smtpd@.service', 'mailout-submission@.service',
                     'mailout-smtps@.service'):
            text = self.unit(name)
            self.assertRegex(text, r'(?m)^User=mailout$')
            self.assertNotIn(os.path.join(self.var, 'spool'), text)
            self.assertIn('LoadCredential=tls:', text)
        text = self.unit('mailout-queue.service')
        self.assertRegex(text, r'(?m)^PrivateNetwork=yes$')
        # SIGTERM to the service alone: its running jobs finish
        self.assertRegex(text, r'(?m)^KillMode=mixed$')
        self.assertNotRegex(text, r'(?m)^StandardInput=socket$')
        self.assertRegex(text, r'(?m)^RestrictAddressFamilies=AF_UNIX$')
        self.assertRegex(text, r'(?m)^ReadWritePaths=%s$' %
                         re.escape(os.path.join(self.var, 'spool/mailout')))
        self.assertRegex(text, r'(?m)^ExecStart=\S+/mailout-queue --socket$')

    def test_sockets(self):
        for name, port, listener in (('mailout-smtpd', 25, 'smtp'),
                                     ('mailout-submission', 587, 'submission'),
                                     ('mailout-smtps', 465, 'smtps')):
            sock = self.unit(name + '.socket')
            self.assertRegex(sock, r'(?m)^ListenStream=%d$' % port)
            self.assertRegex(sock, r'(?m)^Accept=yes$')
            self.assertRegex(sock, r'(?m)^MaxConnectionsPerSource=\d+$')
            self.assertRegex(self.unit(name + '@.service'),
                             r'(?m)^ExecStart=\S+/mailout-smtpd -l %s$' % listener)
        q = self.unit('mailout-queue.socket')
        self.assertRegex(q, r'(?m)^ListenStream=%s$' %
                         re.escape(os.path.join(self.run_dir, 'mailout-queue.sock')))
        # one service for all clients (Accept=no), nothing left of the
        # per-connection template
        self.assertRegex(q, r'(?m)^Accept=no$')
        self.assertFalse(os.path.exists(os.path.join(self.unitdir, 'mailout-queue@.service')))
        path = self.unit('mailout-deliver.path')
        self.assertRegex(path, r'(?m)^DirectoryNotEmpty=%s$' %
                         re.escape(os.path.join(self.var, 'spool/mailout/new')))

    def test_sysusers_and_tmpfiles(self):
        root = os.path.join(self.tmp, 'root')
        os.makedirs(os.path.join(root, 'etc'))
        sysusers = os.path.join(self.prefix, 'lib/sysusers.d/mailout.conf')
        tmpfiles = os.path.join(self.prefix, 'lib/tmpfiles.d/mailout.conf')
        rc, out = run(['systemd-sysusers', '--root=' + root, sysusers])
        self.assertEqual(rc, 0, out)
        users = {}
        with open(os.path.join(root, 'etc/passwd')) as f:
            for line in f:
                fields = line.rstrip('\n').split(':')
                users[fields[0]] = (int(fields[2]), int(fields[3]), fields[6])
        self.assertEqual(sorted(users), ['mailout', 'mailout-spool'])
        for name, (uid, gid, shell) in users.items():
            self.assertLess(uid, 1000, name + ' is not a system user')
            self.assertIn('nologin', shell)
        rc, out = run(['systemd-tmpfiles', '--create', '--root=' + root, tmpfiles])
        self.assertEqual(rc, 0, out)
        spool = root + os.path.join(self.var, 'spool/mailout')
        for d in ('', 'tmp', 'new', 'deferred', 'hold', 'state'):
            st = os.stat(os.path.join(spool, d))
            self.assertEqual((st.st_uid, st.st_mode & 0o7777),
                             (users['mailout-spool'][0], 0o750), 'spool/' + d)
        st = os.stat(root + os.path.join(self.run_dir, 'mailout'))
        self.assertEqual((st.st_uid, st.st_mode & 0o7777), (users['mailout'][0], 0o700))


if __name__ == '__main__':
    unittest.main()
