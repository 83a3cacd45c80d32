/*
 * test_deliver_reply.c - unit tests for the gateway reply parser and
 * EHLO extension reader (lib/smtp_client.c)
 *
 * Table-driven: complete, incomplete and malformed replies, multi-line
 * replies, enhanced status codes.  Must never depend on anything
 * outside lib/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "smtp_client.h"

static const struct {
	const char *in;
	ssize_t used; /* -2: strlen(in) */
	int code;
	const char *esc, *text;
} cases[] = {
    {"250 2.0.0 Ok\r\n", -2, 250, "2.0.0", "Ok"},
    {"250 Ok\n", -2, 250, "", "Ok"},
    {"220\r\n", -2, 220, "", ""},
    {"250-a\r\n250-b\r\n250 c\r\n", -2, 250, "", "a\nb\nc"},
    {"250-a\r\n250 c\r\nMORE", 14, 250, "", "a\nc"},
    {"550 5.1.1 <x@y>: unknown\r\n", -2, 550, "5.1.1", "<x@y>: unknown"},
    {"451 5.1.1 class mismatch\r\n", -2, 451, "", "5.1.1 class mismatch"},
    {"452-4.5.3 too\r\n452 4.5.3 many\r\n", -2, 452, "4.5.3", "too\nmany"},
    {"250-a\r\n", 0, 0, NULL, NULL},
    {"250 no newline", 0, 0, NULL, NULL},
    {"", 0, 0, NULL, NULL},
    {"25 x\r\n", -1, 0, NULL, NULL},
    {"abc x\r\n", -1, 0, NULL, NULL},
    {"650 x\r\n", -1, 0, NULL, NULL},
    {"250-a\r\n251 b\r\n", -1, 0, NULL, NULL},
    {"250x\r\n", -1, 0, NULL, NULL},
    {"250 a\tb\r\n", -2, 250, "", "a b"},
};

static void
test_reply_table(void **unused)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_reply r;
		ssize_t want = cases[i].used == -2 ? (ssize_t)strlen(cases[i].in) : cases[i].used;
		ssize_t got = smtp_reply_parse(cases[i].in, strlen(cases[i].in), &r);

		assert_int_equal(got, want);
		if (got <= 0)
			continue;
		assert_int_equal(r.code, cases[i].code);
		assert_string_equal(r.esc, cases[i].esc);
		assert_string_equal(r.text, cases[i].text);
	}
}

static void
test_long_and_many_lines(void **unused)
{
	static char in[SMTP_REPLY_LINE_MAX * 2];
	struct smtp_reply r;
	size_t n = 0;

	memset(in, 'x', sizeof(in));
	assert_int_equal(smtp_reply_parse(in, sizeof(in), &r), -1);
	for (int i = 0; i < SMTP_REPLY_LINES_MAX + 5; i++) {
		memcpy(in + n, "250-x\r\n", 7);
		n += 7;
	}
	assert_int_equal(smtp_reply_parse(in, n, &r), -1);
}

static void
test_oneline(void **unused)
{
	struct smtp_reply r;
	char out[64];

	assert_true(smtp_reply_parse("451-first\r\n451 second\r\n", 23, &r) > 0);
	smtp_reply_oneline(&r, out, sizeof(out));
	assert_string_equal(out, "451 4.0.0 first second");
	assert_string_equal(smtp_reply_status(&r), "4.0.0");
}

static void
test_ehlo(void **unused)
{
	static const char in[] = "250-gw.example.org Hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n"
	                         "250-8BITMIME\r\n250-AUTH LOGIN PLAIN\r\n250-STARTTLS\r\n"
	                         "250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n";
	struct smtp_reply r;
	struct smtp_ext e;

	assert_int_equal(smtp_reply_parse(in, sizeof(in) - 1, &r), (ssize_t)sizeof(in) - 1);
	smtp_ehlo_parse(&r, &e);
	assert_true(e.pipelining && e.starttls && e.eightbitmime && e.smtputf8 && e.enhanced);
	assert_true(e.auth_plain && e.auth_login);
	assert_int_equal(e.size, 1000);
	assert_true(smtp_reply_parse("250-h\r\n250 AUTH=PLAIN\r\n", 23, &r) > 0);
	smtp_ehlo_parse(&r, &e);
	assert_true(e.auth_plain && !e.auth_login && !e.pipelining && e.size == 0);
	assert_true(smtp_reply_parse("250 PIPELINING\r\n", 16, &r) > 0);
	smtp_ehlo_parse(&r, &e); /* the first line is the greeting */
	assert_false(e.pipelining);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reply_table),
	    cmocka_unit_test(test_long_and_many_lines),
	    cmocka_unit_test(test_oneline),
	    cmocka_unit_test(test_ehlo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
