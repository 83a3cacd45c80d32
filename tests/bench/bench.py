"""bench.py - `make bench`: mailout side by side with Postfix, on loopback

Run by tests/bench/bench.sh (which installs the Debian packages, builds
the programs and the two C tools) with Debian's /usr/bin/python3:

    bench.py --bin BUILD/bin --tools BUILD/bench-tools --out build/bench

mailout runs as deployed: the receivers hand each message over
queue.socket to one queue service (mailout-queue --socket started by
systemd-socket-activate -l, as mailout-queue.socket with Accept=no
does; bench_peers.QueueService), started afresh before each run.
Measures, each as the median of REPS (>= 3) repetitions:
  - the fsync ceiling of the spool's file system (fsyncbench);
  - accept rates with Postfix's smtp-source (1 and 10 sessions, one
    message per connection and many), mailout under
    systemd-socket-activate --accept and under tcpserver, and a private
    Postfix instance that holds what it accepts; one shape also with
    mailout-queue exec'd per message (tcpserver, MAILOUT_QUEUE: qmail's
    way, no socket);
  - the drain of DRAIN messages to smtp-sink, 1 and 4 connections;
  - STARTTLS accept rates with loadclient (resumption off and on);
  - the hand-off alone (bench_handoff.py): mailout-queue spawned per
    message against the queue service;
  - memory of a receiver process paused in a dialogue and of the queue
    service with a hand-off in flight; the idle footprint once the
    service has exited after its idle time;
  - instructions per message (callgrind) of the receive chain, split by
    process, with the hot spots (bench_profile.py).
Prints the table and writes it, dated, to OUT/results.md (callgrind
files and reports beside it).  Every loop is bounded in count and
time; everything started is stopped by pid; Postfix is stopped at the
end whatever happens.
"""

import argparse
import datetime
import os
import platform
import shutil
import signal
import socket
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
sys.path.insert(0, HERE)

import bench_handoff  # noqa: E402
import bench_peers  # noqa: E402
import bench_profile  # noqa: E402
import certs  # noqa: E402
import harness  # noqa: E402
from bench_peers import run  # noqa: E402

REPS = max(3, int(os.environ.get('REPS', '3')))
N_ACCEPT = int(os.environ.get('N_ACCEPT', '500'))
N_TLS = int(os.environ.get('N_TLS', '200'))
DRAIN = int(os.environ.get('DRAIN', '5000'))
# PARTS=accept,tls runs only those parts (while working on one of them)
PARTS = set(os.environ.get('PARTS', 'accept,drain,tls,handoff,memory,profile').split(','))
SENDER, RCPT = 'bench@example.org', 'rcpt@example.org'
CLIENTS = {'campus': {'networks': ['127.0.0.0/8'], 'require_tls': False, 'require_dns': False,
                      'verify_sender': False, 'relay_domains': ['example.org']}}
LISTENERS = {'smtp': {'tls': 'starttls', 'auth': 'none'}}
# (label, smtp-source sessions, -d: many messages per connection)
ACCEPT_SHAPES = [('1 session, 1 msg/conn', 1, False), ('10 sessions, 1 msg/conn', 10, False),
                 ('1 session, many msg/conn', 1, True), ('10 sessions, many msg/conn', 10, True)]
# the shape also run with mailout-queue exec'd per message (no queue.socket)
CLASSIC_SHAPE = '10 sessions, 1 msg/conn'
CLASSIC = 'tcpserver, mailout-queue exec\'d'
SERVICE_IDLE = 10  # seconds: mailout-queue --socket's default -t, as the unit runs it
# (label, concurrency, connections, messages per connection, resume)
TLS_SHAPES = [('1 client, 1 msg/conn', 1, N_TLS, 1, False),
              ('10 clients, 1 msg/conn', 10, N_TLS, 1, False),
              ('10 clients, 1 msg/conn, resumption', 10, N_TLS, 1, True),
              ('10 clients, 10 msg/conn, resumption', 10, max(10, N_TLS // 10), 10, True)]


class Table:
    """Rows of (section, figure, unit, mailout, postfix); ratio computed."""

    def __init__(self):
        self.rows = []
        self.notes = []

    def add(self, section, figure, unit, mailout, postfix=None):
        self.rows.append((section, figure, unit, mailout, postfix))
        self.print_row(self.rows[-1])

    @staticmethod
    def fmt(v):
        if v is None:
            return '-'
        if isinstance(v, str):
            return v
        if abs(v) >= 100:
            return '{:,.0f}'.format(v)
        return '{:.1f}'.format(v) if abs(v) >= 10 else '{:.2f}'.format(v)

    def ratio(self, m, p):
        if isinstance(m, (int, float)) and isinstance(p, (int, float)) and p:
            return '{:.2f}'.format(m / p)
        return '-'

    def print_row(self, r):
        sec, fig, unit, m, p = r
        print('  %-11s %-44s %-12s %12s %12s %7s' % (sec, fig, unit, self.fmt(m), self.fmt(p),
                                                  self.ratio(m, p)), flush=True)

    def markdown(self, header):
        out = [header, '', '| | figure | unit | mailout | Postfix | mailout/Postfix |',
               '|---|---|---|---:|---:|---:|']
        for sec, fig, unit, m, p in self.rows:
            out.append('| %s | %s | %s | %s | %s | %s |' % (sec, fig, unit, self.fmt(m), self.fmt(p),
                                                           self.ratio(m, p)))
        return '\n'.join(out + [''] + self.notes) + '\n'


def queue_socket(b):
    return os.path.join(b.tmp, 'queue.sock')


def mailout_config(b, sink, conns, socket_handoff=True):
    """The bench's mailout.conf: clients on 127.0.0.0/8 without TLS or
    DNS checks, STARTTLS offered, gateway smtp-sink without TLS, a
    state_dir of its own (TLS ticket keys shared by the receivers) and,
    unless socket_handoff is false, queue.socket."""
    state = os.path.join(b.tmp, 'state')
    os.makedirs(state, exist_ok=True)
    extra = 'state_dir = "%s"\n' % state
    if socket_handoff:
        extra += 'queue { socket = "%s" }\n' % queue_socket(b)
    return b.render_config(clients=CLIENTS, listeners=LISTENERS, gateway={
        'servers': ['[127.0.0.1]:%d' % sink.port], 'tls': 'none', 'connections': conns},
        extra=extra)


class Bench(harness.TestCase):
    def runTest(self):
        pass

    def env(self, extra=None):
        """The harness's environment without the sanitizers' options,
        and without MAILOUT_QUEUE and MAILOUT_SCAN unless extra names
        them: the receivers then hand off over queue.socket."""
        env = super().env(extra)
        keep = set(extra or ())
        return {k: v for k, v in env.items() if k not in (
            'ASAN_OPTIONS', 'UBSAN_OPTIONS') and (k in keep or k not in (
                'MAILOUT_QUEUE', 'MAILOUT_SCAN'))}


def median(xs):
    return statistics.median(xs) if xs else None


# -- fsync ceiling and accept rates (smtp-source) ---------------------------
# The disk is shared with whatever else the machine does, so the runs are
# interleaved: each repetition probes the fsync ceiling, then runs every
# shape against every server in turn.

def fsync_probe(tools, d, writers, count):
    out = run([os.path.join(tools, 'fsyncbench'), d, str(writers), str(count)], timeout=600)
    return float(out.split('rate=')[1].split()[0])


def smtp_source(port, sessions, many, n):
    argv = ['smtp-source', '-s', str(sessions), '-m', str(n), '-l', '2048', '-f', SENDER,
            '-t', RCPT, '-M', 'source.test.example']
    if many:
        argv.append('-d')
    return argv + ['127.0.0.1:%d' % port]


def timed(argv, timeout=900):
    t0 = time.monotonic()
    run(argv, timeout=timeout)
    return time.monotonic() - t0


def clear_dir(d):
    for name in os.listdir(d):
        os.unlink(os.path.join(d, name))


def busy_jiffies():
    """CPU time spent by the whole machine (all CPUs, not idle or iowait),
    in clock ticks, from /proc/stat"""
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v[:8]) - v[3] - v[4]


def accept_once(name, port, clear, count, sessions, many):
    """One smtp-source run of N_ACCEPT messages: (messages per second,
    machine CPU ms per message - server, client and kernel together)."""
    clear()
    j0 = busy_jiffies()
    dt = timed(smtp_source(port, sessions, many, N_ACCEPT))
    got = harness.wait_for(lambda: count() >= N_ACCEPT and count(), 20,
                           what='%d messages queued by %s' % (N_ACCEPT, name))
    cpu = (busy_jiffies() - j0) * 1000.0 / os.sysconf('SC_CLK_TCK') / N_ACCEPT
    if got != N_ACCEPT:
        raise AssertionError('%s queued %d messages, not %d' % (name, got, N_ACCEPT))
    return N_ACCEPT / dt, cpu


def start_tcpserver(b, conf=None, env=None):
    """mailout-smtpd under tcpserver as a qmail admin runs it: -RHl0, so
    that tcpserver asks no DNS server for names (loopback only)."""
    port = harness.free_port()
    argv = ['tcpserver', '-q', '-R', '-H', '-l', '0', '-c', '200', '127.0.0.1', str(port),
            harness.bin('mailout-smtpd'), '-c', conf or b.conf, '-l', 'smtp']
    p = b.start(argv, name='receiver-tcpserver', env=b.env(env))
    harness.wait_listening(port, proc=p)
    return harness.Receiver(p, '127.0.0.1', port, 'tcpserver')


def start_classic(b, sink):
    """tcpserver with mailout-queue exec'd per message, as a qmail admin
    runs it: a config without queue.socket, MAILOUT_QUEUE naming the
    program (the installed one would be the compiled-in path)."""
    conf = b.write_config(mailout_config(b, sink, 4, socket_handoff=False), name='classic.conf')
    return start_tcpserver(b, conf, {'MAILOUT_QUEUE': harness.bin('mailout-queue')})


def bench_accept(t, b, pf, tools, svc, sink):
    new = os.path.join(b.spool, 'new')
    fs_dir = os.path.join(b.tmp, 'fsync')
    os.mkdir(fs_dir)
    rcvs = []
    try:
        rcvs.append(b.start_receiver('socket-activate-fds', listener='smtp', addr='127.0.0.1'))
        rcvs.append(start_tcpserver(b))
        rcvs.append(start_classic(b, sink))

        def mailout():
            clear_dir(new)
            svc.fresh()

        def classic():
            clear_dir(new)
            svc.stop()  # not used: a run that tried the socket would fail

        def queued():
            return len(os.listdir(new))

        # (name, port, prepare, count, shapes)
        servers = [('systemd', rcvs[0].port, mailout, queued, None),
                   ('tcpserver', rcvs[1].port, mailout, queued, None),
                   (CLASSIC, rcvs[2].port, classic, queued, (CLASSIC_SHAPE,)),
                   ('postfix', pf.port, pf.delete_all, pf.held, None)]
        rates, cpu, fsync = {}, {}, {1: [], 8: []}
        for _ in range(REPS):
            fsync[1].append(fsync_probe(tools, fs_dir, 1, 100))
            fsync[8].append(fsync_probe(tools, fs_dir, 8, 50))
            for label, sessions, many in ACCEPT_SHAPES:
                for name, port, prepare, count, shapes in servers:
                    if shapes and label not in shapes:
                        continue
                    rate, ms = accept_once(name, port, prepare, count, sessions, many)
                    rates.setdefault((name, label), []).append(rate)
                    cpu.setdefault((name, label), []).append(ms)
        clear_dir(new)
        pf.delete_all()
    finally:
        svc.stop()
        for r in rcvs:
            b.stop(r.proc)
    t.add('fsync', 'commits/s, 1 writer', 'commits/s', median(fsync[1]), None)
    t.add('fsync', 'commits/s, 8 writers', 'commits/s', median(fsync[8]), None)
    for what, unit, res in (('', 'msg/s', rates), ('CPU per message, ', 'ms', cpu)):
        for mode in ('systemd', 'tcpserver'):
            for label, _, _ in ACCEPT_SHAPES:
                t.add('accept', '%s%s (%s)' % (what, label, mode), unit,
                      median(res[(mode, label)]), median(res[('postfix', label)]))
        t.add('accept', '%s%s (%s)' % (what, CLASSIC_SHAPE, CLASSIC), unit,
              median(res[(CLASSIC, CLASSIC_SHAPE)]), median(res[('postfix', CLASSIC_SHAPE)]))
    t.notes.append('CPU per message: the whole machine\'s busy time (/proc/stat, all CPUs) '
                   'during the run over the messages: server, smtp-source and kernel '
                   'together, so the two servers compare on equal terms; lower is better.')


# -- drain to smtp-sink -----------------------------------------------------

def fill_mailout(b, n, svc):
    """Queue n messages through the receiver; returns a copy of the spool."""
    rcv = b.start_receiver('socket-activate-fds', listener='smtp', addr='127.0.0.1')
    try:
        svc.fresh()
        run(smtp_source(rcv.port, 10, True, n), timeout=900)
    finally:
        svc.stop()
        b.stop(rcv.proc)
    got = len(os.listdir(os.path.join(b.spool, 'new')))
    if got != n:
        raise AssertionError('mailout queued %d of %d messages' % (got, n))
    tpl = b.spool + '.tpl'
    shutil.copytree(b.spool, tpl, symlinks=True)
    return tpl


def spool_left(spool):
    return sum(len(os.listdir(os.path.join(spool, d))) for d in ('new', 'deferred', 'tmp'))


def drain_mailout(b, bin_dir, tpl, conf):
    """Restore the spool, time one mailout-deliver run; seconds."""
    shutil.rmtree(b.spool)
    shutil.copytree(tpl, b.spool, symlinks=True)
    t0 = time.monotonic()
    run([os.path.join(bin_dir, 'mailout-deliver'), '-c', conf], timeout=900,
        env=b.env({'MAILOUT_CONFIG': conf}))
    dt = time.monotonic() - t0
    left = spool_left(b.spool)
    if left:
        raise AssertionError('mailout-deliver left %d messages in the spool' % left)
    return dt


def drain_postfix(pf):
    """Queue DRAIN held messages, release them, time until the queue is
    empty and the log shows them sent; seconds."""
    pf.delete_all()
    sent0 = pf.sent_count()
    run(smtp_source(pf.port, 10, True, DRAIN), timeout=900)
    harness.wait_for(lambda: pf.held() >= DRAIN, 60, what='Postfix holding the messages')
    t0 = time.monotonic()
    pf.release_and_flush()
    harness.wait_for(lambda: pf.queue_count() == 0, 900, step=0.05,
                     what='Postfix to empty its queue')
    dt = time.monotonic() - t0
    harness.wait_for(lambda: pf.sent_count() - sent0 >= DRAIN, 60,
                     what='%d status=sent lines in the Postfix log' % DRAIN)
    return dt


def bench_drain(t, b, bin_dir, pf, sink, svc):
    tpl = fill_mailout(b, DRAIN, svc)
    for conns in (1, 4):
        conf = b.write_config(mailout_config(b, sink, conns), name='drain-%d.conf' % conns)
        pf.reload(conns)
        m, p = [], []
        for _ in range(REPS):
            m.append(drain_mailout(b, bin_dir, tpl, conf))
            p.append(drain_postfix(pf))
        t.add('drain', '%d msgs to smtp-sink, %d connection%s' % (DRAIN, conns, 's' * (conns > 1)),
              'msg/s', DRAIN / median(m), DRAIN / median(p))
    shutil.rmtree(tpl)
    pf.delete_all()


# -- STARTTLS with loadclient --------------------------------------------------

def loadclient(tools, port, conc, n, m, resume):
    argv = [os.path.join(tools, 'loadclient'), '-p', str(port), '-c', str(conc), '-n', str(n),
            '-m', str(m), '-s', '2048', '-f', SENDER, '-t', RCPT, '-W', '600']
    if resume:
        argv.append('-r')
    out = run(argv, timeout=900)
    return dict(kv.split('=', 1) for kv in out.split())


def bench_tls(t, b, tools, pf, svc):
    new = os.path.join(b.spool, 'new')
    rcv = b.start_receiver('socket-activate-fds', listener='smtp', addr='127.0.0.1')
    res = {}

    def mailout():
        clear_dir(new)
        svc.fresh()

    try:
        servers = (('mailout', rcv.port, mailout), ('postfix', pf.port, pf.delete_all))
        for _ in range(REPS):
            for label, conc, n, m, resume in TLS_SHAPES:
                for name, port, clear in servers:
                    clear()
                    r = loadclient(tools, port, conc, n, m, resume)
                    res.setdefault((name, label), []).append(
                        (float(r['msgs_per_s']), int(r['resumed']) / max(1, int(r['connections']))))
        clear_dir(new)
        pf.delete_all()
    finally:
        svc.stop()
        b.stop(rcv.proc)
    for label, _, _, _, resume in TLS_SHAPES:
        m = res[('mailout', label)]
        p = res[('postfix', label)]
        t.add('starttls', label, 'msg/s', median([x[0] for x in m]), median([x[0] for x in p]))
        if resume:
            t.add('starttls', '  handshakes resumed', '%', 100 * median([x[1] for x in m]),
                  100 * median([x[1] for x in p]))


# -- memory -----------------------------------------------------------------------

def paused_session(port, candidates, tls, meanwhile=None):
    """Open a session, stop after RCPT; (Rss, Pss, Private_Dirty) kB of
    the server process that holds it, and what meanwhile() returns,
    called while the session waits."""
    c = harness.RawClient(port, '127.0.0.1', '127.0.0.1', 30)
    try:
        c.expect(220)
        c.expect(250, 'EHLO client.test.example')
        if tls:
            c.expect(220, 'STARTTLS')
            c.starttls()
            c.expect(250, 'EHLO client.test.example')
        c.expect(250, 'MAIL FROM:<%s>' % SENDER)
        c.expect(250, 'RCPT TO:<%s>' % RCPT)
        time.sleep(0.3)
        inode = bench_peers.socket_inode(port, c.sock.getsockname()[1])
        pid = inode and bench_peers.pid_of_socket(inode, candidates())
        if not pid:
            raise AssertionError('no server process holds the connection on port %d' % port)
        return bench_peers.smaps(pid), meanwhile and meanwhile()
    finally:
        c.close()


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def service_busy(b, svc):
    """A hand-off held in flight in the queue service (the request and
    its two pipes sent, the message not yet): (Rss, Pss, Private_Dirty)
    kB of the service's parent and of the job's worker; then the message
    and envelope go, and the job must answer 0."""
    mr, mw = os.pipe()
    er, ew = os.pipe()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    try:
        s.connect(svc.path)
        socket.send_fds(s, [b'mailout-queue/1\n'], [mr, er])
        os.close(mr)
        os.close(er)
        mr = er = -1
        kids = harness.wait_for(lambda: bench_peers.busy_workers(svc.pid), 10,
                                what='the queue service\'s job')
        time.sleep(0.3)  # the job has read its request and waits for the message
        mem = bench_peers.smaps(svc.pid), bench_peers.smaps(kids[0])
        write_all(mw, bench_profile.message('\n'))
        os.close(mw)
        mw = -1
        write_all(ew, ('F%s\0T%s\0\0' % (SENDER, RCPT)).encode())
        os.close(ew)
        ew = -1
        code = s.recv(1)
        if code != b'\0':
            raise AssertionError('the held hand-off got %r, not 0' % code)
        return mem
    finally:
        for fd in (mr, mw, er, ew):
            if fd >= 0:
                os.close(fd)
        s.close()


def postfix_cleanup(pf):
    """(Rss, Pss, Private_Dirty) kB of Postfix's cleanup process (the
    one that writes the queue file) with the biggest Private_Dirty."""
    mem = [bench_peers.smaps(p) for p, name in pf.processes().items() if name == 'cleanup']
    mem = [m for m in mem if m]
    return max(mem, key=lambda m: m[2]) if mem else None


def mailout_idle(bin_dir):
    """(processes, Rss, Pss) of everything running from bin_dir."""
    procs = [p for p in bench_peers.all_pids()
             if harness.exe_of(p).startswith(os.path.realpath(bin_dir) + '/')]
    mem = [bench_peers.smaps(p) or (0, 0, 0) for p in procs]
    return len(procs), sum(x[0] for x in mem), sum(x[1] for x in mem)


def bench_memory(t, b, bin_dir, pf, pf_idle, svc):
    rcv = b.start_receiver('socket-activate-fds', listener='smtp', addr='127.0.0.1')
    try:
        svc.fresh()
        m = [paused_session(rcv.port, rcv.sessions, tls)[0] for tls in (False, True)]
        rcv.wait_no_session()
        parent, job = service_busy(b, svc)
        last = time.monotonic()
        clear_dir(os.path.join(b.spool, 'new'))
    finally:
        b.stop(rcv.proc)
    p = [paused_session(pf.port, lambda: list(pf.processes()), tls,
                        lambda: postfix_cleanup(pf)) for tls in (False, True)]
    for i, what in enumerate(('plain', 'STARTTLS')):
        t.add('memory', 'receiver, paused after RCPT, %s: Private_Dirty' % what, 'kB',
              m[i][2], p[i][0][2])
        t.add('memory', 'receiver, paused after RCPT, %s: PSS' % what, 'kB', m[i][1], p[i][0][1])
    cleanup = p[0][1] or (None, None, None)
    t.add('memory', 'queue service, hand-off in flight: parent, Private_Dirty', 'kB', parent[2],
          None)
    t.add('memory', 'queue service, hand-off in flight: parent, PSS', 'kB', parent[1], None)
    t.add('memory', 'queue service, hand-off in flight: its job, Private_Dirty', 'kB', job[2],
          cleanup[2])
    t.add('memory', 'queue service, hand-off in flight: its job, PSS', 'kB', job[1], cleanup[1])
    t.notes.append('Queue service memory: one hand-off held open (request sent, message not '
                   'yet); the parent is what runs while mail moves, the job what each '
                   'concurrent hand-off adds. Postfix: its cleanup process (the one that '
                   'writes the queue file; the largest if several run) while a session '
                   'waits after RCPT.')
    # nothing of mailout runs once the service has gone after its idle time
    linger = svc.wait_exit(SERVICE_IDLE + 30) - last
    n, rss, pss = mailout_idle(bin_dir)
    t.add('idle', 'queue service: seconds it stays after the last hand-off', 's', linger, None)
    t.add('idle', 'processes when nothing happens', 'count', n, pf_idle[0])
    t.add('idle', 'resident memory when nothing happens: PSS', 'kB', pss, pf_idle[2])
    t.add('idle', 'resident memory when nothing happens: RSS', 'kB', rss, pf_idle[1])


def postfix_idle(pf):
    time.sleep(1.0)
    procs = pf.processes()
    mem = [bench_peers.smaps(p) or (0, 0, 0) for p in procs]
    names = ' + '.join(sorted(procs.values()))
    return len(procs), sum(x[0] for x in mem), sum(x[1] for x in mem), names


# -- main -------------------------------------------------------------------------

def machine_line(spool):
    fs = run(['findmnt', '-no', 'FSTYPE', '-T', spool], check=False).strip()
    return '%s, %d CPUs, Linux %s, spool on %s' % (platform.node(), os.cpu_count(),
                                                   platform.release(), fs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bin', required=True)
    ap.add_argument('--tools', required=True)
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    # SIGTERM unwinds like ^C, so the cleanup below stops Postfix.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.environ['MAILOUT_BIN'] = a.bin
    harness.BIN_DIR = os.path.abspath(a.bin)
    os.makedirs(a.out, exist_ok=True)
    t = Table()
    b = Bench()
    b.setUp()
    pf = sink = None
    try:
        cert, key = certs.server('localhost')
        sink = bench_peers.Sink(b.tmp)
        b.write_config(mailout_config(b, sink, 4))
        svc = bench_peers.QueueService(b, queue_socket(b), b.conf)
        started = datetime.datetime.now()
        print('mailout vs Postfix %s, median of %d runs; %s' % (
            bench_peers.postfix_version(), REPS, machine_line(b.spool)), flush=True)
        print('  %-11s %-44s %-12s %12s %12s %7s' % ('', 'figure', 'unit', 'mailout', 'Postfix',
                                                  'ratio'))
        pf = bench_peers.Postfix(b.tmp, cert, key, sink.port)
        pf.start()
        pf_idle = postfix_idle(pf)
        if 'accept' in PARTS:
            bench_accept(t, b, pf, a.tools, svc, sink)
        if 'drain' in PARTS:
            bench_drain(t, b, a.bin, pf, sink, svc)
        if 'tls' in PARTS:
            bench_tls(t, b, a.tools, pf, svc)
        if 'handoff' in PARTS:
            bench_handoff.bench(t, a.bin, a.tools, b.tmp, REPS)
        if 'memory' in PARTS:
            bench_memory(t, b, a.bin, pf, pf_idle, svc)
        pf.stop()
        prof = bench_profile.profile(t, b, a.bin, a.out, a.tools, queue_socket(b)) \
            if 'profile' in PARTS else []
        t.notes += ['Postfix idle processes: %s.' % pf_idle[3]] + prof
        header = '## mailout vs Postfix, %s\n\n%s; Postfix %s; median of %d runs.' % (
            started.strftime('%Y-%m-%d'), machine_line(b.spool), bench_peers.postfix_version(),
            REPS)
        md = t.markdown(header)
        with open(os.path.join(a.out, 'results.md'), 'w') as f:
            f.write(md)
        print('\n' + md)
        print('written to %s' % os.path.join(a.out, 'results.md'))
    finally:
        if pf:
            pf.stop()
        if sink:
            sink.stop()
        b.doCleanups()


if __name__ == '__main__':
    main()
