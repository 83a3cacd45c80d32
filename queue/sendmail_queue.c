/*
 * sendmail_queue.c - the hand-off from mailout-sendmail to the queue
 *
 * What it is for: mailout-sendmail's side of lib/mail_qclient.c.  The
 * message goes through mailout-scan, as mail from the network does
 * when content.block_executables is set: the campus rule is about mail
 * leaving the host, and cron output or a script's report can carry an
 * attachment as well.  The scanner reads the config itself; with the
 * rule off it passes the message straight on (one exec more, no
 * inspection).  An explicit $MAILOUT_QUEUE replaces the chain.
 * What it must never do: report success before the queue exited 0, or
 * send an envelope after a message that was cut short (an aborted
 * message gets no envelope at all, so mailout-queue discards it).
 */

#include "log.h"
#include "mail_qclient.h"
#include "sendmail.h"

int
sm_queue_open(struct sm_queue *q, const char *path, const char *socket, const char *config,
              const char *id)
{
	struct qclient_opts o = {
	    .id = id,
	    .config = config,
	    .socket = socket,
	    .scan = true,
	    .queue_env = true,
	    .reply = true,
	};
	struct reply r;

	(void)path; /* the same choice as qclient_open's without the scanner */
	return qclient_open(&q->qc, &o, &r) == RES_OK ? 0 : -1;
}

int
sm_queue_write(struct sm_queue *q, const char *p, size_t n)
{
	return qclient_write(&q->qc, p, n);
}

int
sm_queue_finish(struct sm_queue *q, const char *sender, const struct sm_rcpts *r)
{
	struct reply rep;
	char line[REPLY_TEXT_MAX + 16];

	(void)qclient_commitv(&q->qc, sender, (const char *const *)r->v, r->n, &rep);
	if (q->qc.exit == QQ_PERM && reply_format(&rep, line, sizeof(line)) == 0)
		log_warn("%s: not queued: %s", q->qc.id, line);
	return q->qc.exit;
}

void
sm_queue_abort(struct sm_queue *q)
{
	qclient_abort(&q->qc);
}

/* sm_exit_code - qmail-queue's codes as sysexits (lib's one table) */
int
sm_exit_code(int code)
{
	return qclient_exit_sysexit(code);
}
