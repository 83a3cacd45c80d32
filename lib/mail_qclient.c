/*
 * mail_qclient.c - handing one message to the queue (qmail-queue protocol)
 *
 * What it is for: the only code that does a queue hand-off, for
 * mailout-smtpd, mailout-sendmail, mailout-scan's last hop and the
 * deliverer's notifications: streaming, the envelope, the wait for the
 * verdict, and the one table that turns an exit code into a reply or
 * a sysexits code.  Starting it (which program or socket, the pipes,
 * posix_spawn, the SCM_RIGHTS request) is mail_qclient_start.c.
 * What it must never do: open the spool, send an envelope after a
 * message that was cut short (no envelope: mailout-queue queues
 * nothing), report success unless the queue said 0 (which it does only
 * after fsync and rename), die of SIGPIPE, let a reply line that is
 * not a well-formed 5xx reply reach a client, or wait without a
 * deadline (a hung queue program is killed: the caller says 451).
 */
#include "mail_qclient_int.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "timefmt.h"

/* deadline - now plus the client's timeout */
static long long
deadline(const struct qclient *q)
{
	return mono_ms() + (long long)(q->timeout ? q->timeout : QCLIENT_TIMEOUT_DEFAULT) * 1000;
}

/* wait_fd - poll fd for events until the deadline: 0 ready, -1 with
 * errno (ETIMEDOUT when it passed) */
static int
wait_fd(int fd, short events, long long until)
{
	struct pollfd p;
	long long left;
	int rc;

	for (;;) {
		if ((left = until - mono_ms()) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		p.fd = fd;
		p.events = events;
		p.revents = 0;
		rc = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

void
qclient_init(struct qclient *q)
{
	q->pid = 0;
	q->timeout = 0;
	q->sock = q->msg_fd = q->env_fd = q->reply_fd = -1;
	q->failed = false;
	q->exit = -1;
	q->id[0] = '\0';
	q->name[0] = '\0';
}

bool
qclient_running(const struct qclient *q)
{
	return q->pid > 0 || q->sock >= 0;
}

int
qclient_close_fd(int *fd)
{
	int rc = 0;

	if (*fd >= 0)
		rc = close(*fd);
	*fd = -1;
	return rc;
}

/* sigpipe_swallow - take a SIGPIPE our write raised off the pending set */
static void
sigpipe_swallow(const sigset_t *set)
{
	struct timespec zero = {0, 0};

	while (sigtimedwait(set, NULL, &zero) < 0 && errno == EINTR)
		;
}

/* write_all - the whole buffer to a pipe by the deadline; -1 with
 * errno (EPIPE, ETIMEDOUT ...).  SIGPIPE is held back while writing
 * unless the caller ignores it. */
static int
write_all(int fd, const char *p, size_t n, long long until)
{
	struct sigaction sa;
	sigset_t set, old, pending;
	bool guard, was_pending = false;
	ssize_t w = 0;
	int e = 0;

	guard = sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler != SIG_IGN;
	(void)sigemptyset(&set);
	(void)sigaddset(&set, SIGPIPE);
	if (guard && sigpending(&pending) == 0)
		was_pending = sigismember(&pending, SIGPIPE) == 1;
	if (guard && sigprocmask(SIG_BLOCK, &set, &old) < 0)
		return -1;
	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR || ((errno == EAGAIN || errno == EWOULDBLOCK) &&
			                       wait_fd(fd, POLLOUT, until) == 0))
				continue;
			e = errno;
			break;
		}
		p += w;
		n -= (size_t)w;
	}
	if (guard) {
		if (e == EPIPE && !was_pending)
			sigpipe_swallow(&set);
		(void)sigprocmask(SIG_SETMASK, &old, NULL);
	}
	errno = e;
	return e ? -1 : 0;
}

int
qclient_write(struct qclient *q, const void *p, size_t n)
{
	if (q->failed || q->msg_fd < 0)
		return -1;
	if (n == 0)
		return 0;
	if (write_all(q->msg_fd, p, n, deadline(q)) < 0) {
		log_warn_errno("%s: writing the message to %s", q->id[0] ? q->id : "NOQUEUE",
		               q->name);
		q->failed = true;
		return -1;
	}
	return 0;
}

/* exited - wait for the program until the deadline: pidfd_open(2)
 * where the kernel has it, else WNOHANG at growing intervals; past the
 * deadline it is killed.  waitpid's result. */
static pid_t
exited(struct qclient *q, int *status, long long until)
{
	struct timespec ts = {0, 1000000};
	int fd = (int)syscall(SYS_pidfd_open, q->pid, 0);
	pid_t rc;

	for (;;) {
		rc = waitpid(q->pid, status, WNOHANG);
		if (rc != 0 || mono_ms() >= until)
			break;
		if (fd >= 0) {
			if (wait_fd(fd, POLLIN, until) < 0 && errno != ETIMEDOUT) {
				(void)close(fd);
				fd = -1;
			}
		} else {
			(void)nanosleep(&ts, NULL);
			if (ts.tv_nsec < 64000000)
				ts.tv_nsec *= 2;
		}
	}
	if (fd >= 0)
		(void)close(fd);
	if (rc != 0)
		return rc;
	log_warn("%s: %s gave no verdict within %u seconds: killed", q->id[0] ? q->id : "NOQUEUE",
	         q->name, q->timeout ? q->timeout : QCLIENT_TIMEOUT_DEFAULT);
	(void)kill(q->pid, SIGKILL);
	while ((rc = waitpid(q->pid, status, 0)) < 0 && errno == EINTR)
		;
	return rc;
}

/* reap - the exit code of the program (or the socket's octet); -1 when
 * it died of a signal, said nothing, or not in time */
static int
reap(struct qclient *q)
{
	const char *id = q->id[0] ? q->id : "NOQUEUE";
	long long until = deadline(q);
	unsigned char code;
	ssize_t n;
	int status;

	if (q->sock >= 0) {
		do
			n = wait_fd(q->sock, POLLIN, until) < 0 ? -1 : read(q->sock, &code, 1);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			log_warn_errno("%s: reading the verdict of %s", id, q->name);
		else if (n == 0)
			log_warn("%s: %s closed without a verdict", id, q->name);
		(void)qclient_close_fd(&q->sock);
		return n == 1 ? code : -1;
	}
	if (q->pid <= 0)
		return -1;
	if (exited(q, &status, until) < 0) {
		log_warn_errno("%s: waitpid", id);
		q->pid = 0;
		return -1;
	}
	q->pid = 0;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	log_warn("%s: %s crashed (status %d)", id, q->name, status);
	return -1;
}

/* read_reply - what the program left on fd 3, without waiting (it has
 * exited; a descendant that kept fd 3 open cannot stall us) */
static size_t
read_reply(struct qclient *q, char *out, size_t outsize)
{
	size_t len = 0;
	ssize_t n;
	int fl;

	if (q->reply_fd < 0 || outsize == 0)
		return 0;
	fl = fcntl(q->reply_fd, F_GETFL);
	if (fl < 0 || fcntl(q->reply_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return 0;
	while (len < outsize - 1) {
		n = read(q->reply_fd, out + len, outsize - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	out[len] = '\0';
	return len;
}

/* finish - end the message, send env (NULL: none), wait, reply */
static enum result
finish(struct qclient *q, const struct buf *env, struct reply *r)
{
	const char *id = q->id[0] ? q->id : "NOQUEUE";
	char line[QCLIENT_REPLY_MAX];
	size_t len;

	if (qclient_close_fd(&q->msg_fd) < 0 && !q->failed) {
		log_warn_errno("%s: closing the message pipe", id);
		q->failed = true;
	}
	/* a message cut short gets no envelope: the queue stores nothing */
	if (!q->failed && env != NULL && write_all(q->env_fd, env->s, env->len, deadline(q)) < 0)
		log_warn_errno("%s: writing the envelope to %s", id, q->name);
	(void)qclient_close_fd(&q->env_fd);
	q->exit = reap(q);
	len = q->exit == QQ_PERM ? read_reply(q, line, sizeof(line)) : 0;
	(void)qclient_close_fd(&q->reply_fd);
	if (len == 0 || qclient_parse_reply(line, len, r) < 0)
		qclient_exit_reply(q->exit, q->id, r);
	if ((q->failed || env == NULL) && r->code < 400)
		reply_set(r, 451, ESC_SYSTEM, "Local error in processing");
	if (q->exit != 0)
		log_warn("%s: %s exited %d (%s)", id, q->name, q->exit,
		         q->exit < 0 ? "no verdict" : qq_exit_text(q->exit));
	return reply_result(r);
}

/* envelope - "F<sender>\0T<rcpt>\0...\0" from a list ("addr\0...",
 * list_len octets) or from an array of n; -1 when out of memory */
static int
envelope(struct buf *env, const char *sender, const char *list, size_t list_len,
         const char *const *v, size_t n)
{
	size_t i = 0, len;

	if (buf_appendc(env, 'F') < 0 || buf_append(env, sender, strlen(sender) + 1) < 0)
		return -1;
	while (i < list_len || n > 0) {
		const char *rcpt = list_len > 0 ? list + i : *v++;

		len = list_len > 0 ? strnlen(rcpt, list_len - i) : strlen(rcpt);
		if (buf_appendc(env, 'T') < 0 || buf_append(env, rcpt, len) < 0 ||
		    buf_appendc(env, '\0') < 0)
			return -1;
		if (list_len > 0)
			i += len + 1;
		else
			n--;
	}
	return buf_appendc(env, '\0');
}

/* commit - the envelope, then finish */
static enum result
commit(struct qclient *q, const char *sender, const char *list, size_t list_len,
       const char *const *v, size_t n, struct reply *r)
{
	struct buf env = BUF_INIT(0);
	enum result res;
	int rc = envelope(&env, sender, list, list_len, v, n);

	if (rc < 0)
		log_warn("%s: out of memory for the envelope", q->id[0] ? q->id : "NOQUEUE");
	res = finish(q, rc == 0 ? &env : NULL, r);
	buf_free(&env);
	return res;
}

enum result
qclient_commit(struct qclient *q, const char *sender, const char *rcpts, size_t rcpts_len,
               struct reply *r)
{
	return commit(q, sender, rcpts_len > 0 ? rcpts : "", rcpts_len, NULL, 0, r);
}

enum result
qclient_commitv(struct qclient *q, const char *sender, const char *const *rcpts, size_t n,
                struct reply *r)
{
	return commit(q, sender, NULL, 0, rcpts, n, r);
}

void
qclient_abort(struct qclient *q)
{
	(void)qclient_close_fd(&q->msg_fd);
	(void)qclient_close_fd(&q->env_fd);
	if (qclient_running(q))
		q->exit = reap(q);
	(void)qclient_close_fd(&q->reply_fd);
}

/* The exit codes of mailout-queue (and mailout-scan), qmail-queue(8)'s
 * table, as SMTP replies and sysexits codes.  As qmail.c: 11-40 are
 * permanent, everything else temporary; 91 means we wrote a bad
 * envelope, our bug. */
static const struct qq_map {
	int code;
	int reply;
	const char *esc;
	const char *text;
	int sysexit;
} QQ_MAP[] = {
    {QQ_ADDR_TOO_LONG, 554, ESC_BAD_DEST_SYNTAX, "Address too long", EX_DATAERR},
    {QQ_PERM, 554, ESC_SYSTEM, "Message refused", EX_UNAVAILABLE},
    {QQ_WRITE, 452, ESC_STORAGE, "Insufficient system storage", EX_TEMPFAIL},
    {QQ_CONFIG, 451, ESC_CONFIG, "Local configuration error", EX_TEMPFAIL},
    {QQ_BAD_ENVELOPE, 451, ESC_SYSTEM, "Local error in processing", EX_SOFTWARE},
};
static const struct qq_map QQ_OTHER_PERM = {0, 554, ESC_SYSTEM, "Message refused", EX_UNAVAILABLE};
static const struct qq_map QQ_OTHER_TEMP = {0, 451, ESC_SYSTEM, "Local error in processing",
                                            EX_TEMPFAIL};

/* qq_map_of - the table's row for a code */
static const struct qq_map *
qq_map_of(int code)
{
	size_t i;

	for (i = 0; i < sizeof(QQ_MAP) / sizeof(QQ_MAP[0]); i++)
		if (QQ_MAP[i].code == code)
			return &QQ_MAP[i];
	return code > 0 && qq_exit_permanent(code) ? &QQ_OTHER_PERM : &QQ_OTHER_TEMP;
}

void
qclient_exit_reply(int code, const char *id, struct reply *r)
{
	const struct qq_map *m;

	if (code == QQ_OK) {
		if (id && id[0])
			reply_set(r, 250, ESC_OK, "Ok: queued as %s", id);
		else
			reply_set(r, 250, ESC_OK, "Ok: queued");
		return;
	}
	m = qq_map_of(code);
	reply_set(r, m->reply, m->esc, "%s", m->text);
}

int
qclient_exit_sysexit(int code)
{
	return code == QQ_OK ? EX_OK : qq_map_of(code)->sysexit;
}

/* The status codes a reply from the queue chain may carry (mail_reply.h). */
static const char *const ESC_KNOWN[] = {
    ESC_OTHER,    ESC_POLICY,  ESC_CONTENT,       ESC_MSG_TOO_BIG,     ESC_SYSTEM,
    ESC_STORAGE,  ESC_CONFIG,  ESC_HOPS,          ESC_BAD_DEST_SYNTAX, ESC_BAD_SENDER_SYNTAX,
    ESC_SECURITY, ESC_NETWORK, ESC_UTF8_REQUIRED,
};

int
qclient_parse_reply(const char *line, size_t len, struct reply *r)
{
	const char *nl = memchr(line, '\n', len), *esc = NULL, *text = NULL;
	size_t i, n, tlen;

	if (nl != NULL)
		len = (size_t)(nl - line);
	if (len > 0 && line[len - 1] == '\r')
		len--;
	/* "5xx 5.y.z text": class 5 in both codes (RFC 3463: they agree),
	 * y.z one of the table's */
	if (len < 6 || line[0] != '5' || line[1] < '0' || line[1] > '9' || line[2] < '0' ||
	    line[2] > '9' || memcmp(line + 3, " 5.", 3) != 0)
		return -1;
	for (i = 0; esc == NULL && i < sizeof(ESC_KNOWN) / sizeof(ESC_KNOWN[0]); i++) {
		n = strlen(ESC_KNOWN[i]);
		if (len > 7 + n && memcmp(line + 6, ESC_KNOWN[i], n) == 0 && line[6 + n] == ' ') {
			esc = ESC_KNOWN[i];
			text = line + 7 + n;
		}
	}
	if (esc == NULL || (tlen = len - (size_t)(text - line)) >= REPLY_TEXT_MAX)
		return -1;
	for (i = 0; i < tlen; i++)
		if ((unsigned char)text[i] < 0x20 || (unsigned char)text[i] > 0x7e)
			return -1;
	reply_set(r, 500 + (line[1] - '0') * 10 + (line[2] - '0'), esc, "%.*s", (int)tlen, text);
	return 0;
}
