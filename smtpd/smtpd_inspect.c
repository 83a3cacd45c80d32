/*
 * smtpd_inspect.c - where mailout-smtpd's inspection child comes from
 *
 * What it is for: choosing the process that forks the confined
 * inspection child (smtpd/scan_inspector.c), so that the child can read
 * nothing the client may not learn - its verdict, names taken from the
 * message, reaches the client in the 554, and a bug in the MIME walker
 * or libarchive could put anything it can read there.  The child is
 * forked at the session's first message and kept for the later ones:
 * a child that one message compromised could decide the verdicts of
 * the later messages of this session, and of no other.
 *
 * A session without TLS holds its config and what its client sent:
 * the session process forks the child itself.  A session that starts
 * TLS (STARTTLS or implicit) loads the certificate's private key and
 * the ticket keys all sessions share, and after TLS maybe AUTH's
 * passwd file or PAM state.  So before that (inspect_before_secrets)
 * it ends a child it may have, forks a helper, a copy of itself that
 * holds none of it, and from then on sends each sealed memfd to the
 * helper over a SOCK_SEQPACKET pair (SCM_RIGHTS); the helper passes it
 * on to its own kept confined child (scan_isolated; libarchive is
 * loaded in the helper when a message first needs it) and sends back
 * the verdict.  The seccomp filter keeps the child from reading the
 * session's memory any other way (ptrace, process_vm_readv, /proc:
 * open is refused).
 *
 * The helper holds /dev/null on fds 0 and 1, the session's stderr on
 * fd 2 (never the client's: lib/log.c has made it /dev/null under
 * inetd, and logs through syslog(3), which the helper reopens) and its
 * socket on fd 3: no client connection, no listening socket.  It ends
 * its child and itself when the socket reaches EOF (the session is
 * done), or is killed by the session (its child then by
 * PR_SET_PDEATHSIG); it never runs the session's atexit handlers or
 * flushes its stdio (_exit).
 * What it must never do: inspect in the session process once a secret
 * may be loaded (no helper then: the message is deferred), or wait for
 * the helper without a deadline.
 */
#include "smtpd_inspect.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>

#include "log.h"

#define HELPER_FD 3
/* two children at most (without, then with libarchive), each bounded */
#define HELPER_WAIT_MAX (2 * SCAN_WAIT_MAX + 10)
/* for the helper to end its child and exit at EOF, then it is killed */
#define HELPER_STOP_WAIT_MS 2000

struct helper_request {
	uint64_t len; /* octets in the memfd that comes with it */
};

struct helper_answer {
	int result; /* enum result of scan_isolated */
	struct scan_verdict v;
};

static struct {
	bool wanted; /* a secret may be loaded: inspect through the helper only */
	pid_t pid; /* 0: none */
	int sock; /* -1: none */
} helper = {false, 0, -1};

/* inspect_fd - the helper's part for one message: map it (a fresh
 * child reads the mapping), its child's verdict, unmap */
static enum result
inspect_fd(int fd, uint64_t len, struct scan_verdict *v)
{
	struct stat st;
	const char *msg = "";
	enum result r;

	if (fstat(fd, &st) < 0 || st.st_size < 0 || (uint64_t)st.st_size != len || len > SIZE_MAX) {
		log_warn("inspection helper: the message is not what was announced");
		return RES_TEMP;
	}
	if (len > 0 &&
	    (msg = mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
		log_warn_errno("inspection helper: mapping the message");
		return RES_TEMP;
	}
	r = scan_isolated(fd, msg, (size_t)len, v);
	if (len > 0)
		(void)munmap((void *)msg, (size_t)len);
	return r;
}

/* serve_one - one request: the memfd and its length in, the answer
 * back; 0, or -1 at EOF or on a broken request (the helper then exits) */
static int
serve_one(int sock)
{
	struct helper_request req = {0};
	struct helper_answer ans;
	int fd;

	if (scan_fd_recv(sock, &req, sizeof(req), &fd) <= 0)
		return -1;
	memset(&ans, 0, sizeof(ans));
	ans.result = (int)inspect_fd(fd, req.len, &ans.v);
	(void)close(fd);
	return send(sock, &ans, sizeof(ans), MSG_NOSIGNAL) == (ssize_t)sizeof(ans) ? 0 : -1;
}

/* helper_main - the helper: its fds, then requests until EOF */
__attribute__((noreturn)) static void
helper_main(int sock)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	/* syslog's and the journal's sockets go with close_range: forget
	 * them first, so that nothing writes to a number reused below */
	closelog();
	log_use_journal(0);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    (sock != HELPER_FD && dup2(sock, HELPER_FD) < 0) ||
	    close_range(HELPER_FD + 1, ~0U, 0) < 0)
		_exit(1);
	while (serve_one(HELPER_FD) == 0)
		;
	scan_inspector_stop();
	_exit(0);
}

/* helper_end - close the socket, give the helper grace_ms to end its
 * child and exit (it sees EOF), then kill and reap it */
static void
helper_end(int grace_ms)
{
	int fd;

	if (helper.sock >= 0)
		(void)close(helper.sock);
	helper.sock = -1;
	if (helper.pid <= 0)
		return;
	if (grace_ms > 0 && (fd = (int)syscall(SYS_pidfd_open, helper.pid, 0)) >= 0) {
		struct pollfd p = {fd, POLLIN, 0};

		(void)poll(&p, 1, grace_ms); /* readable once it has exited */
		(void)close(fd);
	}
	(void)kill(helper.pid, SIGKILL);
	while (waitpid(helper.pid, NULL, 0) < 0 && errno == EINTR)
		;
	helper.pid = 0;
}

/* helper_stop - at the session's exit */
static void
helper_stop(void)
{
	helper_end(HELPER_STOP_WAIT_MS);
}

/* helper_start - the socket pair, the fork; 0 or -1 (errno) */
static int
helper_start(void)
{
	int sv[2], e;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	if ((pid = fork()) < 0) {
		e = errno;
		(void)close(sv[0]);
		(void)close(sv[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		(void)close(sv[0]);
		helper_main(sv[1]);
	}
	(void)close(sv[1]);
	helper.pid = pid;
	helper.sock = sv[0];
	return 0;
}

void
inspect_before_secrets(const struct config *cfg)
{
	if (!cfg->content.block_executables || helper.wanted)
		return;
	helper.wanted = true;
	/* the session's own child (forked before any secret) is not kept:
	 * from now on no child comes from this process */
	scan_inspector_stop();
	if (helper_start() < 0) {
		log_warn_errno("unable to start the inspection helper; messages will be deferred");
		return;
	}
	if (atexit(helper_stop) != 0)
		log_warn("unable to register the inspection helper's end");
}

/* through_helper - one message through the helper; a helper that
 * fails us is stopped, and the session's later messages are deferred */
static enum result
through_helper(int memfd, size_t len, struct scan_verdict *v)
{
	struct helper_request req = {len};
	struct helper_answer ans;
	long long until = mono_ms() + HELPER_WAIT_MAX * 1000LL;

	if (helper.sock < 0) {
		log_warn("no inspection helper: message deferred");
		return RES_TEMP;
	}
	if (scan_fd_send(helper.sock, &req, sizeof(req), memfd) < 0 ||
	    scan_record_wait(helper.sock, &ans, sizeof(ans), until) < 0) {
		log_warn_errno("the inspection helper failed");
		helper_end(0);
		return RES_TEMP;
	}
	if (ans.result != RES_OK)
		return RES_TEMP; /* the helper logged why */
	*v = ans.v;
	if (scan_verdict_check(v) < 0) {
		log_warn("the inspection helper gave a bad verdict");
		helper_end(0);
		return RES_TEMP;
	}
	return RES_OK;
}

enum result
inspect_message(int memfd, const char *msg, size_t len, struct scan_verdict *v)
{
	static bool stop_registered;

	if (helper.wanted)
		return through_helper(memfd, len, v);
	if (!stop_registered) {
		stop_registered = true;
		if (atexit(scan_inspector_stop) != 0)
			log_warn("unable to register the inspection child's end");
	}
	return scan_isolated(memfd, msg, len, v);
}
