/*
 * test_timefmt.c - timefmt's civil dates and formats against glibc's
 * gmtime_r + strftime: a table of instants and 10000 random ones
 *
 * Must never depend on the local time zone (it compares UTC only).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "timefmt.h"

#define N_RANDOM 10000

static const int64_t instants[] = {
    0, /* 1970-01-01 Thu */
    -1, /* 1969-12-31T23:59:59Z */
    86399,
    86400,
    951782400, /* 2000-02-29 */
    951868799,
    951868800, /* 2000-02-29T23:59:59, 2000-03-01 */
    946684799,
    946684800, /* 1999/2000 */
    978307199,
    978307200, /* 2000-12-31 (leap day 366), 2001 */
    1078012800, /* 2004-02-29 */
    4107542400, /* 2100-03-01 (2100 no leap year) */
    4107456000, /* 2100-02-28 */
    2147483647,
    2147483648, /* 2038 */
    1764000000,
    1763999999,
    253402300799, /* 9999-12-31T23:59:59Z */
    -62167219200, /* 0000-01-01 */
    -62135596800, /* 0001-01-01 */
    -2208988800, /* 1900-01-01 */
    -5364662400, /* 1800-01-01 */
    -11644473600, /* 1601-01-01 */
    -1000000000,
    32503680000, /* 3000-01-01 */
    68219366400, /* 4131 */
};

/* expect_same - timefmt agrees with gmtime_r + strftime at t */
static void
expect_same(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	struct civil_time ct;
	char want[80], got[80];

	assert_non_null(gmtime_r(&tt, &tm));
	assert_int_equal(civil_from_epoch(t, &ct), 0);
	assert_int_equal(ct.year, tm.tm_year + 1900);
	assert_int_equal(ct.mon, tm.tm_mon + 1);
	assert_int_equal(ct.mday, tm.tm_mday);
	assert_int_equal(ct.hour, tm.tm_hour);
	assert_int_equal(ct.min, tm.tm_min);
	assert_int_equal(ct.sec, tm.tm_sec);
	assert_int_equal(ct.wday, tm.tm_wday);
	assert_int_equal(ct.yday, tm.tm_yday);
	assert_int_not_equal(strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm), 0);
	assert_int_equal(timefmt_iso8601(t, got, sizeof(got)), 0);
	assert_string_equal(got, want);
	assert_int_not_equal(strftime(want, sizeof(want), "%a, %-d %b %Y %H:%M:%S +0000", &tm), 0);
	assert_int_equal(timefmt_rfc5322(t, got, sizeof(got)), 0);
	assert_string_equal(got, want);
}

static void
test_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(instants) / sizeof(instants[0]); i++)
		expect_same(instants[i]);
}

static void
test_random(void **state)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	uint64_t span = (uint64_t)(TIMEFMT_MAX - TIMEFMT_MIN) + 1;
	int i;

	(void)state;
	for (i = 0; i < N_RANDOM; i++) {
		x ^= x << 13; /* xorshift64: the same instants every run */
		x ^= x >> 7;
		x ^= x << 17;
		expect_same(TIMEFMT_MIN + (int64_t)(x % span));
		/* and the years mail actually carries: 1970 .. 2106 */
		expect_same((int64_t)(x % 4294967296ULL));
	}
}

static void
test_out_of_range_and_truncation(void **state)
{
	struct civil_time ct;
	char out[64];

	(void)state;
	assert_int_equal(civil_from_epoch(TIMEFMT_MAX + 1, &ct), -1);
	assert_int_equal(civil_from_epoch(TIMEFMT_MIN - 1, &ct), -1);
	assert_int_equal(civil_from_epoch(INT64_MIN, &ct), -1);
	assert_int_equal(timefmt_iso8601(INT64_MAX, out, sizeof(out)), -1);
	assert_int_equal(timefmt_rfc5322(INT64_MAX, out, sizeof(out)), -1);
	/* "1970-01-01T00:00:00Z" is 20 octets: 21 fit, 20 do not */
	assert_int_equal(timefmt_iso8601(0, out, 21), 0);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	assert_int_equal(timefmt_iso8601(0, out, 20), -1);
	assert_int_equal(timefmt_rfc5322(0, out, 10), -1);
	assert_int_equal(timefmt_rfc5322(1764000000, out, sizeof(out)), 0);
	assert_string_equal(out, "Mon, 24 Nov 2025 16:00:00 +0000");
}

/* mono_ms follows CLOCK_MONOTONIC: it never goes back, and a sleep of
 * 20 ms shows as at least 20 */
static void
test_mono_ms(void **state)
{
	struct timespec nap = {0, 20 * 1000 * 1000};
	long long a, b, c;

	(void)state;
	a = mono_ms();
	b = mono_ms();
	assert_true(a > 0);
	assert_true(b >= a);
	assert_int_equal(nanosleep(&nap, NULL), 0);
	c = mono_ms();
	assert_true(c - b >= 20);
	assert_true(c - b < 60 * 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_random),
	    cmocka_unit_test(test_out_of_range_and_truncation),
	    cmocka_unit_test(test_mono_ms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
