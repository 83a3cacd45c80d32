"""bench_profile.py - instructions per message on mailout's receive path

callgrind counts instructions, a figure that does not drift with the
machine's noise.  Three measurements:

  - mailout-smtpd: one session over a pipe (the UCSPI way: TCPREMOTEIP),
    EHLO, N messages of about 2 kB, QUIT; once with N = 0 (the fixed
    cost of a session) and once with N = PROFILE_N.  Per message is
    (Ir(N) - Ir(0)) / N; mailout-queue runs natively as its child.  The
    inspection child it forks (content.block_executables) and keeps for
    the session runs under callgrind too, into files of its own (%p),
    counted from its setup on (scan_child_fds: what it inherited from
    the session is zeroed) and dumped before each wait for a message
    (scan_fd_recv: the session kills it at the end, and a killed
    process writes nothing), with noconfine.so preloaded (its seccomp
    filter and rlimits would keep valgrind from working): the session
    process and the child are two rows;
  - mailout-queue: one message per process (as in production), the
    median of REPS runs;
  - mailout-smtpd behind tcpserver for one real session of one message
    from loadclient, plain and with STARTTLS: the handshake's price;
  - CPU time (getrusage) per message of mailout-queue alone, of the
    mailout-scan chain (mailout-sendmail's), and of mailout-smtpd with
    its inspection and mailout-queue (PROFILE_N in a session; and
    sessions of one message each, whole).

callgrind_annotate's output for each is written to OUT (its top
functions by self cost are the hot spots), next to the raw files.
"""

import glob
import os
import re
import resource
import shutil
import statistics
import subprocess

import harness

PROFILE_N = int(os.environ.get('PROFILE_N', '200'))
REPS = max(3, int(os.environ.get('REPS', '3')))
SENDER, RCPT = 'bench@example.org', 'rcpt@example.org'
BODY_LINE = 'La de da de da 1234567890 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ'
ANNOTATE_RE = re.compile(r'^\s*([\d,]+) \(\s*([\d.]+)%\)\s+(\S.*)$')


def message(eol):
    head = ['From: <%s>' % SENDER, 'To: <%s>' % RCPT, 'Subject: bench',
            'Date: Mon, 24 Nov 2025 10:00:00 +0000', 'Message-ID: <profile@test.example>', '']
    body = [BODY_LINE] * (2048 // (len(BODY_LINE) + 2))
    return (eol.join(head + body) + eol).encode()


def smtpd_script(n):
    msg = message('\r\n')
    tx = ('MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n' % (SENDER, RCPT)).encode() + msg + b'.\r\n'
    return b'EHLO bench.test.example\r\n' + tx * n + b'QUIT\r\n'


def callgrind(argv, out_file, env, timeout=600, extra=(), **kw):
    """Run argv under callgrind (exec'd children natively); returns (rc, stdout)."""
    vg = ['valgrind', '--tool=callgrind', '--callgrind-out-file=' + out_file,
          '--trace-children=no', '--log-file=' + out_file + '.log'] + list(extra) + argv
    p = subprocess.run(vg, env=env, timeout=timeout, stderr=subprocess.DEVNULL, **kw)
    return p.returncode, p.stdout


def smtpd_under_callgrind(env, tools):
    """(env, valgrind options) for mailout-smtpd: its forked inspection
    child writes out_file.PID.N, counted from scan_child_fds on and
    dumped before each scan_fd_recv, and runs with noconfine.so (see
    tests/bench/noconfine.c); collect() then sorts the files out."""
    return dict(env, LD_PRELOAD=os.path.join(tools, 'noconfine.so')), [
        '--zero-before=scan_child_fds', '--dump-before=scan_fd_recv']


def collect(out_file):
    """The files of out_file.%p (and their dumps, out_file.PID.N; a
    killed child leaves its out_file.PID empty): the biggest is the
    session process's (it never dumps), copied to out_file (for
    annotate); returns the summed Ir of the others (the inspection
    child, and a TLS session's helper)."""
    files = [f for f in glob.glob(out_file + '.*')
             if f[len(out_file) + 1:].replace('.', '').isdigit() and os.path.getsize(f) > 0]
    if not files:
        raise AssertionError('no callgrind files %s.PID' % out_file)
    irs = {f: total_ir(f) for f in files}
    main = max(irs, key=irs.get)
    shutil.copyfile(main, out_file)
    return sum(ir for f, ir in irs.items() if f != main)


def total_ir(out_file):
    with open(out_file) as f:
        for line in f:
            if line.startswith('totals:') or line.startswith('summary:'):
                return int(line.split()[1])
    raise AssertionError('no totals in %s' % out_file)


def annotate(out_file):
    """Write callgrind_annotate's reports (self and inclusive) beside
    out_file; return {(function, object): self Ir} for every function."""
    reports = []
    for extra in ([], ['--inclusive=yes']):
        reports.append(subprocess.run(
            ['callgrind_annotate', '--auto=no', '--threshold=100'] + extra + [out_file],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=300,
            check=True).stdout.decode('utf-8', 'replace'))
    with open(out_file + '.txt', 'w') as f:
        f.write(reports[0] + '\n\n=== inclusive ===\n\n' + reports[1])
    costs, objs = {}, {}
    seen_header = False
    for line in reports[0].splitlines():
        if 'file:function' in line:
            seen_header = True
            continue
        if seen_header and not line.strip() and costs:
            break
        m = ANNOTATE_RE.match(line)
        if not (seen_header and m):
            continue
        where, _, obj = m.group(3).partition(' [')
        fn = where.split(':', 1)[1] if ':' in where else where
        if obj and fn not in objs:  # an object is named once per function
            objs[fn] = obj.rstrip(']').rsplit('/', 1)[-1]
        costs[fn] = costs.get(fn, 0) + int(m.group(1).replace(',', ''))
    return {(fn, objs.get(fn, '')): ir for fn, ir in costs.items()}


def inclusive(out_file, names):
    """Inclusive shares (percent) of the named functions, from the
    report annotate() wrote; a name that is not there is left out."""
    with open(out_file + '.txt') as f:
        text = f.read().split('=== inclusive ===', 1)[-1]
    found = {}
    for line in text.splitlines():
        m = ANNOTATE_RE.match(line)
        if not m:
            continue
        where = m.group(3).partition(' [')[0]
        fn = where.split(':', 1)[1] if ':' in where else where
        if fn in names and fn not in found:
            found[fn] = float(m.group(2))
    return [(n, found[n]) for n in names if n in found]


def top(costs, k=5):
    """The k costliest functions as (share %, function, object)."""
    total = sum(costs.values()) or 1
    best = sorted(costs.items(), key=lambda kv: -kv[1])[:k]
    return [(100.0 * ir / total, fn, obj) for (fn, obj), ir in best]


def by_object(costs):
    """'ld.so 40%, libc 20%, ...': the share of each object."""
    total = sum(costs.values()) or 1
    objs = {}
    for (_, obj), ir in costs.items():
        objs[obj or '?'] = objs.get(obj or '?', 0) + ir
    best = sorted(objs.items(), key=lambda kv: -kv[1])[:5]
    return ', '.join('%s %.0f%%' % (o, 100.0 * ir / total) for o, ir in best)


def diff(after, before):
    """Per-function cost of after minus before (what N messages added)."""
    out = {k: after[k] - before.get(k, 0) for k in after}
    return {k: v for k, v in out.items() if v > 0}


def profile_smtpd(b, bin_dir, out_dir, tools):
    env, extra = smtpd_under_callgrind(b.env({
        'TCPREMOTEIP': '127.0.0.1', 'TCPREMOTEPORT': '40000',
        'MAILOUT_QUEUE': os.path.join(bin_dir, 'mailout-queue')}), tools)
    argv = [os.path.join(bin_dir, 'mailout-smtpd'), '-c', b.conf, '-l', 'smtp']
    ir, kids, costs = {}, {}, {}
    for n in (0, PROFILE_N):
        out_file = os.path.join(out_dir, 'callgrind.smtpd.%d' % n)
        for f in glob.glob(out_file + '.*'):
            os.unlink(f)
        rc, out = callgrind(argv, out_file + '.%p', env, extra=extra, input=smtpd_script(n),
                            stdout=subprocess.PIPE)
        queued = out.count(b'queued as')
        if rc != 0 or queued != n:
            raise AssertionError('mailout-smtpd under callgrind: exit %d, %d of %d queued:\n%s'
                                 % (rc, queued, n, out[-2000:].decode('utf-8', 'replace')))
        kids[n] = collect(out_file)
        ir[n] = total_ir(out_file)
        costs[n] = annotate(out_file)
    clear_new(b)
    return (ir[0], (ir[PROFILE_N] - ir[0]) / PROFILE_N, (kids[PROFILE_N] - kids[0]) / PROFILE_N,
            costs[0], diff(costs[PROFILE_N], costs[0]))


def profile_queue(b, bin_dir, out_dir):
    msg_file = os.path.join(b.tmp, 'profile.msg')
    env_file = os.path.join(b.tmp, 'profile.env')
    with open(msg_file, 'wb') as f:
        f.write(message('\n'))
    with open(env_file, 'wb') as f:
        f.write(('F%s\0T%s\0\0' % (SENDER, RCPT)).encode())
    irs = []
    out_file = None
    for i in range(REPS):
        out_file = os.path.join(out_dir, 'callgrind.queue.%d' % i)
        with open(msg_file, 'rb') as m, open(env_file, 'rb') as e:
            rc, _ = callgrind([os.path.join(bin_dir, 'mailout-queue')], out_file, b.env(),
                              stdin=m, stdout=e)
        if rc != 0:
            raise AssertionError('mailout-queue under callgrind exited %d' % rc)
        irs.append(total_ir(out_file))
    new = os.path.join(b.spool, 'new')
    got = len(os.listdir(new))
    if got != REPS:
        raise AssertionError('mailout-queue under callgrind queued %d of %d' % (got, REPS))
    for name in os.listdir(new):
        os.unlink(os.path.join(new, name))
    return statistics.median(irs), annotate(out_file)


def chain_cpu(b, bin_dir, name, n=50):
    """CPU time (user + system, ms) per message of the queue chain that
    starts at program name, every process of it included (getrusage of
    the reaped children): mailout-scan cannot run under valgrind, as its
    inspector is confined by seccomp."""
    msg_file = os.path.join(b.tmp, 'profile.msg')
    env_file = os.path.join(b.tmp, 'profile.env')
    with open(msg_file, 'wb') as f:
        f.write(message('\n'))
    with open(env_file, 'wb') as f:
        f.write(('F%s\0T%s\0\0' % (SENDER, RCPT)).encode())
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


def session_cpu(b, bin_dir):
    """CPU time (ms) per message of mailout-smtpd receiving PROFILE_N
    messages in one session over a pipe, its inspection child and
    mailout-queue included; the median of REPS runs of (N - 0) / N.
    Then the same for sessions of one message each (50 of them, whole:
    process start included)."""
    env = b.env({'TCPREMOTEIP': '127.0.0.1', 'TCPREMOTEPORT': '40000',
                 'MAILOUT_QUEUE': os.path.join(bin_dir, 'mailout-queue')})
    argv = [os.path.join(bin_dir, 'mailout-smtpd'), '-c', b.conf, '-l', 'smtp']

    def cpu(n, sessions=1):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        for _ in range(sessions):
            p = subprocess.run(argv, input=smtpd_script(n), stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, env=env, timeout=600)
            if p.stdout.count(b'queued as') != n:
                raise AssertionError('mailout-smtpd queued %d of %d' %
                                     (p.stdout.count(b'queued as'), n))
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        clear_new(b)
        return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)

    many = statistics.median(1000.0 * (cpu(PROFILE_N) - cpu(0)) / PROFILE_N for _ in range(REPS))
    one = statistics.median(1000.0 * cpu(1, 50) / 50 for _ in range(REPS))
    return many, one


def profile_session(b, bin_dir, out_dir, tools, tls):
    """One real TCP session (tcpserver, smtpd under callgrind) of one
    message from loadclient, with STARTTLS or without; returns
    (Ir, costs).  Shows what a handshake and process start cost."""
    tag = 'tls' if tls else 'plain'
    out = os.path.join(out_dir, 'callgrind.session-%s' % tag)
    for f in glob.glob(out + '.*'):
        os.unlink(f)
    port = harness.free_port()
    smtpd = [os.path.join(bin_dir, 'mailout-smtpd'), '-c', b.conf, '-l', 'smtp']
    env, extra = smtpd_under_callgrind(
        b.env({'MAILOUT_QUEUE': os.path.join(bin_dir, 'mailout-queue')}), tools)
    p = b.start(['tcpserver', '-q', '-R', '-H', '-l', '0', '-c', '4', '127.0.0.1', str(port),
                 'valgrind',
                 '--tool=callgrind', '--callgrind-out-file=' + out + '.%p', '--trace-children=no',
                 '--log-file=' + out + '.log'] + extra + smtpd, name='tcpserver-callgrind',
                env=env)
    try:
        harness.wait_listening(port, proc=p)
        argv = [os.path.join(tools, 'loadclient'), '-p', str(port), '-n', '1', '-m', '1',
                '-w', '120', '-W', '120'] + ([] if tls else ['-T'])
        subprocess.run(argv, check=True, timeout=300, stdout=subprocess.DEVNULL)
        harness.wait_for(lambda: not harness.children_of(p.pid), 120,
                         what='the session under callgrind to end')
    finally:
        b.stop(p)
    new = os.path.join(b.spool, 'new')
    if len(os.listdir(new)) != 1:
        raise AssertionError('the %s session under callgrind did not queue its message' % tag)
    for name in os.listdir(new):
        os.unlink(os.path.join(new, name))
    collect(out)
    return total_ir(out), annotate(out)


TLS_PARTS = ['_dl_start', 'conf_load', 'tls_prepare', 'SSL_CTX_new', 'SSL_CTX_use_PrivateKey_file',
             'SSL_CTX_use_certificate_chain_file', 'tls_start', 'SSL_accept', 'SSL_do_handshake']


def clear_new(b):
    new = os.path.join(b.spool, 'new')
    for name in os.listdir(new):
        os.unlink(os.path.join(new, name))


def hot_lines(title, costs):
    out = ['', '%s (by object: %s):' % (title, by_object(costs)), '']
    for pct, fn, lib in top(costs):
        out.append('- %5.1f%%  `%s`%s' % (pct, fn, ' (%s)' % lib if lib else ''))
    return out


def profile(t, b, bin_dir, out_dir, tools):
    """Add the callgrind rows to table t (b.conf is the bench's config);
    return note lines (hot spots)."""
    fixed, per_msg, per_kids, c_fixed, c_msgs = profile_smtpd(b, bin_dir, out_dir, tools)
    q, c_queue = profile_queue(b, bin_dir, out_dir)
    cpu_queue = chain_cpu(b, bin_dir, 'mailout-queue')
    cpu_chain = chain_cpu(b, bin_dir, 'mailout-scan')
    cpu_session, cpu_one = session_cpu(b, bin_dir)
    plain, _ = profile_session(b, bin_dir, out_dir, tools, False)
    tls, c_tls = profile_session(b, bin_dir, out_dir, tools, True)
    t.add('cpu', 'mailout-smtpd per message (Ir, %d in a session)' % PROFILE_N, 'instructions',
          per_msg, None)
    t.add('cpu', 'its inspection child per message (Ir)', 'instructions', per_kids, None)
    t.add('cpu', 'mailout-smtpd per message, session start included (Ir(N) / N)', 'instructions',
          per_msg + fixed / PROFILE_N, None)
    t.add('cpu', 'mailout-smtpd per session (Ir, fixed cost)', 'instructions', fixed, None)
    t.add('cpu', 'mailout-queue per message (Ir, one process)', 'instructions', q, None)
    t.add('cpu', 'smtpd + inspection + queue per message', 'instructions',
          per_msg + per_kids + q, None)
    t.add('cpu', 'mailout-queue per message, CPU time', 'ms', cpu_queue, None)
    t.add('cpu', 'mailout-scan + inspector + mailout-queue per message, CPU', 'ms', cpu_chain, None)
    t.add('cpu', 'smtpd + inspection + queue per message, CPU (%d in a session)' % PROFILE_N,
          'ms', cpu_session, None)
    t.add('cpu', 'smtpd + inspection + queue, CPU per session of 1 message', 'ms', cpu_one, None)
    t.add('cpu', 'mailout-smtpd, TCP session of 1 message, plain', 'instructions', plain, None)
    t.add('cpu', 'mailout-smtpd, TCP session of 1 message, STARTTLS', 'instructions', tls, None)
    return (hot_lines('mailout-smtpd, what %d messages add to a session' % PROFILE_N, c_msgs) +
            hot_lines('mailout-smtpd, a session without messages', c_fixed) +
            hot_lines('mailout-queue, one message, whole process', c_queue) +
            hot_lines('mailout-smtpd, a STARTTLS session of one message', c_tls) +
            ['', 'where that STARTTLS session goes (inclusive): ' + ', '.join(
                '`%s` %.0f%%' % nv for nv in inclusive(os.path.join(out_dir, 'callgrind.session-tls'),
                                                     TLS_PARTS))] +
            ['', 'callgrind files and annotations: %s' % os.path.relpath(out_dir)])

