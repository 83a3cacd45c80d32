"""End-to-end: the campus rules that need DNS, the blocklist and rates.

A real dnsmasq on a loopback port is the DNS server (resolver.nameserver),
real clients bind source addresses 127.0.0.x, and each test asserts what
the client hears (the reply class and enhanced code), what lands in the
spool, and what --explain prints for the same case.

Records (dnsmasq): client.test.example <-> 127.0.0.2 (A and PTR),
127.0.0.3 -> liar.test.example -> 127.0.0.9 (does not resolve back),
127.0.0.4 has no PTR; example.org has an MX, aonly.test.example only an
A, nullmx.test.example the null MX "0 .", nope.test.example is NXDOMAIN.
DNS trouble: slow.example is forwarded to a port that never answers;
a validating dnsmasq (DNSSEC) in front of an unsigned one answers
SERVFAIL for every name it forwards (broken.example, the PTR of
127.0.0.2).
"""

import os
import re
import socket
import subprocess
import time
import unittest

import harness

DNS_RECORDS = (
    '--host-record=client.test.example,127.0.0.2',
    '--ptr-record=3.0.0.127.in-addr.arpa,liar.test.example',
    '--host-record=liar.test.example,127.0.0.9',
    '--mx-host=example.org,mx.example.org,10',
    '--host-record=mx.example.org,127.0.0.10',
    '--host-record=aonly.test.example,127.0.0.5',
    '--mx-host=nullmx.test.example,.,0',
)
LOCAL = ('example.org', 'test.example', 'in-addr.arpa')


class PolicyCase(harness.TestCase):
    """A receiver on the plain listener for class 127.0.0.0/24 with the
    given rules, asking a DNS server of the test."""

    def setUp(self):
        super().setUp()
        self.state_dir = os.path.join(self.tmp, 'state')
        os.mkdir(self.state_dir)
        self.blocklist = os.path.join(self.tmp, 'blocklist')

    def receiver(self, nameserver, **rules):
        cls = {'networks': ['127.0.0.0/24'], 'require_tls': False,
               'relay_domains': ['example.org']}
        cls.update(rules)
        extra = ('state_dir = "%s"\nblocklist = "%s"\n'
                 'blocklist_message = "Blocked for abuse: call the campus mail admin"\n'
                 'resolver { nameserver = "%s" }\n' % (self.state_dir, self.blocklist,
                                                       nameserver))
        self.config(clients={'campus': cls}, extra=extra)
        return self.start_receiver(listener='plain')

    def dns(self):
        port = self.start_dns(*DNS_RECORDS, local=LOCAL)
        return '127.0.0.1:%d' % port

    def session(self, rcv, source, sender='sender@example.org'):
        """Greet, EHLO, MAIL: returns (client, MAIL reply code, lines)."""
        c = self.raw(rcv, source=source, timeout=20)
        c.expect(250, 'EHLO client.test.example')
        code, lines = c.cmd('MAIL FROM:<%s>' % sender)
        return c, code, lines

    def send(self, c, rcpt='rcpt@example.org', body='Subject: t\r\n\r\nhi\r\n'):
        c.expect(250, 'RCPT TO:<%s>' % rcpt)
        c.expect(354, 'DATA')
        return c.expect(250, body + '.')

    def explain(self, ip, sender='sender@example.org'):
        p = subprocess.run([harness.bin('mailout-smtpd'), '-c', self.conf, '-l', 'plain',
                            '--explain', ip, '--from', sender, '--rcpt', 'rcpt@example.org'],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60, env=self.env())
        return p.returncode, p.stdout.decode('utf-8', 'replace')

    def assertReply(self, code, lines, want_code, esc):
        self.assertEqual(code, want_code, lines)
        self.assertTrue(lines[-1][4:].startswith(esc), lines)


class ReverseDNS(PolicyCase):

    def test_confirmed_name_is_accepted_and_in_received(self):
        rcv = self.receiver(self.dns(), require_dns=True)
        c, code, lines = self.session(rcv, '127.0.0.2')
        self.assertReply(code, lines, 250, '2.1.0')
        reply = self.send(c)
        msg = self.assert_queued(' '.join(reply), 'sender@example.org', ['rcpt@example.org'])
        received = [v for n, v in harness.headers_of(msg['content']) if n == 'Received']
        self.assertIn('client.test.example', received[0])
        rc, out = self.explain('127.0.0.2')
        self.assertEqual(rc, 0, out)
        self.assertIn('127.0.0.2 has PTR client.test.example, which resolves back to it', out)

    def test_no_ptr_is_550(self):
        rcv = self.receiver(self.dns(), require_dns=True)
        c, code, lines = self.session(rcv, '127.0.0.4')
        self.assertReply(code, lines, 550, '5.7.25')
        self.assertIn('no PTR record', lines[-1])
        rc, out = self.explain('127.0.0.4')
        self.assertEqual(rc, 69, out)
        self.assertRegex(out, r'(?m)^mail .*no PTR record for 127\.0\.0\.4.*-> 550 5\.7\.25')
        self.assert_spool_empty()

    def test_name_that_does_not_resolve_back_is_550(self):
        rcv = self.receiver(self.dns(), require_dns=True)
        c, code, lines = self.session(rcv, '127.0.0.3')
        self.assertReply(code, lines, 550, '5.7.25')
        self.assertIn('liar.test.example', lines[-1])
        rc, out = self.explain('127.0.0.3')
        self.assertIn('liar.test.example resolves to 127.0.0.9, not to 127.0.0.3', out)

    def test_silent_dns_server_is_450(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
            silent.bind(('127.0.0.1', 0))  # reads nothing, answers nothing
            ns = '127.0.0.1:%d' % silent.getsockname()[1]
            rcv = self.receiver(ns, require_dns=True)
            start = time.monotonic()
            c, code, lines = self.session(rcv, '127.0.0.2')
            self.assertReply(code, lines, 450, '4.7.25')
            self.assertLess(time.monotonic() - start, 15)
            rc, out = self.explain('127.0.0.2')
            self.assertEqual(rc, 75, out)
            self.assertIn('timeout', out)

    def test_no_dns_server_is_450(self):
        rcv = self.receiver('127.0.0.1:%d' % harness.free_port(kind=socket.SOCK_DGRAM),
                            require_dns=True)
        c, code, lines = self.session(rcv, '127.0.0.2')
        self.assertReply(code, lines, 450, '4.7.25')

    def test_ipv6_nameserver(self):
        port = harness.free_port('::1', socket.SOCK_DGRAM)
        argv = ['dnsmasq', '--no-daemon', '--port=%d' % port, '--listen-address=::1',
                '--bind-interfaces', '--no-resolv', '--no-hosts', '--conf-file=/dev/null',
                '--pid-file=', '--user=root', '--log-facility=-']
        argv += ['--local=/%s/' % d for d in LOCAL] + list(DNS_RECORDS)
        p = self.start(argv, name='dnsmasq6', env=dict(os.environ))
        harness.wait_listening(port, kind='udp', proc=p)
        rcv = self.receiver('[::1]:%d' % port, require_dns=True)
        c, code, lines = self.session(rcv, '127.0.0.2')
        self.assertReply(code, lines, 250, '2.1.0')

    def test_class_without_dns_rules_asks_nothing(self):
        # the server is silent: a lookup would cost seconds and a 450
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
            silent.bind(('127.0.0.1', 0))
            rcv = self.receiver('127.0.0.1:%d' % silent.getsockname()[1])
            start = time.monotonic()
            c, code, lines = self.session(rcv, '127.0.0.4')
            self.assertReply(code, lines, 250, '2.1.0')
            self.assertLess(time.monotonic() - start, 1.5)


class SenderDomain(PolicyCase):

    def check(self, sender, want_code, esc, explain_text):
        rcv = self.receiver(self.dns(), verify_sender=True)
        c, code, lines = self.session(rcv, '127.0.0.2', sender=sender)
        self.assertReply(code, lines, want_code, esc)
        rc, out = self.explain('127.0.0.2', sender=sender)
        self.assertIn(explain_text, out)
        self.assertRegex(out, r'(?m)^mail .*-> %d %s' % (want_code, re.escape(esc)))
        return c

    def test_domain_with_mx(self):
        c = self.check('a@example.org', 250, '2.1.0', 'example.org has MX mx.example.org')
        self.send(c)

    def test_domain_with_only_an_address(self):
        self.check('a@aonly.test.example', 250, '2.1.0',
                   'aonly.test.example has no MX, but A 127.0.0.5')

    def test_null_mx_is_550(self):
        self.check('a@nullmx.test.example', 550, '5.1.8', 'null MX (RFC 7505)')

    def test_nxdomain_is_550(self):
        self.check('a@nope.test.example', 550, '5.1.8', 'NXDOMAIN')

    def test_null_sender_passes(self):
        rcv = self.receiver(self.dns(), verify_sender=True)
        c, code, lines = self.session(rcv, '127.0.0.2', sender='')
        self.assertReply(code, lines, 250, '2.1.0')

    def test_sender_domains(self):
        rcv = self.receiver(self.dns(), sender_domains=['test.example'])
        c, code, lines = self.session(rcv, '127.0.0.2', sender='a@example.org')
        self.assertReply(code, lines, 553, '5.7.1')
        self.assertIn('test.example', lines[-1])
        c, code, lines = self.session(rcv, '127.0.0.2', sender='a@aonly.test.example')
        self.assertReply(code, lines, 250, '2.1.0')


class SenderDomainTrouble(PolicyCase):
    """DNS trouble with the sender's domain is temporary (450 4.1.8),
    in MAIL and for the From: header at the end of DATA; a domain that
    does not exist is permanent there too (550 5.1.8)."""

    # the root zone's key: answers from an unsigned upstream are bogus
    ROOT_ANCHOR = ('--trust-anchor=.,20326,8,2,'
                   'E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D')

    def silent_dns(self):
        """dnsmasq with the usual records that forwards slow.example to a
        port that reads nothing and answers nothing."""
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(silent.close)
        silent.bind(('127.0.0.1', 0))
        port = self.start_dns(*DNS_RECORDS,
                              '--server=/slow.example/127.0.0.1#%d' % silent.getsockname()[1],
                              local=LOCAL)
        return '127.0.0.1:%d' % port

    def servfail_dns(self):
        """A validating dnsmasq (DNSSEC, the root's trust anchor) in front
        of a dnsmasq with unsigned records: every name it has to forward
        fails validation, and the answer is SERVFAIL (RCODE 2)."""
        upstream = self.start_dns('--host-record=client.test.example,127.0.0.2',
                                  '--mx-host=broken.example,mx.broken.example,10',
                                  '--host-record=mx.broken.example,127.0.0.10',
                                  local=('broken.example', 'test.example', 'in-addr.arpa'))
        port = self.start_dns('--server=127.0.0.1#%d' % upstream, '--dnssec', self.ROOT_ANCHOR,
                              *DNS_RECORDS[3:5], local=('example.org',))
        return '127.0.0.1:%d' % port

    def data_end(self, c, from_header):
        c.expect(250, 'RCPT TO:<rcpt@example.org>')
        c.expect(354, 'DATA')
        return c.cmd('From: %s\r\nSubject: t\r\n\r\nhi\r\n.' % from_header, timeout=30)

    def test_silent_dns_for_the_sender_domain_is_450_4_1_8(self):
        rcv = self.receiver(self.silent_dns(), verify_sender=True)
        start = time.monotonic()
        c, code, lines = self.session(rcv, '127.0.0.2', sender='a@slow.example')
        self.assertReply(code, lines, 450, '4.1.8')
        self.assertLess(time.monotonic() - start, 15)
        # another domain of the same server still answers
        c, code, lines = self.session(rcv, '127.0.0.2', sender='a@example.org')
        self.assertReply(code, lines, 250, '2.1.0')
        rc, out = self.explain('127.0.0.2', sender='a@slow.example')
        self.assertEqual(rc, 75, out)
        self.assertRegex(out, r'(?m)^mail .*-> 450 4\.1\.8')
        self.assert_spool_empty()

    def test_servfail_for_the_sender_domain_is_450_4_1_8(self):
        rcv = self.receiver(self.servfail_dns(), verify_sender=True)
        c, code, lines = self.session(rcv, '127.0.0.2', sender='a@broken.example')
        self.assertReply(code, lines, 450, '4.1.8')
        c, code, lines = self.session(rcv, '127.0.0.2', sender='a@example.org')
        self.assertReply(code, lines, 250, '2.1.0')
        rc, out = self.explain('127.0.0.2', sender='a@broken.example')
        self.assertEqual(rc, 75, out)
        # XXX the text says "timeout": glibc's res_nsend() reports a
        # SERVFAIL from the last server as ETIMEDOUT (lib/dns.c)
        self.assertRegex(out, r'(?m)^mail .*broken\.example.*-> 450 4\.1\.8')
        self.assert_spool_empty()

    def test_servfail_for_the_client_name_is_450_4_7_25(self):
        rcv = self.receiver(self.servfail_dns(), require_dns=True)
        c, code, lines = self.session(rcv, '127.0.0.2')
        self.assertReply(code, lines, 450, '4.7.25')
        self.assert_spool_empty()

    def test_from_header_domain_that_does_not_exist_is_550_5_1_8(self):
        rcv = self.receiver(self.dns(), verify_sender=True)
        c, code, lines = self.session(rcv, '127.0.0.2', sender='a@example.org')
        self.assertReply(code, lines, 250, '2.1.0')
        code, lines = self.data_end(c, 'Boss <boss@nope.test.example>')
        self.assertReply(code, lines, 550, '5.1.8')
        self.assertIn('nope.test.example', ' '.join(lines))
        self.assert_spool_empty()
        # the session goes on, and a From: that resolves is queued
        c.expect(250, 'MAIL FROM:<a@example.org>')
        code, lines = self.data_end(c, 'Printer <a@aonly.test.example>')
        self.assertReply(code, lines, 250, '2.0.0')
        self.assert_queued(' '.join(lines), 'a@example.org', ['rcpt@example.org'])

    def test_from_header_domain_on_a_silent_server_is_450_4_1_8(self):
        rcv = self.receiver(self.silent_dns(), verify_sender=True)
        c, code, lines = self.session(rcv, '127.0.0.2', sender='a@example.org')
        self.assertReply(code, lines, 250, '2.1.0')
        code, lines = self.data_end(c, 'a@slow.example')
        self.assertReply(code, lines, 450, '4.1.8')
        self.assert_spool_empty()


class Blocklist(PolicyCase):

    def write_list(self, text):
        with open(self.blocklist, 'w') as f:
            f.write(text)

    def test_future_expiry_blocks_past_expiry_does_not(self):
        future = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() + 86400))
        self.write_list('# abuse\nnot an address\n127.0.0.2 until %s\n'
                        '127.0.0.3 until 2020-01-01\n' % future)
        rcv = self.receiver(self.dns())
        c = self.raw(rcv, source='127.0.0.2', greet=False)
        code, lines = c.reply()
        self.assertReply(code, lines, 554, '5.7.1')
        self.assertIn('Blocked for abuse: call the campus mail admin', lines[-1])
        c = self.raw(rcv, source='127.0.0.3')  # expired: a normal banner
        c.expect(250, 'EHLO client.test.example')
        rc, out = self.explain('127.0.0.2')
        self.assertEqual(rc, 69, out)
        self.assertIn('blocklisted by %s:3: 127.0.0.2 until %s' % (self.blocklist, future), out)
        self.assertIn('blocklist:2: not an IP address; line ignored', self.smtpd_log(rcv))
        rc, out = self.explain('127.0.0.3')
        self.assertIn('1 expired', out)

    def test_edit_takes_effect_at_the_next_connection(self):
        rcv = self.receiver(self.dns())
        self.raw(rcv, source='127.0.0.4')  # no file: nothing blocked
        self.write_list('127.0.0.0/29\n')
        c = self.raw(rcv, source='127.0.0.4', greet=False)
        self.assertEqual(c.reply()[0], 554)


class Rate(PolicyCase):

    def test_two_per_hour_per_address(self):
        rcv = self.receiver(self.dns(), rate='2/h')
        for _ in range(2):
            c, code, lines = self.session(rcv, '127.0.0.2')
            self.assertReply(code, lines, 250, '2.1.0')
            self.send(c)
        c, code, lines = self.session(rcv, '127.0.0.2')
        self.assertReply(code, lines, 450, '4.7.1')
        # another address is not affected
        c, code, lines = self.session(rcv, '127.0.0.3')
        self.assertReply(code, lines, 250, '2.1.0')
        self.assertEqual(len(self.spool_new()), 2)
        rc, out = self.explain('127.0.0.2')
        self.assertEqual(rc, 75, out)
        self.assertIn('rate 2 per 1h of class campus: 2 counted in this window', out)
        st = os.stat(os.path.join(self.state_dir, 'client-state'))
        self.assertEqual(st.st_mode & 0o777, 0o600)

    def test_unusable_state_dir_is_temporary(self):
        self.state_dir = os.path.join(self.tmp, 'missing')
        rcv = self.receiver(self.dns(), rate='2/h')
        c, code, lines = self.session(rcv, '127.0.0.2')
        self.assertEqual(code // 100, 4, lines)


class ExampleConfigs(harness.TestCase):

    def test_seed_examples_are_valid(self):
        for name in ('tu-darmstadt.conf', 'hs-offenburg.conf'):
            path = os.path.join(harness.REPO, 'conf', 'examples', name)
            p = subprocess.run([harness.bin('mailout-smtpd'), '--check-config', '-c', path],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=30, env=self.env())
            out = p.stdout.decode('utf-8', 'replace')
            self.assertEqual(p.returncode, 0, out)
            self.assertNotIn('error', out)


if __name__ == '__main__':
    unittest.main()
