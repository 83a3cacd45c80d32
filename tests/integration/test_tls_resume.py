"""End-to-end: TLS session resumption across receiver processes.

Every connection is its own mailout-smtpd process (systemd Accept=yes),
so a session can only be resumed with a ticket whose key all processes
share: state_dir/tls-ticket-keys.  A client (Python's ssl) makes a
STARTTLS session, keeps the ticket, closes; a second connection, served
by a new process, offers it and must be resumed (TLS 1.3 and 1.2; also
openssl s_client -sess_out/-sess_in).  A ticket whose key is past its
retention is refused (full handshake, the session still works); a key
just rotated out still decrypts.  The key file is 0600 in state_dir,
never in the spool; without a usable state_dir sessions are not
resumed but work.
"""

import os
import re
import ssl
import stat
import struct
import subprocess
import time

import certs
import harness

MAGIC = b'MOTKEYS1'
RECORD = 16 + 32 + 32 + 8  # name, AES key, HMAC key, created (lib/ticket_keys.h)
HOUR = 3600


def read_keys(path):
    """[(name, created)] of the key file, newest first."""
    with open(path, 'rb') as f:
        data = f.read()
    assert data[:8] == MAGIC and (len(data) - 8) % RECORD == 0, data[:16]
    out = []
    for off in range(8, len(data), RECORD):
        rec = data[off:off + RECORD]
        out.append((rec[:16], struct.unpack('>q', rec[80:88])[0]))
    return out


def age_keys(path, seconds):
    """Make every key in the file `seconds` older, in place (mode kept)."""
    with open(path, 'r+b') as f:
        data = bytearray(f.read())
        for off in range(8, len(data), RECORD):
            created = struct.unpack('>q', data[off + 80:off + 88])[0]
            data[off + 80:off + 88] = struct.pack('>q', created - seconds)
        f.seek(0)
        f.write(data)


class Resume(harness.TestCase):

    def setUp(self):
        super().setUp()
        self.state = os.path.join(self.tmp, 'state')
        os.mkdir(self.state, 0o700)
        self.keyfile = os.path.join(self.state, 'tls-ticket-keys')

    def receiver(self, mode='socket-activate-inetd', state=None):
        self.config(extra='state_dir = "%s"\n' % (state or self.state))
        return self.start_receiver(mode)

    def context(self, version):
        ctx = ssl.create_default_context(cafile=certs.ca()[0])
        ctx.minimum_version = version
        ctx.maximum_version = version
        return ctx

    def session(self, rcv, ctx, offer=None, mail=False):
        """One STARTTLS session offering `offer`; returns (reused, the
        session to offer next time, pid of the serving process)."""
        c = self.raw(rcv)
        pid = rcv.wait_session()
        c.expect(250, 'EHLO client.test.example')
        c.expect(220, 'STARTTLS')
        c.sock = ctx.wrap_socket(c.sock, server_hostname='localhost', session=offer)
        reused = c.sock.session_reused
        lines = c.expect(250, 'EHLO client.test.example')  # TLS 1.3 tickets arrive here
        self.assertFalse(any('STARTTLS' in ln for ln in lines), lines)
        if mail:
            c.expect(250, 'MAIL FROM:<sender@example.org>')
            c.expect(250, 'RCPT TO:<rcpt@example.org>')
            c.expect(354, 'DATA')
            c.send(harness.message('resumed=%s' % reused))
            text = ' '.join(c.expect(250, '.'))
            self.assert_queued(text, 'sender@example.org', ['rcpt@example.org'],
                               body_contains=b'Hello.')
        c.expect(221, 'QUIT')
        sess = c.sock.session
        c.close()
        rcv.wait_no_session()
        return reused, sess, pid

    def check_resumes(self, rcv, version):
        ctx = self.context(version)
        reused, sess, pid1 = self.session(rcv, ctx)
        self.assertFalse(reused, 'the first session cannot be a resumed one')
        self.assertIsNotNone(sess)
        self.assertTrue(sess.has_ticket, 'the server issued no session ticket')
        reused, _, pid2 = self.session(rcv, ctx, offer=sess, mail=True)
        self.assertNotEqual(pid1, pid2, 'both sessions were served by one process')
        self.assertTrue(reused, 'a new receiver process did not resume the session')

    def test_tls13_resumed_by_new_process(self):
        self.check_resumes(self.receiver(), ssl.TLSVersion.TLSv1_3)

    def test_tls13_resumed_session_gets_a_new_ticket(self):
        # TLS 1.3 clients use a ticket once (OpenSSL's own clients do):
        # a resumed session must hand out the next one
        rcv = self.receiver()
        ctx = self.context(ssl.TLSVersion.TLSv1_3)
        _, sess, _ = self.session(rcv, ctx)
        time.sleep(1.1)  # SSLSession.time has whole seconds
        reused, sess2, _ = self.session(rcv, ctx, offer=sess)
        self.assertTrue(reused)
        self.assertGreater(sess2.time, sess.time, 'the resumed session got no new ticket')
        reused, _, _ = self.session(rcv, ctx, offer=sess2)
        self.assertTrue(reused, 'the ticket of a resumed session was refused')

    def test_tls12_resumed_by_new_process(self):
        self.check_resumes(self.receiver('socket-activate-fds'), ssl.TLSVersion.TLSv1_2)

    def test_openssl_s_client_sess_out_sess_in(self):
        self.config(extra='state_dir = "%s"\n' % self.state,
                    clients={'campus': {'networks': ['127.0.0.1/32'], 'require_tls': False,
                                        'relay_domains': ['example.org']}})
        rcv = self.start_receiver('socket-activate-inetd')
        sess = os.path.join(self.tmp, 'sess.pem')
        outs = []
        for extra in (['-sess_out', sess], ['-sess_in', sess]):
            argv = ['openssl', 's_client', '-connect', '127.0.0.1:%d' % rcv.port,
                    '-starttls', 'smtp', '-CAfile', certs.ca()[0], '-verify_return_error',
                    '-servername', 'localhost', '-tls1_2', *extra]
            p = subprocess.run(argv, input=b'QUIT\r\n', stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=30)
            outs.append(p.stdout.decode('utf-8', 'replace'))
            rcv.wait_no_session()
        self.assertRegex(outs[0], r'\nNew, TLSv1\.2', outs[0][-3000:])
        self.assertRegex(outs[1], r'\nReused, TLSv1\.2', outs[1][-3000:])

    def test_key_file_0600_in_state_dir_not_in_spool(self):
        rcv = self.receiver()
        self.session(rcv, self.context(ssl.TLSVersion.TLSv1_3))
        st = os.stat(self.keyfile)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(st.st_uid, os.geteuid())
        self.assertEqual(len(read_keys(self.keyfile)), 1)
        for top, _, files in os.walk(self.spool):
            self.assertFalse([f for f in files if 'ticket' in f],
                             'ticket key file in the spool: %s' % top)
        # a plain session never reads or makes it
        os.unlink(self.keyfile)
        c = self.raw(rcv)
        c.expect(250, 'EHLO client.test.example')
        c.expect(221, 'QUIT')
        c.close()
        rcv.wait_no_session()
        self.assertFalse(os.path.exists(self.keyfile))

    def test_ticket_of_retired_key_not_accepted(self):
        rcv = self.receiver()
        ctx = self.context(ssl.TLSVersion.TLSv1_3)
        _, sess, _ = self.session(rcv, ctx)
        old = read_keys(self.keyfile)[0][0]
        # past encryption (12 h) and retention (12 h more)
        age_keys(self.keyfile, 25 * HOUR)
        reused, sess2, _ = self.session(rcv, ctx, offer=sess, mail=True)
        self.assertFalse(reused, 'a ticket of a retired key was accepted')
        names = [n for n, _ in read_keys(self.keyfile)]
        self.assertNotIn(old, names, 'the retired key is still in the file')
        self.assertEqual(len(names), 1)
        self.assertLess(abs(read_keys(self.keyfile)[0][1] - time.time()), 120)
        # the new ticket works
        reused, _, _ = self.session(rcv, ctx, offer=sess2)
        self.assertTrue(reused)

    def test_ticket_of_previous_key_still_accepted(self):
        rcv = self.receiver()
        ctx = self.context(ssl.TLSVersion.TLSv1_2)
        _, sess, _ = self.session(rcv, ctx)
        old = read_keys(self.keyfile)[0][0]
        age_keys(self.keyfile, 13 * HOUR)  # rotated out, not yet retired
        reused, _, _ = self.session(rcv, ctx, offer=sess)
        self.assertTrue(reused, 'a ticket of the previous key was refused')
        names = [n for n, _ in read_keys(self.keyfile)]
        self.assertEqual(len(names), 2)
        self.assertEqual(names[1], old, 'the previous key is not kept second')

    def test_unusable_state_dir_full_handshakes(self):
        rcv = self.receiver(state=os.path.join(self.tmp, 'missing'))
        ctx = self.context(ssl.TLSVersion.TLSv1_3)
        reused, sess, _ = self.session(rcv, ctx)
        self.assertFalse(reused)
        reused, _, _ = self.session(rcv, ctx, offer=sess, mail=True)
        self.assertFalse(reused)
        self.assertRegex(self.smtpd_log(rcv), r'ticket keys: .*not resumed')

    def test_key_file_open_to_others_not_used(self):
        rcv = self.receiver()
        ctx = self.context(ssl.TLSVersion.TLSv1_3)
        _, sess, _ = self.session(rcv, ctx)
        os.chmod(self.keyfile, 0o644)
        reused, _, _ = self.session(rcv, ctx, offer=sess, mail=True)
        self.assertFalse(reused, 'keys from a file open to others were used')
        self.assertTrue(re.search(r'want 0600', self.smtpd_log(rcv)), self.smtpd_log(rcv))


if __name__ == '__main__':
    import unittest
    unittest.main()
