/*
 * queue_server.c - mailout-queue --socket on a listening socket: the
 * hand-off service
 *
 * What it is for: systemd's mailout-queue.socket (Accept=no) starts one
 * mailout-queue --socket for all clients and passes it the listening
 * socket (fd 3 with LISTEN_FDS=1, or fd 0).  The parent forks a pool
 * of workers; each worker blocks in accept(2) on the shared listening
 * socket (the kernel wakes one waiter per connection: no herd), serves
 * the client exactly as a process of its own would (queue_sock.c, then
 * queue_run: fsync of file and directory, the exit-code octet), closes
 * the connection and accepts the next one.  A message costs neither a
 * fork nor an exec: a worker serves SERVER_WORKER_JOBS clients, then
 * exits and the parent forks a fresh one when needed.
 *
 * The parent never accepts: it only keeps enough workers.  Each worker
 * writes "busy" and "idle" (its pid and one flag, one atomic write) to
 * a pipe; when no worker is idle the parent forks another, up to
 * SERVER_CHILDREN_MAX (further clients wait in the listen backlog), so
 * the jobs of concurrent clients run at once, their fsyncs overlap and
 * the journal commits them together.  After idle seconds without a job
 * (and no client waiting) it stops the workers and exits 0; the socket
 * stays with systemd, which starts it again on the next connection:
 * nothing runs while no mail moves.  With -t 0 the pool keeps the
 * workers a burst made (at most SERVER_CHILDREN_MAX).  SIGTERM or
 * SIGINT: the parent passes it to the workers; an idle worker exits at
 * once (one whose accept returned in the same instant drops that
 * client, who sees no octet: a temporary failure), a busy one finishes
 * its job first; after SERVER_STOP_WAIT seconds what is left is killed
 * (SIGKILL: a commit cut short leaves no message in new/, and its
 * client, seeing no octet, fails temporarily), exit 0.
 *
 * Why a pool and not a fork per connection: fork and exit (the copy of
 * the address space, the page tables torn down) were a large part of
 * a one-message job.  A worker's state between jobs is its state after
 * the fork: every job starts with qq_job_init and sock_req_init and
 * ends with sock_done and qq_job_free, which close every fd the job
 * opened; the connection is replaced by /dev/null on fd 0 (which also
 * closes it: the client sees EOF after the octet) and the job's timer
 * is cancelled.  The config is the parent's, read once, never written.
 *
 * What it must never do: read from a client or touch the spool in the
 * parent; let a worker keep a connection past its job or anything of
 * one job into the next; run more than SERVER_CHILDREN_MAX workers;
 * stay when idle; wait without a bound once told to stop.
 */
#include "queue_sock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "timefmt.h"

#define SD_LISTEN_FD 3 /* sd_listen_fds(3): the first passed fd */
#define SPAWN_PAUSE_MS 1000 /* after a failed fork, or EMFILE in accept */
#define WORKER_FD_SHORTAGE 100 /* a worker's exit: accept found no fd */
#define WORKER_NO_SOCKET 101 /* a worker's exit: the listening socket is gone */

/* A worker, as the parent sees it. */
struct worker {
	pid_t pid;
	bool busy;
};

/* What a worker tells the parent: one write, atomic on a pipe. */
struct worker_note {
	int32_t pid;
	int32_t busy;
};

struct server {
	int lfd; /* the listening socket */
	long long idle_ms; /* 0: never exit when idle */
	server_job_fn job;
	void *arg;
	struct worker kids[SERVER_CHILDREN_MAX];
	unsigned nkids;
	unsigned nbusy;
	int notes[2]; /* the workers' notes: they write [1], the parent reads [0] */
	int devnull; /* fd 0 of a worker between jobs */
	long long last; /* ms: the last job's start or end */
	long long pause_until; /* ms: no fork before (fork or fd shortage) */
	long long stop_at; /* ms: when stopping, kill the jobs left then */
	bool stopping;
	int rc; /* the exit code */
	sigset_t waitmask; /* the mask while waiting: our signals open */
};

static volatile sig_atomic_t got_stop;
/* in a worker: blocked in accept, where a stop signal ends it at once */
static volatile sig_atomic_t in_accept;

/* on_stop - SIGTERM, SIGINT: noted, acted on in the loop; a worker
 * waiting in accept has nothing to finish: it leaves */
static void
on_stop(int sig)
{
	(void)sig;
	if (in_accept)
		_exit(0);
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
	/* the workers block in accept: one of them woken per connection */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
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

/* fds_setup - the notes pipe, /dev/null for between jobs, and the
 * listening socket off fd 0 (fd 0 is each job's connection) */
static int
fds_setup(struct server *s)
{
	int fd;

	if (pipe2(s->notes, O_CLOEXEC) < 0)
		return -1;
	if (fcntl(s->notes[0], F_SETFL, O_NONBLOCK) < 0)
		return -1;
	if ((s->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (s->lfd != 0)
		return 0;
	if ((fd = fcntl(0, F_DUPFD_CLOEXEC, 3)) < 0 || dup2(s->devnull, 0) < 0)
		return -1;
	s->lfd = fd;
	return 0;
}

/* note - in a worker: tell the parent it is busy or idle */
static void
note(const struct server *s, bool busy)
{
	struct worker_note n = {(int32_t)getpid(), busy};

	if (write(s->notes[1], &n, sizeof(n)) != (ssize_t)sizeof(n))
		_exit(0); /* the parent is gone: so is the service */
}

/* worker_accept - in a worker: the next connection; a stop signal
 * while waiting ends the worker */
static int
worker_accept(const struct server *s)
{
	int conn, e;

	for (;;) {
		in_accept = 1;
		if (got_stop)
			_exit(0);
		conn = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		in_accept = 0;
		if (conn >= 0)
			return conn;
		e = errno;
		if (e == EINTR || e == EAGAIN || e == EWOULDBLOCK || e == ECONNABORTED)
			continue;
		log_warn_errno("--socket: accept");
		if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM)
			_exit(WORKER_FD_SHORTAGE);
		_exit(WORKER_NO_SOCKET);
	}
}

/* worker_job - in a worker: one client on fd 0; afterwards fd 0 is
 * /dev/null again (the connection closed) and no timer runs */
static void
worker_job(const struct server *s, int conn)
{
	note(s, true);
	if (dup2(conn, 0) < 0)
		_exit(QQ_BUG);
	(void)close(conn);
	(void)s->job(s->arg);
	(void)alarm(0);
	if (dup2(s->devnull, 0) < 0)
		_exit(QQ_BUG);
	note(s, false);
}

/* worker_run - a worker: jobs until SERVER_WORKER_JOBS or a stop signal */
static void
worker_run(const struct server *s)
{
	struct sigaction sa;
	sigset_t none;
	unsigned n;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	(void)sigemptyset(&none);
	(void)close(s->notes[0]);
	if (sigaction(SIGCHLD, &sa, NULL) < 0)
		_exit(QQ_BUG);
	/* a stop signal during a job: noted, the job's reads carry on */
	sa.sa_handler = on_stop;
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		_exit(QQ_BUG);
	for (n = 0; n < SERVER_WORKER_JOBS && !got_stop; n++)
		worker_job(s, worker_accept(s));
	_exit(0);
}

/* spawn - one more (idle) worker */
static void
spawn(struct server *s)
{
	pid_t pid = fork();

	if (pid == 0)
		worker_run(s);
	if (pid < 0) {
		log_warn_errno("--socket: fork");
		s->pause_until = mono_ms() + SPAWN_PAUSE_MS;
		return;
	}
	s->kids[s->nkids].pid = pid;
	s->kids[s->nkids].busy = false;
	s->nkids++;
}

/* find - the worker with pid, or NULL */
static struct worker *
find(struct server *s, pid_t pid)
{
	unsigned i;

	for (i = 0; i < s->nkids; i++)
		if (s->kids[i].pid == pid)
			return &s->kids[i];
	return NULL;
}

/* read_notes - the workers' busy and idle notes written so far */
static void
read_notes(struct server *s)
{
	struct worker_note buf[SERVER_CHILDREN_MAX];
	struct worker *w;
	ssize_t n, i;

	while ((n = read(s->notes[0], buf, sizeof(buf))) > 0) {
		for (i = 0; i < n / (ssize_t)sizeof(buf[0]); i++) {
			if ((w = find(s, (pid_t)buf[i].pid)) == NULL ||
			    w->busy == (buf[i].busy != 0))
				continue;
			w->busy = buf[i].busy != 0;
			s->nbusy = w->busy ? s->nbusy + 1 : s->nbusy - 1;
			s->last = mono_ms();
		}
	}
}

/* ended - worker w exited with status st: forget it */
static void
ended(struct server *s, struct worker *w, int st)
{
	if (w->busy)
		s->nbusy--;
	*w = s->kids[--s->nkids];
	s->last = mono_ms();
	if (WIFSIGNALED(st))
		log_warn("--socket: job ended by signal %d", WTERMSIG(st));
	else if (WIFEXITED(st) && WEXITSTATUS(st) == WORKER_FD_SHORTAGE)
		s->pause_until = mono_ms() + SPAWN_PAUSE_MS;
	else if (WIFEXITED(st) && WEXITSTATUS(st) == WORKER_NO_SOCKET)
		s->rc = QQ_BUG; /* the listening socket is gone: stop */
}

/* reap - collect the workers that ended; a crash is logged here, the
 * job logged everything else */
static void
reap(struct server *s)
{
	struct worker *w;
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		if ((w = find(s, pid)) != NULL)
			ended(s, w, st);
}

/* kill_jobs - the stop wait is over: end the jobs still running */
static void
kill_jobs(struct server *s)
{
	unsigned i;
	int st;

	log_warn("--socket: stopping: %u job(s) still running after %d s: killed", s->nbusy,
	         SERVER_STOP_WAIT);
	for (i = 0; i < s->nkids; i++)
		(void)kill(s->kids[i].pid, SIGKILL);
	for (i = 0; i < s->nkids; i++)
		while (waitpid(s->kids[i].pid, &st, 0) < 0 && errno == EINTR)
			;
	s->nkids = s->nbusy = 0;
}

/* grow - no idle worker: fork one (within the bound) */
static void
grow(struct server *s)
{
	if (!s->stopping && s->nkids == s->nbusy && s->nkids < SERVER_CHILDREN_MAX &&
	    mono_ms() >= s->pause_until)
		spawn(s);
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
	if (s->nkids == s->nbusy && now < s->pause_until)
		return s->pause_until;
	if (s->nbusy == 0 && s->idle_ms > 0)
		return s->last + s->idle_ms;
	return -1;
}

/* wait_event - sleep until a note, a signal or wake_at() */
static void
wait_event(struct server *s)
{
	long long now = mono_ms(), at = wake_at(s, now);
	struct pollfd p = {s->notes[0], POLLIN, 0};
	struct timespec ts, *tsp = NULL;

	if (at >= 0) {
		at = at > now ? at - now : 0;
		ts.tv_sec = (time_t)(at / 1000);
		ts.tv_nsec = (long)(at % 1000) * 1000000;
		tsp = &ts;
	}
	(void)ppoll(&p, 1, tsp, &s->waitmask);
}

/* stop - no more jobs: the workers are told (an idle one leaves, a
 * busy one after its job) */
static void
stop(struct server *s, long long now)
{
	unsigned i;

	s->stopping = true;
	s->stop_at = now + SERVER_STOP_WAIT * 1000LL;
	for (i = 0; i < s->nkids; i++)
		(void)kill(s->kids[i].pid, SIGTERM);
}

/* idle - time for the idle exit? */
static bool
idle(const struct server *s, long long now)
{
	return s->idle_ms > 0 && s->nbusy == 0 && now - s->last >= s->idle_ms && !pending(s->lfd);
}

/* done - time to leave the loop?  Starts the stop when asked to */
static bool
done(struct server *s)
{
	long long now = mono_ms();

	if ((got_stop || s->rc != QQ_OK) && !s->stopping) {
		log_info("--socket: stopping: no new connection; %u job(s) to finish", s->nbusy);
		stop(s, now);
	} else if (!s->stopping && idle(s, now)) {
		stop(s, now);
	}
	if (s->stopping && s->nkids > 0 && now >= s->stop_at)
		kill_jobs(s);
	return s->stopping && s->nkids == 0;
}

int
server_run(int lfd, unsigned idle_s, server_job_fn job, void *arg)
{
	struct server s;

	memset(&s, 0, sizeof(s));
	s.lfd = lfd;
	s.idle_ms = (long long)idle_s * 1000;
	s.job = job;
	s.arg = arg;
	s.rc = QQ_OK;
	s.last = mono_ms();
	if (signals_setup(&s) < 0 || fds_setup(&s) < 0) {
		log_warn_errno("--socket: setup");
		return QQ_BUG;
	}
	for (;;) {
		read_notes(&s);
		reap(&s);
		if (done(&s))
			break;
		grow(&s);
		wait_event(&s);
	}
	return s.rc;
}
