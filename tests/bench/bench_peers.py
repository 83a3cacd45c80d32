"""bench_peers.py - the other side of `make bench`: a private Postfix
instance, smtp-sink, mailout's queue service as its socket unit starts
it, and the process measurements both servers share

The Postfix instance lives in a temporary directory of its own (its
config_directory, queue_directory and data_directory), listens only on
127.0.0.1 at a port of our choosing, holds every message it accepts
(check_client_access static:HOLD) so accepting is measured without
delivery, and relays to [127.0.0.1]:SINKPORT when released.  It is
started with `postfix -c DIR start` and stopped with `postfix -c DIR
stop` (then by its master's pid, if need be).  It never touches the
system's Postfix, its config or port 25.
"""

import os
import re
import shutil
import signal
import subprocess
import time

import harness

POSTFIX = '/usr/sbin/postfix'
QUEUE_DIRS = ('maildrop', 'incoming', 'active', 'deferred', 'hold')

# Debian's master.cf services that a relay-only instance uses, chroot
# off (the queue directory is a temporary one without a chroot tree).
MASTER_CF = """\
{port}   inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = relay.test.example
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{sink}
smtpd_client_restrictions = check_client_access static:HOLD
smtpd_tls_cert_file = {dir}/cert.pem
smtpd_tls_key_file = {dir}/key.pem
smtpd_tls_security_level = may
smtpd_tls_session_cache_database = btree:{dir}/data/smtpd_scache
smtp_tls_security_level = none
default_destination_concurrency_limit = {conc}
initial_destination_concurrency = {conc}
biff = no
"""


def run(argv, timeout=60, check=True, env=None):
    """Run a command; its stdout as text (stderr joined)."""
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout, env=env)
    out = p.stdout.decode('utf-8', 'replace')
    if check and p.returncode != 0:
        raise RuntimeError('%s: exit %d\n%s' % (' '.join(argv), p.returncode, out[-3000:]))
    return out


class Postfix:
    """A private Postfix instance on 127.0.0.1:port."""

    def __init__(self, top, cert, key, sink_port, concurrency=4):
        self.dir = os.path.join(top, 'postfix')
        os.makedirs(os.path.join(self.dir, 'data'))
        os.makedirs(os.path.join(self.dir, 'queue'))
        os.chmod(top, 0o755)  # the postfix user walks down to its queue
        for d in (self.dir, os.path.join(self.dir, 'queue')):
            os.chmod(d, 0o755)
        shutil.copy(cert, os.path.join(self.dir, 'cert.pem'))
        shutil.copy(key, os.path.join(self.dir, 'key.pem'))
        os.chmod(os.path.join(self.dir, 'key.pem'), 0o600)
        shutil.chown(os.path.join(self.dir, 'data'), 'postfix')
        self.port = harness.free_port()
        self.sink_port = sink_port
        self.running = False
        self.write_config(concurrency)

    def write_config(self, concurrency):
        with open(os.path.join(self.dir, 'main.cf'), 'w') as f:
            f.write(MAIN_CF.format(dir=self.dir, sink=self.sink_port, conc=concurrency))
        with open(os.path.join(self.dir, 'master.cf'), 'w') as f:
            f.write(MASTER_CF.format(port=self.port))

    def cmd(self, *args, timeout=120):
        try:
            return run([POSTFIX, '-c', self.dir] + list(args), timeout=timeout)
        except RuntimeError as e:
            raise RuntimeError('%s\nmaillog:\n%s' % (e, self.log_tail())) from None

    def start(self):
        self.cmd('check')
        self.cmd('start')
        self.running = True
        harness.wait_listening(self.port, timeout=20)
        harness.wait_for(self.master_pid, 20, what='the Postfix master pid')

    def reload(self, concurrency):
        self.write_config(concurrency)
        self.cmd('reload')
        time.sleep(1.0)  # qmgr restarts with the new limits

    def master_pid(self):
        try:
            with open(os.path.join(self.dir, 'queue', 'pid', 'master.pid')) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def processes(self):
        """{pid: name} of the master and its children."""
        m = self.master_pid()
        if not m:
            return {}
        out = {m: 'master'}
        for pid in harness.children_of(m):
            out[pid] = proc_name(pid)
        return out

    def stop(self):
        if not self.running:
            return
        self.running = False
        pid = self.master_pid()
        try:
            self.cmd('stop', timeout=60)
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        if pid:
            deadline = time.monotonic() + 15
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)

    def queue_count(self):
        """Messages anywhere in the queue (maildrop, incoming, active,
        deferred, hold)."""
        n = 0
        for d in QUEUE_DIRS:
            for _, _, files in os.walk(os.path.join(self.dir, 'queue', d)):
                n += len(files)
        return n

    def held(self):
        n = 0
        for _, _, files in os.walk(os.path.join(self.dir, 'queue', 'hold')):
            n += len(files)
        return n

    def delete_all(self):
        run(['postsuper', '-c', self.dir, '-d', 'ALL'], timeout=300)

    def release_and_flush(self):
        run(['postsuper', '-c', self.dir, '-H', 'ALL'], timeout=300)
        run(['postqueue', '-c', self.dir, '-f'], timeout=60)

    def sent_count(self):
        """Lines with status=sent in the instance's log."""
        try:
            with open(os.path.join(self.dir, 'maillog'), 'rb') as f:
                return f.read().count(b'status=sent')
        except OSError:
            return 0

    def log_tail(self, n=3000):
        try:
            with open(os.path.join(self.dir, 'maillog'), 'rb') as f:
                return f.read()[-n:].decode('utf-8', 'replace')
        except OSError:
            return ''


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def proc_name(pid):
    try:
        with open('/proc/%d/comm' % pid) as f:
            return f.read().strip()
    except OSError:
        return '?'


def smaps(pid):
    """(Rss, Pss, Private_Dirty) in kB from /proc/PID/smaps_rollup."""
    vals = {}
    try:
        with open('/proc/%d/smaps_rollup' % pid) as f:
            for line in f:
                m = re.match(r'(\w+):\s+(\d+) kB', line)
                if m:
                    vals[m.group(1)] = int(m.group(2))
    except OSError:
        return None
    return vals.get('Rss', 0), vals.get('Pss', 0), vals.get('Private_Dirty', 0)


def socket_inode(local_port, remote_port):
    """Inode of the server's end of a loopback TCP connection whose
    server port is local_port and client port remote_port."""
    for name in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    lp = int(fields[1].rsplit(':', 1)[1], 16)
                    rp = int(fields[2].rsplit(':', 1)[1], 16)
                    if lp == local_port and rp == remote_port:
                        return int(fields[9])
        except OSError:
            continue
    return None


def pid_of_socket(inode, candidates):
    """The pid among candidates that holds socket:[inode]."""
    want = 'socket:[%d]' % inode
    for pid in candidates:
        try:
            fds = os.listdir('/proc/%d/fd' % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink('/proc/%d/fd/%s' % (pid, fd)) == want:
                    return pid
            except OSError:
                continue
    return None


def all_pids():
    return [int(d) for d in os.listdir('/proc') if d.isdigit()]


def busy_workers(pid):
    """The workers of queue service pid serving a client now: fd 0 is
    the connection (an idle worker holds /dev/null there)."""
    out = []
    for w in harness.children_of(pid):
        try:
            if os.readlink('/proc/%d/fd/0' % w).startswith('socket:'):
                out.append(w)
        except OSError:
            pass
    return out


class QueueService:
    """mailout-queue --socket on a unix socket, as mailout-queue.socket
    (Accept=no) starts it: systemd-socket-activate -l PATH listens and,
    on the first connection, execs one mailout-queue --socket (the same
    pid) with the listening socket on fd 3; its workers serve one
    connection after another and it exits after its idle time.  systemd keeps the socket
    and starts the service again for the next client; the activator
    goes with the service, so fresh() starts it anew before each run.
    wrap: a command in front of mailout-queue (valgrind); opts: its
    options after -c (-t SECONDS).  Stopped by pid (SIGTERM: it lets
    the running jobs finish)."""

    def __init__(self, tc, path, conf, wrap=(), opts=()):
        self.tc, self.path, self.conf = tc, path, conf
        self.wrap, self.opts = list(wrap), list(opts)
        self.proc = None

    def start(self):
        if os.path.lexists(self.path):
            os.unlink(self.path)
        argv = ['systemd-socket-activate', '-l', self.path] + self.wrap + [
            harness.bin('mailout-queue'), '--socket', '-c', self.conf] + self.opts
        self.proc = self.tc.start(argv, name='queue-service', env=self.tc.env())
        harness.wait_unix_listening(self.path, proc=self.proc)
        return self

    def stop(self, timeout=5.0):
        if self.proc is not None:
            self.proc.stop(timeout)
            if self.proc in self.tc.procs:
                self.tc.procs.remove(self.proc)
            self.proc = None

    def fresh(self):
        self.stop()
        return self.start()

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        """Is the service (or its activator, before the first client) there?"""
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout):
        """Wait for the service to exit by itself (its idle time);
        returns the monotonic time it was seen gone."""
        harness.wait_for(lambda: not self.running(), timeout, step=0.05,
                         what='the queue service to exit when idle')
        gone = time.monotonic()
        self.stop()
        return gone


class Sink:
    """Postfix's smtp-sink on 127.0.0.1:port: accepts and discards."""

    def __init__(self, tmp):
        self.port = harness.free_port()
        self.log = os.path.join(tmp, 'smtp-sink.log')
        self.proc = harness.Proc(['smtp-sink', '-u', 'postfix', '127.0.0.1:%d' % self.port,
                                  '1000'], self.log, env=dict(os.environ))
        harness.wait_listening(self.port, proc=self.proc)

    def stop(self):
        self.proc.stop()


def postfix_version():
    out = run(['postconf', '-d', 'mail_version'], check=False)
    return out.split('=')[-1].strip() or '?'
