/*
 * deliver_run.c - one run of mailout-deliver over the spool
 *
 * What it is for: finding what is due (all of new/, and the messages in
 * deferred/ whose next attempt has come, or all of deferred/ with
 * --flush; never hold/), then draining that list with up to
 * gateway.connections workers, each with its own gateway session,
 * taking messages from one shared counter.  Each worker adds its
 * recipient outcomes to SPOOL/counters every few seconds and when it
 * is done (lib/mail_state.h: under a lock, as runs overlap).  Also
 * removes tmp/ files older than 36 hours (maildir's rule:
 * mailout-queue's killed leftovers) and state files whose message is
 * gone.
 * What it must never do: run without an end (the watchdog stops taking
 * messages at the deadline and an alarm ends a worker that hangs), or
 * deliver a message twice (deliver_msg.c's lock does the real work).
 */
#include "deliver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"

#define TMP_MAX_AGE (36 * 3600)
#define ORPHAN_AGE 3600
#define TALLY_EVERY 5 /* seconds between additions to SPOOL/counters */

volatile sig_atomic_t deliver_stop;

struct job {
	char id[QUEUE_ID_LEN + 1];
	bool deferred;
};

struct jobs {
	struct job *v;
	size_t n, cap;
};

void
deliver_timeouts_init(struct deliver_timeouts *to, unsigned base)
{
	if (base == 0 || base > GATEWAY_COMMAND_TIMEOUT_MAX)
		base = 300;
	/* RFC 5321 4.5.3.2, as fractions of the 5-minute command timeout:
	 * DATA initiation 2 min, data block 3 min, DATA termination 10 min */
	to->greeting = to->ehlo = to->mail = to->rcpt = base;
	to->data_init = base * 2 / 5 ? base * 2 / 5 : 1;
	to->data_block = base * 3 / 5 ? base * 3 / 5 : 1;
	to->data_done = base * 2;
	to->connect = base / 10 ? base / 10 : 1;
}

void
deliver_tally_flush(struct deliver_ctx *ctx, bool force)
{
	time_t now = time(NULL);

	if (counters_zero(&ctx->tally) || (!force && now - ctx->tally_time < TALLY_EVERY))
		return;
	ctx->tally_time = now;
	if (counters_add(ctx->spool, &ctx->tally) != RES_OK) {
		log_warn_errno("unable to update %s", COUNTERS_FILE);
		return;
	}
	memset(&ctx->tally, 0, sizeof(ctx->tally));
}

/* add_job - remember one due message */
static int
add_job(struct jobs *j, const char *id, bool deferred)
{
	if (j->n == j->cap) {
		size_t ncap = j->cap ? j->cap * 2 : 256;
		struct job *nv = realloc(j->v, ncap * sizeof(*nv));
		if (!nv)
			return -1;
		j->v = nv;
		j->cap = ncap;
	}
	(void)bounded_copy(j->v[j->n].id, sizeof(j->v[j->n].id), id);
	j->v[j->n++].deferred = deferred;
	return 0;
}

/* is_due - a deferred message whose next attempt has come */
static bool
is_due(struct deliver_ctx *ctx, const char *id, time_t now)
{
	struct mail_state st;
	bool due;

	if (ctx->flush)
		return true;
	state_init(&st);
	due = state_load(ctx->dir_state, id, &st, NULL) != RES_OK || st.next_attempt <= now;
	state_free(&st);
	return due;
}

/* scan - the due messages of one directory */
static int
scan(struct deliver_ctx *ctx, int dirfd, bool deferred, struct jobs *j)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	time_t now = time(NULL);

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	rewinddir(d);
	while ((e = readdir(d)))
		if (queue_id_valid(e->d_name) && (!deferred || is_due(ctx, e->d_name, now)) &&
		    add_job(j, e->d_name, deferred) < 0) {
			closedir(d);
			return -1;
		}
	closedir(d);
	return 0;
}

/* by_id - qsort: queue IDs sort by time */
static int
by_id(const void *a, const void *b)
{
	return strcmp(((const struct job *)a)->id, ((const struct job *)b)->id);
}

/* exists_in - does some message directory hold id? */
static bool
exists_in(struct deliver_ctx *ctx, const char *id)
{
	int dirs[] = {ctx->dir_new, ctx->dir_deferred, ctx->dir_hold};
	struct stat st;

	for (size_t i = 0; i < 3; i++)
		if (fstatat(dirs[i], id, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
			return true;
	return false;
}

/* sweep - old tmp/ leftovers; state files without a message */
static void
sweep(struct deliver_ctx *ctx, int dirfd, bool is_tmp)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	time_t now = time(NULL);
	struct dirent *e;
	struct stat st;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(d);
	while ((e = readdir(d))) {
		bool old, orphan;

		if (e->d_name[0] == '.' && (!e->d_name[1] || e->d_name[1] == '.'))
			continue;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		old = now - st.st_mtime > (is_tmp ? TMP_MAX_AGE : ORPHAN_AGE);
		orphan = is_tmp || !queue_id_valid(e->d_name) || !exists_in(ctx, e->d_name);
		if (old && orphan && unlinkat(dirfd, e->d_name, 0) == 0)
			log_info("removed stale %s/%s", is_tmp ? "tmp" : "state", e->d_name);
	}
	closedir(d);
}

/* work - take messages from the shared counter until none is left */
static int
work(struct deliver_ctx *ctx, const struct jobs *j, size_t *next)
{
	struct gw_session s;
	int rc = 0;

	gw_session_init(&s);
	ctx->tally_time = time(NULL);
	alarm((unsigned)(ctx->deadline - time(NULL)) + ctx->to.data_done + 60);
	while (!deliver_stop && time(NULL) < ctx->deadline) {
		size_t i = __atomic_fetch_add(next, 1, __ATOMIC_SEQ_CST);
		const struct job *jb;

		if (i >= j->n)
			break;
		jb = &j->v[i];
		if (deliver_message(ctx, &s, jb->deferred ? ctx->dir_deferred : ctx->dir_new,
		                    jb->deferred ? "deferred" : "new", jb->id) == MSG_ERROR)
			rc = EX_TEMPFAIL;
		deliver_tally_flush(ctx, false);
	}
	gw_close(&s, ctx);
	conn_close(&s.c);
	deliver_tally_flush(ctx, true);
	return rc;
}

/* workers - fork n workers sharing one counter; worst exit code */
static int
workers(struct deliver_ctx *ctx, const struct jobs *j, unsigned n)
{
	size_t *next =
	    mmap(NULL, sizeof(*next), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int rc = 0, status;
	unsigned started = 0;

	if (next == MAP_FAILED)
		return work(ctx, j, &(size_t){0});
	*next = 0;
	for (unsigned i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(work(ctx, j, next));
		if (pid < 0)
			log_warn_errno("fork");
		else
			started++;
	}
	if (started == 0)
		rc = work(ctx, j, next);
	while (started > 0) {
		if (wait(&status) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		started--;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rc = EX_TEMPFAIL;
	}
	munmap(next, sizeof(*next));
	return rc;
}

int
deliver_run(struct deliver_ctx *ctx)
{
	struct jobs j = {0};
	unsigned n = ctx->cfg->gateway.connections ? ctx->cfg->gateway.connections : 1;
	int rc;

	if (ctx->dir_tmp >= 0)
		sweep(ctx, ctx->dir_tmp, true);
	sweep(ctx, ctx->dir_state, false);
	if (scan(ctx, ctx->dir_new, false, &j) < 0 || scan(ctx, ctx->dir_deferred, true, &j) < 0) {
		log_warn_errno("unable to read the spool");
		free(j.v);
		return EX_TEMPFAIL;
	}
	if (j.n > 0)
		qsort(j.v, j.n, sizeof(j.v[0]), by_id);
	if (ctx->verbose)
		log_info("%zu messages due, %u connections", j.n, n);
	if (j.n == 0)
		rc = 0;
	else if (n == 1 || j.n == 1)
		rc = work(ctx, &j, &(size_t){0});
	else
		rc = workers(ctx, &j, n < j.n ? n : (unsigned)j.n);
	free(j.v);
	return rc;
}
