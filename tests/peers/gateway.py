#!/usr/bin/python3
"""gateway.py - an aiosmtpd mail gateway for the tests and `make run`

Plays the central mail gateway that mailout-deliver forwards to.  Each
accepted message is stored in --maildir as two files, written
atomically (temporary name, then rename):

    N.eml    the message as received after dot-unstuffing (CRLF endings)
    N.json   {"mail_from", "rcpt_tos", "mail_options", "peer", "tls", "auth",
              "reads"}

"reads" lists the commands of this transaction (since the previous one
on the connection, or since connect) as they came in, one list per TCP
read: [["MAIL", "RCPT", "RCPT"], ["DATA"]] shows a pipelined envelope,
[["MAIL"], ["RCPT"], ["RCPT"], ["DATA"]] one command per round trip.
The message content is not counted.

DIR/.sessions.json (a dot file: not a message) says how many SMTP
sessions are open now, the most that were open at once, and how many
there were: {"active": 0, "max": 4, "total": 12}; it is rewritten
atomically on every connect and disconnect.

Prints "ready" on stdout once it listens.  Stops on SIGTERM/SIGINT.

Options:
  --listen HOST:PORT        address to listen on ([::1]:PORT for IPv6)
  --maildir DIR             where accepted messages go (created)
  --tls-cert C --tls-key K  offer STARTTLS with this certificate
  --require-tls             refuse MAIL before STARTTLS (530)
  --implicit-tls            TLS from connect (port 465 style)
  --auth USER:PASS          offer AUTH PLAIN LOGIN, require it for MAIL
  --reply-rcpt 'ADDR=550 5.1.1 no such user'   (repeatable) reply for ADDR
  --reply-mail '451 4.3.0 later'               reply to every MAIL FROM
  --reply-data '451 4.3.0 later'               reply after DATA, nothing stored
  --drop-in-data            close the connection after the message, before replying
  --size N                  advertise SIZE N (refuse bigger messages)
  --no-smtputf8             do not offer SMTPUTF8
  --no-pipelining           do not offer PIPELINING (offered by default)
  --line-length-limit N     accept DATA lines up to N octets (aiosmtpd: 1001)
  --hang                    accept connections and never say anything
Run it with Debian's /usr/bin/python3 (it has aiosmtpd).
"""

import argparse
import asyncio
import itertools
import json
import os
import signal
import ssl
import sys
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

VERBS = {'HELO', 'EHLO', 'MAIL', 'RCPT', 'DATA', 'RSET', 'NOOP', 'QUIT', 'VRFY', 'HELP',
         'STARTTLS', 'AUTH', 'BDAT'}


class Gateway:
    """The aiosmtpd handler: replies as configured, stores what it accepts."""

    def __init__(self, args):
        self.args = args
        self.rcpt_replies = {}
        for item in args.reply_rcpt:
            addr, _, reply = item.partition('=')
            self.rcpt_replies[addr.strip().lower()] = reply.strip()
        self.counter = itertools.count()
        self.sessions = {'active': 0, 'max': 0, 'total': 0}

    def session_change(self, delta):
        """A session opened (+1) or closed (-1): .sessions.json anew."""
        s = self.sessions
        s['active'] += delta
        s['total'] += delta > 0
        s['max'] = max(s['max'], s['active'])
        write_atomic(os.path.join(self.args.maildir, '.sessions.json'),
                     json.dumps(s).encode(), sync=False)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # aiosmtpd reads pipelined commands line by line: it only does
        # not say so (RFC 2920)
        session.host_name = hostname
        if not self.args.no_pipelining:
            responses.insert(len(responses) - 1, '250-PIPELINING')
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.args.reply_mail:
            return self.args.reply_mail
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return '250 2.1.0 Ok'

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return '250 2.1.5 Ok'

    async def handle_DATA(self, server, session, envelope):
        server.in_data = False
        reads, server.reads = server.reads, []
        if self.args.drop_in_data:
            server.transport.close()
            return '421 4.3.0 dropping'  # never reaches the client
        if self.args.reply_data:
            return self.args.reply_data
        name = '%d.%d.%d' % (time.time_ns(), os.getpid(), next(self.counter))
        self.store(name, envelope, session, reads)
        return '250 2.0.0 Ok: queued as %s' % name

    def store(self, name, envelope, session, reads):
        d = self.args.maildir
        meta = {
            'mail_from': envelope.mail_from,
            'rcpt_tos': envelope.rcpt_tos,
            'mail_options': envelope.mail_options,
            'peer': list(session.peer[:2]) if session.peer else None,
            'tls': session.ssl is not None or self.args.implicit_tls,
            'auth': session.authenticated,
            'reads': reads,
        }
        for ext, data in (('.eml', envelope.original_content or b''),
                          ('.json', json.dumps(meta).encode())):
            write_atomic(os.path.join(d, name + ext), data)


def write_atomic(path, data, sync=True):
    d, base = os.path.split(path)
    tmp = os.path.join(d, '.tmp.' + base)
    with open(tmp, 'wb') as f:
        f.write(data)
        f.flush()
        if sync:
            os.fsync(f.fileno())
    os.rename(tmp, path)


def make_authenticator(userpass):
    user, _, password = userpass.partition(':')

    def check(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        return AuthResult(success=ok, handled=False)
    return check


def tls_context(args):
    if not args.tls_cert:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.tls_cert, args.tls_key)
    return ctx


def factory(args, handler, ctx):
    def make():
        kw = dict(decode_data=False, enable_SMTPUTF8=not args.no_smtputf8,
                  hostname='gateway.test', ident='mailout test gateway',
                  data_size_limit=args.size or None)
        if ctx is not None and not args.implicit_tls:
            kw.update(tls_context=ctx, require_starttls=args.require_tls)
        if args.auth:
            kw.update(authenticator=make_authenticator(args.auth), auth_required=True,
                      auth_require_tls=not args.implicit_tls and ctx is not None)
        return server_class(args)(handler, **kw)
    return make


class RecordingSMTP(SMTP):
    """aiosmtpd's SMTP that notes the commands of each TCP read and
    tells the handler when a session starts and ends."""

    def __init__(self, handler, **kw):
        super().__init__(handler, **kw)
        self.reads, self.in_data, self.counted = [], False, False

    def connection_made(self, transport):
        super().connection_made(transport)
        if not self.counted:  # STARTTLS calls it again for the same session
            self.counted = True
            self.event_handler.session_change(+1)

    def connection_lost(self, error):
        if self.counted:
            self.counted = False
            self.event_handler.session_change(-1)
        super().connection_lost(error)

    def data_received(self, data):
        # content (from DATA's 354 to the handler's DATA hook) is not
        # commands; a command read names a known verb on every line
        if not self.in_data:
            verbs = [line.split(b' ', 1)[0].split(b':', 1)[0].upper().decode('ascii', 'replace')
                     for line in data.split(b'\r\n') if line]
            if verbs and all(v in VERBS for v in verbs):
                self.reads.append(verbs)
                self.in_data = verbs[-1] == 'DATA'
        super().data_received(data)


def server_class(args):
    """RecordingSMTP, with a longer line limit when asked (aiosmtpd sizes
    the stream reader in __init__, so it must be a class attribute)."""
    if not args.line_length_limit:
        return RecordingSMTP
    return type('LongLineSMTP', (RecordingSMTP,), {'line_length_limit': args.line_length_limit})


async def hang(reader, writer):
    await asyncio.sleep(3600)
    writer.close()


async def main(args):
    host, _, port = args.listen.rpartition(':')
    host = host.strip('[]')
    os.makedirs(args.maildir, exist_ok=True)
    loop = asyncio.get_running_loop()
    ctx = tls_context(args)
    if args.hang:
        server = await asyncio.start_server(hang, host, int(port))
    else:
        server = await loop.create_server(factory(args, Gateway(args), ctx), host, int(port),
                                          ssl=ctx if args.implicit_tls else None)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print('ready', flush=True)
    await stop.wait()
    server.close()


def parse_args(argv):
    p = argparse.ArgumentParser(description='aiosmtpd test gateway')
    p.add_argument('--listen', required=True)
    p.add_argument('--maildir', required=True)
    p.add_argument('--tls-cert')
    p.add_argument('--tls-key')
    p.add_argument('--require-tls', action='store_true')
    p.add_argument('--implicit-tls', action='store_true')
    p.add_argument('--auth')
    p.add_argument('--reply-rcpt', action='append', default=[])
    p.add_argument('--reply-mail')
    p.add_argument('--reply-data')
    p.add_argument('--drop-in-data', action='store_true')
    p.add_argument('--size', type=int, default=0)
    p.add_argument('--no-smtputf8', action='store_true')
    p.add_argument('--no-pipelining', action='store_true')
    p.add_argument('--line-length-limit', type=int, default=0)
    p.add_argument('--hang', action='store_true')
    return p.parse_args(argv)


if __name__ == '__main__':
    asyncio.run(main(parse_args(sys.argv[1:])))
