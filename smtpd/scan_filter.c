/*
 * scan_filter.c - mailout-scan's one job: read, inspect, act
 *
 * What it is for: the order of things in the filter.  Read the message
 * and the envelope (the qmail-queue protocol), inspect the message in
 * the confined child (ended at once: there is no second message), then
 * act on the verdict (scan_act.c: queue the same sealed bytes, refuse,
 * or queue a notification) and exit with the code that gives; a
 * refusal's reply line goes to fd 3 for the receiver
 * (scan_tell_receiver).
 * What it must never do: queue a message that was not inspected, or
 * answer 0 unless something was durably queued (scan_act.c).
 */
#include "scan.h"

#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "mail_spool.h"

/* inspect_and_act - the verdict on the message in memfd and what
 * follows from it */
static int
inspect_and_act(const struct scan_job *j, int memfd)
{
	struct scan_verdict v;
	struct reply r;
	char line[REPLY_TEXT_MAX + 16];
	enum result got;
	int rc;

	got = scan_isolated(memfd, j->msg, j->len, &v);
	scan_inspector_stop(); /* one message per process: not kept */
	if (got != RES_OK)
		return QQ_TEMP;
	rc = scan_act(j, &v, &r);
	if (rc == QQ_PERM && reply_format(&r, line, sizeof(line)) == 0)
		scan_tell_receiver(line);
	return rc;
}

/* report_envelope - an envelope mailout-queue would refuse as well: an
 * empty one (EOF on fd 1 before any octet) is how the caller aborts
 * (its client went away, or the message was refused), logged quietly as
 * mailout-queue does; exit 91 all the same */
static void
report_envelope(const char *qid, int rc, size_t len)
{
	if (rc == QQ_BAD_ENVELOPE && len == 0)
		log_info("%s: not queued: aborted by the client (exit %d)", qid, rc);
	else
		log_warn("%s: bad envelope", qid);
}

int
scan_filter(const struct config *cfg, const char *cfile, const char *id, bool inspect)
{
	uint64_t max = cfg->limits.message_size ? cfg->limits.message_size + SCAN_SIZE_SLACK
	                                        : SCAN_SIZE_DEFAULT;
	const char *qid = id ? id : "NOQUEUE", *msg = NULL;
	struct envelope env;
	struct scan_job job;
	struct reply r;
	struct buf raw;
	size_t len = 0;
	int fd = -1, rc;

	envelope_init(&env);
	buf_init(&raw, 0);
	if ((rc = scan_read_message(0, max, &fd, &msg, &len)) != QQ_OK)
		goto out;
	if ((rc = scan_read_envelope(1, &raw)) != QQ_OK)
		goto out;
	alarm(0);
	if ((rc = envelope_parse(&env, raw.s ? raw.s : "", raw.len)) != QQ_OK) {
		report_envelope(qid, rc, raw.len);
		goto out;
	}
	job = (struct scan_job){
	    .cfg = cfg,
	    .id = id,
	    .msg = msg,
	    .len = len,
	    .sender = env.sender,
	    .rcpts = (const char *const *)env.rcpts,
	    .n_rcpts = env.n_rcpts,
	    .hop = {.config = cfile,
	            .program = scan_queue_program(cfg),
	            .socket = cfg->queue.socket},
	};
	if (inspect)
		rc = inspect_and_act(&job, fd);
	else
		rc = scan_hand_on(&job, id, msg, len, env.sender, job.rcpts, env.n_rcpts, &r);
out:
	if (fd >= 0) {
		if (len > 0)
			(void)munmap((void *)msg, len);
		close(fd);
	}
	envelope_free(&env);
	buf_free(&raw);
	return rc;
}
