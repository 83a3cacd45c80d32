/*
 * smtpd_queue.c - hand-off of one message to mailout-queue
 *
 * What it is for: running the queue program the qmail way (notqmail
 * qmail.c): message on its fd 0, envelope "F<sender>\0T<rcpt>\0...\0"
 * on its fd 1, verdict in its exit code.  The queue ID is chosen here
 * so that the Received: header can name it.  With queue.socket set, the
 * read ends of the two pipes go to mailout-queue --socket instead
 * (SCM_RIGHTS; protocol in queue/queue_main.c) and the exit code comes
 * back as one octet: a hardened service cannot run a set-uid program.
 * $MAILOUT_QUEUE, when set, still names the program to run.
 * What it must never do: open the spool itself, pass a sender or
 * recipient that contains NUL, or report success unless the program
 * exited 0 (which it does only after fsync and rename).
 */
#include "smtpd_queue.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "smtpd.h"

#ifndef MAILOUT_SBINDIR
#define MAILOUT_SBINDIR "/usr/local/sbin"
#endif

#define QSOCK_MAGIC "mailout-queue/1" /* queue/queue_main.c: the request line */

extern char **environ;

bool
queue_running(const struct queue_job *q)
{
	return q->pid > 0 || q->sock >= 0;
}

const char *
queue_program(void)
{
	const char *p = getenv("MAILOUT_QUEUE");

	return (p && p[0]) ? p : MAILOUT_SBINDIR "/mailout-queue";
}

/* spawn - run the program with the read ends on its fd 0 and fd 1 */
static int
spawn(struct queue_job *q, const char *config_path, int msg_r, int env_r)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t deflt, none;
	char *argv[6];
	int rc, argc = 0;

	argv[argc++] = (char *)queue_program();
	argv[argc++] = (char *)"-i";
	argv[argc++] = q->id;
	if (config_path) {
		argv[argc++] = (char *)"-c";
		argv[argc++] = (char *)config_path;
	}
	argv[argc] = NULL;
	sigemptyset(&deflt);
	sigaddset(&deflt, SIGPIPE); /* ignored here, not there */
	sigaddset(&deflt, SIGCHLD);
	sigemptyset(&none);
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		return rc;
	if ((rc = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return rc;
	}
	if ((rc = posix_spawn_file_actions_adddup2(&fa, msg_r, 0)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, env_r, 1)) == 0 &&
	    (rc = posix_spawnattr_setsigdefault(&attr, &deflt)) == 0 &&
	    (rc = posix_spawnattr_setsigmask(&attr, &none)) == 0 &&
	    (rc = posix_spawnattr_setflags(&attr,
	                                   POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)) == 0)
		rc = posix_spawn(&q->pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return rc;
}

/* qsock_send - connect to mailout-queue --socket and pass both read
 * ends with the request line; errno on failure (-1) */
static int
qsock_send(struct queue_job *q, const char *path, int msg_r, int env_r)
{
	struct sockaddr_un sun;
	char line[sizeof(QSOCK_MAGIC) + 4 + QUEUE_ID_LEN + 1];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} ctl;
	struct iovec iov;
	struct msghdr mh;
	struct cmsghdr *c;
	int fds[2] = {msg_r, env_r}, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (bounded_copy(sun.sun_path, sizeof(sun.sun_path), path) < 0 ||
	    bounded_format(line, sizeof(line), "%s -i %s\n", QSOCK_MAGIC, q->id) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((q->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&mh, 0, sizeof(mh));
	memset(&ctl, 0, sizeof(ctl));
	iov.iov_base = line;
	iov.iov_len = strlen(line);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	if (connect(q->sock, (struct sockaddr *)&sun, sizeof(sun)) == 0 &&
	    sendmsg(q->sock, &mh, MSG_NOSIGNAL) == (ssize_t)iov.iov_len)
		return 0;
	e = errno;
	close(q->sock);
	q->sock = -1;
	errno = e;
	return -1;
}

/* qsock_wait - the exit-code octet as a wait status; -1 if none came */
static int
qsock_wait(struct queue_job *q)
{
	unsigned char code;
	ssize_t n;

	do
		n = read(q->sock, &code, 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		log_warn_errno("%s: reading the verdict of mailout-queue --socket", q->id);
	close(q->sock);
	q->sock = -1;
	return n == 1 ? (int)code << 8 : -1; /* as waitpid's WIFEXITED */
}

/* use_socket - queue.socket is set and $MAILOUT_QUEUE names no program:
 * an explicit queue program (a filter such as mailout-scan, which makes
 * the hand-off itself) always runs first */
static bool
use_socket(const char *socket_path)
{
	const char *p = getenv("MAILOUT_QUEUE");

	return socket_path != NULL && socket_path[0] != '\0' && (p == NULL || p[0] == '\0');
}

/* start - the queue program, or its socket, with the pipes' read ends */
static int
start(struct queue_job *q, const char *socket_path, const char *config_path, int msg_r, int env_r)
{
	if (!use_socket(socket_path))
		return spawn(q, config_path, msg_r, env_r);
	if (qsock_send(q, socket_path, msg_r, env_r) < 0)
		return errno ? errno : EIO;
	return 0;
}

enum result
queue_open(struct queue_job *q, const char *socket_path, const char *config_path, struct reply *r)
{
	int mp[2], ep[2], rc;

	q->pid = 0;
	q->sock = -1;
	q->msg_fd = q->env_fd = -1;
	q->failed = false;
	if (queue_id_new(q->id, sizeof(q->id)) < 0) {
		log_warn_errno("unable to make a queue ID");
		reply_set(r, 451, ESC_SYSTEM, "Local error in processing");
		return RES_TEMP;
	}
	if (pipe2(mp, O_CLOEXEC) < 0) {
		log_warn_errno("pipe");
		reply_set(r, 451, ESC_SYSTEM, "Local error in processing");
		return RES_TEMP;
	}
	if (pipe2(ep, O_CLOEXEC) < 0) {
		log_warn_errno("pipe");
		close(mp[0]);
		close(mp[1]);
		reply_set(r, 451, ESC_SYSTEM, "Local error in processing");
		return RES_TEMP;
	}
	rc = start(q, socket_path, config_path, mp[0], ep[0]);
	close(mp[0]);
	close(ep[0]);
	if (rc != 0) {
		errno = rc;
		log_warn_errno("%s: unable to run %s", q->id,
		               use_socket(socket_path) ? socket_path : queue_program());
		close(mp[1]);
		close(ep[1]);
		q->pid = 0;
		reply_set(r, 451, ESC_SYSTEM, "Local error in processing");
		return RES_TEMP;
	}
	q->msg_fd = mp[1];
	q->env_fd = ep[1];
	return RES_OK;
}

/* write_all - the whole buffer to a pipe; -1 on error (EPIPE ...) */
static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

void
queue_write(struct queue_job *q, const void *p, size_t n)
{
	if (q->failed || q->msg_fd < 0 || n == 0)
		return;
	if (write_all(q->msg_fd, p, n) < 0) {
		log_warn_errno("%s: writing the message to %s", q->id, queue_program());
		q->failed = true;
	}
}

/* reap - wait for the program; returns its wait status, or -1 */
static int
reap(struct queue_job *q)
{
	int status;

	if (q->sock >= 0)
		return qsock_wait(q);
	if (q->pid <= 0)
		return -1;
	while (waitpid(q->pid, &status, 0) < 0) {
		if (errno != EINTR) {
			log_warn_errno("%s: waitpid", q->id);
			q->pid = 0;
			return -1;
		}
	}
	q->pid = 0;
	return status;
}

/* close_fd - close and forget */
static int
close_fd(int *fd)
{
	int rc = 0;

	if (*fd >= 0)
		rc = close(*fd);
	*fd = -1;
	return rc;
}

/* envelope - "F<sender>\0T<rcpt>\0...\0" */
static int
envelope(struct buf *env, const char *sender, const char *rcpts, size_t rcpts_len)
{
	size_t i = 0, len;

	if (buf_appendc(env, 'F') < 0 || buf_append(env, sender, strlen(sender) + 1) < 0)
		return -1;
	while (i < rcpts_len) {
		len = strnlen(rcpts + i, rcpts_len - i);
		if (buf_appendc(env, 'T') < 0 || buf_append(env, rcpts + i, len) < 0 ||
		    buf_appendc(env, '\0') < 0)
			return -1;
		i += len + 1;
	}
	return buf_appendc(env, '\0');
}

enum result
queue_commit(struct queue_job *q, const char *sender, const char *rcpts, size_t rcpts_len,
             struct reply *r)
{
	struct buf env = BUF_INIT(0);
	int status;

	if (close_fd(&q->msg_fd) < 0 && !q->failed) {
		log_warn_errno("%s: closing the message pipe", q->id);
		q->failed = true;
	}
	if (q->failed) {
		/* it stopped reading: its exit code says why (55 config ...) */
		buf_free(&env);
		close_fd(&q->env_fd);
		queue_exit_reply(reap(q), q->id, r);
		if (r->code < 400)
			reply_set(r, 451, ESC_SYSTEM, "Local error in processing");
		return reply_result(r);
	}
	if (envelope(&env, sender, rcpts, rcpts_len) < 0) {
		buf_free(&env);
		queue_abort(q);
		reply_set(r, 451, ESC_SYSTEM, "Local error in processing");
		return RES_TEMP;
	}
	if (write_all(q->env_fd, env.s, env.len) < 0)
		log_warn_errno("%s: writing the envelope", q->id);
	buf_free(&env);
	close_fd(&q->env_fd);
	status = reap(q);
	queue_exit_reply(status, q->id, r);
	return reply_result(r);
}

void
queue_abort(struct queue_job *q)
{
	close_fd(&q->msg_fd);
	close_fd(&q->env_fd);
	(void)reap(q);
}

void
queue_exit_reply(int status, const char *id, struct reply *r)
{
	int code;

	if (status < 0 || !WIFEXITED(status)) {
		log_warn("%s: %s crashed (status %d)", id, queue_program(), status);
		reply_set(r, 451, ESC_SYSTEM, "Local error in processing");
		return;
	}
	code = WEXITSTATUS(status);
	switch (code) {
	case 0:
		reply_set(r, 250, ESC_OK, "Ok: queued as %s", id);
		return;
	case 11:
		reply_set(r, 554, ESC_BAD_DEST_SYNTAX, "Address too long");
		break;
	case 31:
		reply_set(r, 554, ESC_SYSTEM, "Message refused");
		break;
	case 53:
		reply_set(r, 452, ESC_STORAGE, "Insufficient system storage");
		break;
	case 55:
		reply_set(r, 451, SMTPD_ESC_CONFIG, "Local configuration error");
		break;
	default: /* 51 54 71 81 91 and anything unknown: our trouble */
		reply_set(r, 451, ESC_SYSTEM, "Local error in processing");
		break;
	}
	log_warn("%s: %s exited %d", id, queue_program(), code);
}
