"""End-to-end: a hostile client against the receiver and the queue chain.

Regression tests for the defences that hold: every test attacks the
built mailout-smtpd (and mailout-queue, mailout-deliver) for real, over
loopback, and asserts what the attacker would see: the reply code, what
lands in new/, what the gateway receives, how much memory the session
used (VmHWM of the mailout-smtpd process), what the log says.

  Relay        address forms and case tricks, command sequence abuse
  Smuggling    BDAT mixed with DATA, BDAT 0 LAST, cut-short BDAT, BDAT
               and SIZE integer tricks, STARTTLS twice, after QUIT
  Exhaustion   100 MB lines (DATA, command, header), recipient and error
               floods, 10k tiny BDAT chunks, idle timeouts
  Durability   mailout-queue killed or failing at each commit step
               (strace fault injection), a read-only spool
  Injection    HELO into Received: and into the log
  SpoolReader  a body with a fake envelope block and a smuggled
               end-of-data, through mailout-deliver to a gateway
  FromHeader   sender_domains on every address of the From: header: a
               second From:, a ninth address, long display names, an
               address folded in past 4096 octets, junk after <...>
  Unqueueable  quoted local parts the spool cannot carry ("a>b"@...)
               are refused at MAIL/RCPT, not with 451 at every DATA
  Overshoot    recipients past limits.recipients (452, no error), the
               overshoot cap, NOOP/RSET floods
  Slowloris    command lines, DATA and BDAT trickled an octet at a time
  CleanText    control and layout characters of client text never reach
               a reply or a log line raw; AUTH user ids with them: 501
  Aborted      a transaction that ends without a message is logged by
               mailout-queue as aborted (info), not as an envelope error
"""

import base64
import glob
import json
import os
import shutil
import socket
import subprocess
import time
import unittest

import harness
from test_auth import AuthBase

MB = 1 << 20
# VmHWM bound of one session under attack.  The sanitizer build runs at
# about 12 MB; a session that buffered an attacker's line would be far
# above this.
HWM_MAX_KB = 48 * 1024


def vm_hwm_kb(pid):
    """Peak resident set size of pid, in kB (None when it is gone)."""
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Base(harness.TestCase):

    def receiver(self, limits=None, **kw):
        self.config(limits=limits, **kw)
        return self.start_receiver('socket-activate-inetd')

    def ehlo(self, rcv, timeout=harness.WAIT):
        c = self.raw(rcv, timeout=timeout)
        c.expect(250, 'EHLO client.test.example')
        return c

    def in_data(self, rcv, timeout=harness.WAIT):
        c = self.ehlo(rcv, timeout)
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.expect(354, 'DATA')
        return c

    def session_pid(self, rcv):
        pid = rcv.wait_session()
        self.assertIn('mailout-smtpd', harness.exe_of(pid))
        return pid

    def assert_hwm_bounded(self, pid, what):
        kb = vm_hwm_kb(pid)
        self.assertIsNotNone(kb, 'the session ended before its memory was measured')
        self.assertLess(kb, HWM_MAX_KB, '%s: the session grew to %d kB' % (what, kb))

    def assert_nothing_queued(self):
        self.assertEqual(self.spool_new(), [], 'something was queued')
        harness.wait_for(lambda: self.spool_list('tmp') == [], timeout=5,
                         what='tmp/ to be empty')


class Relay(Base):
    """No address form opens the relay; the command sequence holds."""

    REFUSED = [
        'victim@EVIL.NET',
        'victim@Evil-Example.ORG',
        'victim@EXAMPLE.ORG.',               # trailing dot
        'victim@example.org..',
        'victim@EXAMPLE.ORG.EVIL.NET',
        '"victim@evil.net"@example.org',
        '"victim%evil.net"@EXAMPLE.ORG',
        '"victim\\@evil.net"@example.org',   # quoted-pair @
        '@example.org:victim@evil.net',
        '@x:victim@example.org',             # a source route, even to campus
        '@a,@b:victim@example.org',
        'victim%evil.net@example.org',
        'victim%evil.net%example.org@example.org',
        'evil.net!victim@example.org',
        'victim@[127.0.0.1]',
        'victim@[IPv6:::1]',
        'victim@[130.83.1.1]',
        'postmaster',
        'Postmaster',
        'victim@',
        '@example.org',
        'victim',
        'victim@evil.net@example.org',
        'v' * 65 + '@example.org',           # local part over 64
        'v@' + 'a' * 64 + '.example.org',     # label over 63
        'v@' + 'a.' * 126 + 'example.org',   # path over 256
    ]
    UTF8_REFUSED = [
        'victim@ex\u0430mple.org',            # Cyrillic a
        'victim@example\uff0eorg',            # fullwidth full stop
        'victim@example.org\u3002',           # ideographic full stop
        'victim@\uff45xample.org',            # fullwidth e
    ]

    def refused(self, c, line, what):
        code, lines = c.cmd(line)
        self.assertEqual(code // 100, 5, '%s: %r' % (what, lines))
        self.assertRegex(lines[-1], r'^5\d\d 5\.\d+\.\d+ ')

    def test_address_forms_never_relay(self):
        rcv = self.receiver(limits={'errors': 100})
        c = self.ehlo(rcv)
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        for rcpt in self.REFUSED:
            with self.subTest(rcpt=rcpt):
                self.refused(c, 'RCPT TO:<%s>' % rcpt, rcpt)
        c.expect(503, 'DATA')
        c.expect(221, 'QUIT')
        self.assert_nothing_queued()

    def test_utf8_look_alikes_never_relay(self):
        rcv = self.receiver()
        c = self.ehlo(rcv)
        c.expect(250, 'MAIL FROM:<sender@example.org> SMTPUTF8')
        for rcpt in self.UTF8_REFUSED:
            with self.subTest(rcpt=rcpt):
                code, lines = c.cmd('RCPT TO:<%s>' % rcpt)
                self.assertEqual(code, 550, '%s: %r' % (rcpt, lines))
        c.expect(503, 'DATA')
        self.assert_nothing_queued()

    def test_nul_and_controls_inside_addresses(self):
        rcv = self.receiver(limits={'errors': 100})
        c = self.ehlo(rcv)
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        for raw in (b'RCPT TO:<victim\0@example.org>', b'RCPT TO:<victim@example.org\0.evil.net>',
                    b'RCPT TO:<victim@evil.net>\0<ok@example.org>',
                    b'RCPT TO:<victim@example.org\r.evil.net>', b'RCPT TO:<"a\0b"@example.org>',
                    b'RCPT TO:<victim@example.org\x7f>', b'RCPT TO:<victim@exa mple.org>'):
            with self.subTest(raw=raw):
                c.send(raw + b'\r\n')
                code, lines = c.reply()
                self.assertEqual(code // 100, 5, '%r: %r' % (raw, lines))
        c.expect(503, 'DATA')
        self.assert_nothing_queued()

    def test_campus_forms_that_are_fine(self):
        rcv = self.receiver()
        c = self.ehlo(rcv)
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        for rcpt in ('a@EXAMPLE.ORG', 'b@Sub.Example.Org', '"c"@example.org'):
            c.expect(250, 'RCPT TO:<%s>' % rcpt)
        c.expect(354, 'DATA')
        c.send(harness.message('forms') + b'.\r\n')
        text = ' '.join(c.expect(250))
        self.assert_queued(text, 'sender@example.org',
                           ['a@example.org', 'b@sub.example.org', '"c"@example.org'])

    def test_command_sequence(self):
        rcv = self.receiver(limits={'errors': 100})
        c = self.ehlo(rcv)
        c.expect(503, 'RCPT TO:<rcpt@example.org>')        # RCPT before MAIL
        c.expect(503, 'DATA')
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(503, 'MAIL FROM:<other@example.org>')     # MAIL twice
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.expect(250, 'RSET')
        c.expect(503, 'RCPT TO:<rcpt@example.org>')        # RSET forgot MAIL
        c.expect(503, 'DATA')
        c.send(b'BDAT 5 LAST\r\nhello')                    # BDAT without MAIL: read, refused
        c.expect(503)
        c.expect(250, 'NOOP')                              # ... and in step
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(550, 'RCPT TO:<victim@evil.net>')
        c.expect(503, 'DATA')                              # no valid recipient
        c.expect(221, 'QUIT')
        self.assert_nothing_queued()

    def test_helo_first_and_refused_client(self):
        rcv = self.receiver()
        c = self.raw(rcv)
        c.expect(503, 'MAIL FROM:<sender@example.org>')
        # A client in no class: 554 at the greeting, 503 to everything after.
        d = self.raw(rcv, source='127.0.0.9', greet=False)
        code, lines = d.reply()
        self.assertEqual(code, 554, lines)
        for line in ('EHLO x', 'MAIL FROM:<sender@example.org>', 'RCPT TO:<rcpt@example.org>',
                     'DATA'):
            self.assertEqual(d.cmd(line)[0], 503, line)
        self.assert_nothing_queued()


class Smuggling(Base):
    """Content never becomes commands, commands never become content."""

    def test_bdat_then_data_then_last(self):
        rcv = self.receiver()
        c = self.ehlo(rcv)
        chunk = b'Subject: mixed\r\n\r\nDATA\r\n.\r\nQUIT\r\n'
        c.send(b'MAIL FROM:<sender@example.org>\r\nRCPT TO:<rcpt@example.org>\r\n'
               b'BDAT %d\r\n' % len(chunk) + chunk)
        c.expect(250)
        c.expect(250)
        c.expect(250)
        c.expect(503, 'DATA')                  # DATA inside a BDAT transfer
        c.send(b'BDAT 0 LAST\r\n')
        text = ' '.join(c.expect(250))
        msg = self.assert_queued(text, 'sender@example.org', ['rcpt@example.org'])
        self.assertTrue(msg['content'].endswith(b'\n\nDATA\n.\nQUIT\n'), msg['content'])
        self.assertNotIn(b'\r\n.\r\n', harness.dot_stuff(msg['content'])[:-3])
        c.expect(250, 'NOOP')

    def test_bdat_zero_last_alone(self):
        rcv = self.receiver()
        c = self.ehlo(rcv)
        c.send(b'MAIL FROM:<sender@example.org>\r\nRCPT TO:<rcpt@example.org>\r\n'
               b'BDAT 0 LAST\r\nNOOP\r\n')
        c.expect(250)
        c.expect(250)
        text = ' '.join(c.expect(250))
        c.expect(250)                          # the NOOP, not content
        msg = self.assert_queued(text, 'sender@example.org', ['rcpt@example.org'])
        self.assertTrue(msg['content'].startswith(b'Received: '), msg['content'])

    def test_bdat_cut_short_queues_nothing(self):
        rcv = self.receiver()
        c = self.ehlo(rcv)
        c.send(b'MAIL FROM:<sender@example.org>\r\nRCPT TO:<rcpt@example.org>\r\n'
               b'BDAT 100000 LAST\r\nSubject: cut\r\n\r\n' + b'x' * 5000)
        c.expect(250)
        c.expect(250)
        self.session_pid(rcv)
        c.close()
        rcv.wait_no_session()
        self.assert_nothing_queued()

    def test_bdat_size_tricks_end_the_session(self):
        rcv = self.receiver()
        for size in (b'18446744073709551616', b'99999999999999999999999', b'-1', b'+5',
                     b'0x10', b'1e3', b'5 LAST LAST', b'5 FIRST', b''):
            with self.subTest(size=size):
                c = self.ehlo(rcv)
                c.expect(250, 'MAIL FROM:<sender@example.org>')
                c.expect(250, 'RCPT TO:<rcpt@example.org>')
                c.send(b'BDAT ' + size + b'\r\nRCPT TO:<victim@evil.net>\r\n')
                code, lines = c.reply()
                self.assertEqual(code, 501, lines)
                # the chunk's length is unknown: the session must end, never
                # read the octets that follow as a command
                code, lines = c.reply()
                self.assertEqual(code, 421, lines)
                self.assertTrue(c.closed(5))
        self.assert_nothing_queued()

    def test_size_parameter_tricks(self):
        rcv = self.receiver(limits={'message_size': '10k', 'errors': 100})
        c = self.ehlo(rcv)
        for param, code in (('SIZE=18446744073709551616', 501), ('SIZE=18446744073709551615', 552),
                            ('SIZE=-1', 501), ('SIZE=+1', 501), ('SIZE=0x10', 501),
                            ('SIZE=', 501), ('SIZE', 501), ('SIZE=1 SIZE=99999', 552),
                            ('SIZE=10241', 552)):
            with self.subTest(param=param):
                got, lines = c.cmd('MAIL FROM:<sender@example.org> ' + param)
                self.assertEqual(got, code, lines)
        c.expect(250, 'MAIL FROM:<sender@example.org> SIZE=10240')

    def test_starttls_twice_and_after_quit(self):
        rcv = self.receiver()
        c = self.ehlo(rcv)
        c.expect(220, 'STARTTLS')
        c.starttls()
        c.expect(250, 'EHLO client.test.example')
        c.expect(503, 'STARTTLS')
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.send(b'QUIT\r\nDATA\r\nSubject: after quit\r\n\r\nx\r\n.\r\n')
        c.expect(221)
        self.assertTrue(c.closed(5), 'open after QUIT')
        self.assertEqual(c.buf, b'', 'answered commands after QUIT')
        self.assert_nothing_queued()

    def test_data_refused_content_is_not_a_message(self):
        # DATA with no valid recipient, content pipelined behind it: the
        # lines are commands of this client, never a message to evil.net.
        rcv = self.receiver(limits={'errors': 100})
        c = self.ehlo(rcv)
        c.send(b'MAIL FROM:<sender@example.org>\r\nRCPT TO:<victim@evil.net>\r\nDATA\r\n'
               b'Subject: smuggled\r\n\r\nbody\r\n.\r\n')
        codes = [c.reply()[0] for _ in range(7)]
        self.assertEqual(codes[:3], [250, 550, 503], codes)
        self.assertEqual(c.pending(0.3), b'')
        self.assert_nothing_queued()


class Exhaustion(Base):
    """Memory stays bounded and sessions end, whatever is sent."""

    def send_mb(self, c, head, mb, tail):
        c.send(head)
        chunk = b'x' * MB
        for _ in range(mb):
            c.send(chunk)
        c.send(tail)

    def test_100mb_data_line(self):
        rcv = self.receiver(limits={'message_size': '10M'})
        c = self.in_data(rcv, timeout=60)
        pid = self.session_pid(rcv)
        self.send_mb(c, b'Subject: big\r\n\r\n', 100, b'\r\n.\r\n')
        code, lines = c.reply(60)
        self.assertEqual(code // 100, 5, lines)
        self.assert_hwm_bounded(pid, '100 MB line in DATA')
        c.expect(250, 'NOOP')
        self.assert_nothing_queued()

    def test_100mb_command_line(self):
        rcv = self.receiver()
        c = self.ehlo(rcv, timeout=60)
        pid = self.session_pid(rcv)
        self.send_mb(c, b'MAIL FROM:<', 100, b'@example.org>\r\n')
        code, lines = c.reply(60)
        self.assertEqual(code, 500, lines)
        self.assertEqual(c.pending(0.3), b'', 'one reply per line')
        self.assert_hwm_bounded(pid, '100 MB command line')
        c.expect(250, 'NOOP')

    def test_endless_header_line(self):
        rcv = self.receiver(limits={'message_size': '100M'})
        c = self.in_data(rcv, timeout=60)
        pid = self.session_pid(rcv)
        self.send_mb(c, b'X-Endless: ', 40, b'\r\n\r\nbody\r\n.\r\n')
        code, lines = c.reply(60)
        self.assertEqual(code, 500, lines)
        self.assertTrue(lines[-1].startswith('500 5.5.2'), lines)
        self.assert_hwm_bounded(pid, '40 MB header line')
        self.assert_nothing_queued()

    def test_recipient_flood(self):
        rcv = self.receiver(limits={'recipients': 1000, 'errors': 10})
        c = self.ehlo(rcv, timeout=30)
        pid = self.session_pid(rcv)
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.send(b''.join(b'RCPT TO:<%s%d@%s.example.org>\r\n' % (b'r' * 60, i, b'd' * 60)
                        for i in range(1000)))
        for _ in range(1000):
            c.expect(250)
        self.assert_hwm_bounded(pid, '1000 recipients of 90 octets')
        sent = 0
        try:
            for i in range(100):
                c.send(b''.join(b'RCPT TO:<r%d@example.org>\r\n' % (i * 1000 + j)
                                for j in range(1000)))
                sent += 1000
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.assertLess(sent, 100000, 'the session took 100k more recipients')
        self.assertTrue(c.closed(10), 'the flood did not end the session')
        self.assert_nothing_queued()

    def test_error_flood_disconnects(self):
        rcv = self.receiver(limits={'errors': 5})
        c = self.ehlo(rcv)
        try:
            c.send(b'XYZZY\r\n' * 10000)
        except (BrokenPipeError, ConnectionResetError):
            pass
        codes = []
        try:
            for _ in range(10):
                codes.append(c.reply(5)[0])
        except (EOFError, ConnectionError):
            pass
        self.assertIn(421, codes, codes)
        self.assertLessEqual(len(codes), 6, codes)
        self.assertTrue(c.closed(5))

    def test_10k_tiny_bdat_chunks(self):
        rcv = self.receiver()
        c = self.ehlo(rcv, timeout=60)
        pid = self.session_pid(rcv)
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        head = b'Subject: tiny\r\n\r\n'
        c.send(b'BDAT %d\r\n' % len(head) + head)
        c.expect(250)
        n = 10000
        c.send(b''.join(b'BDAT 2\r\n%c\n' % (ord('a') + i % 26) for i in range(n)))
        for _ in range(n):
            code, lines = c.reply(30)
            self.assertEqual(code, 250, lines)
        c.send(b'BDAT 0 LAST\r\n')
        text = ' '.join(c.expect(250))
        msg = self.assert_queued(text, 'sender@example.org', ['rcpt@example.org'])
        self.assertEqual(msg['content'].split(b'\n\n', 1)[1].count(b'\n'), n)
        self.assert_hwm_bounded(pid, '10k BDAT chunks')

    def test_idle_client_timed_out(self):
        rcv = self.receiver(limits={'command_timeout': '1', 'data_timeout': '1'})
        c = self.ehlo(rcv)
        t = time.monotonic()
        code, lines = c.reply(10)
        self.assertEqual(code, 421, lines)
        self.assertLess(time.monotonic() - t, 5)
        self.assertTrue(c.closed(5))
        # silent in the middle of DATA: 421, nothing queued
        c = self.in_data(rcv)
        c.send(b'Subject: half\r\n\r\nhalf a message')
        code, lines = c.reply(10)
        self.assertEqual(code, 421, lines)
        self.assertTrue(c.closed(5))
        # silent in the middle of a BDAT chunk
        c = self.ehlo(rcv)
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.send(b'BDAT 100 LAST\r\nSubject: half\r\n')
        code, lines = c.reply(10)
        self.assertEqual(code, 421, lines)
        self.assert_nothing_queued()


class Durability(Base):
    """250 only after mailout-queue exited 0; nothing half-written in new/."""

    def queue_under_strace(self, spec):
        if shutil.which('strace') is None:
            self.skipTest('strace is not installed')
        path = os.path.join(self.tmp, 'queue-strace')
        with open(path, 'w') as f:
            # LeakSanitizer cannot run under ptrace
            f.write('#!/bin/sh\nASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0"\nexport ASAN_OPTIONS\n'
                    'exec strace -f -qq -o /dev/null %s %s "$@"\n' %
                    (spec, harness.bin('mailout-queue')))
        os.chmod(path, 0o755)
        return path

    def one(self, spec):
        self.config()
        rcv = self.start_receiver('socket-activate-inetd',
                                  env={'MAILOUT_QUEUE': self.queue_under_strace(spec)})
        c = self.in_data(rcv, timeout=30)
        c.send(harness.message('crash', 'line\n' * 50) + b'.\r\n')
        code, lines = c.reply(30)
        self.assertIn(code, (451, 452), '%s: %r' % (spec, lines))
        self.assertRegex(lines[-1], r'^45[12] 4\.\d+\.\d+ ')
        for qid in self.spool_new():
            # only a kill after the rename may leave it (at-least-once):
            # then it is whole
            msg = self.read_spool(qid)
            self.assertEqual(msg['to'], ['rcpt@example.org'])
            self.assertTrue(msg['content'].endswith(b'line\n' * 50), msg['content'][-200:])
        c.expect(250, 'RSET')                 # the session goes on
        return self.spool_new()

    def test_kill_9_at_each_commit_step(self):
        for spec, in_new in (('-e trace=read -e inject=read:signal=SIGKILL:when=3', False),
                             # the spool file gets one writev (envelope block + message)
                             ('-e trace=writev -e inject=writev:signal=SIGKILL:when=1', False),
                             ('-e trace=fsync -e inject=fsync:signal=SIGKILL:when=1', False),
                             ('-e trace=renameat2 -e inject=renameat2:signal=SIGKILL', False),
                             ('-e trace=fsync -e inject=fsync:signal=SIGKILL:when=2', True)):
            with self.subTest(spec=spec):
                self.spool = self.make_spool(os.path.join(self.tmp, 'spool-%d' % len(self.procs)))
                new = self.one(spec)
                if not in_new:
                    self.assertEqual(new, [], spec)

    def test_io_errors_at_each_commit_step(self):
        for spec in ('-e trace=writev -e inject=writev:error=ENOSPC:when=1',
                     '-e trace=writev -e inject=writev:error=EIO:when=1',
                     '-e trace=fsync -e inject=fsync:error=EIO:when=1',
                     '-e trace=renameat2 -e inject=renameat2:error=EIO',
                     '-e trace=fsync -e inject=fsync:error=EIO:when=2'):
            with self.subTest(spec=spec):
                self.spool = self.make_spool(os.path.join(self.tmp, 'spool-%d' % len(self.procs)))
                self.assertEqual(self.one(spec), [], spec)
                self.assertEqual(self.spool_list('tmp'), [], 'a failed commit left tmp/')

    def test_read_only_spool(self):
        spool = self.tmpfs_spool('1M')
        self.spool = spool
        self.config(spool=spool)
        subprocess.run(['mount', '-o', 'remount,ro', os.path.dirname(spool)], check=True,
                       timeout=30)
        rcv = self.start_receiver('socket-activate-inetd')
        c = self.in_data(rcv)
        c.send(harness.message('read-only') + b'.\r\n')
        code, lines = c.reply(30)
        self.assertIn(code, (451, 452), lines)
        self.assertEqual(self.spool_new(), [])
        c.expect(250, 'RSET')


class Injection(Base):
    """Client text never forges a header or a log line."""

    HELOS = [b'evil\rX-Injected: helo-cr', b'a\x00b', b'\xc3\xa9vil (forged) <x> "q" ;\\',
             b'h' * 500, b'x\tX-Injected: helo-tab', b'x\x0bX-Injected: helo-vt']

    def test_helo_into_received_and_log(self):
        rcv = self.receiver()
        for helo in self.HELOS:
            with self.subTest(helo=helo[:40]):
                c = self.raw(rcv)
                c.send(b'EHLO ' + helo + b'\r\n')
                c.expect(250)
                c.expect(250, 'MAIL FROM:<sender@example.org>')
                c.expect(550, 'RCPT TO:<victim@evil.net>')   # a logged reject
                c.expect(250, 'RCPT TO:<rcpt@example.org>')
                c.expect(354, 'DATA')
                c.send(harness.message('helo') + b'.\r\n')
                text = ' '.join(c.expect(250))
                msg = self.assert_queued(text, 'sender@example.org', ['rcpt@example.org'])
                head = msg['content'].split(b'\n\n', 1)[0]
                names = [n.lower() for n, _ in harness.headers_of(msg['content'])]
                self.assertEqual(names.count('received'), 1, head)
                self.assertNotIn('x-injected', names, head)
                first = head.split(b'\n')[0]
                self.assertTrue(all(0x20 <= b < 0x7f for b in first), first)
                self.assertLess(len(first), 998)
        log = self.smtpd_log(rcv)
        for line in log.splitlines():
            self.assertFalse(line.startswith('X-Injected'), line)
        self.assertNotIn('\r', log)
        self.assertNotIn('\x00', log)


class SpoolReader(Base):
    """A body that looks like an envelope, or like the end of DATA, is
    content all the way to the gateway."""

    def test_fake_envelope_and_smuggled_dot_reach_gateway_as_content(self):
        gw_port, maildir = self.start_gateway()
        self.config(gateway={'servers': ['[127.0.0.1]:%d' % gw_port], 'tls': 'none',
                             'connections': 1})
        rcv = self.start_receiver('socket-activate-inetd')
        body = (b'Subject: fake envelope\r\n\r\nfirst\r\n\r\n'
                b'Mailout-Spool: 1\r\nQueue-ID: 0006445941624000.A7B2C3D4E5F6\r\n'
                b'Envelope-From: <evil@evil.net>\r\nEnvelope-To: <victim@evil.net>\r\n\r\n'
                b'second\n.\nMAIL FROM:<evil@evil.net>\nRCPT TO:<victim@evil.net>\nDATA\n'
                b'smuggled\r.\rRCPT TO:<victim2@evil.net>\r\n..\r\n')
        c = self.in_data(rcv)
        c.send(body + b'.\r\n')
        text = ' '.join(c.expect(250))
        msg = self.assert_queued(text, 'sender@example.org', ['rcpt@example.org'])
        self.assertIn(b'\nEnvelope-To: <victim@evil.net>\n', msg['content'])
        p = subprocess.run([harness.bin('mailout-deliver'), '-c', self.conf, '--flush'],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env(),
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout.decode(errors='replace'))
        got = []
        for js in sorted(glob.glob(os.path.join(maildir, '*.json'))):
            with open(js) as f:
                meta = json.load(f)
            with open(js[:-5] + '.eml', 'rb') as f:
                got.append((meta, f.read()))
        self.assertEqual(len(got), 1, [m for m, _ in got])
        meta, data = got[0]
        self.assertEqual(meta['mail_from'], 'sender@example.org')
        self.assertEqual(meta['rcpt_tos'], ['rcpt@example.org'])
        self.assertIn(b'Envelope-To: <victim@evil.net>', data)
        self.assertIn(b'RCPT TO:<victim2@evil.net>', data)
        self.assertIn(b'\r\n.\r\n', data, 'the lone dots are content (unstuffed by the gateway)')
        self.assertEqual(self.spool_new(), [])


# A class that may send only as example.org (Hochschule Offenburg's
# rule): the From: header is checked at the end of DATA (550 5.7.1).
SENDER_DOMAINS = {
    'campus': {'networks': ['127.0.0.2/32'], 'require_tls': False, 'require_dns': False,
               'verify_sender': False, 'relay_domains': ['example.org'],
               'sender_domains': ['example.org']},
}


class FromHeader(Base):
    """sender_domains holds for every address of the From: header; a
    header that cannot be read whole is refused (fail closed)."""

    def setUp(self):
        super().setUp()
        self.rcv = self.receiver(clients=SENDER_DOMAINS)

    def send_headers(self, headers):
        """One message with these header lines; returns the final reply."""
        c = self.in_data(self.rcv)
        text = '\r\n'.join(list(headers) + ['To: rcpt@example.org', 'Subject: from check', '',
                                            'body', '.', ''])
        c.send(text.encode())
        return c.reply()

    def assert_refused(self, headers, why=None):
        code, lines = self.send_headers(headers)
        self.assertEqual(code, 550, 'From: with a foreign address accepted: %r' % lines)
        self.assertTrue(lines[0].startswith('550 5.7.1 '), lines)
        if why:
            self.assertIn(why, lines[0])
        self.assertEqual(self.spool_new(), [])

    def test_the_check_itself_works(self):
        self.assert_refused(['From: evil@evil.net'], 'evil@evil.net')
        code, lines = self.send_headers(['From: Printer <printer@lab.example.org>'])
        self.assertEqual(code, 250, lines)

    def test_second_from_header(self):
        self.assert_refused(['From: someone@example.org', 'From: evil@evil.net'],
                            'more than one From: header')

    def test_ninth_address(self):
        addrs = ['a%d@example.org' % i for i in range(8)] + ['evil@evil.net']
        self.assert_refused(['From: ' + ', '.join(addrs)], 'too many addresses')

    def test_eight_good_addresses_pass(self):
        code, lines = self.send_headers(['From: ' + ', '.join('a%d@example.org' % i
                                                               for i in range(8))])
        self.assertEqual(code, 250, lines)

    def test_long_display_name(self):
        self.assert_refused(['From: ' + 'A' * 600 + ' <evil@evil.net>'], 'evil@evil.net')

    def test_long_quoted_display_name(self):
        self.assert_refused(['From: "' + 'A' * 600 + '" <evil@evil.net>'], 'evil@evil.net')

    def test_folded_past_4096_octets(self):
        lines = ['From: someone@example.org,'] + [' (%s)' % ('c' * 900)] * 5 + [' evil@evil.net']
        self.assert_refused(lines, 'too long to check')

    def test_junk_after_the_angle_address(self):
        self.assert_refused(['From: <someone@example.org> evil@evil.net'],
                            'not an address')
        self.assert_refused(['From: Name evil@evil.net'], 'not an address')


class Unqueueable(Base):
    """An address the spool cannot hold is refused where it is given,
    not accepted with 250 and then answered 451 at the end of every
    attempt (the client would retry for days)."""

    def test_recipient_with_angle_in_quotes(self):
        rcv = self.receiver()
        c = self.ehlo(rcv)
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        for rcpt in ('"a>b"@example.org', '"a<b"@example.org', '"a\\>b"@example.org'):
            with self.subTest(rcpt=rcpt):
                code, lines = c.cmd('RCPT TO:<%s>' % rcpt)
                self.assertEqual(code, 553, lines)
                self.assertTrue(lines[0].startswith('553 5.1.3 '), lines)
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.expect(354, 'DATA')
        c.send(harness.message('angles') + b'.\r\n')
        text = ' '.join(c.expect(250))
        self.assert_queued(text, 'sender@example.org', ['rcpt@example.org'])

    def test_sender_with_angle_in_quotes(self):
        rcv = self.receiver()
        c = self.ehlo(rcv)
        for sender in ('"x<y"@example.org', '"x\\<y"@example.org'):
            with self.subTest(sender=sender):
                code, lines = c.cmd('MAIL FROM:<%s>' % sender)
                self.assertEqual(code, 553, lines)
                self.assertTrue(lines[0].startswith('553 5.1.7 '), lines)
        c.expect(250, 'MAIL FROM:<"x y"@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.expect(354, 'DATA')
        c.send(harness.message('quoted') + b'.\r\n')
        code, lines = c.reply()
        self.assertEqual(code, 250, lines)


class Overshoot(Base):
    """RFC 5321 4.5.3.1.10: past the recipient limit the server answers
    452 and the client sends the rest in a later transaction; the
    recipients accepted so far still get the message."""

    def test_excess_recipients_do_not_end_the_session(self):
        rcv = self.receiver(limits={'recipients': 5, 'errors': 10})
        c = self.ehlo(rcv)
        rcpts = ['r%d@example.org' % i for i in range(20)]
        c.send(b'MAIL FROM:<sender@example.org>\r\n' +
               b''.join(b'RCPT TO:<%s>\r\n' % r.encode() for r in rcpts) + b'DATA\r\n')
        codes = []
        try:
            for _ in range(22):
                codes.append(c.reply()[0])
        except (EOFError, ConnectionError, socket.timeout):
            pass
        self.assertEqual(codes, [250] * 6 + [452] * 15 + [354], codes)
        c.send(harness.message('many') + b'.\r\n')
        text = ' '.join(c.expect(250))
        self.assert_queued(text, 'sender@example.org', rcpts[:5])

    def test_overshoot_is_capped(self):
        rcv = self.receiver(limits={'recipients': 1, 'errors': 10})
        c = self.ehlo(rcv, timeout=30)
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.send(b''.join(b'RCPT TO:<r%d@example.org>\r\n' % i for i in range(1100)))
        codes = []
        try:
            for _ in range(1100):
                codes.append(c.reply(10)[0])
        except (EOFError, ConnectionError, socket.timeout):
            pass
        self.assertEqual(codes[:1001], [250] + [452] * 1000, codes[:3])
        self.assertEqual(codes[1001:], [421], codes[1001:])
        self.assertTrue(c.closed(5))
        self.assert_nothing_queued()

    def test_junk_command_flood_ends(self):
        rcv = self.receiver(limits={'errors': 5})
        c = self.ehlo(rcv, timeout=30)
        try:
            c.send(b'NOOP\r\n' * 300)
        except (BrokenPipeError, ConnectionResetError):
            pass
        codes = []
        try:
            for _ in range(300):
                codes.append(c.reply(10)[0])
        except (EOFError, ConnectionError, socket.timeout):
            pass
        # the first 100 are free, each one after them counts as an error
        self.assertEqual(codes, [250] * 105 + [421], (len(codes), codes[-3:]))
        self.assertTrue(c.closed(5))

    def test_junk_count_starts_again_with_each_message(self):
        rcv = self.receiver(limits={'errors': 5})
        c = self.ehlo(rcv, timeout=30)
        for _ in range(3):
            c.send(b'RSET\r\n' * 90 + b'MAIL FROM:<sender@example.org>\r\n')
            for _ in range(90):
                c.expect(250)
            c.expect(250)
        c.expect(250, 'RCPT TO:<rcpt@example.org>')


class Slowloris(Base):
    """A command line, DATA or BDAT trickled in one octet at a time
    must not hold a session past its deadline (Postfix
    smtpd_per_request_deadline)."""

    def trickle(self, c, data, step=0.5):
        for b in data:
            c.send(bytes([b]))
            time.sleep(step)

    def assert_dropped(self, c, start, bound):
        code = None
        try:
            code = c.reply(10)[0]
        except (EOFError, ConnectionError):
            pass
        self.assertIn(code, (421, None))
        self.assertTrue(c.closed(5))
        self.assertLess(time.monotonic() - start, bound)

    def test_trickled_line_ends_at_command_timeout(self):
        rcv = self.receiver(limits={'command_timeout': '2'})
        c = self.ehlo(rcv)
        start = time.monotonic()
        answered = None
        try:
            self.trickle(c, b'NOOP trickled')   # 13 octets over ~6.5 s
            c.send(b'\r\n')
            answered = c.reply(5)[0]
        except (EOFError, ConnectionError):
            pass
        self.assertNotEqual(answered, 250, 'a line trickled over %.1fs was answered' %
                            (time.monotonic() - start))

    def test_trickled_data_ends_at_data_timeout(self):
        rcv = self.receiver(limits={'command_timeout': '30', 'data_timeout': '2'})
        c = self.in_data(rcv)
        start = time.monotonic()
        try:
            self.trickle(c, b'Subject: slow\r\n\r\nslowly, slowly')
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.assert_dropped(c, start, 10)
        self.assert_nothing_queued()

    def test_trickled_bdat_ends_at_data_timeout(self):
        rcv = self.receiver(limits={'command_timeout': '30', 'data_timeout': '2'})
        c = self.ehlo(rcv)
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        start = time.monotonic()
        try:
            c.send(b'BDAT 30 LAST\r\n')
            self.trickle(c, b'Subject: slow\r\n\r\nslowly, slowly')
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.assert_dropped(c, start, 10)
        self.assert_nothing_queued()

    def test_bdat_chunks_share_one_deadline(self):
        rcv = self.receiver(limits={'command_timeout': '30', 'data_timeout': '2'})
        c = self.ehlo(rcv)
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        start = time.monotonic()
        codes = []
        try:
            for _ in range(10):                 # one octet a second, each in time
                c.send(b'BDAT 1\r\nx')
                codes.append(c.reply(5)[0])
                time.sleep(1)
        except (EOFError, ConnectionError):
            pass
        self.assertLess(len(codes), 6, codes)
        self.assertIn(codes[-1] if codes else 421, (250, 421))
        self.assertTrue(c.closed(5))
        self.assertLess(time.monotonic() - start, 12)
        self.assert_nothing_queued()

    def test_slow_but_steady_data_arrives(self):
        # 12 kB at ~3 kB/s takes 4 s: longer than data_timeout, but each
        # octet within the size limit buys time (Postfix smtpd_min_data_rate)
        rcv = self.receiver(limits={'data_timeout': '2'})
        c = self.in_data(rcv)
        body = b'Subject: steady\r\n\r\n' + (b'y' * 78 + b'\r\n') * 150
        for i in range(0, len(body), 1000):
            c.send(body[i:i + 1000])
            time.sleep(0.33)
        c.send(b'.\r\n')
        text = ' '.join(c.expect(250))
        self.assert_queued(text, 'sender@example.org', ['rcpt@example.org'])


class CleanText(AuthBase):
    """Client text reaches no reply or log line raw: control characters,
    U+2028/U+2029 and bidi controls from addresses, From: headers and
    AUTH user ids."""

    BAD = ['\x1b[31m', '\u2028', '\u2029', '\u202e', '\x7f']

    def assert_clean(self, text, what):
        for b in self.BAD:
            self.assertNotIn(b, text, '%s carries %r' % (what, b))

    def test_from_header_and_addresses(self):
        self.config(clients=SENDER_DOMAINS)
        rcv = self.start_receiver('socket-activate-inetd')
        c = self.raw(rcv)
        c.expect(250, 'EHLO client.test.example')
        for local in ('a\u2028b', 'a\u202eb', '"a\u2029b"'):
            with self.subTest(local=local):
                code, lines = c.cmd('MAIL FROM:<%s@example.org> SMTPUTF8' % local)
                self.assertEqual(code // 100, 5, lines)
                self.assert_clean(' '.join(lines), 'reply')
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.expect(354, 'DATA')
        c.send('From: "x\x1b[31m"@evil.net, a\u2028b@evil.net\r\nSubject: s\r\n\r\nb\r\n.\r\n'
               .encode())
        code, lines = c.reply()
        self.assertEqual(code, 550, lines)
        self.assert_clean(' '.join(lines), 'reply')
        c.expect(221, 'QUIT')
        log = self.smtpd_log(rcv)
        self.assertIn('reject: END-OF-MESSAGE', log)
        self.assert_clean(log, 'the log')

    def test_auth_user_with_control_characters(self):
        self.auth_config()
        rcv = self.start_receiver(listener='submission')
        c, _ = self.tls_raw(rcv)
        for user in ('alice\r\nX-Evil: 1', 'ali\x7fce', 'alice\u2028'):
            with self.subTest(user=user):
                tok = base64.b64encode(b'\0' + user.encode() + b'\0secret').decode()
                got = c.expect(5, 'AUTH PLAIN ' + tok)
                self.assertTrue(got[0].startswith('501 5.5.2'), got)
        c.expect(334, 'AUTH LOGIN')
        c.expect(334, base64.b64encode(b'bo\x01b').decode())
        got = c.expect(5, base64.b64encode(b'b0bpass').decode())
        self.assertTrue(got[0].startswith('501 5.5.2'), got)
        c.expect(235, 'AUTH PLAIN ' + base64.b64encode(b'\0alice\0secret').decode())
        log = self.smtpd_log(rcv)
        self.assertNotIn('authentication failed', log)
        self.assert_clean(log, 'the log')


class Aborted(Base):
    """A transaction that ends without a message (the client goes away,
    552, RSET after BDAT) reaches mailout-queue as an empty envelope:
    exit 91 as qmail-queue, logged quietly, never as a format error.
    That is the streaming path (content.block_executables = false); with
    the rule on, a message is held by the receiver until its end, and
    an aborted one never reaches the queue (test_held_message_aborted)."""

    def receiver_direct(self, limits=None, content='false'):
        self.config(limits=limits, extra='content { block_executables = %s }\n' % content)
        return self.start_receiver(env={'MAILOUT_QUEUE': harness.bin('mailout-queue')})

    def assert_quiet(self, rcv, n):
        harness.wait_for(lambda: self.smtpd_log(rcv).count('aborted by the client') >= n,
                         what='%d aborted transactions in the log' % n)
        log = self.smtpd_log(rcv)
        self.assertNotIn('envelope format error', log)
        self.assertNotRegex(log, r'mailout-queue: warning')
        self.assert_nothing_queued()

    def test_client_gone_too_big_and_rset(self):
        rcv = self.receiver_direct(limits={'message_size': '1k'})
        c = self.in_data(rcv)
        c.send(b'Subject: half\r\n\r\nhalf a mess')
        c.close()
        c = self.in_data(rcv)
        c.send(b'Subject: big\r\n\r\n' + (b'x' * 70 + b'\r\n') * 40 + b'.\r\n')
        code, lines = c.reply()
        self.assertEqual(code, 552, lines)
        c.expect(250, 'MAIL FROM:<sender@example.org>')
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.send(b'BDAT 5\r\nhello')
        c.expect(250)
        c.expect(250, 'RSET')
        c.expect(221, 'QUIT')
        self.assert_quiet(rcv, 3)

    def test_held_message_aborted(self):
        rcv = self.receiver_direct(limits={'message_size': '1k'}, content='true')
        c = self.in_data(rcv)
        c.send(b'Subject: half\r\n\r\nhalf a mess')
        c.close()
        c = self.in_data(rcv)
        c.send(b'Subject: big\r\n\r\n' + (b'x' * 70 + b'\r\n') * 40 + b'.\r\n')
        code, lines = c.reply()
        self.assertEqual(code, 552, lines)
        c.expect(221, 'QUIT')
        rcv.wait_no_session()
        log = self.smtpd_log(rcv)
        self.assertNotIn('mailout-queue', log)  # it never ran
        self.assertNotIn('warning', log)
        self.assert_nothing_queued()


if __name__ == '__main__':
    unittest.main()
