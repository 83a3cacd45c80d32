/*
 * test_spool_id.c - queue IDs, the qmail-queue envelope parser, the
 * spool envelope block, and mailout-queue's message store
 *
 * Must never touch anything outside a temporary directory it made.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "buf.h"
#include "mail_spool.h"
#include "queue_job.h"
#include "queue_sock.h"

#include <unistd.h>

#define N_IDS 100000

static void
test_id_format(void **state)
{
	char id[QUEUE_ID_LEN + 1];
	struct timespec ts;
	unsigned long long usec, now;
	size_t i;

	(void)state;
	assert_int_equal(queue_id_new(id, sizeof(id)), 0);
	assert_int_equal(strlen(id), QUEUE_ID_LEN);
	assert_true(queue_id_valid(id));
	assert_int_equal(id[16], '.');
	for (i = 0; i < 16; i++)
		assert_non_null(strchr("0123456789ABCDEF", id[i]));
	for (i = 17; i < QUEUE_ID_LEN; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", id[i]));
	/* the time part is now, in microseconds */
	assert_int_equal(sscanf(id, "%16llx", &usec), 1);
	assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
	now = (unsigned long long)ts.tv_sec * 1000000ULL;
	assert_true(usec <= now + 1000000ULL && usec + 5000000ULL >= now);
	/* too small a buffer is refused, not overrun */
	assert_int_equal(queue_id_new(id, QUEUE_ID_LEN), -1);
}

static int
cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
test_id_unique(void **state)
{
	char(*ids)[QUEUE_ID_LEN + 1] = calloc(N_IDS, sizeof(*ids));
	size_t i;

	(void)state;
	assert_non_null(ids);
	for (i = 0; i < N_IDS; i++)
		assert_int_equal(queue_id_new(ids[i], sizeof(ids[i])), 0);
	qsort(ids, N_IDS, sizeof(*ids), cmp_id);
	for (i = 1; i < N_IDS; i++)
		assert_string_not_equal(ids[i - 1], ids[i]);
	free(ids);
}

static void
test_id_sorted_by_time(void **state)
{
	char a[QUEUE_ID_LEN + 1], b[QUEUE_ID_LEN + 1];
	struct timespec pause = {0, 2000000};
	int i;

	(void)state;
	for (i = 0; i < 20; i++) {
		assert_int_equal(queue_id_new(a, sizeof(a)), 0);
		assert_int_equal(nanosleep(&pause, NULL), 0);
		assert_int_equal(queue_id_new(b, sizeof(b)), 0);
		assert_true(strcmp(a, b) < 0);
	}
}

static void
test_id_valid(void **state)
{
	static const char *const bad[] = {
	    "",
	    "../x",
	    "../../etc/passwd",
	    "0006445941624000/A7B2C3D4E5F6",
	    "0006445941624000.A7B2C3D4E5F",
	    "0006445941624000.A7B2C3D4E5F6X",
	    "0006445941624000.A7B2C3D4E5F6/",
	    "0006445941624000.a7b2c3d4e5f6",
	    "0006445941624000.A7B8C9D0E1F2", /* 0 1 8 9 are not base32 */
	    "000644594162400g.A7B2C3D4E5F6",
	    "000644594162400a.A7B2C3D4E5F6",
	    "0006445941624000..7B2C3D4E5F6",
	    "00064459416240000A7B2C3D4E5F6",
	};
	size_t i;

	(void)state;
	assert_true(queue_id_valid("0006445941624000.A7B2C3D4E5F6"));
	assert_true(queue_id_valid("FFFFFFFFFFFFFFFF.ZZZZZZZZZZZZ"));
	assert_false(queue_id_valid(NULL));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (queue_id_valid(bad[i]))
			fail_msg("accepted %s", bad[i]);
	}
}

struct env_case {
	const char *name;
	const char *in;
	size_t len;
	int code;
	const char *sender; /* when code is QQ_OK */
	size_t n_rcpts;
	const char *last_rcpt;
};

#define E(s) s, sizeof(s) - 1

static const struct env_case env_cases[] = {
    {"good", E("Fa@example.org\0Tb@example.org\0\0"), QQ_OK, "a@example.org", 1, "b@example.org"},
    {"two rcpts", E("Fa@x\0Tb@x\0Tc@x\0\0"), QQ_OK, "a@x", 2, "c@x"},
    {"null sender", E("F\0Tpostmaster@x\0\0"), QQ_OK, "", 1, "postmaster@x"},
    {"utf8", E("F\xc3\xa4@x\0T\xc3\xb6@x\0\0"), QQ_OK, "\xc3\xa4@x", 1, "\xc3\xb6@x"},
    {"quoted space", E("F\"a b\"@x\0Tc@x\0\0"), QQ_OK, "\"a b\"@x", 1, "c@x"},
    {"empty", E(""), QQ_BAD_ENVELOPE, NULL, 0, NULL},
    {"only final", E("\0"), QQ_BAD_ENVELOPE, NULL, 0, NULL},
    {"missing F", E("Tb@x\0\0"), QQ_BAD_ENVELOPE, NULL, 0, NULL},
    {"no T", E("Fa@x\0\0"), QQ_BAD_ENVELOPE, NULL, 0, NULL},
    {"no terminator", E("Fa@x\0Tb@x\0"), QQ_BAD_ENVELOPE, NULL, 0, NULL},
    {"cut in rcpt", E("Fa@x\0Tb@x"), QQ_BAD_ENVELOPE, NULL, 0, NULL},
    {"cut in sender", E("Fa@x"), QQ_BAD_ENVELOPE, NULL, 0, NULL},
    {"junk after", E("Fa@x\0Tb@x\0\0junk"), QQ_BAD_ENVELOPE, NULL, 0, NULL},
    {"extra nul", E("Fa@x\0Tb@x\0\0\0"), QQ_BAD_ENVELOPE, NULL, 0, NULL},
    {"bad type", E("Fa@x\0Xb@x\0\0"), QQ_BAD_ENVELOPE, NULL, 0, NULL},
    {"empty rcpt", E("Fa@x\0T\0\0"), QQ_BAD_ENVELOPE, NULL, 0, NULL},
    {"CR in sender", E("Fa\r@x\0Tb@x\0\0"), QQ_BAD_ENVELOPE, NULL, 0, NULL},
    {"LF in rcpt", E("Fa@x\0Tb@x\nEnvelope-To: <c@x>\0\0"), QQ_BAD_ENVELOPE, NULL, 0, NULL},
    {"bracket", E("Fa@x\0T<b@x>\0\0"), QQ_BAD_ENVELOPE, NULL, 0, NULL},
    {"tab", E("Fa@x\0Tb\t@x\0\0"), QQ_BAD_ENVELOPE, NULL, 0, NULL},
    {"DEL", E("Fa@x\0Tb\x7f@x\0\0"), QQ_BAD_ENVELOPE, NULL, 0, NULL},
};

static void
test_envelope_table(void **state)
{
	struct envelope env;
	size_t i;
	int rc;

	(void)state;
	envelope_init(&env);
	for (i = 0; i < sizeof(env_cases) / sizeof(env_cases[0]); i++) {
		const struct env_case *t = &env_cases[i];

		rc = envelope_parse(&env, t->in, t->len);
		if (rc != t->code)
			fail_msg("%s: got %d, want %d", t->name, rc, t->code);
		if (t->code != QQ_OK)
			continue;
		assert_string_equal(env.sender, t->sender);
		assert_int_equal(env.n_rcpts, t->n_rcpts);
		assert_string_equal(env.rcpts[env.n_rcpts - 1], t->last_rcpt);
	}
	envelope_free(&env);
}

/* build - F<sender>\0, n recipients of rlen octets, \0 */
static void
build(struct buf *b, size_t slen, size_t n, size_t rlen)
{
	size_t i, j;

	buf_reset(b);
	assert_int_equal(buf_appendc(b, 'F'), 0);
	for (j = 0; j < slen; j++)
		assert_int_equal(buf_appendc(b, 's'), 0);
	assert_int_equal(buf_appendc(b, '\0'), 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(buf_appendc(b, 'T'), 0);
		for (j = 0; j < rlen; j++)
			assert_int_equal(buf_appendc(b, 'r'), 0);
		assert_int_equal(buf_appendc(b, '\0'), 0);
	}
	assert_int_equal(buf_appendc(b, '\0'), 0);
}

static void
test_envelope_limits(void **state)
{
	struct buf b = BUF_INIT(0);
	struct envelope env;

	(void)state;
	envelope_init(&env);
	build(&b, ENVELOPE_ADDR_MAX, 1, ENVELOPE_ADDR_MAX);
	assert_int_equal(envelope_parse(&env, b.s, b.len), QQ_OK);
	build(&b, ENVELOPE_ADDR_MAX + 1, 1, 5);
	assert_int_equal(envelope_parse(&env, b.s, b.len), QQ_ADDR_TOO_LONG);
	build(&b, 5, 1, ENVELOPE_ADDR_MAX + 1);
	assert_int_equal(envelope_parse(&env, b.s, b.len), QQ_ADDR_TOO_LONG);
	build(&b, 5, ENVELOPE_RCPT_MAX, ENVELOPE_ADDR_MAX);
	assert_int_equal(envelope_parse(&env, b.s, b.len), QQ_OK);
	assert_int_equal(env.n_rcpts, ENVELOPE_RCPT_MAX);
	assert_true(b.len <= ENVELOPE_RAW_MAX);
	build(&b, 5, ENVELOPE_RCPT_MAX + 1, 3);
	assert_int_equal(envelope_parse(&env, b.s, b.len), QQ_BAD_ENVELOPE);
	assert_true(qq_exit_permanent(QQ_ADDR_TOO_LONG));
	assert_true(qq_exit_permanent(QQ_PERM));
	assert_false(qq_exit_permanent(QQ_BAD_ENVELOPE));
	assert_false(qq_exit_permanent(QQ_WRITE));
	envelope_free(&env);
	buf_free(&b);
}

static void
test_format_envelope(void **state)
{
	static const char in[] = "Froot@example.org\0Talice@example.org\0Tbob@example.org\0";
	static const char want[] = "Mailout-Spool: 1\n"
	                           "Queue-ID: 0006445941624000.A7B2C3D4E5F6\n"
	                           "Queued-At: 1764000000 (2025-11-24T16:00:00Z)\n"
	                           "Envelope-From: <root@example.org>\n"
	                           "Envelope-To: <alice@example.org>\n"
	                           "Envelope-To: <bob@example.org>\n"
	                           "\n";
	struct buf out = BUF_INIT(0);
	struct envelope env;

	(void)state;
	envelope_init(&env);
	assert_int_equal(envelope_parse(&env, in, sizeof(in)), QQ_OK);
	assert_int_equal(
	    spool_format_envelope(&out, "0006445941624000.A7B2C3D4E5F6", 1764000000, &env), 0);
	assert_string_equal(buf_cstr(&out), want);
	buf_reset(&out);
	assert_int_equal(envelope_parse(&env, "F\0Tx@y\0", 8), QQ_OK);
	assert_int_equal(spool_format_envelope(&out, "0006445941624000.A7B2C3D4E5F6", 0, &env), 0);
	assert_non_null(strstr(buf_cstr(&out), "\nEnvelope-From: <>\n"));
	assert_int_equal(spool_format_envelope(&out, "../x", 0, &env), -1);
	envelope_free(&env);
	buf_free(&out);
}

/* feed - add a string to a message store in pieces of size step */
static void
feed(struct queue_msg *m, int dir, const char *s, size_t step)
{
	size_t n = strlen(s), k;

	for (; n > 0; s += k, n -= k) {
		k = n < step ? n : step;
		assert_int_equal(queue_msg_add(m, dir, s, k), QQ_OK);
	}
	assert_int_equal(queue_msg_finish(m, dir), QQ_OK);
}

static void
test_msg_crlf(void **state)
{
	static const char in[] = "A: b\r\n\r\nline\rbare CR\r\nend\r";
	static const char want[] = "A: b\n\nline\rbare CR\nend\r";
	struct queue_msg m;
	size_t step;

	(void)state;
	for (step = 1; step <= sizeof(in); step++) {
		queue_msg_init(&m, 0);
		feed(&m, -1, in, step);
		assert_int_equal(m.mem.len, strlen(want));
		assert_memory_equal(m.mem.s, want, strlen(want));
		assert_int_equal(m.size, strlen(want));
		queue_msg_free(&m);
	}
	queue_msg_init(&m, 4);
	feed(&m, -1, "12345\r\n", 3);
	assert_true(m.too_big);
	queue_msg_free(&m);
}

/* a message held in memory: envelope block and message in one writev */
static void
test_msg_write_mem(void **state)
{
	char dir[] = "/tmp/test_spool_id.XXXXXX", back[64];
	struct queue_msg m;
	int dfd, out;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_true((dfd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0);
	queue_msg_init(&m, 0);
	assert_int_equal(queue_msg_add(&m, dfd, "Subject: x\n\nbody\n", 18), QQ_OK);
	assert_true(m.fd < 0);
	assert_true((out = openat(dfd, ".", O_TMPFILE | O_RDWR, 0600)) >= 0);
	assert_int_equal(queue_msg_write(&m, "H: 1\n\n", 6, out), QQ_OK);
	assert_int_equal(pread(out, back, sizeof(back), 0), 24);
	assert_memory_equal(back, "H: 1\n\nSubject: x\n\nbody\n", 24);
	/* an empty head is no special case */
	assert_int_equal(ftruncate(out, 0), 0);
	assert_int_equal(lseek(out, 0, SEEK_SET), 0);
	assert_int_equal(queue_msg_write(&m, "", 0, out), QQ_OK);
	assert_int_equal(pread(out, back, sizeof(back), 0), 18);
	assert_int_equal(close(out), 0);
	queue_msg_free(&m);
	assert_int_equal(close(dfd), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_msg_spill(void **state)
{
	char dir[] = "/tmp/test_spool_id.XXXXXX";
	char *big = malloc(3 * QUEUE_MEM_MAX), *back = malloc(3 * QUEUE_MEM_MAX);
	struct queue_msg m;
	int dfd, out;
	ssize_t r;
	size_t i;

	(void)state;
	assert_non_null(big);
	assert_non_null(back);
	for (i = 0; i < 3 * QUEUE_MEM_MAX; i++)
		big[i] = (i % 71 == 70) ? '\n' : (char)('a' + i % 26);
	assert_non_null(mkdtemp(dir));
	assert_true((dfd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0);
	queue_msg_init(&m, 0);
	assert_int_equal(queue_msg_add(&m, dfd, big, 3 * QUEUE_MEM_MAX), QQ_OK);
	assert_true(m.fd >= 0); /* spilled, to a file with no name */
	assert_int_equal(m.mem.len, 0);
	assert_true((out = openat(dfd, ".", O_TMPFILE | O_RDWR, 0600)) >= 0);
	assert_int_equal(queue_msg_write(&m, "H: 1\n\n", 6, out), QQ_OK);
	assert_int_equal(lseek(out, 0, SEEK_SET), 0);
	r = pread(out, back, 6, 0);
	assert_int_equal(r, 6);
	assert_memory_equal(back, "H: 1\n\n", 6);
	r = pread(out, back, 3 * QUEUE_MEM_MAX, 6);
	assert_int_equal(r, 3 * QUEUE_MEM_MAX);
	assert_memory_equal(back, big, 3 * QUEUE_MEM_MAX);
	assert_int_equal(close(out), 0);
	queue_msg_free(&m);
	assert_int_equal(close(dfd), 0);
	assert_int_equal(rmdir(dir), 0); /* nothing was left in it */
	free(big);
	free(back);
}

/* the --socket request line: exactly two forms, nothing around them */
static void
test_socket_request_line(void **state)
{
	static const char *const bad[] = {
	    "",
	    "\n",
	    "mailout-queue/1",
	    "mailout-queue/2\n",
	    "mailout-queue/1 \n",
	    "mailout-queue/1\n\n",
	    "Mailout-queue/1\n",
	    "mailout-queue/1 -c /etc/x\n",
	    "mailout-queue/1 -i 0006445941624000.A7B2C3D4E5F6 \n",
	    "mailout-queue/1 -i 0006445941624000.A7B2C3D4E5F6\nx",
	};
	char id[QUEUE_ID_LEN + 1];
	const char *l;
	size_t i;

	(void)state;
	l = "mailout-queue/1\n";
	assert_int_equal(sock_request_parse(l, strlen(l), id), 0);
	assert_string_equal(id, "");
	l = "mailout-queue/1 -i 0006445941624000.A7B2C3D4E5F6\n";
	assert_int_equal(sock_request_parse(l, strlen(l), id), 0);
	assert_string_equal(id, "0006445941624000.A7B2C3D4E5F6");
	/* an ID of the right length but not its syntax: a path, lower case */
	l = "mailout-queue/1 -i /../../../../../../etc/passwd\n";
	assert_int_equal(strlen(l), strlen("mailout-queue/1 -i 0006445941624000.A7B2C3D4E5F6\n"));
	assert_int_equal(sock_request_parse(l, strlen(l), id), -2);
	assert_string_equal(id, "");
	l = "mailout-queue/1 -i 0006445941624000.a7b2c3d4e5f6\n";
	assert_int_equal(sock_request_parse(l, strlen(l), id), -2);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sock_request_parse(bad[i], strlen(bad[i]), id), -1);
		assert_string_equal(id, "");
	}
	/* a NUL inside: the length counts, not the string */
	assert_int_equal(sock_request_parse("mailout-queue/1\0\n", 17, id), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_id_format),           cmocka_unit_test(test_id_unique),
	    cmocka_unit_test(test_id_sorted_by_time),   cmocka_unit_test(test_id_valid),
	    cmocka_unit_test(test_envelope_table),      cmocka_unit_test(test_envelope_limits),
	    cmocka_unit_test(test_format_envelope),     cmocka_unit_test(test_msg_crlf),
	    cmocka_unit_test(test_msg_write_mem),       cmocka_unit_test(test_msg_spill),
	    cmocka_unit_test(test_socket_request_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
