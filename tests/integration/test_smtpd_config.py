"""End-to-end: mailout-smtpd --check-config.

A good file exits 0; a bad one exits 78 (EX_CONFIG) and names every
error as FILE:LINE: message, with the line of the mistake.
"""

import os
import re
import subprocess
import unittest

import harness


class CheckConfig(harness.TestCase):

    def check(self, path):
        p = subprocess.run([harness.bin('mailout-smtpd'), '--check-config', '-c', path],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30, env=self.env())
        return p.returncode, p.stdout.decode('utf-8', 'replace')

    def test_good_config_exits_0(self):
        path = self.config()
        rc, out = self.check(path)
        self.assertEqual(rc, 0, out)
        self.assertNotRegex(out, re.escape(path) + r':\d+: .*error', out)

    def test_bad_value_exits_78_with_file_and_line(self):
        good = self.render_config().rstrip('\n').split('\n')
        bad = good + ['limits {', '    message_size = "lots"', '}']
        path = self.write_config('\n'.join(bad) + '\n', name='bad.conf')
        rc, out = self.check(path)
        self.assertEqual(rc, 78, out)
        self.assertRegex(out, r'(?m)^%s:%d: \S' % (re.escape(path), len(good) + 2))

    def test_syntax_error_exits_78(self):
        path = self.write_config('spool = "/tmp/x"\nlistener smtp {\n  tls = \n', name='syn.conf')
        rc, out = self.check(path)
        self.assertEqual(rc, 78, out)
        self.assertRegex(out, r'(?m)^%s:\d+: \S' % re.escape(path))

    def test_bad_network_reported_on_its_line(self):
        text = ('spool = "/tmp/x"\n'
                'client campus {\n'
                '    networks = { "10.0.0.0/33" }\n'
                '    relay_domains = { "example.org" }\n'
                '}\n')
        path = self.write_config(text, name='net.conf')
        rc, out = self.check(path)
        self.assertEqual(rc, 78, out)
        self.assertRegex(out, r'(?m)^%s:3: \S' % re.escape(path))

    def test_unknown_key_reported_on_its_line(self):
        text = 'spool = "/tmp/x"\nlimits {\n    recipients = 10\n    colour = "red"\n}\n'
        path = self.write_config(text, name='key.conf')
        rc, out = self.check(path)
        self.assertEqual(rc, 78, out)
        self.assertRegex(out, r'(?m)^%s:4: \S' % re.escape(path))

    def test_missing_file(self):
        rc, out = self.check(self.tmp + '/nonexistent.conf')
        self.assertNotEqual(rc, 0, out)

    # -- the auth files: credentials and paths -----------------------------

    def auth_conf(self, passwd_file):
        lines = self.render_config().rstrip('\n').split('\n')
        lines += ['auth {', '    passwd_file = "%s"' % passwd_file, '}']
        return self.write_config('\n'.join(lines) + '\n', name='auth.conf'), len(lines) - 1

    def check_env(self, path, env):
        p = subprocess.run([harness.bin('mailout-smtpd'), '--check-config', '-c', path],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30, env=env)
        return p.returncode, p.stdout.decode('utf-8', 'replace')

    def test_credential_name_without_credentials_directory_is_a_note(self):
        path, line = self.auth_conf('auth_passwd')
        env = self.env()
        env.pop('CREDENTIALS_DIRECTORY', None)
        rc, out = self.check_env(path, env)
        self.assertEqual(rc, 0, out)
        self.assertIn("%s:%d: note: auth.passwd_file 'auth_passwd' is a systemd credential; "
                      "not checked here" % (path, line), out)
        self.assertNotIn('cannot read', out)

    def test_credential_is_read_from_credentials_directory(self):
        path, line = self.auth_conf('auth_passwd')
        creds = os.path.join(self.tmp, 'credentials')
        os.mkdir(creds)
        env = dict(self.env(), CREDENTIALS_DIRECTORY=creds)
        rc, out = self.check_env(path, env)  # not there: an error on its line
        self.assertEqual(rc, 78, out)
        self.assertIn('%s:%d: auth.passwd_file: cannot read %s/auth_passwd: '
                      'No such file or directory' % (path, line, creds), out)
        with open(os.path.join(creds, 'auth_passwd'), 'w') as f:
            f.write('# users\nmallory:hunter2:mallory@example.org\n')
        rc, out = self.check_env(path, env)  # there: its lines are checked
        self.assertEqual(rc, 78, out)
        self.assertIn('auth_passwd:2: not a crypt hash', out)
        self.assertNotIn('note: auth.passwd_file', out)

    def test_missing_passwd_file_path_is_an_error_on_its_line(self):
        missing = os.path.join(self.tmp, 'no-such-passwd')
        path, line = self.auth_conf(missing)
        rc, out = self.check(path)
        self.assertEqual(rc, 78, out)
        self.assertRegex(out, r'(?m)^%s:%d: auth\.passwd_file: cannot read %s: '
                         r'No such file or directory$' % (re.escape(path), line,
                                                          re.escape(missing)))

    def test_unreadable_passwd_file_is_an_error(self):
        # a path through a regular file: unreadable for root too
        plain = os.path.join(self.tmp, 'plain')
        with open(plain, 'w') as f:
            f.write('')
        passwd = os.path.join(plain, 'passwd')
        path, line = self.auth_conf(passwd)
        rc, out = self.check(path)
        self.assertEqual(rc, 78, out)
        self.assertIn('%s:%d: auth.passwd_file: cannot read %s: Not a directory' %
                      (path, line, passwd), out)


class ExplainConfig(harness.TestCase):
    """-c names the config wherever it stands, also after --explain."""

    def explain(self, *argv):
        env = self.env()
        env.pop('MAILOUT_CONFIG', None)
        p = subprocess.run([harness.bin('mailout-smtpd'), *argv],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30, env=env)
        return p.returncode, p.stdout.decode('utf-8', 'replace')

    def test_c_after_explain_is_honoured(self):
        # only this file has 127.0.0.7 in a class: the default would refuse it
        clients = {'lab': {'networks': ['127.0.0.7/32'], 'relay_domains': ['example.org'],
                           'require_tls': False}}
        path = self.write_config(self.render_config(clients=clients), name='lab.conf')
        args = ['--from', 'a@example.org', '--rcpt', 'b@example.org']
        for argv in (['-c', path, '--explain', '127.0.0.7'] + args,
                     ['--explain', '127.0.0.7', '-c', path] + args,
                     ['--explain', '127.0.0.7'] + args + ['-c', path],
                     ['--explain', '127.0.0.7', '--helo', '-c', '-c', path] + args):
            with self.subTest(argv=argv):
                rc, out = self.explain(*argv)
                self.assertEqual(rc, 0, out)
                self.assertIn('lab', out)
                self.assertIn(path, out)

    def test_c_after_explain_with_a_missing_file_fails(self):
        rc, out = self.explain('--explain', '127.0.0.7', '-c', self.tmp + '/none.conf',
                               '--from', 'a@example.org', '--rcpt', 'b@example.org')
        self.assertNotEqual(rc, 0, out)
        self.assertIn('none.conf', out)


if __name__ == '__main__':
    unittest.main()
