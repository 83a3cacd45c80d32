"""End-to-end: mailout-smtpd --check-config.

A good file exits 0; a bad one exits 78 (EX_CONFIG) and names every
error as FILE:LINE: message, with the line of the mistake.
"""

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


if __name__ == '__main__':
    unittest.main()
