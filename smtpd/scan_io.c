/*
 * scan_io.c - the sealed message, and mailout-scan's side of the
 * qmail-queue protocol
 *
 * What it is for: the memfd a message is held in and sealed, so that
 * what was inspected is byte for byte what mailout-queue stores (both
 * mailout-smtpd and mailout-scan fill one), and how it is passed to
 * another process (SCM_RIGHTS, with a fixed-size request); mailout-scan's reading of
 * the message (fd 0) and the envelope (fd 1), the choice of its next
 * hop, and the reply line it leaves the receiver on fd 3.
 * What it must never do: hold more than the size limit, write the
 * spool itself, or let the queue program inherit fd 3 or our sandbox.
 */
#include "scan.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "mail_spool.h"
#include "timefmt.h"

#ifndef MAILOUT_SBINDIR
#define MAILOUT_SBINDIR "/usr/local/sbin"
#endif

#define CHUNK 65536

/* write_all - the whole buffer; -1 on error */
static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* read_some - one read(), riding out EINTR */
static ssize_t
read_some(int fd, char *p, size_t n)
{
	ssize_t r;

	do
		r = read(fd, p, n);
	while (r < 0 && errno == EINTR);
	return r;
}

/* fill - fd 0 into the memfd; QQ_OK or an exit code */
static int
fill(int in, int fd, uint64_t max, size_t *len)
{
	static char chunk[CHUNK];
	uint64_t total = 0;
	ssize_t r;

	while ((r = read_some(in, chunk, sizeof(chunk))) > 0) {
		total += (uint64_t)r;
		if (total > max) {
			log_warn("message larger than %llu octets: refused",
			         (unsigned long long)max);
			return QQ_PERM;
		}
		if (write_all(fd, chunk, (size_t)r) < 0) {
			log_warn_errno("writing the message to memory");
			return errno == ENOMEM || errno == ENOSPC ? QQ_NOMEM : QQ_WRITE;
		}
	}
	if (r < 0) {
		log_warn_errno("reading the message");
		return QQ_READ;
	}
	*len = (size_t)total;
	return QQ_OK;
}

int
scan_memfd_new(int *memfd)
{
	if ((*memfd = memfd_create("mailout-message", MFD_CLOEXEC | MFD_ALLOW_SEALING)) < 0) {
		log_warn_errno("memfd_create");
		return QQ_NOMEM;
	}
	return QQ_OK;
}

int
scan_memfd_append(int memfd, const char *p, size_t n)
{
	return write_all(memfd, p, n);
}

int
scan_memfd_seal(int memfd, size_t len, const char **map)
{
	void *m;

	/* sealed: neither we, the inspection nor the queue program can
	 * change what was inspected */
	if (fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) <
	    0) {
		log_warn_errno("sealing the message");
		return QQ_BUG;
	}
	m = len > 0 ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, memfd, 0) : (void *)"";
	if (m == MAP_FAILED) {
		log_warn_errno("mapping the message");
		return QQ_NOMEM;
	}
	*map = m;
	return QQ_OK;
}

/* One fd in a control message. */
union fd_control {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int))];
};

int
scan_fd_send(int sock, const void *p, size_t n, int fd)
{
	union fd_control ctl;
	struct iovec iov = {(void *)p, n};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;
	ssize_t w;

	memset(&ctl, 0, sizeof(ctl));
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	do
		w = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	return w == (ssize_t)n ? 0 : -1;
}

int
scan_fd_recv(int sock, void *p, size_t n, int *fd)
{
	union fd_control ctl;
	struct iovec iov = {p, n};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;
	ssize_t got;

	*fd = -1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	do
		got = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (got < 0 && errno == EINTR);
	if (got <= 0)
		return (int)got;
	c = CMSG_FIRSTHDR(&mh);
	if (c != NULL && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(fd, CMSG_DATA(c), sizeof(*fd));
	if (got == (ssize_t)n && *fd >= 0 && !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		return 1;
	if (*fd >= 0)
		(void)close(*fd);
	*fd = -1;
	errno = EPROTO;
	return -1;
}

/* readable - poll sock until it can be read or the deadline passes;
 * 0, or -1 with errno */
static int
readable(int sock, long long until)
{
	struct pollfd p = {sock, POLLIN, 0};
	long long left;
	int rc;

	for (;;) {
		if ((left = until - mono_ms()) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if ((rc = poll(&p, 1, (int)left)) < 0 && errno != EINTR)
			return -1;
		if (rc > 0)
			return 0;
	}
}

int
scan_record_wait(int sock, void *p, size_t n, long long until)
{
	ssize_t got;

	if (readable(sock, until) < 0)
		return -1;
	do /* MSG_TRUNC: the record's real length, longer ones are refused */
		got = recv(sock, p, n, MSG_TRUNC | MSG_DONTWAIT);
	while (got < 0 && errno == EINTR);
	if (got == (ssize_t)n)
		return 0;
	if (got >= 0)
		errno = EPROTO;
	return -1;
}

int
scan_read_message(int in, uint64_t max, int *memfd, const char **map, size_t *len)
{
	int fd, rc;

	if ((rc = scan_memfd_new(&fd)) != QQ_OK)
		return rc;
	if ((rc = fill(in, fd, max, len)) != QQ_OK ||
	    (rc = scan_memfd_seal(fd, *len, map)) != QQ_OK) {
		close(fd);
		return rc;
	}
	*memfd = fd;
	return QQ_OK;
}

int
scan_read_envelope(int in, struct buf *raw)
{
	static char chunk[CHUNK];
	ssize_t r;

	buf_init(raw, ENVELOPE_RAW_MAX);
	while ((r = read_some(in, chunk, sizeof(chunk))) > 0)
		if (buf_append(raw, chunk, (size_t)r) < 0) {
			log_warn("envelope too long");
			return errno == E2BIG ? QQ_BAD_ENVELOPE : QQ_NOMEM;
		}
	if (r < 0) {
		log_warn_errno("reading the envelope");
		return QQ_READ;
	}
	return QQ_OK;
}

/* same_file - do two paths name one file? */
static bool
same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

const char *
scan_queue_program(const struct config *cfg)
{
	const char *p = getenv("MAILOUT_SCAN_QUEUE");

	if (p && p[0])
		return p;
	p = getenv("MAILOUT_QUEUE");
	/* installed as $MAILOUT_QUEUE itself (as qmail's QMAILQUEUE
	 * filters are): the next program is not named by it */
	if (p && p[0] && !same_file(p, "/proc/self/exe"))
		return p;
	if (cfg->queue.socket && cfg->queue.socket[0])
		return NULL;
	return MAILOUT_SBINDIR "/mailout-queue";
}

void
scan_tell_receiver(const char *line)
{
	struct stat st;
	char out[600];

	if (fstat(3, &st) < 0 || !S_ISFIFO(st.st_mode))
		return;
	if (bounded_format(out, sizeof(out), "%s\n", line) < 0 ||
	    write_all(3, out, strlen(out)) < 0)
		log_warn_errno("writing the reply to fd 3");
}
