/*
 * scan_act.c - after the verdict: queue, refuse, or tell the sender
 *
 * What it is for: the one place that acts on an inspection, for
 * mailout-smtpd (which inspects what it receives itself) and for
 * mailout-scan (the filter mailout-sendmail runs).  Clean - hand the
 * same sealed bytes on to the queue (a program or queue.socket,
 * lib/mail_qclient.h) and give its verdict; executable - refuse it
 * (554 5.7.1 naming the file, exit 31), or, with executable_action =
 * bounce, accept it but queue only a notification to the sender (none
 * for the null sender).
 * What it must never do: queue a message that was not found clean, or
 * answer 0 unless something was durably queued (or, for the null
 * sender under bounce, deliberately dropped and logged).
 */
#include "scan.h"

#include "log.h"
#include "mail_spool.h"

int
scan_hand_on(const struct scan_job *j, const char *id, const char *msg, size_t len,
             const char *sender, const char *const *rcpts, size_t n_rcpts, struct reply *r)
{
	struct qclient_opts o = j->hop;
	struct qclient q;

	o.id = id;
	if (qclient_open(&q, &o, r) != RES_OK)
		return QQ_TEMP;
	/* a failed write is latched: the commit sends no envelope */
	(void)qclient_write(&q, msg, len);
	(void)qclient_commitv(&q, sender, rcpts, n_rcpts, r);
	return q.exit < 0 ? QQ_TEMP : q.exit;
}

/* notify - queue the notification to the sender, with a new queue ID */
static int
notify(const struct scan_job *j, const struct scan_verdict *v, const char *qid)
{
	const struct config *cfg = j->cfg;
	struct buf note = BUF_INIT(0);
	char nid[QUEUE_ID_LEN + 1];
	const char *to[1] = {j->sender};
	struct reply r;
	int rc;

	if (queue_id_new(nid, sizeof(nid)) < 0) {
		log_warn_errno("%s: unable to make a queue ID", qid);
		return QQ_TEMP;
	}
	if (scan_notification(v, conf_hostname(cfg), nid, j->sender, j->rcpts, j->n_rcpts, j->msg,
	                      j->len, &note) < 0) {
		buf_free(&note);
		return QQ_NOMEM;
	}
	rc = scan_hand_on(j, nid, note.s, note.len, "", to, 1, &r);
	if (rc == QQ_OK)
		log_info(
		    "%s: not delivered: executable attachment; notification to <%s> queued as %s",
		    qid, j->sender, nid);
	buf_free(&note);
	return rc;
}

/* refuse - act on an executable (or an uninspectable message) */
static int
refuse(const struct scan_job *j, const struct scan_verdict *v, const char *qid, struct reply *r)
{
	char line[REPLY_TEXT_MAX + 16];
	int rc;

	scan_reply(v, r);
	if (reply_format(r, line, sizeof(line)) < 0)
		(void)bounded_copy(line, sizeof(line), "554 5.7.1 Executable attachment");
	if (j->cfg->content.executable_action == EXEC_REJECT) {
		log_warn("%s: reject: from=<%s>: %s", qid, j->sender, line);
		return QQ_PERM;
	}
	log_warn("%s: bounce: from=<%s>: %s", qid, j->sender, line);
	if (j->sender[0] == '\0') {
		log_warn("%s: discarded: null sender, no notification", qid);
		rc = QQ_OK;
	} else {
		rc = notify(j, v, qid);
	}
	qclient_exit_reply(rc, j->id, r);
	return rc;
}

int
scan_act(const struct scan_job *j, const struct scan_verdict *v, struct reply *r)
{
	const char *qid = j->id ? j->id : "NOQUEUE";

	if (v->encrypted > 0 || v->damaged > 0)
		log_info("%s: not inspected, let through: %u encrypted entries, %u unreadable "
		         "archives (first: \"%s\")",
		         qid, v->encrypted, v->damaged, v->note);
	switch (v->kind) {
	case SCAN_CLEAN:
		return scan_hand_on(j, j->id, j->msg, j->len, j->sender, j->rcpts, j->n_rcpts, r);
	case SCAN_EXEC:
	case SCAN_UNINSPECTABLE:
		return refuse(j, v, qid, r);
	default:
		log_warn("%s: inspection: %s", qid, v->why);
		qclient_exit_reply(QQ_NOMEM, j->id, r);
		return QQ_NOMEM;
	}
}
