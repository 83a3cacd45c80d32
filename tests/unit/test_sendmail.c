/*
 * test_sendmail.c - unit tests for mailout-sendmail's library part
 * (queue/sendmail_*.c): the option table, the input reader (line ends,
 * the "." line, -i), the header section (-t, Bcc), the headers it adds
 * and the qmail-queue exit code table.
 *
 * Must never run mailout-queue or touch a spool: that is the
 * integration tests' job.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <cmocka.h>

#include "sendmail.h"

#define MAXARGS 16

static const struct {
	const char *argv[MAXARGS];
	int ok;
	enum sm_mode mode;
	bool extract, dot_ends;
	const char *sender, *fullname, *config;
	int n_rcpts;
	const char *rcpt0;
} ARGS[] = {
    {{"sendmail", "root"}, 0, SM_MODE_ENQUEUE, false, true, NULL, NULL, NULL, 1, "root"},
    {{"sendmail", "-t", "-i"}, 0, SM_MODE_ENQUEUE, true, false, NULL, NULL, NULL, 0, NULL},
    {{"sendmail", "-ti"}, 0, SM_MODE_ENQUEUE, true, false, NULL, NULL, NULL, 0, NULL},
    {{"sendmail", "-oi", "-t"}, 0, SM_MODE_ENQUEUE, true, false, NULL, NULL, NULL, 0, NULL},
    {{"sendmail", "-o", "i", "a@b"}, 0, SM_MODE_ENQUEUE, false, false, NULL, NULL, NULL, 1, "a@b"},
    {{"sendmail", "-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"},
     0,
     SM_MODE_ENQUEUE,
     false,
     false,
     NULL,
     "CronDaemon",
     NULL,
     1,
     "root"},
    {{"sendmail", "-f", "root@x", "-F", "Full Name", "bob"},
     0,
     SM_MODE_ENQUEUE,
     false,
     true,
     "root@x",
     "Full Name",
     NULL,
     1,
     "bob"},
    {{"sendmail", "-froot@x", "-odi", "-oem", "-v", "-U", "-Ox=y", "bob", "-carol"},
     0,
     SM_MODE_ENQUEUE,
     false,
     true,
     "root@x",
     NULL,
     NULL,
     2,
     "bob"},
    {{"sendmail", "-r", "a@b", "-N", "never", "-R", "hdrs", "-X", "log", "-V", "-h", "5", "c"},
     0,
     SM_MODE_ENQUEUE,
     false,
     true,
     "a@b",
     NULL,
     NULL,
     1,
     "c"},
    {{"sendmail", "-c", "/x.conf", "--", "-dash"},
     0,
     SM_MODE_ENQUEUE,
     false,
     true,
     NULL,
     NULL,
     "/x.conf",
     1,
     "-dash"},
    {{"sendmail", "-f", ""}, 0, SM_MODE_ENQUEUE, false, true, "", NULL, NULL, 0, NULL},
    {{"sendmail", "-bp"}, 0, SM_MODE_MAILQ, false, true, NULL, NULL, NULL, 0, NULL},
    {{"/usr/bin/mailq"}, 0, SM_MODE_MAILQ, false, true, NULL, NULL, NULL, 0, NULL},
    {{"newaliases"}, 0, SM_MODE_NOOP, false, true, NULL, NULL, NULL, 0, NULL},
    {{"sendmail", "-q"}, 0, SM_MODE_FLUSH, false, true, NULL, NULL, NULL, 0, NULL},
    {{"sendmail", "-qRexample.org"}, 0, SM_MODE_FLUSH, false, true, NULL, NULL, NULL, 0, NULL},
    {{"sendmail", "-q30m"}, 0, SM_MODE_NOOP, false, true, NULL, NULL, NULL, 0, NULL},
    {{"sendmail", "-bs"}, 0, SM_MODE_SMTP, false, true, NULL, NULL, NULL, 0, NULL},
    {{"sendmail", "-bm", "x"}, 0, SM_MODE_ENQUEUE, false, true, NULL, NULL, NULL, 1, "x"},
    {{"sendmail", "-bi"}, 0, SM_MODE_NOOP, false, true, NULL, NULL, NULL, 0, NULL},
    {{"sendmail", "-bd"}, -1, SM_MODE_ENQUEUE, false, true, NULL, NULL, NULL, 0, NULL},
    {{"sendmail", "-bt"}, -1, SM_MODE_ENQUEUE, false, true, NULL, NULL, NULL, 0, NULL},
    {{"sendmail", "-qS"}, -1, SM_MODE_ENQUEUE, false, true, NULL, NULL, NULL, 0, NULL},
    {{"sendmail", "-f"}, -1, SM_MODE_ENQUEUE, false, true, NULL, NULL, NULL, 0, NULL},
    {{"sendmail", "-bp", "root"}, -1, SM_MODE_ENQUEUE, false, true, NULL, NULL, NULL, 0, NULL},
    {{"sendmail", "-bs", "-t"}, -1, SM_MODE_ENQUEUE, false, true, NULL, NULL, NULL, 0, NULL},
};

static void
test_args(void **state)
{
	struct sm_opts o;
	char err[256], *argv[MAXARGS + 1];
	size_t i;
	int argc, r;

	(void)state;
	for (i = 0; i < sizeof(ARGS) / sizeof(ARGS[0]); i++) {
		for (argc = 0; argc < MAXARGS && ARGS[i].argv[argc]; argc++)
			argv[argc] = (char *)ARGS[i].argv[argc];
		argv[argc] = NULL;
		err[0] = '\0';
		r = sm_parse_args(argc, argv, &o, err, sizeof(err));
		if (r != ARGS[i].ok)
			fail_msg("case %zu (%s): returned %d (%s)", i, argv[1] ? argv[1] : argv[0],
			         r, err);
		if (r < 0) {
			assert_true(err[0] != '\0');
			continue;
		}
		assert_int_equal(o.mode, ARGS[i].mode);
		assert_int_equal(o.extract, ARGS[i].extract);
		assert_int_equal(o.dot_ends, ARGS[i].dot_ends);
		assert_int_equal(o.n_rcpts, ARGS[i].n_rcpts);
		if (ARGS[i].rcpt0)
			assert_string_equal(o.rcpts[0], ARGS[i].rcpt0);
		if (ARGS[i].sender)
			assert_string_equal(o.sender, ARGS[i].sender);
		else
			assert_null(o.sender);
		if (ARGS[i].fullname)
			assert_string_equal(o.fullname, ARGS[i].fullname);
		else
			assert_null(o.fullname);
		if (ARGS[i].config)
			assert_string_equal(o.config, ARGS[i].config);
	}
}

/* reader_on - a reader on a pipe that holds in (small inputs only) */
static struct sm_reader *
reader_on(const char *in, size_t n, bool dot_ends)
{
	struct sm_reader *r = malloc(sizeof(*r));
	int p[2];

	assert_non_null(r);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], in, n), (ssize_t)n);
	assert_int_equal(close(p[1]), 0);
	sm_reader_init(r, p[0], dot_ends);
	return r;
}

static void
reader_done(struct sm_reader *r)
{
	assert_int_equal(close(r->fd), 0);
	free(r);
}

/* read_all - everything the reader yields, pieces joined with '|' */
static void
read_all(const char *in, bool dot_ends, size_t piece, struct buf *out)
{
	struct sm_reader *r = reader_on(in, strlen(in), dot_ends);
	size_t before;
	int got;

	buf_reset(out);
	for (;;) {
		before = out->len;
		if ((got = sm_read_piece(r, out, piece)) <= 0)
			break;
		assert_true(out->len > before);
		assert_int_equal(buf_appendc(out, '|'), 0);
	}
	assert_int_equal(got, 0);
	reader_done(r);
}

static const struct {
	const char *in;
	bool dot_ends;
	size_t piece;
	const char *out;
} READS[] = {
    {"a\nb\n", true, 100, "a\n|b\n|"},
    {"a\r\nb\r\n", true, 100, "a\n|b\n|"},
    {"a\rb\r", true, 100, "a\n|b\n|"},
    {"no newline", true, 100, "no newline\n|"},
    {"x\n.\ny\n", true, 100, "x\n|"},
    {"x\r\n.\r\ny\n", true, 100, "x\n|"},
    {"x\n.", true, 100, "x\n|"},
    {"x\n.\ny\n", false, 100, "x\n|.\n|y\n|"},
    {"x\n..\n.y\n", true, 100, "x\n|..\n|.y\n|"},
    {"abcdef\n.\n", true, 4, "abcd|ef\n|"},
    {"abc.\n.\n", true, 3, "abc|.\n|"}, /* "." continuing "abc" is not the end; the next is */
    {"", true, 100, ""},
};

static void
test_reader(void **state)
{
	struct buf out = BUF_INIT(0);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(READS) / sizeof(READS[0]); i++) {
		read_all(READS[i].in, READS[i].dot_ends, READS[i].piece, &out);
		if (strcmp(buf_cstr(&out), READS[i].out) != 0)
			fail_msg("case %zu: got \"%s\"", i, buf_cstr(&out));
	}
	buf_free(&out);
}

/* setup_rw - masquerade as example.org on relay.test.example */
static void
setup_rw(struct rewrite *rw)
{
	static const char map[] = "www-data webmaster@example.org\n";

	rewrite_init(rw);
	assert_int_equal(rewrite_set_domain(rw, "example.org"), 0);
	assert_int_equal(rewrite_add_local(rw, "relay.test.example"), 0);
	assert_int_equal(rewrite_map_parse(rw, map, sizeof(map) - 1, "map", NULL), 0);
}

/* compose - read the headers of in, apply -t if asked, compose */
static enum result
compose(const char *in, bool extract, const char *fullname, struct sm_rcpts *r, struct buf *out,
        struct buf *rest)
{
	struct sm_reader *rd = reader_on(in, strlen(in), true);
	struct sm_message m;
	struct rewrite rw;
	struct sm_origin o = {0,
	                      "relay.test.example",
	                      "root@example.org",
	                      fullname,
	                      "000660FCE830F569.RW5UXVER75XI",
	                      1764000000};
	char err[256];
	enum result res;

	setup_rw(&rw);
	sm_message_init(&m);
	res = sm_read_headers(rd, &m, err, sizeof(err));
	if (res == RES_OK && extract)
		res = sm_extract_recipients(&rw, &m, r, err, sizeof(err));
	if (res == RES_OK) {
		assert_int_equal(sm_compose_headers(&o, &rw, &m, out), 0);
		assert_int_equal(buf_append(rest, m.first.s ? m.first.s : "", m.first.len), 0);
		while (sm_read_piece(rd, rest, SM_PIECE) > 0)
			;
	}
	sm_message_free(&m);
	rewrite_free(&rw);
	reader_done(rd);
	return res;
}

#define RECEIVED                                                                                   \
	"Received: from userid 0\n\tby relay.test.example (mailout) id "                           \
	"000660FCE830F569.RW5UXVER75XI;\n\tMon, 24 Nov 2025 16:00:00 +0000\n"
#define ADDED_DATE "Date: Mon, 24 Nov 2025 16:00:00 +0000\n"
#define ADDED_ID "Message-ID: <000660FCE830F569.RW5UXVER75XI@relay.test.example>\n"

static void
test_cron_message(void **state)
{
	struct sm_rcpts r = {NULL, 0};
	struct buf out = BUF_INIT(0), rest = BUF_INIT(0);

	(void)state;
	assert_int_equal(compose("To: root, Bob <bob@example.net>\r\nBcc: hidden@example.org\r\n"
	                         "Subject: cron\r\n\r\nbody\r\n.\r\nnot this\r\n",
	                         true, NULL, &r, &out, &rest),
	                 RES_OK);
	assert_string_equal(buf_cstr(&out),
	                    RECEIVED "To: root@example.org, Bob <bob@example.net>\nSubject: cron\n"
	                             "" ADDED_DATE ADDED_ID "From: root@example.org\n\n");
	assert_string_equal(buf_cstr(&rest), "body\n");
	assert_int_equal(r.n, 3);
	assert_string_equal(r.v[0], "root@example.org");
	assert_string_equal(r.v[1], "bob@example.net");
	assert_string_equal(r.v[2], "hidden@example.org");
	sm_rcpts_free(&r);
	buf_free(&out);
	buf_free(&rest);
}

static void
test_existing_headers(void **state)
{
	struct sm_rcpts r = {NULL, 0};
	struct buf out = BUF_INIT(0), rest = BUF_INIT(0);

	(void)state;
	assert_int_equal(compose("From root Mon Nov 24 16:00:00 2025\n"
	                         "From: Web Server <www-data@host.local>\n"
	                         "Date: Tue, 1 Jan 2030 00:00:00 +0000\n"
	                         "Message-ID: <x@y>\nX-Long: a\n\tfolded\nBcc: kept@example.org\n\n"
	                         "body\n",
	                         false, "Ignored", &r, &out, &rest),
	                 RES_OK);
	assert_string_equal(buf_cstr(&out), RECEIVED
	                    "From: Web Server <webmaster@example.org>\n"
	                    "Date: Tue, 1 Jan 2030 00:00:00 +0000\n"
	                    "Message-ID: <x@y>\nX-Long: a\n\tfolded\nBcc: kept@example.org\n\n");
	assert_string_equal(buf_cstr(&rest), "body\n");
	assert_int_equal(r.n, 0);
	buf_free(&out);
	buf_free(&rest);
}

static void
test_no_header_section(void **state)
{
	struct sm_rcpts r = {NULL, 0};
	struct buf out = BUF_INIT(0), rest = BUF_INIT(0);

	(void)state;
	assert_int_equal(compose("hello world\nSubject: not a header\n", false, "Jörg \"J\" Müller",
	                         &r, &out, &rest),
	                 RES_OK);
	assert_string_equal(buf_cstr(&out), RECEIVED ADDED_DATE ADDED_ID
	                    "From: =?UTF-8?B?SsO2cmcgIkoiIE3DvGxsZXI=?= <root@example.org>\n\n");
	assert_string_equal(buf_cstr(&rest), "hello world\nSubject: not a header\n");
	buf_free(&out);
	buf_free(&rest);
}

/* test_same_fields_as_receiver - mailout-sendmail rewrites the very
 * fields mailout-smtpd does (rewrite = true): field by field, the
 * composed section is rewrite_header_field's output */
static void
test_same_fields_as_receiver(void **state)
{
	static const char *const fields[] = {
	    "FROM: (cron daemon) root\n",
	    "cc: www-data,\n\tTeam: a@relay.test.example, \"b c\"@host.local;\n",
	    "Reply-To: root\n",
	    "Resent-From: root\n",
	    "Date: Tue, 1 Jan 2030 00:00:00 +0000\n",
	    "Message-ID: <x@y>\n",
	    "To: Bob <bob@example.net>, root@localhost\n",
	};
	struct sm_rcpts r = {NULL, 0};
	struct buf in = BUF_INIT(0), want = BUF_INIT(0), out = BUF_INIT(0), rest = BUF_INIT(0);
	struct rewrite rw;
	size_t i;

	(void)state;
	setup_rw(&rw);
	assert_int_equal(buf_appends(&want, RECEIVED), 0);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		assert_int_equal(buf_appends(&in, fields[i]), 0);
		assert_true(rewrite_header_field(&rw, fields[i], strlen(fields[i]), &want) >= 0);
	}
	assert_int_equal(buf_appends(&in, "\nbody\n"), 0);
	assert_int_equal(buf_appendc(&want, '\n'), 0);
	assert_int_equal(compose(buf_cstr(&in), false, NULL, &r, &out, &rest), RES_OK);
	assert_string_equal(buf_cstr(&out), buf_cstr(&want));
	assert_non_null(strstr(buf_cstr(&out), "FROM: (cron daemon) root@example.org\n"));
	assert_non_null(strstr(buf_cstr(&out), "\"b c\"@example.org;\n"));
	assert_non_null(strstr(buf_cstr(&out), "Reply-To: root\nResent-From: root\n"));
	rewrite_free(&rw);
	buf_free(&in);
	buf_free(&want);
	buf_free(&out);
	buf_free(&rest);
}

static void
test_bad_recipient_header(void **state)
{
	struct sm_rcpts r = {NULL, 0};
	struct buf out = BUF_INIT(0), rest = BUF_INIT(0);

	(void)state;
	assert_int_equal(compose("To: John Doe\n\nbody\n", true, NULL, &r, &out, &rest), RES_PERM);
	assert_int_equal(compose("To: a@b@c\n\nbody\n", true, NULL, &r, &out, &rest), RES_PERM);
	sm_rcpts_free(&r);
	buf_free(&out);
	buf_free(&rest);
}

static const struct {
	const char *name, *want;
} NAMES[] = {
    {NULL, "root@example.org"},
    {"", "root@example.org"},
    {"Cron Daemon", "Cron Daemon <root@example.org>"},
    {"Doe, John", "\"Doe, John\" <root@example.org>"},
    {"a\\b \"c\"", "\"a\\\\b \\\"c\\\"\" <root@example.org>"},
    {"evil\r\nBcc: x@y", "\"evil Bcc: x@y\" <root@example.org>"},
    {"  spaced   out  ", "spaced out <root@example.org>"},
};

static void
test_format_from(void **state)
{
	struct sm_origin o = {0, "relay.test.example", "root@example.org", NULL, "ID", 0};
	struct buf out = BUF_INIT(0);
	struct rewrite rw;
	size_t i;

	(void)state;
	setup_rw(&rw);
	for (i = 0; i < sizeof(NAMES) / sizeof(NAMES[0]); i++) {
		buf_reset(&out);
		o.fullname = NAMES[i].name;
		assert_int_equal(sm_format_from(&o, &rw, &out), 0);
		if (strcmp(buf_cstr(&out), NAMES[i].want) != 0)
			fail_msg("case %zu: got \"%s\"", i, buf_cstr(&out));
	}
	o.sender = "";
	buf_reset(&out);
	assert_int_equal(sm_format_from(&o, &rw, &out), 0);
	assert_string_equal(buf_cstr(&out), "MAILER-DAEMON@relay.test.example");
	buf_free(&out);
	rewrite_free(&rw);
}

static void
test_recipients(void **state)
{
	struct sm_rcpts r = {NULL, 0};
	struct rewrite rw;
	char err[256];
	const char *list = "alice, Bob <bob@example.net>, ALICE@example.org,root@localhost";

	(void)state;
	setup_rw(&rw);
	assert_int_equal(sm_add_recipients(&rw, list, strlen(list), &r, err, sizeof(err)), RES_OK);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.v[0], "alice@example.org");
	assert_string_equal(r.v[1], "bob@example.net");
	assert_string_equal(r.v[2], "root@example.org");
	assert_int_equal(sm_add_recipients(&rw, "x y", 3, &r, err, sizeof(err)), RES_PERM);
	assert_non_null(strstr(err, "x y"));
	sm_rcpts_free(&r);
	rewrite_free(&rw);
}

/* addresses mail_addr accepts but the spool cannot carry: refused here
 * (the caller exits EX_DATAERR), never handed to the queue */
static void
test_unqueueable(void **state)
{
	struct sm_rcpts r = {NULL, 0};
	struct rewrite rw;
	char err[256];
	const char *gt = "\"a>b\"@example.org", *lt = "x@example.org, \"<c\"@example.org";

	(void)state;
	assert_int_equal(sm_check_address("a@example.org"), 0);
	assert_int_equal(sm_check_address("\"a b\"@example.org"), 0);
	assert_int_equal(sm_check_address("a b"), -1);
	assert_int_equal(sm_check_address(gt), -2);
	setup_rw(&rw);
	assert_int_equal(sm_add_recipients(&rw, gt, strlen(gt), &r, err, sizeof(err)), RES_PERM);
	assert_non_null(strstr(err, "cannot be queued"));
	assert_int_equal(r.n, 0);
	assert_int_equal(sm_add_recipients(&rw, lt, strlen(lt), &r, err, sizeof(err)), RES_PERM);
	assert_non_null(strstr(err, "cannot be queued"));
	sm_rcpts_free(&r);
	rewrite_free(&rw);
}

static const struct {
	int qmail, sysexit;
} CODES[] = {
    {0, EX_OK},        {11, EX_DATAERR},  {31, EX_UNAVAILABLE}, {51, EX_TEMPFAIL},
    {53, EX_TEMPFAIL}, {54, EX_TEMPFAIL}, {55, EX_TEMPFAIL},    {71, EX_TEMPFAIL},
    {81, EX_TEMPFAIL}, {91, EX_SOFTWARE}, {127, EX_TEMPFAIL},   {20, EX_UNAVAILABLE},
};

static void
test_exit_codes(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(CODES) / sizeof(CODES[0]); i++)
		assert_int_equal(sm_exit_code(CODES[i].qmail), CODES[i].sysexit);
}

static int
utc(void **state)
{
	(void)state;
	return setenv("TZ", "UTC", 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_args),
	    cmocka_unit_test(test_reader),
	    cmocka_unit_test(test_cron_message),
	    cmocka_unit_test(test_existing_headers),
	    cmocka_unit_test(test_no_header_section),
	    cmocka_unit_test(test_same_fields_as_receiver),
	    cmocka_unit_test(test_bad_recipient_header),
	    cmocka_unit_test(test_format_from),
	    cmocka_unit_test(test_recipients),
	    cmocka_unit_test(test_unqueueable),
	    cmocka_unit_test(test_exit_codes),
	};

	return cmocka_run_group_tests(tests, utc, NULL);
}

_Static_assert(RES_OK == 0, "RES_OK must be enum result's");
