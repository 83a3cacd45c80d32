/*
 * test_qclient.c - unit tests for the queue hand-off (lib/mail_qclient.c)
 *
 * The exit-code table and the reply-line parser are table-driven.  The
 * hand-off itself runs real programs: small shell scripts in a scratch
 * directory stand in for mailout-queue and mailout-scan (they record
 * their name, arguments, message and envelope, write a line on fd 3
 * and exit with the code they are told), and a forked child stands in
 * for mailout-queue --socket on a unix socket in that directory.
 * SIGPIPE keeps its default action here, so an unguarded write to a
 * program that stopped reading would kill the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mail_qclient.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sysexits.h>

#define ID "0006445941624000.A7B2C3D4E5F6"

static char dir[64];
static char fake_queue[128], fake_scan[128], sock_path[128];

/* The stand-in: "NAME ARGS" to $QC_DIR/args, fd 0 to msg, fd 1 to env,
 * $QC_LINE on fd 3 when set, exit $QC_CODE.  $QC_EARLY: exit at once. */
static const char SCRIPT[] =
    "#!/bin/sh\n"
    "[ -n \"$QC_EARLY\" ] && exit \"$QC_EARLY\"\n"
    "echo \"$(basename \"$0\") $*\" > \"$QC_DIR/args\"\n"
    "cat > \"$QC_DIR/msg\"\n"
    "cat <&1 > \"$QC_DIR/env\"\n"
    "[ -n \"$QC_LINE\" ] && { printf '%s\\n' \"$QC_LINE\" >&3; } 2>/dev/null\n"
    "[ -n \"$QC_KILL\" ] && kill -9 $$\n"
    "exit \"${QC_CODE:-0}\"\n";

/* slurp - a file of the scratch directory, NUL-terminated; len set */
static char *
slurp(const char *name, size_t *len)
{
	static char data[1 << 16];
	char path[160];
	FILE *f;

	assert_true(snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path));
	f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	*len = fread(data, 1, sizeof(data) - 1, f);
	data[*len] = '\0';
	fclose(f);
	return data;
}

/* forget - remove what the last run recorded */
static void
forget(void)
{
	static const char *const names[] = {"args", "msg", "env"};
	char path[160];
	size_t i;

	for (i = 0; i < 3; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		(void)unlink(path);
	}
	unsetenv("QC_EARLY");
	unsetenv("QC_LINE");
	unsetenv("QC_CODE");
	unsetenv("QC_KILL");
	unsetenv("MAILOUT_QUEUE");
	unsetenv("MAILOUT_SCAN");
}

static void
write_script(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(SCRIPT, 1, sizeof(SCRIPT) - 1, f), sizeof(SCRIPT) - 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0755), 0);
}

static int
setup(void **state)
{
	(void)state;
	(void)signal(SIGPIPE, SIG_DFL);
	if (bounded_copy(dir, sizeof(dir), "/tmp/test_qclient.XXXXXX") < 0 || !mkdtemp(dir))
		return -1;
	(void)snprintf(fake_queue, sizeof(fake_queue), "%s/fake-queue", dir);
	(void)snprintf(fake_scan, sizeof(fake_scan), "%s/fake-scan", dir);
	(void)snprintf(sock_path, sizeof(sock_path), "%s/queue.sock", dir);
	write_script(fake_queue);
	write_script(fake_scan);
	return setenv("QC_DIR", dir, 1);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* formatted - "554 5.7.1 text" */
static const char *
formatted(const struct reply *r)
{
	static char line[REPLY_TEXT_MAX + 32];

	assert_int_equal(reply_format(r, line, sizeof(line)), 0);
	return line;
}

static void
test_exit_table(void **state)
{
	static const struct {
		int code;
		const char *reply;
		int sysexit;
	} t[] = {
	    {0, "250 2.0.0 Ok: queued as " ID, EX_OK},
	    {11, "554 5.1.3 Address too long", EX_DATAERR},
	    {31, "554 5.3.0 Message refused", EX_UNAVAILABLE},
	    {20, "554 5.3.0 Message refused", EX_UNAVAILABLE},
	    {51, "451 4.3.0 Local error in processing", EX_TEMPFAIL},
	    {53, "452 4.3.1 Insufficient system storage", EX_TEMPFAIL},
	    {54, "451 4.3.0 Local error in processing", EX_TEMPFAIL},
	    {55, "451 4.3.5 Local configuration error", EX_TEMPFAIL},
	    {71, "451 4.3.0 Local error in processing", EX_TEMPFAIL},
	    {81, "451 4.3.0 Local error in processing", EX_TEMPFAIL},
	    {91, "451 4.3.0 Local error in processing", EX_SOFTWARE},
	    {127, "451 4.3.0 Local error in processing", EX_TEMPFAIL},
	    {-1, "451 4.3.0 Local error in processing", EX_TEMPFAIL},
	};
	struct reply r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		qclient_exit_reply(t[i].code, ID, &r);
		assert_string_equal(formatted(&r), t[i].reply);
		assert_int_equal(qclient_exit_sysexit(t[i].code), t[i].sysexit);
	}
	qclient_exit_reply(0, NULL, &r);
	assert_string_equal(formatted(&r), "250 2.0.0 Ok: queued");
}

static void
test_parse_reply(void **state)
{
	static const struct {
		const char *line;
		const char *want; /* NULL: refused */
	} t[] = {
	    {"554 5.7.1 Attachment \"readme.txt\" (inside \"docs.zip\") is an executable\n",
	     "554 5.7.1 Attachment \"readme.txt\" (inside \"docs.zip\") is an executable"},
	    {"550 5.7.1 no\r\nsecond line\n", "550 5.7.1 no"},
	    {"552 5.3.4 Message too big", "552 5.3.4 Message too big"},
	    {"554 5.6.0 bad content\n", "554 5.6.0 bad content"},
	    {"451 4.7.1 temporary\n", NULL},
	    {"554 4.7.1 classes differ\n", NULL},
	    {"554-5.7.1 continued\n", NULL},
	    {"554 5.7.1 \n", NULL},
	    {"554 5.7.1\n", NULL},
	    {"554 5.9.9 unknown status\n", NULL},
	    {"554 5.7.12 longer detail\n", NULL},
	    {"5a4 5.7.1 letters\n", NULL},
	    {"554 5.7.1 tab\there\n", NULL},
	    {"554 5.7.1 bell\a\n", NULL},
	    {"554 5.7.1 \xc3\xa4 eight bit\n", NULL},
	    {"", NULL},
	    {"\n554 5.7.1 second line only\n", NULL},
	};
	struct reply r;
	char big[REPLY_TEXT_MAX + 40];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		r.code = 0;
		if (t[i].want == NULL) {
			assert_int_equal(qclient_parse_reply(t[i].line, strlen(t[i].line), &r), -1);
			assert_int_equal(r.code, 0);
		} else {
			assert_int_equal(qclient_parse_reply(t[i].line, strlen(t[i].line), &r), 0);
			assert_string_equal(formatted(&r), t[i].want);
		}
	}
	memset(big, 'x', sizeof(big));
	memcpy(big, "554 5.7.1 ", 10);
	assert_int_equal(qclient_parse_reply(big, sizeof(big), &r), -1);
}

/* run - open with o, write msg, commit to two recipients */
static enum result
run(const struct qclient_opts *o, const char *msg, struct qclient *q, struct reply *r)
{
	static const char rcpts[] = "a@example.org\0b@example.org";

	if (qclient_open(q, o, r) != RES_OK)
		return RES_TEMP;
	assert_true(qclient_running(q));
	assert_int_equal(qclient_write(q, msg, strlen(msg)), 0);
	return qclient_commit(q, "s@example.org", rcpts, sizeof(rcpts), r);
}

static void
test_program_queues(void **state)
{
	struct qclient_opts o = {.id = ID, .config = "/etc/x.conf", .program = fake_queue};
	struct qclient q;
	struct reply r;
	size_t len;
	char *data;

	(void)state;
	forget();
	assert_int_equal(run(&o, "Subject: x\n\nhi\n", &q, &r), RES_OK);
	assert_string_equal(formatted(&r), "250 2.0.0 Ok: queued as " ID);
	assert_int_equal(q.exit, 0);
	assert_false(qclient_running(&q));
	assert_string_equal(slurp("args", &len), "fake-queue -c /etc/x.conf -i " ID "\n");
	assert_string_equal(slurp("msg", &len), "Subject: x\n\nhi\n");
	data = slurp("env", &len);
	assert_int_equal(len, 15 + 2 * 15 + 1);
	assert_memory_equal(data, "Fs@example.org\0Ta@example.org\0Tb@example.org\0\0", len);
}

static void
test_exit_codes_and_reply_line(void **state)
{
	struct qclient_opts o = {.id = ID, .program = fake_scan, .reply = true};
	struct qclient q;
	struct reply r;

	(void)state;
	forget();
	setenv("QC_CODE", "31", 1);
	setenv("QC_LINE", "554 5.7.1 Attachment \"x.exe\" is an executable", 1);
	assert_int_equal(run(&o, "m\n", &q, &r), RES_PERM);
	assert_string_equal(formatted(&r), "554 5.7.1 Attachment \"x.exe\" is an executable");
	assert_int_equal(q.exit, 31);

	/* a line that is no 5xx reply: the table's */
	setenv("QC_LINE", "250 2.0.0 fine, really", 1);
	assert_int_equal(run(&o, "m\n", &q, &r), RES_PERM);
	assert_string_equal(formatted(&r), "554 5.3.0 Message refused");

	/* a line only counts with exit 31 */
	setenv("QC_CODE", "53", 1);
	setenv("QC_LINE", "554 5.7.1 not now", 1);
	assert_int_equal(run(&o, "m\n", &q, &r), RES_TEMP);
	assert_string_equal(formatted(&r), "452 4.3.1 Insufficient system storage");

	/* without o.reply there is no fd 3 to write to */
	o.reply = false;
	setenv("QC_CODE", "31", 1);
	assert_int_equal(run(&o, "m\n", &q, &r), RES_PERM);
	assert_string_equal(formatted(&r), "554 5.3.0 Message refused");

	unsetenv("QC_LINE");
	setenv("QC_KILL", "1", 1);
	assert_int_equal(run(&o, "m\n", &q, &r), RES_TEMP);
	assert_int_equal(q.exit, -1);
	assert_int_equal(r.code, 451);
	forget();
}

static void
test_program_stops_reading(void **state)
{
	struct qclient_opts o = {.id = ID, .program = fake_queue};
	static char chunk[65536];
	struct qclient q;
	struct reply r;
	int i, rc = 0;

	(void)state;
	forget();
	setenv("QC_EARLY", "55", 1);
	memset(chunk, 'x', sizeof(chunk));
	assert_int_equal(qclient_open(&q, &o, &r), RES_OK);
	for (i = 0; i < 64 && rc == 0; i++) /* 4 MiB: more than any pipe holds */
		rc = qclient_write(&q, chunk, sizeof(chunk));
	assert_int_equal(rc, -1);
	assert_true(q.failed);
	assert_int_equal(qclient_write(&q, "x", 1), -1);
	assert_int_equal(qclient_commit(&q, "s@example.org", "a@example.org", 14, &r), RES_TEMP);
	assert_int_equal(q.exit, 55);
	assert_string_equal(formatted(&r), "451 4.3.5 Local configuration error");
	forget();
}

static void
test_abort_sends_no_envelope(void **state)
{
	struct qclient_opts o = {.program = fake_queue};
	struct qclient q;
	struct reply r;
	size_t len;

	(void)state;
	forget();
	assert_int_equal(qclient_open(&q, &o, &r), RES_OK);
	assert_int_equal(qclient_write(&q, "cut", 3), 0);
	qclient_abort(&q);
	assert_false(qclient_running(&q));
	assert_int_equal(q.exit, 0);
	assert_string_equal(slurp("args", &len), "fake-queue \n");
	assert_string_equal(slurp("msg", &len), "cut");
	assert_non_null(slurp("env", &len));
	assert_int_equal(len, 0);
	qclient_abort(&q); /* twice: nothing left to do */
}

static void
test_missing_program(void **state)
{
	struct qclient_opts o = {.id = ID, .program = "/nonexistent/mailout-queue"};
	struct qclient q;
	struct reply r;

	(void)state;
	forget();
	assert_int_equal(qclient_open(&q, &o, &r), RES_TEMP);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(formatted(&r), "451 4.3.0 Local error in processing");
	assert_false(qclient_running(&q));
	assert_string_equal(q.name, "/nonexistent/mailout-queue");
}

/* chosen - what qclient_open picks for o; the pick is aborted */
static const char *
chosen(const struct qclient_opts *o)
{
	static struct qclient q;
	struct reply r;

	if (qclient_open(&q, o, &r) == RES_OK)
		qclient_abort(&q);
	return q.name;
}

static void
test_choice(void **state)
{
	struct qclient_opts o = {.id = ID};

	(void)state;
	forget();
	assert_string_equal(chosen(&o), MAILOUT_SBINDIR "/mailout-queue");
	o.socket = sock_path;
	assert_string_equal(chosen(&o), sock_path);
	o.scan = true;
	assert_string_equal(chosen(&o), MAILOUT_SBINDIR "/mailout-scan");
	setenv("MAILOUT_QUEUE", fake_queue, 1);
	assert_string_equal(chosen(&o), MAILOUT_SBINDIR "/mailout-scan"); /* not asked to */
	o.queue_env = true;
	assert_string_equal(chosen(&o), fake_queue); /* explicit beats compiled-in */
	setenv("MAILOUT_SCAN", fake_scan, 1);
	assert_string_equal(chosen(&o), fake_scan);
	o.scan = false;
	assert_string_equal(chosen(&o), fake_queue);
	setenv("MAILOUT_QUEUE", "", 1); /* empty: unset */
	assert_string_equal(chosen(&o), sock_path);
	o.program = fake_scan;
	assert_string_equal(chosen(&o), fake_scan);
	forget();
}

/* serve - one connection as mailout-queue --socket would take it: the
 * request line and two fds, the message, the envelope; answers code */
static void __attribute__((noreturn)) serve(int ls, unsigned char code)
{
	char line[80], data[4096], path[160];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} ctl;
	struct iovec iov = {line, sizeof(line) - 1};
	struct msghdr mh = {0};
	int c, fds[2], i;
	ssize_t n;
	FILE *f;

	alarm(20);
	if ((c = accept(ls, NULL, NULL)) < 0)
		_exit(1);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	if ((n = recvmsg(c, &mh, 0)) <= 0 || CMSG_FIRSTHDR(&mh) == NULL ||
	    CMSG_FIRSTHDR(&mh)->cmsg_len != CMSG_LEN(sizeof(fds)))
		_exit(2);
	line[n] = '\0';
	memcpy(fds, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(fds));
	for (i = 0; i < 3; i++) {
		static const char *const names[] = {"args", "msg", "env"};

		(void)snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if ((f = fopen(path, "wb")) == NULL)
			_exit(3);
		if (i == 0)
			fputs(line, f);
		while (i > 0 && (n = read(fds[i - 1], data, sizeof(data))) > 0)
			fwrite(data, 1, (size_t)n, f);
		fclose(f);
	}
	if (write(c, &code, 1) != 1)
		_exit(4);
	_exit(0);
}

/* listen_once - a listening socket and a child serving one connection */
static pid_t
listen_once(unsigned char code)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int ls;
	pid_t pid;

	(void)unlink(sock_path);
	assert_int_equal(bounded_copy(sun.sun_path, sizeof(sun.sun_path), sock_path), 0);
	assert_true((ls = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(ls, 1), 0);
	assert_true((pid = fork()) >= 0);
	if (pid == 0)
		serve(ls, code);
	close(ls);
	return pid;
}

static void
test_socket(void **state)
{
	struct qclient_opts o = {
	    .id = ID, .socket = sock_path, .config = "/ignored", .reply = true};
	struct qclient q;
	struct reply r;
	size_t len;
	int status;
	pid_t pid;

	(void)state;
	forget();
	pid = listen_once(0);
	assert_int_equal(run(&o, "over the socket\n", &q, &r), RES_OK);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	assert_string_equal(formatted(&r), "250 2.0.0 Ok: queued as " ID);
	assert_string_equal(slurp("args", &len), QCLIENT_SOCKET_MAGIC " -i " ID "\n");
	assert_string_equal(slurp("msg", &len), "over the socket\n");
	slurp("env", &len);
	assert_int_equal(len, 15 + 2 * 15 + 1);

	o.id = NULL;
	pid = listen_once(QQ_WRITE);
	assert_int_equal(run(&o, "x", &q, &r), RES_TEMP);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_string_equal(formatted(&r), "452 4.3.1 Insufficient system storage");
	assert_string_equal(slurp("args", &len), QCLIENT_SOCKET_MAGIC "\n");

	/* nobody listens: temporary, at once */
	(void)unlink(sock_path);
	assert_int_equal(qclient_open(&q, &o, &r), RES_TEMP);
	assert_int_equal(r.code, 451);
	assert_false(qclient_running(&q));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exit_table),
	    cmocka_unit_test(test_parse_reply),
	    cmocka_unit_test(test_program_queues),
	    cmocka_unit_test(test_exit_codes_and_reply_line),
	    cmocka_unit_test(test_program_stops_reading),
	    cmocka_unit_test(test_abort_sends_no_envelope),
	    cmocka_unit_test(test_missing_program),
	    cmocka_unit_test(test_choice),
	    cmocka_unit_test(test_socket),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
