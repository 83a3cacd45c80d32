"""make install: everything under DESTDIR, nothing set-id, the config
never overwritten, man pages and unit files in place, sendmail links only
on request.

Also the helpers the unit and privilege tests share: `make` with the
install rules (units/install.mk) and a scratch build directory, and file
snapshots.  Each test builds its own tree (a few seconds) with its own
paths, into a temporary directory, never into the repository.
"""

import os
import shutil
import stat
import subprocess
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROGRAMS = ('mailout-smtpd', 'mailout-queue', 'mailout-deliver', 'mailout-sendmail',
            'mailout-spool')
# Where a careless install would write on the host.
WATCHED = ('/etc', '/usr/local', '/usr/sbin', '/usr/bin', '/usr/lib/systemd', '/lib/systemd',
           '/usr/lib/sysusers.d', '/usr/lib/tmpfiles.d', '/usr/share/man', '/var/spool',
           '/var/lib')
# The account files: test_privsep, which may run alongside, adds users.
ACCOUNT_FILES = ('/etc/passwd', '/etc/group', '/etc/shadow', '/etc/gshadow', '/etc/subuid',
                 '/etc/subgid', '/etc/.pwd.lock')


def make(*targets, check=True, **variables):
    """Run make in the repository with the install rules; returns
    (exit code, output).  The top Makefile may or may not include
    units/install.mk yet; both work."""
    argv = ['make', '--no-print-directory', '-C', REPO]
    with open(os.path.join(REPO, 'Makefile')) as f:
        if 'units/install.mk' not in f.read():
            argv += ['-f', 'Makefile', '-f', 'units/install.mk']
    argv += ['%s=%s' % kv for kv in sorted(variables.items())]
    argv += list(targets)
    env = {k: v for k, v in os.environ.items()
           if k not in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'SAN', 'DESTDIR')}
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                       timeout=400)
    out = p.stdout.decode('utf-8', 'replace')
    if check and p.returncode != 0:
        raise AssertionError('%s failed (%d):\n%s' % (' '.join(argv), p.returncode, out[-6000:]))
    return p.returncode, out


def snapshot(roots):
    """Every path under roots (not following links) with its type."""
    seen = set()
    for root in roots:
        if not os.path.lexists(root):
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            for n in dirnames + filenames:
                seen.add(os.path.join(dirpath, n))
    return seen


def run_mailout_names():
    """Entries of /run that look like ours (a careless install makes them)."""
    try:
        return sorted(n for n in os.listdir('/run') if 'mailout' in n)
    except OSError:
        return []


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


class Install(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='mailout-install-')
        cls.build = os.path.join(cls.tmp, 'build')
        cls.paths = dict(BUILD=cls.build, PREFIX='/usr/local', SYSCONFDIR='/etc',
                         UNITDIR='/usr/lib/systemd/system')
        try:
            make('all', **cls.paths)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.dest = tempfile.mkdtemp(prefix='dest-', dir=self.tmp)
        self.addCleanup(shutil.rmtree, self.dest, True)

    def install(self, *targets, check=True, **extra):
        variables = dict(self.paths, DESTDIR=self.dest)
        variables.update(extra)
        return make(*(targets or ('install',)), check=check, **variables)

    def d(self, path):
        return os.path.join(self.dest, path.lstrip('/'))

    def test_destdir_only(self):
        before, run_before = snapshot(WATCHED), run_mailout_names()
        self.install()
        after, run_after = snapshot(WATCHED), run_mailout_names()
        new = sorted(p for p in after - before if not p.rstrip('-+').endswith(ACCOUNT_FILES))
        self.assertEqual(new, [], 'make install wrote outside DESTDIR')
        self.assertEqual(run_after, run_before, 'make install wrote into /run')
        self.assertTrue(os.listdir(self.dest), 'nothing under DESTDIR')

    def test_programs_plain_modes(self):
        self.install()
        sbin = self.d('/usr/local/sbin')
        for p in PROGRAMS:
            path = os.path.join(sbin, p)
            if not os.path.exists(os.path.join(self.build, 'bin', p)):
                continue  # not built in this tree
            self.assertTrue(os.path.isfile(path), '%s not installed' % p)
            self.assertEqual(mode_of(path), 0o755, '%s: not 0755 (no set-id before '
                             'install-users)' % p)
        for n in os.listdir(sbin):
            self.assertEqual(mode_of(os.path.join(sbin, n)) & 0o6000, 0, n + ' is set-id')

    def test_units_and_system_files(self):
        self.install()
        unitdir = self.d('/usr/lib/systemd/system')
        for u in ('mailout-smtpd.socket', 'mailout-smtpd@.service', 'mailout-submission.socket',
                  'mailout-submission@.service', 'mailout-smtps.socket', 'mailout-smtps@.service',
                  'mailout-deliver.service', 'mailout-deliver.timer', 'mailout-deliver.path',
                  'mailout-queue.socket', 'mailout-queue.service'):
            path = os.path.join(unitdir, u)
            self.assertTrue(os.path.isfile(path), u + ' not installed')
            self.assertEqual(mode_of(path), 0o644)
            with open(path) as f:
                text = f.read()
            self.assertNotRegex(text, r'@[A-Z_]+@', u + ': unsubstituted variable')
            if u.endswith('.service'):
                self.assertRegex(text, r'(?m)^ExecStart=/usr/local/sbin/mailout-')
        for f in ('/usr/local/lib/sysusers.d/mailout.conf', '/usr/local/lib/tmpfiles.d/mailout.conf'):
            self.assertTrue(os.path.isfile(self.d(f)), f + ' not installed')
        self.assertEqual(mode_of(self.d('/etc/mailout/tls')), 0o700)
        self.assertEqual(mode_of(self.d('/etc/mailout/gateway')), 0o700)

    def test_upgrade_removes_the_queue_template(self):
        # mailout-queue@.service served mailout-queue.socket with Accept=yes;
        # mailout-queue.service (Accept=no) replaces it
        unitdir = self.d('/usr/lib/systemd/system')
        os.makedirs(unitdir)
        old = os.path.join(unitdir, 'mailout-queue@.service')
        with open(old, 'w') as f:
            f.write('[Service]\nExecStart=/usr/local/sbin/mailout-queue --socket\n')
        self.install()
        self.assertFalse(os.path.exists(old), 'the old template is still installed')
        self.assertTrue(os.path.isfile(os.path.join(unitdir, 'mailout-queue.service')))

    def test_config_never_overwritten(self):
        self.install()
        conf = self.d('/etc/mailout/mailout.conf')
        with open(os.path.join(REPO, 'conf/mailout.conf'), 'rb') as f:
            shipped = f.read()
        with open(conf, 'rb') as f:
            self.assertEqual(f.read(), shipped)
        with open(conf, 'wb') as f:
            f.write(b'# the admin\'s own\nspool = "/srv/spool"\n')
        self.install()
        with open(conf, 'rb') as f:
            self.assertEqual(f.read(), b'# the admin\'s own\nspool = "/srv/spool"\n')

    def test_man_pages(self):
        self.install()
        pages = [n for n in sorted(os.listdir(os.path.join(REPO, 'man')))
                 if n.endswith(('.5', '.8'))] if os.path.isdir(os.path.join(REPO, 'man')) else []
        for n in pages:
            path = self.d('/usr/local/share/man/man%s/%s' % (n[-1], n))
            self.assertTrue(os.path.isfile(path), n + ' not installed')

    def test_sendmail_links_only_on_request(self):
        self.install()
        sendmail = self.d('/usr/local/sbin/sendmail')
        mailq = self.d('/usr/local/bin/mailq')
        self.assertFalse(os.path.lexists(sendmail))
        self.assertFalse(os.path.lexists(mailq))
        self.install('install-sendmail-links')
        self.assertEqual(os.readlink(sendmail), '/usr/local/sbin/mailout-sendmail')
        self.assertEqual(os.readlink(mailq), '/usr/local/sbin/mailout-sendmail')
        # a real sendmail is never replaced
        os.unlink(sendmail)
        with open(sendmail, 'w') as f:
            f.write('#!/bin/sh\n')
        rc, out = self.install('install-sendmail-links', check=False)
        self.assertNotEqual(rc, 0, out)
        self.assertIn('not a link', out)
        with open(sendmail) as f:
            self.assertEqual(f.read(), '#!/bin/sh\n')


if __name__ == '__main__':
    unittest.main()
