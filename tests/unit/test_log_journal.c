/*
 * test_log_journal.c - journald's native protocol as log_journal.c
 * speaks it: a real AF_UNIX datagram socket in a temporary directory
 * stands in for /run/systemd/journal/socket.  One entry is one
 * datagram; "FIELD=value\n" per item; a value with a newline in the
 * binary form (FIELD, "\n", 64-bit little-endian length, value, "\n");
 * log.c's fields (MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, QUEUE_ID, ...)
 * arrive as sent, a NULL field is left out; an item that is not
 * FIELD=value, or a socket that is not there, is an error (log.c then
 * writes to stderr), never a crash.
 *
 * Must never touch the system's journal: every datagram goes to the
 * test's own socket, removed at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "log.h"
#include "log_journal.h"

#define DGRAM_MAX 65536
#define FIELDS_MAX 32

struct fx {
	char dir[64];
	char path[128];
	int fd;
};

static struct fx *current; /* for the sink, which has no argument */

static int
setup(void **state)
{
	static struct fx fx;
	struct sockaddr_un sa;
	struct timeval tv = {5, 0};

	(void)bounded_copy(fx.dir, sizeof(fx.dir), "/tmp/journal-test-XXXXXX");
	if (!mkdtemp(fx.dir))
		return -1;
	(void)bounded_format(fx.path, sizeof(fx.path), "%s/socket", fx.dir);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	(void)bounded_copy(sa.sun_path, sizeof(sa.sun_path), fx.path);
	if ((fx.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fx.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(fx.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -1;
	current = &fx;
	*state = &fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	close(fx->fd);
	(void)unlink(fx->path);
	return rmdir(fx->dir);
}

/* receive - one datagram; its length */
static size_t
receive(struct fx *fx, unsigned char *buf)
{
	ssize_t n = recv(fx->fd, buf, DGRAM_MAX, 0);

	assert_true(n > 0);
	return (size_t)n;
}

/* item - an iovec over a C string */
static struct iovec
item(const char *s)
{
	struct iovec v = {(void *)s, strlen(s)};

	return v;
}

struct field {
	char name[64];
	char value[4096];
	size_t len;
	int binary;
};

/* parse - the datagram as journald reads it; the number of fields */
static int
parse(const unsigned char *p, size_t n, struct field *f)
{
	const unsigned char *end = p + n, *nl, *eq;
	uint64_t len;
	int k = 0, i;

	while (p < end && k < FIELDS_MAX) {
		nl = memchr(p, '\n', (size_t)(end - p));
		assert_non_null(nl);
		eq = memchr(p, '=', (size_t)(nl - p));
		memset(&f[k], 0, sizeof(f[k]));
		if (eq) {
			memcpy(f[k].name, p, (size_t)(eq - p));
			f[k].len = (size_t)(nl - eq - 1);
			memcpy(f[k].value, eq + 1, f[k].len);
			p = nl + 1;
		} else {
			memcpy(f[k].name, p, (size_t)(nl - p));
			p = nl + 1;
			assert_true(end - p >= 8);
			for (len = 0, i = 7; i >= 0; i--)
				len = (len << 8) | p[i];
			p += 8;
			assert_true(len < sizeof(f[k].value) && (uint64_t)(end - p) >= len + 1);
			memcpy(f[k].value, p, (size_t)len);
			f[k].len = (size_t)len;
			f[k].binary = 1;
			p += len;
			assert_int_equal(*p, '\n');
			p++;
		}
		k++;
	}
	assert_true(p == end);
	return k;
}

/* find - the field of that name, or NULL */
static const struct field *
find(const struct field *f, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(f[i].name, name) == 0)
			return &f[i];
	return NULL;
}

static void
test_plain_items_one_line_each(void **state)
{
	struct fx *fx = *state;
	static unsigned char buf[DGRAM_MAX];
	struct iovec v[3] = {item("MESSAGE=hello world"), item("PRIORITY=6"),
	                     item("SYSLOG_IDENTIFIER=mailout-smtpd")};
	static const char want[] =
	    "MESSAGE=hello world\nPRIORITY=6\nSYSLOG_IDENTIFIER=mailout-smtpd\n";
	size_t n;

	assert_int_equal(log_journal_send_to(fx->path, v, 3), 0);
	n = receive(fx, buf);
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(buf, want, n);
}

static void
test_newline_value_binary_form(void **state)
{
	struct fx *fx = *state;
	static unsigned char buf[DGRAM_MAX];
	struct iovec v[3] = {item("MESSAGE=line one\nline two"), item("EMPTY="),
	                     item("TAIL=a=b\n")};
	static const unsigned char want[] = "MESSAGE\n"
	                                    "\x11\0\0\0\0\0\0\0"
	                                    "line one\nline two\n"
	                                    "EMPTY=\n"
	                                    "TAIL\n"
	                                    "\x04\0\0\0\0\0\0\0"
	                                    "a=b\n\n";
	struct field f[FIELDS_MAX];
	size_t n;

	assert_int_equal(log_journal_send_to(fx->path, v, 3), 0);
	n = receive(fx, buf);
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(buf, want, n);
	assert_int_equal(parse(buf, n, f), 3);
	assert_true(f[0].binary && f[0].len == 17);
	assert_memory_equal(f[0].value, "line one\nline two", 17);
	assert_false(f[1].binary);
	assert_int_equal(f[1].len, 0);
	assert_true(f[2].binary);
	assert_memory_equal(f[2].value, "a=b\n", 4);
}

/* sink - what log_journal_enable installs, with the test's socket */
static int
sink(const struct iovec *iov, int n)
{
	return log_journal_send_to(current->path, iov, n);
}

static void
test_log_fields_arrive_as_sent(void **state)
{
	struct fx *fx = *state;
	static unsigned char buf[DGRAM_MAX];
	struct field f[FIELDS_MAX];
	const struct field *m;
	const struct log_field fields[] = {{"QUEUE_ID", "0006445941624000.A7B2C3D4E5F6"},
	                                   {"CLIENT_ADDR", "192.0.2.7"},
	                                   {"SASL_USERNAME", NULL},
	                                   {"TLS", "TLSv1.3"}};
	int k;

	log_init("/usr/sbin/mailout-smtpd");
	log_use_journal(1);
	log_set_journal_sink(sink);
	log_fields(LOG_INFO, fields, 4, "%s: from=<%s>, nrcpt=%d", fields[0].value, "a@example.org",
	           1);
	k = parse(buf, receive(fx, buf), f);
	assert_int_equal(k, 6);
	assert_non_null(m = find(f, k, "MESSAGE"));
	assert_string_equal(m->value,
	                    "0006445941624000.A7B2C3D4E5F6: from=<a@example.org>, nrcpt=1");
	assert_string_equal(find(f, k, "PRIORITY")->value, "6");
	assert_string_equal(find(f, k, "SYSLOG_IDENTIFIER")->value, "mailout-smtpd");
	assert_string_equal(find(f, k, "QUEUE_ID")->value, "0006445941624000.A7B2C3D4E5F6");
	assert_string_equal(find(f, k, "CLIENT_ADDR")->value, "192.0.2.7");
	assert_string_equal(find(f, k, "TLS")->value, "TLSv1.3");
	assert_null(find(f, k, "SASL_USERNAME"));

	log_fields_text(LOG_INFO, fields + 1, 1, "100% text, no %s");
	k = parse(buf, receive(fx, buf), f);
	assert_int_equal(k, 4);
	assert_string_equal(find(f, k, "MESSAGE")->value, "100% text, no %s");
	assert_string_equal(find(f, k, "CLIENT_ADDR")->value, "192.0.2.7");

	log_warn("two\nlines");
	k = parse(buf, receive(fx, buf), f);
	assert_non_null(m = find(f, k, "MESSAGE"));
	assert_true(m->binary);
	assert_string_equal(m->value, "warning: two\nlines");
	assert_string_equal(find(f, k, "PRIORITY")->value, "4");
	log_set_journal_sink(NULL);
	log_use_journal(-1);
}

/* An item is cut at 2047 octets, "NAME=" included, as log.c always cut
 * it; a cut value keeps its first octets and the other items come whole. */
static void
test_long_items_cut(void **state)
{
	struct fx *fx = *state;
	static unsigned char buf[DGRAM_MAX];
	static char big[3000];
	struct field f[FIELDS_MAX];
	const struct log_field fields[] = {{"CLIENT_NAME", big}, {"QUEUE_ID", "Q1"}};
	const struct field *m;
	int k;

	memset(big, 'x', sizeof(big) - 1);
	big[0] = 'a';
	log_init("mailout-smtpd");
	log_use_journal(1);
	log_set_journal_sink(sink);
	log_fields(LOG_WARNING, fields, 2, "%s", big);
	k = parse(buf, receive(fx, buf), f);
	assert_non_null(m = find(f, k, "MESSAGE"));
	assert_int_equal(m->len, 2047 - strlen("MESSAGE="));
	assert_true(strncmp(m->value, "warning: axx", 12) == 0);
	assert_non_null(m = find(f, k, "CLIENT_NAME"));
	assert_int_equal(m->len, 2047 - strlen("CLIENT_NAME="));
	assert_true(m->value[0] == 'a' && m->value[m->len - 1] == 'x');
	assert_string_equal(find(f, k, "QUEUE_ID")->value, "Q1");
	assert_string_equal(find(f, k, "PRIORITY")->value, "4");
	log_set_journal_sink(NULL);
	log_use_journal(-1);
}

static void
test_errors_not_crashes(void **state)
{
	struct fx *fx = *state;
	char gone[160];
	struct iovec bad[2] = {item("MESSAGE=x"), item("no equals sign")};
	struct iovec noname[1] = {item("=value")};
	struct iovec ok[1] = {item("MESSAGE=x")};
	struct iovec many[LOG_JOURNAL_ITEMS_MAX + 1];
	int i;

	assert_int_equal(log_journal_send_to(fx->path, bad, 2), -1);
	assert_int_equal(log_journal_send_to(fx->path, noname, 1), -1);
	assert_int_equal(log_journal_send_to(fx->path, ok, 0), -1);
	for (i = 0; i <= LOG_JOURNAL_ITEMS_MAX; i++)
		many[i] = item("MESSAGE=x");
	assert_int_equal(log_journal_send_to(fx->path, many, LOG_JOURNAL_ITEMS_MAX + 1), -1);
	(void)bounded_format(gone, sizeof(gone), "%s/no-such-socket", fx->dir);
	assert_int_equal(log_journal_send_to(gone, ok, 1), -1);
	/* nothing of the above reached the socket */
	assert_int_equal(recv(fx->fd, gone, sizeof(gone), MSG_DONTWAIT), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_items_one_line_each),
	    cmocka_unit_test(test_newline_value_binary_form),
	    cmocka_unit_test(test_log_fields_arrive_as_sent),
	    cmocka_unit_test(test_long_items_cut),
	    cmocka_unit_test(test_errors_not_crashes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
