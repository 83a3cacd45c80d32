/*
 * loadclient.c - an SMTP load client with STARTTLS, for `make bench`
 *
 * Usage: loadclient -p PORT [-H ADDR] [-c CONCURRENCY] [-n CONNECTIONS]
 *                   [-m MESSAGES] [-s SIZE] [-r] [-T] [-f FROM] [-t TO]
 *                   [-w TIMEOUT] [-W DEADLINE]
 *
 * CONCURRENCY threads (default 1) open CONNECTIONS connections in all
 * (default 100) to ADDR:PORT (default 127.0.0.1).  Each connection:
 * banner, EHLO, STARTTLS and the handshake (unless -T: plain SMTP),
 * EHLO, then MESSAGES messages (default 1) of about SIZE octets
 * (default 2048) from FROM to TO, then QUIT.  With -r a connection
 * offers the last TLS session (a TLS 1.3 ticket or a 1.2 session) that
 * any connection received, so the server may resume it.  Prints one
 * line of key=value results (messages per second, connections per
 * second, handshakes resumed, failures); exits 0 only if every
 * connection and message went through.
 *
 * What it must never do: verify nothing and pretend it did (it does not
 * check the server's certificate: it measures, it does not protect
 * mail), talk to anything but the address it is given, or run without
 * bound: every read and write has a timeout (-w, default 30 s) and no
 * connection starts after the deadline (-W, default 300 s).
 * Part of `make bench`, never of `make check`.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_THREADS 256
#define LINE_MAX_LEN 1024
#define REPLY_LINES_MAX 100

struct options {
	const char *host, *from, *to;
	int port, concurrency, timeout, deadline;
	long connections, messages;
	size_t size;
	bool resume, plain;
};

struct conn {
	int fd;
	SSL *ssl;
	char buf[8192];
	size_t len;
};

static struct options opt = {
    .host = "127.0.0.1",
    .from = "bench@example.org",
    .to = "rcpt@example.org",
    .concurrency = 1,
    .timeout = 30,
    .deadline = 300,
    .connections = 100,
    .messages = 1,
    .size = 2048,
};
static SSL_CTX *ctx;
static char *message;
static size_t message_len;
static pthread_mutex_t session_lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_SESSION *last_session;
static atomic_long next_conn, conns_ok, msgs_ok, failures, resumed;
static double deadline_at;

/* now - monotonic seconds */
static double
now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0.0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* conn_write - all of p, over TLS once it is on */
static int
conn_write(struct conn *c, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w;

		if (c->ssl) {
			int n = len > 1 << 30 ? 1 << 30 : (int)len;

			w = SSL_write(c->ssl, p, n);
		} else {
			w = send(c->fd, p, len, MSG_NOSIGNAL);
		}
		if (w < 0 && !c->ssl && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* conn_fill - read more bytes into the buffer; -1 on EOF, error, timeout */
static int
conn_fill(struct conn *c)
{
	size_t room = sizeof(c->buf) - c->len;
	ssize_t r;

	if (room == 0)
		return -1;
	if (c->ssl) {
		r = SSL_read(c->ssl, c->buf + c->len, (int)room);
	} else {
		do
			r = recv(c->fd, c->buf + c->len, room, 0);
		while (r < 0 && errno == EINTR);
	}
	if (r <= 0)
		return -1;
	c->len += (size_t)r;
	return 0;
}

/* read_line - one line without CRLF into line (LINE_MAX_LEN) */
static int
read_line(struct conn *c, char *line)
{
	char *nl;
	size_t n;

	while ((nl = memchr(c->buf, '\n', c->len)) == NULL)
		if (conn_fill(c) < 0)
			return -1;
	n = (size_t)(nl - c->buf);
	if (n >= LINE_MAX_LEN)
		return -1;
	memcpy(line, c->buf, n);
	line[n] = '\0';
	if (n > 0 && line[n - 1] == '\r')
		line[n - 1] = '\0';
	c->len -= n + 1;
	memmove(c->buf, nl + 1, c->len);
	return 0;
}

/* read_reply - one (multi-line) reply; its code, or -1 */
static int
read_reply(struct conn *c)
{
	char line[LINE_MAX_LEN];
	int i;

	for (i = 0; i < REPLY_LINES_MAX; i++) {
		if (read_line(c, line) < 0 || strlen(line) < 3)
			return -1;
		if (line[3] != '-')
			return atoi(line);
	}
	return -1;
}

/* command - send a line (CRLF added), expect a reply code */
static int
command(struct conn *c, const char *line, int expect)
{
	char out[LINE_MAX_LEN];
	int n = snprintf(out, sizeof(out), "%s\r\n", line);

	if (n < 0 || (size_t)n >= sizeof(out) || conn_write(c, out, (size_t)n) < 0)
		return -1;
	return read_reply(c) == expect ? 0 : -1;
}

/* new_session - keep the newest session a server gave us (for -r) */
static int
new_session(SSL *ssl, SSL_SESSION *sess)
{
	(void)ssl;
	if (pthread_mutex_lock(&session_lock) != 0)
		return 0;
	if (last_session)
		SSL_SESSION_free(last_session);
	last_session = sess;
	(void)pthread_mutex_unlock(&session_lock);
	return 1; /* we keep the reference */
}

/* offer_session - SSL_set_session with the last session, if any */
static void
offer_session(SSL *ssl)
{
	if (pthread_mutex_lock(&session_lock) != 0)
		return;
	if (last_session)
		(void)SSL_set_session(ssl, last_session);
	(void)pthread_mutex_unlock(&session_lock);
}

/* start_tls - STARTTLS, the handshake, EHLO again */
static int
start_tls(struct conn *c)
{
	if (command(c, "STARTTLS", 220) < 0)
		return -1;
	c->len = 0; /* nothing may come before the handshake */
	if ((c->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_set_tlsext_host_name(c->ssl, "localhost") != 1)
		return -1;
	if (opt.resume)
		offer_session(c->ssl);
	if (SSL_connect(c->ssl) != 1)
		return -1;
	if (SSL_session_reused(c->ssl))
		atomic_fetch_add(&resumed, 1);
	return command(c, "EHLO loadclient.test.example", 250);
}

/* send_message - one MAIL, RCPT, DATA transaction */
static int
send_message(struct conn *c)
{
	char line[LINE_MAX_LEN];
	int n;

	n = snprintf(line, sizeof(line), "MAIL FROM:<%s>", opt.from);
	if (n < 0 || (size_t)n >= sizeof(line) || command(c, line, 250) < 0)
		return -1;
	n = snprintf(line, sizeof(line), "RCPT TO:<%s>", opt.to);
	if (n < 0 || (size_t)n >= sizeof(line) || command(c, line, 250) < 0)
		return -1;
	if (command(c, "DATA", 354) < 0 || conn_write(c, message, message_len) < 0)
		return -1;
	return read_reply(c) == 250 ? 0 : -1;
}

/* dial - a TCP connection with read and write timeouts; fd or -1 */
static int
dial(void)
{
	struct sockaddr_in sa;
	struct timeval tv = {opt.timeout, 0};
	int fd, one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)opt.port);
	if (inet_pton(AF_INET, opt.host, &sa.sin_addr) != 1)
		return -1;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* one_connection - a whole session; 0 if everything went through */
static int
one_connection(void)
{
	struct conn c = {.fd = -1};
	long i;
	int rc = -1;

	if ((c.fd = dial()) < 0)
		return -1;
	if (read_reply(&c) != 220 || command(&c, "EHLO loadclient.test.example", 250) < 0)
		goto out;
	if (!opt.plain && start_tls(&c) < 0)
		goto out;
	for (i = 0; i < opt.messages; i++) {
		if (send_message(&c) < 0)
			goto out;
		atomic_fetch_add(&msgs_ok, 1);
	}
	rc = command(&c, "QUIT", 221);
out:
	if (c.ssl) {
		if (rc == 0)
			(void)SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
	(void)close(c.fd);
	return rc;
}

/* worker - claim connections until all are done or time is up */
static void *
worker(void *arg)
{
	(void)arg;
	while (atomic_fetch_add(&next_conn, 1) < opt.connections) {
		if (now() > deadline_at) {
			atomic_fetch_add(&failures, 1);
			continue;
		}
		if (one_connection() == 0) {
			atomic_fetch_add(&conns_ok, 1);
		} else {
			atomic_fetch_add(&failures, 1);
			ERR_clear_error();
		}
	}
	return NULL;
}

/* build_message - headers and a body of about opt.size octets, dot-ended */
static int
build_message(void)
{
	static const char line[] = "La de da de da 1234567890 abcdefghijklmnopqrstuvwxyz "
	                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n";
	size_t cap = opt.size + 1024, n;
	int len;

	if ((message = malloc(cap)) == NULL)
		return -1;
	len = snprintf(message, cap,
	               "From: <%s>\r\nTo: <%s>\r\nSubject: bench\r\n"
	               "Date: Mon, 24 Nov 2025 10:00:00 +0000\r\n"
	               "Message-ID: <loadclient@test.example>\r\n\r\n",
	               opt.from, opt.to);
	if (len < 0 || (size_t)len >= cap)
		return -1;
	n = (size_t)len;
	while (n + sizeof(line) - 1 <= opt.size && n + sizeof(line) + 3 < cap) {
		memcpy(message + n, line, sizeof(line) - 1);
		n += sizeof(line) - 1;
	}
	memcpy(message + n, ".\r\n", 3);
	message_len = n + 3;
	return 0;
}

/* make_ctx - the client context: any certificate, session callback */
static int
make_ctx(void)
{
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return -1;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		return -1;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx,
	                               SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session);
	return 0;
}

/* number - a decimal option within [lo, hi], or exit 64 */
static long
number(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "loadclient: %s must be %ld..%ld\n", what, lo, hi);
		exit(64);
	}
	return v;
}

/* parse_options - getopt into opt; exits 64 on bad usage */
static void
parse_options(int argc, char **argv)
{
	int ch;

	while ((ch = getopt(argc, argv, "H:p:c:n:m:s:rTf:t:w:W:")) != -1) {
		switch (ch) {
		case 'H':
			opt.host = optarg;
			break;
		case 'p':
			opt.port = (int)number(optarg, 1, 65535, "-p");
			break;
		case 'c':
			opt.concurrency = (int)number(optarg, 1, MAX_THREADS, "-c");
			break;
		case 'n':
			opt.connections = number(optarg, 1, 1000000, "-n");
			break;
		case 'm':
			opt.messages = number(optarg, 0, 100000, "-m");
			break;
		case 's':
			opt.size = (size_t)number(optarg, 0, 10 << 20, "-s");
			break;
		case 'r':
			opt.resume = true;
			break;
		case 'T':
			opt.plain = true;
			break;
		case 'f':
			opt.from = optarg;
			break;
		case 't':
			opt.to = optarg;
			break;
		case 'w':
			opt.timeout = (int)number(optarg, 1, 3600, "-w");
			break;
		case 'W':
			opt.deadline = (int)number(optarg, 1, 86400, "-W");
			break;
		default:
			fprintf(stderr, "usage: loadclient -p PORT [-H ADDR] [-c N] [-n N] [-m N] "
			                "[-s SIZE] [-r] [-T] [-f FROM] [-t TO] [-w S] [-W S]\n");
			exit(64);
		}
	}
	if (opt.port == 0 || optind != argc) {
		fprintf(stderr, "loadclient: -p PORT is required; no arguments\n");
		exit(64);
	}
}

int
main(int argc, char **argv)
{
	pthread_t tids[MAX_THREADS];
	double t0, dt;
	int i, started = 0;

	parse_options(argc, argv);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || build_message() < 0 || make_ctx() < 0) {
		fprintf(stderr, "loadclient: cannot set up\n");
		return 71;
	}
	t0 = now();
	deadline_at = t0 + opt.deadline;
	for (i = 0; i < opt.concurrency; i++)
		if (pthread_create(&tids[i], NULL, worker, NULL) == 0)
			started++;
	if (started == 0) {
		fprintf(stderr, "loadclient: no thread started\n");
		return 71;
	}
	for (i = 0; i < started; i++)
		(void)pthread_join(tids[i], NULL);
	dt = now() - t0;
	printf("connections=%ld messages=%ld failed=%ld resumed=%ld seconds=%.3f "
	       "msgs_per_s=%.1f conns_per_s=%.1f\n",
	       atomic_load(&conns_ok), atomic_load(&msgs_ok), atomic_load(&failures),
	       atomic_load(&resumed), dt, dt > 0 ? (double)atomic_load(&msgs_ok) / dt : 0.0,
	       dt > 0 ? (double)atomic_load(&conns_ok) / dt : 0.0);
	return atomic_load(&failures) == 0 ? 0 : 1;
}
