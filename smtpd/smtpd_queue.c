/*
 * smtpd_queue.c - hand-off of one message from the receiver to the queue
 *
 * What it is for: the receiver's side of lib/mail_qclient.c.  The
 * queue ID is chosen here so that the Received: header can name it;
 * the config decides whether the message streams to the queue as it
 * arrives or, with content.block_executables, is held in a memfd,
 * sealed at its end, inspected (smtpd_inspect.c) and acted upon as
 * mailout-scan would (smtpd/scan_act.c), and whether mailout-queue is
 * reached over queue.socket.
 * What it must never do: open the spool itself, report success unless
 * the queue program exited 0 (which it does only after fsync and
 * rename), or hand on a held message that was not found clean.
 */
#include "smtpd_queue.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "log.h"
#include "scan.h"
#include "smtpd_inspect.h"

void
queue_init(struct queue_job *q)
{
	qclient_init(&q->qc);
	q->id[0] = '\0';
	q->memfd = -1;
	q->held = q->max = 0;
	q->too_big = q->failed = false;
	q->cfg = NULL;
	q->config_path = NULL;
}

bool
queue_running(const struct queue_job *q)
{
	return q->memfd >= 0 || qclient_running(&q->qc);
}

/* hold_open - the memfd for a message to be inspected at its end */
static enum result
hold_open(struct queue_job *q, struct reply *r)
{
	uint64_t size = q->cfg->limits.message_size;

	q->max = size ? size + SCAN_SIZE_SLACK : SCAN_SIZE_DEFAULT;
	if (scan_memfd_new(&q->memfd) != QQ_OK) {
		q->memfd = -1;
		reply_set(r, 451, ESC_SYSTEM, "Local error in processing");
		return RES_TEMP;
	}
	return RES_OK;
}

enum result
queue_open(struct queue_job *q, const struct config *cfg, const char *config_path, struct reply *r)
{
	struct qclient_opts o = {
	    .id = q->id,
	    .config = config_path,
	    .socket = cfg->queue.socket,
	    .queue_env = true,
	    .reply = true,
	    .timeout = cfg->limits.data_timeout,
	};

	queue_init(q);
	q->cfg = cfg;
	q->config_path = config_path;
	if (queue_id_new(q->id, sizeof(q->id)) < 0) {
		log_warn_errno("unable to make a queue ID");
		q->id[0] = '\0';
		reply_set(r, 451, ESC_SYSTEM, "Local error in processing");
		return RES_TEMP;
	}
	if (cfg->content.block_executables)
		return hold_open(q, r);
	return qclient_open(&q->qc, &o, r);
}

/* hold_write - append to the held message, within q->max */
static void
hold_write(struct queue_job *q, const void *p, size_t n)
{
	if (q->failed || q->too_big)
		return;
	if (n > q->max - q->held) {
		log_warn("%s: message larger than %llu octets: refused", q->id,
		         (unsigned long long)q->max);
		q->too_big = true;
		return;
	}
	if (scan_memfd_append(q->memfd, p, n) < 0) {
		log_warn_errno("%s: writing the message to memory", q->id);
		q->failed = true;
		return;
	}
	q->held += n;
}

void
queue_write(struct queue_job *q, const void *p, size_t n)
{
	if (q->memfd >= 0)
		hold_write(q, p, n);
	else
		(void)qclient_write(&q->qc, p, n);
}

/* rcpt_array - the "addr\0addr\0..." list as an array (free it); NULL
 * when out of memory */
static const char **
rcpt_array(const char *list, size_t len, size_t *n)
{
	const char **v;
	size_t i, k = 0;

	*n = 0;
	for (i = 0; i < len; i++)
		if (list[i] == '\0')
			(*n)++;
	if ((v = calloc(*n ? *n : 1, sizeof(*v))) == NULL)
		return NULL;
	for (i = 0; i < len && k < *n; i += strlen(list + i) + 1)
		v[k++] = list + i;
	return v;
}

/* hold_act - inspect the sealed message and act on the verdict */
static void
hold_act(struct queue_job *q, const char *msg, const char *sender, const char *rcpts,
         size_t rcpts_len, struct reply *r)
{
	struct scan_job j = {
	    .cfg = q->cfg,
	    .id = q->id,
	    .msg = msg,
	    .len = (size_t)q->held,
	    .sender = sender,
	    .hop =
	        {
	            .config = q->config_path,
	            .socket = q->cfg->queue.socket,
	            .queue_env = true,
	            .reply = true,
	            .timeout = q->cfg->limits.data_timeout,
	        },
	};
	struct scan_verdict v;
	const char **v_rcpts;

	if (inspect_message(q->memfd, msg, j.len, &v) != RES_OK) {
		qclient_exit_reply(QQ_TEMP, q->id, r);
		return;
	}
	if ((v_rcpts = rcpt_array(rcpts, rcpts_len, &j.n_rcpts)) == NULL) {
		log_warn("%s: out of memory for the envelope", q->id);
		qclient_exit_reply(QQ_NOMEM, q->id, r);
		return;
	}
	j.rcpts = v_rcpts;
	(void)scan_act(&j, &v, r);
	free(v_rcpts);
}

/* hold_commit - seal the held message, inspect, act; then drop it */
static enum result
hold_commit(struct queue_job *q, const char *sender, const char *rcpts, size_t rcpts_len,
            struct reply *r)
{
	const char *msg;

	if (q->too_big)
		reply_set(r, 552, ESC_MSG_TOO_BIG, "Message size exceeds fixed limit");
	else if (q->failed || scan_memfd_seal(q->memfd, (size_t)q->held, &msg) != QQ_OK)
		reply_set(r, 451, ESC_SYSTEM, "Local error in processing");
	else {
		hold_act(q, msg, sender, rcpts, rcpts_len, r);
		if (q->held > 0)
			(void)munmap((void *)msg, (size_t)q->held);
	}
	queue_abort(q);
	return reply_result(r);
}

enum result
queue_commit(struct queue_job *q, const char *sender, const char *rcpts, size_t rcpts_len,
             struct reply *r)
{
	if (q->memfd >= 0)
		return hold_commit(q, sender, rcpts, rcpts_len, r);
	return qclient_commit(&q->qc, sender, rcpts, rcpts_len, r);
}

void
queue_abort(struct queue_job *q)
{
	if (q->memfd >= 0) {
		(void)close(q->memfd);
		q->memfd = -1;
		return;
	}
	qclient_abort(&q->qc);
}

void
queue_exit_reply(int status, const char *id, struct reply *r)
{
	qclient_exit_reply(status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1, id, r);
}
