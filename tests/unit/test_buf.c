/*
 * test_buf.c - unit tests for the bounded buffer, networks and replies
 *
 * Must never depend on anything outside lib/.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "mail_reply.h"
#include "net.h"

static void
test_buf_append_and_limit(void **state)
{
	struct buf b = BUF_INIT(8);

	(void)state;
	assert_int_equal(buf_appends(&b, "abcd"), 0);
	assert_int_equal(buf_append(&b, "efgh", 4), 0);
	assert_string_equal(buf_cstr(&b), "abcdefgh");
	errno = 0;
	assert_int_equal(buf_appendc(&b, 'x'), -1);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(b.len, 8);
	assert_string_equal(buf_cstr(&b), "abcdefgh");
	buf_consume(&b, 3);
	assert_string_equal(buf_cstr(&b), "defgh");
	buf_truncate(&b, 2);
	assert_string_equal(buf_cstr(&b), "de");
	buf_free(&b);
	assert_string_equal(buf_cstr(&b), "");
}

static void
test_buf_printf(void **state)
{
	struct buf b = BUF_INIT(0);
	struct buf small = BUF_INIT(4);

	(void)state;
	assert_int_equal(buf_printf(&b, "%s=%d", "n", 42), 0);
	assert_int_equal(buf_printf(&b, "/%05u", 7U), 0);
	assert_string_equal(buf_cstr(&b), "n=42/00007");
	assert_int_equal(buf_printf(&small, "%s", "toolong"), -1);
	assert_int_equal(small.len, 0);
	assert_true(buf_eq_case(&b, "N=42/00007"));
	buf_free(&b);
	buf_free(&small);
}

static void
test_buf_binary(void **state)
{
	struct buf b = BUF_INIT(0);

	(void)state;
	assert_int_equal(buf_append(&b, "a\0b", 3), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.s, "a\0b", 4);
	assert_int_equal(buf_set(&b, "xyz", 3), 0);
	assert_string_equal(buf_cstr(&b), "xyz");
	buf_free(&b);
}

static void
test_bounded(void **state)
{
	char small[4];

	(void)state;
	assert_int_equal(bounded_copy(small, sizeof(small), "abc"), 0);
	assert_int_equal(bounded_copy(small, sizeof(small), "abcd"), -1);
	assert_string_equal(small, "abc");
	assert_int_equal(bounded_format(small, sizeof(small), "%d", 123), 0);
	assert_int_equal(bounded_format(small, sizeof(small), "%d", 1234), -1);
}

static const struct {
	const char *net;
	const char *addr;
	int inside;
} cidr_cases[] = {
    {"130.83.0.0/16", "130.83.12.34", 1},
    {"130.83.0.0/16", "130.84.0.1", 0},
    {"130.83.12.34/32", "130.83.12.34", 1},
    {"130.83.12.34", "130.83.12.35", 0},
    {"0.0.0.0/0", "8.8.8.8", 1},
    {"0.0.0.0/0", "2001:db8::1", 0},
    {"2001:db8::/32", "2001:db8:1::5", 1},
    {"2001:db8::/32", "2001:db9::1", 0},
    {"::1/128", "::1", 1},
    {"130.83.0.0/16", "::ffff:130.83.1.1", 1},
    {"127.0.0.0/8", "127.0.0.2", 1},
    {"10.0.0.0/9", "10.127.255.255", 1},
    {"10.0.0.0/9", "10.128.0.0", 0},
};

static void
test_cidr_contains(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cidr_cases) / sizeof(cidr_cases[0]); i++) {
		struct cidr net;
		struct net_addr a;
		const char *why;

		assert_int_equal(cidr_parse(cidr_cases[i].net, &net, &why), 0);
		assert_int_equal(net_addr_parse(cidr_cases[i].addr, &a), 0);
		assert_int_equal(cidr_contains(&net, &a), cidr_cases[i].inside);
	}
}

static void
test_cidr_invalid(void **state)
{
	static const char *bad[] = {
	    "130.83.0.0/33", "130.83.1.0/16",      "130.83.0.0/",    "/16", "130.83.0.0/-1",
	    "130.83.0.0/1x", "host.example.org/8", "2001:db8::/129", "",    "130.83.0.0/16/2"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cidr net;
		const char *why = NULL;

		assert_int_equal(cidr_parse(bad[i], &net, &why), -1);
		assert_non_null(why);
	}
}

static void
test_cidr_format(void **state)
{
	struct cidr net;
	const char *why;
	char out[NET_ADDR_STRLEN + 8];

	(void)state;
	assert_int_equal(cidr_parse("130.83.0.0/16", &net, &why), 0);
	cidr_format(&net, out, sizeof(out));
	assert_string_equal(out, "130.83.0.0/16");
	assert_int_equal(cidr_parse("2001:db8::/32", &net, &why), 0);
	cidr_format(&net, out, sizeof(out));
	assert_string_equal(out, "2001:db8::/32");
}

static void
test_reply_format(void **state)
{
	struct reply r;
	char out[512];

	(void)state;
	reply_set(&r, 550, ESC_POLICY, "Relay denied\r\nfor %s", "x");
	assert_int_equal(reply_format(&r, out, sizeof(out)), 0);
	assert_string_equal(out, "550 5.7.1 Relay denied  for x");
	assert_int_equal(reply_result(&r), RES_PERM);
	reply_set(&r, 451, "5.3.0", "disk");
	assert_int_equal(reply_format(&r, out, sizeof(out)), 0);
	assert_string_equal(out, "451 4.3.0 disk");
	assert_int_equal(reply_result(&r), RES_TEMP);
}

/* reply_format writes what "%d %d.%s %s" (or "%d %s") would, cut as
 * snprintf cuts, with the same result, for any code, detail and size;
 * reply_set_text is reply_set with "%s" */
static void
test_reply_format_as_printf(void **state)
{
	static const int codes[] = {-1, 0, 99, 100, 221, 250, 421, 550, 999, 1000, 12345};
	static const char *const escs[] = {NULL, "7.1", "5.7.1", "", "x", "4.4.7.1"};
	static const size_t sizes[] = {1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 16, 40, 512};
	char text[REPLY_TEXT_MAX + 100], out[600], want[600];
	const char *detail;
	struct reply r, r2;
	size_t c, e, z, t;
	int n, rc;

	(void)state;
	for (t = 0; t < 3; t++) {
		memset(text, 'a' + (int)t, sizeof(text) - 1);
		text[t == 0 ? 0 : t == 1 ? 5 : sizeof(text) - 1] = '\0';
		if (t == 2)
			text[7] = '\n';
		reply_set(&r, 250, NULL, "%s", text);
		reply_set_text(&r2, 250, NULL, text);
		assert_string_equal(r.text, r2.text);
		for (c = 0; c < sizeof(codes) / sizeof(codes[0]); c++)
			for (e = 0; e < sizeof(escs) / sizeof(escs[0]); e++)
				for (z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
					r.code = codes[c];
					r.esc = escs[e];
					detail = r.esc;
					if (detail && strlen(detail) >= 5 && detail[1] == '.')
						detail += 2;
					n = detail
					        ? snprintf(want, sizes[z], "%d %d.%s %s", r.code,
					                   r.code / 100, detail, r.text)
					        : snprintf(want, sizes[z], "%d %s", r.code, r.text);
					memset(out, '#', sizeof(out));
					rc = reply_format(&r, out, sizes[z]);
					assert_int_equal(rc,
					                 (n < 0 || (size_t)n >= sizes[z]) ? -1 : 0);
					assert_string_equal(out, want);
				}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buf_append_and_limit),
	    cmocka_unit_test(test_buf_printf),
	    cmocka_unit_test(test_buf_binary),
	    cmocka_unit_test(test_bounded),
	    cmocka_unit_test(test_cidr_contains),
	    cmocka_unit_test(test_cidr_invalid),
	    cmocka_unit_test(test_cidr_format),
	    cmocka_unit_test(test_reply_format),
	    cmocka_unit_test(test_reply_format_as_printf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
