/*
 * spool_act.c - mailout-spool: delete, hold, release, retry one message
 *
 * What it is for: the admin's hands on the spool.  Each action takes
 * the same lock mailout-deliver takes on the message file (flock
 * LOCK_EX, non-blocking) and checks that the name still leads to the
 * locked inode, as deliver_msg.c does; a message being delivered is
 * "busy" (exit 75, try again) and is never touched.  Moves are renames
 * (RENAME_NOREPLACE) followed by fsync of both directories; the state
 * file is changed only through mail_state's atomic state_save().
 *
 *   delete   unlink ID from its directory, then state/ID
 *   hold     new/ or deferred/ -> hold/ (mailout-deliver skips hold/)
 *   release  hold/ -> deferred/, next attempt now
 *   retry    deferred/: next attempt now; hold/: as release; new/: due
 *
 * What it must never do: act without the lock, replace an existing
 * file, or leave a message half-moved (a crash leaves the old name or
 * the new one, never neither).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "spool.h"

/* say - the admin's line; returns code */
static int
say(char *msg, size_t msgsize, int code, const char *id, const char *what)
{
	(void)bounded_format(msg, msgsize, "%s: %s", id, what);
	return code;
}

/* move - rename ID between state directories, durably */
static int
move(const struct spool_dirs *d, enum spool_state from, enum spool_state to, const char *id)
{
	if (renameat2(d->dir[from], id, d->dir[to], id, RENAME_NOREPLACE) < 0)
		return -1;
	if (fsync(d->dir[to]) < 0 || fsync(d->dir[from]) < 0)
		return -1;
	return 0;
}

/* due_now - next attempt now, if a state file says otherwise */
static int
due_now(const struct spool_dirs *d, const char *id, int64_t now)
{
	struct mail_state st;
	int bad, r = 0;

	state_init(&st);
	if (state_load(d->state, id, &st, &bad) != RES_OK)
		r = -1;
	else if (st.next_attempt > now) {
		st.next_attempt = now;
		if (state_save(d->state, id, &st) != RES_OK)
			r = -1;
	}
	state_free(&st);
	return r;
}

/* locked - open and lock where/id; -1 busy/vanished (msg, code set) */
static int
locked(const struct spool_dirs *d, enum spool_state where, const char *id, int *code, char *msg,
       size_t msgsize)
{
	struct stat a, b;
	int fd = openat(d->dir[where], id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		*code = say(msg, msgsize, errno == ENOENT ? EX_TEMPFAIL : EX_IOERR, id,
		            errno == ENOENT ? "moved while looking; try again" : strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		*code = say(msg, msgsize, EX_TEMPFAIL, id,
		            errno == EWOULDBLOCK ? "busy: being delivered now; try again"
		                                 : strerror(errno));
		(void)close(fd);
		return -1;
	}
	if (fstat(fd, &a) < 0 || fstatat(d->dir[where], id, &b, AT_SYMLINK_NOFOLLOW) < 0 ||
	    a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
		*code = say(msg, msgsize, EX_TEMPFAIL, id, "moved while locking; try again");
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* act - the action itself, with the lock held */
static int
act(const struct spool_dirs *d, enum spool_action a, enum spool_state where, const char *id,
    int64_t now, char *msg, size_t msgsize)
{
	switch (a) {
	case ACT_DELETE:
		if (unlinkat(d->dir[where], id, 0) < 0 || fsync(d->dir[where]) < 0 ||
		    state_remove(d->state, id) != RES_OK)
			break;
		return say(msg, msgsize, EX_OK, id, "deleted");
	case ACT_HOLD:
		if (where == SPOOL_HELD)
			return say(msg, msgsize, EX_OK, id, "already held");
		if (move(d, where, SPOOL_HELD, id) < 0)
			break;
		return say(msg, msgsize, EX_OK, id, "held");
	case ACT_RELEASE:
	case ACT_RETRY:
		if (where == SPOOL_QUEUED)
			return say(msg, msgsize, EX_OK, id, "queued: due already");
		if (where == SPOOL_DEFERRED && a == ACT_RELEASE)
			return say(msg, msgsize, EX_OK, id, "not held");
		if (due_now(d, id, now) < 0)
			break;
		if (where == SPOOL_HELD && move(d, SPOOL_HELD, SPOOL_DEFERRED, id) < 0)
			break;
		return say(msg, msgsize, EX_OK, id,
		           where == SPOOL_HELD ? "released: deferred, due now" : "due now");
	}
	return say(msg, msgsize, errno == ENOSPC ? EX_TEMPFAIL : EX_IOERR, id, strerror(errno));
}

int
spool_act(const struct spool_dirs *d, enum spool_action a, const char *id, int64_t now, char *msg,
          size_t msgsize)
{
	enum spool_state where;
	int fd, code = EX_OK;

	if (spool_find(d, id, &where) < 0)
		return say(msg, msgsize, EX_NOINPUT, id, "no such message in the spool");
	if ((fd = locked(d, where, id, &code, msg, msgsize)) < 0)
		return code;
	code = act(d, a, where, id, now, msg, msgsize);
	(void)close(fd); /* the lock goes after the change is durable */
	return code;
}
