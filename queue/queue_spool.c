/*
 * queue_spool.c - mailout-queue's output side: one spool file, committed
 * maildir-style (tmp/ID, fsync, rename to new/ID, fsync new/)
 *
 * The commit states and what a crash in each leaves are the table in
 * queue_main.c.  The order of the steps is what makes them true.
 * What it must never do: replace an existing file (every name is
 * created with O_EXCL, every rename is RENAME_NOREPLACE), leave a
 * half-written file under new/, or return QQ_OK before the file and the
 * directory entry are on disk.
 */
#include "queue_job.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_MODE 0750
#define FILE_MODE 0640
#define PATH_LEN (sizeof(SPOOL_DIR_DEFERRED) + 1 + QUEUE_ID_LEN + 1)

void
qq_job_init(struct qq_job *job)
{
	memset(job, 0, sizeof(*job));
	job->msgfd = 0;
	job->envfd = 1;
	job->spoolfd = job->tmpfd = job->newfd = -1;
	queue_msg_init(&job->msg, 0);
	envelope_init(&job->env);
}

/* close_fd - close if open */
static void
close_fd(int *fd)
{
	if (*fd >= 0)
		(void)close(*fd);
	*fd = -1;
}

void
qq_job_free(struct qq_job *job)
{
	queue_msg_free(&job->msg);
	envelope_free(&job->env);
	close_fd(&job->tmpfd);
	close_fd(&job->newfd);
	close_fd(&job->spoolfd);
}

int
queue_fail(struct qq_job *job, int code, int err, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	(void)vsnprintf(job->why, sizeof(job->why), fmt, ap);
	va_end(ap);
	len = strlen(job->why);
	if (err != 0 && len < sizeof(job->why))
		(void)snprintf(job->why + len, sizeof(job->why) - len, ": %s", strerror(err));
	return code;
}

/* open_subdir - open (creating if missing and allowed) a spool subdirectory */
static int
open_subdir(struct qq_job *job, const char *name, int *fd)
{
	if (mkdirat(job->spoolfd, name, DIR_MODE) < 0 && errno != EEXIST)
		return queue_fail(job, QQ_CONFIG, errno, "unable to create %s/%s", job->spool,
		                  name);
	*fd = openat(job->spoolfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0)
		return queue_fail(job, QQ_CONFIG, errno, "unable to open %s/%s", job->spool, name);
	return QQ_OK;
}

/* open_spool - the spool directory must exist; tmp/ and new/ are made */
static int
open_spool(struct qq_job *job)
{
	int rc;

	job->spoolfd = open(job->spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (job->spoolfd < 0)
		return queue_fail(job, QQ_CONFIG, errno, "unable to open spool %s", job->spool);
	if ((rc = open_subdir(job, SPOOL_DIR_TMP, &job->tmpfd)) != QQ_OK)
		return rc;
	return open_subdir(job, SPOOL_DIR_NEW, &job->newfd);
}

/* id_in_use - does any spool directory already hold this ID?  Only a
 * caller-chosen ID (-i) can collide; O_EXCL and RENAME_NOREPLACE are
 * what really guard, this check keeps deferred/ and hold/ clean too. */
static bool
id_in_use(struct qq_job *job)
{
	static const char *const dirs[] = {SPOOL_DIR_TMP, SPOOL_DIR_NEW, SPOOL_DIR_DEFERRED,
	                                   SPOOL_DIR_HOLD, SPOOL_DIR_STATE};
	char path[PATH_LEN];
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (bounded_format(path, sizeof(path), "%s/%s", dirs[i], job->id) < 0)
			return true;
		if (fstatat(job->spoolfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
			return true;
	}
	return false;
}

/* write_file - S2: create tmp/ID, envelope block + message; S3: fsync */
static int
write_file(struct qq_job *job, int fd)
{
	struct buf head = BUF_INIT(ENVELOPE_RAW_MAX * 2);
	int rc = QQ_OK;

	if (spool_format_envelope(&head, job->id, time(NULL), &job->env) < 0)
		rc = errno == ENOMEM ? queue_fail(job, QQ_NOMEM, 0, "out of memory")
		                     : queue_fail(job, QQ_BUG, errno, "unable to format envelope");
	else if ((rc = queue_msg_write(&job->msg, head.s, head.len, fd)) != QQ_OK)
		rc = queue_fail(job, rc, errno, "unable to write tmp/%s", job->id);
	else if (fsync(fd) < 0)
		rc = queue_fail(job, QQ_WRITE, errno, "unable to fsync tmp/%s", job->id);
	buf_free(&head);
	return rc;
}

/* create_tmp - O_EXCL: an existing name is never reused */
static int
create_tmp(struct qq_job *job, int *fd)
{
	int err;

	*fd = openat(job->tmpfd, job->id, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	             FILE_MODE);
	if (*fd >= 0) {
		job->tmp_created = true;
		return QQ_OK;
	}
	err = errno;
	if (err == EEXIST)
		return queue_fail(job, QQ_TEMP, err, "tmp/%s", job->id);
	if (err == EACCES || err == EPERM || err == ENOENT)
		return queue_fail(job, QQ_CONFIG, err, "unable to create tmp/%s", job->id);
	return queue_fail(job, queue_errno_code(err), err, "unable to create tmp/%s", job->id);
}

/* move_new - S4: tmp/ID -> new/ID without ever replacing new/ID */
static int
move_new(struct qq_job *job)
{
	if (renameat2(job->tmpfd, job->id, job->newfd, job->id, RENAME_NOREPLACE) == 0) {
		job->tmp_created = false;
		return QQ_OK;
	}
	if (errno == EEXIST)
		return queue_fail(job, QQ_TEMP, EEXIST, "new/%s", job->id);
	if (errno != EINVAL && errno != ENOSYS)
		return queue_fail(job, QQ_WRITE, errno, "unable to rename tmp/%s", job->id);
	/* no RENAME_NOREPLACE here: link() refuses an existing name too */
	if (linkat(job->tmpfd, job->id, job->newfd, job->id, 0) < 0)
		return queue_fail(job, errno == EEXIST ? QQ_TEMP : QQ_WRITE, errno,
		                  "unable to link new/%s", job->id);
	if (unlinkat(job->tmpfd, job->id, 0) == 0)
		job->tmp_created = false;
	return QQ_OK;
}

/* commit - S2..S5; on failure nothing of ours is left visible */
static int
commit(struct qq_job *job)
{
	int fd = -1, rc;

	if (id_in_use(job))
		return queue_fail(job, QQ_TEMP, 0, "queue ID already in use");
	if ((rc = create_tmp(job, &fd)) != QQ_OK)
		return rc;
	rc = write_file(job, fd);
	if (close(fd) < 0 && rc == QQ_OK)
		rc = queue_fail(job, QQ_WRITE, errno, "unable to close tmp/%s", job->id);
	if (rc == QQ_OK)
		rc = move_new(job);
	if (rc == QQ_OK && fsync(job->newfd) < 0) {
		rc = queue_fail(job, QQ_WRITE, errno, "unable to fsync %s/new", job->spool);
		/* XXX the caller will retry; take the file back so the retry is
		 * not a duplicate (mailout-deliver may, rarely, have seen it) */
		(void)unlinkat(job->newfd, job->id, 0);
	}
	if (job->tmp_created && unlinkat(job->tmpfd, job->id, 0) == 0)
		job->tmp_created = false;
	return rc;
}

/* read_input - the message (fd 0) then the envelope (fd 1), under a timer */
static int
read_input(struct qq_job *job)
{
	int rc;

	(void)alarm(QUEUE_READ_TIMEOUT);
	rc = queue_read_message(job);
	if (rc == QQ_OK)
		rc = queue_read_envelope(job);
	(void)alarm(0);
	return rc;
}

int
queue_run(struct qq_job *job)
{
	int rc;

	job->msg.max = job->max_size;
	if (job->id[0] == '\0' && queue_id_new(job->id, sizeof(job->id)) < 0)
		return queue_fail(job, QQ_TEMP, errno, "unable to make a queue ID");
	if (!queue_id_valid(job->id))
		return queue_fail(job, QQ_BUG, 0, "invalid queue ID");
	if ((rc = open_spool(job)) != QQ_OK)
		return rc;
	if ((rc = read_input(job)) != QQ_OK)
		return rc;
	if (job->msg.too_big)
		return queue_fail(job, QQ_PERM, 0, "message too big (%llu bytes, limit %llu)",
		                  (unsigned long long)job->msg.size,
		                  (unsigned long long)job->max_size);
	return commit(job);
}
