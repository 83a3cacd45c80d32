/*
 * queue_msg.c - mailout-queue's input side: the message on fd 0 and the
 * envelope on fd 1
 *
 * The message comes before the envelope, but the spool file starts
 * with the envelope, so the message is held: in memory up to
 * QUEUE_MEM_MAX, beyond that in an unnamed O_TMPFILE in tmp/ on the
 * spool's own file system (so a full disk shows up here, and a crash
 * leaves nothing behind).  CRLF becomes LF on the way in, so every spool
 * file has LF line endings; a bare CR and NUL bytes are kept as they
 * are, as qmail-queue keeps them.
 * What it must never do: hold more than QUEUE_MEM_MAX of message or
 * ENVELOPE_RAW_MAX of envelope in memory, or create a named file.
 */
#include "queue_job.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define CHUNK 65536

void
queue_msg_init(struct queue_msg *m, uint64_t max)
{
	buf_init(&m->mem, QUEUE_MEM_MAX);
	m->fd = -1;
	m->size = 0;
	m->max = max;
	m->too_big = false;
	m->cr = false;
}

void
queue_msg_free(struct queue_msg *m)
{
	buf_free(&m->mem);
	if (m->fd >= 0)
		(void)close(m->fd);
	m->fd = -1;
}

int
queue_write_all(int fd, const void *p, size_t n)
{
	const char *s = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, s, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int
queue_errno_code(int err)
{
	return err == ENOMEM ? QQ_NOMEM : QQ_WRITE;
}

/* open_scratch - an unnamed file in tmpdir (O_TMPFILE) */
static int
open_scratch(int tmpdir)
{
	int fd = openat(tmpdir, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	/* XXX no fallback to a named, unlinked file: every file system
	 * Debian offers for /var has O_TMPFILE; without it we fail (53). */
	return fd;
}

/* spill - move the memory part to a scratch file; from now on all goes there */
static int
spill(struct queue_msg *m, int tmpdir)
{
	if ((m->fd = open_scratch(tmpdir)) < 0)
		return queue_errno_code(errno);
	if (queue_write_all(m->fd, m->mem.s ? m->mem.s : "", m->mem.len) < 0)
		return queue_errno_code(errno);
	buf_free(&m->mem);
	return QQ_OK;
}

/* put - store canonical bytes, within max */
static int
put(struct queue_msg *m, int tmpdir, const char *p, size_t n)
{
	int rc;

	m->size += n;
	if (m->max && m->size > m->max)
		m->too_big = true;
	if (m->too_big || n == 0)
		return QQ_OK; /* read on to EOF, refuse once at the end */
	if (m->fd < 0 && n <= QUEUE_MEM_MAX - m->mem.len)
		return buf_append(&m->mem, p, n) < 0 ? QQ_NOMEM : QQ_OK;
	if (m->fd < 0 && (rc = spill(m, tmpdir)) != QQ_OK)
		return rc;
	return queue_write_all(m->fd, p, n) < 0 ? queue_errno_code(errno) : QQ_OK;
}

int
queue_msg_add(struct queue_msg *m, int tmpdir, const char *in, size_t n)
{
	char out[CHUNK + 1];
	size_t i, k = 0;
	int rc;

	while (n > 0) {
		size_t step = n < CHUNK ? n : CHUNK;

		for (i = 0, k = 0; i < step; i++) {
			if (m->cr && in[i] != '\n')
				out[k++] = '\r'; /* a bare CR stays */
			m->cr = in[i] == '\r';
			if (!m->cr)
				out[k++] = in[i];
		}
		if ((rc = put(m, tmpdir, out, k)) != QQ_OK)
			return rc;
		in += step;
		n -= step;
	}
	return QQ_OK;
}

int
queue_msg_finish(struct queue_msg *m, int tmpdir)
{
	if (!m->cr)
		return QQ_OK;
	m->cr = false;
	return put(m, tmpdir, "\r", 1);
}

/* write_two - head and body in one writev(2), riding out EINTR and short
 * writes (the spool file gets one write for a message held in memory) */
static int
write_two(int fd, const char *a, size_t na, const char *b, size_t nb)
{
	struct iovec iov[2] = {{(void *)a, na}, {(void *)b, nb}};
	struct iovec *v = iov;
	int cnt = 2;
	ssize_t w;

	while (cnt > 0) {
		if (v->iov_len == 0) {
			v++;
			cnt--;
			continue;
		}
		w = writev(fd, v, cnt);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		while (cnt > 0 && (size_t)w >= v->iov_len) {
			w -= (ssize_t)v->iov_len;
			v++;
			cnt--;
		}
		if (cnt > 0) {
			v->iov_base = (char *)v->iov_base + w;
			v->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int
queue_msg_write(struct queue_msg *m, const char *head, size_t head_len, int fd)
{
	char chunk[CHUNK];
	ssize_t r;

	if (m->fd < 0)
		return write_two(fd, head, head_len, m->mem.s ? m->mem.s : "", m->mem.len) < 0
		           ? queue_errno_code(errno)
		           : QQ_OK;
	if (queue_write_all(fd, head, head_len) < 0)
		return queue_errno_code(errno);
	if (lseek(m->fd, 0, SEEK_SET) < 0)
		return QQ_WRITE;
	for (;;) {
		r = read(m->fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return QQ_WRITE; /* our own scratch file: write trouble */
		if (r == 0)
			return QQ_OK;
		if (queue_write_all(fd, chunk, (size_t)r) < 0)
			return queue_errno_code(errno);
	}
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

int
queue_read_message(struct qq_job *job)
{
	char chunk[CHUNK];
	ssize_t r;
	int rc;

	while ((r = read_some(job->msgfd, chunk, sizeof(chunk))) > 0) {
		if ((rc = queue_msg_add(&job->msg, job->tmpfd, chunk, (size_t)r)) != QQ_OK)
			return queue_fail(job, rc, errno, "unable to store the message");
	}
	if (r < 0)
		return queue_fail(job, QQ_READ, errno, "unable to read the message");
	if ((rc = queue_msg_finish(&job->msg, job->tmpfd)) != QQ_OK)
		return queue_fail(job, rc, errno, "unable to store the message");
	return QQ_OK;
}

int
queue_read_envelope(struct qq_job *job)
{
	struct buf raw = BUF_INIT(ENVELOPE_RAW_MAX);
	char chunk[CHUNK];
	ssize_t r;
	int rc = QQ_OK;

	while (rc == QQ_OK && (r = read_some(job->envfd, chunk, sizeof(chunk))) != 0) {
		if (r < 0)
			rc = queue_fail(job, QQ_READ, errno, "unable to read the envelope");
		else if (buf_append(&raw, chunk, (size_t)r) < 0)
			rc = errno == ENOMEM
			         ? queue_fail(job, QQ_NOMEM, 0, "out of memory")
			         : queue_fail(job, QQ_BAD_ENVELOPE, 0,
			                      "envelope too large (too many recipients)");
	}
	if (rc == QQ_OK) {
		rc = envelope_parse(&job->env, raw.s ? raw.s : "", raw.len);
		if (rc != QQ_OK)
			rc = queue_fail(job, rc, 0, "envelope refused");
	}
	buf_free(&raw);
	return rc;
}
