"""The manual pages: clean, complete, and true to the programs.

Every page in man/ must pass `mandoc -T lint -W style` and groff's
warnings (`man --warnings -l`) without a single message.  Each program
of the specification has its page; every option its usage line prints
is in the page's SYNOPSIS; every exit code its source documents is in
EXIT STATUS; every key of conf/mailout.conf is in mailout.conf(5); the
example configuration of mailout.conf(5) passes --check-config; SEE ALSO
names only pages that exist.
"""

import glob
import os
import re
import shutil
import subprocess
import unittest

import harness

MAN_DIR = os.path.join(harness.REPO, 'man')
PAGES = {
    'mailout-smtpd': '8',
    'mailout-queue': '8',
    'mailout-deliver': '8',
    'mailout-sendmail': '8',
    'mailout-spool': '8',
    'mailout-scan': '8',
    'mailout.conf': '5',
}
# Where each program's source comment documents its exit codes.
EXIT_DOCS = {
    'mailout-smtpd': 'smtpd/smtpd_main.c',
    'mailout-queue': 'queue/queue_main.c',
    'mailout-deliver': 'deliver/deliver_main.c',
    'mailout-spool': 'deliver/spool_main.c',
    'mailout-scan': 'smtpd/scan_main.c',
}
# The sendmail options the specification names (its usage is lenient).
SENDMAIL_OPTIONS = ['-t', '-i', '-oi', '-f', '-F', '-bp', '-q', '-bs', '-c']
HYPHENS = str.maketrans({'\u2010': '-', '\u2011': '-', '\u2212': '-', '\u00ad': ''})


def page_path(name):
    return os.path.join(MAN_DIR, '%s.%s' % (name, PAGES[name]))


def render(path):
    """The page as plain text, wide lines, ASCII hyphens."""
    env = dict(os.environ, MANWIDTH='250', MAN_KEEP_FORMATTING='', LC_ALL='C.UTF-8')
    if shutil.which('mandoc'):
        argv = ['mandoc', '-T', 'utf8', '-O', 'width=250', path]
    else:
        argv = ['man', '-E', 'UTF-8', '-l', path]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                       timeout=60)
    text = p.stdout.decode('utf-8', 'replace')
    text = re.sub(r'.\x08', '', text)  # overstrike (bold, underline)
    return text.translate(HYPHENS)


def section(text, name):
    """The body of one section (heading at the left margin)."""
    m = re.search(r'^%s\n(.*?)(?=^[A-Z][A-Z ]+\n|\Z)' % re.escape(name), text, re.M | re.S)
    return m.group(1) if m else ''


def usage_of(name):
    """Options in the program's usage message (unknown option or no args)."""
    tries = [['--no-such-option'], []]
    for args in tries:
        p = subprocess.run([harness.bin(name)] + args, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30,
                           env=dict(os.environ, MAILOUT_CONFIG='/nonexistent/mailout.conf'))
        err = p.stderr.decode('utf-8', 'replace')
        if 'usage:' in err:
            text = err[err.index('usage:'):]
            return sorted(set(re.findall(r'(?<![\w-])(--?[A-Za-z][\w-]*)', text)))
    raise AssertionError('%s prints no usage message' % name)


def documented_exit_codes(src):
    """Exit codes in the 'Exit codes' paragraph of a source comment."""
    with open(os.path.join(harness.REPO, src)) as f:
        text = f.read()
    m = re.search(r'Exit codes(.*?)(?:\n \*[ \t]*\n|\*/)', text, re.S)
    if not m:
        raise AssertionError('%s has no "Exit codes" paragraph' % src)
    para = re.sub(r'\n \* ?', ' ', m.group(1))
    para = re.sub(r'\([^()]*\)', ' ', para)
    return sorted(set(int(n) for n in re.findall(r'(?<![\w.-])(\d{1,3})(?![\w.])', para)))


class ManPages(unittest.TestCase):

    maxDiff = None

    def test_every_page_exists(self):
        for name in PAGES:
            self.assertTrue(os.path.exists(page_path(name)), 'missing page %s' % page_path(name))

    def test_mandoc_lint_is_silent(self):
        if not shutil.which('mandoc'):
            self.skipTest('mandoc is not installed (Debian package mandoc)')
        for path in sorted(glob.glob(os.path.join(MAN_DIR, '*.[1-8]'))):
            with self.subTest(page=os.path.basename(path)):
                p = subprocess.run(['mandoc', '-T', 'lint', '-W', 'style', path],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
                self.assertEqual(p.stdout.decode(), '', 'mandoc -T lint -W style')
                self.assertEqual(p.returncode, 0)

    def test_groff_warnings_are_silent(self):
        if not shutil.which('man'):
            self.skipTest('man (man-db) is not installed')
        for path in sorted(glob.glob(os.path.join(MAN_DIR, '*.[1-8]'))):
            with self.subTest(page=os.path.basename(path)):
                p = subprocess.run(['man', '--warnings=all', '-E', 'UTF-8', '-l', path],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   env=dict(os.environ, MANWIDTH='80'), timeout=60)
                self.assertEqual(p.stderr.decode(), '', 'man --warnings=all')
                self.assertEqual(p.returncode, 0)

    def test_required_sections(self):
        need = ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'ENVIRONMENT', 'EXIT STATUS', 'SEE ALSO']
        for name, sec in PAGES.items():
            with self.subTest(page=name):
                text = render(page_path(name))
                wanted = need if sec == '8' else ['NAME', 'DESCRIPTION', 'FILES', 'SEE ALSO']
                for s in wanted:
                    self.assertRegex(text, r'(?m)^%s$' % s, '%s has no %s section' % (name, s))
                if sec == '8':
                    self.assertIn('MAILOUT_CONFIG', section(text, 'ENVIRONMENT'))

    def test_synopsis_has_every_option_of_the_usage(self):
        for name in EXIT_DOCS:
            with self.subTest(program=name):
                if not harness.have_bin(name):
                    self.fail('%s is not built' % harness.bin(name))
                synopsis = section(render(page_path(name)), 'SYNOPSIS')
                for opt in usage_of(name):
                    self.assertRegex(synopsis, r'(?<![\w-])%s(?![\w-])' % re.escape(opt),
                                     '%s(8) SYNOPSIS lacks %s' % (name, opt))
        synopsis = section(render(page_path('mailout-sendmail')), 'SYNOPSIS')
        description = section(render(page_path('mailout-sendmail')), 'DESCRIPTION')
        for opt in SENDMAIL_OPTIONS:
            self.assertRegex(synopsis + description, r'(?<![\w-])%s(?![\w-])' % re.escape(opt),
                             'mailout-sendmail(8) lacks %s' % opt)

    def test_exit_status_has_every_documented_code(self):
        for name, src in EXIT_DOCS.items():
            with self.subTest(program=name):
                codes = documented_exit_codes(src)
                self.assertIn(0, codes, 'could not read the exit codes of %s' % src)
                status = section(render(page_path(name)), 'EXIT STATUS')
                for code in codes:
                    self.assertRegex(status, r'(?<![\w.])%d(?![\w.])' % code,
                                     '%s(8) EXIT STATUS lacks %d (documented in %s)'
                                     % (name, code, src))

    def test_queue_exit_codes_are_qmails(self):
        status = section(render(page_path('mailout-queue')), 'EXIT STATUS')
        for code in (0, 11, 31, 51, 53, 54, 55, 71, 81, 91):
            self.assertRegex(status, r'(?m)^ +%d +\S' % code)

    def test_conf_page_names_every_key(self):
        with open(os.path.join(harness.REPO, 'conf/mailout.conf')) as f:
            keys = set()
            for line in f:
                line = line.split('#', 1)[0]
                keys.update(re.findall(r'(?:^|[{\s])([a-z_]+)\s*=', line))
                m = re.match(r'\s*([a-z_]+)(?:\s+[\w-]+)?\s*\{', line)
                if m:
                    keys.add(m.group(1))
        self.assertGreater(len(keys), 30, 'could not read conf/mailout.conf')
        text = render(page_path('mailout.conf'))
        missing = sorted(k for k in keys if not re.search(r'(?<![\w.])%s(?!\w)' % k, text))
        self.assertEqual(missing, [], 'keys of conf/mailout.conf not in mailout.conf(5)')

    def test_conf_example_is_valid(self):
        if not harness.have_bin('mailout-smtpd'):
            self.fail('%s is not built' % harness.bin('mailout-smtpd'))
        with open(page_path('mailout.conf')) as f:
            src = f.read()
        m = re.search(r'^\.SH EXAMPLES\n.*?^\.EX\n(.*?)^\.EE$', src, re.M | re.S)
        self.assertIsNotNone(m, 'mailout.conf(5) has no example')
        tmp = self.enterContext(harness.tempfile.TemporaryDirectory()) \
            if hasattr(self, 'enterContext') else None
        path = os.path.join(tmp or '/tmp', 'mailout-man-example-%d.conf' % os.getpid())
        with open(path, 'w') as f:
            f.write(m.group(1).replace('\\-', '-').replace('\\e', '\\'))
        try:
            p = subprocess.run([harness.bin('mailout-smtpd'), '--check-config', '-c', path],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        finally:
            if tmp is None:
                os.unlink(path)
        out = p.stdout.decode('utf-8', 'replace')
        self.assertEqual(p.returncode, 0, out)
        self.assertNotRegex(out, r':\d+: (?!note:)', out)

    def test_see_also_names_existing_pages(self):
        have = {os.path.basename(p).rsplit('.', 1)[0] for p in glob.glob(MAN_DIR + '/*.[1-8]')}
        for name in PAGES:
            with self.subTest(page=name):
                see = section(render(page_path(name)), 'SEE ALSO')
                refs = re.findall(r'(mailout[\w.-]*)\((\d)\)', see)
                self.assertTrue(refs, 'SEE ALSO of %s names no mailout page' % name)
                for ref, sec in refs:
                    self.assertIn(ref, have, '%s(%s) has no page' % (ref, sec))
                    self.assertEqual(PAGES.get(ref), sec, 'section of %s' % ref)
                    self.assertNotEqual(ref, name, 'a page refers to itself')


if __name__ == '__main__':
    unittest.main()
