"""bench_handoff.py - `make bench`: the hand-off to the spool alone

The same client, tests/bench/queuebench (lib/mail_qclient.c, as
mailout-smtpd hands a message over), hands N_HANDOFF messages of 2 kB to
a spool of its own, one session at a time and ten at once, two ways:

  spawn    it spawns mailout-queue for each message (a receiver under
           inetd or tcpserver with MAILOUT_QUEUE: qmail's way);
  service  over the socket to one mailout-queue --socket on the
           listening socket (systemd-socket-activate -l, as
           mailout-queue.socket with Accept=no), whose workers serve
           one connection after another.

For each: messages per second (wall) and CPU ms per message of every
process involved (the clients, what they spawned, the activator and the
service with its children: getrusage, wait4), the median of REPS runs:
the figure without SMTP, smtp-source and the rest of the machine that
the accept rows carry.  The spools live in the bench's directory, on
the spool's file system.  Their instructions are bench_profile's.
"""

import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time

import harness

N_HANDOFF = int(os.environ.get('N_HANDOFF', '1000'))
MODES = (('spawn', 'mailout-queue spawned per message'),
         ('service', 'the queue service (Accept=no)'))


def config(d):
    path = os.path.join(d, 'mailout.conf')
    with open(path, 'w') as f:
        f.write('hostname = "relay.test.example"\n'
                'spool = "%s"\n' % os.path.join(d, 'spool') +
                'state_dir = "%s"\n' % os.path.join(d, 'state') +
                'content { block_executables = false }\n')
    os.makedirs(os.path.join(d, 'spool'))
    os.makedirs(os.path.join(d, 'state'))
    return path


def cpu_ms(ru):
    return (ru.ru_utime + ru.ru_stime) * 1000.0


def stop(proc):
    """Stop the service we started (SIGTERM: it lets its jobs finish);
    its rusage, which holds the children it reaped."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = status
            return ru
        time.sleep(0.02)
    proc.kill()
    return os.wait4(proc.pid, 0)[2]


def service(bin_dir, d, conf, sock):
    argv = ['systemd-socket-activate', '-l', sock, os.path.join(bin_dir, 'mailout-queue'),
            '--socket', '-c', conf]
    with open(os.path.join(d, 'service.log'), 'ab') as log:
        p = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        harness.wait_for(lambda: harness.unix_listening(sock) or p.poll() is not None,
                         what='the queue socket')
        if p.poll() is not None:
            raise AssertionError('the queue service exited %s before listening' % p.returncode)
    except BaseException:
        stop(p)
        raise
    return p


def run_once(mode, bin_dir, tool, top, jobs):
    """One run: (messages per second, CPU ms per message)."""
    d = tempfile.mkdtemp(prefix='handoff-', dir=top)
    try:
        conf = config(d)
        sock = os.path.join(d, 'queue.sock')
        srv = None
        if mode == 'spawn':
            target = ['-p', os.path.join(bin_dir, 'mailout-queue'), '-c', conf]
        else:
            srv = service(bin_dir, d, conf, sock)
            target = ['-s', sock]
        try:
            p = subprocess.run([tool, '-n', str(N_HANDOFF), '-j', str(jobs)] + target,
                               stdout=subprocess.PIPE, timeout=900)
        finally:
            ru = stop(srv) if srv is not None else None
        out = p.stdout.decode()
        if p.returncode != 0:
            raise AssertionError('%s: queuebench failed: %s' % (mode, out))
        m = dict(kv.split('=') for kv in out.split())
        cpu = float(m['cpu_ms']) + (cpu_ms(ru) if ru else 0.0)
        got = len(os.listdir(os.path.join(d, 'spool', 'new')))
        if got != N_HANDOFF:
            raise AssertionError('%s: %d of %d messages in new/' % (mode, got, N_HANDOFF))
        return float(m['rate']), cpu / N_HANDOFF
    finally:
        shutil.rmtree(d, ignore_errors=True)


def bench(t, bin_dir, tools, top, reps):
    """Add the hand-off rows to table t."""
    tool = os.path.join(tools, 'queuebench')
    res = {}
    for _ in range(reps):
        for mode, _ in MODES:
            for jobs in (1, 10):
                res.setdefault((mode, jobs), []).append(run_once(mode, bin_dir, tool, top, jobs))
    for i, unit in ((0, 'msg/s'), (1, 'ms CPU')):
        for mode, label in MODES:
            for jobs in (1, 10):
                t.add('handoff', '%s, %d session%s' % (label, jobs, 's' * (jobs > 1)), unit,
                      statistics.median(r[i] for r in res[(mode, jobs)]), None)
    t.notes.append('Hand-off: queuebench hands %d messages of 2 kB to a spool of its own, one '
                   'session at a time or ten; CPU per message of every process involved '
                   '(getrusage), no SMTP.' % N_HANDOFF)
