"""The receiver under the classic super-servers, run as the README says.

Debian's openbsd-inetd runs in the foreground (-d) with a config file of
the test's own, holding the README's inetd.conf line on a loopback
address and a non-standard port (`127.0.0.1:PORT stream tcp nowait ...`);
tcpserver (ucspi-tcp) runs with the README's options (-v -R -H -l0).
Real clients (swaks, smtplib) send through each; what the user must see:
`250 2.0.0 Ok: queued as ID`, a file new/ID with the envelope sent, the
listener chosen by the server arguments (-l), and the receiver's
Postfix-shaped log line on the activator's stderr.

xinetd conflicts with openbsd-inetd in Debian (both provide
inet-superserver), so its block is documented but not run here.
"""

import os
import re
import shutil
import subprocess
import unittest

import harness
from harness import CLIENT, ID_PATTERN, QUEUE_ID_RE

INETD = '/usr/sbin/inetd'
ACCEPT_RE = re.compile(r'(' + ID_PATTERN + r'): from=<([^>]*)>, size=(\d+), nrcpt=(\d+), '
                       r'client=([^\[\s]+)\[([^\]]+)\], tls=(\S+)')


class SuperServers(harness.TestCase):

    def start_inetd(self, listener='smtp', port=None, addr='127.0.0.1', stderr_to=None):
        """openbsd-inetd -d with one line: the README's, on addr:port.
        stderr_to: run the receiver through sh with fd 2 sent to that
        file (inetd makes fd 2 the connection as well as fds 0 and 1)."""
        if not os.access(INETD, os.X_OK):
            self.fail('%s is missing (Debian package openbsd-inetd; tests/deps.sh installs it)'
                      % INETD)
        conf = self.conf or self.config()
        port = port or harness.free_port(addr)
        prog = harness.bin('mailout-smtpd')
        if stderr_to:
            prog = os.path.join(self.tmp, 'smtpd-stderr-to-file')
            with open(prog, 'w') as f:
                f.write('#!/bin/sh\nexec %s "$@" 2>>%s\n' % (harness.bin('mailout-smtpd'), stderr_to))
            os.chmod(prog, 0o755)
        prog += ' mailout-smtpd -c %s -l %s' % (conf, listener)
        line = '%s:%d stream tcp nowait root %s\n' % (addr, port, prog)
        path = self.write_config(line, name='inetd.conf')
        # inetd passes its environment on: MAILOUT_QUEUE and the
        # sanitizer options reach mailout-smtpd as they would from init.
        p = self.start([INETD, '-d', path], name='inetd')
        harness.wait_listening(port, proc=p)
        rcv = harness.Receiver(p, addr, port, 'inetd')
        rcv.stderr_log = stderr_to or p.log
        return rcv

    def start_tcpserver(self, listener='smtp', addr='127.0.0.1', ids=(), smtpd=None):
        """tcpserver as the README runs it (-v: a log line per connection);
        ids: ('-u', UID, '-g', GID); smtpd: the program, if not the built one."""
        conf = self.conf or self.config()
        port = harness.free_port(addr)
        argv = ['tcpserver', '-v', '-R', '-H', '-l0', '-c', '20', *ids, addr, str(port),
                smtpd or harness.bin('mailout-smtpd'), '-c', conf, '-l', listener]
        p = self.start(argv, name='tcpserver')
        harness.wait_listening(port, proc=p)
        rcv = harness.Receiver(p, addr, port, 'tcpserver')
        rcv.stderr_log = p.log
        return rcv

    def send_swaks(self, rcv, tag):
        rc, out = self.swaks(rcv, '--header', 'Subject: ' + tag, '--body', 'body %s\n' % tag,
                             sender='printer@example.org', to='admin@example.org')
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r'<- *250 2\.0\.0 Ok: queued as ' + ID_PATTERN)
        return self.assert_queued(out, 'printer@example.org', ['admin@example.org'],
                                  body_contains=('body ' + tag).encode())

    def send_smtplib(self, rcv, tag):
        s = self.smtp(rcv)
        code, ehlo = s.ehlo()
        self.assertEqual(code, 250)
        self.assertEqual(s.mail('cron@example.org')[0], 250)
        self.assertEqual(s.rcpt('a@example.org')[0], 250)
        self.assertEqual(s.rcpt('b@sub.example.org')[0], 250)
        code, text = s.data(harness.message(tag, 'body %s\n' % tag))
        self.assertEqual(code, 250, text)
        msg = self.assert_queued(text.decode(), 'cron@example.org',
                                 ['a@example.org', 'b@sub.example.org'],
                                 body_contains=('body ' + tag).encode())
        self.assertEqual(s.quit()[0], 221)
        return msg, ehlo.decode()

    def assert_logged(self, rcv, msg, sender, nrcpt):
        """The receiver's accept line reached the activator's stderr."""
        def find():
            with open(rcv.stderr_log, 'rb') as f:
                text = f.read().decode('utf-8', 'replace')
            for m in ACCEPT_RE.finditer(text):
                if m.group(1) == msg['id']:
                    return m
            return None
        m = harness.wait_for(find, what='the log line of %s' % msg['id'])
        self.assertEqual(m.group(2), sender)
        self.assertEqual(int(m.group(4)), nrcpt)
        self.assertEqual(m.group(6), CLIENT, 'client address in the log line')
        self.assertEqual(m.group(7), 'none')

    def check_activator(self, rcv, label):
        before = set(self.spool_new())
        m1 = self.send_swaks(rcv, label + '-swaks')
        m2, ehlo = self.send_smtplib(rcv, label + '-smtplib')
        self.assertEqual(set(self.spool_new()) - before, {m1['id'], m2['id']},
                         'exactly the two messages are new in the spool')
        for msg in (m1, m2):
            received = harness.headers_of(msg['content'])[0]
            self.assertEqual(received[0].lower(), 'received')
            self.assertIn(CLIENT, received[1], 'Received: names the peer from getpeername')
        self.assert_logged(rcv, m1, 'printer@example.org', 1)
        self.assert_logged(rcv, m2, 'cron@example.org', 2)
        rcv.wait_no_session()
        return ehlo

    def log_file(self):
        return os.path.join(self.tmp, 'smtpd-stderr.log')

    def test_inetd_delivers_to_the_spool(self):
        rcv = self.start_inetd('smtp', stderr_to=self.log_file())
        ehlo = self.check_activator(rcv, 'inetd')
        self.assertIn('STARTTLS', ehlo, 'listener smtp offers STARTTLS')

    def test_inetd_line_as_documented_keeps_logs_off_the_wire(self):
        # inetd makes fd 2 the connection too: log lines must not reach
        # the client (the receiver logs through syslog then).
        rcv = self.start_inetd('smtp')
        c = self.raw(rcv, greet=False)
        first = c.line()
        self.assertTrue(first.startswith('220 '), 'first line the client sees: %r' % first)
        c.expect(250, 'EHLO client.test.example')
        c.expect(221, 'QUIT')

    def test_inetd_server_args_pick_the_listener(self):
        # -l plain in the inetd.conf line: the listener without TLS.
        rcv = self.start_inetd('plain', stderr_to=self.log_file())
        s = self.smtp(rcv)
        code, ehlo = s.ehlo()
        self.assertEqual(code, 250)
        self.assertNotIn(b'STARTTLS', ehlo, 'listener plain must not offer STARTTLS')
        s.quit()

    def test_inetd_unknown_listener_refuses(self):
        # A typo in inetd.conf's arguments must not accept mail: 421.
        rcv = self.start_inetd('no-such-listener', stderr_to=self.log_file())
        c = self.raw(rcv, greet=False)
        code, lines = c.reply()
        self.assertEqual(code, 421, lines)
        self.assertTrue(c.closed())
        self.assert_spool_empty()

    def test_inetd_parallel_sessions(self):
        # nowait: one process per connection, several at once.
        rcv = self.start_inetd('smtp', stderr_to=self.log_file())
        clients = [self.raw(rcv) for _ in range(4)]
        harness.wait_for(lambda: len(rcv.sessions()) >= 4, what='4 sessions under inetd')
        ids = []
        for i, c in enumerate(clients):
            c.expect(250, 'EHLO client.test.example')
            c.expect(250, 'MAIL FROM:<p%d@example.org>' % i)
            c.expect(250, 'RCPT TO:<r@example.org>')
            c.expect(354, 'DATA')
            lines = c.expect(250, 'Subject: %d\r\n\r\nbody\r\n.' % i)
            ids.append(QUEUE_ID_RE.search(lines[-1]).group(1))
            c.expect(221, 'QUIT')
        self.assertEqual(sorted(ids), self.spool_new())

    def test_tcpserver_delivers_to_the_spool(self):
        rcv = self.start_tcpserver('smtp')
        self.check_activator(rcv, 'tcpserver')
        log = rcv.proc.log_tail(200000)
        # -v: tcpserver logs each connection with the client's address.
        self.assertRegex(log, r'tcpserver: ok \d+ 0:127\.0\.0\.1:%d :%s::\d+'
                         % (rcv.port, re.escape(CLIENT)))

    def test_tcpserver_numeric_ids_drop_root(self):
        # The README's "-u $(id -u mailout) -g $(id -g mailout)": the
        # receiver runs as that user (tcpserver reads a name as 0, root).
        # The session must be able to read its config as that user, or it
        # answers 421 and is gone before it can be looked at.
        os.chmod(self.tmp, 0o755)
        os.chmod(self.conf or self.config(), 0o644)
        # and run the program: the build may sit below a directory only
        # root may enter (a checkout in a mktemp -d), so a copy here does
        smtpd = os.path.join(self.tmp, 'mailout-smtpd')
        shutil.copy(harness.bin('mailout-smtpd'), smtpd)
        os.chmod(smtpd, 0o755)
        rcv = self.start_tcpserver('smtp', ids=('-u', '65534', '-g', '65534'), smtpd=smtpd)
        c = self.raw(rcv)  # the banner: the session is up and waits for a command
        pid = rcv.wait_session()
        with open('/proc/%d/status' % pid) as f:
            status = f.read()
        uids = re.search(r'^Uid:\s+(\d+)\s+(\d+)\s+(\d+)', status, re.M).groups()
        gids = re.search(r'^Gid:\s+(\d+)\s+(\d+)\s+(\d+)', status, re.M).groups()
        self.assertEqual(uids, ('65534',) * 3)
        self.assertEqual(gids, ('65534',) * 3)
        c.close()


if __name__ == '__main__':
    unittest.main()
