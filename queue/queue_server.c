/*
 * queue_server.c - mailout-queue --socket on a listening socket: the
 * hand-off service
 *
 * What it is for: systemd's mailout-queue.socket (Accept=no) starts one
 * mailout-queue --socket for all clients and passes it the listening
 * socket (fd 3 with LISTEN_FDS=1, or fd 0).  It accepts each connection
 * and forks a child that serves it exactly as a process of its own
 * would (queue_sock.c, then queue_run: fsync of file and directory,
 * the exit-code octet), then _exits.  A message costs a fork of this
 * small process, not a fork, an exec and a dynamic link of a new one;
 * the jobs of concurrent clients run at once (up to SERVER_CHILDREN_MAX
 * children; further clients wait in the listen backlog), so their
 * fsyncs overlap and the journal commits them together.  After idle
 * seconds without a connection or a job it exits 0; the socket stays
 * with systemd, which starts it again on the next connection: nothing
 * runs while no mail moves.  SIGTERM or SIGINT: stop accepting, let the
 * jobs finish for SERVER_STOP_WAIT seconds, then kill what is left
 * (SIGKILL: a commit cut short leaves no message in new/, and its
 * client, seeing no octet, fails temporarily), exit 0.
 *
 * Why a fork per connection and not a pool of workers that loop
 * (Postfix's master and its prefork): a child starts from this parent,
 * which never holds client data, a spool fd or anything of another
 * job, so no state can leak from one job to the next and none needs
 * resetting; and the fork costs a fraction of the job itself (the
 * figures are in the README, "Benchmark").
 *
 * What it must never do: read from a client or touch the spool in the
 * parent (it accepts, forks and reaps; after a failed fork it writes
 * one octet, 51, and closes); let a child keep the listening socket or
 * another client's connection; accept while SERVER_CHILDREN_MAX jobs
 * run; stay when idle; wait without a bound once told to stop.
 */
#include "queue_sock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define SD_LISTEN_FD 3 /* sd_listen_fds(3): the first passed fd */
#define ACCEPT_PAUSE_MS 1000 /* after EMFILE and the like */

struct server {
	int lfd; /* the listening socket */
	long long idle_ms; /* 0: never exit when idle */
	server_job_fn job;
	void *arg;
	pid_t kids[SERVER_CHILDREN_MAX];
	unsigned nkids;
	long long last; /* ms: the last connection, or the last job's end */
	long long pause_until; /* ms: no accept before (fd shortage) */
	long long stop_at; /* ms: when stopping, kill the jobs left then */
	bool stopping;
	int rc; /* the exit code */
	sigset_t waitmask; /* the mask while waiting: our signals open */
};

static volatile sig_atomic_t got_stop;

/* now_ms - monotonic milliseconds */
static long long
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* on_stop - SIGTERM, SIGINT: noted, acted on in the loop */
static void
on_stop(int sig)
{
	(void)sig;
	got_stop = 1;
}

/* on_child - SIGCHLD: nothing to do but interrupt the wait */
static void
on_child(int sig)
{
	(void)sig;
}

/* listening - 1: fd is a listening unix stream socket; 0: fd is no
 * listening socket; -1: it listens, but not as a unix stream socket */
static int
listening(int fd)
{
	int on = 0, domain = 0, type = 0;
	socklen_t len = sizeof(on);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0 || !on)
		return 0;
	len = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != AF_UNIX)
		return -1;
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
		return -1;
	return 1;
}

/* passed_fds - how many fds LISTEN_FDS passes to this process (0: none,
 * or for another process; -1: not a number); the variables are
 * removed, as sd_listen_fds(1) does */
static long
passed_fds(void)
{
	const char *pid = secure_getenv("LISTEN_PID"), *fds = secure_getenv("LISTEN_FDS");
	char *end;
	long p, n;

	if (pid == NULL || fds == NULL)
		return 0;
	p = strtol(pid, &end, 10);
	if (*end != '\0' || p != (long)getpid())
		return 0;
	n = strtol(fds, &end, 10);
	if (*end != '\0' || end == fds || n < 0)
		n = -1;
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_FDNAMES");
	return n;
}

/* null_out - fd 1 is a copy of the listening socket (inetd passes it
 * on 0, 1 and 2; log_init has dealt with 2): make it /dev/null, so no
 * child holds the socket */
static int
null_out(void)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = dup2(fd, 1) < 0 ? -1 : 0;
	(void)close(fd);
	return rc;
}

int
server_listener(int *lfd, struct qq_job *job)
{
	long n = passed_fds();
	int fd = 0, kind;

	*lfd = -1;
	if (n > 1 || n < 0)
		return queue_fail(job, QQ_BUG, 0,
		                  "--socket: LISTEN_FDS must pass one socket or none");
	if (n == 1 && listening(SD_LISTEN_FD) != 0)
		fd = SD_LISTEN_FD; /* Accept=no; with Accept=yes fd 3 is the connection */
	if ((kind = listening(fd)) == 0)
		return QQ_OK;
	if (kind < 0)
		return queue_fail(job, QQ_BUG, 0, "--socket: fd %d is not a unix stream socket",
		                  fd);
	if (getauxval(AT_SECURE))
		return queue_fail(job, QQ_BUG, 0,
		                  "--socket: set-id: serves a connection, not a listening socket");
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		return queue_fail(job, QQ_BUG, errno, "--socket: fd %d", fd);
	if (listening(1) != 0 && null_out() < 0)
		return queue_fail(job, QQ_BUG, errno, "--socket: fd 1");
	*lfd = fd;
	return QQ_OK;
}

/* signals_setup - SIGCHLD, SIGTERM and SIGINT blocked but while waiting */
static int
signals_setup(struct server *s)
{
	struct sigaction sa;
	sigset_t ours;

	(void)sigemptyset(&ours);
	(void)sigaddset(&ours, SIGCHLD);
	(void)sigaddset(&ours, SIGTERM);
	(void)sigaddset(&ours, SIGINT);
	if (sigprocmask(SIG_BLOCK, &ours, &s->waitmask) < 0)
		return -1;
	(void)sigdelset(&s->waitmask, SIGCHLD);
	(void)sigdelset(&s->waitmask, SIGTERM);
	(void)sigdelset(&s->waitmask, SIGINT);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		return -1;
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	return sigaction(SIGCHLD, &sa, NULL);
}

/* child_run - in the child: default signals, the connection on fd 0,
 * no listening socket; the job, then _exit */
static void
child_run(const struct server *s, int conn)
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	(void)sigemptyset(&none);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGCHLD, &sa, NULL) < 0 || sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		_exit(QQ_BUG);
	if (conn != 0) {
		if (dup2(conn, 0) < 0)
			_exit(QQ_BUG);
		(void)close(conn);
	}
	if (s->lfd != 0)
		(void)close(s->lfd);
	_exit(s->job(s->arg));
}

/* refuse - no child for this client: 51, without reading anything */
static void
refuse(int conn)
{
	unsigned char code = QQ_NOMEM;

	(void)send(conn, &code, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* take_connection - accept one client and fork its child */
static void
take_connection(struct server *s)
{
	int conn = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC), e;
	pid_t pid;

	if (conn < 0) {
		e = errno;
		if (e == EINTR || e == EAGAIN || e == EWOULDBLOCK || e == ECONNABORTED)
			return;
		log_warn_errno("--socket: accept");
		if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM)
			s->pause_until = now_ms() + ACCEPT_PAUSE_MS;
		else
			s->rc = QQ_BUG; /* the listening socket is gone: stop */
		return;
	}
	s->last = now_ms();
	pid = fork();
	if (pid == 0)
		child_run(s, conn);
	if (pid < 0) {
		log_warn_errno("--socket: fork");
		refuse(conn);
	} else {
		s->kids[s->nkids++] = pid;
	}
	(void)close(conn);
}

/* reap - collect the children that ended; a crash is logged here, the
 * child logged everything else */
static void
reap(struct server *s)
{
	pid_t pid;
	unsigned i;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < s->nkids && s->kids[i] != pid; i++)
			;
		if (i == s->nkids)
			continue;
		s->kids[i] = s->kids[--s->nkids];
		s->last = now_ms();
		if (WIFSIGNALED(st))
			log_warn("--socket: job %ld ended by signal %d", (long)pid, WTERMSIG(st));
	}
}

/* kill_jobs - the stop wait is over: end the jobs still running */
static void
kill_jobs(struct server *s)
{
	unsigned i;
	int st;

	log_warn("--socket: stopping: %u job(s) still running after %d s: killed", s->nkids,
	         SERVER_STOP_WAIT);
	for (i = 0; i < s->nkids; i++)
		(void)kill(s->kids[i], SIGKILL);
	for (i = 0; i < s->nkids; i++)
		while (waitpid(s->kids[i], &st, 0) < 0 && errno == EINTR)
			;
	s->nkids = 0;
}

/* accepting - may a new connection be taken now? */
static bool
accepting(const struct server *s, long long now)
{
	return !s->stopping && s->nkids < SERVER_CHILDREN_MAX && now >= s->pause_until;
}

/* pending - a client waits in the backlog */
static bool
pending(int lfd)
{
	struct pollfd p = {lfd, POLLIN, 0};

	return poll(&p, 1, 0) > 0;
}

/* wake_at - when the loop must look again without an event (-1: never) */
static long long
wake_at(const struct server *s, long long now)
{
	if (s->stopping)
		return s->stop_at;
	if (now < s->pause_until)
		return s->pause_until;
	if (s->nkids == 0 && s->idle_ms > 0)
		return s->last + s->idle_ms;
	return -1;
}

/* wait_event - sleep until a client, a signal or wake_at(); true when
 * the listening socket is readable */
static bool
wait_event(struct server *s)
{
	long long now = now_ms(), at = wake_at(s, now);
	struct pollfd p = {s->lfd, POLLIN, 0};
	struct timespec ts, *tsp = NULL;
	int n;

	if (at >= 0) {
		at = at > now ? at - now : 0;
		ts.tv_sec = (time_t)(at / 1000);
		ts.tv_nsec = (long)(at % 1000) * 1000000;
		tsp = &ts;
	}
	n = ppoll(&p, accepting(s, now) ? 1 : 0, tsp, &s->waitmask);
	if (n > 0 && (p.revents & POLLNVAL)) {
		log_warn("--socket: the listening socket is gone");
		s->rc = QQ_BUG;
		return false;
	}
	return n > 0 && (p.revents & POLLIN);
}

/* done - time to leave the loop?  Starts the stop when asked to */
static bool
done(struct server *s)
{
	long long now = now_ms();

	if ((got_stop || s->rc != QQ_OK) && !s->stopping) {
		s->stopping = true;
		s->stop_at = now + SERVER_STOP_WAIT * 1000LL;
		log_info("--socket: stopping: no new connection; %u job(s) to finish", s->nkids);
	}
	if (s->stopping && s->nkids > 0 && now >= s->stop_at)
		kill_jobs(s);
	if (s->stopping)
		return s->nkids == 0;
	return s->idle_ms > 0 && s->nkids == 0 && now - s->last >= s->idle_ms && !pending(s->lfd);
}

int
server_run(int lfd, unsigned idle, server_job_fn job, void *arg)
{
	struct server s;

	memset(&s, 0, sizeof(s));
	s.lfd = lfd;
	s.idle_ms = (long long)idle * 1000;
	s.job = job;
	s.arg = arg;
	s.rc = QQ_OK;
	s.last = now_ms();
	if (signals_setup(&s) < 0) {
		log_warn_errno("--socket: signals");
		return QQ_BUG;
	}
	for (;;) {
		reap(&s);
		if (done(&s))
			break;
		if (wait_event(&s))
			take_connection(&s);
	}
	return s.rc;
}
