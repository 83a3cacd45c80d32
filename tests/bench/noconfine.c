/*
 * noconfine.c - LD_PRELOAD for mailout-smtpd under callgrind (the bench)
 *
 * What it is for: the bench profiles mailout-smtpd's inspection children
 * (forked, so they run under valgrind too).  Under their seccomp filter
 * valgrind could not write its output file, and their address-space
 * limit leaves valgrind no room; this makes prctl(2) and setrlimit(2)
 * no-ops, so the children run unconfined and their instructions are
 * counted (the filter and the limits cost a few system calls).
 * What it must never do: be loaded anywhere but in the bench's
 * valgrind runs: it switches the sandbox off.
 */
int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5);
int setrlimit(int resource, const void *rlim);

/* prctl - no PR_SET_NO_NEW_PRIVS, no PR_SET_SECCOMP: succeed doing nothing */
int
prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)
{
	(void)option;
	(void)a2;
	(void)a3;
	(void)a4;
	(void)a5;
	return 0;
}

/* setrlimit - no limits: succeed doing nothing */
int
setrlimit(int resource, const void *rlim)
{
	(void)resource;
	(void)rlim;
	return 0;
}
