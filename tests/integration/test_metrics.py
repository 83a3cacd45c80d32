"""`mailout-spool stats --prometheus` as node_exporter's textfile collector reads it.

The spool is brought into every state by the real programs: mailout-queue
queues, mailout-deliver delivers to the test gateway (one recipient
sent, one deferred by a 451, one bounced by a 550), mailout-spool holds
one message.  The metrics file is written with the README's cron line
(write to NAME.$$, then mv) and read by a strict parser of the text
exposition format (version 0.0.4): HELP and TYPE at most once per
family and before its samples, valid metric and label names, escaped
label values, numeric values, no duplicate series, a family's samples
together, counters named *_total, a final newline.  The values must
match what `ls` and the gateway show.
"""

import math
import os
import re
import subprocess
import time
import unittest

import deliver_util
import harness
from harness import bin

METRIC_NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL_NAME = r'[a-zA-Z_][a-zA-Z0-9_]*'
LABEL_VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE_RE = re.compile(r'^(%s)(\{(?:%s=%s(?:,%s=%s)*,?)?\})? (\S+)(?: (-?\d+))?$'
                       % (METRIC_NAME, LABEL_NAME, LABEL_VALUE, LABEL_NAME, LABEL_VALUE))
LABEL_RE = re.compile(r'(%s)=(%s)' % (LABEL_NAME, LABEL_VALUE))
TYPES = ('counter', 'gauge', 'histogram', 'summary', 'untyped')
FLOAT_RE = re.compile(r'^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Inf|NaN)$')


class ExpositionError(AssertionError):
    pass


def parse_exposition(text):
    """Parse Prometheus text format strictly.  Returns {family: {'type',
    'help', 'samples': {(name, ((label, value), ...)): float}}}."""
    if not text.endswith('\n'):
        raise ExpositionError('the text does not end with a newline')
    families, done, current = {}, set(), None

    def family(name):
        return families.setdefault(name, {'type': None, 'help': None, 'samples': {}})

    for n, line in enumerate(text[:-1].split('\n'), 1):
        where = 'line %d: %r' % (n, line)
        if line.startswith('#'):
            m = re.match(r'^# (HELP|TYPE) (%s) (.*)$' % METRIC_NAME, line)
            if not m:
                if re.match(r'^# (HELP|TYPE)\b', line):
                    raise ExpositionError('malformed %s' % where)
                continue  # a plain comment
            kind, name, rest = m.groups()
            f = family(name)
            if kind == 'HELP':
                if f['help'] is not None:
                    raise ExpositionError('second HELP for %s, %s' % (name, where))
                if re.search(r'\\[^\\n]', rest):
                    raise ExpositionError('bad escape in HELP, %s' % where)
                f['help'] = rest
            else:
                if f['type'] is not None or f['samples']:
                    raise ExpositionError('TYPE after samples or twice, %s' % where)
                if rest not in TYPES:
                    raise ExpositionError('unknown type, %s' % where)
                f['type'] = rest
            continue
        if not line.strip():
            raise ExpositionError('empty line inside the text, %s' % where)
        m = SAMPLE_RE.match(line)
        if not m:
            raise ExpositionError('not a sample, %s' % where)
        name, labels, value, _ = m.groups()
        fam = name
        for suffix in ('_bucket', '_sum', '_count'):
            base = name[:-len(suffix)]
            if name.endswith(suffix) and families.get(base, {}).get('type') in ('histogram',
                                                                                 'summary'):
                fam = base
        if fam != current:
            if fam in done:
                raise ExpositionError('samples of %s are not together, %s' % (fam, where))
            if current is not None:
                done.add(current)
            current = fam
        if not FLOAT_RE.match(value):
            raise ExpositionError('value is not a number, %s' % where)
        pairs = tuple(LABEL_RE.findall(labels or ''))
        names = [k for k, _ in pairs]
        if len(set(names)) != len(names):
            raise ExpositionError('a label twice, %s' % where)
        key = (name, tuple(sorted(pairs)))
        f = family(fam)
        if key in f['samples']:
            raise ExpositionError('duplicate series, %s' % where)
        f['samples'][key] = float(value.replace('Inf', 'inf').replace('NaN', 'nan'))
    for name, f in families.items():
        if f['type'] == 'counter':
            if not name.endswith('_total'):
                raise ExpositionError('counter %s is not named *_total' % name)
            for v in f['samples'].values():
                if v < 0 or math.isnan(v):
                    raise ExpositionError('counter %s has value %r' % (name, v))
        if f['samples'] and (f['type'] is None or f['help'] is None):
            raise ExpositionError('%s has samples without HELP and TYPE' % name)
    return families


def value(families, name, **labels):
    key = (name, tuple(sorted((k, '"%s"' % v) for k, v in labels.items())))
    fam = families.get(name)
    if fam is None or key not in fam['samples']:
        raise AssertionError('no series %s%r in %s' % (name, labels, sorted(families)))
    return fam['samples'][key]


class Parser(unittest.TestCase):
    """The parser itself must refuse what Prometheus refuses."""

    GOOD = ('# HELP a_total Things.\n# TYPE a_total counter\na_total 3\n'
            '# HELP g A gauge.\n# TYPE g gauge\ng{state="x"} 1\ng{state="y\\"z"} 2.5e3\n')

    def test_good(self):
        f = parse_exposition(self.GOOD)
        self.assertEqual(value(f, 'g', state='x'), 1)
        self.assertEqual(value(f, 'a_total'), 3)

    def test_bad(self):
        bad = [
            self.GOOD[:-1],                                     # no final newline
            self.GOOD + 'a_total 4\n',                          # duplicate, not together
            self.GOOD.replace('g{state="x"} 1', 'g{state=x} 1'),  # unquoted label
            self.GOOD.replace('g{state="x"} 1', 'g{1state="x"} 1'),
            self.GOOD.replace('a_total 3', 'a_total three'),
            self.GOOD.replace('a_total 3', 'a_total -3'),        # negative counter
            self.GOOD.replace('counter', 'countr'),
            self.GOOD.replace('# TYPE g gauge\n', '') + '# TYPE g gauge\n',
            self.GOOD + '\n',                                   # empty line
            self.GOOD.replace('a_total', 'a-total'),
            '# TYPE c counter\nc 1\n',                          # counter not *_total, no HELP
        ]
        for text in bad:
            with self.subTest(text=text):
                with self.assertRaises(ExpositionError):
                    parse_exposition(text)


class Metrics(deliver_util.DeliverCase):

    def setUp(self):
        super().setUp()
        if not harness.have_bin('mailout-spool'):
            self.fail('%s is not built' % bin('mailout-spool'))
        self.port, self.gw = self.gateway(
            '--reply-rcpt', 'busy@example.org=451 4.2.0 mailbox busy',
            '--reply-rcpt', 'gone@example.org=550 5.1.1 no such user')
        self.setup_conf(['[127.0.0.1]:%d' % self.port])

    def spool_tool(self, *args):
        p = subprocess.run([bin('mailout-spool'), '-c', self.conf] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env(),
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors='replace'))
        return p.stdout.decode()

    def textfile(self):
        """The README's cron line for node_exporter's textfile collector."""
        d = os.path.join(self.tmp, 'textfile_collector')
        os.makedirs(d, exist_ok=True)
        line = ('%s -c %s stats --prometheus > %s/mailout.prom.$$ && '
                'mv %s/mailout.prom.$$ %s/mailout.prom' % (bin('mailout-spool'), self.conf,
                                                            d, d, d))
        p = subprocess.run(['/bin/sh', '-c', line], stderr=subprocess.PIPE, env=self.env(),
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors='replace'))
        self.assertEqual(os.listdir(d), ['mailout.prom'], 'a temporary file was left behind')
        with open(os.path.join(d, 'mailout.prom')) as f:
            return f.read()

    def fill(self):
        """One message held, one deferred, two delivered (one with a
        bounced recipient).  Returns the queue IDs."""
        self.held = self.queue('root@example.org', ['later@example.org'], b'Subject: h\n\nh\n')
        self.spool_tool('hold', self.held)
        time.sleep(1.1)  # the held message is the oldest by at least a second
        self.sent = self.queue('root@example.org', ['ok@example.org'], b'Subject: s\n\ns\n')
        self.mixed = self.queue('root@example.org', ['ok2@example.org', 'gone@example.org'],
                                b'Subject: m\n\nm\n')
        self.deferred = self.queue('root@example.org', ['busy@example.org'], b'Subject: d\n\nd\n')
        self.deliver()

    def spool_truth(self):
        """What ls and cat say: counts per state, oldest Queued-At, sizes."""
        counts, oldest, size = {}, None, 0
        for state, sub in (('queued', 'new'), ('deferred', 'deferred'), ('held', 'hold')):
            ids = self.spool_list(sub)
            counts[state] = len(ids)
            for qid in ids:
                msg = self.read_spool(qid, sub)
                oldest = msg['queued_at'] if oldest is None else min(oldest, msg['queued_at'])
                size += len(msg['content'])
        return counts, oldest, size

    def test_gauges_match_the_spool(self):
        self.fill()
        self.assertEqual(self.spool_list('hold'), [self.held])
        self.assertEqual(self.spool_list('deferred'), [self.deferred])
        families = parse_exposition(self.textfile())
        now = time.time()
        counts, oldest, size = self.spool_truth()
        self.assertEqual(families['mailout_queue_messages']['type'], 'gauge')
        for state, n in counts.items():
            self.assertEqual(value(families, 'mailout_queue_messages', state=state), n, state)
        self.assertEqual(len(families['mailout_queue_messages']['samples']), 3,
                         'exactly the states queued, deferred, held')
        age = value(families, 'mailout_queue_oldest_message_age_seconds')
        self.assertGreaterEqual(age, now - oldest - 3)
        self.assertLessEqual(age, now - oldest + 1)
        self.assertGreaterEqual(age, 1, 'the held message is over a second old')
        got = value(families, 'mailout_queue_size_bytes')
        self.assertLessEqual(abs(got - size), 8 * sum(counts.values()),
                             'size %d, the spool holds %d bytes of messages' % (got, size))
        for name in ('mailout_delivered_total', 'mailout_bounced_total', 'mailout_deferred_total'):
            self.assertEqual(families[name]['type'], 'counter', name)

    def test_empty_spool(self):
        families = parse_exposition(self.textfile())
        for state in ('queued', 'deferred', 'held'):
            self.assertEqual(value(families, 'mailout_queue_messages', state=state), 0)
        self.assertEqual(value(families, 'mailout_queue_oldest_message_age_seconds'), 0)
        self.assertEqual(value(families, 'mailout_queue_size_bytes'), 0)

    def test_counters_follow_real_deliveries(self):
        # mailout-deliver adds its recipient outcomes to SPOOL/counters
        # ("delivered N" lines) under a lock; mailout-spool reads them.
        self.fill()
        self.assertEqual(len(self.received(self.gw)), 2, 'two messages reached the gateway')
        families = parse_exposition(self.textfile())
        self.assertEqual(value(families, 'mailout_delivered_total'), 2)
        self.assertEqual(value(families, 'mailout_bounced_total'), 1)
        self.assertEqual(value(families, 'mailout_deferred_total'), 1)
        self.spool_tool('retry', self.deferred)
        self.deliver()
        # the second run also delivers the bounce the first one queued
        self.assertEqual(len(self.received(self.gw)), 3, 'the bounce reached the gateway')
        families = parse_exposition(self.textfile())
        self.assertEqual(value(families, 'mailout_deferred_total'), 2, 'counters only grow')
        self.assertEqual(value(families, 'mailout_delivered_total'), 3)
        self.assertEqual(value(families, 'mailout_bounced_total'), 1)


if __name__ == '__main__':
    unittest.main()
