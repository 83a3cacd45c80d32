/*
 * smtpd_io.c - buffered, timed I/O for one SMTP connection, plain or TLS
 *
 * What it is for: moving octets between the client and the session
 * with hard caps on memory (IO_IN_MAX) and on time (every wait has a
 * deadline), over a plain fd pair (inetd: 0 and 1; systemd: 3 and 3)
 * or through OpenSSL once TLS is on (loaded by then: smtpd_ssl.h).
 * What it must never do: block without a deadline, grow without a cap,
 * or read plain-text octets once TLS has started (CVE-2011-0411: the
 * session drops what was buffered before the handshake).
 */
#include "smtpd_io.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd_ssl.h"
#include "timefmt.h"

_Static_assert(RES_OK == 0, "RES_OK must be enum result's");

#define IO_CHUNK (16 * 1024)
#define IO_OUT_MAX (1024 * 1024)

/* io_nonblock - set O_NONBLOCK so that no read or write can hang */
static void
io_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0 && !(fl & O_NONBLOCK))
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* io_nodelay - replies leave as whole, already-batched writes (flushed
 * only when the client's input is drained), so Nagle's algorithm can only
 * add a delayed-ACK round trip (~40 ms) after each; turn it off.  A pipe
 * or a Unix socket refuses the option, which is fine. */
static void
io_nodelay(int fd)
{
	int on = 1;

	/* a failure only leaves the session slower: nothing to report */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

void
io_init(struct smtp_io *io, int rfd, int wfd)
{
	io->rfd = rfd;
	io->wfd = wfd;
	io->ssl = NULL;
	buf_init(&io->in, IO_IN_MAX);
	buf_init(&io->out, IO_OUT_MAX);
	io->write_timeout = 300;
	io_nonblock(rfd);
	io_nonblock(wfd);
	io_nodelay(wfd);
}

void
io_free(struct smtp_io *io)
{
	buf_free(&io->in);
	buf_free(&io->out);
}

/* io_wait - poll one fd until it is ready or the deadline passes */
enum io_status
io_wait(int fd, short events, long long deadline_ms)
{
	struct pollfd pfd;
	long long left;
	int rc;

	for (;;) {
		left = deadline_ms - mono_ms();
		if (left <= 0)
			return IO_TIMEOUT;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		rc = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (rc > 0)
			return IO_OK;
		if (rc < 0 && errno != EINTR)
			return IO_ERR;
	}
}

/* ssl_wait - after SSL_ERROR_WANT_*, wait on the fd OpenSSL needs */
static enum io_status
ssl_wait(struct smtp_io *io, int rc, long long deadline)
{
	switch (SSL_get_error(io->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return io_wait(io->rfd, POLLIN, deadline);
	case SSL_ERROR_WANT_WRITE:
		return io_wait(io->wfd, POLLOUT, deadline);
	case SSL_ERROR_ZERO_RETURN:
		return IO_EOF;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		return (rc == 0 || errno == 0) ? IO_EOF : IO_ERR;
	default:
		ERR_clear_error();
		return IO_ERR;
	}
}

/* io_write_some - write up to n octets; returns count or -status */
static long
io_write_some(struct smtp_io *io, const char *p, size_t n, long long deadline)
{
	enum io_status st;
	ssize_t w;
	int rc;

	for (;;) {
		if (io->ssl) {
			rc = SSL_write(io->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
			if (rc > 0)
				return rc;
			st = ssl_wait(io, rc, deadline);
		} else {
			w = write(io->wfd, p, n);
			if (w >= 0)
				return (long)w;
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -(long)IO_ERR;
			st = io_wait(io->wfd, POLLOUT, deadline);
		}
		if (st != IO_OK)
			return -(long)st;
	}
}

enum io_status
io_flush(struct smtp_io *io)
{
	long long deadline = mono_ms() + (long long)io->write_timeout * 1000;
	long w;

	while (io->out.len > 0) {
		w = io_write_some(io, io->out.s, io->out.len, deadline);
		if (w < 0)
			return (enum io_status)(-w);
		buf_consume(&io->out, (size_t)w);
	}
	return IO_OK;
}

/* io_read_some - one read into the input buffer */
static enum io_status
io_read_some(struct smtp_io *io, long long deadline)
{
	char chunk[IO_CHUNK];
	size_t room = IO_IN_MAX - io->in.len;
	enum io_status st;
	ssize_t r;
	int rc;

	if (room > sizeof(chunk))
		room = sizeof(chunk);
	if (room == 0)
		return IO_OK; /* the caller must use what it has */
	for (;;) {
		if (io->ssl) {
			rc = SSL_read(io->ssl, chunk, (int)room);
			r = rc;
			if (rc <= 0) {
				st = ssl_wait(io, rc, deadline);
				if (st != IO_OK)
					return st;
				continue;
			}
		} else {
			r = read(io->rfd, chunk, room);
			if (r == 0)
				return IO_EOF;
			if (r < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					return IO_ERR;
				st = io_wait(io->rfd, POLLIN, deadline);
				if (st != IO_OK)
					return st;
				continue;
			}
		}
		if (buf_append(&io->in, chunk, (size_t)r) < 0)
			return IO_ERR;
		return IO_OK;
	}
}

enum io_status
io_fill(struct smtp_io *io, unsigned timeout)
{
	enum io_status st;

	/* RFC 2920: never wait for input while replies are pending */
	if ((st = io_flush(io)) != IO_OK)
		return st;
	return io_read_some(io, mono_ms() + (long long)timeout * 1000);
}

enum io_status
io_put(struct smtp_io *io, const char *s, size_t n)
{
	if (buf_append(&io->out, s, n) < 0) {
		if (io_flush(io) != IO_OK || buf_append(&io->out, s, n) < 0)
			return IO_ERR;
	}
	if (io->out.len >= IO_OUT_FLUSH)
		return io_flush(io);
	return IO_OK;
}

/* io_put_reply - RFC 5321 4.2: a reply's text is printable US-ASCII;
 * anything else that came in with client text (a control character,
 * a CR or LF that would start a forged reply, U+2028) becomes '?' */
enum io_status
io_put_reply(struct smtp_io *io, const struct reply *r)
{
	char line[REPLY_TEXT_MAX + 32];
	char *p;

	if (reply_format(r, line, sizeof(line)) < 0)
		line[sizeof(line) - 1] = '\0'; /* truncated text is still a reply */
	for (p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	return io_put_text(io, line, (size_t)(p - line));
}

enum io_status
io_put_text(struct smtp_io *io, const char *text, size_t n)
{
	char line[SMTP_REPLY_LINE_MAX];

	if (n > sizeof(line) - 3)
		n = sizeof(line) - 3; /* RFC 5321 4.5.3.1.5: reply lines are short */
	memcpy(line, text, n);
	line[n++] = '\r';
	line[n++] = '\n';
	return io_put(io, line, n);
}

enum io_status
io_put_line(struct smtp_io *io, const char *fmt, ...)
{
	char line[SMTP_REPLY_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return IO_ERR;
	return io_put_text(io, line, (size_t)n < sizeof(line) - 2 ? (size_t)n : sizeof(line) - 3);
}

size_t
io_discard_input(struct smtp_io *io)
{
	size_t n = io->in.len;

	buf_reset(&io->in);
	return n;
}

int
io_readable(struct smtp_io *io, int timeout_ms)
{
	struct pollfd pfd = {.fd = io->rfd, .events = POLLIN, .revents = 0};
	long long deadline = mono_ms() + timeout_ms;
	int rc;

	if (io->in.len > 0)
		return 1;
	for (;;) {
		rc = poll(&pfd, 1, timeout_ms);
		if (rc >= 0)
			return rc > 0;
		if (errno != EINTR)
			return -1;
		timeout_ms = (int)(deadline - mono_ms());
		if (timeout_ms < 0)
			timeout_ms = 0;
	}
}
