"""test_content.py - mailout-scan: no executables in attachments

First mailout-scan alone, in front of the real mailout-queue (spool in
the test's directory), with a pipe on fd 3 for its reply line: what the
receiver would tell the client, and what lands in new/.  Then end to
end: mailout-smtpd under tcpserver with mailout-scan in the queue chain
(as a QMAILQUEUE-style filter: MAILOUT_QUEUE=mailout-scan, the real
queue in MAILOUT_SCAN_QUEUE, after the receiver's own inspection), and
the receiver inspecting by itself (a MAILOUT_SCAN it no longer reads
set all the same): the named 554 reply, with mailout-queue run by the
receiver and with mailout-queue --socket (queue.socket) under
systemd-socket-activate on a unix socket.  Last, mailout-sendmail
through the scanner, both ways (test_smtpd_inspect.py: no scanner at
all).

Attachments are built here: PE and ELF headers, zip/tar.gz/7z archives
(7z needs the p7zip-full package), quoted-printable and base64 parts,
and archive bombs (1 GiB of zeros per entry, nested) written directly
as deflate streams so that building them costs little.
"""

import base64
import io
import os
import shutil
import struct
import subprocess
import tarfile
import time
import unittest
import zipfile
import zlib

import harness
from harness import bin

PE = b'MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff' + b'\0' * 200
ELF = b'\x7fELF\x02\x01\x01' + b'\0' * 200
PDF = b'%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n'
SENDER, RCPT = 'sender@example.org', 'rcpt@example.org'
GIB = 1 << 30
REJECT = 'content {\n block_executables = true\n executable_action = "reject"\n}\n'
BOUNCE = 'content {\n block_executables = true\n executable_action = "bounce"\n}\n'
OFF = 'content {\n block_executables = false\n}\n'


def envelope(sender, *rcpts):
    return b'F' + sender.encode() + b'\0' + b''.join(b'T' + r.encode() + b'\0' for r in rcpts) + b'\0'


def mime(*parts, subject='attachments'):
    """A multipart/mixed message (LF endings); parts: (name, data,
    type, encoding) with encoding base64 or quoted-printable."""
    out = ['From: %s' % SENDER, 'To: %s' % RCPT, 'Subject: %s' % subject, 'MIME-Version: 1.0',
           'Content-Type: multipart/mixed; boundary="=_b"', '', 'preamble', '--=_b',
           'Content-Type: text/plain', '', 'See the attachment.']
    for name, data, ctype, enc in parts:
        out += ['--=_b', 'Content-Type: %s; name="%s"' % (ctype, name),
                'Content-Disposition: attachment; filename="%s"' % name,
                'Content-Transfer-Encoding: %s' % enc, '']
        if enc == 'base64':
            out.append(base64.encodebytes(data).decode().rstrip('\n'))
        else:
            import quopri
            out.append(quopri.encodestring(data).decode().rstrip('\n'))
    out += ['--=_b--', '']
    return '\n'.join(out).encode()


def attach(name, data, ctype='application/octet-stream', enc='base64'):
    return mime((name, data, ctype, enc))


def zip_of(*entries, compress=zipfile.ZIP_DEFLATED):
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w', compress) as z:
        for name, data in entries:
            z.writestr(name, data)
    return b.getvalue()


def tgz_of(*entries):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode='w:gz') as t:
        for name, data in entries:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return b.getvalue()


def zeros_deflate(prefix, total, suffix=b''):
    """A raw deflate stream of prefix + total zero octets + suffix, built
    from one compressed 1 MiB block repeated (full flushes make blocks
    independent).  Returns (stream, crc32, length)."""
    mib = 1 << 20
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(b'\0' * mib) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(b'\0' * mib) + c.flush(zlib.Z_FULL_FLUSH)
    assert block == again
    n = total // mib
    tail = c.compress(suffix) + c.flush()
    crc = zlib.crc32(prefix)
    z = b'\0' * mib
    for _ in range(n):
        crc = zlib.crc32(z, crc)
    crc = zlib.crc32(suffix, crc)
    return head + block * n + tail, crc, len(prefix) + n * mib + len(suffix)


def zip_bomb_entry(name, size=GIB):
    """A zip with one deflated entry of size zeros (not built in memory)."""
    data, crc, usize = zeros_deflate(b'', size)
    nm = name.encode()
    local = struct.pack('<IHHHHHIIIHH', 0x04034b50, 20, 0, 8, 0, 0, crc, len(data), usize,
                        len(nm), 0) + nm
    central = struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 20, 20, 0, 8, 0, 0, crc, len(data),
                          usize, len(nm), 0, 0, 0, 0, 0, 0) + nm
    end = struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, 1, 1, len(central),
                      len(local) + len(data), 0)
    return local + data + central + end


def tgz_bomb(size, then=('evil.exe', PE)):
    """tar.gz: size zeros in one entry, then an executable."""
    h1 = tarfile.TarInfo('zeros.bin')
    h1.size = size
    h2 = tarfile.TarInfo(then[0])
    h2.size = len(then[1])
    pad2 = b'\0' * ((512 - len(then[1]) % 512) % 512)
    suffix = h2.tobuf() + then[1] + pad2 + b'\0' * 1024
    data, crc, usize = zeros_deflate(h1.tobuf(), size, suffix)
    return (b'\x1f\x8b\x08\x00\0\0\0\0\x00\x03' + data +
            struct.pack('<II', crc, usize & 0xffffffff))


class ScanDirect(harness.TestCase):
    """mailout-scan in front of the real mailout-queue."""

    def setUp(self):
        super().setUp()
        if not harness.have_bin('mailout-scan') or not harness.have_bin('mailout-queue'):
            self.fail('mailout-scan or mailout-queue is not built in %s' % harness.BIN_DIR)
        self.use(REJECT)

    def use(self, content):
        self.write_config('hostname = "relay.test.example"\nspool = "%s"\n%s' %
                          (self.spool, content))

    def scan(self, message, env_bytes=None, args=None, extra_env=None, timeout=60):
        """Run mailout-scan; returns (exit code, fd 3 line, stderr, CPU seconds, max RSS KiB).

        CPU seconds (user + system of the scanner and its inspecting child)
        rather than wall time: a loaded test machine stretches the clock,
        while a bomb that is really decompressed costs CPU whatever the load."""
        r3, w3 = os.pipe()
        errf = os.path.join(self.tmp, 'scan.err')
        env = self.env(extra_env)
        argv = [bin('mailout-scan'), '-c', self.conf] + list(args or [])
        rin, win = os.pipe()
        renv, wenv = os.pipe()
        with open(errf, 'wb') as err:
            p = subprocess.Popen(argv, stdin=rin, stdout=renv, stderr=err, env=env,
                                 close_fds=False, preexec_fn=lambda: os.dup2(w3, 3))
        for fd in (rin, renv, w3):
            os.close(fd)
        harness_write(win, message)
        harness_write(wenv, env_bytes if env_bytes is not None else envelope(SENDER, RCPT))
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                p.kill()
                p.wait()
                os.close(r3)
                self.fail('mailout-scan did not finish in %ds' % timeout)
            time.sleep(0.005)
        p.returncode = os.waitstatus_to_exitcode(status)
        secs = usage.ru_utime + usage.ru_stime
        reply = os.read(r3, 4096).decode('utf-8', 'replace')
        os.close(r3)
        with open(errf, 'rb') as f:
            text = f.read().decode('utf-8', 'replace')
        return p.returncode, reply, text, secs, usage.ru_maxrss

    def assert_refused(self, message, *words):
        rc, reply, err, _, _ = self.scan(message)
        self.assertEqual(rc, 31, err)
        self.assertRegex(reply, r'^554 5\.7\.1 .*\n$')
        self.assertEqual(reply.count('\n'), 1)
        for w in words:
            self.assertIn(w, reply)
        self.assert_spool_empty()
        return reply

    def assert_passed(self, message):
        rc, reply, err, _, _ = self.scan(message)
        self.assertEqual(rc, 0, err)
        self.assertEqual(reply, '')
        new = self.spool_new()
        self.assertEqual(len(new), 1)
        msg = self.read_spool(new[0])
        self.assertEqual(msg['content'], message)
        self.assertEqual(msg['to'], [RCPT])
        return msg

    # -- what passes -------------------------------------------------------

    def test_plain_text_passes(self):
        self.assert_passed(b'Subject: cron\n\nall fine\n')

    def test_pdf_passes(self):
        self.assert_passed(attach('report.pdf', PDF, 'application/pdf'))

    def test_harmless_zip_passes(self):
        self.assert_passed(attach('docs.zip', zip_of(('a.txt', b'hello\n'), ('b.pdf', PDF)),
                                  'application/zip'))

    def test_arguments_are_forwarded(self):
        qid = '0006445941624000.A7B2C3D4E5F6'
        rc, _, err, _, _ = self.scan(b'Subject: x\n\nhi\n', args=['-i', qid])
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.spool_new(), [qid])

    # -- what is refused ---------------------------------------------------

    def test_pe_disguised_as_pdf(self):
        self.assert_refused(attach('report.pdf', PE, 'application/pdf'), '"report.pdf"',
                            'is an executable')

    def test_double_extension(self):
        self.assert_refused(attach('invoice.pdf.exe', PDF, 'application/pdf'),
                            '"invoice.pdf.exe"')

    def test_windows_trailing_dots(self):
        self.assert_refused(attach('invoice.pdf.exe. .', PDF), 'invoice.pdf.exe')

    def test_zip_holding_exe(self):
        self.assert_refused(attach('docs.zip', zip_of(('a.txt', b'x'), ('setup.exe', b'x'))),
                            '"setup.exe" (inside "docs.zip")')

    def test_zip_holding_pe_named_txt(self):
        self.assert_refused(attach('docs.zip', zip_of(('readme.txt', PE))),
                            '"readme.txt" (inside "docs.zip")')

    def test_zip_in_zip_holding_elf(self):
        inner = zip_of(('tool', ELF))
        self.assert_refused(attach('outer.zip', zip_of(('notes.txt', b'x'), ('inner.zip', inner))),
                            'inner.zip/tool', '"outer.zip"')

    def test_zip_disguised_as_pdf(self):
        self.assert_refused(attach('scan.pdf', zip_of(('run.js', b'x')), 'application/pdf'),
                            'run.js')

    def test_tar_gz_holding_exe(self):
        self.assert_refused(attach('logs.tar.gz', tgz_of(('logs/a.txt', b'x'), ('logs/x.ps1', b'x'))),
                            'logs/x.ps1')

    def test_7z_holding_exe(self):
        if not shutil.which('7z'):
            self.skipTest('7z (p7zip-full) is not installed')
        d = os.path.join(self.tmp, '7z')
        os.mkdir(d)
        with open(os.path.join(d, 'notes.txt'), 'wb') as f:
            f.write(PE)
        subprocess.run(['7z', 'a', '-bd', '-bso0', 'a.7z', 'notes.txt'], cwd=d, check=True,
                       timeout=60)
        with open(os.path.join(d, 'a.7z'), 'rb') as f:
            self.assert_refused(attach('a.7z', f.read()), '"notes.txt" (inside "a.7z")')

    def test_quoted_printable_script(self):
        self.assert_refused(attach('notes.txt', b'#!/bin/sh\nrm -rf ~\n', 'text/plain',
                                   'quoted-printable'), '"notes.txt"')

    def test_encoded_word_name(self):
        msg = (b'Subject: x\nMIME-Version: 1.0\nContent-Type: application/pdf; '
               b'name="=?utf-8?B?cmVwb3J0LnBkZi5leGU=?="\n\n%PDF\n')
        self.assert_refused(msg, 'report.pdf.exe')

    def test_rfc2231_name(self):
        msg = (b'Subject: x\nMIME-Version: 1.0\nContent-Type: application/pdf\n'
               b"Content-Disposition: attachment; filename*0*=utf-8''invoice%2Epdf;\n"
               b' filename*1=".scr"\n\n%PDF\n')
        self.assert_refused(msg, 'invoice.pdf.scr')

    def test_forwarded_message(self):
        inner = attach('setup.exe', b'x')
        msg = mime(('fw.eml', inner, 'message/rfc822', 'base64'))
        self.assert_refused(msg, 'setup.exe')

    # -- bombs: cheap, bounded -------------------------------------------

    def test_zip_bomb(self):
        bomb = zip_bomb_entry('zeros.bin')
        nested = zip_of(*[('b%d.zip' % i, bomb) for i in range(10)], compress=zipfile.ZIP_STORED)
        for name, data in (('bomb.zip', bomb), ('nested.zip', nested)):
            rc, reply, err, secs, rss = self.scan(attach(name, data))
            self.assertEqual(rc, 0, err)
            self.assertLess(secs, 1.0, '%s took %.2fs' % (name, secs))
            self.assertLess(rss, 512 * 1024, '%s: max RSS %d KiB' % (name, rss))

    def test_tar_gz_bomb_is_refused_quickly(self):
        rc, reply, err, secs, rss = self.scan(attach('bomb.tar.gz', tgz_bomb(256 << 20)))
        self.assertEqual(rc, 31, err)
        self.assertIn('cannot be inspected', reply)
        self.assertLess(secs, 1.0)
        self.assertLess(rss, 512 * 1024)
        self.assert_spool_empty()

    # -- actions and configuration ---------------------------------------

    def test_bounce_queues_a_notification(self):
        self.use(BOUNCE)
        rc, reply, err, _, _ = self.scan(attach('invoice.pdf.exe', PDF))
        self.assertEqual(rc, 0, err)
        self.assertEqual(reply, '')
        new = self.spool_new()
        self.assertEqual(len(new), 1)
        note = self.read_spool(new[0])
        self.assertEqual(note['from'], '')
        self.assertEqual(note['to'], [SENDER])
        self.assertIn(b'invoice.pdf.exe', note['content'])
        self.assertIn(b'Content-Type: text/rfc822-headers', note['content'])
        self.assertIn(b'Subject: attachments', note['content'])
        self.assertNotIn(b'See the attachment.', note['content'])

    def test_bounce_with_null_sender_sends_nothing(self):
        self.use(BOUNCE)
        rc, _, err, _, _ = self.scan(attach('x.exe', b'x'), env_bytes=envelope('', RCPT))
        self.assertEqual(rc, 0, err)
        self.assert_spool_empty()

    def test_disabled_passes_everything(self):
        self.use(OFF)
        self.assert_passed(attach('setup.exe', PE))

    def test_bad_envelope(self):
        rc, _, _, _, _ = self.scan(b'Subject: x\n\nhi\n', env_bytes=b'Fa@b\0')
        self.assertEqual(rc, 91)
        self.assert_spool_empty()


def start_queue_socket(tc):
    """mailout-queue --socket per connection on a unix socket in the
    test's directory (as mailout-queue.socket does), stopped with the
    test; returns the socket's path."""
    if not shutil.which('systemd-socket-activate'):
        tc.skipTest('systemd-socket-activate is not installed')
    path = os.path.join(tc.tmp, 'queue.sock')
    argv = ['systemd-socket-activate', '-l', path, '--accept', '--inetd',
            bin('mailout-queue'), '--socket', '-c', tc.conf]
    p = tc.start(argv, name='queue-socket')
    harness.wait_unix_listening(path, proc=p)
    return path


def harness_write(fd, data):
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError:
        pass
    finally:
        os.close(fd)


class ScanEndToEnd(harness.TestCase):
    """mailout-smtpd (inspecting) -> [mailout-scan ->] mailout-queue, with real clients."""

    def setUp(self):
        super().setUp()
        for b in ('mailout-smtpd', 'mailout-scan', 'mailout-queue'):
            if not harness.have_bin(b):
                self.fail('%s is not built' % b)
        if not shutil.which('tcpserver'):
            self.skipTest('tcpserver (ucspi-tcp) is not installed')
        self.config(extra=REJECT)

    def chain(self):
        """The QMAILQUEUE way: the receiver runs mailout-scan as its queue."""
        return self.start_receiver(mode='tcpserver', listener='plain', env={
            'MAILOUT_QUEUE': bin('mailout-scan'), 'MAILOUT_SCAN_QUEUE': bin('mailout-queue')})

    def test_swaks_pe_named_pdf_is_refused(self):
        r = self.chain()
        path = os.path.join(self.tmp, 'report.pdf')
        with open(path, 'wb') as f:
            f.write(PE)
        rc, out = self.swaks(r, '--attach-type', 'application/pdf', '--attach-name', 'report.pdf',
                             '--attach', '@' + path)
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r'<\*\* 554 ')
        self.assert_spool_empty()

    def test_smtplib_clean_and_zipped_exe(self):
        r = self.chain()
        s = self.smtp(r)
        s.sendmail(SENDER, [RCPT], attach('docs.zip', zip_of(('a.txt', b'hello'))))
        self.assertEqual(len(self.spool_new()), 1)
        with self.assertRaises(harness.smtplib.SMTPDataError) as cm:
            s.sendmail(SENDER, [RCPT], attach('docs.zip', zip_of(('invoice.pdf.exe', b'x'))))
        self.assertEqual(cm.exception.smtp_code // 100, 5)
        self.assertEqual(len(self.spool_new()), 1)

    def test_receiver_names_the_file(self):
        """mailout-smtpd inspects by itself and names the file."""
        r = self.start_receiver(mode='tcpserver', listener='plain',
                                env={'MAILOUT_SCAN': bin('mailout-scan')})
        s = self.smtp(r)
        with self.assertRaises(harness.smtplib.SMTPDataError) as cm:
            s.sendmail(SENDER, [RCPT], attach('docs.zip', zip_of(('readme.txt', PE))))
        self.assertEqual(cm.exception.smtp_code, 554)
        self.assertIn(b'"readme.txt" (inside "docs.zip")', cm.exception.smtp_error)
        self.assert_spool_empty()

    # -- the receiver runs the scanner: swaks, direct and over queue.socket --

    def socket_receiver(self):
        """The receiver with queue.socket set and no $MAILOUT_QUEUE: it
        hands an inspected message to the socket."""
        self.config(extra=REJECT)
        path = start_queue_socket(self)
        self.config(extra=REJECT + 'queue { socket = "%s" }\n' % path)
        return self.start_receiver(mode='tcpserver', listener='plain', env={
            'MAILOUT_SCAN': bin('mailout-scan'), 'MAILOUT_QUEUE': ''})

    def swaks_attach(self, r, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, 'wb') as f:
            f.write(data)
        return self.swaks(r, '--attach-type', 'application/zip', '--attach-name', name,
                          '--attach', '@' + path)

    def assert_two_outcomes(self, r):
        """swaks: the zipped PE named readme.txt is refused with the names,
        nothing queued; a clean zip is queued."""
        rc, out = self.swaks_attach(r, 'docs.zip', zip_of(('readme.txt', PE)))
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r'<\*\* 554 5\.7\.1 Attachment "readme\.txt" '
                              r'\(inside "docs\.zip"\) is an executable')
        self.assert_spool_empty()
        rc, out = self.swaks_attach(r, 'docs.zip', zip_of(('readme.txt', b'just text\n')))
        self.assertEqual(rc, 0, out)
        m = harness.QUEUE_ID_RE.search(out)
        self.assertIsNotNone(m, out)
        self.assertEqual(self.spool_new(), [m.group(1)])
        msg = self.read_spool(m.group(1))
        self.assertEqual(msg['to'], [RCPT])
        self.assertIn(b'filename="docs.zip"', msg['content'])

    def test_swaks_through_the_scanner(self):
        r = self.start_receiver(mode='tcpserver', listener='plain',
                                env={'MAILOUT_SCAN': bin('mailout-scan')})
        self.assert_two_outcomes(r)

    def test_swaks_through_the_scanner_and_the_socket(self):
        self.assert_two_outcomes(self.socket_receiver())

    def test_scanner_off_runs_no_scanner(self):
        """block_executables = false: the receiver runs mailout-queue
        itself, even with $MAILOUT_SCAN set; an executable is queued."""
        self.config(extra=OFF)
        r = self.start_receiver(mode='tcpserver', listener='plain',
                                env={'MAILOUT_SCAN': '/nonexistent/mailout-scan'})
        rc, out = self.swaks_attach(r, 'docs.zip', zip_of(('readme.txt', PE)))
        self.assertEqual(rc, 0, out)
        self.assertEqual(len(self.spool_new()), 1)


class ScanSendmail(harness.TestCase):
    """mailout-sendmail -> mailout-scan -> mailout-queue (or its socket):
    the campus rule holds for local mail too, and the user learns why."""

    def setUp(self):
        super().setUp()
        for b in ('mailout-sendmail', 'mailout-scan', 'mailout-queue'):
            if not harness.have_bin(b):
                self.fail('%s is not built' % b)
        self.config(extra=REJECT)

    def sendmail(self, data, env):
        p = subprocess.run([bin('mailout-sendmail'), '-i', RCPT], input=data,
                           capture_output=True, timeout=60, env=self.env(env))
        return p.returncode, p.stderr.decode('utf-8', 'replace')

    def assert_two_outcomes(self, env):
        rc, err = self.sendmail(attach('docs.zip', zip_of(('readme.txt', PE))), env)
        self.assertEqual(rc, 69, err)  # EX_UNAVAILABLE: do not retry
        self.assertIn('554 5.7.1 Attachment "readme.txt" (inside "docs.zip")', err)
        self.assert_spool_empty()
        rc, err = self.sendmail(attach('report.pdf', PDF, 'application/pdf'), env)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(self.spool_new()), 1)

    def test_sendmail_through_the_scanner(self):
        self.assert_two_outcomes({'MAILOUT_SCAN': bin('mailout-scan')})

    def test_sendmail_through_the_scanner_and_the_socket(self):
        path = start_queue_socket(self)
        self.config(extra=REJECT + 'queue { socket = "%s" }\n' % path)
        self.assert_two_outcomes({'MAILOUT_SCAN': bin('mailout-scan'), 'MAILOUT_QUEUE': ''})

    def test_scanner_off_passes_through_the_socket(self):
        """block_executables = false with queue.socket: the scanner cannot
        exec mailout-queue there; it passes the message on uninspected."""
        path = start_queue_socket(self)
        self.config(extra=OFF + 'queue { socket = "%s" }\n' % path)
        rc, err = self.sendmail(attach('setup.exe', PE),
                                {'MAILOUT_SCAN': bin('mailout-scan'), 'MAILOUT_QUEUE': ''})
        self.assertEqual(rc, 0, err)
        new = self.spool_new()
        self.assertEqual(len(new), 1)
        self.assertIn(b'filename="setup.exe"', self.read_spool(new[0])['content'])


if __name__ == '__main__':
    unittest.main()
