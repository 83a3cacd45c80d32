/*
 * smtpd_queue.c - hand-off of one message from the receiver to the queue
 *
 * What it is for: the receiver's side of lib/mail_qclient.c.  The
 * queue ID is chosen here so that the Received: header can name it;
 * the config decides whether mailout-scan goes first
 * (content.block_executables) and whether mailout-queue is reached
 * over queue.socket.
 * What it must never do: open the spool itself, or report success
 * unless the queue program exited 0 (which it does only after fsync
 * and rename).
 */
#include "smtpd_queue.h"

#include <sys/wait.h>

#include "log.h"

void
queue_init(struct queue_job *q)
{
	qclient_init(&q->qc);
	q->id[0] = '\0';
}

bool
queue_running(const struct queue_job *q)
{
	return qclient_running(&q->qc);
}

enum result
queue_open(struct queue_job *q, const struct config *cfg, const char *config_path, struct reply *r)
{
	struct qclient_opts o = {
	    .id = q->id,
	    .config = config_path,
	    .socket = cfg->queue.socket,
	    .scan = cfg->content.block_executables,
	    .queue_env = true,
	    .reply = true,
	    .timeout = cfg->limits.data_timeout,
	};

	qclient_init(&q->qc);
	if (queue_id_new(q->id, sizeof(q->id)) < 0) {
		log_warn_errno("unable to make a queue ID");
		q->id[0] = '\0';
		reply_set(r, 451, ESC_SYSTEM, "Local error in processing");
		return RES_TEMP;
	}
	return qclient_open(&q->qc, &o, r);
}

void
queue_write(struct queue_job *q, const void *p, size_t n)
{
	(void)qclient_write(&q->qc, p, n);
}

enum result
queue_commit(struct queue_job *q, const char *sender, const char *rcpts, size_t rcpts_len,
             struct reply *r)
{
	return qclient_commit(&q->qc, sender, rcpts, rcpts_len, r);
}

void
queue_abort(struct queue_job *q)
{
	qclient_abort(&q->qc);
}

void
queue_exit_reply(int status, const char *id, struct reply *r)
{
	qclient_exit_reply(status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1, id, r);
}
