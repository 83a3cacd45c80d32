/*
 * scan_filter.c - mailout-scan's one job: inspect, then queue or refuse
 *
 * What it is for: the order of things.  Read the message and the
 * envelope (the qmail-queue protocol), inspect the message in the
 * confined child, then: clean - hand the same sealed bytes on to the
 * queue (scan_hand_on: a program or queue.socket) and exit with its
 * code; executable - refuse it (exit
 * 31 and a reply line on fd 3), or, with executable_action = bounce,
 * accept it but queue only a notification to the sender (none for the
 * null sender).
 * What it must never do: queue a message that was not inspected, or
 * answer 0 unless something was durably queued (or, for the null
 * sender under bounce, deliberately dropped and logged).
 */
#include "scan.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "mail_reply.h"
#include "mail_spool.h"

/* notify - queue the notification to the sender, with a new queue ID */
static int
notify(const struct config *cfg, const struct scan_verdict *v, const struct envelope *env,
       const char *cfile, const char *qid, const char *msg, size_t len)
{
	struct buf note = BUF_INIT(0);
	char nid[QUEUE_ID_LEN + 1];
	const char *to[1] = {env->sender};
	int rc;

	if (queue_id_new(nid, sizeof(nid)) < 0) {
		log_warn_errno("%s: unable to make a queue ID", qid);
		return QQ_TEMP;
	}
	if (scan_notification(v, cfg->hostname ? cfg->hostname : "localhost", nid, env->sender,
	                      env->rcpts, env->n_rcpts, msg, len, &note) < 0) {
		buf_free(&note);
		return QQ_NOMEM;
	}
	rc = scan_hand_on(cfg, cfile, nid, note.s, note.len, "", to, 1);
	if (rc == QQ_OK)
		log_info(
		    "%s: not delivered: executable attachment; notification to <%s> queued as %s",
		    qid, env->sender, nid);
	buf_free(&note);
	return rc;
}

/* refuse - act on an executable (or an uninspectable message) */
static int
refuse(const struct config *cfg, const struct scan_verdict *v, const struct envelope *env,
       const char *cfile, const char *qid, const char *msg, size_t len)
{
	char line[REPLY_TEXT_MAX + 16];

	if (scan_reply_line(v, line, sizeof(line)) < 0)
		(void)bounded_copy(line, sizeof(line), "554 5.7.1 Executable attachment");
	if (cfg->content.executable_action == EXEC_REJECT) {
		log_warn("%s: reject: from=<%s>: %s", qid, env->sender, line);
		scan_tell_receiver(line);
		return QQ_PERM;
	}
	log_warn("%s: bounce: from=<%s>: %s", qid, env->sender, line);
	if (env->sender[0] == '\0') {
		log_warn("%s: discarded: null sender, no notification", qid);
		return QQ_OK;
	}
	return notify(cfg, v, env, cfile, qid, msg, len);
}

/* inspect_and_act - the verdict and what follows from it */
static int
inspect_and_act(const struct config *cfg, const char *cfile, const char *id, const char *msg,
                size_t len, const struct envelope *env)
{
	const char *qid = id ? id : "NOQUEUE";
	struct scan_verdict v;

	if (scan_isolated(msg, len, &v) != RES_OK)
		return QQ_TEMP;
	if (v.encrypted > 0 || v.damaged > 0)
		log_info("%s: not inspected, let through: %u encrypted entries, %u unreadable "
		         "archives (first: \"%s\")",
		         qid, v.encrypted, v.damaged, v.note);
	switch (v.kind) {
	case SCAN_CLEAN:
		return scan_hand_on(cfg, cfile, id, msg, len, env->sender, env->rcpts,
		                    env->n_rcpts);
	case SCAN_EXEC:
	case SCAN_UNINSPECTABLE:
		return refuse(cfg, &v, env, cfile, qid, msg, len);
	default:
		log_warn("%s: inspection: %s", qid, v.why);
		return QQ_NOMEM;
	}
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
	if (inspect)
		rc = inspect_and_act(cfg, cfile, id, msg, len, &env);
	else
		rc = scan_hand_on(cfg, cfile, id, msg, len, env.sender, env.rcpts, env.n_rcpts);
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
