"""handoff.py - what one message's hand-off to the spool costs, three ways

    /usr/bin/python3 tests/bench/handoff.py --bin BUILD/bin --tool BUILD/bench-tools/queuebench
        [--dir DIR] [-n N] [--reps R] [--out FILE]

The same client (queuebench, lib/mail_qclient.c) hands N messages of
2 kB to the spool, one session at a time and ten at once:

  spawn    it spawns mailout-queue for each message (inetd, tcpserver:
           the set-uid program);
  accept   over the socket, systemd-socket-activate --accept starting one
           mailout-queue --socket per connection (fork + exec: the old
           Accept=yes unit);
  service  over the socket, one mailout-queue --socket on the listening
           socket (Accept=no) forking a child per connection.

For each: messages per second (wall), CPU ms per message of everything
involved (the clients, what they spawned, the socket activator and its
children: getrusage / wait4), the median of R runs.  Then callgrind
instructions per message: one mailout-queue --socket process per
connection against the service's child (from serve_connection on) plus
what the service's parent spends per connection.

The spool lives in DIR (default /var/tmp: a real disk, so every commit
fsyncs); nothing runs afterwards.  Not part of `make check`.
"""

import argparse
import glob
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

CG_TOTAL = re.compile(r'^(?:summary|totals):\s+(\d+)', re.M)


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


def wait_socket(path, proc, timeout=10):
    end = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > end:
            raise RuntimeError('no socket %s' % path)
        time.sleep(0.02)


def cpu_ms(ru):
    return (ru.ru_utime + ru.ru_stime) * 1000.0


def stop(proc, sig=signal.SIGTERM):
    """Stop a server we started; its rusage includes the children it reaped."""
    if proc.poll() is None:
        proc.send_signal(sig)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = status
            return ru
        time.sleep(0.02)
    proc.kill()
    return os.wait4(proc.pid, 0)[2]


def server(mode, args, d, conf, sock, wrap=()):
    q = os.path.join(args.bin, 'mailout-queue')
    if mode == 'accept':
        argv = ['systemd-socket-activate', '-l', sock, '--accept', '--inetd']
    else:
        argv = ['systemd-socket-activate', '-l', sock]
    argv += list(wrap) + [q, '--socket', '-c', conf]
    log = open(os.path.join(d, 'server.log'), 'ab')
    p = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    log.close()
    wait_socket(sock, p)
    return p


def bench(mode, args, jobs):
    """One run: (messages per second, CPU ms per message)."""
    d = tempfile.mkdtemp(prefix='mailout-handoff-', dir=args.dir)
    try:
        conf = config(d)
        sock = os.path.join(d, 'q.sock')
        srv = None
        if mode == 'spawn':
            target = ['-p', os.path.join(args.bin, 'mailout-queue'), '-c', conf]
        else:
            srv = server(mode, args, d, conf, sock)
            target = ['-s', sock]
        p = subprocess.Popen([args.tool, '-n', str(args.n), '-j', str(jobs)] + target,
                             stdout=subprocess.PIPE)
        out = p.communicate(timeout=600)[0].decode()
        if p.returncode != 0:
            raise RuntimeError('%s: queuebench failed: %s' % (mode, out))
        m = dict(kv.split('=') for kv in out.split())
        cpu = float(m['cpu_ms'])  # its workers and what they spawned
        if srv is not None:
            time.sleep(0.2)  # the last children are reaped
            cpu += cpu_ms(stop(srv))
        got = len(os.listdir(os.path.join(d, 'spool', 'new')))
        if got != args.n:
            raise RuntimeError('%s: %d of %d messages in new/' % (mode, got, args.n))
        return float(m['rate']), cpu / args.n
    finally:
        shutil.rmtree(d, ignore_errors=True)


def cg_totals(pattern):
    out = []
    for f in sorted(glob.glob(pattern)):
        with open(f) as fh:
            m = CG_TOTAL.search(fh.read())
        if m:
            out.append((f, int(m.group(1))))
    return out


def callgrind(mode, args, n, outdir):
    """Instructions: (the server's own, [each process it started]): for
    accept the activator is not traced (None) and each process is one
    connection's; for service the parent and its children (counted from
    serve_connection on)."""
    d = tempfile.mkdtemp(prefix='mailout-handoff-cg-', dir=args.dir)
    try:
        conf = config(d)
        sock = os.path.join(d, 'q.sock')
        out = os.path.join(outdir, 'callgrind.%s.%d.%%p' % (mode, n))
        wrap = ['valgrind', '--tool=callgrind', '--callgrind-out-file=' + out,
                '--log-file=' + out + '.log']
        if mode == 'service':
            wrap.append('--zero-before=serve_connection')
        srv = server(mode, args, d, conf, sock, wrap)
        for _ in range(n):
            subprocess.run([args.tool, '-n', '1', '-s', sock], check=True,
                           stdout=subprocess.DEVNULL, timeout=120)
        time.sleep(0.5)
        stop(srv)
        totals = cg_totals(out.replace('%p', '*'))
        own = out.replace('%p', str(srv.pid))
        return (dict(totals).get(own), [t for f, t in totals if f != own])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bin', required=True)
    ap.add_argument('--tool', required=True)
    ap.add_argument('--dir', default='/var/tmp')
    ap.add_argument('-n', type=int, default=2000)
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--out', default=None)
    ap.add_argument('--modes', default='spawn,accept,service',
                    help='which of spawn, accept, service (an older build has no service)')
    args = ap.parse_args()
    modes = args.modes.split(',')
    outdir = os.path.dirname(os.path.abspath(args.out)) if args.out else tempfile.mkdtemp()
    lines = ['| hand-off | sessions | msg/s | CPU ms per message |', '|---|---:|---:|---:|']
    for mode in modes:
        for jobs in (1, 10):
            runs = [bench(mode, args, jobs) for _ in range(args.reps)]
            rate = statistics.median(r for r, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            lines.append('| %s | %d | %.0f | %.3f |' % (mode, jobs, rate, cpu))
            print(lines[-1], flush=True)
    lines += ['', '| callgrind, per message | Ir |', '|---|---:|']
    if 'accept' in modes:
        acc = callgrind('accept', args, 5, outdir)[1]
        lines.append('| mailout-queue --socket, one process per connection (median of %d) | %s |'
                     % (len(acc), format(int(statistics.median(acc)), ',')))
    if 'service' in modes:
        parent1 = callgrind('service', args, 1, outdir)[0]
        parentn, kids = callgrind('service', args, 11, outdir)
        lines += ['| service: the child, from serve_connection on (median of %d) | %s |' %
                  (len(kids), format(int(statistics.median(kids)), ',')),
                  '| service: the parent, per connection (accept, fork, reap) | %s |' %
                  format(int((parentn - parent1) / 10.0), ',')]
    text = '\n'.join(lines) + '\n'
    print('\n'.join(lines[-3:]))
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
