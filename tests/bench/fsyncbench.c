/*
 * fsyncbench.c - the fsync ceiling of a file system: how many spool
 * commits per second it allows, whatever the program on top does
 *
 * Usage: fsyncbench DIR WRITERS COUNT [SIZE]
 *
 * Each of WRITERS processes commits COUNT files the way mailout-queue
 * does (queue/queue_spool.c): create DIR/tmp/NAME, write SIZE bytes
 * (default 2048), fsync the file, rename it to DIR/new/NAME, fsync new/.
 * Prints one line: "commits=N seconds=S rate=R" with R in commits per
 * second, all writers together.  The files are removed afterwards.
 *
 * What it must never do: write outside DIR, leave its files behind, or
 * run without bound (COUNT is capped, and so is the wall time).
 * Part of `make bench`, never of `make check`.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WRITERS 64
#define MAX_COUNT 100000
#define MAX_SIZE (1024 * 1024)
#define MAX_SECONDS 300 /* a writer stops after this, finished or not */

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

/* path_of - "DIR/SUB/w<writer>.<n>" into out; -1 if it does not fit */
static int
path_of(char *out, size_t size, const char *dir, const char *sub, int writer, long n)
{
	int len = snprintf(out, size, "%s/%s/w%d.%ld", dir, sub, writer, n);

	return len < 0 || (size_t)len >= size ? -1 : 0;
}

/* write_all - write len bytes or fail */
static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* commit_one - tmp file, write, fsync, rename, fsync the directory */
static int
commit_one(const char *dir, int newfd, int writer, long n, size_t size)
{
	char tmp[4096], dst[4096];
	int fd;

	if (path_of(tmp, sizeof(tmp), dir, "tmp", writer, n) < 0 ||
	    path_of(dst, sizeof(dst), dir, "new", writer, n) < 0)
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return -1;
	if (write_all(fd, payload, size) < 0 || fsync(fd) < 0) {
		(void)close(fd);
		(void)unlink(tmp);
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, dst) < 0) {
		(void)unlink(tmp);
		return -1;
	}
	return fsync(newfd);
}

/* writer - one process's COUNT commits, then remove its files */
static int
writer(const char *dir, int id, long count, size_t size)
{
	char path[4096];
	double deadline = now() + MAX_SECONDS;
	int newfd, rc = 0;
	long n, done = 0;

	if (path_of(path, sizeof(path), dir, "new", 0, 0) < 0)
		return 1;
	*strrchr(path, '/') = '\0';
	if ((newfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 1;
	for (n = 0; n < count && now() < deadline; n++, done++) {
		if (commit_one(dir, newfd, id, n, size) < 0) {
			perror("fsyncbench: commit");
			rc = 1;
			break;
		}
	}
	if (rc == 0 && done < count) {
		fprintf(stderr, "fsyncbench: writer %d: out of time after %ld commits\n", id, done);
		rc = 1;
	}
	for (n = 0; n < done; n++)
		if (path_of(path, sizeof(path), dir, "new", id, n) == 0)
			(void)unlink(path);
	(void)close(newfd);
	return rc;
}

/* make_dirs - DIR/tmp and DIR/new */
static int
make_dirs(const char *dir)
{
	char path[4096];
	int len;

	len = snprintf(path, sizeof(path), "%s/tmp", dir);
	if (len < 0 || (size_t)len >= sizeof(path) || (mkdir(path, 0700) < 0 && errno != EEXIST))
		return -1;
	len = snprintf(path, sizeof(path), "%s/new", dir);
	if (len < 0 || (size_t)len >= sizeof(path) || (mkdir(path, 0700) < 0 && errno != EEXIST))
		return -1;
	return 0;
}

/* run - fork the writers, wait for all; 0 if every one succeeded */
static int
run(const char *dir, int writers, long count, size_t size)
{
	pid_t pids[MAX_WRITERS];
	int i, status, rc = 0;

	for (i = 0; i < writers; i++) {
		if ((pids[i] = fork()) < 0) {
			perror("fsyncbench: fork");
			writers = i;
			rc = 1;
			break;
		}
		if (pids[i] == 0)
			_exit(writer(dir, i, count, size));
	}
	for (i = 0; i < writers; i++) {
		while (waitpid(pids[i], &status, 0) < 0)
			if (errno != EINTR)
				return 1;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rc = 1;
	}
	return rc;
}

int
main(int argc, char **argv)
{
	long writers, count, size = 2048;
	double t0, dt;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: fsyncbench DIR WRITERS COUNT [SIZE]\n");
		return 64;
	}
	writers = strtol(argv[2], NULL, 10);
	count = strtol(argv[3], NULL, 10);
	if (argc == 5)
		size = strtol(argv[4], NULL, 10);
	if (writers < 1 || writers > MAX_WRITERS || count < 1 || count > MAX_COUNT || size < 0 ||
	    size > MAX_SIZE) {
		fprintf(stderr, "fsyncbench: WRITERS 1..%d, COUNT 1..%d, SIZE 0..%d\n", MAX_WRITERS,
		        MAX_COUNT, MAX_SIZE);
		return 64;
	}
	memset(payload, 'x', sizeof(payload));
	if (make_dirs(argv[1]) < 0) {
		perror("fsyncbench: mkdir");
		return 73;
	}
	t0 = now();
	if (run(argv[1], (int)writers, count, (size_t)size) != 0)
		return 74;
	dt = now() - t0;
	printf("commits=%ld seconds=%.3f rate=%.1f\n", writers * count, dt,
	       dt > 0 ? (double)(writers * count) / dt : 0.0);
	return 0;
}
