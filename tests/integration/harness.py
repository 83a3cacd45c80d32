"""harness.py - the shared harness of mailout's integration tests

Starts real programs on loopback addresses and stops them by pid: the
receiver under systemd-socket-activate or tcpserver, dnsmasq as a DNS
server, the aiosmtpd test gateway.  Gives each test a temporary
directory with a spool and a config, clients that bind a chosen source
address (swaks, msmtp, smtplib, a raw socket), and spool readers.

Rules it keeps: loopback only; every wait is bounded in count and time;
whatever a test starts is stopped in its cleanup, by pid and process
group, never by name.  Sanitizer reports of the programs under test are
written to files in the test's directory; any report fails the test.

Run the tests with Debian's /usr/bin/python3 (it has aiosmtpd).
MAILOUT_BIN names the directory of the built programs (default
build/check/bin).  The programs under test find the built queue chain:
MAILOUT_QUEUE is the built mailout-queue and MAILOUT_SCAN the built
mailout-scan (unless a test names its own MAILOUT_QUEUE; the receiver
does not read it), in every activator mode.
"""

import base64
import errno
import os
import re
import select
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

import certs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.path.abspath(os.environ.get('MAILOUT_BIN') or os.path.join(REPO, 'build/check/bin'))
PYTHON = '/usr/bin/python3'
CLIENT = '127.0.0.2'  # the default client address, in the default campus class
ID_PATTERN = r'[0-9A-F]{16}\.[A-Z2-7]{12}'  # lib/mail_spool.h
QUEUE_ID_RE = re.compile(r'queued as (' + ID_PATTERN + ')')
DEFAULT_SANITIZER = {
    'ASAN_OPTIONS': 'abort_on_error=1:halt_on_error=1:detect_leaks=1',
    'UBSAN_OPTIONS': 'halt_on_error=1:abort_on_error=1:print_stacktrace=1',
}
WAIT = 10.0  # seconds: the default bound of every wait


def bin(name):
    """Path of a built program: MAILOUT_BIN/name."""
    return os.path.join(BIN_DIR, name)


def have_bin(name):
    return os.access(bin(name), os.X_OK)


def free_port(addr='127.0.0.1', kind=socket.SOCK_STREAM):
    """A port that nobody listens on now (the kernel's choice)."""
    fam = socket.AF_INET6 if ':' in addr else socket.AF_INET
    with socket.socket(fam, kind) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def _proc_net_sockets(kind):
    """(local port, inode) of sockets in LISTEN state (tcp) or bound
    (udp), from /proc/net."""
    socks = set()
    for name in (kind, kind + '6'):
        try:
            with open('/proc/net/' + name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    port = int(fields[1].rsplit(':', 1)[1], 16)
                    if kind == 'udp' or fields[3] == '0A':
                        socks.add((port, int(fields[9])))
        except OSError:
            continue
    return socks


def _proc_net_ports(kind):
    return {port for port, _ in _proc_net_sockets(kind)}


def _socket_inodes(pid):
    inodes = set()
    try:
        fds = os.listdir('/proc/%d/fd' % pid)
    except OSError:
        return inodes
    for fd in fds:
        try:
            link = os.readlink('/proc/%d/fd/%s' % (pid, fd))
        except OSError:
            continue
        if link.startswith('socket:['):
            inodes.add(int(link[8:-1]))
    return inodes


def wait_listening(port, kind='tcp', proc=None, timeout=WAIT):
    """Wait until something listens on port, without connecting to it
    (a probe connection would start a session under Accept=yes).  With
    proc, the listening socket must be proc's own."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inodes = {i for p, i in _proc_net_sockets(kind) if p == port}
        if inodes and (proc is None or any(inodes & _socket_inodes(pid)
                                           for pid in group_members(proc.pid))):
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError('%s exited with %s before listening on %d:\n%s' %
                                 (proc.argv[0], proc.returncode, port, proc.log_tail()))
        time.sleep(0.02)
    raise AssertionError('nothing listens on %s port %d after %.0fs' % (kind, port, timeout))


def unix_listening(path):
    """Is a unix stream socket listening at path (/proc/net/unix: flag
    __SO_ACCEPTCON)?  The file exists from bind(), before listen(): a
    client that connects in between is refused."""
    with open('/proc/net/unix') as f:
        next(f)
        for line in f:
            cols = line.split()
            if len(cols) >= 8 and cols[7] == path and int(cols[3], 16) & 0x10000:
                return True
    return False


def wait_unix_listening(path, proc=None, timeout=WAIT):
    """Wait until a unix socket listens at path, without connecting to it
    (a probe connection would start a job); proc must not exit first."""
    deadline = time.monotonic() + timeout
    while not unix_listening(path):
        if proc is not None and proc.poll() is not None:
            raise AssertionError('%s exited with %s before listening on %s:\n%s' %
                                 (proc.argv[0], proc.returncode, path, proc.log_tail()))
        if time.monotonic() >= deadline:
            raise AssertionError('nothing listens on %s after %.0fs' % (path, timeout))
        time.sleep(0.02)


def wait_for(pred, timeout=WAIT, step=0.02, what='condition'):
    """Poll pred() until it returns something true; bounded in time."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError('timed out after %.1fs waiting for %s' % (timeout, what))
        time.sleep(step)


def proc_stats():
    """(pid, fields) of every process: fields are /proc/PID/stat's after
    the command name, from the state on (state, ppid, pgrp, ...)."""
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        yield int(d), stat[stat.rfind(')') + 2:].split()


def children_of(pid):
    """Direct children of pid (from /proc/PID/stat)."""
    return sorted(p for p, fields in proc_stats() if int(fields[1]) == pid)


def exe_of(pid):
    try:
        return os.readlink('/proc/%d/exe' % pid)
    except OSError:
        return ''


class Proc:
    """A started program in its own process group, output to a log file."""

    def __init__(self, argv, log, env=None, stdin=subprocess.DEVNULL, cwd=None):
        self.argv = [str(a) for a in argv]
        self.log = log
        self._logf = open(log, 'ab')
        self.p = subprocess.Popen(self.argv, stdin=stdin, stdout=self._logf,
                                  stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                  start_new_session=True)
        self.pid = self.p.pid

    @property
    def returncode(self):
        return self.p.returncode

    def poll(self):
        return self.p.poll()

    def log_tail(self, n=4000):
        try:
            with open(self.log, 'rb') as f:
                data = f.read()
        except OSError:
            return ''
        return data[-n:].decode('utf-8', 'replace')

    def stop(self, timeout=5.0):
        """SIGTERM to the group, wait, then SIGKILL what is left."""
        pgid = self.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except OSError:
            pass
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        # Members of the group may outlive the leader (a session that was
        # still running); zombies nobody reaps do not count.
        deadline = time.monotonic() + timeout
        while group_alive(pgid):
            if time.monotonic() > deadline:
                _killpg(pgid, signal.SIGKILL)
                if time.monotonic() > deadline + 2:
                    break
            time.sleep(0.02)
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(5)
        self._logf.close()


def _killpg(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except OSError:
        pass


def group_members(pgid):
    """pids of the running (not zombie) processes of group pgid."""
    return [p for p, fields in proc_stats()
            if int(fields[2]) == pgid and fields[0] not in ('Z', 'X')]


def group_alive(pgid):
    """Is any process of group pgid still running (not a zombie)?"""
    return bool(group_members(pgid))


class Receiver:
    """mailout-smtpd behind a socket activator, listening on addr:port."""

    def __init__(self, proc, addr, port, mode):
        self.proc, self.addr, self.port, self.mode = proc, addr, port, mode

    def sessions(self):
        """pids of the running mailout-smtpd processes (one per connection)."""
        return children_of(self.proc.pid)

    def wait_session(self, timeout=WAIT):
        return wait_for(self.sessions, timeout, what='a mailout-smtpd session')[0]

    def wait_no_session(self, timeout=WAIT):
        wait_for(lambda: not self.sessions(), timeout, what='sessions to end')


class SMTPError(AssertionError):
    pass


class PortTaken(Exception):
    pass


class _Replies:
    """Line and reply reading over self._fill(timeout), which appends
    received bytes to self.buf (or raises EOFError)."""

    timeout = WAIT
    buf = b''

    def line(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while b'\n' not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout('no complete line; have %r' % self.buf)
            self._fill(left)
        line, self.buf = self.buf.split(b'\n', 1)
        return line.rstrip(b'\r').decode('utf-8', 'replace')

    def reply(self, timeout=None):
        """Read one (possibly multi-line) reply: (code, [text lines])."""
        lines = []
        for _ in range(1000):
            ln = self.line(timeout)
            if len(ln) < 3 or not ln[:3].isdigit():
                raise SMTPError('not an SMTP reply line: %r' % ln)
            lines.append(ln)
            if len(ln) == 3 or ln[3] == ' ':
                return int(ln[:3]), lines
        raise SMTPError('reply of more than 1000 lines')

    def cmd(self, line, timeout=None):
        self.send(line + '\r\n')
        return self.reply(timeout)

    def expect(self, code, line=None, timeout=None):
        """Send line (if any), read a reply, assert its code (or class,
        for 2..5); return its lines."""
        got, lines = self.cmd(line, timeout) if line is not None else self.reply(timeout)
        if (got // 100 if code < 10 else got) != code:
            raise SMTPError('%r: expected %s, got %r' % (line, code, lines))
        return lines


class RawClient(_Replies):
    """A byte-exact SMTP client on a plain socket: send what you like,
    read replies as (code, [lines])."""

    def __init__(self, port, host='127.0.0.1', source=CLIENT, timeout=WAIT):
        fam = socket.AF_INET6 if ':' in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.timeout = timeout
        self.buf = b''

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError('connection closed by the server; unread: %r' % self.buf)
        self.buf += chunk

    def pending(self, wait=0.3):
        """Bytes the server sent that we have not read (waits up to wait)."""
        try:
            self.sock.settimeout(wait)
            chunk = self.sock.recv(65536)
            self.buf += chunk
            if not chunk:
                return self.buf or b'<EOF>'
        except (socket.timeout, BlockingIOError):
            pass
        return self.buf

    def closed(self, timeout=WAIT):
        """True if the server closes the connection within timeout (data
        sent before the close is kept in self.buf)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False

    def starttls(self, server_hostname='localhost', cafile=None):
        """Wrap the socket in TLS now (after a 220 to STARTTLS).  Any byte
        already received in plaintext is an error of the server."""
        if self.buf:
            raise SMTPError('plaintext bytes before the TLS handshake: %r' % self.buf)
        ctx = ssl.create_default_context(cafile=cafile or certs.ca()[0])
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)
        return self.sock.version()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class SClient(_Replies):
    """openssl s_client as an SMTP client (-starttls smtp, or implicit
    TLS), verifying the test CA and the name localhost.  s_client cannot
    bind a source address: the client is 127.0.0.1."""

    def __init__(self, port, host='127.0.0.1', starttls=True, timeout=WAIT, log=None):
        argv = ['openssl', 's_client', '-connect', '%s:%d' % (host, port), '-quiet',
                '-nocommands', '-CAfile', certs.ca()[0], '-verify_return_error',
                '-verify_hostname', 'localhost', '-servername', 'localhost']
        if starttls:
            argv += ['-starttls', 'smtp', '-name', 'client.test.example']
        self.timeout = timeout
        self.buf = b''
        self._err = open(log or os.devnull, 'ab')
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self._err, start_new_session=True)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def _fill(self, timeout):
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not r:
            return
        chunk = os.read(self.p.stdout.fileno(), 65536)
        if not chunk:
            raise EOFError('s_client ended (exit %s); unread: %r' % (self.p.poll(), self.buf))
        self.buf += chunk

    def close(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
            except OSError:
                pass
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait(5)
        for f in (self.p.stdin, self.p.stdout, self._err):
            try:
                f.close()
            except OSError:
                pass


def parse_spool(data):
    """Parse a spool file (lib/mail_spool.h): envelope block, blank line,
    message.  Returns a dict: 'version', 'id', 'queued_at', 'from', 'to'
    (list), 'fields' (list of (name, value)), 'content' (bytes)."""
    head, sep, content = data.partition(b'\n\n')
    if not sep:
        raise AssertionError('spool file has no blank line after its envelope: %r' % data[:300])
    env = {'fields': [], 'to': [], 'content': content}
    for raw in head.split(b'\n'):
        line = raw.decode('utf-8', 'replace')
        name, colon, value = line.partition(': ')
        if not colon:
            raise AssertionError('bad envelope line %r' % line)
        env['fields'].append((name, value))
        if name == 'Mailout-Spool':
            env['version'] = value
        elif name == 'Queue-ID':
            env['id'] = value
        elif name == 'Queued-At':
            env['queued_at'] = int(value.split()[0])
        elif name in ('Envelope-From', 'Envelope-To'):
            addr = value[value.index('<') + 1:value.rindex('>')]
            if name == 'Envelope-From':
                env['from'] = addr
            else:
                env['to'].append(addr)
    return env


def headers_of(content):
    """The header section of canonical content as a list of (name, value)
    with continuation lines unfolded."""
    head = content.split(b'\n\n', 1)[0].decode('utf-8', 'replace')
    out = []
    for line in head.split('\n'):
        if line[:1] in (' ', '\t') and out:
            out[-1] = (out[-1][0], out[-1][1] + ' ' + line.strip())
        elif ':' in line:
            n, v = line.split(':', 1)
            out.append((n, v.strip()))
    return out


def dot_stuff(content):
    """What mailout-deliver puts on the wire for canonical content:
    CRLF lines, leading dots doubled, then the end-of-data line."""
    lines = re.split(rb'\r\n|\r|\n', content)
    if lines and lines[-1] == b'':
        lines.pop()
    out = b''.join((b'.' + ln if ln.startswith(b'.') else ln) + b'\r\n' for ln in lines)
    return out + b'.\r\n'


def _render_value(v):
    if isinstance(v, bool):
        return 'true' if v else 'false'
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        return '{ %s }' % ', '.join(_render_value(x) for x in v)
    return '"%s"' % str(v).replace('\\', '\\\\').replace('"', '\\"')


def render_section(title, values):
    body = '\n'.join('    %s = %s' % (k, _render_value(v)) for k, v in values.items())
    return '%s {\n%s\n}\n' % (title, body)


DEFAULT_CLIENTS = {
    'campus': {'networks': ['127.0.0.2/32'], 'require_tls': False, 'require_dns': False,
               'verify_sender': False, 'relay_domains': ['example.org']},
}
DEFAULT_LISTENERS = {
    'smtp': {'tls': 'starttls', 'auth': 'none'},
    'smtps': {'tls': 'implicit', 'auth': 'none'},
    'plain': {'tls': 'none', 'auth': 'none'},
}


class TestCase(unittest.TestCase):
    """Base class: a temporary directory with a spool, a config writer,
    receivers, DNS servers and gateways that are stopped by pid."""

    maxDiff = None

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix='mailout-test-')
        self.addCleanup(self._remove_tmp)
        self.san_dir = os.path.join(self.tmp, 'sanitizer')
        os.mkdir(self.san_dir)
        self.procs = []
        self.addCleanup(self._check_sanitizers)
        self.addCleanup(self._stop_all)
        self.spool = self.make_spool(os.path.join(self.tmp, 'spool'))
        self.conf = None

    # -- processes -------------------------------------------------------

    def env(self, extra=None):
        """Environment for programs under test: sanitizers log to files in
        the test's directory, so a report fails the test."""
        env = dict(os.environ)
        for k, v in DEFAULT_SANITIZER.items():
            env.setdefault(k, v)
        env['ASAN_OPTIONS'] += ':log_path=%s/asan' % self.san_dir
        env['UBSAN_OPTIONS'] += ':log_path=%s/ubsan' % self.san_dir
        env['MAILOUT_QUEUE'] = bin('mailout-queue')
        # The built scanner in front of the built queue, as the installed
        # ones are: mailout-sendmail always runs $MAILOUT_SCAN (the
        # receiver inspects by itself and does not read it); the
        # scanner hands on to $MAILOUT_QUEUE.  A test that names its
        # own MAILOUT_QUEUE gets qmail's QMAILQUEUE meaning: it replaces
        # the whole chain, so no scanner unless it names one too.
        if have_bin('mailout-scan') and not (extra or {}).get('MAILOUT_QUEUE'):
            env['MAILOUT_SCAN'] = bin('mailout-scan')
        if self.conf:
            env['MAILOUT_CONFIG'] = self.conf
        if extra:
            env.update(extra)
        return env

    def start(self, argv, name=None, env=None, **kw):
        name = name or os.path.basename(str(argv[0]))
        log = os.path.join(self.tmp, '%s.%d.log' % (name, len(self.procs)))
        p = Proc(argv, log, env=env if env is not None else self.env(), **kw)
        self.procs.append(p)
        return p

    def stop(self, proc):
        proc.stop()
        if proc in self.procs:
            self.procs.remove(proc)

    def _stop_all(self):
        for p in reversed(self.procs):
            p.stop()
        if self._failed():
            for p in self.procs:
                sys.stderr.write('\n--- log of %s:\n%s\n' % (' '.join(p.argv), p.log_tail()))
        self.procs = []

    def _failed(self):
        outcome = getattr(self, '_outcome', None)
        result = getattr(outcome, 'result', None)
        if result is None:
            return False
        return any(t is self for t, _ in result.failures + result.errors)

    def _check_sanitizers(self):
        reports = []
        for n in sorted(os.listdir(self.san_dir)):
            with open(os.path.join(self.san_dir, n), 'rb') as f:
                text = f.read().decode('utf-8', 'replace')
            if text.strip():
                reports.append('%s:\n%s' % (n, text[:6000]))
        if reports:
            raise AssertionError('sanitizer reports from the programs under test:\n' +
                                 '\n'.join(reports))

    def _remove_tmp(self):
        for _ in range(3):
            shutil.rmtree(self.tmp, ignore_errors=True)
            if not os.path.exists(self.tmp):
                return
            time.sleep(0.2)

    # -- config ----------------------------------------------------------

    def write_config(self, text, name='mailout.conf'):
        path = os.path.join(self.tmp, name)
        with open(path, 'w') as f:
            f.write(text)
        if name == 'mailout.conf':
            self.conf = path
        return path

    def render_config(self, spool=None, clients=None, listeners=None, tls=True,
                      limits=None, gateway=None, hostname='relay.test.example', extra=''):
        """A typical config: spool in the test's directory, the campus
        class 127.0.0.2/32 for example.org, listeners smtp (starttls),
        smtps (implicit) and plain (no TLS), the test CA's server cert.
        clients/listeners: {name: {key: value}}; limits, gateway: {key: value}."""
        out = ['hostname = "%s"' % hostname, 'spool = "%s"' % (spool or self.spool), '']
        if tls:
            cert, key = certs.server('localhost')
            out.append(render_section('tls', {'cert': cert, 'key': key}))
        for name, values in (listeners or DEFAULT_LISTENERS).items():
            out.append(render_section('listener ' + name, values))
        for name, values in (clients or DEFAULT_CLIENTS).items():
            out.append(render_section('client ' + name, values))
        if limits:
            out.append(render_section('limits', limits))
        out.append(render_section('gateway', gateway or {
            'servers': ['[127.0.0.1]:%d' % free_port()], 'tls': 'none'}))
        out.append(extra)
        return '\n'.join(out)

    def config(self, **kw):
        """Render and write mailout.conf; returns its path."""
        return self.write_config(self.render_config(**kw))

    # -- the receiver ----------------------------------------------------

    def start_receiver(self, mode='socket-activate-inetd', listener='smtp', addr='127.0.0.1',
                       conf=None, env=None, port=None):
        """Start mailout-smtpd per connection on addr:port:
        'socket-activate-inetd'  systemd-socket-activate --accept --inetd (stdin/stdout)
        'socket-activate-fds'    systemd-socket-activate --accept (LISTEN_FDS, fd 3)
        'tcpserver'              tcpserver -q -R -H -l 0 (UCSPI; no DNS at all)"""
        conf = conf or self.conf or self.config()
        if not have_bin('mailout-smtpd'):
            self.fail('%s is not built' % bin('mailout-smtpd'))
        for attempt in range(3):
            # A port picked free may be taken before the activator binds it.
            try:
                return self._start_receiver(mode, listener, addr, conf, env,
                                            port or free_port(addr))
            except PortTaken:
                if port or attempt == 2:
                    raise

    def _start_receiver(self, mode, listener, addr, conf, env, port):
        smtpd = [bin('mailout-smtpd'), '-c', conf, '-l', listener]
        penv = self.env(env)
        hostport = '[%s]:%d' % (addr, port) if ':' in addr else '%s:%d' % (addr, port)
        if mode in ('socket-activate-inetd', 'socket-activate-fds'):
            argv = ['systemd-socket-activate', '-l', hostport, '--accept']
            if mode == 'socket-activate-inetd':
                argv.append('--inetd')
            # systemd-socket-activate passes on only what -E names; tcpserver
            # passes its whole environment
            for k in ('MAILOUT_QUEUE', 'MAILOUT_SCAN', 'MAILOUT_SCAN_QUEUE', 'MAILOUT_CONFIG',
                      'ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS'):
                if k in penv:
                    argv += ['-E', '%s=%s' % (k, penv[k])]
            argv += smtpd
        elif mode == 'tcpserver':
            argv = ['tcpserver', '-q', '-R', '-H', '-l', '0', '-c', '200', addr, str(port)] + smtpd
        else:
            raise ValueError('unknown receiver mode %r' % mode)
        p = self.start(argv, name='receiver-' + mode, env=penv)
        try:
            wait_listening(port, proc=p)
        except AssertionError:
            if p.poll() is not None and port in _proc_net_ports('tcp'):
                self.stop(p)
                raise PortTaken(port)
            raise
        return Receiver(p, addr, port, mode)

    def smtpd_log(self, receiver):
        return receiver.proc.log_tail(20000)

    # -- the spool -------------------------------------------------------

    @staticmethod
    def make_spool(path):
        for d in ('tmp', 'new', 'deferred', 'hold', 'state'):
            os.makedirs(os.path.join(path, d), exist_ok=True)
        return path

    def spool_list(self, sub='new', spool=None):
        return sorted(n for n in os.listdir(os.path.join(spool or self.spool, sub))
                      if not n.startswith('.'))

    def spool_new(self, spool=None):
        return self.spool_list('new', spool)

    def read_spool(self, qid, sub='new', spool=None):
        with open(os.path.join(spool or self.spool, sub, qid), 'rb') as f:
            return parse_spool(f.read())

    def assert_queued(self, reply_text, sender, rcpts, body_contains=None):
        """The reply names a queue ID; new/ID exists with this envelope.
        Returns the parsed spool file."""
        m = QUEUE_ID_RE.search(reply_text)
        self.assertIsNotNone(m, 'no "queued as ID" in %r' % reply_text[-2000:])
        qid = m.group(1)
        self.assertIn(qid, self.spool_new(), 'queue ID of the reply is not in new/')
        msg = self.read_spool(qid)
        self.assertEqual(msg.get('id'), qid)
        self.assertEqual(msg.get('from'), sender)
        self.assertEqual(msg['to'], list(rcpts))
        if body_contains is not None:
            self.assertIn(body_contains, msg['content'])
        return msg

    def assert_spool_empty(self, settle=0.0):
        if settle:
            time.sleep(settle)
        self.assertEqual(self.spool_new(), [], 'something was queued')

    def tmpfs_spool(self, size='128k'):
        """A spool on its own small tmpfs (root only), unmounted in cleanup."""
        if os.geteuid() != 0:
            self.skipTest('needs root to mount a tmpfs')
        path = os.path.join(self.tmp, 'tmpfs')
        os.mkdir(path)
        subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=%s,mode=0755' % size, 'tmpfs', path],
                       check=True, timeout=30)
        self.addCleanup(subprocess.run, ['umount', '-l', path], timeout=30)
        return self.make_spool(os.path.join(path, 'spool'))

    # -- clients ---------------------------------------------------------

    def raw(self, receiver, source=CLIENT, greet=True, timeout=WAIT):
        """A RawClient connected to the receiver; greet: read the banner."""
        c = RawClient(receiver.port, receiver.addr, source, timeout)
        self.addCleanup(c.close)
        if greet:
            c.expect(220)
        return c

    def s_client(self, receiver, starttls=True):
        """openssl s_client connected to the receiver (from 127.0.0.1),
        past the TLS handshake; the EHLO is ours to send."""
        c = SClient(receiver.port, receiver.addr, starttls,
                    log=os.path.join(self.tmp, 's_client.log'))
        self.addCleanup(c.close)
        return c

    def smtp(self, receiver, source=CLIENT, ssl_wrap=False, timeout=WAIT):
        """An smtplib client bound to source (SMTP_SSL for ssl_wrap)."""
        if ssl_wrap:
            ctx = ssl.create_default_context(cafile=certs.ca()[0])
            s = smtplib.SMTP_SSL(receiver.addr, receiver.port, local_hostname='client.test.example',
                                 source_address=(source, 0), timeout=timeout, context=ctx)
        else:
            s = smtplib.SMTP(receiver.addr, receiver.port, local_hostname='client.test.example',
                             source_address=(source, 0), timeout=timeout)
        self.addCleanup(_close_smtp, s)
        return s

    def swaks(self, receiver, *args, source=CLIENT, sender='sender@example.org',
              to='rcpt@example.org', timeout=60):
        """Run swaks against the receiver; returns (exit code, output)."""
        argv = ['swaks', '--server', receiver.addr, '--port', str(receiver.port),
                '--local-interface', source, '--helo', 'client.test.example',
                '--from', sender, '--to', to, '--timeout', '20', *args]
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        return p.returncode, p.stdout.decode('utf-8', 'replace')

    def msmtp(self, receiver, message, *args, source=CLIENT, sender='sender@example.org',
              to=('rcpt@example.org',), timeout=60):
        """Send message (bytes) with msmtp; returns (exit code, output)."""
        argv = ['msmtp', '--host=' + receiver.addr, '--port=%d' % receiver.port,
                '--source-ip=' + source, '--domain=client.test.example', '--auth=off',
                '--from=' + sender, '--timeout=20', '--debug', *args, '--', *to]
        p = subprocess.run(argv, input=message, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout,
                           env=dict(os.environ, HOME=self.tmp))
        return p.returncode, p.stdout.decode('utf-8', 'replace')

    # -- other peers -----------------------------------------------------

    def start_dns(self, *options, port=None, local=('example.org', 'test.example')):
        """dnsmasq on 127.0.0.1:port answering from its options only, e.g.
        '--host-record=client.test.example,127.0.0.2' (A and PTR),
        '--address=/a.example.org/127.0.0.9', '--mx-host=example.org,mx.example.org,10',
        '--ptr-record=3.0.0.127.in-addr.arpa,liar.test.example',
        '--txt-record=...'.  Names under `local` that have no record are
        NXDOMAIN; anything else gets REFUSED (no upstream).  Returns the port."""
        # dnsmasq binds the port for UDP and TCP: a port free for UDP may be
        # taken for TCP by a test running beside this one, so pick again
        # (a bounded number of times) when it says so.
        for attempt in range(5):
            want = port or free_port('127.0.0.1', socket.SOCK_DGRAM)
            argv = ['dnsmasq', '--no-daemon', '--port=%d' % want,
                    '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv',
                    '--no-hosts', '--conf-file=/dev/null', '--pid-file=', '--user=root',
                    '--log-queries', '--log-facility=-']
            argv += ['--local=/%s/' % d for d in local]
            argv += list(options)
            p = self.start(argv, name='dnsmasq', env=dict(os.environ))
            try:
                wait_listening(want, kind='udp', proc=p)
                return want
            except AssertionError as e:
                if port or 'Address already in use' not in str(e) or attempt == 4:
                    raise

    def start_gateway(self, maildir=None, port=None, tls=False):
        """The aiosmtpd test gateway (tests/peers/gateway.py) on
        127.0.0.1:port writing to maildir; tls: offer STARTTLS with the
        test CA's certificate.  Returns (port, maildir)."""
        script = os.path.join(REPO, 'tests/peers/gateway.py')
        if not os.path.exists(script):
            self.fail('tests/peers/gateway.py is not there yet')
        port = port or free_port()
        maildir = maildir or os.path.join(self.tmp, 'gateway')
        os.makedirs(maildir, exist_ok=True)
        argv = [PYTHON, script, '--listen', '127.0.0.1:%d' % port, '--maildir', maildir]
        if tls:
            cert, key = certs.server('localhost')
            argv += ['--tls-cert', cert, '--tls-key', key]
        p = self.start(argv, name='gateway', env=dict(os.environ))
        wait_listening(port, proc=p)
        return port, maildir


def _close_smtp(s):
    try:
        s.close()
    except Exception:
        pass


def attachment(name, data, subject='attachment', sender='sender@example.org',
               rcpt='rcpt@example.org'):
    """A message with one base64 attachment, as bytes with CRLF line
    ends (no final dot)."""
    lines = ['From: <%s>' % sender, 'To: <%s>' % rcpt, 'Subject: ' + subject, 'MIME-Version: 1.0',
             'Content-Type: multipart/mixed; boundary="b"', '', '--b',
             'Content-Type: text/plain', '', 'see the attachment', '--b',
             'Content-Type: application/octet-stream; name="%s"' % name,
             'Content-Disposition: attachment; filename="%s"' % name,
             'Content-Transfer-Encoding: base64', '',
             base64.encodebytes(data).decode().rstrip('\n'), '--b--', '']
    return '\r\n'.join(lines).encode()


def message(subject='test', body='Hello.\n', headers=None, date=True, msgid=True):
    """A small RFC 5322 message as bytes with CRLF line ends."""
    h = ['From: sender@example.org', 'To: rcpt@example.org', 'Subject: ' + subject]
    if date:
        h.append('Date: Mon, 24 Nov 2025 10:00:00 +0000')
    if msgid:
        h.append('Message-ID: <%s@test.example>' % os.urandom(6).hex())
    h += list(headers or [])
    text = '\r\n'.join(h) + '\r\n\r\n' + body.replace('\r\n', '\n').replace('\n', '\r\n')
    return text.encode()
