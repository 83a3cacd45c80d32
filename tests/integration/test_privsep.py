"""Privilege separation, proved by trying (root only: it creates users).

`make install` and `make install-users` put a tree under a temporary
PREFIX (the compiled-in config and spool are in there) with two users
made for the test (mo-test-rcv for the receiver, mo-test-spool for the
spool; removed afterwards).  Then, with setpriv as each user:

- the receiver's user cannot list, read, create, change or remove spool
  files; it can queue mail only through mailout-queue, set-uid, which
  ignores -c and MAILOUT_CONFIG, or through mailout-queue --socket (run
  by systemd-socket-activate on a unix socket, as the spool user: per
  connection, or one service for all); set-uid, it refuses to serve a
  listening socket;
- only the spool user changes or removes queued files;
- mailout-spool works for root and the spool user, not for the receiver;
- a message sent with smtplib to mailout-smtpd running as the receiver's
  user lands in the spool, both ways;
- with content.block_executables the installed mailout-scan (the
  compiled-in path) runs as the receiver's user, hands a clean message
  over the socket and refuses a zipped executable naming the file;
  mailout-sendmail run by nobody does the same;
- the socket protocol refuses what breaks it (wrong line, wrong fds).
"""

import base64
import grp
import io
import os
import pwd
import shutil
import smtplib
import socket
import stat
import subprocess
import tempfile
import time
import unittest
import zipfile

import harness
from test_install import make

RCV = 'mo-test-rcv'
SPOOLU = 'mo-test-spool'
ENVELOPE = b'Fsender@example.org\0Trcpt@example.org\0\0'
MESSAGE = b'Subject: privsep\n\nhello from the test\n'
PE = b'MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff' + b'\0' * 200


def zipped_pe():
    """A message with docs.zip attached, holding a PE named readme.txt."""
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED) as z:
        z.writestr('readme.txt', PE)
    return (b'Subject: zipped\nMIME-Version: 1.0\n'
            b'Content-Type: multipart/mixed; boundary="b"\n\n--b\n'
            b'Content-Type: application/zip; name="docs.zip"\n'
            b'Content-Disposition: attachment; filename="docs.zip"\n'
            b'Content-Transfer-Encoding: base64\n\n' + base64.encodebytes(b.getvalue()) +
            b'--b--\n')


ZIPPED_PE = zipped_pe()
DIALOGUE = (b'EHLO client.test.example\r\nMAIL FROM:<sender@example.org>\r\n'
            b'RCPT TO:<rcpt@example.org>\r\nDATA\r\nSubject: piped\r\n\r\nbody\r\n.\r\nQUIT\r\n')


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def remove_user(name):
    if user_exists(name):
        subprocess.run(['userdel', name], timeout=60, check=False)
    try:
        grp.getgrnam(name)
        subprocess.run(['groupdel', name], timeout=60, check=False)
    except KeyError:
        pass


def setpriv(user):
    """The command prefix that runs a program as user, with its own group."""
    pw = pwd.getpwnam(user)
    return ['setpriv', '--reuid=%d' % pw.pw_uid, '--regid=%d' % pw.pw_gid, '--clear-groups',
            '--']


def as_user(user, argv, input=None, env=None, stdout=subprocess.PIPE, timeout=60):
    """Run argv as user (uid, gid, no supplementary groups); returns
    (exit code, stdout+stderr)."""
    p = subprocess.run(setpriv(user) + argv, input=input, stdout=stdout, stderr=subprocess.STDOUT,
                       env=env if env is not None else {'PATH': '/usr/bin:/bin'}, timeout=timeout)
    return p.returncode, (p.stdout or b'').decode('utf-8', 'replace')


@unittest.skipUnless(os.geteuid() == 0, 'needs root: creates users and set-uid programs')
class Privsep(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        for u in (RCV, SPOOLU):
            remove_user(u)  # left over by a killed run
        cls.tmp = tempfile.mkdtemp(prefix='mailout-privsep-')
        os.chmod(cls.tmp, 0o755)  # the users must reach the programs
        cls.prefix = os.path.join(cls.tmp, 'prefix')
        cls.etc = os.path.join(cls.tmp, 'etc')
        cls.spool = os.path.join(cls.tmp, 'var/spool/mailout')
        cls.rundir = os.path.join(cls.tmp, 'run')
        cls.sbin = os.path.join(cls.prefix, 'sbin')
        cls.qsock = os.path.join(cls.rundir, 'mailout-queue.sock')
        os.makedirs(os.path.join(cls.etc, 'mailout'))
        cls.conf = os.path.join(cls.etc, 'mailout/mailout.conf')
        with open(cls.conf, 'w') as f:
            f.write(cls.config_text(''))
        cls.sock_conf = os.path.join(cls.etc, 'mailout/socket.conf')
        with open(cls.sock_conf, 'w') as f:
            f.write(cls.config_text(cls.qsock))
        cls.scan_conf = os.path.join(cls.etc, 'mailout/scan.conf')
        with open(cls.scan_conf, 'w') as f:
            f.write(cls.config_text(cls.qsock, scan=True))
        cls.vars = dict(BUILD=os.path.join(cls.tmp, 'build'), PREFIX=cls.prefix,
                        SYSCONFDIR=cls.etc, LOCALSTATEDIR=os.path.join(cls.tmp, 'var'),
                        RUNSTATEDIR=cls.rundir, SMTPD_USER=RCV, SPOOL_USER=SPOOLU)
        try:
            make('install', **cls.vars)
            make('install-users', **cls.vars)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for u in (RCV, SPOOLU):
            remove_user(u)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def config_text(cls, queue_socket, scan=False):
        return '\n'.join([
            'hostname = "relay.test.example"',
            'spool = "%s"' % cls.spool,
            'state_dir = "%s"' % os.path.join(cls.rundir, 'mailout'),
            'listener plain { tls = "none" auth = "none" }',
            'client local {',
            '    networks = { "127.0.0.0/8" }',
            '    require_tls = false',
            '    relay_domains = { "example.org" }',
            '}',
            'content { block_executables = %s }' % ('true' if scan else 'false'),
            'queue { socket = "%s" }' % queue_socket,
            ''])

    def setUp(self):
        self.procs = []
        self.addCleanup(self._stop)

    def _stop(self):
        for p in self.procs:
            p.stop()

    # -- helpers ---------------------------------------------------------

    def new_ids(self):
        return sorted(os.listdir(os.path.join(self.spool, 'new')))

    def queue_as(self, user, *args, env=None):
        """mailout-queue (set-uid) run by user; returns (exit code, output)."""
        r, w = os.pipe()
        os.write(w, ENVELOPE)
        os.close(w)
        try:
            full = setpriv(user) + [os.path.join(self.sbin, 'mailout-queue')] + list(args)
            p = subprocess.run(full, input=MESSAGE, stdout=r, stderr=subprocess.PIPE,
                               env=env or {'PATH': '/usr/bin:/bin'}, timeout=60)
        finally:
            os.close(r)
        return p.returncode, p.stderr.decode('utf-8', 'replace')

    def queue_one(self):
        before = set(self.new_ids())
        rc, out = self.queue_as(RCV)
        self.assertEqual(rc, 0, out)
        added = sorted(set(self.new_ids()) - before)
        self.assertEqual(len(added), 1)
        return added[0]

    def start_queue_socket(self):
        """systemd-socket-activate on the queue socket: one mailout-queue
        --socket per connection, as the spool user."""
        if os.path.lexists(self.qsock):
            os.unlink(self.qsock)
        log = os.path.join(self.tmp, 'queue-socket.%d.log' % len(self.procs))
        argv = ['systemd-socket-activate', '-l', self.qsock, '--accept', '--inetd'] + \
            setpriv(SPOOLU) + [os.path.join(self.sbin, 'mailout-queue'), '--socket']
        p = harness.Proc(argv, log, env={'PATH': '/usr/bin:/bin'})
        self.procs.append(p)
        harness.wait_unix_listening(self.qsock, proc=p)
        os.chmod(self.qsock, 0o666)  # as mailout-queue.socket's SocketMode=
        return p

    def start_queue_service(self):
        """systemd-socket-activate -l on the queue socket (Accept=no): one
        mailout-queue --socket for all connections, as the spool user."""
        if os.path.lexists(self.qsock):
            os.unlink(self.qsock)
        log = os.path.join(self.tmp, 'queue-service.%d.log' % len(self.procs))
        argv = ['systemd-socket-activate', '-l', self.qsock] + \
            setpriv(SPOOLU) + [os.path.join(self.sbin, 'mailout-queue'), '--socket']
        p = harness.Proc(argv, log, env={'PATH': '/usr/bin:/bin'})
        self.procs.append(p)
        harness.wait_unix_listening(self.qsock, proc=p)
        os.chmod(self.qsock, 0o666)
        return p

    def start_receiver(self, conf):
        """mailout-smtpd per connection, as the receiver's user, on 127.0.0.1."""
        port = harness.free_port()
        log = os.path.join(self.tmp, 'receiver.%d.log' % len(self.procs))
        argv = ['systemd-socket-activate', '-l', '127.0.0.1:%d' % port, '--accept', '--inetd'] + \
            setpriv(RCV) + [os.path.join(self.sbin, 'mailout-smtpd'), '-c', conf, '-l', 'plain']
        p = harness.Proc(argv, log, env={'PATH': '/usr/bin:/bin'})
        self.procs.append(p)
        harness.wait_listening(port, proc=p)
        return port

    def send_smtplib(self, port):
        with smtplib.SMTP('127.0.0.1', port, local_hostname='client.test.example',
                          timeout=20) as s:
            s.ehlo()
            self.assertEqual(s.mail('sender@example.org')[0], 250)
            self.assertEqual(s.rcpt('rcpt@example.org')[0], 250)
            code, text = s.data(harness.message('privsep smtplib'))
        text = text.decode()
        self.assertEqual(code, 250, text)
        m = harness.QUEUE_ID_RE.search(text)
        self.assertIsNotNone(m, text)
        return m.group(1)

    def assert_spool_file(self, qid):
        path = os.path.join(self.spool, 'new', qid)
        st = os.stat(path)
        self.assertEqual(st.st_uid, pwd.getpwnam(SPOOLU).pw_uid, 'not owned by the spool user')
        self.assertEqual(stat.S_IMODE(st.st_mode) & 0o007, 0, 'spool file readable by others')
        return path

    # -- tests -----------------------------------------------------------

    def test_installed_modes(self):
        q = os.stat(os.path.join(self.sbin, 'mailout-queue'))
        self.assertEqual(q.st_uid, pwd.getpwnam(SPOOLU).pw_uid)
        self.assertEqual(stat.S_IMODE(q.st_mode), 0o4711)
        smtpd = os.stat(os.path.join(self.sbin, 'mailout-smtpd'))
        self.assertEqual((smtpd.st_uid, stat.S_IMODE(smtpd.st_mode)), (0, 0o755))
        for d in ('', 'tmp', 'new', 'deferred', 'hold', 'state'):
            st = os.stat(os.path.join(self.spool, d))
            self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)),
                             (pwd.getpwnam(SPOOLU).pw_uid, 0o750), 'spool/' + d)
        st = os.stat(os.path.join(self.rundir, 'mailout'))
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (pwd.getpwnam(RCV).pw_uid, 0o700))

    def test_receiver_cannot_touch_the_spool(self):
        qid = self.queue_one()
        path = self.assert_spool_file(qid)
        with open(path, 'rb') as f:
            original = f.read()
        # the same tries work where the user may write: the refusals below are real
        scratch = tempfile.mkdtemp(dir=self.tmp)
        os.chown(scratch, pwd.getpwnam(RCV).pw_uid, -1)
        rc, out = as_user(RCV, ['sh', '-c', 'touch "$0/x" && ls "$0" && cat "$0/x" && rm "$0/x"',
                                scratch])
        self.assertEqual(rc, 0, out)
        tries = {
            'list new/': ['ls', os.path.join(self.spool, 'new')],
            'read a message': ['cat', path],
            'create in new/': ['touch', os.path.join(self.spool, 'new', 'forged')],
            'create in tmp/': ['touch', os.path.join(self.spool, 'tmp', 'forged')],
            'append': ['sh', '-c', 'echo forged >> "$0"', path],
            'remove': ['rm', '-f', path],
            'rename to hold/': ['mv', path, os.path.join(self.spool, 'hold', qid)],
        }
        for what, argv in tries.items():
            with self.subTest(what=what):
                rc, out = as_user(RCV, argv)
                self.assertNotEqual(rc, 0, '%s as the receiver worked: %s' % (what, out))
        with open(path, 'rb') as f:
            self.assertEqual(f.read(), original)
        self.assertFalse(os.path.exists(os.path.join(self.spool, 'new', 'forged')))

    def test_setuid_queue_ignores_the_callers_config(self):
        evil = os.path.join(self.tmp, 'evil')
        for d in ('', 'tmp', 'new'):
            os.makedirs(os.path.join(evil, d), exist_ok=True)
            os.chmod(os.path.join(evil, d), 0o777)
        evil_conf = os.path.join(self.tmp, 'evil.conf')
        with open(evil_conf, 'w') as f:
            f.write('spool = "%s"\n' % evil)
        before = set(self.new_ids())
        rc, out = self.queue_as(RCV, '-c', evil_conf,
                                env={'PATH': '/usr/bin:/bin', 'MAILOUT_CONFIG': evil_conf})
        self.assertEqual(rc, 0, out)
        self.assertIn('ignored', out)
        self.assertEqual(os.listdir(os.path.join(evil, 'new')), [])
        added = sorted(set(self.new_ids()) - before)
        self.assertEqual(len(added), 1)
        with open(self.assert_spool_file(added[0]), 'rb') as f:
            self.assertIn(b'hello from the test', f.read())

    def test_only_the_spool_user_changes_queued_files(self):
        qid = self.queue_one()
        path = os.path.join(self.spool, 'new', qid)
        rc, out = as_user('nobody', ['rm', '-f', path])
        self.assertNotEqual(rc, 0, out)
        self.assertIn('Permission denied', out)
        self.assertTrue(os.path.exists(path))
        rc, out = as_user(SPOOLU, ['mv', path, os.path.join(self.spool, 'hold', qid)])
        self.assertEqual(rc, 0, out)
        rc, out = as_user(SPOOLU, ['rm', os.path.join(self.spool, 'hold', qid)])
        self.assertEqual(rc, 0, out)
        self.assertNotIn(qid, os.listdir(os.path.join(self.spool, 'hold')))

    def test_mailout_spool_for_root_and_spool_user_only(self):
        prog = os.path.join(self.sbin, 'mailout-spool')
        if not os.path.exists(prog):
            self.skipTest('mailout-spool is not built in this tree')
        qid = self.queue_one()
        p = subprocess.run([prog, 'list'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60, env={'PATH': '/usr/bin:/bin'})
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn(qid, p.stdout.decode())
        rc, out = as_user(SPOOLU, [prog, 'list'])
        self.assertEqual(rc, 0, out)
        self.assertIn(qid, out)
        rc, out = as_user(RCV, [prog, 'list'])
        self.assertNotEqual(rc, 0, out)
        self.assertNotIn(qid, out)

    def test_receiver_queues_through_setuid_queue(self):
        port = self.start_receiver(self.conf)
        qid = self.send_smtplib(port)
        with open(self.assert_spool_file(qid), 'rb') as f:
            self.assertIn(b'privsep smtplib', f.read())

    def test_receiver_queues_through_the_socket(self):
        self.start_queue_socket()
        port = self.start_receiver(self.sock_conf)
        qid = self.send_smtplib(port)
        with open(self.assert_spool_file(qid), 'rb') as f:
            self.assertIn(b'privsep smtplib', f.read())
        # piped, the way sendmail -bs or a test would run it
        rc, out = as_user(RCV, [os.path.join(self.sbin, 'mailout-smtpd'), '-c', self.sock_conf,
                                '-l', 'plain'], input=DIALOGUE,
                          env={'PATH': '/usr/bin:/bin', 'TCPREMOTEIP': '127.0.0.1'})
        m = harness.QUEUE_ID_RE.search(out)
        self.assertIsNotNone(m, out)
        self.assert_spool_file(m.group(1))

    def test_receiver_queues_through_the_service(self):
        svc = self.start_queue_service()
        port = self.start_receiver(self.sock_conf)
        ids = [self.send_smtplib(port) for _ in range(3)]
        for qid in ids:
            self.assert_spool_file(qid)
        # the service and its jobs run as the spool user
        self.assertEqual(os.stat('/proc/%d' % svc.pid).st_uid, pwd.getpwnam(SPOOLU).pw_uid)
        self.assertIsNone(svc.poll())

    def test_setuid_queue_refuses_a_listening_socket(self):
        path = os.path.join(self.tmp, 'listen.sock')
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as ls:
            ls.bind(path)
            ls.listen(4)
            p = subprocess.run(setpriv(RCV) + [os.path.join(self.sbin, 'mailout-queue'),
                                               '--socket'],
                               stdin=ls.fileno(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env={'PATH': '/usr/bin:/bin'},
                               timeout=60)
        os.unlink(path)
        self.assertEqual(p.returncode, 81, p.stderr)
        self.assertIn(b'set-id', p.stderr)

    def test_scanner_through_the_socket(self):
        """The receiver, as its user, runs the installed mailout-scan; the
        scanner reaches mailout-queue only over the socket."""
        self.start_queue_socket()
        port = self.start_receiver(self.scan_conf)
        qid = self.send_smtplib(port)
        with open(self.assert_spool_file(qid), 'rb') as f:
            self.assertIn(b'privsep smtplib', f.read())
        before = set(self.new_ids())
        with smtplib.SMTP('127.0.0.1', port, local_hostname='client.test.example',
                          timeout=20) as s:
            with self.assertRaises(smtplib.SMTPDataError) as cm:
                s.sendmail('sender@example.org', ['rcpt@example.org'], ZIPPED_PE)
        self.assertEqual(cm.exception.smtp_code, 554)
        self.assertIn(b'"readme.txt" (inside "docs.zip")', cm.exception.smtp_error)
        self.assertEqual(set(self.new_ids()), before)

    def test_sendmail_scans_through_the_socket(self):
        prog = os.path.join(self.sbin, 'mailout-sendmail')
        self.start_queue_socket()
        before = set(self.new_ids())
        rc, out = as_user('nobody', [prog, '-c', self.scan_conf, 'rcpt@example.org'],
                          input=ZIPPED_PE)
        self.assertEqual(rc, 69, out)
        self.assertIn('"readme.txt" (inside "docs.zip")', out)
        self.assertEqual(set(self.new_ids()), before)
        rc, out = as_user('nobody', [prog, '-c', self.scan_conf, 'rcpt@example.org'],
                          input=b'Subject: from cron\n\nhi\n')
        self.assertEqual(rc, 0, out)
        added = sorted(set(self.new_ids()) - before)
        self.assertEqual(len(added), 1)
        self.assert_spool_file(added[0])

    def test_sendmail_through_the_socket(self):
        prog = os.path.join(self.sbin, 'mailout-sendmail')
        self.start_queue_socket()
        before = set(self.new_ids())
        rc, out = as_user('nobody', [prog, '-c', self.sock_conf, 'rcpt@example.org'],
                          input=b'Subject: from cron\n\nhi\n')
        self.assertEqual(rc, 0, out)
        added = sorted(set(self.new_ids()) - before)
        self.assertEqual(len(added), 1)
        self.assert_spool_file(added[0])

    def test_socket_down_is_temporary(self):
        if os.path.lexists(self.qsock):
            os.unlink(self.qsock)
        rc, out = as_user(RCV, [os.path.join(self.sbin, 'mailout-smtpd'), '-c', self.sock_conf,
                                '-l', 'plain'], input=DIALOGUE,
                          env={'PATH': '/usr/bin:/bin', 'TCPREMOTEIP': '127.0.0.1'})
        self.assertRegex(out, r'(?m)^451 4\.3\.0')
        self.assertNotRegex(out, r'(?m)^250 2\.0\.0')
        rc, out = as_user('nobody', [os.path.join(self.sbin, 'mailout-sendmail'), '-c',
                                     self.sock_conf, 'rcpt@example.org'],
                          input=b'Subject: x\n\nhi\n')
        self.assertEqual(rc, 75, out)

    def socket_request(self, line, fds=None, msg=MESSAGE, env=ENVELOPE):
        """One raw request on the queue socket; returns the reply octets."""
        mr, mw = os.pipe()
        er, ew = os.pipe()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(20)
                s.connect(self.qsock)
                socket.send_fds(s, [line], [mr, er] if fds is None else fds(mr, mw, er, ew))
                for fd, data in ((mw, msg), (ew, env)):
                    try:
                        os.write(fd, data)
                    except BrokenPipeError:
                        pass
                os.close(mw)
                os.close(ew)
                mw = ew = -1
                reply = b''
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    chunk = s.recv(16)
                    if not chunk:
                        break
                    reply += chunk
                return reply
        finally:
            for fd in (mr, mw, er, ew):
                if fd >= 0:
                    os.close(fd)

    def test_socket_protocol_is_strict(self):
        self.start_queue_socket()
        qid = '0123456789ABCDEF.ABCDEFGHIJKL'
        regular = os.open(self.conf, os.O_RDONLY)
        self.addCleanup(os.close, regular)
        cases = [
            ('good', b'mailout-queue/1\n', None, b'\x00'),
            ('good with -i', b'mailout-queue/1 -i %s\n' % qid.encode(), None, b'\x00'),
            ('other version', b'mailout-queue/2\n', None, bytes([81])),
            ('a -c option', b'mailout-queue/1 -c /tmp/evil.conf\n', None, bytes([81])),
            ('bytes after the line', b'mailout-queue/1\nmore', None, bytes([81])),
            ('path as queue ID', b'mailout-queue/1 -i ../../../../etc/passwd.ABCD\n', None,
             bytes([81])),
            ('one fd', b'mailout-queue/1\n', lambda mr, mw, er, ew: [mr], bytes([81])),
            ('three fds', b'mailout-queue/1\n', lambda mr, mw, er, ew: [mr, er, mr], bytes([81])),
            ('write ends', b'mailout-queue/1\n', lambda mr, mw, er, ew: [mw, ew], bytes([81])),
            ('a regular file', b'mailout-queue/1\n', lambda mr, mw, er, ew: [regular, er],
             bytes([81])),
            ('bad envelope', b'mailout-queue/1\n', None, bytes([91])),
        ]
        for name, line, fds, want in cases:
            with self.subTest(case=name):
                before = set(self.new_ids())
                env = b'garbage' if name == 'bad envelope' else ENVELOPE
                self.assertEqual(self.socket_request(line, fds, env=env), want)
                added = set(self.new_ids()) - before
                self.assertEqual(len(added), 1 if want == b'\x00' else 0, added)
                if name == 'good with -i':
                    self.assertEqual(added, {qid})


if __name__ == '__main__':
    unittest.main()
