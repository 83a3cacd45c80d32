/*
 * scan_filter.c - mailout-scan's one job: inspect, then queue or refuse
 *
 * What it is for: the order of things.  Read the message and the
 * envelope (the qmail-queue protocol), inspect the message in the
 * confined child, then: clean - run the real queue program on the same
 * sealed bytes and exit with its code; executable - refuse it (exit
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

/* queue_text - a message from memory through a memfd to the queue */
static int
queue_text(char *const argv[], const struct buf *msg, const struct buf *env)
{
	int fd, rc;
	size_t off = 0;
	ssize_t w;

	if ((fd = memfd_create("mailout-scan-notify", MFD_CLOEXEC)) < 0) {
		log_warn_errno("memfd_create");
		return QQ_NOMEM;
	}
	while (off < msg->len) {
		w = write(fd, msg->s + off, msg->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			log_warn_errno("writing the notification to memory");
			close(fd);
			return QQ_NOMEM;
		}
		off += (size_t)w;
	}
	rc = scan_run_queue(argv, fd, env->s, env->len);
	close(fd);
	return rc;
}

/* notify - queue the notification to the sender, with a new queue ID */
static int
notify(const struct config *cfg, const struct scan_verdict *v, const struct envelope *env,
       const char *cfile, const char *qid, const char *msg, size_t len)
{
	struct buf note = BUF_INIT(0), nenv = BUF_INIT(0);
	char nid[QUEUE_ID_LEN + 1];
	char *argv[6];
	int rc, argc = 0;

	if (queue_id_new(nid, sizeof(nid)) < 0) {
		log_warn_errno("%s: unable to make a queue ID", qid);
		return QQ_TEMP;
	}
	if (scan_notification(v, cfg->hostname ? cfg->hostname : "localhost", nid, env->sender,
	                      env->rcpts, env->n_rcpts, msg, len, &note) < 0 ||
	    buf_append(&nenv, "F\0T", 3) < 0 ||
	    buf_append(&nenv, env->sender, strlen(env->sender) + 1) < 0 ||
	    buf_appendc(&nenv, '\0') < 0) {
		buf_free(&note);
		buf_free(&nenv);
		return QQ_NOMEM;
	}
	argv[argc++] = (char *)scan_queue_program();
	argv[argc++] = (char *)"-i";
	argv[argc++] = nid;
	if (cfile) {
		argv[argc++] = (char *)"-c";
		argv[argc++] = (char *)cfile;
	}
	argv[argc] = NULL;
	rc = queue_text(argv, &note, &nenv);
	if (rc == QQ_OK)
		log_info(
		    "%s: not delivered: executable attachment; notification to <%s> queued as %s",
		    qid, env->sender, nid);
	buf_free(&note);
	buf_free(&nenv);
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
inspect_and_act(const struct config *cfg, char *const qargv[], const char *cfile, const char *qid,
                int fd, const char *msg, size_t len, const struct buf *raw,
                const struct envelope *env)
{
	struct scan_verdict v;

	if (scan_isolated(msg, len, &v) != RES_OK)
		return QQ_TEMP;
	if (v.encrypted > 0 || v.damaged > 0)
		log_info("%s: not inspected, let through: %u encrypted entries, %u unreadable "
		         "archives (first: \"%s\")",
		         qid, v.encrypted, v.damaged, v.note);
	switch (v.kind) {
	case SCAN_CLEAN:
		return scan_run_queue(qargv, fd, raw->s, raw->len);
	case SCAN_EXEC:
	case SCAN_UNINSPECTABLE:
		return refuse(cfg, &v, env, cfile, qid, msg, len);
	default:
		log_warn("%s: inspection: %s", qid, v.why);
		return QQ_NOMEM;
	}
}

int
scan_filter(const struct config *cfg, char *const qargv[], const char *cfile, const char *id)
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
		log_warn("%s: bad envelope", qid);
		goto out;
	}
	rc = inspect_and_act(cfg, qargv, cfile, qid, fd, msg, len, &raw, &env);
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
