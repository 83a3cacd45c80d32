"""test_deliver_tls.py - mailout-deliver's TLS and AUTH towards the gateway

The gateway (tests/peers/gateway.py) uses certificates from the test CA
(certs.py).  A TLS failure under verify/encrypt/implicit must leave the
message deferred with the reason, and nothing may reach the gateway.
Run: MAILOUT_BIN=build/check/bin /usr/bin/python3 -m unittest test_deliver_tls
(from tests/integration).
"""

import os
import subprocess
import unittest

import certs
from deliver_util import DeliverCase

MSG = b'Subject: tls\nFrom: <root@example.org>\n\nsecret\n'


def fingerprint(cert):
    out = subprocess.run(['openssl', 'x509', '-in', cert, '-noout', '-fingerprint', '-sha256'],
                         check=True, capture_output=True, text=True, timeout=30).stdout
    return 'sha256:' + out.strip().split('=', 1)[1]


class TestDeliverTLS(DeliverCase):

    def tls_gateway(self, *opts, name='localhost', ips=('127.0.0.1', '::1')):
        cert, key = certs.server(name, ips=ips)
        self.gw_cert = cert
        return self.gateway('--tls-cert', cert, '--tls-key', key, *opts)

    def other_ca(self):
        """A self-signed CA the gateway's certificate does not chain to."""
        d = os.path.join(self.tmp, 'otherca')
        os.mkdir(d)
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                        'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'k.pem', '-out',
                        'ca.pem', '-days', '2', '-subj', '/CN=other CA'], cwd=d, check=True,
                       capture_output=True, timeout=60)
        return os.path.join(d, 'ca.pem')

    def assert_deferred(self, gw, qid, reason):
        self.assertEqual(self.received(gw), [])
        self.assertEqual(self.spool_list('deferred'), [qid])
        self.assertIn(reason, self.state(qid))

    def test_verify_ok(self):
        port, gw = self.tls_gateway('--require-tls')
        self.setup_conf(['[localhost]:%d' % port], tls='verify',
                        gateway={'ca_file': certs.ca()[0]})
        self.queue('root@example.org', ['a@example.org'], MSG)
        self.deliver()
        (meta, _), = self.received(gw)
        self.assertTrue(meta['tls'])
        self.assert_spool_drained()

    def test_verify_wrong_ca(self):
        port, gw = self.tls_gateway()
        self.setup_conf(['[localhost]:%d' % port], tls='verify',
                        gateway={'ca_file': self.other_ca()})
        qid = self.queue('root@example.org', ['a@example.org'], MSG)
        self.deliver()
        self.assert_deferred(gw, qid, 'certificate verification failed')

    def test_verify_wrong_host_name(self):
        port, gw = self.tls_gateway(name='other.example', ips=())
        self.setup_conf(['[localhost]:%d' % port], tls='verify',
                        gateway={'ca_file': certs.ca()[0]})
        qid = self.queue('root@example.org', ['a@example.org'], MSG)
        self.deliver()
        self.assert_deferred(gw, qid, 'hostname mismatch')

    def test_verify_without_starttls_never_clear_text(self):
        port, gw = self.gateway()
        self.setup_conf(['[127.0.0.1]:%d' % port], tls='verify',
                        gateway={'ca_file': certs.ca()[0]})
        qid = self.queue('root@example.org', ['a@example.org'], MSG)
        self.deliver()
        self.assert_deferred(gw, qid, 'does not offer STARTTLS')

    def test_encrypt_without_verification(self):
        port, gw = self.tls_gateway(name='other.example', ips=())
        self.setup_conf(['[127.0.0.1]:%d' % port], tls='encrypt')
        self.queue('root@example.org', ['a@example.org'], MSG)
        self.deliver()
        self.assertTrue(self.received(gw)[0][0]['tls'])

    def test_may_falls_back_to_plain(self):
        port, gw = self.gateway()
        self.setup_conf(['[127.0.0.1]:%d' % port], tls='may')
        self.queue('root@example.org', ['a@example.org'], MSG)
        self.deliver()
        self.assertFalse(self.received(gw)[0][0]['tls'])

    def test_implicit_tls(self):
        port, gw = self.tls_gateway('--implicit-tls')
        self.setup_conf(['[localhost]:%d' % port], tls='implicit',
                        gateway={'ca_file': certs.ca()[0]})
        self.queue('root@example.org', ['a@example.org'], MSG)
        self.deliver()
        self.assertTrue(self.received(gw)[0][0]['tls'])

    def test_fingerprint_pin_accepted(self):
        port, gw = self.tls_gateway(name='other.example', ips=())
        self.setup_conf(['[127.0.0.1]:%d' % port], tls='verify',
                        gateway={'fingerprints': [fingerprint(self.gw_cert)]})
        self.queue('root@example.org', ['a@example.org'], MSG)
        self.deliver()
        self.assertEqual(len(self.received(gw)), 1)

    def test_fingerprint_pin_refused(self):
        port, gw = self.tls_gateway()
        self.setup_conf(['[localhost]:%d' % port], tls='verify',
                        gateway={'fingerprints': ['sha256:' + '00' * 32],
                                 'ca_file': certs.ca()[0]})
        qid = self.queue('root@example.org', ['a@example.org'], MSG)
        self.deliver()
        self.assert_deferred(gw, qid, 'fingerprint')

    def write_password(self, pw):
        path = os.path.join(self.tmp, 'gwpass')
        with open(path, 'w') as f:
            f.write(pw + '\n')
        return path

    def test_auth(self):
        port, gw = self.tls_gateway('--auth', 'relay:s3cret')
        self.setup_conf(['[localhost]:%d' % port], tls='verify',
                        gateway={'ca_file': certs.ca()[0], 'user': 'relay',
                                 'password_file': self.write_password('s3cret')})
        self.queue('root@example.org', ['a@example.org'], MSG)
        self.deliver()
        (meta, _), = self.received(gw)
        self.assertTrue(meta['auth'])
        self.assert_spool_drained()

    def test_auth_failure_is_temporary(self):
        port, gw = self.tls_gateway('--auth', 'relay:s3cret')
        self.setup_conf(['[localhost]:%d' % port], tls='verify',
                        gateway={'ca_file': certs.ca()[0], 'user': 'relay',
                                 'password_file': self.write_password('wrong')})
        qid = self.queue('root@example.org', ['a@example.org'], MSG)
        self.deliver()
        self.assert_deferred(gw, qid, 'refused our credentials')
        self.assertEqual(self.spool_new(), [])  # no bounce


if __name__ == '__main__':
    unittest.main()
