"""test_smtpd_inspect.py - mailout-smtpd inspects what it receives itself

With content.block_executables the receiver holds each message in a
sealed memfd, inspects it in a confined child and then queues it,
refuses it with the 554 naming the file, or queues a notification:
no mailout-scan runs.  Here $MAILOUT_SCAN names a program that leaves
a mark and fails, so a scanner that ran would show (and defer the
message).  Covered: DATA and BDAT LAST, pipelined commands after the
content, a zip holding an executable (libarchive is then loaded into
the session process, which forks a fresh inspector), executable_action =
bounce, a queue that fails (451, and still 554 for an executable), and
a session that started TLS: from before the key was loaded on, its
inspector comes from a helper process that holds /dev/null, the
session's stderr and its own socket, never the client's connection.
One inspector serves all the messages of a session (one pid, seen in
/proc: confined, holding /dev/null and its socket only), an executable
among them is still refused and the next clean one accepted; an
inspector that hangs is killed after its time (554, "takes too long"),
one that died defers the message (451), and either way the next
message gets a fresh one; the inspector ends with its session.
Run: MAILOUT_BIN=build/check/bin /usr/bin/python3 -m unittest test_smtpd_inspect
(from tests/integration).
"""

import io
import os
import signal
import stat
import time
import zipfile

import harness

SENDER, RCPT = 'sender@example.org', 'rcpt@example.org'
PE = b'MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff' + b'\0' * 200
REJECT = 'content {\n block_executables = true\n executable_action = "reject"\n}\n'
BOUNCE = 'content {\n block_executables = true\n executable_action = "bounce"\n}\n'


def attach(name, data):
    """A message with one base64 attachment (harness.attachment)."""
    return harness.attachment(name, data, subject='inspect', sender=SENDER, rcpt=RCPT)


def zip_of(name, data):
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
    return b.getvalue()


def maps_libarchive(pid):
    with open('/proc/%d/maps' % pid) as f:
        return 'libarchive' in f.read()


def gone(pid):
    """pid has exited (or is a zombie)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] == 'Z'
    except OSError:
        return True


def fd_targets(pid):
    """{fd: readlink target} of a process."""
    d = '/proc/%d/fd' % pid
    return {int(n): os.readlink(os.path.join(d, n)) for n in os.listdir(d)}


def status_of(pid):
    """/proc/PID/status as {field: value}."""
    with open('/proc/%d/status' % pid) as f:
        return dict(line.rstrip('\n').split(':\t', 1) for line in f if ':\t' in line)


# the inspector's own time bound, then the receiver's wait (smtpd/scan.h)
SCAN_WAIT_MAX = 65


class InspectInSmtpd(harness.TestCase):

    def setUp(self):
        super().setUp()
        for b in ('mailout-smtpd', 'mailout-queue'):
            if not harness.have_bin(b):
                self.fail('%s is not built' % b)
        self.mark = os.path.join(self.tmp, 'scanner-ran')
        self.scanner = os.path.join(self.tmp, 'fake-scan')
        with open(self.scanner, 'w') as f:
            f.write('#!/bin/sh\ntouch %s\nexit 71\n' % self.mark)
        os.chmod(self.scanner, 0o755)
        self.config(extra=REJECT)

    def receiver(self, mode='tcpserver', listener='plain', env=None):
        e = {'MAILOUT_SCAN': self.scanner}
        e.update(env or {})
        return self.start_receiver(mode=mode, listener=listener, env=e)

    def tearDown(self):
        self.assertFalse(os.path.exists(self.mark), 'mailout-scan was run')
        super().tearDown()

    def session(self, r):
        c = self.raw(r)
        c.expect(250, 'EHLO client.test.example')
        return c

    def starttls_session(self):
        """A session (inetd) after STARTTLS and EHLO: the receiver, the
        client, the session's pid and its TLS helper's."""
        r = self.receiver(mode='socket-activate-inetd', listener='smtp')
        c = self.session(r)
        pid = r.wait_session()
        c.expect(220, 'STARTTLS')
        c.starttls()
        c.expect(250, 'EHLO client.test.example')
        (helper,) = harness.children_of(pid)
        return r, c, pid, helper

    def data(self, c, msg, timeout=30):
        """MAIL, RCPT, DATA, msg: the final reply (code, lines)."""
        c.expect(250, 'MAIL FROM:<%s>' % SENDER)
        c.expect(250, 'RCPT TO:<%s>' % RCPT)
        c.expect(354, 'DATA')
        c.send(msg + b'.\r\n')
        return c.reply(timeout)

    def assert_confined_inspector(self, inspector, parent, session):
        """inspector is a child of parent, under its seccomp filter with
        no new privileges, and holds /dev/null on fds 0-2 and on fd 3 a
        socket that is none of the session's."""
        st = status_of(inspector)
        self.assertEqual(int(st['PPid']), parent, st)
        self.assertEqual(st['Seccomp'], '2', st)
        self.assertEqual(st['NoNewPrivs'], '1', st)
        fds = fd_targets(inspector)
        self.assertEqual(sorted(fds), [0, 1, 2, 3], fds)
        self.assertEqual([fds[0], fds[1], fds[2]], ['/dev/null'] * 3, fds)
        self.assertTrue(fds[3].startswith('socket:'), fds)
        self.assertNotIn(fds[3], fd_targets(session).values(), 'it holds a session fd')

    def messages_one_inspector(self, c, parent, session):
        """Five messages, the 3rd with an executable: one inspector
        (a child of parent) for all; returns its pid."""
        inspector = None
        for i, (name, data, want) in enumerate([
                ('notes.txt', b'words\n', 250), ('list.txt', b'more\n', 250),
                ('report.pdf', PE, 554), ('later.txt', b'still\n', 250),
                ('last.txt', b'the end\n', 250)]):
            code, lines = self.data(c, attach(name, data))
            self.assertEqual(code, want, (name, lines))
            if want == 554:
                self.assertIn('"report.pdf" is an executable', lines[-1])
            kids = harness.children_of(parent)
            inspector = inspector or (kids[0] if kids else None)
            self.assertEqual(kids, [inspector], 'message %d: a new inspector' % (i + 1))
        self.assert_confined_inspector(inspector, parent, session)
        self.assertEqual(len(self.spool_new()), 4)
        return inspector

    def test_one_inspector_for_the_session(self):
        r = self.receiver()
        c = self.session(r)
        pid = r.wait_session()
        self.assertEqual(harness.children_of(pid), [], 'an inspector before any message')
        inspector = self.messages_one_inspector(c, pid, pid)
        c.expect(221, 'QUIT')
        harness.wait_for(lambda: gone(inspector), what='the inspector to end with its session')

    def test_hung_inspector_is_replaced(self):
        """An inspector that gives no verdict (stopped here) is killed
        after SCAN_WAIT_MAX seconds: that message is refused as taking
        too long to inspect, and the next one gets a fresh inspector."""
        r = self.receiver()
        c = self.session(r)
        pid = r.wait_session()
        self.assertEqual(self.data(c, harness.message('first'))[0], 250)
        (inspector,) = harness.children_of(pid)
        os.kill(inspector, signal.SIGSTOP)
        started = time.monotonic()
        code, lines = self.data(c, harness.message('second'), timeout=SCAN_WAIT_MAX + 30)
        self.assertEqual(code, 554, lines)
        self.assertIn('cannot be inspected (takes too long to inspect)', lines[-1])
        self.assertGreaterEqual(time.monotonic() - started, SCAN_WAIT_MAX - 1)
        self.assertTrue(gone(inspector), 'the hung inspector is still there')
        self.assertEqual(self.data(c, harness.message('third'))[0], 250)
        (fresh,) = harness.children_of(pid)
        self.assertNotEqual(fresh, inspector)
        self.assertEqual(len(self.spool_new()), 2)

    def test_executable_refused_clean_queued(self):
        c = self.session(self.receiver())
        code, lines = self.data(c, attach('report.pdf', PE))
        self.assertEqual(code, 554, lines)
        self.assertRegex(lines[-1], r'^554 5\.7\.1 Attachment "report\.pdf" is an executable')
        self.assert_spool_empty()
        code, lines = self.data(c, attach('notes.txt', b'plain words\n'))
        self.assertEqual(code, 250, lines)
        msg = self.assert_queued(lines[-1], SENDER, [RCPT])
        self.assertTrue(msg['content'].startswith(b'Received: from client.test.example'))
        c.expect(221, 'QUIT')

    def test_zip_inspected_with_libarchive_loaded_in_the_session(self):
        r = self.receiver()
        c = self.session(r)
        pid = r.wait_session()
        self.assertIn('mailout-smtpd', harness.exe_of(pid))
        self.assertEqual(self.data(c, harness.message('plain'))[0], 250)
        self.assertFalse(maps_libarchive(pid), 'libarchive loaded for a plain message')
        (first,) = harness.children_of(pid)
        code, lines = self.data(c, attach('docs.zip', zip_of('readme.txt', PE)))
        self.assertEqual(code, 554, lines)
        self.assertIn('Attachment "readme.txt" (inside "docs.zip") is an executable', lines[-1])
        self.assertTrue(maps_libarchive(pid), 'libarchive is not in the session process')
        # the inspector forked before the load was replaced by one forked after it
        (inspector,) = harness.children_of(pid)
        self.assertTrue(maps_libarchive(inspector), 'an inspector without libarchive')
        code, lines = self.data(c, attach('docs.zip', zip_of('readme.txt', b'words\n')))
        self.assertEqual(code, 250, lines)
        self.assertEqual(len(self.spool_new()), 2)
        self.assertNotEqual(inspector, first)
        self.assertEqual(harness.children_of(pid), [inspector])

    def test_bdat_last_and_pipelining(self):
        c = self.session(self.receiver())
        bad = attach('setup.exe', b'not even a program')
        # all at once: a BDAT transaction, then DATA of the next one
        c.send(('MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nBDAT %d LAST\r\n' %
                (SENDER, RCPT, len(bad))).encode() + bad +
               ('MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n' % (SENDER, RCPT)).encode())
        for want in (250, 250, 554, 250, 250, 354):
            code, lines = c.reply(30)
            self.assertEqual(code, want, lines)
            if want == 554:
                self.assertIn('"setup.exe" is an executable', lines[-1])
        # the content, its dot and the next commands in one write
        c.send(harness.message('pipelined') + b'.\r\nNOOP\r\nMAIL FROM:<%s>\r\n' % SENDER.encode())
        code, lines = c.reply(30)
        self.assertEqual(code, 250, lines)
        self.assert_queued(lines[-1], SENDER, [RCPT])
        c.expect(250)  # NOOP
        c.expect(250)  # MAIL
        c.expect(250, 'RCPT TO:<%s>' % RCPT)
        good = harness.message('chunked')
        c.send(b'BDAT 10\r\n' + good[:10] + b'BDAT %d LAST\r\n' % (len(good) - 10) + good[10:])
        c.expect(250)
        code, lines = c.reply(30)
        self.assertEqual(code, 250, lines)
        self.assertEqual(len(self.spool_new()), 2)

    def test_bounce_queues_the_notification(self):
        self.config(extra=BOUNCE)
        c = self.session(self.receiver())
        code, lines = self.data(c, attach('docs.zip', zip_of('run.bat', b'echo hi\r\n')))
        self.assertEqual(code, 250, lines)
        (qid,) = self.spool_new()
        note = self.read_spool(qid)
        self.assertEqual(note['from'], '')
        self.assertEqual(note['to'], [SENDER])
        self.assertIn(b'Attachment "run.bat" (inside "docs.zip") is an executable', note['content'])

    def test_queue_failure_is_temporary(self):
        c = self.session(self.receiver(env={'MAILOUT_QUEUE': '/bin/false'}))
        code, lines = self.data(c, harness.message('clean'))
        self.assertEqual(code, 451, lines)
        code, lines = self.data(c, attach('report.pdf', PE))
        self.assertEqual(code, 554, lines)
        self.assert_spool_empty()

    def test_tls_session_inspects_in_a_helper(self):
        """Inspectors of a session that started TLS come from a helper
        forked before the key was loaded; the helper holds no client fd."""
        r = self.receiver(mode='socket-activate-inetd', listener='smtp')
        c = self.session(r)
        pid = r.wait_session()
        self.assertEqual(harness.children_of(pid), [], 'a helper before STARTTLS')
        c.expect(220, 'STARTTLS')
        c.starttls()
        c.expect(250, 'EHLO client.test.example')
        (helper,) = harness.children_of(pid)
        self.assertIn('mailout-smtpd', harness.exe_of(helper))
        session_fds, helper_fds = fd_targets(pid), fd_targets(helper)
        self.assertEqual(sorted(helper_fds), [0, 1, 2, 3], helper_fds)
        # inetd: the connection is the session's fds 0 and 1; the
        # helper keeps the session's stderr (lib/log.c: never the client)
        self.assertTrue(session_fds[0].startswith('socket:'), session_fds)
        self.assertEqual(helper_fds[0], '/dev/null', helper_fds)
        self.assertEqual(helper_fds[1], '/dev/null', helper_fds)
        self.assertEqual(helper_fds[2], session_fds[2], helper_fds)
        self.assertNotEqual(helper_fds[2], session_fds[0], helper_fds)
        self.assertTrue(helper_fds[3].startswith('socket:'), helper_fds)
        self.assertNotIn(helper_fds[3], session_fds.values(), 'the helper holds a session fd')
        code, lines = self.data(c, attach('docs.zip', zip_of('readme.txt', PE)))
        self.assertEqual(code, 554, lines)
        self.assertIn('"readme.txt" (inside "docs.zip")', lines[-1])
        self.assertFalse(maps_libarchive(pid), 'libarchive loaded in the TLS session process')
        self.assertTrue(maps_libarchive(helper), 'libarchive not loaded in the helper')
        code, lines = self.data(c, attach('notes.txt', b'words\n'))
        self.assertEqual(code, 250, lines)
        self.assert_queued(lines[-1], SENDER, [RCPT])
        self.assertEqual(harness.children_of(pid), [helper])
        c.expect(221, 'QUIT')
        harness.wait_for(lambda: gone(helper), what='the helper to end with its session')

    def test_tls_session_keeps_one_inspector(self):
        """After STARTTLS one inspector, the helper's child, serves the
        session's messages; one that died defers its message (451), one
        whose time ran out refuses it (554), and a fresh one follows."""
        r, c, pid, helper = self.starttls_session()
        self.assertEqual(harness.children_of(helper), [], 'an inspector before any message')
        inspector = self.messages_one_inspector(c, helper, pid)
        self.assertEqual(harness.children_of(pid), [helper])
        os.kill(inspector, signal.SIGKILL)
        code, lines = self.data(c, harness.message('after a crash'))
        self.assertEqual(code, 451, lines)
        self.assertEqual(self.data(c, harness.message('fresh'))[0], 250)
        (second,) = harness.children_of(helper)
        self.assertNotEqual(second, inspector)
        # its alarm (armed for each message) would end it with SIGALRM
        os.kill(second, signal.SIGALRM)
        code, lines = self.data(c, harness.message('out of time'))
        self.assertEqual(code, 554, lines)
        self.assertIn('takes too long to inspect', lines[-1])
        self.assertEqual(self.data(c, harness.message('fresh again'))[0], 250)
        (third,) = harness.children_of(helper)
        self.assertNotIn(third, (inspector, second))
        self.assert_confined_inspector(third, helper, pid)
        self.assertEqual(harness.children_of(pid), [helper])
        self.assertEqual(len(self.spool_new()), 6)
        c.expect(221, 'QUIT')
        harness.wait_for(lambda: gone(helper) and gone(third),
                         what='the helper and its inspector to end with the session')

    def test_helper_gone_defers(self):
        """A helper that dies (as an inspection that crashed would leave
        it) is not replaced once the key is loaded: 451, the session
        goes on, nothing is queued."""
        r, c, pid, helper = self.starttls_session()
        os.kill(helper, signal.SIGKILL)
        for subject in ('first', 'second'):
            code, lines = self.data(c, harness.message(subject))
            self.assertEqual(code, 451, lines)
        self.assertEqual(harness.children_of(pid), [])
        c.expect(250, 'RSET')
        self.assert_spool_empty()
        self.assertIn('the inspection helper failed', self.smtpd_log(r))

    def test_implicit_tls_inspects_in_a_helper(self):
        r = self.receiver(mode='tcpserver', listener='smtps')
        s = self.smtp(r, ssl_wrap=True)
        pid = r.wait_session()
        (helper,) = harness.children_of(pid)
        for fd, target in fd_targets(helper).items():
            # tcpserver: the connection is fds 0 and 1 of the session
            self.assertFalse(stat.S_ISSOCK(os.stat('/proc/%d/fd/%d' % (helper, fd)).st_mode) and
                             fd != 3, (fd, target))
        with self.assertRaises(harness.smtplib.SMTPDataError) as cm:
            s.sendmail(SENDER, [RCPT], attach('x.scr', b'hello'))
        self.assertEqual(cm.exception.smtp_code, 554)
        s.sendmail(SENDER, [RCPT], attach('x.txt', b'hello'))
        self.assertEqual(len(self.spool_new()), 1)


if __name__ == '__main__':
    import unittest
    unittest.main()
