/*
 * mail_qclient_start.c - starting a queue hand-off (qclient_open)
 *
 * What it is for: choosing the program or socket (the order is in
 * mail_qclient.h), the close-on-exec pipes for the message and the
 * envelope, posix_spawn with them on fds 0, 1 and (the reply pipe) 3,
 * or the SCM_RIGHTS request that passes both read ends to
 * mailout-queue --socket.  Streaming and the verdict are
 * mail_qclient.c.
 * What it must never do: run a program a set-id caller's environment
 * names (secure_getenv), leak a pipe end into the program beyond fds
 * 0, 1 and 3, start the program with signals blocked or ignored, or
 * leave a descriptor open when it fails (the caller says 451).
 */
#include "mail_qclient_int.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "buf.h"
#include "log.h"

#ifndef MAILOUT_SBINDIR
#define MAILOUT_SBINDIR "/usr/local/sbin"
#endif

#define FD_LOW 4 /* pipe ends are moved above 0-3, the fds they are dup'd to */

extern char **environ;

/* env_path - a non-empty environment variable, never for a set-id caller */
static const char *
env_path(const char *name)
{
	const char *p = secure_getenv(name);

	return p && p[0] ? p : NULL;
}

/* choose - the program to run (NULL: the socket); see mail_qclient.h */
static const char *
choose(const struct qclient_opts *o)
{
	const char *p;

	if (o->program && o->program[0])
		return o->program;
	if (o->scan && (p = env_path("MAILOUT_SCAN")) != NULL)
		return p;
	if (o->queue_env && (p = env_path("MAILOUT_QUEUE")) != NULL)
		return p;
	if (o->scan)
		return MAILOUT_SBINDIR "/mailout-scan";
	if (o->socket && o->socket[0])
		return NULL;
	return MAILOUT_SBINDIR "/mailout-queue";
}

/* new_pipe - a close-on-exec pipe whose ends are above fd 3, so that
 * the dup2s onto 0, 1 and 3 cannot overwrite one another; -1 (errno) */
static int
new_pipe(int p[2])
{
	int i, fd, e;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	for (i = 0; i < 2; i++) {
		if (p[i] >= FD_LOW)
			continue;
		if ((fd = fcntl(p[i], F_DUPFD_CLOEXEC, FD_LOW)) < 0) {
			e = errno;
			(void)close(p[0]);
			(void)close(p[1]);
			p[0] = p[1] = -1;
			errno = e;
			return -1;
		}
		(void)close(p[i]);
		p[i] = fd;
	}
	return 0;
}

/* spawn_attr - signals back to their defaults, none blocked */
static int
spawn_attr(posix_spawnattr_t *attr)
{
	sigset_t deflt, none;
	int rc;

	(void)sigemptyset(&deflt);
	(void)sigaddset(&deflt, SIGPIPE); /* ignored by callers, not by the queue */
	(void)sigaddset(&deflt, SIGCHLD);
	(void)sigaddset(&deflt, SIGALRM);
	(void)sigemptyset(&none);
	if ((rc = posix_spawnattr_setsigdefault(attr, &deflt)) == 0 &&
	    (rc = posix_spawnattr_setsigmask(attr, &none)) == 0)
		rc = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	return rc;
}

/* spawn - path [-c FILE] [-i ID] with fd[0] on 0, fd[1] on 1 and, when
 * fd[2] >= 0, fd[2] on 3; 0 or an errno value */
static int
spawn(struct qclient *q, const char *path, const struct qclient_opts *o, const int fd[3])
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char *argv[6];
	int rc, argc = 0;

	argv[argc++] = (char *)path;
	if (o->config) {
		argv[argc++] = (char *)"-c";
		argv[argc++] = (char *)o->config;
	}
	if (q->id[0]) {
		argv[argc++] = (char *)"-i";
		argv[argc++] = q->id;
	}
	argv[argc] = NULL;
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		return rc;
	if ((rc = posix_spawnattr_init(&attr)) != 0) {
		(void)posix_spawn_file_actions_destroy(&fa);
		return rc;
	}
	if ((rc = spawn_attr(&attr)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, fd[0], 0)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, fd[1], 1)) == 0 && fd[2] >= 0)
		rc = posix_spawn_file_actions_adddup2(&fa, fd[2], 3);
	if (rc == 0)
		rc = posix_spawn(&q->pid, path, &fa, &attr, argv, environ);
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)posix_spawnattr_destroy(&attr);
	if (rc != 0)
		q->pid = 0;
	return rc;
}

/* request - the request line and the two fds in one message */
static ssize_t
request(int sock, const char *line, int msg_r, int env_r)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} ctl;
	int fds[2] = {msg_r, env_r};
	struct iovec iov;
	struct msghdr mh;
	struct cmsghdr *c;

	memset(&mh, 0, sizeof(mh));
	memset(&ctl, 0, sizeof(ctl));
	iov.iov_base = (void *)line;
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
	return sendmsg(sock, &mh, MSG_NOSIGNAL);
}

/* socket_send - connect to mailout-queue --socket and pass both read
 * ends with the request line; 0 or an errno value */
static int
socket_send(struct qclient *q, const char *path, int msg_r, int env_r)
{
	struct sockaddr_un sun;
	char line[sizeof(QCLIENT_SOCKET_MAGIC) + 4 + QUEUE_ID_LEN + 1];
	int rc, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (bounded_copy(sun.sun_path, sizeof(sun.sun_path), path) < 0)
		return ENAMETOOLONG;
	rc = q->id[0]
	         ? bounded_format(line, sizeof(line), "%s -i %s\n", QCLIENT_SOCKET_MAGIC, q->id)
	         : bounded_format(line, sizeof(line), "%s\n", QCLIENT_SOCKET_MAGIC);
	if (rc < 0)
		return EINVAL;
	if ((q->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return errno;
	if (connect(q->sock, (struct sockaddr *)&sun, sizeof(sun)) == 0 &&
	    request(q->sock, line, msg_r, env_r) == (ssize_t)strlen(line))
		return 0;
	e = errno ? errno : EIO;
	(void)qclient_close_fd(&q->sock);
	return e;
}

/* start - the program or the socket with the pipes' ends; 0 or errno */
static int
start(struct qclient *q, const char *path, const struct qclient_opts *o, int mp[2], int ep[2])
{
	int rp[2] = {-1, -1}, fd[3], rc;

	if (path == NULL)
		return socket_send(q, o->socket, mp[0], ep[0]);
	if (o->reply && new_pipe(rp) < 0)
		return errno;
	fd[0] = mp[0];
	fd[1] = ep[0];
	fd[2] = rp[1];
	rc = spawn(q, path, o, fd);
	(void)qclient_close_fd(&rp[1]);
	if (rc != 0)
		(void)qclient_close_fd(&rp[0]);
	q->reply_fd = rp[0];
	return rc;
}

enum result
qclient_open(struct qclient *q, const struct qclient_opts *o, struct reply *r)
{
	const char *path = choose(o);
	int mp[2] = {-1, -1}, ep[2] = {-1, -1}, rc;

	qclient_init(q);
	q->timeout = o->timeout;
	if (o->id && bounded_copy(q->id, sizeof(q->id), o->id) < 0) {
		log_warn("bad queue ID for the hand-off");
		reply_set(r, 451, ESC_SYSTEM, "Local error in processing");
		return RES_TEMP;
	}
	(void)bounded_copy(q->name, sizeof(q->name), path ? path : o->socket);
	if (new_pipe(mp) < 0 || new_pipe(ep) < 0)
		rc = errno;
	else
		rc = start(q, path, o, mp, ep);
	(void)qclient_close_fd(&mp[0]);
	(void)qclient_close_fd(&ep[0]);
	if (rc != 0) {
		errno = rc;
		log_warn_errno("%s: unable to %s %s", q->id[0] ? q->id : "NOQUEUE",
		               path ? "run" : "connect to", q->name);
		(void)qclient_close_fd(&mp[1]);
		(void)qclient_close_fd(&ep[1]);
		reply_set(r, 451, ESC_SYSTEM, "Local error in processing");
		errno = rc;
		return RES_TEMP;
	}
	q->msg_fd = mp[1];
	q->env_fd = ep[1];
	/* writes wait in poll, by a deadline (write_all) */
	(void)fcntl(q->msg_fd, F_SETFL, fcntl(q->msg_fd, F_GETFL) | O_NONBLOCK);
	(void)fcntl(q->env_fd, F_SETFL, fcntl(q->env_fd, F_GETFL) | O_NONBLOCK);
	return RES_OK;
}
