"""test_queue.py - mailout-queue against a real spool directory

Runs the built mailout-queue (from $MAILOUT_BIN, default build/check/bin)
with the qmail-queue protocol - message on fd 0, envelope on fd 1 - and
looks at what an admin would see: the exit code, the files in new/ and
tmp/, their exact contents.  Crashes are made with strace's fault
injection (SIGKILL at a chosen system call), a full disk with a small
tmpfs (root only; skipped otherwise).

Never touches anything outside its own temporary directory; every child
runs under a timeout and is killed by its pid if it overruns.
"""

import os
import re
import shutil
import subprocess
import tempfile
import threading
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get('MAILOUT_BIN', os.path.join(TOP, 'build', 'check', 'bin'))
QUEUE = os.path.join(BIN, 'mailout-queue')
TIMEOUT = 60
ID_RE = re.compile(r'^[0-9A-F]{16}\.[A-Z2-7]{12}$')
GIVEN_ID = '0006445941624000.A7B2C3D4E5F6'

# Exit codes of mailout-queue (qmail-queue's table).
QQ_OK, QQ_TOO_LONG, QQ_PERM = 0, 11, 31
QQ_WRITE, QQ_READ, QQ_CONFIG, QQ_TEMP, QQ_BUG, QQ_BAD_ENV = 53, 54, 55, 71, 81, 91


def envelope(sender, *rcpts):
    """qmail-queue's F<sender>\\0T<rcpt>\\0...\\0 as bytes."""
    out = b'F' + sender.encode() + b'\0'
    for r in rcpts:
        out += b'T' + r.encode() + b'\0'
    return out + b'\0'


def _feed(fd, data):
    """Write data to a pipe and close it; the child may go away early."""
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    except (BrokenPipeError, OSError):
        pass
    finally:
        os.close(fd)


class Spool:
    """A spool directory and a config file pointing at it."""

    def __init__(self, root, spool=None, extra=''):
        self.root = root
        self.dir = spool or os.path.join(root, 'spool')
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(root, 'mailout.conf')
        with open(self.conf, 'w') as f:
            f.write('spool = "%s"\n%s' % (self.dir, extra))

    def ls(self, sub):
        path = os.path.join(self.dir, sub)
        return sorted(os.listdir(path)) if os.path.isdir(path) else []

    def read(self, sub, name):
        with open(os.path.join(self.dir, sub, name), 'rb') as f:
            return f.read()


def run_queue(spool, message, env, args=(), prefix=(), stdin_fd=None):
    """Run mailout-queue; returns (exit code, stderr text)."""
    r0, w0 = os.pipe() if stdin_fd is None else (stdin_fd, None)
    r1, w1 = os.pipe()
    errf = tempfile.TemporaryFile()
    cmd = [*prefix, QUEUE, '-c', spool.conf, *args]
    environ = dict(os.environ)
    environ.pop('MAILOUT_CONFIG', None)
    proc = subprocess.Popen(cmd, stdin=r0, stdout=r1, stderr=errf, env=environ)
    os.close(r1)
    if w0 is not None:
        os.close(r0)
    # The message first, to EOF; only then the envelope.
    def writer():
        if w0 is not None:
            _feed(w0, message)
        _feed(w1, env)
    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        rc = proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, 9)
        proc.wait(timeout=10)
        raise
    t.join(timeout=10)
    errf.seek(0)
    err = errf.read().decode(errors='replace')
    errf.close()
    return rc, err


# mailout-queue --socket refusing its command line: what it must log.
BAD_SOCKET_ARGS = (['extra'], ['-c'], ['-q'], ['-c', '/nonexistent', 'extra'])
NO_PEER = 'socket client uid -1 pid 0)'


def run_socket_refused(args, prefix=(), extra_env=None):
    """mailout-queue --socket ARGS with fd 0 and 1 on /dev/null; returns
    (exit code, stderr text).  It refuses the arguments before it looks
    at fd 0, so no socket is needed."""
    environ = dict(os.environ)
    environ.pop('MAILOUT_CONFIG', None)
    environ.update(extra_env or {})
    with open(os.devnull, 'rb') as nul_in, open(os.devnull, 'wb') as nul_out:
        proc = subprocess.run([*prefix, QUEUE, '--socket', *args], stdin=nul_in,
                              stdout=nul_out, stderr=subprocess.PIPE, env=environ,
                              timeout=TIMEOUT, check=False)
    return proc.returncode, proc.stderr.decode(errors='replace')


def built_with_asan():
    """Whether QUEUE is an AddressSanitizer build (valgrind cannot run it)."""
    with open(QUEUE, 'rb') as f:
        return b'libasan' in f.read()


@unittest.skipUnless(os.access(QUEUE, os.X_OK), 'mailout-queue not built')
class QueueTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='mailout-queue-test-')
        self.spool = Spool(self.tmp)
        self.mounted = None

    def tearDown(self):
        if self.mounted:
            subprocess.run(['umount', self.mounted], timeout=30, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def assertNothingQueued(self, spool=None):
        spool = spool or self.spool
        self.assertEqual(spool.ls('new'), [], 'something reached new/')
        self.assertEqual(spool.ls('tmp'), [], 'something was left in tmp/')

    def queued(self):
        names = self.spool.ls('new')
        self.assertEqual(len(names), 1, names)
        self.assertRegex(names[0], ID_RE)
        return names[0], self.spool.read('new', names[0])

    def test_good_message_exact_format(self):
        msg = b'Subject: hello\r\nFrom: root@example.org\r\n\r\nbody\r\nline 2\r\n'
        rc, err = run_queue(self.spool, msg, envelope(
            'root@example.org', 'alice@example.org', 'bob@example.org'))
        self.assertEqual(rc, QQ_OK, err)
        name, data = self.queued()
        head, sep, body = data.partition(b'\n\n')
        self.assertEqual(sep, b'\n\n')
        lines = head.decode().split('\n')
        self.assertEqual(lines[0], 'Mailout-Spool: 1')
        self.assertEqual(lines[1], 'Queue-ID: ' + name)
        m = re.fullmatch(r'Queued-At: (\d+) \((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\)', lines[2])
        self.assertIsNotNone(m, lines[2])
        self.assertEqual(lines[3:], ['Envelope-From: <root@example.org>',
                                     'Envelope-To: <alice@example.org>',
                                     'Envelope-To: <bob@example.org>'])
        # CRLF became LF; nothing else changed
        self.assertEqual(body, msg.replace(b'\r\n', b'\n'))
        st = os.stat(os.path.join(self.spool.dir, 'new', name))
        self.assertEqual(st.st_mode & 0o777, 0o640)
        self.assertEqual(self.spool.ls('tmp'), [])
        # the time part of the ID is the Queued-At time
        self.assertLessEqual(abs(int(name[:16], 16) // 1000000 - int(m.group(1))), 2)

    def test_null_sender_and_binary_body(self):
        msg = b'Subject: x\n\nbare\rCR and a NUL \0 byte\n'
        rc, err = run_queue(self.spool, msg, envelope('', 'postmaster@example.org'))
        self.assertEqual(rc, QQ_OK, err)
        _, data = self.queued()
        self.assertIn(b'\nEnvelope-From: <>\n', data)
        self.assertTrue(data.endswith(b'\n\n' + msg))

    def test_given_id_and_no_overwrite(self):
        rc, err = run_queue(self.spool, b'first\n', envelope('a@x', 'b@x'),
                            args=('-i', GIVEN_ID))
        self.assertEqual(rc, QQ_OK, err)
        self.assertEqual(self.spool.ls('new'), [GIVEN_ID])
        before = self.spool.read('new', GIVEN_ID)
        rc, err = run_queue(self.spool, b'second\n', envelope('a@x', 'b@x'),
                            args=('-i', GIVEN_ID))
        self.assertEqual(rc, QQ_TEMP, err)
        self.assertIn(GIVEN_ID, err)   # the log line names the queue ID
        self.assertEqual(self.spool.read('new', GIVEN_ID), before)
        self.assertEqual(self.spool.ls('tmp'), [])
        # an ID already deferred is in use too
        os.makedirs(os.path.join(self.spool.dir, 'deferred'))
        os.rename(os.path.join(self.spool.dir, 'new', GIVEN_ID),
                  os.path.join(self.spool.dir, 'deferred', GIVEN_ID))
        rc, err = run_queue(self.spool, b'third\n', envelope('a@x', 'b@x'),
                            args=('-i', GIVEN_ID))
        self.assertEqual(rc, QQ_TEMP, err)
        self.assertNothingQueued()

    def test_bad_queue_id(self):
        for bad in ('../x', '../../etc/passwd', GIVEN_ID.lower(), GIVEN_ID + 'A', ''):
            rc, err = run_queue(self.spool, b'x\n', envelope('a@x', 'b@x'),
                                args=('-i', bad))
            self.assertEqual(rc, QQ_BUG, bad)
        self.assertNothingQueued()
        self.assertFalse(os.path.exists(os.path.join(self.tmp, 'x')))

    def test_bad_envelopes(self):
        cases = {
            'no recipient': b'Fa@x\0\0',
            'no F': b'Tb@x\0\0',
            'junk after the end': b'Fa@x\0Tb@x\0\0junk',
            'CR in address': b'Fa@x\0Tb\r@x\0\0',
            'LF in address': b'Fa@x\0Tb@x\nEnvelope-To: <evil@x>\0\0',
            'angle bracket': b'Fa@x\0T<b@x>\0\0',
            'empty recipient': b'Fa@x\0T\0\0',
            'empty': b'',
        }
        for name, env in cases.items():
            rc, err = run_queue(self.spool, b'Subject: x\n\nx\n', env)
            self.assertEqual(rc, QQ_BAD_ENV, name)
            self.assertNothingQueued()

    def test_truncated_envelope(self):
        for env in (b'Fa@x\0Tb@x\0', b'Fa@x\0Tb@', b'Fa@x'):
            rc, err = run_queue(self.spool, b'x\n', env)
            self.assertEqual(rc, QQ_BAD_ENV, env)
        self.assertNothingQueued()

    def test_address_too_long(self):
        long_addr = 'a' * 250 + '@example.org'
        rc, err = run_queue(self.spool, b'x\n', envelope(long_addr, 'b@x'))
        self.assertEqual(rc, QQ_TOO_LONG, err)
        rc, err = run_queue(self.spool, b'x\n', envelope('a@x', 'b@x', long_addr))
        self.assertEqual(rc, QQ_TOO_LONG, err)
        self.assertNothingQueued()

    def test_recipient_limit(self):
        rcpts = ['r%05d@example.org' % i for i in range(10000)]
        rc, err = run_queue(self.spool, b'x\n', envelope('a@x', *rcpts))
        self.assertEqual(rc, QQ_OK, err)
        _, data = self.queued()
        self.assertEqual(data.count(b'\nEnvelope-To: <'), 10000)
        os.unlink(os.path.join(self.spool.dir, 'new', self.spool.ls('new')[0]))
        rc, err = run_queue(self.spool, b'x\n', envelope('a@x', *rcpts, 'one@more'))
        self.assertEqual(rc, QQ_BAD_ENV, err)
        self.assertNothingQueued()

    def test_large_message_through_scratch_file(self):
        line = b'0123456789abcdefghijklmnopqrstuvwxyz' * 2 + b'\r\n'
        msg = b'Subject: big\r\n\r\n' + line * (3 * 1024 * 1024 // len(line))
        rc, err = run_queue(self.spool, msg, envelope('a@x', 'b@x'))
        self.assertEqual(rc, QQ_OK, err)
        _, data = self.queued()
        self.assertTrue(data.endswith(b'\n\n' + msg.replace(b'\r\n', b'\n')))
        self.assertEqual(self.spool.ls('tmp'), [])

    def test_size_limit_is_permanent(self):
        spool = Spool(self.tmp, extra='limits { message_size = "10k" }\n')
        rc, err = run_queue(spool, b'x' * (200 * 1024), envelope('a@x', 'b@x'))
        self.assertEqual(rc, QQ_PERM, err)
        self.assertNothingQueued(spool)

    def test_missing_spool_is_config_error(self):
        spool = Spool(self.tmp, spool=os.path.join(self.tmp, 'spool'))
        shutil.rmtree(spool.dir)
        rc, err = run_queue(spool, b'x\n', envelope('a@x', 'b@x'))
        self.assertEqual(rc, QQ_CONFIG, err)
        self.assertFalse(os.path.exists(spool.dir))
        with open(spool.conf, 'w') as f:
            f.write('spool = "%s"\nthis is not a config\n' % spool.dir)
        rc, err = run_queue(spool, b'x\n', envelope('a@x', 'b@x'))
        self.assertEqual(rc, QQ_CONFIG, err)

    def test_read_error(self):
        fd = os.open(self.tmp, os.O_RDONLY | os.O_DIRECTORY)   # read() gives EISDIR
        try:
            rc, err = run_queue(self.spool, b'', envelope('a@x', 'b@x'), stdin_fd=fd)
        finally:
            os.close(fd)
        self.assertEqual(rc, QQ_READ, err)
        self.assertNothingQueued()

    def mount_small_tmpfs(self):
        if os.geteuid() != 0 or not shutil.which('mount'):
            self.skipTest('needs root to mount a tmpfs')
        path = os.path.join(self.tmp, 'small')
        os.mkdir(path)
        r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', path],
                           timeout=30, capture_output=True)
        if r.returncode != 0:
            self.skipTest('cannot mount a tmpfs: ' + r.stderr.decode(errors='replace'))
        self.mounted = path
        return Spool(self.tmp, spool=os.path.join(path, 'spool'))

    def test_disk_full(self):
        spool = self.mount_small_tmpfs()
        # 512k: held in memory, fails writing tmp/ID; 2M: fails in the scratch file
        for size in (512 * 1024, 2 * 1024 * 1024):
            rc, err = run_queue(spool, b'Subject: big\n\n' + b'y' * size,
                                envelope('a@x', 'b@x'))
            self.assertEqual(rc, QQ_WRITE, err)
            self.assertNothingQueued(spool)
        # and the spool still works for a message that fits
        rc, err = run_queue(spool, b'Subject: small\n\nok\n', envelope('a@x', 'b@x'))
        self.assertEqual(rc, QQ_OK, err)
        self.assertEqual(len(spool.ls('new')), 1)

    def run_killed_at(self, inject):
        if not shutil.which('strace'):
            self.skipTest('strace not installed')
        prefix = ('strace', '-f', '-o', '/dev/null', '-e',
                  'trace=rename,renameat,renameat2,link,linkat,fsync',
                  '-e', 'inject=%s:signal=SIGKILL' % inject)
        rc, err = run_queue(self.spool, b'Subject: crash\n\nbody\n',
                            envelope('a@x', 'b@x'), prefix=prefix)
        self.assertNotEqual(rc, QQ_OK, err)   # killed: the caller never hears 0
        return rc

    def test_crash_before_rename(self):
        self.run_killed_at('rename,renameat,renameat2,link,linkat')
        self.assertEqual(self.spool.ls('new'), [])
        # S3: a complete tmp/ID may be left; it is never delivered
        for name in self.spool.ls('tmp'):
            self.assertRegex(name, ID_RE)
            self.assertTrue(self.spool.read('tmp', name).startswith(b'Mailout-Spool: 1\n'))

    def test_crash_at_file_fsync(self):
        self.run_killed_at('fsync:when=1')
        self.assertEqual(self.spool.ls('new'), [])

    def test_crash_at_directory_fsync(self):
        # S4: renamed, the directory not yet fsynced: the file is complete
        self.run_killed_at('fsync:when=2')
        names = self.spool.ls('new')
        self.assertEqual(len(names), 1)
        self.assertTrue(self.spool.read('new', names[0]).endswith(b'\n\nSubject: crash\n\nbody\n'))
        self.assertEqual(self.spool.ls('tmp'), [])

    def test_concurrent_writers(self):
        n = 20
        results = [None] * n

        def one(i):
            results[i] = run_queue(self.spool, b'Subject: n=%d\n\nbody %d\n' % (i, i),
                                   envelope('a@x', 'r%d@x' % i))
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=TIMEOUT + 10)
        for i, res in enumerate(results):
            self.assertIsNotNone(res, i)
            self.assertEqual(res[0], QQ_OK, res[1])
        names = self.spool.ls('new')
        self.assertEqual(len(names), n)
        self.assertEqual(len(set(names)), n)
        seen = set()
        for name in names:
            data = self.spool.read('new', name)
            m = re.search(rb'\nEnvelope-To: <r(\d+)@x>\n\nSubject: n=(\d+)\n\nbody (\d+)\n$', data)
            self.assertIsNotNone(m, data)
            self.assertEqual(len(set(m.groups())), 1)
            seen.add(int(m.group(1)))
        self.assertEqual(seen, set(range(n)))
        self.assertEqual(self.spool.ls('tmp'), [])

    def test_socket_bad_arguments_log_no_peer(self):
        # Regression: the refused command line used to log the peer
        # uid/pid and close the fds of a request never set up.
        for args in BAD_SOCKET_ARGS:
            with self.subTest(args=args):
                rc, err = run_socket_refused(args)
                self.assertEqual(rc, QQ_BUG, err)
                lines = [l for l in err.splitlines() if 'not queued: usage' in l]
                self.assertEqual(len(lines), 1, err)
                self.assertIn('NOQUEUE: not queued: usage: ', lines[0])
                self.assertTrue(lines[0].endswith('(exit 81, internal bug; ' + NO_PEER),
                                lines[0])
        self.assertNothingQueued()

    @unittest.skipUnless(shutil.which('valgrind'), 'valgrind not installed')
    def test_socket_bad_arguments_valgrind_clean(self):
        # No close() of an uninitialised fd, no uninitialised uid/pid in
        # the log line: memcheck reports either as an error (exit 99).
        if built_with_asan():
            self.skipTest('mailout-queue built with AddressSanitizer; '
                          'valgrind needs a build without SAN=1')
        for args in BAD_SOCKET_ARGS:
            with self.subTest(args=args):
                rc, err = run_socket_refused(
                    args, prefix=('valgrind', '--error-exitcode=99', '-q'))
                self.assertEqual(rc, QQ_BUG, err)
                self.assertNotIn('uninitialised', err)
                self.assertNotIn('invalid file descriptor', err)
                self.assertIn(NO_PEER, err)

    @unittest.skipUnless(shutil.which('strace'), 'strace not installed')
    def test_socket_bad_arguments_close_nothing_bad(self):
        # The same under any build: strace shows no close() that fails
        # (a garbage fd gives EBADF) and none of fd 0 or 1.
        log = os.path.join(self.tmp, 'strace.log')
        rc, err = run_socket_refused(
            ['extra'], prefix=('strace', '-f', '-qq', '-o', log, '-e', 'trace=close'),
            extra_env={'ASAN_OPTIONS': 'detect_leaks=0'})  # LSan cannot run under ptrace
        self.assertEqual(rc, QQ_BUG, err)
        self.assertIn(NO_PEER, err)
        with open(log, encoding='utf-8', errors='replace') as f:
            trace = f.read()
        self.assertNotIn('EBADF', trace)
        self.assertIsNone(re.search(r'\bclose\([01]\)', trace), trace)


if __name__ == '__main__':
    unittest.main()
