"""The log lines an admin reads, on stderr and in the journal.

stderr (inetd, tcpserver, cron): the receiver's Postfix-shaped line per
accepted message, `ID: from=<...>, size=N, nrcpt=N, client=name[addr],
tls=...`, and the deliverer's line per recipient, `ID: to=<...>,
relay=host[addr]:port, delay=N, status=sent (reply)`.

The journal: a real systemd-journald in a private mount namespace of the
test's own (tmpfs over /run/systemd, /run/log and /var/log/journal, so
the host's journal is never touched); the programs run with stderr
connected to it by systemd-cat and JOURNAL_STREAM set as systemd's
StandardError=journal sets it; the admin's own command,
`journalctl -t mailout-smtpd QUEUE_ID=ID`, must find the structured
fields.  Skipped, with the reason, only where a mount namespace cannot
be made (not root, no CAP_SYS_ADMIN) or journald is not installed.
"""

import json
import os
import re
import ssl
import subprocess
import unittest

import certs
import deliver_util
import harness
from harness import CLIENT, ID_PATTERN, QUEUE_ID_RE, bin

JOURNALD = '/lib/systemd/systemd-journald'
ACCEPT_RE = re.compile(r'^mailout-smtpd: (' + ID_PATTERN + r'): from=<([^>]*)>, size=(\d+), '
                       r'nrcpt=(\d+), client=([^\[\s]+)\[([^\]]+)\], tls=(\S+)$', re.M)
OUTCOME_RE = re.compile(r'^mailout-deliver: (' + ID_PATTERN + r'): to=<([^>]*)>, '
                        r'relay=([^\[\s]+)\[([^\]]+)\]:(\d+), delay=(\d+), '
                        r'status=(sent|deferred|bounced) \((.*)\)$', re.M)
# What systemd does for StandardError=journal: tell the program which
# stream is the journal's, by device and inode of its fd 2.
JOURNAL_STREAM_SH = ('JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) || exit 71; '
                     'export JOURNAL_STREAM; exec "$@"')


def send_message(tc, s, msg, rcpts=('admin@example.org',)):
    """printer@example.org sends msg to rcpts in the open session s, then
    QUIT; each step must be accepted.  The queue ID of the 250 reply."""
    tc.assertEqual(s.mail('printer@example.org')[0], 250)
    for r in rcpts:
        tc.assertEqual(s.rcpt(r)[0], 250)
    code, text = s.data(msg)
    tc.assertEqual(code, 250, text)
    s.quit()
    return QUEUE_ID_RE.search(text.decode()).group(1)


class Logs(deliver_util.DeliverCase):

    def send(self, rcv, tls=False, rcpts=('a@example.org', 'b@example.org')):
        s = self.smtp(rcv)
        s.ehlo()
        if tls:
            self.assertEqual(s.starttls(context=ssl.create_default_context(
                cafile=certs.ca()[0]))[0], 220)
            s.ehlo()
        return send_message(self, s, harness.message('log test', 'line one\nline two\n'), rcpts)

    def accept_line(self, rcv, qid):
        def find():
            for m in ACCEPT_RE.finditer(rcv.proc.log_tail(200000)):
                if m.group(1) == qid:
                    return m
            return None
        return harness.wait_for(find, what='the accept line of %s' % qid)

    def test_stderr_lines_have_postfix_shape(self):
        port, gw = self.gateway()
        self.setup_conf(['[127.0.0.1]:%d' % port], gateway={'connections': 1})
        rcv = self.start_receiver('tcpserver')
        plain = self.send(rcv)
        tls = self.send(rcv, tls=True, rcpts=('c@example.org',))
        for qid, nrcpt, proto in ((plain, 2, 'none'), (tls, 1, r'TLSv1\.[23]')):
            m = self.accept_line(rcv, qid)
            self.assertEqual(m.group(2), 'printer@example.org')
            msg = self.read_spool(qid)
            # size: the message as received, without what the relay adds.
            self.assertGreater(int(m.group(3)), 0)
            self.assertLessEqual(int(m.group(3)), len(msg['content']))
            self.assertEqual(int(m.group(4)), nrcpt)
            self.assertEqual(m.group(5), 'unknown', 'no DNS asked: the name is "unknown"')
            self.assertEqual(m.group(6), CLIENT)
            self.assertRegex(m.group(7), '^%s$' % proto)
        log = self.deliver()
        outcomes = {(m.group(1), m.group(2)): m for m in OUTCOME_RE.finditer(log)}
        self.assertEqual(sorted(outcomes), sorted(
            [(plain, 'a@example.org'), (plain, 'b@example.org'), (tls, 'c@example.org')]),
            'one line per recipient:\n' + log)
        for m in outcomes.values():
            self.assertEqual(m.group(3), '127.0.0.1')
            self.assertEqual(m.group(4), '127.0.0.1')
            self.assertEqual(int(m.group(5)), port)
            self.assertLess(int(m.group(6)), 600)
            self.assertEqual(m.group(7), 'sent')
            self.assertRegex(m.group(8), r'^250[ -]')

    def test_deferred_line_names_the_reply(self):
        port, gw = self.gateway('--reply-rcpt', 'a@example.org=451 4.2.0 mailbox busy')
        self.setup_conf(['[127.0.0.1]:%d' % port])
        qid = self.queue('root@example.org', ['a@example.org'], b'Subject: x\n\nbody\n')
        log = self.deliver()
        m = [m for m in OUTCOME_RE.finditer(log) if m.group(1) == qid]
        self.assertEqual(len(m), 1, log)
        self.assertEqual(m[0].group(7), 'deferred')
        self.assertIn('451 4.2.0 mailbox busy', m[0].group(8))


class Journal(deliver_util.DeliverCase):

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest('needs root for a private mount namespace with its own journald')
        if not os.access(JOURNALD, os.X_OK):
            self.skipTest('%s is not installed (Debian package systemd)' % JOURNALD)
        script = os.path.join(self.tmp, 'journal-ns.sh')
        with open(script, 'w') as f:
            f.write('set -e\n'
                    'mount -t tmpfs tmpfs /run/systemd\n'
                    'mkdir -p /run/systemd/journal /run/log\n'
                    'mount -t tmpfs tmpfs /run/log\n'
                    'if [ -d /var/log/journal ]; then mount -t tmpfs tmpfs /var/log/journal; fi\n'
                    'exec %s\n' % JOURNALD)
        probe = subprocess.run(['unshare', '-m', '--propagation', 'private', 'true'],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
        if probe.returncode != 0:
            self.skipTest('cannot make a mount namespace: %s' % probe.stderr.decode().strip())
        self.journald = self.start(['unshare', '-m', '--propagation', 'private', '/bin/sh',
                                    script], name='journald', env=dict(os.environ))
        harness.wait_for(lambda: self.in_ns(['test', '-S', '/run/systemd/journal/socket'],
                                            check=False).returncode == 0,
                         what='journald to listen')

    def in_ns(self, argv, check=True, **kw):
        p = subprocess.run(['nsenter', '-t', str(self.journald.pid), '-m', '--'] + argv,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, **kw)
        if check:
            self.assertEqual(p.returncode, 0, p.stderr.decode(errors='replace'))
        return p

    def journal_argv(self, ident, argv):
        """argv in the namespace, stderr to the journal as under systemd."""
        return (['nsenter', '-t', str(self.journald.pid), '-m', '--', 'systemd-cat', '-t',
                 ident, '/bin/sh', '-c', JOURNAL_STREAM_SH, 'sh'] + list(argv))

    def journal(self, *match):
        """Entries as dicts: journalctl MATCHES -o json, as the admin runs it."""
        p = self.in_ns(['journalctl', '--no-pager', '-o', 'json'] + list(match))
        return [json.loads(ln) for ln in p.stdout.decode().splitlines() if ln.strip()]

    def journal_receiver(self):
        """mailout-smtpd under tcpserver on loopback, all its stderr to the
        journal as mailout-activator's (the programs log natively)."""
        port = harness.free_port()
        argv = self.journal_argv('mailout-activator', [
            'tcpserver', '-q', '-R', '-H', '-l', '0', '127.0.0.1', str(port),
            bin('mailout-smtpd'), '-c', self.conf, '-l', 'smtp'])
        p = self.start(argv, name='tcpserver-journal')
        harness.wait_listening(port, proc=p)
        return harness.Receiver(p, '127.0.0.1', port, 'tcpserver')

    def test_fields_from_receiver_and_deliverer(self):
        port, gw = self.gateway()
        self.setup_conf(['[127.0.0.1]:%d' % port])
        s = self.smtp(self.journal_receiver())
        s.ehlo()
        qid = send_message(self, s, harness.message('journal'))

        # The admin's query: journalctl -t mailout-smtpd QUEUE_ID=ID
        entries = harness.wait_for(
            lambda: self.journal('-t', 'mailout-smtpd', 'QUEUE_ID=' + qid),
            what='journal entries of %s' % qid)
        accept = [e for e in entries if 'from=<' in e.get('MESSAGE', '')]
        self.assertEqual(len(accept), 1, entries)
        e = accept[0]
        self.assertRegex(e['MESSAGE'], r'^%s: from=<printer@example\.org>, size=\d+, nrcpt=1, '
                         r'client=unknown\[%s\], tls=none$' % (qid, re.escape(CLIENT)))
        self.assertEqual(e.get('_TRANSPORT'), 'journal', 'sent natively, not as stderr text')
        self.assertEqual(e.get('CLIENT_ADDR'), CLIENT)
        self.assertEqual(e.get('CLIENT_NAME'), 'unknown')
        self.assertEqual(e.get('PRIORITY'), '6')
        self.assertEqual(e.get('TLS'), 'none')
        self.assertNotIn('TLS_VERSION', e, 'no TLS in this session')
        self.assertNotIn('SASL_USERNAME', e, 'no AUTH in this session')
        # Nothing of the receiver reached the journal as plain stderr text.
        self.assertEqual(self.journal('-t', 'mailout-activator'), [])

        log = self.in_ns(['systemd-cat', '-t', 'mailout-deliver-stderr', '/bin/sh', '-c',
                          JOURNAL_STREAM_SH, 'sh', bin('mailout-deliver'), '-c', self.conf],
                         env=self.env())
        self.assertEqual(len(self.received(gw)), 1, log.stderr.decode(errors='replace'))
        entries = harness.wait_for(
            lambda: self.journal('-t', 'mailout-deliver', 'QUEUE_ID=' + qid, 'STATUS=sent'),
            what='the outcome of %s in the journal' % qid)
        self.assertEqual(len(entries), 1, entries)
        e = entries[0]
        self.assertEqual(e.get('RELAY'), '127.0.0.1[127.0.0.1]:%d' % port)
        self.assertEqual(e.get('RECIPIENT'), 'admin@example.org')
        self.assertRegex(e['MESSAGE'], r'^%s: to=<admin@example\.org>, relay=127\.0\.0\.1'
                         r'\[127\.0\.0\.1\]:%d, delay=\d+, status=sent \(250' % (qid, port))
        self.assertEqual(self.journal('-t', 'mailout-deliver-stderr'), [])

    def test_starttls_session_has_tls_field(self):
        self.setup_conf(['[127.0.0.1]:%d' % harness.free_port()])
        s = self.smtp(self.journal_receiver())
        s.ehlo()
        ctx = ssl.create_default_context(cafile=certs.ca()[0])
        self.assertEqual(s.starttls(context=ctx)[0], 220)
        version, cipher = s.sock.version(), s.sock.cipher()[0]
        s.ehlo()
        qid = send_message(self, s, harness.message('journal over tls'))
        # the admin's query by field: every TLS 1.3 message of the day
        entries = harness.wait_for(
            lambda: self.journal('-t', 'mailout-smtpd', 'QUEUE_ID=' + qid, 'TLS=' + version),
            what='the accept line of %s with TLS=%s' % (qid, version))
        self.assertEqual(len(entries), 1, entries)
        e = entries[0]
        self.assertRegex(e['MESSAGE'], r'^%s: from=<printer@example\.org>, size=\d+, nrcpt=1, '
                         r'client=unknown\[%s\], tls=%s$' % (qid, re.escape(CLIENT),
                                                            re.escape(version)))
        self.assertEqual(e.get('TLS'), version)
        self.assertEqual(e.get('TLS_VERSION'), version)
        self.assertEqual(e.get('TLS_CIPHER'), cipher)
        self.assertNotIn('SASL_USERNAME', e)


if __name__ == '__main__':
    unittest.main()
