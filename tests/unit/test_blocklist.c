/*
 * test_blocklist.c - the blocklist: line syntax (a table of good and
 * bad lines), ISO 8601 times, expiry, the first current entry decides,
 * bad lines never block anyone, a missing file blocks nothing
 *
 * Only test_file touches the file system (a temporary file it removes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "smtpd_block.h"

#define T_2026_12_01 1796083200 /* 2026-12-01T00:00:00Z */

struct line_case {
	const char *line;
	int rc; /* 1 entry, 0 nothing, -1 malformed */
	const char *net; /* cidr_format of the entry */
	long long until;
};

static const struct line_case line_cases[] = {
    {"", 0, NULL, 0},
    {"   ", 0, NULL, 0},
    {"# a comment", 0, NULL, 0},
    {"   # indented comment", 0, NULL, 0},
    {"130.83.5.7", 1, "130.83.5.7/32", 0},
    {"130.83.5.7\r", 1, "130.83.5.7/32", 0},
    {"  130.83.5.0/24   # the lab", 1, "130.83.5.0/24", 0},
    {"2001:db8::/32", 1, "2001:db8::/32", 0},
    {"130.83.5.7 until 2026-12-01T12:00:00Z", 1, "130.83.5.7/32", T_2026_12_01 + 43200},
    {"130.83.5.7 until 2026-12-01", 1, "130.83.5.7/32", T_2026_12_01},
    {"130.83.5.7 until 2026-12-01 12:00", 1, "130.83.5.7/32", T_2026_12_01 + 43200},
    {"130.83.5.7\tuntil\t2026-12-01T12:00", 1, "130.83.5.7/32", T_2026_12_01 + 43200},
    {"130.83.5.7 until 2026-12-01T12:00:00+01:00", 1, "130.83.5.7/32", T_2026_12_01 + 39600},
    {"130.83.5.7 until 2026-12-01T12:00:00-0130", 1, "130.83.5.7/32", T_2026_12_01 + 48600},
    {"130.83.5.7 until 2026-12-01 # till December", 1, "130.83.5.7/32", T_2026_12_01},
    /* malformed */
    {"130.83.5.777", -1, NULL, 0},
    {"130.83.5.7/16", -1, NULL, 0}, /* host bits set */
    {"host.example.org", -1, NULL, 0},
    {"130.83.5.7 2026-12-01", -1, NULL, 0},
    {"130.83.5.7 until", -1, NULL, 0},
    {"130.83.5.7 until tomorrow", -1, NULL, 0},
    {"130.83.5.7 until 2026-13-01", -1, NULL, 0},
    {"130.83.5.7 until 2026-02-30", -1, NULL, 0},
    {"130.83.5.7 until 2026-12-01T25:00", -1, NULL, 0},
    {"130.83.5.7 until 2026-12-01T12:00Zjunk", -1, NULL, 0},
    {"130.83.5.7 until 2026-12-01 12:00 extra", -1, NULL, 0},
    {"130.83.5.7 untilx 2026-12-01", -1, NULL, 0},
    {"130.83.5.7 until 26-12-01", -1, NULL, 0},
    {"130.83.5.7\001", -1, NULL, 0},
};

static void
test_lines(void **state)
{
	struct cidr net;
	time_t until;
	const char *why;
	char shown[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
		const struct line_case *c = &line_cases[i];
		int rc = block_parse_line(c->line, strlen(c->line), &net, &until, &why);

		if (rc != c->rc)
			fail_msg("%s: got %d, want %d (%s)", c->line, rc, c->rc, rc < 0 ? why : "");
		if (rc != 1)
			continue;
		cidr_format(&net, shown, sizeof(shown));
		assert_string_equal(shown, c->net);
		if ((long long)until != c->until)
			fail_msg("%s: until %lld, want %lld", c->line, (long long)until, c->until);
	}
}

static void
test_long_line(void **state)
{
	char line[BLOCK_LINE_MAX + 2];
	struct cidr net;
	time_t until;
	const char *why;

	(void)state;
	memset(line, ' ', sizeof(line));
	memcpy(line, "130.83.5.7", 10);
	assert_int_equal(block_parse_line(line, sizeof(line), &net, &until, &why), -1);
	assert_string_equal(why, "line too long");
}

static struct net_addr
addr(const char *s)
{
	struct net_addr a;

	assert_int_equal(net_addr_parse(s, &a), 0);
	return a;
}

static const char list[] = "# blocklist\n"
                           "garbage line\n"
                           "130.83.5.7 until 2026-12-01T12:00:00Z\n"
                           "130.83.6.0/24 until 2020-01-01\n"
                           "130.83.0.0/16 until 2026-12-02\n"
                           "::ffff:0:0/96 until nonsense\n"
                           "2001:db8::/32\n";

static void
test_list(void **state)
{
	struct net_addr a;
	struct block_hit h;
	time_t now = T_2026_12_01 - 86400;

	(void)state;
	a = addr("130.83.5.7");
	block_check_text(list, strlen(list), "test", false, &a, now, &h);
	assert_true(h.blocked);
	assert_int_equal(h.line, 3);
	assert_string_equal(h.entry, "130.83.5.7 until 2026-12-01T12:00:00Z");
	assert_int_equal(h.until, T_2026_12_01 + 43200);
	assert_int_equal(h.bad, 2);
	assert_int_equal(h.expired, 1);
	assert_int_equal(h.entries, 3);
	/* the expired /24 does not count, the /16 below it does */
	a = addr("130.83.6.1");
	block_check_text(list, strlen(list), "test", false, &a, now, &h);
	assert_true(h.blocked);
	assert_int_equal(h.line, 5);
	/* once the first entry expires, the next one that holds decides */
	a = addr("130.83.5.7");
	block_check_text(list, strlen(list), "test", false, &a, T_2026_12_01 + 43200, &h);
	assert_true(h.blocked);
	assert_int_equal(h.line, 5);
	/* after every entry: only the one without an end */
	block_check_text(list, strlen(list), "test", false, &a, T_2026_12_01 + 3 * 86400, &h);
	assert_false(h.blocked);
	a = addr("2001:db8::25");
	block_check_text(list, strlen(list), "test", false, &a, T_2026_12_01 + 3 * 86400, &h);
	assert_true(h.blocked);
	assert_int_equal(h.until, 0);
	/* a bad line never blocks: "::ffff:0:0/96" would be every IPv4 */
	a = addr("10.1.2.3");
	block_check_text(list, strlen(list), "test", false, &a, now, &h);
	assert_false(h.blocked);
}

static void
test_odd_text(void **state)
{
	static const char nul[] = "130.83.5.7\0\n10.0.0.0/8\n";
	static const char noeol[] = "10.0.0.0/8";
	struct net_addr a = addr("10.1.2.3");
	struct block_hit h;

	(void)state;
	block_check_text(nul, sizeof(nul) - 1, "test", false, &a, 0, &h);
	assert_true(h.blocked);
	assert_int_equal(h.line, 2);
	assert_int_equal(h.bad, 1);
	block_check_text(noeol, strlen(noeol), "test", false, &a, 0, &h);
	assert_true(h.blocked);
	block_check_text("", 0, "test", false, &a, 0, &h);
	assert_false(h.blocked);
}

static void
test_file(void **state)
{
	char path[] = "/tmp/blocklist-test-XXXXXX";
	struct net_addr a = addr("127.0.0.2");
	struct block_hit h;
	int fd;

	(void)state;
	assert_int_equal(block_check("/nonexistent/blocklist", &a, 0, &h), RES_OK);
	assert_false(h.blocked);
	assert_int_equal(block_check("", &a, 0, &h), RES_OK);
	assert_false(h.blocked);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "127.0.0.0/8\n", 12), 12);
	assert_int_equal(close(fd), 0);
	assert_int_equal(block_check(path, &a, 0, &h), RES_OK);
	assert_true(h.blocked);
	assert_int_equal(unlink(path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines), cmocka_unit_test(test_long_line),
	    cmocka_unit_test(test_list),  cmocka_unit_test(test_odd_text),
	    cmocka_unit_test(test_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
