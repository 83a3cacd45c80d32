/*
 * test_client_state.c - the shared per-address counters: windows,
 * limits, kinds kept apart, the file's mode and size, a damaged file
 * started afresh, a full probe range, and many processes at once
 *
 * Works in a temporary directory it removes; never touches the network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "client_state.h"

#define HOUR 3600

struct fx {
	char dir[64];
	char file[128];
};

static int
setup(void **state)
{
	static struct fx fx;

	(void)bounded_copy(fx.dir, sizeof(fx.dir), "/tmp/cs-test-XXXXXX");
	if (!mkdtemp(fx.dir))
		return -1;
	(void)bounded_format(fx.file, sizeof(fx.file), "%s/%s", fx.dir, CS_FILE);
	*state = &fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	(void)unlink(fx->file);
	return rmdir(fx->dir);
}

static struct net_addr
addr(const char *s)
{
	struct net_addr a;

	assert_int_equal(net_addr_parse(s, &a), 0);
	return a;
}

/* take - one rate decision; returns allowed */
static int
take(struct fx *fx, const char *ip, unsigned limit, time_t now, unsigned *count)
{
	struct net_addr a = addr(ip);
	struct cs_count c;
	char why[256];
	int allowed = -1;

	assert_int_equal(client_state_take(fx->dir, &a, CS_MESSAGES, limit, HOUR, now, &allowed, &c,
	                                   why, sizeof(why)),
	                 RES_OK);
	if (count)
		*count = c.count;
	return allowed;
}

static void
test_rate_window(void **state)
{
	struct fx *fx = *state;
	struct stat st;
	unsigned n;

	assert_true(take(fx, "127.0.0.2", 2, 1000, &n) && n == 1);
	assert_true(take(fx, "127.0.0.2", 2, 1001, &n) && n == 2);
	assert_false(take(fx, "127.0.0.2", 2, 1002, &n));
	assert_int_equal(n, 2);
	/* another address is not affected */
	assert_true(take(fx, "127.0.0.3", 2, 1002, &n) && n == 1);
	assert_true(take(fx, "2001:db8::1", 2, 1002, NULL));
	/* the window passes: counting starts again */
	assert_false(take(fx, "127.0.0.2", 2, 1000 + HOUR - 1, NULL));
	assert_true(take(fx, "127.0.0.2", 2, 1000 + HOUR, &n) && n == 1);
	/* the file: 0600, fixed size */
	assert_int_equal(stat(fx->file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal((size_t)st.st_size, 64 + (size_t)CS_SLOTS * 40);
}

static void
test_kinds_and_clear(void **state)
{
	struct fx *fx = *state;
	struct net_addr a = addr("130.83.5.7");
	struct cs_count c;
	char why[256];
	int i;

	for (i = 0; i < 3; i++)
		assert_int_equal(client_state_add(fx->dir, &a, CS_AUTH_FAILURES, 900, 5000 + i, &c,
		                                  why, sizeof(why)),
		                 RES_OK);
	assert_int_equal(c.count, 3);
	assert_int_equal(c.window_end, 5000 + 900);
	assert_int_equal(
	    client_state_get(fx->dir, &a, CS_MESSAGES, HOUR, 5003, &c, why, sizeof(why)), RES_OK);
	assert_int_equal(c.count, 0);
	assert_int_equal(
	    client_state_get(fx->dir, &a, CS_AUTH_FAILURES, 900, 5003, &c, why, sizeof(why)),
	    RES_OK);
	assert_int_equal(c.count, 3);
	/* get after the window: nothing counted, no window open */
	assert_int_equal(
	    client_state_get(fx->dir, &a, CS_AUTH_FAILURES, 900, 5900, &c, why, sizeof(why)),
	    RES_OK);
	assert_int_equal(c.count, 0);
	assert_int_equal(c.window_start, 0);
	assert_int_equal(client_state_clear(fx->dir, &a, CS_AUTH_FAILURES, why, sizeof(why)),
	                 RES_OK);
	assert_int_equal(
	    client_state_get(fx->dir, &a, CS_AUTH_FAILURES, 900, 5003, &c, why, sizeof(why)),
	    RES_OK);
	assert_int_equal(c.count, 0);
}

static void
test_damaged_file(void **state)
{
	struct fx *fx = *state;
	FILE *f;

	assert_true(take(fx, "127.0.0.2", 1, 1000, NULL));
	assert_false(take(fx, "127.0.0.2", 1, 1001, NULL));
	f = fopen(fx->file, "w");
	assert_non_null(f);
	fputs("garbage", f);
	assert_int_equal(fclose(f), 0);
	/* started afresh: the counter is gone, nothing crashes */
	assert_true(take(fx, "127.0.0.2", 1, 1002, NULL));
}

static void
test_unusable_dir(void **state)
{
	struct net_addr a = addr("127.0.0.2");
	char why[256] = "";
	int allowed = 1;

	(void)state;
	assert_int_equal(client_state_take("/nonexistent/dir", &a, CS_MESSAGES, 5, HOUR, 1,
	                                   &allowed, NULL, why, sizeof(why)),
	                 RES_TEMP);
	assert_int_equal(allowed, 0);
	assert_non_null(strstr(why, "/nonexistent/dir"));
	assert_int_equal(
	    client_state_take("", &a, CS_MESSAGES, 5, HOUR, 1, &allowed, NULL, why, sizeof(why)),
	    RES_TEMP);
}

/* many addresses: the file never grows, recent counters survive */
static void
test_full_table(void **state)
{
	struct fx *fx = *state;
	struct stat st;
	char ip[64];
	unsigned i, n;

	for (i = 0; i < 3 * CS_SLOTS; i++) {
		(void)bounded_format(ip, sizeof(ip), "10.%u.%u.%u", i >> 16 & 255, i >> 8 & 255,
		                     i & 255);
		assert_true(take(fx, ip, 5, 10000 + i, NULL));
	}
	assert_int_equal(stat(fx->file, &st), 0);
	assert_int_equal((size_t)st.st_size, 64 + (size_t)CS_SLOTS * 40);
	/* the last one added is still counted */
	assert_true(take(fx, ip, 5, 10000 + i, &n));
	assert_int_equal(n, 2);
}

/* children at once: every take is counted once, the limit holds */
static void
test_concurrent(void **state)
{
	struct fx *fx = *state;
	enum { KIDS = 8, EACH = 50, LIMIT = 150 };
	int i, j, status, granted = 0;
	pid_t pid[KIDS];

	for (i = 0; i < KIDS; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			int mine = 0;

			for (j = 0; j < EACH; j++)
				mine += take(fx, "127.0.0.9", LIMIT, 2000, NULL);
			_exit(mine);
		}
	}
	for (i = 0; i < KIDS; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status));
		granted += WEXITSTATUS(status);
	}
	assert_int_equal(granted, LIMIT);
	/* a counter of kind CS_AUTH_FAILURES, all adds counted */
	for (i = 0; i < KIDS; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			struct net_addr a = addr("127.0.0.9");
			char why[128];

			for (j = 0; j < EACH; j++)
				if (client_state_add(fx->dir, &a, CS_AUTH_FAILURES, HOUR, 2000,
				                     NULL, why, sizeof(why)) != RES_OK)
					_exit(1);
			_exit(0);
		}
	}
	for (i = 0; i < KIDS; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	{
		struct net_addr a = addr("127.0.0.9");
		struct cs_count c;
		char why[128];

		assert_int_equal(client_state_get(fx->dir, &a, CS_AUTH_FAILURES, HOUR, 2001, &c,
		                                  why, sizeof(why)),
		                 RES_OK);
		assert_int_equal(c.count, KIDS * EACH);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_rate_window, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kinds_and_clear, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_damaged_file, setup, teardown),
	    cmocka_unit_test(test_unusable_dir),
	    cmocka_unit_test_setup_teardown(test_full_table, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
