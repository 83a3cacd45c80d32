/*
 * sendmail_queue.c - the hand-off from mailout-sendmail to mailout-queue
 *
 * What it is for: qmail's protocol (qmail-queue(8)): the message on
 * the queue program's fd 0, then the envelope "F<sender>\0T<rcpt>\0
 * ...\0" on its fd 1, then its exit code says whether the message is
 * durably in the spool.  Only mailout-queue writes the spool.  With
 * queue.socket set nothing is run: the read ends of the two pipes go to
 * mailout-queue --socket (SCM_RIGHTS; protocol in queue_main.c) and
 * the exit code comes back as one octet.
 * What it must never do: report success before mailout-queue exited 0,
 * or send an envelope after a message that was cut short (an aborted
 * message gets no envelope at all, so mailout-queue discards it).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "mail_spool.h"
#include "sendmail.h"

#define QSOCK_MAGIC "mailout-queue/1" /* queue_main.c: the request line */

extern char **environ;

/* close_pair - close both ends of a pipe */
static void
close_pair(int p[2])
{
	if (p[0] >= 0)
		(void)close(p[0]);
	if (p[1] >= 0)
		(void)close(p[1]);
}

/* spawn_queue - run path with the pipes' read ends on fd 0 and fd 1 */
static int
spawn_queue(struct sm_queue *q, const char *path, const char *config, const char *id, int msg[2],
            int env[2])
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t dfl;
	char *argv[6];
	int e, n = 0;

	argv[n++] = (char *)path;
	if (config) {
		argv[n++] = (char *)"-c";
		argv[n++] = (char *)config;
	}
	argv[n++] = (char *)"-i";
	argv[n++] = (char *)id;
	argv[n] = NULL;
	/* we ignore SIGPIPE; the queue program gets the default back */
	(void)sigemptyset(&dfl);
	(void)sigaddset(&dfl, SIGPIPE);
	if ((e = posix_spawnattr_init(&attr)) != 0)
		return e;
	if ((e = posix_spawn_file_actions_init(&fa)) != 0) {
		(void)posix_spawnattr_destroy(&attr);
		return e;
	}
	if ((e = posix_spawnattr_setsigdefault(&attr, &dfl)) == 0)
		e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
	if (e == 0)
		e = posix_spawn_file_actions_adddup2(&fa, msg[0], 0);
	if (e == 0)
		e = posix_spawn_file_actions_adddup2(&fa, env[0], 1);
	if (e == 0)
		e = posix_spawn(&q->pid, path, &fa, &attr, argv, environ);
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)posix_spawnattr_destroy(&attr);
	return e;
}

/* socket_send - connect to mailout-queue --socket and pass both read
 * ends with the request line; returns 0 or an errno value */
static int
socket_send(struct sm_queue *q, const char *path, const char *id, int msg_r, int env_r)
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
	    bounded_format(line, sizeof(line), "%s -i %s\n", QSOCK_MAGIC, id) < 0)
		return ENAMETOOLONG;
	if ((q->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return errno;
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
	e = errno ? errno : EIO;
	(void)close(q->sock);
	q->sock = -1;
	return e;
}

/* socket_wait - the exit-code octet; -1 if none came */
static int
socket_wait(struct sm_queue *q)
{
	unsigned char code;
	ssize_t n;

	do
		n = read(q->sock, &code, 1);
	while (n < 0 && errno == EINTR);
	(void)close(q->sock);
	q->sock = -1;
	return n == 1 ? code : -1;
}

int
sm_queue_open(struct sm_queue *q, const char *path, const char *socket, const char *config,
              const char *id)
{
	int msg[2] = {-1, -1}, env[2] = {-1, -1};
	int e;

	q->pid = -1;
	q->sock = -1;
	q->msg_fd = q->env_fd = -1;
	if (pipe2(msg, O_CLOEXEC) < 0 || pipe2(env, O_CLOEXEC) < 0) {
		e = errno;
		close_pair(msg);
		close_pair(env);
		errno = e;
		return -1;
	}
	if (socket != NULL && socket[0] != '\0')
		e = socket_send(q, socket, id, msg[0], env[0]);
	else
		e = spawn_queue(q, path, config, id, msg, env);
	(void)close(msg[0]);
	(void)close(env[0]);
	if (e != 0) {
		(void)close(msg[1]);
		(void)close(env[1]);
		errno = e;
		return -1;
	}
	q->msg_fd = msg[1];
	q->env_fd = env[1];
	return 0;
}

/* write_all - the whole buffer, retrying short writes */
static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
sm_queue_write(struct sm_queue *q, const char *p, size_t n)
{
	return write_all(q->msg_fd, p, n);
}

/* wait_queue - its exit code, or -1 if it died of a signal */
static int
wait_queue(struct sm_queue *q)
{
	int status;

	if (q->sock >= 0)
		return socket_wait(q);
	while (waitpid(q->pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	q->pid = -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* build_envelope - F<sender>\0T<rcpt>\0...\0 */
static int
build_envelope(struct buf *e, const char *sender, const struct sm_rcpts *r)
{
	size_t i;

	if (buf_appendc(e, 'F') < 0 || buf_append(e, sender, strlen(sender) + 1) < 0)
		return -1;
	for (i = 0; i < r->n; i++)
		if (buf_appendc(e, 'T') < 0 || buf_append(e, r->v[i], strlen(r->v[i]) + 1) < 0)
			return -1;
	return buf_appendc(e, '\0');
}

int
sm_queue_finish(struct sm_queue *q, const char *sender, const struct sm_rcpts *r)
{
	struct buf e = BUF_INIT(0);
	int ok;

	(void)close(q->msg_fd);
	q->msg_fd = -1;
	ok = build_envelope(&e, sender, r);
	if (ok == 0)
		(void)write_all(q->env_fd, e.s, e.len); /* EPIPE: its exit code tells */
	buf_free(&e);
	(void)close(q->env_fd);
	q->env_fd = -1;
	if (ok < 0) {
		(void)wait_queue(q);
		return 51; /* out of memory, as qmail-queue would say */
	}
	return wait_queue(q);
}

void
sm_queue_abort(struct sm_queue *q)
{
	if (q->msg_fd >= 0)
		(void)close(q->msg_fd);
	if (q->env_fd >= 0)
		(void)close(q->env_fd);
	q->msg_fd = q->env_fd = -1;
	if (q->pid > 0 || q->sock >= 0)
		(void)wait_queue(q);
}

/* sm_exit_code - qmail-queue's codes: 11-40 permanent, the rest
 * temporary; 91 (bad envelope) means we wrote a bad one: our bug */
int
sm_exit_code(int code)
{
	switch (code) {
	case 0:
		return EX_OK;
	case 11:
		return EX_DATAERR;
	case 91:
		return EX_SOFTWARE;
	default:
		if (code > 11 && code <= 40)
			return EX_UNAVAILABLE;
		return EX_TEMPFAIL;
	}
}

_Static_assert(RES_OK == 0, "RES_OK must be enum result's");
