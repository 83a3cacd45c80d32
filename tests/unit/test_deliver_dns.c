/*
 * test_deliver_dns.c - unit tests for mailout-deliver's DNS answer
 * parser and its retry schedule (deliver/deliver_dns.c, deliver_msg.c)
 *
 * The answers are built by hand, byte by byte, as a server sends them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/nameser.h>

#include "deliver.h"

/* example.org MX 10 mx.example.org (compressed), MX 5 b.example.org */
static const unsigned char mx_answer[] = {
    0x12,
    0x34,
    0x81,
    0x80,
    0,
    1,
    0,
    2,
    0,
    0,
    0,
    0,
    /* question at 12: example.org MX IN */
    7,
    'e',
    'x',
    'a',
    'm',
    'p',
    'l',
    'e',
    3,
    'o',
    'r',
    'g',
    0,
    0,
    15,
    0,
    1,
    /* answer 1: name ptr 12, MX, IN, ttl, rdlen 7: pref 10, "mx" + ptr 12 */
    0xc0,
    12,
    0,
    15,
    0,
    1,
    0,
    0,
    0,
    60,
    0,
    7,
    0,
    10,
    2,
    'm',
    'x',
    0xc0,
    12,
    /* answer 2: pref 5, "b" + ptr 12 */
    0xc0,
    12,
    0,
    15,
    0,
    1,
    0,
    0,
    0,
    60,
    0,
    6,
    0,
    5,
    1,
    'b',
    0xc0,
    12,
};

static void
test_mx(void **unused)
{
	struct dns_rr rr[4];

	assert_int_equal(dns_parse_answer(mx_answer, sizeof(mx_answer), ns_t_mx, rr, 4), 2);
	assert_int_equal(rr[0].pref, 10);
	assert_string_equal(rr[0].name, "mx.example.org");
	assert_string_equal(rr[1].name, "b.example.org");
	assert_int_equal(dns_parse_answer(mx_answer, sizeof(mx_answer), ns_t_a, rr, 4), 0);
	assert_int_equal(dns_parse_answer(mx_answer, sizeof(mx_answer), ns_t_mx, rr, 1), 1);
	/* every truncation is refused or yields fewer records, never more */
	for (size_t n = 0; n < sizeof(mx_answer); n++)
		assert_true(dns_parse_answer(mx_answer, n, ns_t_mx, rr, 4) < 2);
}

static void
test_a(void **unused)
{
	static const unsigned char a[] = {
	    0, 1,    0x81, 0x80, 0, 1, 0, 1, 0, 0, 0,  0, 1, 'h', 0, 0, 1, 0,
	    1, 0xc0, 12,   0,    1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 9,
	};
	struct dns_rr rr[2];

	assert_int_equal(dns_parse_answer(a, sizeof(a), ns_t_a, rr, 2), 1);
	assert_memory_equal(rr[0].addr, "\x7f\x00\x00\x09", 4);
}

static void
test_backoff(void **unused)
{
	struct config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.queue.retry_min = 300;
	cfg.queue.retry_max = 3600;
	assert_int_equal(deliver_backoff(&cfg, 1), 300);
	assert_int_equal(deliver_backoff(&cfg, 2), 600);
	assert_int_equal(deliver_backoff(&cfg, 4), 2400);
	assert_int_equal(deliver_backoff(&cfg, 5), 3600);
	assert_int_equal(deliver_backoff(&cfg, 1000), 3600);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mx),
	    cmocka_unit_test(test_a),
	    cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
