"""deliver_util.py - helpers shared by the test_deliver*.py tests

A test case with a gateway (tests/peers/gateway.py) it can start with
any option, a config writer for the gateway/queue keys, mailout-queue
to put messages in the spool (the qmail-queue protocol), and
mailout-deliver runs with bounded time.
"""

import email
import email.policy
import glob
import json
import os
import subprocess

import harness
from harness import PYTHON, REPO, bin, free_port, wait_listening

GATEWAY = os.path.join(REPO, 'tests/peers/gateway.py')
RUN_TIMEOUT = 120


class DeliverCase(harness.TestCase):
    """harness.TestCase plus the deliverer's peers."""

    def gateway(self, *opts, port=None, maildir=None):
        """Start the test gateway; returns (port, maildir)."""
        port = port or free_port()
        maildir = maildir or os.path.join(self.tmp, 'gw%d' % port)
        argv = [PYTHON, GATEWAY, '--listen', '127.0.0.1:%d' % port, '--maildir', maildir]
        p = self.start(argv + list(opts), name='gateway', env=dict(os.environ))
        wait_listening(port, proc=p)
        self.gw_proc = p
        return port, maildir

    def stop_gateway(self):
        self.stop(self.gw_proc)

    def setup_conf(self, servers, tls='none', gateway=None, queue=None):
        gw = {'servers': servers, 'tls': tls, 'connections': 1}
        gw.update(gateway or {})
        q = {'retry_min': '1h', 'retry_max': '4h', 'lifetime': '5d', 'delay_warning': '0',
             'postmaster': 'postmaster@example.org'}
        q.update(queue or {})
        return self.config(gateway=gw, extra=harness.render_section('queue', q))

    def queue(self, sender, rcpts, content):
        """mailout-queue: content on fd 0, envelope on fd 1; returns the ID."""
        env = b'F' + sender.encode() + b'\0' + b''.join(b'T' + r.encode() + b'\0' for r in rcpts)
        r, w = os.pipe()
        os.write(w, env + b'\0')
        os.close(w)
        try:
            p = subprocess.run([bin('mailout-queue')], input=content, stdout=r,
                               stderr=subprocess.PIPE, env=self.env(), timeout=30)
        finally:
            os.close(r)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors='replace'))
        return self.spool_new()[-1]

    def deliver(self, *args, check=True):
        p = subprocess.run([bin('mailout-deliver'), '-c', self.conf, *args],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=self.env(), timeout=RUN_TIMEOUT)
        self.last_log = p.stdout.decode(errors='replace')
        if check:
            self.assertEqual(p.returncode, 0, self.last_log)
        return self.last_log

    def received(self, maildir):
        """[(meta, bytes)] of what the gateway accepted, oldest first."""
        out = []
        for js in sorted(glob.glob(os.path.join(maildir, '*.json'))):
            with open(js) as f:
                meta = json.load(f)
            with open(js[:-5] + '.eml', 'rb') as f:
                out.append((meta, f.read()))
        return out

    def state(self, qid):
        with open(os.path.join(self.spool, 'state', qid)) as f:
            return f.read()

    def assert_spool_drained(self):
        for sub in ('new', 'deferred', 'state'):
            self.assertEqual(self.spool_list(sub), [], '%s/ not empty' % sub)


def parse_dsn(data):
    """The DSN as an email.message, its delivery-status groups as dicts."""
    msg = email.message_from_bytes(data, policy=email.policy.default)
    groups = []
    for part in msg.walk():
        if part.get_content_type() == 'message/delivery-status':
            for sub in part.get_payload():
                groups.append({k.lower(): str(v) for k, v in sub.items()})
    return msg, groups
