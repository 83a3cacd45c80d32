"""test_deliver_smtp.py - what mailout-deliver says to the gateway

The SMTP side of delivery, seen from tests/peers/gateway.py (aiosmtpd
on loopback, which records each transaction's commands per TCP read,
its MAIL parameters and how many sessions were open at once):
PIPELINING with a 2xx, a 4xx and a 5xx recipient in one group;
SMTPUTF8 and BODY=8BITMIME; a UTF-8 address toward a gateway without
SMTPUTF8 (bounced 553 5.6.7, with the DSN: RFC 6533's global form, our
own diagnostic "X-mailout;", no Remote-MTA); UTF-8 returned headers
(message/global-headers); a gateway on [::1]; up to
gateway.connections sessions in parallel and never more.  Messages
enter the spool through the real mailout-queue.
Run: MAILOUT_BIN=build/check/bin /usr/bin/python3 -m unittest test_deliver_smtp
(from tests/integration).
"""

import email.parser
import email.policy
import json
import os
import socket
import unittest

from deliver_util import GATEWAY, DeliverCase, parse_dsn
from harness import PYTHON, free_port, wait_listening

MSG = b'Subject: hello\nFrom: <root@example.org>\nMessage-ID: <1@x>\n\nHi.\n'
UTF8_RCPT = 'j\u00fcrgen@example.org'
UTF8_SENDER = 'gr\u00fc\u00dfe@example.org'


def parse_global_dsn(data):
    """An RFC 6533 DSN as an email.message, its parts' content types and
    its message/global-delivery-status groups as dicts (field names in
    lower case), each group read with the email package from UTF-8."""
    msg = email.message_from_bytes(data, policy=email.policy.default)
    types = [p.get_content_type() for p in msg.iter_parts()]
    (report,) = [p for p in msg.iter_parts()
                 if p.get_content_type() == 'message/global-delivery-status']
    raw = report.get_content().decode('utf-8')  # strict: the report is UTF-8
    parser = email.parser.HeaderParser(policy=email.policy.default)
    groups = []
    for block in raw.strip('\n').split('\n\n'):
        g = parser.parsestr(block + '\n')
        names = [k.lower() for k in g.keys()]
        assert len(names) == len(set(names)), block  # no field twice
        assert not g.defects, (block, g.defects)
        groups.append({k.lower(): str(v) for k, v in g.items()})
    return msg, types, groups


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(('::1', 0))
        return True
    except OSError:
        return False


class TestDeliverSMTP(DeliverCase):

    def sessions(self, maildir):
        with open(os.path.join(maildir, '.sessions.json')) as f:
            return json.load(f)

    def bounce_for(self, qid):
        """The one DSN mailout-deliver queued (not qid): (envelope, groups)."""
        (dsn_id,) = [i for i in self.spool_new() if i != qid]
        env = self.read_spool(dsn_id)
        return env, parse_dsn(env['content'])

    # -- PIPELINING (RFC 2920) -------------------------------------------

    def test_pipelined_envelope_with_per_recipient_outcomes(self):
        port, gw = self.gateway('--reply-rcpt', 'bad@example.org=550 5.1.1 no such user',
                                '--reply-rcpt', 'later@example.org=451 4.2.1 busy')
        self.setup_conf(['[127.0.0.1]:%d' % port])
        rcpts = ['a@example.org', 'bad@example.org', 'later@example.org', 'c@example.org']
        qid = self.queue('root@example.org', rcpts, MSG)
        self.deliver()
        ((meta, data),) = self.received(gw)
        # MAIL and every RCPT came in one read; DATA once their replies were in
        self.assertIn(['MAIL', 'RCPT', 'RCPT', 'RCPT', 'RCPT'], meta['reads'])
        self.assertEqual(meta['reads'][-1], ['DATA'])
        self.assertEqual(meta['rcpt_tos'], ['a@example.org', 'c@example.org'])
        self.assertEqual(data, MSG.replace(b'\n', b'\r\n'))
        relay = 'relay=127.0.0.1[127.0.0.1]:%d, ' % port
        for rcpt, status in (('a', 'sent (250 '), ('bad', 'bounced (550 5.1.1 no such user)'),
                             ('later', 'deferred (451 4.2.1 busy)'), ('c', 'sent (250 ')):
            self.assertRegex(self.last_log, r'to=<%s@example\.org>, %s.*status=%s' %
                             (rcpt, relay.replace('[', r'\[').replace('.', r'\.'),
                              status.replace('(', r'\(').replace(')', r'\)')))
        self.assertEqual(self.spool_list('deferred'), [qid])
        st = self.state(qid)
        self.assertIn('rcpt <a@example.org> sent ', st)
        self.assertIn('rcpt <c@example.org> sent ', st)
        self.assertIn('rcpt <later@example.org> deferred ', st)
        env, (_, groups) = self.bounce_for(qid)
        self.assertEqual(env['to'], ['root@example.org'])
        self.assertEqual([g.get('final-recipient') for g in groups[1:]],
                         ['rfc822; bad@example.org'])

    def test_no_pipelining_one_command_per_read(self):
        # the same dialogue, one round trip per command, when not offered
        port, gw = self.gateway('--no-pipelining',
                                '--reply-rcpt', 'bad@example.org=550 5.1.1 no such user')
        self.setup_conf(['[127.0.0.1]:%d' % port])
        self.queue('root@example.org', ['a@example.org', 'bad@example.org', 'c@example.org'], MSG)
        self.deliver()
        ((meta, _),) = self.received(gw)
        self.assertEqual([r for r in meta['reads'] if r[0] in ('MAIL', 'RCPT', 'DATA')],
                         [['MAIL'], ['RCPT'], ['RCPT'], ['RCPT'], ['DATA']])
        self.assertEqual(meta['rcpt_tos'], ['a@example.org', 'c@example.org'])
        self.assertIn('status=bounced (550 5.1.1 no such user)', self.last_log)

    # -- SMTPUTF8 (RFC 6531) and 8BITMIME (RFC 6152) -----------------------

    def test_utf8_recipient_with_smtputf8(self):
        port, gw = self.gateway()
        self.setup_conf(['[127.0.0.1]:%d' % port])
        self.queue('root@example.org', [UTF8_RCPT], MSG)
        self.deliver()
        ((meta, _),) = self.received(gw)
        self.assertEqual(meta['rcpt_tos'], [UTF8_RCPT])
        self.assertIn('SMTPUTF8', meta['mail_options'])
        self.assert_spool_drained()

    def test_utf8_sender_with_smtputf8(self):
        port, gw = self.gateway()
        self.setup_conf(['[127.0.0.1]:%d' % port])
        self.queue(UTF8_SENDER, ['a@example.org'], MSG)
        self.deliver()
        ((meta, _),) = self.received(gw)
        self.assertEqual(meta['mail_from'], UTF8_SENDER)
        self.assertIn('SMTPUTF8', meta['mail_options'])

    def test_ascii_message_without_smtputf8_parameter(self):
        port, gw = self.gateway()
        self.setup_conf(['[127.0.0.1]:%d' % port])
        self.queue('root@example.org', ['a@example.org'], MSG)
        self.deliver()
        ((meta, _),) = self.received(gw)
        self.assertEqual(meta['mail_options'], [])  # neither SMTPUTF8 nor BODY=8BITMIME

    def test_utf8_recipient_without_smtputf8_bounced(self):
        port, gw = self.gateway('--no-smtputf8')
        self.setup_conf(['[127.0.0.1]:%d' % port])
        qid = self.queue('root@example.org', [UTF8_RCPT, 'a@example.org'], MSG)
        self.deliver()
        # nothing was sent: the envelope cannot be said to this gateway
        self.assertEqual(self.received(gw), [])
        # the log names the gateway it was connected to, not relay=none
        self.assertRegex(self.last_log, r'to=<%s>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, '
                         r'.*status=bounced \(553 5\.6\.7 ' % (UTF8_RCPT, port))
        self.assertNotIn('relay=none', self.last_log)
        self.assertNotIn(qid, self.spool_list('deferred'))
        (dsn_id,) = [i for i in self.spool_new() if i != qid]
        env = self.read_spool(dsn_id)
        self.assertEqual((env['from'], env['to']), ('', ['root@example.org']))
        # RFC 6533: a UTF-8 address makes the report global
        msg, types, groups = parse_global_dsn(env['content'])
        self.assertEqual(msg.get_content_type(), 'multipart/report')
        self.assertEqual(msg.get_param('report-type'), 'global-delivery-status')
        self.assertEqual(types, ['text/plain', 'message/global-delivery-status',
                                 'text/rfc822-headers'])  # the headers are ASCII
        self.assertNotIn(b'message/delivery-status', env['content'])
        self.assertEqual(len(groups), 3, groups)
        self.assertEqual(groups[0]['reporting-mta'], 'dns; relay.test.example')
        for g in groups[1:]:
            self.assertEqual(g['action'], 'failed')
            self.assertEqual(g['status'], '5.6.7')
            # mailout decided it: the gateway said nothing, so no reply of its own
            self.assertNotIn('remote-mta', g)
            self.assertTrue(g['diagnostic-code'].startswith('X-mailout; '), g)
            self.assertIn('does not support SMTPUTF8', g['diagnostic-code'])
            # no gateway reply code in it (the port in its text may hold "553")
            self.assertNotRegex(g['diagnostic-code'], r'(^|; )5\d\d[ -]')
        self.assertEqual(sorted(g['final-recipient'] for g in groups[1:]),
                         ['rfc822; a@example.org', 'utf-8; ' + UTF8_RCPT])
        # its envelope is ASCII: this gateway takes it
        self.deliver()
        ((meta, _),) = self.received(gw)
        self.assertEqual((meta['mail_from'], meta['rcpt_tos']), ('<>', ['root@example.org']))
        self.assert_spool_drained()

    def test_utf8_sender_without_smtputf8_bounced(self):
        port, gw = self.gateway('--no-smtputf8')
        self.setup_conf(['[127.0.0.1]:%d' % port])
        qid = self.queue(UTF8_SENDER, ['a@example.org'], MSG)
        self.deliver()
        self.assertEqual(self.received(gw), [])
        self.assertRegex(self.last_log, r'to=<a@example\.org>, relay=127\.0\.0\.1\[127\.0\.0\.1\]'
                         r':%d, .*status=bounced \(553 5\.6\.7 ' % port)
        (dsn_id,) = [i for i in self.spool_new() if i != qid]
        env = self.read_spool(dsn_id)
        self.assertEqual((env['from'], env['to']), ('', [UTF8_SENDER]))
        # a UTF-8 sender: global; the ASCII recipient keeps "rfc822;"
        msg, _, groups = parse_global_dsn(env['content'])
        self.assertEqual(msg.get_param('report-type'), 'global-delivery-status')
        self.assertIn(('\nTo: <%s>\n' % UTF8_SENDER).encode(), env['content'])
        self.assertEqual(len(groups), 2, groups)
        self.assertEqual(groups[1]['final-recipient'], 'rfc822; a@example.org')
        self.assertEqual(groups[1]['status'], '5.6.7')
        self.assertNotIn('remote-mta', groups[1])
        self.assertTrue(groups[1]['diagnostic-code'].startswith('X-mailout; '), groups[1])

    def test_utf8_headers_returned_as_global_headers(self):
        # an ASCII envelope, a gateway's 550, UTF-8 in the headers (RFC 6532)
        port, gw = self.gateway('--reply-rcpt', 'bad@example.org=550 5.1.1 no such user')
        self.setup_conf(['[127.0.0.1]:%d' % port])
        body = ('Subject: Gr\u00fc\u00dfe\nFrom: <root@example.org>\n\nHi.\n').encode()
        qid = self.queue('root@example.org', ['bad@example.org'], body)
        self.deliver()
        (dsn_id,) = [i for i in self.spool_new() if i != qid]
        env = self.read_spool(dsn_id)
        msg, types, groups = parse_global_dsn(env['content'])
        self.assertEqual(msg.get_param('report-type'), 'global-delivery-status')
        self.assertEqual(types, ['text/plain', 'message/global-delivery-status',
                                 'message/global-headers'])
        self.assertEqual(len(groups), 2, groups)
        # the gateway did reply: it is named, with its reply
        self.assertEqual(groups[1], {'final-recipient': 'rfc822; bad@example.org',
                                     'action': 'failed', 'status': '5.1.1',
                                     'remote-mta': 'dns; 127.0.0.1',
                                     'diagnostic-code': 'smtp; 550 5.1.1 no such user'})
        (headers,) = [p for p in msg.iter_parts()
                      if p.get_content_type() == 'message/global-headers']
        orig = email.message_from_bytes(headers.get_content(), policy=email.policy.default)
        self.assertEqual(orig['Subject'], 'Gr\u00fc\u00dfe')
        self.assertNotIn(b'Hi.', env['content'])

    def test_8bit_body_carries_body_8bitmime(self):
        port, gw = self.gateway()
        self.setup_conf(['[127.0.0.1]:%d' % port])
        body = ('Subject: Gr\u00fc\u00dfe\nContent-Type: text/plain; charset=utf-8\n'
                'Content-Transfer-Encoding: 8bit\n\nSch\u00f6ne Gr\u00fc\u00dfe\n').encode()
        self.queue('root@example.org', ['a@example.org'], body)
        self.deliver()
        ((meta, data),) = self.received(gw)
        self.assertIn('BODY=8BITMIME', meta['mail_options'])
        self.assertNotIn('SMTPUTF8', meta['mail_options'])
        self.assertEqual(data, body.replace(b'\n', b'\r\n'))

    # -- IPv6 ------------------------------------------------------------

    def test_gateway_on_ipv6_loopback(self):
        if not have_ipv6_loopback():
            self.skipTest('no IPv6 on loopback')
        port = free_port()
        gw = os.path.join(self.tmp, 'gw6')
        p = self.start([PYTHON, GATEWAY, '--listen', '[::1]:%d' % port, '--maildir', gw],
                       name='gateway6', env=dict(os.environ))
        wait_listening(port, proc=p)
        self.setup_conf(['[::1]:%d' % port])
        self.queue('root@example.org', ['a@example.org'], MSG)
        self.deliver('-v')
        ((meta, data),) = self.received(gw)
        self.assertEqual(meta['peer'][0], '::1')
        self.assertEqual(meta['rcpt_tos'], ['a@example.org'])
        self.assertEqual(data, MSG.replace(b'\n', b'\r\n'))
        self.assertIn('relay=::1[::1]:%d, ' % port, self.last_log)
        self.assert_spool_drained()

    # -- parallel sessions -------------------------------------------------

    def test_parallel_sessions_bounded_by_connections(self):
        port, gw = self.gateway()
        self.setup_conf(['[127.0.0.1]:%d' % port], gateway={'connections': 4})
        n = 200
        for i in range(n):
            self.queue('root@example.org', ['a@example.org'], b'Subject: p%d\n\nbody\n' % i)
        self.deliver()
        subjects = sorted(d.split(b'\r\n', 1)[0] for _, d in self.received(gw))
        self.assertEqual(subjects, sorted(b'Subject: p%d' % i for i in range(n)))
        s = self.sessions(gw)
        self.assertEqual(s['active'], 0)
        self.assertLessEqual(s['max'], 4, s)
        self.assertGreaterEqual(s['max'], 2, s)
        self.assertLessEqual(s['total'], 4, s)  # each worker reuses its session
        self.assert_spool_drained()


if __name__ == '__main__':
    unittest.main()
