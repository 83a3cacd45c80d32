/*
 * scan_inspector.c - the confined inspection child, kept for the
 * messages of one process
 *
 * What it is for: forking, confining (scan_sandbox.c) and asking the
 * child that runs scan_message.  It is forked at the first message a
 * process inspects - a session, the TLS helper of a session
 * (smtpd/smtpd_inspect.c), mailout-scan for its one message - and then
 * serves every later one of that process: a fork, a seccomp filter and
 * an exit per message cost the kernel far more than the inspection of
 * a plain message.  A fresh child inspects the message the parent had
 * mapped when it forked (and unmaps its copy); for each later one the
 * parent sends the sealed memfd over a SOCK_SEQPACKET pair
 * (SCM_RIGHTS) with its length, and the child maps it read-only,
 * closes it, inspects, unmaps, writes its fixed-size verdict and waits
 * for the next.  The parent kills it when done with it
 * (scan_inspector_stop); it exits at EOF, and is killed with its
 * parent (PR_SET_PDEATHSIG).
 *
 * The bounds stay per message.  Time: the child arms an alarm of
 * SCAN_TIME_MAX for each message and clears it when idle, and the
 * parent waits SCAN_WAIT_MAX for each verdict, then kills the child.
 * CPU: RLIMIT_CPU counts for a process's whole life and cannot be
 * raised again once lowered, so the child gets SCAN_CPU_MAX once, and
 * the parent, which reads the child's CPU clock before each message,
 * replaces a child that has used SCAN_CPU_WORN of it: every message
 * gets at least SCAN_CPU_MAX - SCAN_CPU_WORN seconds, none more than
 * SCAN_CPU_MAX, and a child that misbehaves gets no more than that in
 * all.  Memory: RLIMIT_AS as before (the address space is not
 * cumulative), and a fresh child after SCAN_INSPECTOR_MESSAGES, so that
 * what the allocator keeps does not pile up.  A child that took too
 * long, died, answered nonsense or reported trouble is ended; the next
 * message gets a fresh one.  When a child forked without libarchive
 * reports that a part may hold an archive, the parent loads it (the
 * child could not open it under its filter), ends that child and asks
 * a fresh one, forked after the load.
 *
 * What a kept child adds to the risk: nothing but the verdict leaves
 * it, as before, and it holds nothing the parent did not hold when it
 * forked; but a child that one message compromised (a bug in the MIME
 * walker or libarchive) goes on to serve the later messages of the same
 * process, so it can decide their verdicts - and only theirs: one
 * process serves one session.
 * What it must never do: trust the child - its verdict is read with a
 * deadline, in one record of the exact size, and checked and sanitised
 * again (scan_verdict_check) - or wait for it without a deadline; the
 * child never logs (a syslog() could reach a socket whose fd number is
 * now its own socket's) and leaves by _exit.
 */
#include "scan.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

#define CHILD_SOCK 3 /* scan_child_fds puts it there */

/* What the parent sends with each memfd. */
struct request {
	uint64_t len; /* octets in the memfd */
};

/* Exit codes of the child; the parent logs what they mean. */
enum child_exit {
	CHILD_OK = 0, /* EOF: the parent is done with it */
	CHILD_FDS = 10, /* scan_child_fds failed */
	CHILD_LIMITS, /* setrlimit failed */
	CHILD_CONFINE, /* no seccomp filter */
	CHILD_WRITE, /* a verdict could not be written */
	CHILD_REQUEST, /* a request that was not one memfd and its length */
	CHILD_ORPHAN, /* its parent was gone before it was confined */
};

static struct {
	pid_t pid; /* 0: none */
	int sock; /* -1: none */
	clockid_t cpu; /* the child's CPU clock, when cpu_ok */
	bool cpu_ok;
	unsigned served; /* messages sent to it */
} ins = {0, -1, 0, false, 0};

/* trouble - a verdict of our own trouble (temporary) */
static void
trouble(struct scan_verdict *v, const char *why)
{
	memset(v, 0, sizeof(*v));
	v->kind = SCAN_TROUBLE;
	(void)bounded_copy(v->why, sizeof(v->why), why);
}

/* child_inspect - one message: map the memfd, close it, inspect, unmap */
static void
child_inspect(int fd, uint64_t len, struct scan_verdict *v)
{
	const char *msg = "";
	struct stat st;

	if (fstat(fd, &st) < 0 || st.st_size < 0 || (uint64_t)st.st_size != len || len > SIZE_MAX ||
	    (len > 0 &&
	     (msg = mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED)) {
		(void)close(fd);
		trouble(v, "the message could not be mapped");
		return;
	}
	(void)close(fd);
	scan_message(msg, (size_t)len, v);
	if (len > 0)
		(void)munmap((void *)msg, (size_t)len);
}

/* child_answer - the verdict to the parent, then no bound while idle */
static void
child_answer(const struct scan_verdict *v)
{
	ssize_t w;

	do
		w = write(CHILD_SOCK, v, sizeof(*v));
	while (w < 0 && errno == EINTR);
	if (w != (ssize_t)sizeof(*v))
		_exit(CHILD_WRITE);
	alarm(0);
}

/* child_main - confine; the first message from the parent's mapping
 * (inherited), then one for each memfd the parent sends, until EOF */
__attribute__((noreturn)) static void
child_main(int sock, pid_t parent, const char *msg, size_t len)
{
	struct request req = {0};
	struct scan_verdict v;
	int fd, got;

	/* its socket may get a number scan_child_fds gives ours */
	closelog();
	log_use_journal(0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
		_exit(CHILD_ORPHAN);
	if (scan_child_fds(sock) < 0)
		_exit(CHILD_FDS);
	if (scan_child_limits() < 0)
		_exit(CHILD_LIMITS);
	if (scan_confine() < 0)
		_exit(CHILD_CONFINE);
	alarm(SCAN_TIME_MAX);
	scan_message(msg, len, &v);
	/* the parent unmaps its own; this copy would keep the memfd's
	 * pages as long as the child lives */
	if (len > 0)
		(void)munmap((void *)msg, len);
	child_answer(&v);
	while ((got = scan_fd_recv(CHILD_SOCK, &req, sizeof(req), &fd)) > 0) {
		alarm(SCAN_TIME_MAX);
		child_inspect(fd, req.len, &v);
		child_answer(&v);
	}
	_exit(got == 0 ? CHILD_OK : CHILD_REQUEST);
}

/* inspector_start - the socket pair and the child, which inspects msg
 * (mapped here) as its first message; 0, or -1 (logged) */
static int
inspector_start(const char *msg, size_t len)
{
	pid_t parent = getpid();
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn_errno("socketpair");
		return -1;
	}
	if ((ins.pid = fork()) < 0) {
		log_warn_errno("fork");
		ins.pid = 0;
		(void)close(sv[0]);
		(void)close(sv[1]);
		return -1;
	}
	if (ins.pid == 0) {
		(void)close(sv[0]);
		child_main(sv[1], parent, msg, len);
	}
	(void)close(sv[1]);
	ins.sock = sv[0];
	ins.served = 1;
	ins.cpu_ok = false; /* its clock is looked up before a second message */
	return 0;
}

/* inspector_end - kill the child (before it could see EOF and exit 0:
 * its wait status tells what ended it), close the socket, reap it;
 * its wait status, or -1 */
static int
inspector_end(void)
{
	int status = -1;

	if (ins.pid > 0)
		(void)kill(ins.pid, SIGKILL); /* nothing to a zombie: its status stays */
	if (ins.sock >= 0)
		(void)close(ins.sock);
	ins.sock = -1;
	if (ins.pid > 0)
		while (waitpid(ins.pid, &status, 0) < 0)
			if (errno != EINTR) {
				status = -1;
				break;
			}
	ins.pid = 0;
	return status;
}

void
scan_inspector_stop(void)
{
	(void)inspector_end();
}

pid_t
scan_inspector_pid(void)
{
	return ins.pid;
}

/* worn - replace the child before the next message?  After
 * SCAN_INSPECTOR_MESSAGES, or once it has used SCAN_CPU_WORN seconds
 * of its CPU limit (or its CPU time cannot be read) */
static bool
worn(void)
{
	struct timespec ts;

	if (ins.served >= SCAN_INSPECTOR_MESSAGES)
		return true;
	if (!ins.cpu_ok && clock_getcpuclockid(ins.pid, &ins.cpu) == 0)
		ins.cpu_ok = true;
	return !ins.cpu_ok || clock_gettime(ins.cpu, &ts) < 0 || ts.tv_sec >= SCAN_CPU_WORN;
}

/* too_long - the content made the inspection take too long: refuse it */
static enum result
too_long(struct scan_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->kind = SCAN_UNINSPECTABLE;
	(void)bounded_copy(v->why, sizeof(v->why), "takes too long to inspect");
	return RES_OK;
}

/* out_of_time - did a bound on time end the child? */
static bool
out_of_time(int status)
{
	return status >= 0 && WIFSIGNALED(status) &&
	       (WTERMSIG(status) == SIGXCPU || WTERMSIG(status) == SIGALRM);
}

/* child_failed - log why a child gave no verdict */
static void
child_failed(int status)
{
	static const char *const why[] = {"its descriptors could not be closed",
	                                  "its limits could not be set",
	                                  "it could not be confined",
	                                  "its verdict could not be written",
	                                  "it could not read the request",
	                                  "its parent was gone"};
	int code = status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;

	if (code >= CHILD_FDS && code <= CHILD_ORPHAN)
		log_warn("the inspection failed: %s", why[code - CHILD_FDS]);
	else
		log_warn("the inspection failed (wait status %d)", status);
}

/* inspect_once - one verdict from the child (a fresh one if there is
 * none, or it is worn); a child that gave none is ended */
static enum result
inspect_once(int memfd, const char *msg, size_t len, struct scan_verdict *v)
{
	struct request req = {len};
	bool timed_out = false;
	int got, status;

	if (ins.pid > 0 && worn())
		scan_inspector_stop();
	if (ins.pid == 0) {
		if (inspector_start(msg, len) < 0)
			return RES_TEMP;
		got = 0;
	} else {
		ins.served++;
		got = scan_fd_send(ins.sock, &req, sizeof(req), memfd);
	}
	if (got == 0) {
		got = scan_record_wait(ins.sock, v, sizeof(*v), mono_ms() + SCAN_WAIT_MAX * 1000LL);
		timed_out = got < 0 && errno == ETIMEDOUT;
	}
	if (got == 0 && scan_verdict_check(v) == 0) {
		if (v->kind == SCAN_TROUBLE) /* its memory may be spent */
			scan_inspector_stop();
		return RES_OK;
	}
	status = inspector_end();
	if (timed_out || out_of_time(status))
		return too_long(v);
	if (got == 0)
		log_warn("the inspection failed: a verdict out of range");
	else
		child_failed(status);
	return RES_TEMP;
}

enum result
scan_isolated(int memfd, const char *msg, size_t len, struct scan_verdict *v)
{
	enum result r = inspect_once(memfd, msg, len, v);

	if (r != RES_OK || v->kind != SCAN_NEED_ARCHIVE)
		return r;
	/* a part may hold an archive: load libarchive here, where files
	 * can be opened, and ask a child forked after the load */
	if (scan_arc_load() != RES_OK) {
		log_warn("the inspection needs libarchive (for \"%s\"), which could not be loaded",
		         v->name);
		return RES_TEMP;
	}
	scan_inspector_stop();
	r = inspect_once(memfd, msg, len, v);
	if (r == RES_OK && v->kind == SCAN_NEED_ARCHIVE) {
		log_warn("the inspection asked for libarchive again");
		(void)inspector_end();
		return RES_TEMP;
	}
	return r;
}
