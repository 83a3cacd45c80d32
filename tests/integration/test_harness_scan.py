"""test_harness_scan.py - the inspection works in every activator mode of the harness

With the config's default content.block_executables and no MAILOUT_QUEUE
of its own, a receiver started by harness.start_receiver inspects each
message (in a confined child) and hands it to the built mailout-queue,
whichever activator starts it: systemd-socket-activate (--inetd or
LISTEN_FDS), which passes on only the variables it is told to, and
tcpserver, which passes its whole environment.  A user sees it as the 554 naming the file for a PE
attachment, and a queued clean message.
Run: MAILOUT_BIN=build/check/bin /usr/bin/python3 -m unittest test_harness_scan
(from tests/integration).
"""

import os
import shutil
import smtplib
import unittest

import harness

SENDER = 'sender@example.org'
RCPT = 'rcpt@example.org'
PE = b'MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff' + b'\0' * 200
MODES = ('socket-activate-inetd', 'socket-activate-fds', 'tcpserver')
ACTIVATOR = {'socket-activate-inetd': 'systemd-socket-activate',
             'socket-activate-fds': 'systemd-socket-activate', 'tcpserver': 'tcpserver'}


def attach(name, data):
    """A message with one base64 attachment (harness.attachment)."""
    return harness.attachment(name, data, subject='scan', sender=SENDER, rcpt=RCPT)


class ScanInEveryMode(harness.TestCase):

    def setUp(self):
        super().setUp()
        for b in ('mailout-smtpd', 'mailout-scan', 'mailout-queue'):
            if not harness.have_bin(b):
                self.fail('%s is not built' % harness.bin(b))
        self.config()  # content.block_executables is on by default

    def test_executable_refused_clean_queued(self):
        for mode in MODES:
            with self.subTest(mode=mode):
                if not shutil.which(ACTIVATOR[mode]):
                    self.skipTest('%s is not installed' % ACTIVATOR[mode])
                r = self.start_receiver(mode=mode, listener='plain')
                s = self.smtp(r)
                with self.assertRaises(smtplib.SMTPDataError) as cm:
                    s.sendmail(SENDER, [RCPT], attach('report.pdf', PE))
                self.assertEqual(cm.exception.smtp_code, 554)
                self.assertIn(b'5.7.1 Attachment "report.pdf"', cm.exception.smtp_error)
                self.assertEqual(self.spool_new(), [])
                s.rset()
                s.sendmail(SENDER, [RCPT], attach('notes.txt', b'plain words\n'))
                s.quit()
                (qid,) = self.spool_new()
                self.assertEqual(self.read_spool(qid)['to'], [RCPT])
                self.stop(r.proc)
                os.unlink(os.path.join(self.spool, 'new', qid))


if __name__ == '__main__':
    unittest.main()
