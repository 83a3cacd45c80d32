"""test_deliver.py - mailout-deliver end to end with the aiosmtpd gateway

Messages enter the spool through the real mailout-queue; the gateway is
tests/peers/gateway.py on loopback.  Checks what a user would see: the
message at the gateway (byte-exact), the spool directories, the state
file, the bounce (parsed with Python's email package).
Run: MAILOUT_BIN=build/check/bin /usr/bin/python3 -m unittest test_deliver
(from tests/integration).
"""

import email.policy
import email.utils
import json
import os
import random
import re
import signal
import subprocess
import time
import unittest

from deliver_util import DeliverCase, parse_dsn
from harness import bin, free_port

RUN_TIMEOUT_LONG = 300
MSG = b'Subject: hello\nFrom: <root@example.org>\nMessage-ID: <1@x>\n\nHi.\n'


class TestDeliver(DeliverCase):

    def test_body_arrives_byte_exact(self):
        port, gw = self.gateway()
        self.setup_conf(['[127.0.0.1]:%d' % port])
        body = b'Subject: dots\n\n.\n..\n.x\nmiddle\nlast line without newline'
        self.queue('root@example.org', ['alice@example.org'], body)
        self.deliver()
        got = self.received(gw)
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0][1], body.replace(b'\n', b'\r\n') + b'\r\n')
        self.assertEqual(got[0][0]['mail_from'], 'root@example.org')
        self.assertEqual(got[0][0]['rcpt_tos'], ['alice@example.org'])
        self.assert_spool_drained()

    def test_long_single_line_streamed(self):
        # a 5 MB message on one line (dots inside and at its start) arrives
        # byte-exact, and mailout-deliver streams it in bounded writes
        port, gw = self.gateway('--line-length-limit', str(8 << 20))
        self.setup_conf(['[127.0.0.1]:%d' % port])
        line = (b'.dot ' + b'x' * 57 + b'..y ') * ((5 << 20) // 66)
        body = b'Subject: one line\n\n' + line + b'\n'
        self.queue('root@example.org', ['alice@example.org'], body)
        trace = os.path.join(self.tmp, 'strace.log')
        env = self.env()
        env['ASAN_OPTIONS'] += ':detect_leaks=0'  # LeakSanitizer cannot run under ptrace
        p = subprocess.run(['strace', '-f', '-qq', '-s', '0', '-o', trace,
                            '-e', 'trace=write,sendto,sendmsg,writev',
                            bin('mailout-deliver'), '-c', self.conf],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                           timeout=RUN_TIMEOUT_LONG)
        self.assertEqual(p.returncode, 0, p.stdout.decode(errors='replace'))
        got = self.received(gw)
        self.assertEqual(len(got), 1)
        self.assertEqual(len(got[0][1]), len(body) + body.count(b'\n'))
        self.assertEqual(got[0][1], body.replace(b'\n', b'\r\n'))
        self.assert_spool_drained()
        with open(trace) as f:
            sizes = [int(m.group(1)) for m in re.finditer(r', (\d+)\) += ', f.read())]
        self.assertTrue(sizes, 'strace saw no writes')
        self.assertLessEqual(max(sizes), 256 * 1024, 'a write of %d bytes' % max(sizes))

    def test_one_rcpt_5xx_other_delivered_and_bounce(self):
        port, gw = self.gateway('--reply-rcpt', 'bad@example.org=550 5.1.1 no such user')
        self.setup_conf(['[127.0.0.1]:%d' % port])
        qid = self.queue('root@example.org', ['good@example.org', 'bad@example.org'], MSG)
        queued_at = time.time()
        self.deliver()
        got = self.received(gw)
        self.assertEqual([m['rcpt_tos'] for m, _ in got], [['good@example.org']])
        self.assertIn('to=<bad@example.org>, relay=127.0.0.1[127.0.0.1]:%d, ' % port,
                      self.last_log)
        self.assertIn('status=bounced (550 5.1.1 no such user)', self.last_log)
        # the bounce is queued as a new message from <> to the sender
        dsn_id = self.spool_new()[0]
        self.assertNotEqual(dsn_id, qid)
        env = self.read_spool(dsn_id)
        self.assertEqual((env['from'], env['to']), ('', ['root@example.org']))
        self.deliver()
        got = self.received(gw)
        self.assertEqual(len(got), 2)
        meta, data = got[1]
        self.assertEqual(meta['mail_from'], '<>')  # the null envelope sender (aiosmtpd's form)
        self.assertEqual(meta['rcpt_tos'], ['root@example.org'])
        self.assert_dsn_5xx(data, queued_at)
        self.assert_spool_drained()

    def assert_dsn_5xx(self, data, queued_at):
        """Every field of the RFC 3464 report on bad@example.org's 550."""
        msg, groups = parse_dsn(data)
        self.assertEqual(msg.get_content_type(), 'multipart/report')
        self.assertEqual(msg.get_param('report-type'), 'delivery-status')
        self.assertEqual(msg['Auto-Submitted'], 'auto-replied')
        self.assertEqual(msg['From'].addresses[0].addr_spec, 'MAILER-DAEMON@relay.test.example')
        self.assertEqual(msg['From'].addresses[0].display_name, 'Mail Delivery System')
        self.assertEqual(msg['To'].addresses[0].addr_spec, 'root@example.org')
        parts = list(msg.iter_parts())
        self.assertEqual([p.get_content_type() for p in parts],
                         ['text/plain', 'message/delivery-status', 'text/rfc822-headers'])
        # per-message fields, then one group for the failed recipient only
        self.assertEqual(len(groups), 2, groups)
        self.assertEqual(groups[0]['reporting-mta'], 'dns; relay.test.example')
        arrival = email.utils.parsedate_to_datetime(groups[0]['arrival-date'])
        self.assertLess(abs(arrival.timestamp() - queued_at), 120, groups[0]['arrival-date'])
        g = groups[1]
        self.assertEqual(g['final-recipient'], 'rfc822; bad@example.org')
        self.assertEqual(g['action'], 'failed')
        self.assertEqual(g['status'], '5.1.1')
        self.assertEqual(g['remote-mta'], 'dns; 127.0.0.1')
        self.assertEqual(g['diagnostic-code'], 'smtp; 550 5.1.1 no such user')
        # the original headers, never the body
        headers = parts[2].get_payload(decode=True) or parts[2].get_content().encode()
        orig = email.message_from_bytes(headers, policy=email.policy.default)
        self.assertEqual(orig['Subject'], 'hello')
        self.assertEqual(orig['Message-ID'], '<1@x>')
        self.assertNotIn(b'Hi.', data)

    def test_4xx_deferred_then_flush(self):
        port, gw = self.gateway('--reply-data', '451 4.3.0 try later')
        self.setup_conf(['[127.0.0.1]:%d' % port])
        qid = self.queue('root@example.org', ['a@example.org'], MSG)
        self.deliver()
        self.assertEqual(self.spool_list('deferred'), [qid])
        self.assertEqual(self.spool_new(), [])
        st = self.state(qid)
        self.assertIn('attempts 1\n', st)
        self.assertIn('rcpt <a@example.org> deferred ', st)
        self.assertIn('451 4.3.0 try later', st)
        self.stop_gateway()
        self.gateway(port=port, maildir=gw)
        self.deliver()  # not due yet (retry_min = 1h)
        self.assertEqual(self.received(gw), [])
        self.deliver('--flush')
        self.assertEqual(len(self.received(gw)), 1)
        self.assert_spool_drained()

    def test_retry_after_backoff(self):
        port, gw = self.gateway('--reply-rcpt', 'a@example.org=452 4.2.2 full')
        self.setup_conf(['[127.0.0.1]:%d' % port], queue={'retry_min': '1s', 'retry_max': '1s'})
        qid = self.queue('root@example.org', ['a@example.org'], MSG)
        self.deliver()
        self.assertEqual(self.spool_list('deferred'), [qid])
        self.stop_gateway()
        self.gateway(port=port, maildir=gw)
        time.sleep(1.2)
        self.deliver()
        self.assertEqual(len(self.received(gw)), 1)
        self.assert_spool_drained()

    def test_lifetime_exceeded_bounces(self):
        self.setup_conf(['[127.0.0.1]:%d' % free_port()], queue={'lifetime': '1s'})
        qid = self.queue('root@example.org', ['a@example.org'], MSG)
        time.sleep(1.2)
        self.deliver()
        self.assertNotIn(qid, self.spool_list('deferred'))
        (dsn_id,) = self.spool_new()
        env = self.read_spool(dsn_id)
        self.assertEqual((env['from'], env['to']), ('', ['root@example.org']))
        _, groups = parse_dsn(env['content'])
        self.assertEqual(groups[1]['action'], 'failed')
        self.assertEqual(groups[1]['status'], '5.4.7')
        # no gateway ever answered: our own words, nobody named as saying them
        self.assertTrue(groups[1]['diagnostic-code'].startswith('X-mailout; '), groups[1])
        self.assertIn('connect to', groups[1]['diagnostic-code'])
        self.assertNotIn('remote-mta', groups[1])

    def test_null_sender_never_bounced(self):
        port, gw = self.gateway('--reply-rcpt', 'a@example.org=550 5.1.1 gone',
                                '--reply-rcpt', 'postmaster@example.org=550 5.1.1 gone too')
        self.setup_conf(['[127.0.0.1]:%d' % port])
        self.queue('', ['a@example.org'], MSG)
        self.deliver()
        # no bounce to <>: one double bounce to the postmaster
        (pm,) = self.spool_new()
        env = self.read_spool(pm)
        self.assertEqual((env['from'], env['to']), ('', ['postmaster@example.org']))
        self.assertIn(b'X-Mailout-Bounce: double', env['content'])
        # the double bounce fails too: dropped with a log line
        self.deliver()
        self.assertIn('dropped', self.last_log)
        self.assert_spool_drained()
        self.assertEqual(self.received(gw), [])

    def test_drop_in_data_then_delivered_once(self):
        port, gw = self.gateway('--drop-in-data')
        self.setup_conf(['[127.0.0.1]:%d' % port])
        qid = self.queue('root@example.org', ['a@example.org'], MSG)
        self.deliver()
        self.assertEqual(self.spool_list('deferred'), [qid])
        self.assertIn('lost connection', self.state(qid))
        self.stop_gateway()
        self.gateway(port=port, maildir=gw)
        self.deliver('--flush')
        self.deliver('--flush')
        self.assertEqual(len(self.received(gw)), 1)
        self.assert_spool_drained()

    def test_failover_to_second_server(self):
        port, gw = self.gateway()
        self.setup_conf(['[127.0.0.1]:%d' % free_port(), '[127.0.0.1]:%d' % port])
        self.queue('root@example.org', ['a@example.org'], MSG)
        self.deliver()
        self.assertEqual(len(self.received(gw)), 1)
        self.assert_spool_drained()

    def test_hung_gateway_does_not_stall(self):
        port, _ = self.gateway('--hang')
        self.setup_conf(['[127.0.0.1]:%d' % port], gateway={'command_timeout': '2s'})
        qid = self.queue('root@example.org', ['a@example.org'], MSG)
        t0 = time.monotonic()
        self.deliver()
        self.assertLess(time.monotonic() - t0, 20)
        self.assertGreaterEqual(time.monotonic() - t0, 1.5, 'waited for the greeting')
        self.assertEqual(self.spool_list('deferred'), [qid])
        self.assertIn('timeout', self.state(qid))

    def test_command_timeout_from_the_config(self):
        # the greeting wait is gateway.command_timeout (the environment
        # plays no part: configuration belongs in the file)
        port, _ = self.gateway('--hang')
        self.setup_conf(['[127.0.0.1]:%d' % port], gateway={'command_timeout': '4s'})
        qid = self.queue('root@example.org', ['a@example.org'], MSG)
        env = self.env({'MAILOUT_DELIVER_TIMEOUT': '1'})
        t0 = time.monotonic()
        p = subprocess.run([bin('mailout-deliver'), '-c', self.conf], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=env, timeout=60)
        took = time.monotonic() - t0
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertGreaterEqual(took, 3.5)
        self.assertLess(took, 15)
        self.assertIn('before the greeting: timeout', self.state(qid))

    def test_size_limit_bounces(self):
        port, gw = self.gateway('--size', '200')
        self.setup_conf(['[127.0.0.1]:%d' % port])
        self.queue('root@example.org', ['a@example.org'], MSG + b'x' * 300 + b'\n')
        self.deliver()
        self.assertIn('552 5.3.4', self.last_log)
        self.assertEqual(self.received(gw), [])
        (dsn_id,) = self.spool_new()
        env = self.read_spool(dsn_id)
        self.assertEqual(env['to'], ['root@example.org'])
        # the gateway only advertised SIZE: mailout refused, so the report
        # says so in its own words and claims no reply from the gateway
        msg, groups = parse_dsn(env['content'])
        self.assertEqual(msg.get_param('report-type'), 'delivery-status')
        self.assertEqual(len(groups), 2, groups)
        g = groups[1]
        self.assertEqual((g['final-recipient'], g['action'], g['status']),
                         ('rfc822; a@example.org', 'failed', '5.3.4'))
        self.assertNotIn('remote-mta', g)
        self.assertRegex(g['diagnostic-code'],
                         r'^X-mailout; message size \d+ exceeds the limit 200 of ')

    def queue_many(self, n, subject, parallel=8):
        """n messages through the real mailout-queue, parallel at a time
        (as many receivers would); subject % i names message i."""
        env = b'Froot@example.org\0Ta@example.org\0\0'
        todo, running = list(range(n)), []
        deadline = time.monotonic() + 120
        while todo or running:
            self.assertLess(time.monotonic(), deadline, 'queueing took too long')
            while todo and len(running) < parallel:
                i = todo.pop(0)
                r, w = os.pipe()
                os.write(w, env)
                os.close(w)
                p = subprocess.Popen([bin('mailout-queue')], stdin=subprocess.PIPE, stdout=r,
                                     stderr=subprocess.PIPE, env=self.env())
                os.close(r)
                p.stdin.write(b'Subject: ' + subject % i + b'\n\nbody\n')
                p.stdin.close()
                running.append(p)
            p = running.pop(0)
            err = p.stderr.read()
            p.stderr.close()
            self.assertEqual(p.wait(timeout=30), 0, err)
        self.assertEqual(len(self.spool_new()), n)

    def test_many_messages_two_concurrent_runs_exactly_once(self):
        # 500 messages, two mailout-deliver at once: each arrives once
        port, gw = self.gateway()
        self.setup_conf(['[127.0.0.1]:%d' % port], gateway={'connections': 3})
        n = 500
        self.queue_many(n, b'm%d')
        argv = [bin('mailout-deliver'), '-c', self.conf]
        runs = [subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env=self.env()) for _ in range(2)]
        for r in runs:
            self.assertEqual(r.wait(timeout=300), 0)
        got = self.received(gw)
        self.assertEqual(len(got), n, 'a message arrived twice or not at all')
        subjects = sorted(d.split(b'\r\n', 1)[0] for _, d in self.received(gw))
        self.assertEqual(subjects, sorted(b'Subject: m%d' % i for i in range(n)))
        self.assert_spool_drained()
        # six workers added to SPOOL/counters at once: none lost another's count
        stats = subprocess.run([bin('mailout-spool'), '-c', self.conf, 'stats', '--json'],
                               stdout=subprocess.PIPE, env=self.env(), timeout=60, check=True)
        got = json.loads(stats.stdout)
        self.assertEqual((got['delivered'], got['bounced'], got['deferred_attempts']), (n, 0, 0))

    def test_kill_9_loses_nothing(self):
        port, gw = self.gateway()
        self.setup_conf(['[127.0.0.1]:%d' % port], gateway={'connections': 2})
        n = 100
        for i in range(n):
            self.queue('root@example.org', ['a@example.org'], b'Subject: k%d\n\nbody\n' % i)
        rnd = random.Random(7)
        for _ in range(20):
            p = subprocess.Popen([bin('mailout-deliver'), '-c', self.conf],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env=self.env(), start_new_session=True)
            time.sleep(rnd.uniform(0.01, 0.15))
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=10)
        self.deliver('--flush')
        subjects = set(d.split(b'\r\n', 1)[0] for _, d in self.received(gw))
        self.assertEqual(subjects, set(b'Subject: k%d' % i for i in range(n)))
        self.assert_spool_drained()


    def test_delay_warning_once(self):
        port, gw = self.gateway('--reply-rcpt', 'a@example.org=451 4.2.1 busy')
        self.setup_conf(['[127.0.0.1]:%d' % port],
                        queue={'delay_warning': '1s', 'retry_min': '1s', 'retry_max': '1s'})
        qid = self.queue('root@example.org', ['a@example.org'], MSG)
        time.sleep(1.2)
        self.deliver()
        (warn,) = [i for i in self.spool_new() if i != qid]
        env = self.read_spool(warn)
        self.assertEqual((env['from'], env['to']), ('', ['root@example.org']))
        _, groups = parse_dsn(env['content'])
        self.assertEqual(groups[1]['action'], 'delayed')
        self.assertEqual(groups[1]['status'], '4.2.1')
        self.assertIn('warned 1', self.state(qid))
        time.sleep(1.2)
        self.deliver()  # delivers the warning; no second warning
        self.assertEqual(self.spool_new(), [])
        self.assertEqual(self.spool_list('deferred'), [qid])
        self.assertEqual([m['rcpt_tos'] for m, _ in self.received(gw)], [['root@example.org']])

    def test_many_messages_one_connection(self):
        port, gw = self.gateway()
        self.setup_conf(['[127.0.0.1]:%d' % port])
        for i in range(5):
            self.queue('root@example.org', ['a@example.org', 'b@example.org'], MSG)
        self.deliver('-v')
        self.assertEqual(self.last_log.count('connected to'), 1)
        self.assertEqual(len(self.received(gw)), 5)
        self.assert_spool_drained()


    def test_mx_lookup_through_resolver_nameserver(self):
        port, gw = self.gateway()
        dns = self.start_dns('--mx-host=gw.test.example,mx.test.example,10',
                             '--host-record=mx.test.example,127.0.0.1')
        self.setup_conf(['gw.test.example:%d' % port])
        with open(self.conf, 'a') as f:
            f.write('resolver { nameserver = "127.0.0.1:%d" }\n' % dns)
        self.queue('root@example.org', ['a@example.org'], MSG)
        self.deliver('-v')
        self.assertIn('mx.test.example[127.0.0.1]', self.last_log)
        self.assertEqual(len(self.received(gw)), 1)

    def test_mx_lookup_failure_is_temporary(self):
        dns = self.start_dns()
        self.setup_conf(['nowhere.test.example:25'])
        with open(self.conf, 'a') as f:
            f.write('resolver { nameserver = "127.0.0.1:%d" }\n' % dns)
        qid = self.queue('root@example.org', ['a@example.org'], MSG)
        self.deliver()
        self.assertEqual(self.spool_list('deferred'), [qid])
        self.assertEqual(self.spool_new(), [])  # no bounce


if __name__ == '__main__':
    unittest.main()
