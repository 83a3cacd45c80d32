/*
 * queue_sock.c - mailout-queue --socket: take one client's request
 *
 * What it is for: the request of the protocol in queue_main.c, on fd 0
 * (a connected unix stream socket): the line, checked byte for byte,
 * and the two pipes passed with it (SCM_RIGHTS); then the exit-code
 * octet back.  The same code serves one connection per process (inetd,
 * Accept=yes) and each child of the service (queue_server.c).
 * What it must never do: take more than two fds, keep one that is not
 * a read-only pipe, read past the request line, or let the client name
 * a config, a spool or a path (only a queue ID of the exact syntax).
 */
#include "queue_sock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* The connection, for the exit-code octet; -1 until the request is taken. */
static volatile sig_atomic_t reply_fd = -1;

void
sock_alarm_reply(void)
{
	unsigned char code = QQ_READ;

	if (reply_fd >= 0)
		(void)send(reply_fd, &code, 1, MSG_NOSIGNAL);
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

int
sock_request_parse(const char *l, size_t len, char id[QUEUE_ID_LEN + 1])
{
	const size_t m = sizeof(SOCK_MAGIC) - 1, opt = sizeof(" -i ") - 1;

	id[0] = '\0';
	if (len < m + 1 || memcmp(l, SOCK_MAGIC, m) != 0 || l[len - 1] != '\n' ||
	    memchr(l, '\n', len) != l + len - 1)
		return -1;
	if (len == m + 1)
		return 0;
	if (len != m + opt + QUEUE_ID_LEN + 1 || memcmp(l + m, " -i ", opt) != 0)
		return -1;
	memcpy(id, l + m + opt, QUEUE_ID_LEN);
	id[QUEUE_ID_LEN] = '\0';
	if (!queue_id_valid(id)) {
		id[0] = '\0';
		return -2;
	}
	return 0;
}

/* sock_parse - the request line (sock_request_parse); the fds must be
 * read-only pipes */
static int
sock_parse(struct sock_req *rq, struct qq_job *job)
{
	int r;

	if (!pipe_ok(rq->fds[0]) || !pipe_ok(rq->fds[1]))
		return queue_fail(job, QQ_BUG, 0, "--socket: the fds are not read-only pipes");
	r = sock_request_parse(rq->line, rq->len, job->id);
	if (r == -2)
		return queue_fail(job, QQ_BUG, 0, "--socket: invalid queue ID");
	if (r < 0)
		return queue_fail(job, QQ_BUG, 0, "--socket: bad request line");
	return QQ_OK;
}

/* sock_req_init - no request, no fds, no peer yet: report() and
 * sock_done() read it even when the arguments were refused first */
void
sock_req_init(struct sock_req *rq)
{
	memset(rq, 0, sizeof(*rq));
	reply_fd = -1; /* no octet for this job before its request */
	rq->fds[0] = rq->fds[1] = -1;
	rq->peer.pid = 0;
	rq->peer.uid = (uid_t)-1;
}

/* sock_job - --socket: take the request on fd 0; the job reads the pipes */
int
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
void
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
