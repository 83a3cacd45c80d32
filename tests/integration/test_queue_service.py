"""test_queue_service.py - mailout-queue --socket as one service on a listening socket

systemd-socket-activate -l SOCKET (no --accept) stands in for
mailout-queue.socket with Accept=no: it passes the listening socket (fd 3,
LISTEN_FDS=1) and execs one mailout-queue --socket, which keeps a pool
of workers, each serving one connection after another.  Looked at with real clients (mailout-smtpd with
queue.socket, raw requests with SCM_RIGHTS as lib/mail_qclient.c sends
them) and from outside: the spool, the service's processes in /proc,
its exit code, and strace of what every job does before it answers 0.

- many messages from concurrent SMTP sessions all land in new/, and
  the service stays one process with at most its workers; the
  listening socket may as well be fd 0 (inetd style);
- ten clients at once are ten jobs at once (nothing serialised);
- each job fsyncs tmp/ID, renames it, fsyncs new/, then answers 0;
- a worker's next job sees nothing of the one before: no fd, no queue
  ID, no envelope;
- it exits 0 after its idle time (-t), never while a job runs;
- a bad request gets 81, a client that goes away costs nothing, a
  config that does not load gets 55: the service lives on;
- SIGTERM: the running job finishes and answers 0, nobody new is
  served, the service exits 0;
- the service killed in the middle of a hand-off: the receiver answers
  451 and nothing is queued.
"""

import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

import harness
from harness import bin

SENDER, RCPT = 'sender@example.org', 'rcpt@example.org'
ENVELOPE = b'F' + SENDER.encode() + b'\0T' + RCPT.encode() + b'\0\0'
MESSAGE = b'Subject: service\n\nqueued by the service\n'
GOOD = b'mailout-queue/1\n'
PLAIN = {'plain': {'tls': 'none', 'auth': 'none'}}
NO_SCAN = 'content { block_executables = false }\nqueue { socket = "%s" }\n'


def write_all(fd, data):
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError:
        pass


class Held:
    """A client of the queue socket that has sent its request (line and
    two pipes) and writes the message and envelope when told to."""

    def __init__(self, path, line=GOOD):
        self.mr, self.mw = os.pipe()
        self.er, self.ew = os.pipe()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(harness.WAIT)
        self.sock.connect(path)
        socket.send_fds(self.sock, [line], [self.mr, self.er])
        os.close(self.mr)
        os.close(self.er)

    def write(self, data):
        write_all(self.mw, data)

    def finish(self, msg=b'', env=ENVELOPE):
        """The rest of the message, the envelope; returns the reply octets."""
        write_all(self.mw, msg)
        os.close(self.mw)
        write_all(self.ew, env)
        os.close(self.ew)
        self.mw = self.ew = -1
        return self.reply()

    def reply(self, timeout=harness.WAIT):
        out = b''
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(16)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out

    def close(self):
        for fd in (self.mw, self.ew):
            if fd >= 0:
                os.close(fd)
        self.mw = self.ew = -1
        self.sock.close()


def fd_target(pid, fd):
    try:
        return os.readlink('/proc/%d/fd/%d' % (pid, fd))
    except OSError:
        return ''


def open_fds(pid):
    """{fd: what it is} of process pid."""
    try:
        names = os.listdir('/proc/%d/fd' % pid)
    except OSError:
        return {}
    return {int(n): fd_target(pid, int(n)) for n in names}


class QueueService(harness.TestCase):

    def setUp(self):
        super().setUp()
        for prog in ('mailout-queue', 'mailout-smtpd'):
            if not harness.have_bin(prog):
                self.fail('%s is not built' % bin(prog))
        if not shutil.which('systemd-socket-activate'):
            self.skipTest('systemd-socket-activate is not installed')
        self.qsock = os.path.join(self.tmp, 'queue.sock')
        self.config(listeners=PLAIN, tls=False, extra=NO_SCAN % self.qsock)

    # -- helpers ---------------------------------------------------------

    def start_service(self, *opts, conf=None, wrap=(), env=None, inetd=False):
        """systemd-socket-activate -l (Accept=no) with one mailout-queue
        --socket; returns its Proc (the activator execs the service on
        the first connection: the same pid).  inetd: the listening
        socket on fd 0 instead of fd 3 (StandardInput=socket)."""
        argv = list(wrap) + ['systemd-socket-activate', '-l', self.qsock]
        if inetd:
            argv.append('--inetd')
        env = self.env(env)
        for k in ('ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS'):
            if k in env:
                argv += ['-E', '%s=%s' % (k, env[k])]
        argv += [bin('mailout-queue'), '--socket', '-c', conf or self.conf] + list(opts)
        p = self.start(argv, name='queue-service')
        harness.wait_unix_listening(self.qsock, proc=p)
        return p

    def service_pid(self, proc):
        """The service's pid once it runs mailout-queue (after a connection)."""
        want = os.path.realpath(bin('mailout-queue'))
        harness.wait_for(lambda: os.path.realpath(harness.exe_of(proc.pid)) == want,
                         what='the activator to exec mailout-queue')
        return proc.pid

    def request(self, line=GOOD, msg=MESSAGE, env=ENVELOPE):
        h = Held(self.qsock, line)
        try:
            return h.finish(msg, env)
        finally:
            h.close()

    def held(self, line=GOOD):
        h = Held(self.qsock, line)
        self.addCleanup(h.close)
        return h

    def jobs(self, pid):
        """The workers of service pid that serve a client now (fd 0 is
        the connection; an idle worker has /dev/null there)."""
        return [w for w in harness.children_of(pid) if fd_target(w, 0).startswith('socket:')]

    def workers(self, pid):
        return harness.children_of(pid)

    def receiver(self):
        return self.start_receiver(mode='socket-activate-inetd', listener='plain',
                                   env={'MAILOUT_QUEUE': ''})

    def log_of(self, proc):
        return proc.log_tail(200000)

    # -- tests -----------------------------------------------------------

    def test_concurrent_sessions_all_queued(self):
        svc = self.start_service()
        r = self.receiver()
        sessions, per_session = 5, 6
        replies, errors, seen = [], [], []
        stop = threading.Event()

        def session(n):
            try:
                with harness.smtplib.SMTP(r.addr, r.port, local_hostname='client.test.example',
                                          source_address=(harness.CLIENT, 0), timeout=30) as s:
                    s.ehlo()
                    for i in range(per_session):
                        s.mail(SENDER)
                        s.rcpt(RCPT)
                        code, text = s.data(harness.message('session %d message %d' % (n, i)))
                        replies.append((code, text.decode()))
            except Exception as e:  # reported below
                errors.append(repr(e))

        def watch():
            pid = None
            while not stop.is_set():
                if pid is None and os.path.realpath(harness.exe_of(svc.pid)) == \
                        os.path.realpath(bin('mailout-queue')):
                    pid = svc.pid
                if pid is not None:
                    # one read of each process's stat: its group and parent
                    group = [(p, int(f[1])) for p, f in harness.proc_stats()
                             if int(f[2]) == svc.pid and f[0] not in ('Z', 'X')]
                    kids = [p for p, ppid in group if ppid == pid]
                    seen.append((len(kids), [p for p, ppid in group if p != pid and ppid != pid]))
                time.sleep(0.01)

        watcher = threading.Thread(target=watch)
        watcher.start()
        threads = [threading.Thread(target=session, args=(n,)) for n in range(sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        stop.set()
        watcher.join(10)
        self.assertEqual(errors, [])
        self.assertEqual(len(replies), sessions * per_session)
        ids = set()
        for code, text in replies:
            self.assertEqual(code, 250, text)
            ids.add(self.assert_queued(text, SENDER, [RCPT])['id'])
        self.assertEqual(len(ids), sessions * per_session)
        self.assertEqual(sorted(ids), self.spool_new())
        self.assertEqual(self.spool_list('tmp'), [])
        # one service process the whole time; anything else in its group
        # is one of its children (the jobs), never more than the bound
        pid = self.service_pid(svc)
        self.assertTrue(seen, 'the watcher saw nothing')
        self.assertEqual([extra for _, extra in seen if extra], [])
        self.assertLessEqual(max(n for n, _ in seen), 64)
        harness.wait_for(lambda: self.jobs(pid) == [], what='the jobs to end')
        self.assertIsNone(svc.poll(), 'the service is gone:\n' + self.log_of(svc))
        self.assertEqual(harness.group_members(svc.pid), sorted([pid] + self.workers(pid)))

    def test_listening_socket_on_fd_0(self):
        svc = self.start_service('-t', '1', inetd=True)
        for _ in range(3):
            self.assertEqual(self.request(), b'\x00')
        pid = self.service_pid(svc)
        self.assertEqual(svc.pid, pid)
        harness.wait_for(lambda: svc.poll() is not None, timeout=8, what='the idle exit')
        self.assertEqual(svc.returncode, 0, self.log_of(svc))
        self.assertEqual(len(self.spool_new()), 3)

    def test_ten_clients_are_ten_jobs_at_once(self):
        svc = self.start_service()
        clients = [self.held() for _ in range(10)]
        for c in clients:
            c.write(b'Subject: at once\n\n')
        pid = self.service_pid(svc)
        harness.wait_for(lambda: len(self.jobs(pid)) == 10, what='ten jobs at once')
        for c in clients:
            self.assertEqual(c.finish(b'body\n'), b'\x00')
        self.assertEqual(len(self.spool_new()), 10)
        harness.wait_for(lambda: self.jobs(pid) == [], what='the jobs to end')

    def test_every_job_commits_before_it_answers(self):
        if not shutil.which('strace'):
            self.skipTest('strace is not installed')
        trace = os.path.join(self.tmp, 'strace.out')
        # LeakSanitizer cannot run under ptrace
        asan = self.env()['ASAN_OPTIONS'] + ':detect_leaks=0'
        svc = self.start_service('-t', '1', env={'ASAN_OPTIONS': asan},
                                 # -ff: a file per process, so that no call
                                 # is split by another process's
                                 wrap=['strace', '-ff', '-qq', '-y', '-o', trace,
                                       '-e', 'trace=fsync,renameat2,sendto'])
        for _ in range(3):
            self.assertEqual(self.request(), b'\x00')
        ids = self.spool_new()
        self.assertEqual(len(ids), 3)
        harness.wait_for(lambda: svc.poll() is not None, what='the idle exit under strace')
        calls = {}
        for path in glob.glob(trace + '.*'):
            with open(path) as f:
                for line in f:
                    m = re.match(r'(fsync|renameat2|sendto)\((.*)\) += (-?\d+)', line)
                    if m:
                        calls.setdefault(path, []).append(
                            (m.group(1), m.group(2), int(m.group(3))))
        # a worker serves one job after another: its calls, four a job
        jobs = [c[i:i + 4] for c in calls.values() if any(n == 'renameat2' for n, _, _ in c)
                for i in range(0, len(c), 4)]
        self.assertEqual(len(jobs), 3, calls)
        new = os.path.join(self.spool, 'new')
        for c in jobs:
            names = [n for n, _, _ in c]
            self.assertEqual(names, ['fsync', 'renameat2', 'fsync', 'sendto'], c)
            self.assertTrue(all(ret >= 0 for _, _, ret in c), c)
            qid = re.search(harness.ID_PATTERN, c[1][1]).group(0)
            self.assertIn(qid, ids)
            self.assertIn('<%s>' % os.path.join(self.spool, 'tmp', qid), c[0][1])
            self.assertIn('<%s>' % new, c[2][1])
            self.assertIn('"\\0"', c[3][1])

    def idle_fds(self, pid):
        """{worker: its fds} once every worker of pid is idle and settled
        (a fresh worker closes what it inherited right after the fork)."""
        def settled():
            before = {w: open_fds(w) for w in self.workers(pid)}
            time.sleep(0.1)
            after = {w: open_fds(w) for w in self.workers(pid)}
            ok = before == after and before and not self.jobs(pid)
            return after if ok else None
        return harness.wait_for(settled, what='the workers to be idle')

    def one_job(self, pid, line, msg, env):
        """A held job: (its worker, the worker's fds during and after the
        job, those before it, the reply)."""
        before = self.idle_fds(pid)
        h = self.held(line)
        h.write(msg)
        worker = harness.wait_for(lambda: self.jobs(pid), what='the job')[0]
        pipes = len([t for t in before.get(worker, {}).values() if t.startswith('pipe:')])

        def in_job():
            # the request taken (the client's two pipes) and the spool open
            fds = open_fds(worker)
            taken = len([t for t in fds.values() if t.startswith('pipe:')]) >= pipes + 2
            return fds if taken and self.spool in fds.values() else None
        during = harness.wait_for(in_job, what='the job to take the request')
        reply = h.finish(b'', env)
        harness.wait_for(lambda: worker not in self.jobs(pid), what='the job to end')
        after = self.idle_fds(pid).get(worker)
        return worker, before.get(worker), during, after, reply

    def test_next_job_of_a_worker_sees_nothing_of_the_last(self):
        svc = self.start_service('-t', '0')
        self.assertEqual(self.request(), b'\x00')
        pid = self.service_pid(svc)
        first_id = '0006610000000001.ABCDEFGHIJKL'
        other = b'Fother@example.org\0Tother@example.org\0\0'
        jobs = [(b'mailout-queue/1 -i %s\n' % first_id.encode(), b'Subject: one\n\n1\n',
                 ENVELOPE, b'\x00'),
                (GOOD, b'Subject: two\n\n2\n', b'', bytes([91])),  # aborted: no envelope
                (GOOD, b'Subject: three\n\n3\n', other, b'\x00'),
                (GOOD, b'Subject: four\n\n4\n', b'', bytes([91]))]
        served = []
        for line, msg, env, want in jobs:
            worker, before, during, after, reply = self.one_job(pid, line, msg, env)
            self.assertEqual(reply, want, self.log_of(svc))
            served.append(worker)
            # the client's pipes and the spool were open in the job (one_job
            # waited for them); nothing of the job is left: the worker is
            # as it was
            self.assertEqual(during[0][:7], 'socket:')
            self.assertEqual(after, before)
            self.assertEqual(after[0], '/dev/null')
        # at most two workers for jobs one at a time: one served twice
        self.assertLess(len(set(served)), len(served), served)
        ids = self.spool_new()
        self.assertEqual(len(ids), 3)
        self.assertIn(first_id, ids)
        spool = {qid: self.read_spool(qid) for qid in ids}
        self.assertEqual(spool[first_id]['to'], [RCPT])
        self.assertIn(b'Subject: one', spool[first_id]['content'])
        third = [m for m in spool.values() if b'Subject: three' in m['content']]
        self.assertEqual(len(third), 1)
        self.assertEqual(third[0]['from'], 'other@example.org')
        self.assertEqual(third[0]['to'], ['other@example.org'])
        self.assertNotEqual(third[0]['id'], first_id)
        self.assertFalse([m for m in spool.values() if b'Subject: two' in m['content'] or
                          b'Subject: four' in m['content']])
        self.assertNotIn('in use', self.log_of(svc))

    def test_idle_exit(self):
        svc = self.start_service('-t', '1')
        self.assertEqual(self.request(), b'\x00')
        done = time.monotonic()
        pid = self.service_pid(svc)
        harness.wait_for(lambda: svc.poll() is not None, timeout=8, what='the idle exit')
        waited = time.monotonic() - done
        self.assertEqual(svc.returncode, 0, self.log_of(svc))
        self.assertGreaterEqual(waited, 0.9)
        self.assertEqual(harness.children_of(pid), [])
        self.assertEqual(len(self.spool_new()), 1)

    def test_no_idle_exit_while_a_job_runs(self):
        svc = self.start_service('-t', '1')
        h = self.held()
        h.write(b'Subject: slow\n\n')
        self.service_pid(svc)
        time.sleep(2.5)
        self.assertIsNone(svc.poll(), 'exited with a job running')
        self.assertEqual(h.finish(b'at last\n'), b'\x00')
        harness.wait_for(lambda: svc.poll() is not None, timeout=8, what='the idle exit')
        self.assertEqual(svc.returncode, 0)
        self.assertEqual(len(self.spool_new()), 1)

    def test_bad_request_gets_81_and_the_service_lives_on(self):
        svc = self.start_service()
        self.assertEqual(self.request(line=b'mailout-queue/2\n'), bytes([81]))
        self.assertEqual(self.request(line=b'mailout-queue/1 -c /etc/passwd\n'), bytes([81]))
        pid = self.service_pid(svc)
        self.assertEqual(self.request(), b'\x00')
        self.assertEqual(svc.pid, pid)
        self.assertIsNone(svc.poll())
        self.assertEqual(len(self.spool_new()), 1)
        self.assertIn('bad request line', self.log_of(svc))

    def test_clients_that_go_away(self):
        svc = self.start_service()
        # connects, says nothing
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.qsock)
        s.close()
        # half a request line, no fds
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.qsock)
        s.send(b'mailout-q')
        s.close()
        # a full request, then gone without message or envelope
        h = Held(self.qsock)
        h.write(b'Subject: half\n')
        h.close()
        pid = self.service_pid(svc)
        harness.wait_for(lambda: self.jobs(pid) == [], what='the jobs to end')
        self.assertEqual(self.request(), b'\x00')
        self.assertIsNone(svc.poll())
        self.assertEqual(len(self.spool_new()), 1)
        self.assertEqual(self.spool_list('tmp'), [])
        self.assertNotIn('ended by signal', self.log_of(svc))

    def test_config_that_does_not_load_gets_55(self):
        bad = self.write_config('spool = "relative/path"\n', name='bad.conf')
        svc = self.start_service(conf=bad)
        self.assertEqual(self.request(), bytes([55]))
        self.assertEqual(self.request(), bytes([55]))
        self.assertIsNone(svc.poll())
        self.assertEqual(self.spool_new(), [])
        log = self.log_of(svc)
        self.assertEqual(log.count('every client gets exit 55'), 1, log)

    def test_sigterm_lets_the_running_job_finish(self):
        svc = self.start_service()
        h = self.held()
        h.write(b'Subject: stopping\n\nfirst half\n')
        pid = self.service_pid(svc)
        harness.wait_for(lambda: len(self.jobs(pid)) == 1, what='the job')
        os.kill(pid, signal.SIGTERM)
        harness.wait_for(lambda: 'stopping: no new connection; 1 job(s)' in self.log_of(svc),
                         what='the service to notice SIGTERM')
        late = Held(self.qsock)
        self.addCleanup(late.close)
        time.sleep(0.5)
        self.assertIsNone(svc.poll(), 'the service left its job')
        self.assertEqual(len(self.jobs(pid)), 1, 'a job for a client that came after SIGTERM')
        self.assertEqual(h.finish(b'second half\n'), b'\x00')
        harness.wait_for(lambda: svc.poll() is not None, what='the service to exit')
        self.assertEqual(svc.returncode, 0, self.log_of(svc))
        # the late client was never served: no octet, a temporary failure
        self.assertEqual(late.finish(MESSAGE), b'')
        ids = self.spool_new()
        self.assertEqual(len(ids), 1)
        self.assertIn(b'first half\nsecond half\n', self.read_spool(ids[0])['content'])

    def test_service_killed_mid_hand_off_is_temporary(self):
        svc = self.start_service()
        r = self.receiver()
        c = self.raw(r)
        c.expect(250, 'EHLO client.test.example')
        c.expect(250, 'MAIL FROM:<%s>' % SENDER)
        c.expect(250, 'RCPT TO:<%s>' % RCPT)
        c.expect(354, 'DATA')
        c.send(b'Subject: cut\r\n\r\nfirst line\r\n')
        pid = self.service_pid(svc)
        harness.wait_for(lambda: self.jobs(pid), what='the job of the session')
        os.killpg(svc.pid, signal.SIGKILL)
        harness.wait_for(lambda: svc.poll() is not None, what='the service to die')
        c.send(b'second line\r\n.\r\n')
        lines = c.expect(451)
        self.assertRegex(lines[-1], r'^451 4\.')
        c.expect(221, 'QUIT')
        self.assertEqual(self.spool_new(), [])


if __name__ == '__main__':
    unittest.main()
