/*
 * queuebench.c - the queue hand-off alone: N messages through
 * lib/mail_qclient.c, as mailout-smtpd hands them over
 *
 * Usage: queuebench -s SOCKET | -p PROGRAM [-c CONFIG] [-n N] [-j JOBS] [-z SIZE]
 *
 * -s: each message over the queue socket (mailout-queue --socket: one
 * process per connection, or the service on a listening socket);
 * -p: PROGRAM (mailout-queue [-c CONFIG]) spawned for each message, as
 * a receiver under inetd or tcpserver does.  JOBS processes (default 1)
 * each hand over N / JOBS messages of SIZE octets (default 2048), one
 * after the other.  Prints one line:
 *   "messages=N seconds=S rate=R cpu_ms=C latency_ms=L"
 * R in messages per second, C the CPU time (user + system) of the
 * clients and of every program they spawned, L the mean time of one
 * hand-off (open to exit code).  Exits 1 if any message was not
 * queued (exit code other than 0).
 *
 * What it must never do: run without bound (N is capped, a hand-off
 * has the client's own timeout), or hide a failed message.
 * Part of `make bench` (tests/bench/bench_handoff.py), never of `make check`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mail_qclient.h"

#define MAX_N 100000
#define MAX_JOBS 64
#define MAX_SIZE (1024 * 1024)
#define TIMEOUT 60 /* seconds a hand-off may take */

static char payload[MAX_SIZE];

/* now - monotonic seconds */
static double
now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0.0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* fill - a message of size octets: headers, then lines of text */
static void
fill(size_t size)
{
	static const char head[] = "From: <bench@example.org>\nTo: <rcpt@example.org>\n"
	                           "Subject: queue hand-off\n\n";
	size_t i;

	for (i = 0; i < size; i++)
		payload[i] = (i % 64 == 63) ? '\n' : (char)('a' + i % 26);
	memcpy(payload, head, size < sizeof(head) - 1 ? size : sizeof(head) - 1);
	if (size > 0)
		payload[size - 1] = '\n';
}

/* one - hand over one message; its exit code (-1: no verdict) */
static int
one(const struct qclient_opts *o, size_t size)
{
	static const char rcpt[] = "rcpt@example.org";
	struct qclient q;
	struct reply r;

	if (qclient_open(&q, o, &r) != RES_OK)
		return -1;
	(void)qclient_write(&q, payload, size);
	(void)qclient_commit(&q, "bench@example.org", rcpt, sizeof(rcpt), &r);
	return q.exit;
}

/* worker - n messages; writes "ok seconds" to fd; exits 0 if all queued */
static void
worker(const struct qclient_opts *o, long n, size_t size, int fd)
{
	double spent = 0.0, t;
	long i, ok = 0;
	char line[64];
	int len;

	for (i = 0; i < n; i++) {
		t = now();
		if (one(o, size) == 0)
			ok++;
		spent += now() - t;
	}
	len = snprintf(line, sizeof(line), "%ld %.6f\n", ok, spent);
	if (len > 0 && write(fd, line, (size_t)len) != len)
		_exit(2);
	_exit(ok == n ? 0 : 1);
}

/* collect - the workers' lines and exit codes; -1 if any failed */
static int
collect(int fd, int jobs, long *ok, double *spent)
{
	char buf[64 * MAX_JOBS + 1];
	size_t len = 0;
	ssize_t r;
	char *p;
	int i, st, bad = 0;

	while ((r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)r;
	buf[len] = '\0';
	for (p = buf; *p;) {
		long k = strtol(p, &p, 10);
		double s = strtod(p, &p);

		*ok += k;
		*spent += s;
		while (*p == '\n')
			p++;
	}
	for (i = 0; i < jobs; i++) {
		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad = 1;
	}
	return bad ? -1 : 0;
}

int
main(int argc, char **argv)
{
	struct qclient_opts o = {.queue_env = false, .timeout = TIMEOUT};
	long n = 1000, ok = 0;
	size_t size = 2048;
	int jobs = 1, c, i, p[2], rc;
	double t0, secs, spent = 0.0, cpu;
	struct rusage ru;

	while ((c = getopt(argc, argv, "s:p:c:n:j:z:")) != -1) {
		switch (c) {
		case 's':
			o.socket = optarg;
			break;
		case 'p':
			o.program = optarg;
			break;
		case 'c':
			o.config = optarg;
			break;
		case 'n':
			n = strtol(optarg, NULL, 10);
			break;
		case 'j':
			jobs = atoi(optarg);
			break;
		case 'z':
			size = (size_t)strtoul(optarg, NULL, 10);
			break;
		default:
			goto usage;
		}
	}
	if ((o.socket == NULL) == (o.program == NULL) || n < 1 || n > MAX_N || jobs < 1 ||
	    jobs > MAX_JOBS || size > MAX_SIZE || optind != argc)
		goto usage;
	log_init("queuebench");
	fill(size);
	if (pipe(p) < 0)
		return 1;
	t0 = now();
	for (i = 0; i < jobs; i++) {
		pid_t pid = fork();

		if (pid < 0)
			return 1;
		if (pid == 0) {
			(void)close(p[0]);
			worker(&o, n / jobs + (i < n % jobs ? 1 : 0), size, p[1]);
		}
	}
	(void)close(p[1]);
	rc = collect(p[0], jobs, &ok, &spent);
	secs = now() - t0;
	if (getrusage(RUSAGE_CHILDREN, &ru) < 0)
		return 1;
	cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	printf("messages=%ld seconds=%.3f rate=%.1f cpu_ms=%.1f latency_ms=%.3f\n", ok, secs,
	       (double)ok / secs, cpu, ok ? spent * 1e3 / (double)ok : 0.0);
	return rc == 0 && ok == n ? 0 : 1;
usage:
	fprintf(stderr, "usage: queuebench -s SOCKET | -p PROGRAM [-c CONFIG] [-n N] [-j JOBS] "
	                "[-z SIZE]\n");
	return 2;
}
