/*
 * deliver_conn.c - one connection to the gateway: TCP, TLS, timeouts
 *
 * What it is for: moving bytes to and from the gateway with a deadline
 * on every wait (RFC 5321 4.5.3.2), in clear text or inside TLS, and
 * checking the gateway's certificate as gateway.tls and
 * gateway.fingerprints say.
 * What it must never do: block without a deadline, accept a TLS
 * session whose checks failed, or keep clear-text bytes that arrived
 * before the TLS handshake (response injection, cf. CVE-2011-0411).
 */
#include "deliver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CONN_IN_MAX ((size_t)1024 * 1024)
#define CONN_OUT_MAX ((size_t)16 * 1024 * 1024)

void
conn_init(struct conn *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	buf_init(&c->in, CONN_IN_MAX);
	buf_init(&c->out, CONN_OUT_MAX);
}

void
conn_close(struct conn *c)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->tls = false;
	buf_free(&c->in);
	buf_free(&c->out);
}

/* fail - record why, return -1 */
static int __attribute__((format(printf, 2, 3))) fail(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* wait_fd - poll for events until deadline: 1 ready, -1 timeout/error */
static int
wait_fd(struct conn *c, short events, time_t deadline)
{
	struct pollfd p = {.fd = c->fd, .events = events};

	for (;;) {
		time_t now = time(NULL);
		int rc;

		if (deliver_stop)
			return fail(c, "%s", "interrupted (mailout-deliver stopping)");
		if (now >= deadline)
			return fail(c, "%s", "timeout");
		rc = poll(&p, 1, (int)(deadline - now) * 1000);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return fail(c, "poll: %s", strerror(errno));
	}
}

int
conn_connect(struct conn *c, const struct sockaddr *sa, socklen_t len, unsigned timeout)
{
	int err = 0, one = 1;
	socklen_t elen = sizeof(err);

	c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return fail(c, "socket: %s", strerror(errno));
	/* commands are written whole; Nagle would only add delayed-ACK waits */
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return fail(c, "%s", strerror(errno));
	if (wait_fd(c, POLLOUT, time(NULL) + timeout) < 0)
		return -1;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		return fail(c, "%s", strerror(errno));
	if (err)
		return fail(c, "%s", strerror(err));
	return 0;
}

/* ssl_wait - after SSL_ERROR_WANT_*, wait; -1 on other errors */
static int
ssl_wait(struct conn *c, int rc, time_t deadline)
{
	int e = SSL_get_error(c->ssl, rc);
	char ebuf[200];

	if (e == SSL_ERROR_WANT_READ)
		return wait_fd(c, POLLIN, deadline);
	if (e == SSL_ERROR_WANT_WRITE)
		return wait_fd(c, POLLOUT, deadline);
	if (e == SSL_ERROR_ZERO_RETURN)
		return fail(c, "%s", "connection closed by the gateway");
	ERR_error_string_n(ERR_get_error(), ebuf, sizeof(ebuf));
	return fail(c, "TLS: %s", ebuf);
}

/* io_read - read some bytes into c->in; -1 with err */
static int
io_read(struct conn *c, time_t deadline)
{
	char chunk[16384];

	for (;;) {
		ssize_t n;

		if (c->ssl) {
			size_t got = 0;
			int rc = SSL_read_ex(c->ssl, chunk, sizeof(chunk), &got);
			if (rc == 1)
				n = (ssize_t)got;
			else if (ssl_wait(c, rc, deadline) < 0)
				return -1;
			else
				continue;
		} else {
			n = read(c->fd, chunk, sizeof(chunk));
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				if (wait_fd(c, POLLIN, deadline) < 0)
					return -1;
				continue;
			}
			if (n < 0)
				return fail(c, "read: %s", strerror(errno));
			if (n == 0)
				return fail(c, "%s", "connection closed by the gateway");
		}
		if (buf_append(&c->in, chunk, (size_t)n) < 0)
			return fail(c, "%s", "reply too long");
		return 0;
	}
}

int
conn_flush(struct conn *c, unsigned timeout)
{
	time_t deadline = time(NULL) + timeout;
	size_t off = 0;

	while (off < c->out.len) {
		size_t n = c->out.len - off, done = 0;

		if (c->ssl) {
			int rc = SSL_write_ex(c->ssl, c->out.s + off, n, &done);
			if (rc != 1 && ssl_wait(c, rc, deadline) < 0)
				return -1;
		} else {
			ssize_t w = write(c->fd, c->out.s + off, n);
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				return fail(c, "write: %s", strerror(errno));
			if (w < 0 && wait_fd(c, POLLOUT, deadline) < 0)
				return -1;
			done = w > 0 ? (size_t)w : 0;
		}
		off += done;
	}
	buf_reset(&c->out);
	return 0;
}

int
conn_reply(struct conn *c, struct smtp_reply *r, unsigned timeout)
{
	time_t deadline = time(NULL) + timeout;

	for (;;) {
		ssize_t used = smtp_reply_parse(buf_cstr(&c->in), c->in.len, r);

		if (used > 0) {
			buf_consume(&c->in, (size_t)used);
			return 0;
		}
		if (used < 0)
			return fail(c, "%s", "malformed reply from the gateway");
		if (io_read(c, deadline) < 0)
			return -1;
	}
}
