/*
 * deliver_bounce.c - handing bounces and delay warnings to the queue
 *
 * What it is for: a DSN (lib/mail_dsn.c) enters the spool like any
 * message, through the project's one queue client (lib/mail_qclient.h):
 * the message, then the envelope "F\0T<to>\0\0" (null sender).  The
 * queue is $MAILOUT_QUEUE when set, else mailout-queue --socket when
 * queue.socket is set, else SBINDIR/mailout-queue; never the scanner
 * (a DSN carries headers only, and we wrote it ourselves).
 * Who decided each outcome comes with each recipient (dsn_rcpt.origin,
 * recorded in the state file when the outcome was; lib/mail_dsn.h
 * judges the lines of older deliverers).
 * What it must never do: write the spool itself, report a bounce as
 * queued unless the queue said 0 (the caller keeps the recipient
 * "failed" and tries again on the next run), or name a gateway as the
 * author of a reason it never sent.
 */
#include "deliver.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mail_qclient.h"

/* The name conf.h gives a configuration that was not read from a file. */

/* kind_name - the notification, for log lines */
static const char *
kind_name(enum dsn_kind kind)
{
	if (kind == DSN_DELAYED)
		return "delay";
	return kind == DSN_DOUBLE ? "double bounce" : "bounce";
}

/* hand_off - the DSN in msg to the queue for <to>; RES_OK when queued,
 * with *code the queue's exit code (-1: it died or said nothing) */
static enum result
hand_off(const struct deliver_ctx *ctx, const struct buf *msg, const char *to, int *code)
{
	struct qclient_opts o = {
	    .config = conf_file_for_children(ctx->cfg),
	    .queue_env = true,
	    .socket = ctx->cfg->queue.socket,
	};
	struct qclient q;
	struct reply r;
	enum result res;

	*code = -1;
	if (qclient_open(&q, &o, &r) != RES_OK)
		return RES_TEMP;
	/* a failed write is latched: the commit then sends no envelope */
	(void)qclient_write(&q, msg->s, msg->len);
	res = qclient_commitv(&q, "", &to, 1, &r);
	*code = q.exit;
	return res == RES_OK && q.exit == 0 ? RES_OK : RES_TEMP;
}

/* bounce_queue - build the DSN and queue it; RES_OK only when queued */
enum result
bounce_queue(struct deliver_ctx *ctx, const struct msg_job *m, const struct dsn_rcpt *rcpts,
             size_t n, enum dsn_kind kind, const char *to)
{
	struct buf msg = BUF_INIT(0);
	struct dsn d = {
	    .kind = kind,
	    .hostname = conf_hostname(ctx->cfg),
	    .queue_id = m->id,
	    .arrival = m->env.queued_at,
	    .now = time(NULL),
	    .give_up = m->env.queued_at + ctx->cfg->queue.lifetime,
	    .to = to,
	    .orig_sender = m->env.sender,
	    .rcpts = rcpts,
	    .n_rcpts = n,
	    .headers = m->body,
	    .headers_len = spool_message_headers(m->body, m->body_len),
	};
	enum result res = RES_TEMP;
	int code = -1;

	if (n > 0 && dsn_build(&d, &msg) == 0)
		res = hand_off(ctx, &msg, to, &code);
	buf_free(&msg);
	if (res == RES_OK) {
		log_info("%s: sender %s notification queued for <%s>", m->id, kind_name(kind), to);
		return RES_OK;
	}
	log_warn("%s: the queue failed (exit %d) for a %s notification to <%s>", m->id, code,
	         kind_name(kind), to);
	return RES_TEMP;
}
