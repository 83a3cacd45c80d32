/*
 * queue_main.c - mailout-queue: put one message into the spool
 *
 * mailout-queue [-c FILE] [-i QUEUEID]
 * mailout-queue --socket [-c FILE]
 *
 * The qmail-queue protocol: the message on fd 0, read to EOF, then the
 * envelope on fd 1 (F<sender>\0T<rcpt>\0...\0), read to EOF.  With -i
 * the caller has chosen the queue ID (mailout-smtpd names it in the
 * Received: header before streaming the message); otherwise one is made.
 * It is the only program that writes a message into the spool.
 *
 * --socket: the same job for a client of a unix stream socket, for
 * services that cannot run a set-uid program (systemd's NoNewPrivileges=):
 * mailout-queue.socket (Accept=yes) starts one mailout-queue --socket
 * per connection, which is fd 0 (systemd StandardInput=socket, inetd,
 * systemd-socket-activate --inetd).  The protocol, version 1:
 *
 *   client -> server  ONE sendmsg(2): the request line
 *                       "mailout-queue/1\n"  or  "mailout-queue/1 -i ID\n"
 *                     (at most 64 octets, nothing after the newline) with
 *                     SCM_RIGHTS carrying exactly two fds: the read end of
 *                     the message pipe (fd 0 of the classic mode) and the
 *                     read end of the envelope pipe (fd 1); both must be
 *                     pipes opened read-only.
 *   then              the client writes the message, closes it, writes the
 *                     envelope, closes it - exactly as for the classic mode
 *   server -> client  one octet: the exit code below; then it closes.
 *
 * A request that breaks any of these rules gets 81 and nothing is read.
 * A client that sees the connection close without the octet treats it as
 * a temporary failure.  -c is the service's own option, never the
 * client's: the request cannot name a config or a spool.
 *
 * SECURITY: mailout-queue may be installed set-id (to the spool's owner)
 * so that unprivileged callers - mailout-smtpd's user, local users via
 * mailout-sendmail - can queue mail without being able to touch the
 * spool.  Everything it reads is untrusted: the message is stored, never
 * interpreted; the envelope is checked (lengths, count, no control
 * characters or angle brackets) so it cannot break the spool's line
 * format; the queue ID from -i must match the ID syntax exactly, so it
 * cannot name a path.  When set-id (AT_SECURE) it ignores the whole
 * environment, MAILOUT_CONFIG included, and also ignores -c with a
 * warning: a caller must not pick a config whose spool points elsewhere.
 * With --socket the client is as untrusted as a set-id caller: the
 * request is checked byte for byte, only two read-only pipes are taken,
 * and the peer's uid and pid (SO_PEERCRED) are logged with failures.
 * It makes sure fds 0-2 are open before opening anything, so a spool
 * file can never land on the caller's stderr; files are created 0640
 * with O_EXCL and committed with RENAME_NOREPLACE, so nothing existing
 * is ever replaced; SIGXFSZ is ignored so a caller's RLIMIT_FSIZE gives
 * a write error (53), not a half-written file.
 *
 * Spool commit states (as qmail's INTERNALS), and what a crash leaves:
 *
 *   state                          | crash leaves          | cleaned up by
 *   -------------------------------+-----------------------+----------------
 *   S1 reading; message in memory  | nothing (the scratch  | -
 *      or in an O_TMPFILE          | file has no name)     |
 *   S2 tmp/ID being written        | partial tmp/ID        | mailout-deliver
 *   S3 tmp/ID written, fsynced     | complete tmp/ID,      | removes tmp/
 *                                  | never delivered       | files > 36h old
 *   S4 renamed to new/ID, new/ not | new/ID, or tmp/ID,    | if new/ID: sent;
 *      yet fsynced                 | or both names (one    | the caller saw
 *                                  | inode)                | no 0: may resend
 *   S5 new/ fsynced, exit 0        | the queued message    | -
 *
 * Only S5 answers 0; so a caller reports success only for a message that
 * survives any crash.  A crash in S4 may give a duplicate (the caller
 * retries, the first copy survived): at-least-once, as qmail.
 *
 * Exit codes (qmail-queue's): 0 queued; 11 address too long; 31 refused
 * for good (message larger than limits.message_size + 64k); 51 out of
 * memory; 53 write error or disk full; 54 read error (fd 0/fd 1, or no
 * input for 24h); 55 config unreadable, spool missing or not writable;
 * 71 queue ID in use; 81 internal bug or bad usage (bad -i, unknown
 * option); 91 envelope format error.  11 and 31 are permanent, the rest
 * temporary.  On failure one log line names the queue ID: a warning,
 * except for an empty envelope (EOF on fd 1 before any octet), which is
 * how a caller aborts (its client went away, the message was refused):
 * still 91, as qmail-queue, but logged as "aborted by the client" at
 * info level.
 */
#include "conf.h"
#include "log.h"
#include "mail_spool.h"
#include "queue_job.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#define SOCK_MAGIC "mailout-queue/1" /* the request line's first word */
#define SOCK_REQ_MAX 64 /* octets of a request line, newline included */
#define SOCK_REQ_TIMEOUT 30 /* seconds for the request to arrive */
#define USAGE "usage: mailout-queue [-c FILE] [-i ID] | mailout-queue --socket [-c FILE]"

/* The connection of --socket mode, for the exit-code octet; -1 otherwise. */
static volatile sig_atomic_t reply_fd = -1;

/* A --socket request: the line, the two pipes, who sent them. */
struct sock_req {
	char line[SOCK_REQ_MAX];
	size_t len;
	int fds[2]; /* message, envelope; -1: none */
	struct ucred peer;
};

/* on_alarm - the caller stopped sending: give up (nothing is named yet) */
static void
on_alarm(int sig)
{
	unsigned char code = QQ_READ;

	(void)sig;
	if (reply_fd >= 0)
		(void)send(reply_fd, &code, 1, MSG_NOSIGNAL);
	_exit(QQ_READ);
}

/* setup_process - fds 0-2 open, umask, signals; -1 if impossible */
static int
setup_process(void)
{
	struct sigaction sa;
	int fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (open("/dev/null", O_RDWR) != fd)
			return -1;
	}
	(void)umask(027);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGXFSZ, &sa, NULL) < 0 || sigaction(SIGPIPE, &sa, NULL) < 0)
		return -1;
	sa.sa_handler = on_alarm;
	return sigaction(SIGALRM, &sa, NULL);
}

/* parse_args - -c FILE, -i ID (not with --socket: the request names
 * it); returns QQ_OK or QQ_BUG */
static int
parse_args(int argc, char **argv, bool sock, const char **cfile, struct qq_job *job)
{
	int c;

	optind = sock ? 2 : 1;
	while ((c = getopt(argc, argv, sock ? "c:" : "c:i:")) != -1) {
		switch (c) {
		case 'c':
			*cfile = optarg;
			break;
		case 'i':
			if (!queue_id_valid(optarg) ||
			    bounded_copy(job->id, sizeof(job->id), optarg) < 0)
				return queue_fail(job, QQ_BUG, 0, "invalid queue ID for -i");
			break;
		default:
			return queue_fail(job, QQ_BUG, 0, "%s", USAGE);
		}
	}
	if (optind != argc)
		return queue_fail(job, QQ_BUG, 0, "%s", USAGE);
	return QQ_OK;
}

/* load_config - the spool directory and size limit from the config */
static int
load_config(const char *cfile, struct config *cfg, struct qq_job *job)
{
	enum result res;

	if (getauxval(AT_SECURE) && cfile != NULL) {
		log_warn("set-id: -c %s ignored, using the compiled-in config", cfile);
		cfile = NULL;
	}
	res = conf_load(conf_path(cfile), cfg, stderr);
	if (res == RES_TEMP || res == RES_PERM)
		return queue_fail(job, QQ_CONFIG, 0, "unable to load the configuration");
	if (cfg->spool == NULL || cfg->spool[0] != '/')
		return queue_fail(job, QQ_CONFIG, 0, "spool is not an absolute path");
	job->spool = cfg->spool;
	if (cfg->limits.message_size > 0)
		job->max_size = cfg->limits.message_size + QUEUE_SIZE_SLACK;
	return QQ_OK;
}

/* sock_check - fd is a unix stream socket; note who is at the other end */
static int
sock_check(int fd, struct sock_req *rq, struct qq_job *job)
{
	struct timeval tv = {SOCK_REQ_TIMEOUT, 0};
	socklen_t len;
	int domain = 0, type = 0;

	len = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != AF_UNIX)
		return queue_fail(job, QQ_BUG, 0, "--socket: fd 0 is not a unix socket");
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
		return queue_fail(job, QQ_BUG, 0, "--socket: fd 0 is not a stream socket");
	len = sizeof(rq->peer);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &rq->peer, &len) < 0)
		return queue_fail(job, QQ_BUG, errno, "--socket: SO_PEERCRED");
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return queue_fail(job, QQ_BUG, errno, "--socket: SO_RCVTIMEO");
	return QQ_OK;
}

/* take_fds - the fds of every SCM_RIGHTS message; more than two, or
 * any other control message, makes the request bad (-1) */
static int
take_fds(struct msghdr *mh, struct sock_req *rq)
{
	struct cmsghdr *c;
	size_t i, n, got = 0;
	int fd, bad = 0;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			bad = 1;
			continue;
		}
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (got < 2)
				rq->fds[got] = fd;
			else
				(void)close(fd);
			got++;
		}
	}
	return bad || got != 2 || (mh->msg_flags & MSG_CTRUNC) ? -1 : 0;
}

/* sock_recv - the request line with its two fds (the fds ride on the
 * first octets; the rest of the line may follow in later reads) */
static int
sock_recv(int fd, struct sock_req *rq, struct qq_job *job)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} ctl;
	struct iovec iov = {rq->line, sizeof(rq->line)};
	struct msghdr mh;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return queue_fail(job, QQ_READ, n < 0 ? errno : 0, "--socket: no request");
	rq->len = (size_t)n;
	if (take_fds(&mh, rq) < 0)
		return queue_fail(job, QQ_BUG, 0, "--socket: request without exactly two fds");
	while (memchr(rq->line, '\n', rq->len) == NULL && rq->len < sizeof(rq->line)) {
		n = recv(fd, rq->line + rq->len, sizeof(rq->line) - rq->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return queue_fail(job, QQ_BUG, n < 0 ? errno : 0,
			                  "--socket: request cut short");
		rq->len += (size_t)n;
	}
	return QQ_OK;
}

/* pipe_ok - a pipe, opened for reading only */
static bool
pipe_ok(int fd)
{
	struct stat st;
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_ACCMODE) == O_RDONLY && fstat(fd, &st) == 0 &&
	       S_ISFIFO(st.st_mode);
}

/* sock_parse - "mailout-queue/1\n" or "mailout-queue/1 -i ID\n", and
 * nothing else; the fds must be read-only pipes */
static int
sock_parse(struct sock_req *rq, struct qq_job *job)
{
	const size_t m = sizeof(SOCK_MAGIC) - 1, opt = sizeof(" -i ") - 1;
	const char *l = rq->line;

	if (!pipe_ok(rq->fds[0]) || !pipe_ok(rq->fds[1]))
		return queue_fail(job, QQ_BUG, 0, "--socket: the fds are not read-only pipes");
	if (rq->len < m + 1 || memcmp(l, SOCK_MAGIC, m) != 0 || l[rq->len - 1] != '\n' ||
	    memchr(l, '\n', rq->len) != l + rq->len - 1)
		return queue_fail(job, QQ_BUG, 0, "--socket: bad request line");
	if (rq->len == m + 1)
		return QQ_OK;
	if (rq->len != m + opt + QUEUE_ID_LEN + 1 || memcmp(l + m, " -i ", opt) != 0)
		return queue_fail(job, QQ_BUG, 0, "--socket: bad request line");
	memcpy(job->id, l + m + opt, QUEUE_ID_LEN);
	job->id[QUEUE_ID_LEN] = '\0';
	if (!queue_id_valid(job->id)) {
		job->id[0] = '\0';
		return queue_fail(job, QQ_BUG, 0, "--socket: invalid queue ID");
	}
	return QQ_OK;
}

/* sock_req_init - no request, no fds, no peer yet: report() and
 * sock_done() read it even when the arguments were refused first */
static void
sock_req_init(struct sock_req *rq)
{
	memset(rq, 0, sizeof(*rq));
	rq->fds[0] = rq->fds[1] = -1;
	rq->peer.pid = 0;
	rq->peer.uid = (uid_t)-1;
}

/* sock_job - --socket: take the request on fd 0; the job reads the pipes */
static int
sock_job(struct sock_req *rq, struct qq_job *job)
{
	int rc;

	if ((rc = sock_check(0, rq, job)) != QQ_OK)
		return rc;
	reply_fd = 0;
	if ((rc = sock_recv(0, rq, job)) != QQ_OK)
		return rc;
	if ((rc = sock_parse(rq, job)) != QQ_OK)
		return rc;
	job->msgfd = rq->fds[0];
	job->envfd = rq->fds[1];
	return QQ_OK;
}

/* sock_done - the exit-code octet to the client; close the pipes */
static void
sock_done(struct sock_req *rq, int rc)
{
	unsigned char code = (unsigned char)rc;
	ssize_t n;

	if (reply_fd >= 0) {
		do
			n = send(0, &code, 1, MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n != 1)
			log_warn_errno("--socket: unable to send the exit code %d", rc);
	}
	if (rq->fds[0] >= 0)
		(void)close(rq->fds[0]);
	if (rq->fds[1] >= 0)
		(void)close(rq->fds[1]);
}

/* aborted - the caller closed both pipes without an envelope: its
 * client went away, or the message was refused (qmail-queue's way to
 * abort a transaction: exit 91 all the same) */
static bool
aborted(const struct qq_job *job, int rc)
{
	return rc == QQ_BAD_ENVELOPE && job->env.raw.len == 0 &&
	       strcmp(job->why, "envelope refused") == 0;
}

/* report - the one log line of a failure (with the socket client) */
static void
report(const struct qq_job *job, int rc, const struct sock_req *rq)
{
	const char *id = job->id[0] ? job->id : "NOQUEUE";
	struct log_field f[] = {{"QUEUE_ID", job->id[0] ? job->id : NULL}};

	if (aborted(job, rc))
		log_fields(LOG_INFO, f, 1, "%s: not queued: aborted by the client (exit %d)", id,
		           rc);
	else if (rq != NULL)
		log_fields(LOG_WARNING, f, 1,
		           "%s: not queued: %s (exit %d, %s; socket client uid %ld pid %ld)", id,
		           job->why, rc, qq_exit_text(rc), (long)(int)rq->peer.uid,
		           (long)rq->peer.pid);
	else
		log_fields(LOG_WARNING, f, 1, "%s: not queued: %s (exit %d, %s)", id, job->why, rc,
		           qq_exit_text(rc));
}

int
main(int argc, char **argv)
{
	struct qq_job job;
	struct config cfg;
	struct sock_req rq;
	const char *cfile = NULL;
	bool sock = argc > 1 && strcmp(argv[1], "--socket") == 0;
	int rc;

	if (setup_process() < 0)
		return QQ_BUG;
	log_init(argv[0] ? argv[0] : "mailout-queue");
	memset(&cfg, 0, sizeof(cfg));
	qq_job_init(&job);
	sock_req_init(&rq);
	rc = parse_args(argc, argv, sock, &cfile, &job);
	if (rc == QQ_OK && sock)
		rc = sock_job(&rq, &job);
	if (rc == QQ_OK)
		rc = load_config(cfile, &cfg, &job);
	if (rc == QQ_OK)
		rc = queue_run(&job);
	if (rc != QQ_OK)
		report(&job, rc, sock ? &rq : NULL);
	if (sock)
		sock_done(&rq, rc);
	qq_job_free(&job);
	conf_free(&cfg);
	return rc;
}
