"""bench_profile.py - instructions per message on mailout's receive path

callgrind counts instructions, a figure that does not drift with the
machine's noise.  The receive path as deployed: mailout-smtpd, one
process per connection (here under tcpserver), inspects each message in
a forked, confined child (through a helper it forks before TLS when the
session starts TLS) and hands it over queue.socket to the queue service:
one mailout-queue --socket on the listening socket (started by
systemd-socket-activate -l, Accept=no), whose workers serve one
connection, a job, after another.  Every one of these processes runs under callgrind, into
files of its own (--callgrind-out-file=PREFIX.%p, --log-file=
PREFIX.%p.log, whose "Parent PID" line gives the process tree), with a
dump before each fork (--dump-before=*fork*): a forked child starts
from zero instead of with its parent's counters, and a process costs the
sum of its files (cg_processes).  The inspection child, kept for the
session and killed at its end (a killed process writes nothing), also
dumps before each wait for a message (--dump-before=scan_fd_recv).  tests/bench/noconfine.c is preloaded
into mailout-smtpd, as the inspection child's seccomp filter and
rlimits would keep valgrind from working.  Measured:

  - a session from loadclient of 1 message and of PROFILE_N, plain and
    with STARTTLS: per message, split by process (the session process,
    the inspection helper, the inspection child, the queue service's
    job and its parent's share per connection);
  - mailout-queue exec'd for one message, as a qmail admin runs it
    without the socket (MAILOUT_QUEUE): one process, median of REPS;
  - CPU time (getrusage) per message of mailout-queue alone, of the
    mailout-scan chain (mailout-sendmail's), and of mailout-smtpd with
    its inspection and the queue service (PROFILE_N in a session).

For each session a report (per-process totals, the costliest functions)
is written to OUT beside the raw files.
"""

import glob
import os
import re
import resource
import statistics
import subprocess

import bench_peers
import harness

PROFILE_N = max(2, int(os.environ.get('PROFILE_N', '200')))
REPS = max(3, int(os.environ.get('REPS', '3')))
SENDER, RCPT = 'bench@example.org', 'rcpt@example.org'
BODY_LINE = 'La de da de da 1234567890 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ'
VALGRIND = ['valgrind', '--tool=callgrind', '--dump-before=*fork*']
# what compressed names refer to: objects, files, functions
NAME_KIND = {'ob': 'ob', 'cob': 'ob', 'fl': 'fl', 'fi': 'fl', 'fe': 'fl', 'cfi': 'fl',
             'cfl': 'fl', 'fn': 'fn', 'cfn': 'fn'}
RECURSION = re.compile(r"'\d+$")
PARENT_PID = re.compile(r'Parent PID: (\d+)')


def message(eol):
    head = ['From: <%s>' % SENDER, 'To: <%s>' % RCPT, 'Subject: bench',
            'Date: Mon, 24 Nov 2025 10:00:00 +0000', 'Message-ID: <profile@test.example>', '']
    body = [BODY_LINE] * (2048 // (len(BODY_LINE) + 2))
    return (eol.join(head + body) + eol).encode()


def smtpd_script(n):
    msg = message('\r\n')
    tx = ('MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n' % (SENDER, RCPT)).encode() + msg + b'.\r\n'
    return b'EHLO bench.test.example\r\n' + tx * n + b'QUIT\r\n'


def clear_new(b):
    new = os.path.join(b.spool, 'new')
    for name in os.listdir(new):
        os.unlink(os.path.join(new, name))


def queued(b):
    return len(os.listdir(os.path.join(b.spool, 'new')))


# -- reading callgrind's files ---------------------------------------------------

def _name(table, val):
    """A compressed name: "(7) name" defines 7, "(7)" refers to it."""
    if not val.startswith('('):
        return val
    num, _, name = val.partition(')')
    name = name.strip()
    if name:
        table[num] = name
        return name
    return table.get(num, '?' + num[1:])


def cg_parse(path):
    """(total Ir, {(function, object): [self Ir, inclusive Ir]}) of one
    callgrind file; inclusive is self plus the calls the function makes
    (a recursive call counted once)."""
    tables = {'ob': {}, 'fl': {}, 'fn': {}}
    costs = {}
    total, npos, obj, fn, cfn, cur, in_call = None, 1, '', '', '', [0, 0], False
    with open(path, errors='replace') as f:
        for line in f:
            c = line[:1]
            if c.isdigit() or c in '+-*':
                v = line.split()
                ir = int(v[npos]) if len(v) > npos else 0
                if not in_call:
                    cur[0] += ir
                    cur[1] += ir
                elif cfn != fn:
                    cur[1] += ir
                in_call = False
                continue
            key, eq, val = line.rstrip('\n').partition('=')
            if eq and key in NAME_KIND:
                name = _name(tables[NAME_KIND[key]], val)
                if key == 'ob':
                    obj = os.path.basename(name)
                elif key == 'fn':
                    fn = RECURSION.sub('', name)
                    cur = costs.setdefault((fn, obj), [0, 0])
                elif key == 'cfn':
                    cfn = RECURSION.sub('', name)
            elif eq and key == 'calls':
                in_call = True
            elif line.startswith('positions:'):
                npos = len(line.split()) - 1
            elif line.startswith('totals:') or line.startswith('summary:'):
                total = int(line.split()[1])
    if total is None:
        total = sum(s for s, _ in costs.values())
    return total, costs


def add_costs(into, costs):
    for k, (s, i) in costs.items():
        acc = into.setdefault(k, [0, 0])
        acc[0] += s
        acc[1] += i
    return into


class CgProc:
    """One process's files: its parent's pid, its Ir and its costs."""

    def __init__(self, pid):
        self.pid, self.parent, self.ir, self.costs = pid, None, 0, {}

    def has(self, function):
        return any(fn == function for fn, _ in self.costs)


def cg_processes(prefix):
    """{pid: CgProc} from the files PREFIX.PID and PREFIX.PID.PART and
    the logs PREFIX.PID.log that valgrind wrote."""
    procs = {}
    for path in glob.glob(glob.escape(prefix) + '.*'):
        rest = path[len(prefix) + 1:].split('.')
        if not rest[0].isdigit():
            continue
        p = procs.setdefault(int(rest[0]), CgProc(int(rest[0])))
        if rest[1:] == ['log']:
            with open(path, errors='replace') as f:
                m = PARENT_PID.search(f.read())
            p.parent = int(m.group(1)) if m else None
        elif all(x.isdigit() for x in rest[1:]):
            ir, costs = cg_parse(path)
            p.ir += ir
            add_costs(p.costs, costs)
    return procs


def roots(procs):
    return [p for p in procs.values() if p.parent not in procs]


def remove_files(prefix):
    for f in glob.glob(glob.escape(prefix) + '.*'):
        os.unlink(f)


# -- the receive path: smtpd, inspection, the queue service ----------------------

class Chain:
    """The processes of one session under callgrind, by role."""

    def __init__(self, smtpd, queue, n):
        self.n = n
        (self.session,) = roots(smtpd)
        others = [p for p in smtpd.values() if p is not self.session]
        self.inspectors = [p for p in others if p.has('scan_message')]
        self.helpers = [p for p in others if not p.has('scan_message')]
        (self.service,) = roots(queue)
        self.jobs = [p for p in queue.values() if p is not self.service]  # the workers
        # one inspection child per session, kept for its messages (a
        # fresh one after libarchive is loaded, or after its CPU share)
        if not self.jobs or not self.inspectors:
            raise AssertionError('%d messages: %d inspection children, %d queue jobs' %
                                 (n, len(self.inspectors), len(self.jobs)))

    def helper_ir(self):
        return sum(p.ir for p in self.helpers)

    def job_costs(self):
        out = {}
        for p in self.jobs:
            add_costs(out, p.costs)
        return out

    def per_message(self, parent_per_conn):
        """[(role, Ir per message)]: everything this session cost over
        its messages; the service's parent by its share per connection."""
        n = float(self.n)
        return [('mailout-smtpd, the session process', self.session.ir / n),
                ('its inspection helper (STARTTLS sessions)', self.helper_ir() / n),
                ('its inspection child', sum(p.ir for p in self.inspectors) / n),
                ('mailout-queue service: the jobs (its workers)', sum(p.ir for p in self.jobs) / n),
                ('mailout-queue service: the parent, per connection', parent_per_conn)]

    def report(self, path, title):
        lines = [title, '', 'process Ir:']
        rows = [('session', self.session)] + [('helper', p) for p in self.helpers] + \
            [('inspection child', p) for p in self.inspectors] + \
            [('queue service', self.service)] + [('queue job', p) for p in self.jobs]
        for role, p in rows:
            lines.append('  %-18s pid %-8d %14s' % (role, p.pid, format(p.ir, ',')))
        for what, costs in (('the session process', self.session.costs),
                            ('the queue jobs', self.job_costs())):
            for col, label in ((0, 'self'), (1, 'inclusive')):
                lines += ['', '%s, by %s cost:' % (what, label)]
                best = sorted(costs.items(), key=lambda kv: -kv[1][col])[:30]
                for (fn, obj), c in best:
                    lines.append('  %14s  %s (%s)' % (format(c[col], ','), fn, obj))
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')


def profile_chain(b, out_dir, tools, qsock, tls, n):
    """One session of n messages from loadclient (STARTTLS or plain)
    into mailout-smtpd under tcpserver, the queue service serving it,
    all under callgrind; returns its Chain."""
    tag = '%s-%d' % ('tls' if tls else 'plain', n)
    sprefix = os.path.join(out_dir, 'callgrind.smtpd.' + tag)
    qprefix = os.path.join(out_dir, 'callgrind.queue.' + tag)
    remove_files(sprefix)
    remove_files(qprefix)
    # -t 600: the unit's code path, with an idle time valgrind cannot reach
    svc = bench_peers.QueueService(b, qsock, b.conf, wrap=VALGRIND + [
        '--callgrind-out-file=' + qprefix + '.%p', '--log-file=' + qprefix + '.%p.log'],
        opts=['-t', '600'])
    port = harness.free_port()
    smtpd = [harness.bin('mailout-smtpd'), '-c', b.conf, '-l', 'smtp']
    env = dict(b.env(), LD_PRELOAD=os.path.join(tools, 'noconfine.so'))
    svc.start()
    p = b.start(['tcpserver', '-q', '-R', '-H', '-l', '0', '-c', '4', '127.0.0.1', str(port)] +
                VALGRIND + ['--dump-before=scan_fd_recv', '--callgrind-out-file=' + sprefix + '.%p',
                            '--log-file=' + sprefix + '.%p.log'] + smtpd,
                name='tcpserver-callgrind', env=env)
    try:
        harness.wait_listening(port, proc=p)
        argv = [os.path.join(tools, 'loadclient'), '-p', str(port), '-n', '1', '-m', str(n),
                '-w', '120', '-W', '120'] + ([] if tls else ['-T'])
        subprocess.run(argv, check=True, timeout=3600, stdout=subprocess.DEVNULL)
        harness.wait_for(lambda: not harness.children_of(p.pid), 120,
                         what='the session under callgrind to end')
        harness.wait_for(lambda: not bench_peers.busy_workers(svc.pid), 120,
                         what='the queue jobs under callgrind to end')
    finally:
        b.stop(p)
        svc.stop(timeout=120)  # the parent writes its last file on SIGTERM
    got = queued(b)
    clear_new(b)
    if got != n:
        raise AssertionError('the %s session under callgrind queued %d of %d' % (tag, got, n))
    chain = Chain(cg_processes(sprefix), cg_processes(qprefix), n)
    chain.report(os.path.join(out_dir, 'callgrind.%s.txt' % tag),
                 'one %s session of %d message%s' % (tag.split('-')[0], n, 's' * (n > 1)))
    return chain


# -- mailout-queue exec'd per message, CPU time ----------------------------------

def write_job(b):
    msg_file = os.path.join(b.tmp, 'profile.msg')
    env_file = os.path.join(b.tmp, 'profile.env')
    with open(msg_file, 'wb') as f:
        f.write(message('\n'))
    with open(env_file, 'wb') as f:
        f.write(('F%s\0T%s\0\0' % (SENDER, RCPT)).encode())
    return msg_file, env_file


def profile_queue(b, bin_dir, out_dir):
    """mailout-queue exec'd for one message (no fork in it: one file)."""
    msg_file, env_file = write_job(b)
    irs, costs = [], {}
    for i in range(REPS):
        out_file = os.path.join(out_dir, 'callgrind.queue-exec.%d' % i)
        with open(msg_file, 'rb') as m, open(env_file, 'rb') as e:
            p = subprocess.run(['valgrind', '--tool=callgrind', '--callgrind-out-file=' + out_file,
                                '--log-file=' + out_file + '.log',
                                os.path.join(bin_dir, 'mailout-queue')], env=b.env(), stdin=m,
                               stdout=e, stderr=subprocess.DEVNULL, timeout=600)
        if p.returncode != 0:
            raise AssertionError('mailout-queue under callgrind exited %d' % p.returncode)
        ir, costs = cg_parse(out_file)
        irs.append(ir)
    got = queued(b)
    clear_new(b)
    if got != REPS:
        raise AssertionError('mailout-queue under callgrind queued %d of %d' % (got, REPS))
    return statistics.median(irs), costs


def chain_cpu(b, bin_dir, name, n=50):
    """CPU time (user + system, ms) per message of the queue chain that
    starts at program name, exec'd per message, every process of it
    included (getrusage of the reaped children)."""
    msg_file, env_file = write_job(b)
    env = b.env({'MAILOUT_QUEUE': os.path.join(bin_dir, 'mailout-queue')})
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(n):
        with open(msg_file, 'rb') as m, open(env_file, 'rb') as e:
            p = subprocess.run([os.path.join(bin_dir, name), '-c', b.conf], env=env, stdin=m,
                               stdout=e, stderr=subprocess.DEVNULL, timeout=60)
        if p.returncode != 0:
            raise AssertionError('%s exited %d' % (name, p.returncode))
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    clear_new(b)
    return 1000.0 * ((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)) / n


def session_cpu(b, bin_dir, qsock):
    """CPU time (ms) per message of mailout-smtpd receiving PROFILE_N
    messages in one session over a pipe, its inspection children and
    the queue service with its jobs included (the service is reaped
    after each run, so its getrusage holds its jobs'); the median of
    REPS runs of (N - 0) / N."""
    env = b.env({'TCPREMOTEIP': '127.0.0.1', 'TCPREMOTEPORT': '40000'})
    argv = [os.path.join(bin_dir, 'mailout-smtpd'), '-c', b.conf, '-l', 'smtp']
    svc = bench_peers.QueueService(b, qsock, b.conf)

    def cpu(n):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        svc.start()
        try:
            p = subprocess.run(argv, input=smtpd_script(n), stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, env=env, timeout=600)
            harness.wait_for(lambda: not bench_peers.busy_workers(svc.pid), 60,
                             what='the queue jobs to end')
        finally:
            svc.stop()
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.stdout.count(b'queued as') != n or queued(b) != n:
            raise AssertionError('mailout-smtpd queued %d of %d' % (queued(b), n))
        clear_new(b)
        return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)

    return statistics.median(1000.0 * (cpu(PROFILE_N) - cpu(0)) / PROFILE_N for _ in range(REPS))


# -- the table and the notes --------------------------------------------------------

TLS_PARTS = ['_dl_start', 'conf_load', 'tls_prepare', 'SSL_CTX_new', 'SSL_CTX_use_PrivateKey_file',
             'SSL_CTX_use_certificate_chain_file', 'tls_start', 'SSL_accept', 'SSL_do_handshake']


def self_costs(costs):
    return {k: c[0] for k, c in costs.items()}


def diff(after, before):
    """Per-function self cost of after minus before (what messages added)."""
    out = {k: c[0] - before.get(k, [0, 0])[0] for k, c in after.items()}
    return {k: v for k, v in out.items() if v > 0}


def inclusive_shares(costs, total, names):
    """'`fn` 12%, ...': inclusive shares of the named functions."""
    incl = {}
    for (fn, _), c in costs.items():
        incl[fn] = incl.get(fn, 0) + c[1]
    return ', '.join('`%s` %.0f%%' % (n, 100.0 * incl[n] / total) for n in names if n in incl)


def hot_lines(title, costs, k=5):
    """Notes: the k costliest functions by self cost, and by object."""
    total = sum(costs.values()) or 1
    objs = {}
    for (_, obj), ir in costs.items():
        objs[obj or '?'] = objs.get(obj or '?', 0) + ir
    by_obj = ', '.join('%s %.0f%%' % (o, 100.0 * ir / total)
                       for o, ir in sorted(objs.items(), key=lambda kv: -kv[1])[:5])
    out = ['', '%s (by object: %s):' % (title, by_obj), '']
    for (fn, obj), ir in sorted(costs.items(), key=lambda kv: -kv[1])[:k]:
        out.append('- %5.1f%%  `%s`%s' % (100.0 * ir / total, fn, ' (%s)' % obj if obj else ''))
    return out


def split_table(chains):
    """Notes: a markdown table of Ir per message by process, one column
    per session shape."""
    cols = [(False, 1), (False, PROFILE_N), (True, 1), (True, PROFILE_N)]
    per_conn = {tls: (chains[(tls, PROFILE_N)].service.ir - chains[(tls, 1)].service.ir) /
                (PROFILE_N - 1) for tls in (False, True)}
    per_msg = {c: chains[c].per_message(per_conn[c[0]]) for c in cols}
    head = ['%s, %s' % ('STARTTLS' if tls else 'plain',
                        '1 msg/session' if n == 1 else '%d in a session' % n) for tls, n in cols]
    out = ['', 'Instructions per message on the receive path, by process (everything a '
           'session cost over its messages):', '',
           '| process | ' + ' | '.join(head) + ' |', '|---|' + '---:|' * len(cols)]
    for i, (role, _) in enumerate(per_msg[cols[0]]):
        out.append('| %s | %s |' % (role, ' | '.join(format(int(per_msg[c][i][1]), ',')
                                                    for c in cols)))
    out.append('| total | %s |' % ' | '.join(format(int(sum(v for _, v in per_msg[c])), ',')
                                             for c in cols))
    return out, {c: sum(v for _, v in per_msg[c]) for c in cols}, per_conn


def profile(t, b, bin_dir, out_dir, tools, qsock):
    """Add the callgrind and CPU rows to table t (b.conf is the bench's
    config, its queue.socket qsock); return note lines."""
    chains = {(tls, n): profile_chain(b, out_dir, tools, qsock, tls, n)
              for tls in (False, True) for n in (1, PROFILE_N)}
    q_exec, c_queue = profile_queue(b, bin_dir, out_dir)
    cpu_queue = chain_cpu(b, bin_dir, 'mailout-queue')
    cpu_chain = chain_cpu(b, bin_dir, 'mailout-scan')
    cpu_session = session_cpu(b, bin_dir, qsock)
    notes, totals, per_conn = split_table(chains)
    plain1, plainn = chains[(False, 1)], chains[(False, PROFILE_N)]
    tls1 = chains[(True, 1)]
    for tls in (False, True):
        for n in (1, PROFILE_N):
            t.add('cpu', 'receive chain per message, %s, %s' % (
                '1 msg/session' if n == 1 else '%d in a session' % n,
                'STARTTLS' if tls else 'plain'), 'instructions', totals[(tls, n)], None)
    t.add('cpu', 'mailout-smtpd per message in a session, plain ((Ir(N) - Ir(1)) / (N - 1))',
          'instructions', (plainn.session.ir - plain1.session.ir) / (PROFILE_N - 1), None)
    t.add('cpu', 'mailout-smtpd, a plain session of 1 message', 'instructions', plain1.session.ir,
          None)
    t.add('cpu', 'mailout-smtpd, a STARTTLS session of 1 message', 'instructions', tls1.session.ir,
          None)
    t.add('cpu', 'queue service: its job per message (workers)', 'instructions',
          sum(p.ir for p in plainn.jobs) / PROFILE_N, None)
    t.add('cpu', 'queue service: its parent per connection', 'instructions', per_conn[False], None)
    t.add('cpu', 'mailout-queue exec\'d per message (Ir, one process)', 'instructions', q_exec, None)
    t.add('cpu', 'mailout-queue exec\'d per message, CPU time', 'ms', cpu_queue, None)
    t.add('cpu', 'mailout-scan + inspector + mailout-queue exec\'d, CPU', 'ms', cpu_chain, None)
    t.add('cpu', 'smtpd + inspection + queue service per message, CPU (%d in a session)'
          % PROFILE_N, 'ms', cpu_session, None)
    tls_total = tls1.session.ir
    return (notes +
            hot_lines('mailout-smtpd, what %d messages add to a plain session of 1'
                      % (PROFILE_N - 1), diff(plainn.session.costs, plain1.session.costs)) +
            hot_lines('mailout-smtpd, a plain session of 1 message', self_costs(plain1.session.costs)) +
            hot_lines('the queue service\'s job, per message', self_costs(plainn.job_costs())) +
            hot_lines('mailout-queue exec\'d, one message, whole process', self_costs(c_queue)) +
            hot_lines('mailout-smtpd, a STARTTLS session of 1 message', self_costs(tls1.session.costs)) +
            ['', 'where that STARTTLS session goes (inclusive): ' +
             inclusive_shares(tls1.session.costs, tls_total, TLS_PARTS)] +
            ['', 'callgrind files and reports (callgrind.*.txt): %s' % os.path.relpath(out_dir)])
