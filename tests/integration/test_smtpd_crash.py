"""End-to-end: crash safety and a full disk.

kill -9 of mailout-smtpd in the middle of DATA leaves nothing in new/
(and nothing half-written in tmp/ once mailout-queue has seen its input
end).  A spool on a tiny tmpfs makes the queue fail: the client gets 451
or 452, never 250, and nothing lands in new/.
"""

import os
import signal
import time
import unittest

import harness


class Crash(harness.TestCase):

    def begin_data(self, rcv):
        c = self.raw(rcv)
        c.expect(250, 'EHLO client.test.example')
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.expect(354, 'DATA')
        return c

    def session_tree(self, pid):
        """pid and all its descendants (mailout-queue, if started)."""
        out, todo = [], [pid]
        while todo and len(out) < 100:
            p = todo.pop()
            out.append(p)
            todo += harness.children_of(p)
        return out

    def kill_mid_data(self, mode, chunk):
        rcv = self.start_receiver(mode)
        c = self.begin_data(rcv)
        pid = rcv.wait_session()
        self.assertIn('mailout-smtpd', harness.exe_of(pid))
        c.send(b'Subject: killed\r\n\r\n' + chunk)
        time.sleep(0.3)  # let the session read (and hand on) what it got
        tree = self.session_tree(pid)
        os.kill(pid, signal.SIGKILL)
        self.assertTrue(c.closed(harness.WAIT), 'connection still open after kill -9')
        # mailout-queue (if it was started) sees its input end and must exit
        # without committing anything.
        harness.wait_for(lambda: not any(os.path.exists('/proc/%d' % p) and
                                         'zombie' not in _state(p) for p in tree),
                         what='the session and its mailout-queue to exit')
        self.assertEqual(self.spool_new(), [], 'a message from a killed session was queued')
        harness.wait_for(lambda: self.spool_list('tmp') == [], timeout=5,
                         what='tmp/ to be cleaned (a half-written file is left)')
        # The relay still works afterwards.
        rc, out = self.swaks(rcv)
        self.assertEqual(rc, 0, out)
        self.assert_queued(out, 'sender@example.org', ['rcpt@example.org'])

    def test_kill_9_mid_data_small(self):
        self.config()
        self.kill_mid_data('socket-activate-inetd', b'half a line without its end')

    def test_kill_9_mid_data_large(self):
        self.config()
        self.kill_mid_data('tcpserver', (b'x' * 998 + b'\r\n') * 3000)

    def test_kill_9_mid_data_after_end_line_bytes(self):
        # Everything but the final LF of the end-of-data line.
        self.config()
        self.kill_mid_data('socket-activate-fds', b'line\r\n.\r')

    def full_disk(self, size, body):
        spool = self.tmpfs_spool(size)
        self.spool = spool
        self.config(spool=spool)
        rcv = self.start_receiver('socket-activate-inetd')
        c = self.begin_data(rcv)
        c.send(b'Subject: full\r\n\r\n' + body + b'.\r\n')
        code, lines = c.reply(30)
        self.assertIn(code, (451, 452), 'full spool answered %r' % lines)
        self.assertRegex(lines[-1], r'^45[12] 4\.\d+\.\d+ ')
        self.assertEqual(self.spool_new(), [])
        harness.wait_for(lambda: self.spool_list('tmp') == [], timeout=5,
                         what='tmp/ to be cleaned after the write failed')
        # The session goes on: the client may retry or quit.
        c.expect(250, 'RSET')
        c.expect(221, 'QUIT')

    def test_full_spool_gives_4xx_never_250(self):
        self.full_disk('64k', (b'y' * 998 + b'\r\n') * 400)

    def test_full_spool_just_over(self):
        # A little more than the file system holds: the last write fails.
        self.full_disk('64k', (b'z' * 998 + b'\r\n') * 70)

    def test_full_spool_smtplib(self):
        spool = self.tmpfs_spool('32k')
        self.spool = spool
        self.config(spool=spool)
        rcv = self.start_receiver('tcpserver')
        s = self.smtp(rcv)
        s.ehlo()
        self.assertEqual(s.mail('sender@example.org')[0], 250)
        self.assertEqual(s.rcpt('rcpt@example.org')[0], 250)
        code, text = s.data(harness.message('big', 'b' * 70 + '\n') * 1)
        self.assertEqual(code, 250, 'a small message fits: %r' % text)
        self.assertEqual(len(self.spool_new()), 1)
        self.assertEqual(s.mail('sender@example.org')[0], 250)
        self.assertEqual(s.rcpt('rcpt@example.org')[0], 250)
        code, text = s.data(harness.message('big', ('b' * 70 + '\n') * 2000))
        self.assertIn(code, (451, 452), text)
        self.assertEqual(len(self.spool_new()), 1, 'the failed message was queued')


def _state(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('State:'):
                    return line
    except OSError:
        return 'gone'
    return ''


if __name__ == '__main__':
    unittest.main()
