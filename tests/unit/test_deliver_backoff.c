/*
 * test_deliver_backoff.c - unit tests for mailout-deliver's retry
 * schedule (deliver/deliver_msg.c: RFC 5321 4.5.4.1 doubling, capped)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "deliver.h"

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
	    cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
