/*
 * scan_sandbox.c - what confines the inspection child
 *
 * What it is for: keeping a bug in the MIME walker or in libarchive -
 * both chew on hostile input - away from everything that matters.  The
 * child (its life: scan_inspector.c) holds /dev/null on fds 0, 1 and 2
 * and its socket to the parent on fd 3, and nothing else (close_range):
 * no client connection, no listening socket, no syslog or journal
 * socket, no stderr that might be the client's (inetd).  It sets
 * no_new_privs and installs a seccomp filter under which every way to
 * reach the network (socket, connect, sendmsg ...), to run a program
 * (execve, fork, clone), to open, create, change or remove a file, to
 * signal another process (kill, tgkill ...), to read or write another
 * process's memory (ptrace, process_vm_readv/writev, pidfd_getfd), to
 * change namespaces or mounts, or to use io_uring (which would bypass
 * the filter) fails with EPERM.  The filter is a deny-list: what it
 * lets through acts only on the fds above and on what the parent sends
 * - recvmsg on the socket (each message's sealed memfd comes with
 * SCM_RIGHTS), fstat, mmap and munmap of that memfd, close, read,
 * write, the alarm - so the one place the child can write to that is
 * not /dev/null is its socket, and what it can receive there comes
 * from its parent only.  It also gets a CPU limit (for its whole life:
 * scan_inspector.c replaces a child that has used a share of it) and
 * (when not under a sanitizer, which needs the address space) an
 * address-space limit.
 *
 * What the child can read: the whole memory of the process that forked
 * it, and that is why mailout-smtpd forks it from a process that holds
 * nothing secret (smtpd/smtpd_inspect.c): its verdict - names from the
 * message, sanitised - reaches the client in a 554, so whatever a
 * compromised inspector could read, it could send there.
 * What it must never do: trust the child: its verdict is read with a
 * fixed size, checked and sanitised again by the parent.
 *
 * On architectures other than x86_64 and aarch64 there is no filter,
 * and scan_confine() fails: the inspection then never runs and every
 * message is deferred (fail closed), rather than inspected unconfined.
 */
#include "scan.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define SCAN_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SCAN_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SCAN_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SCAN_UNDER_ASAN 1
#endif
#endif

#define SCAN_AS_MAX ((rlim_t)2048 * 1024 * 1024)

#define DENY(nr)                                                                                   \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1),                                           \
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))

#ifndef SCAN_AUDIT_ARCH
int
scan_confine(void)
{
	errno = ENOSYS;
	return -1;
}
#else
int
scan_confine(void)
{
	static struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SCAN_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#if defined(__x86_64__)
		/* the x32 ABI numbers every call anew: refuse it whole */
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		DENY(__NR_open),
		DENY(__NR_creat),
		DENY(__NR_rename),
		DENY(__NR_unlink),
		DENY(__NR_mkdir),
		DENY(__NR_rmdir),
		DENY(__NR_link),
		DENY(__NR_symlink),
		DENY(__NR_chmod),
		DENY(__NR_chown),
		DENY(__NR_lchown),
		DENY(__NR_mknod),
		DENY(__NR_fork),
		DENY(__NR_vfork),
#endif
		DENY(__NR_kill),
		DENY(__NR_tkill),
		DENY(__NR_tgkill),
		DENY(__NR_rt_sigqueueinfo),
		DENY(__NR_rt_tgsigqueueinfo),
		DENY(__NR_socket),
		DENY(__NR_socketpair),
		DENY(__NR_connect),
		DENY(__NR_bind),
		DENY(__NR_listen),
		DENY(__NR_accept),
		DENY(__NR_accept4),
		DENY(__NR_sendto),
		DENY(__NR_sendmsg),
		DENY(__NR_sendmmsg),
		DENY(__NR_execve),
		DENY(__NR_execveat),
		DENY(__NR_clone),
		DENY(__NR_clone3),
		DENY(__NR_ptrace),
		DENY(__NR_openat),
		DENY(__NR_openat2),
		DENY(__NR_open_by_handle_at),
		DENY(__NR_renameat),
		DENY(__NR_renameat2),
		DENY(__NR_unlinkat),
		DENY(__NR_mkdirat),
		DENY(__NR_linkat),
		DENY(__NR_symlinkat),
		DENY(__NR_mknodat),
		DENY(__NR_truncate),
		DENY(__NR_ftruncate),
		DENY(__NR_fchmod),
		DENY(__NR_fchmodat),
		DENY(__NR_fchown),
		DENY(__NR_fchownat),
		DENY(__NR_process_vm_readv),
		DENY(__NR_process_vm_writev),
		DENY(__NR_io_uring_setup),
		DENY(__NR_io_uring_enter),
		DENY(__NR_io_uring_register),
		DENY(__NR_mount),
		DENY(__NR_umount2),
		DENY(__NR_pivot_root),
		DENY(__NR_chroot),
		DENY(__NR_unshare),
		DENY(__NR_setns),
#ifdef __NR_open_tree
		DENY(__NR_open_tree),
		DENY(__NR_move_mount),
		DENY(__NR_fsopen),
		DENY(__NR_fsmount),
		DENY(__NR_fspick),
#endif
		DENY(__NR_bpf),
		DENY(__NR_perf_event_open),
		DENY(__NR_memfd_create),
		DENY(__NR_fallocate),
		DENY(__NR_setxattr),
		DENY(__NR_fsetxattr),
		DENY(__NR_pidfd_send_signal),
		DENY(__NR_pidfd_getfd),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {(unsigned short)(sizeof(insns) / sizeof(insns[0])), insns};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0 ? -1 : 0;
}
#endif

int
scan_child_limits(void)
{
	struct rlimit cpu = {SCAN_CPU_MAX, SCAN_CPU_MAX + 1}, none = {0, 0};
	sigset_t set;

	/* SIGALRM and SIGXCPU kill: a handler of the parent's, such as
	 * mailout-scan's read timeout, would turn "too long" into an exit code */
	if (signal(SIGALRM, SIG_DFL) == SIG_ERR || signal(SIGXCPU, SIG_DFL) == SIG_ERR ||
	    sigemptyset(&set) < 0 || sigaddset(&set, SIGALRM) < 0 || sigaddset(&set, SIGXCPU) < 0 ||
	    sigprocmask(SIG_UNBLOCK, &set, NULL) < 0)
		return -1;
	if (setrlimit(RLIMIT_CPU, &cpu) < 0 || setrlimit(RLIMIT_FSIZE, &none) < 0)
		return -1;
#ifndef SCAN_UNDER_ASAN
	{
		struct rlimit as = {SCAN_AS_MAX, SCAN_AS_MAX};

		if (setrlimit(RLIMIT_AS, &as) < 0)
			return -1;
	}
#endif
	return 0;
}

int
scan_child_fds(int sock)
{
	int null, fd;

	if (sock < 3) { /* the loop below would cover it */
		errno = EBADF;
		return -1;
	}
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		return -1;
	for (fd = 0; fd <= 2; fd++)
		if (fd != null && dup2(null, fd) < 0)
			return -1;
	if (sock != 3 && dup2(sock, 3) < 0)
		return -1;
	return close_range(4, ~0U, 0);
}

int
scan_verdict_check(struct scan_verdict *v)
{
	char tmp[SCAN_NAME_MAX];

	if (v->kind < SCAN_CLEAN || v->kind > SCAN_NEED_ARCHIVE)
		return -1;
	v->name[sizeof(v->name) - 1] = v->outer[sizeof(v->outer) - 1] = '\0';
	v->why[sizeof(v->why) - 1] = v->note[sizeof(v->note) - 1] = '\0';
	scan_sanitize(tmp, sizeof(tmp), v->name);
	memcpy(v->name, tmp, sizeof(tmp));
	scan_sanitize(tmp, sizeof(tmp), v->outer);
	memcpy(v->outer, tmp, sizeof(tmp));
	scan_sanitize(tmp, sizeof(tmp), v->note);
	memcpy(v->note, tmp, sizeof(tmp));
	scan_sanitize(tmp, sizeof(v->why), v->why);
	memcpy(v->why, tmp, sizeof(v->why));
	return 0;
}
