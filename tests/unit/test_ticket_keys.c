/*
 * test_ticket_keys.c - the shared TLS ticket key file: made 0600 on
 * first use, read unchanged while its key is fresh, rotated after 12
 * hours with the previous key kept for decryption 12 hours more, then
 * dropped; a damaged file made afresh; a file open to others, a
 * symbolic link or a missing directory refused; a clock that went back;
 * a full ring; many processes at once rotating only once.
 *
 * The clock is passed in.  Works in a temporary directory it removes;
 * never touches the network.
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
#include "ticket_keys.h"

#define HOUR 3600
#define T0 ((time_t)1767225600) /* 2026-01-01 00:00:00 UTC */

struct fx {
	char dir[64];
	char file[128];
	char lock[128];
};

static int
setup(void **state)
{
	static struct fx fx;

	(void)bounded_copy(fx.dir, sizeof(fx.dir), "/tmp/tk-test-XXXXXX");
	if (!mkdtemp(fx.dir))
		return -1;
	(void)bounded_format(fx.file, sizeof(fx.file), "%s/%s", fx.dir, TICKET_FILE);
	(void)bounded_format(fx.lock, sizeof(fx.lock), "%s/%s", fx.dir, TICKET_LOCK_FILE);
	*state = &fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	(void)unlink(fx->file);
	(void)unlink(fx->lock);
	return rmdir(fx->dir);
}

/* load - ticket_keys_load that must succeed */
static void
load(const struct fx *fx, time_t now, struct ticket_ring *r)
{
	char why[256] = "";

	if (ticket_keys_load(fx->dir, now, r, why, sizeof(why)) != RES_OK)
		fail_msg("ticket_keys_load: %s", why);
}

/* write_file - raw bytes as the key file, mode 0600 */
static void
write_file(const struct fx *fx, const void *p, size_t n, mode_t mode)
{
	FILE *f = fopen(fx->file, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(fx->file, mode), 0);
}

static void
test_first_use_makes_file_0600(void **state)
{
	struct fx *fx = *state;
	struct ticket_ring r;
	struct stat st;

	load(fx, T0, &r);
	assert_int_equal(r.n, 1);
	assert_true(r.rotated);
	assert_int_equal(r.keys[0].created, (int64_t)T0);
	assert_true(ticket_key_encrypts(&r.keys[0], T0));
	assert_int_equal(stat(fx->file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, TICKET_MAGIC_LEN + TICKET_RECORD_LEN);
	assert_int_equal(st.st_uid, geteuid());
}

static void
test_fresh_key_is_reused_not_rewritten(void **state)
{
	struct fx *fx = *state;
	struct ticket_ring a, b;
	struct stat st1, st2;

	load(fx, T0, &a);
	assert_int_equal(stat(fx->file, &st1), 0);
	load(fx, T0 + 11 * HOUR, &b);
	assert_int_equal(stat(fx->file, &st2), 0);
	assert_false(b.rotated);
	assert_int_equal(b.n, 1);
	assert_memory_equal(a.keys[0].name, b.keys[0].name, TICKET_NAME_LEN);
	assert_memory_equal(a.keys[0].aes, b.keys[0].aes, TICKET_AES_LEN);
	assert_memory_equal(a.keys[0].hmac, b.keys[0].hmac, TICKET_HMAC_LEN);
	assert_int_equal(st1.st_ino, st2.st_ino); /* not replaced */
}

static void
test_rotation_keeps_previous_for_decryption(void **state)
{
	struct fx *fx = *state;
	struct ticket_ring a, b, c, d;

	load(fx, T0, &a);
	/* 12 h on: a new key encrypts, the old one still decrypts */
	load(fx, T0 + TICKET_ROTATE, &b);
	assert_true(b.rotated);
	assert_int_equal(b.n, 2);
	assert_memory_not_equal(b.keys[0].name, a.keys[0].name, TICKET_NAME_LEN);
	assert_memory_equal(b.keys[1].name, a.keys[0].name, TICKET_NAME_LEN);
	assert_false(ticket_key_encrypts(&b.keys[1], T0 + TICKET_ROTATE));
	assert_non_null(ticket_ring_find(&b, a.keys[0].name, T0 + TICKET_ROTATE));
	/* just before the end of its retention it still decrypts */
	load(fx, T0 + TICKET_ROTATE + TICKET_RETAIN - 1, &c);
	assert_false(c.rotated);
	assert_non_null(
	    ticket_ring_find(&c, a.keys[0].name, T0 + TICKET_ROTATE + TICKET_RETAIN - 1));
	/* past it: gone, from the ring and from the file */
	load(fx, T0 + TICKET_ROTATE + TICKET_RETAIN, &d);
	assert_true(d.rotated); /* the second key stopped encrypting too */
	assert_null(ticket_ring_find(&d, a.keys[0].name, T0 + TICKET_ROTATE + TICKET_RETAIN));
	assert_int_equal(d.n, 2);
	assert_memory_equal(d.keys[1].name, b.keys[0].name, TICKET_NAME_LEN);
	assert_null(ticket_ring_find(&c, a.keys[0].name, T0 + TICKET_ROTATE + TICKET_RETAIN));
}

static void
test_unknown_name_not_found(void **state)
{
	struct fx *fx = *state;
	unsigned char name[TICKET_NAME_LEN];
	struct ticket_ring r;

	load(fx, T0, &r);
	memcpy(name, r.keys[0].name, sizeof(name));
	name[0] ^= 1;
	assert_null(ticket_ring_find(&r, name, T0));
	assert_non_null(ticket_ring_find(&r, r.keys[0].name, T0));
}

static void
test_damaged_file_made_afresh(void **state)
{
	static const char *const bad[] = {"", "MOTKEYS1", "garbage that is no key file at all",
	                                  NULL};
	struct fx *fx = *state;
	struct ticket_ring r;
	struct stat st;
	size_t i;

	for (i = 0; bad[i]; i++) {
		write_file(fx, bad[i], strlen(bad[i]), 0600);
		load(fx, T0, &r);
		assert_int_equal(r.n, 1);
		assert_true(r.rotated);
		assert_int_equal(stat(fx->file, &st), 0);
		assert_int_equal(st.st_size, TICKET_MAGIC_LEN + TICKET_RECORD_LEN);
	}
}

static void
test_untrusted_file_refused(void **state)
{
	struct fx *fx = *state;
	struct ticket_ring r;
	char why[256] = "", target[160];

	load(fx, T0, &r);
	assert_int_equal(chmod(fx->file, 0644), 0);
	assert_int_equal(ticket_keys_load(fx->dir, T0, &r, why, sizeof(why)), RES_TEMP);
	assert_non_null(strstr(why, "0600"));
	assert_int_equal(r.n, 0);
	/* a symbolic link is never followed */
	(void)bounded_format(target, sizeof(target), "%s/elsewhere", fx->dir);
	assert_int_equal(rename(fx->file, target), 0);
	assert_int_equal(chmod(target, 0600), 0);
	assert_int_equal(symlink(target, fx->file), 0);
	assert_int_equal(ticket_keys_load(fx->dir, T0, &r, why, sizeof(why)), RES_TEMP);
	assert_int_equal(unlink(target), 0);
}

static void
test_unusable_dir(void **state)
{
	struct ticket_ring r;
	char why[256] = "";

	(void)state;
	assert_int_equal(ticket_keys_load("/nonexistent/mailout-tk", T0, &r, why, sizeof(why)),
	                 RES_TEMP);
	assert_true(why[0] != '\0');
	assert_int_equal(ticket_keys_load("", T0, &r, why, sizeof(why)), RES_TEMP);
	assert_int_equal(ticket_keys_load(NULL, T0, &r, why, sizeof(why)), RES_TEMP);
}

static void
test_clock_went_back(void **state)
{
	struct fx *fx = *state;
	struct ticket_ring a, b;

	load(fx, T0, &a);
	/* within the skew the key is still fine */
	load(fx, T0 - TICKET_SKEW, &b);
	assert_false(b.rotated);
	/* further back: the key "from the future" is dropped */
	load(fx, T0 - HOUR, &b);
	assert_true(b.rotated);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.keys[0].created, (int64_t)(T0 - HOUR));
	assert_null(ticket_ring_find(&b, a.keys[0].name, T0 - HOUR));
}

static void
test_full_ring_drops_oldest(void **state)
{
	struct fx *fx = *state;
	unsigned char data[TICKET_FILE_MAX];
	struct ticket_ring r, got;
	size_t i, len;

	memset(&r, 0, sizeof(r));
	for (i = 0; i < TICKET_RING_MAX; i++) {
		memset(r.keys[i].name, (int)('a' + i), TICKET_NAME_LEN);
		memset(r.keys[i].aes, (int)i, TICKET_AES_LEN);
		memset(r.keys[i].hmac, (int)(i + 100), TICKET_HMAC_LEN);
		r.keys[i].created = (int64_t)T0 - (int64_t)(13 + i) * HOUR;
	}
	r.n = TICKET_RING_MAX;
	len = ticket_ring_format(&r, data);
	assert_int_equal(len, TICKET_FILE_MAX);
	assert_int_equal(ticket_ring_parse(data, len, &got), 0);
	assert_int_equal(got.n, TICKET_RING_MAX);
	assert_int_equal(got.keys[3].created, r.keys[3].created);
	assert_memory_equal(got.keys[2].hmac, r.keys[2].hmac, TICKET_HMAC_LEN);
	write_file(fx, data, len, 0600);
	load(fx, T0, &got);
	assert_true(got.rotated);
	assert_int_equal(got.n, TICKET_RING_MAX);
	for (i = 1; i < TICKET_RING_MAX; i++)
		assert_memory_equal(got.keys[i].name, r.keys[i - 1].name, TICKET_NAME_LEN);
	assert_null(ticket_ring_find(&got, r.keys[TICKET_RING_MAX - 1].name, T0));
}

static void
test_parse_rejects_malformed(void **state)
{
	unsigned char data[TICKET_FILE_MAX + TICKET_RECORD_LEN];
	struct ticket_ring r;

	(void)state;
	memset(data, 0, sizeof(data));
	memcpy(data, TICKET_MAGIC, TICKET_MAGIC_LEN);
	assert_int_equal(ticket_ring_parse(data, TICKET_MAGIC_LEN + TICKET_RECORD_LEN, &r), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(ticket_ring_parse(data, TICKET_MAGIC_LEN, &r), -1);
	assert_int_equal(ticket_ring_parse(data, TICKET_MAGIC_LEN + TICKET_RECORD_LEN - 1, &r), -1);
	assert_int_equal(ticket_ring_parse(data, TICKET_FILE_MAX + TICKET_RECORD_LEN, &r), -1);
	data[0] = 'X';
	assert_int_equal(ticket_ring_parse(data, TICKET_MAGIC_LEN + TICKET_RECORD_LEN, &r), -1);
	assert_int_equal(r.n, 0);
}

/* many processes meet an empty directory at once: one key for all */
static void
test_concurrent_first_use(void **state)
{
	enum { N = 8 };
	struct fx *fx = *state;
	unsigned char names[N][TICKET_NAME_LEN];
	int fds[N][2], i, status;
	pid_t pids[N];

	for (i = 0; i < N; i++) {
		assert_int_equal(pipe(fds[i]), 0);
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct ticket_ring r;
			char why[256];

			if (ticket_keys_load(fx->dir, T0, &r, why, sizeof(why)) != RES_OK ||
			    write(fds[i][1], r.keys[0].name, TICKET_NAME_LEN) != TICKET_NAME_LEN)
				_exit(1);
			_exit(0);
		}
		close(fds[i][1]);
	}
	for (i = 0; i < N; i++) {
		assert_int_equal(read(fds[i][0], names[i], TICKET_NAME_LEN), TICKET_NAME_LEN);
		close(fds[i][0]);
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		assert_memory_equal(names[i], names[0], TICKET_NAME_LEN);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_first_use_makes_file_0600, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fresh_key_is_reused_not_rewritten, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_rotation_keeps_previous_for_decryption, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_name_not_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_damaged_file_made_afresh, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_untrusted_file_refused, setup, teardown),
	    cmocka_unit_test(test_unusable_dir),
	    cmocka_unit_test_setup_teardown(test_clock_went_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_ring_drops_oldest, setup, teardown),
	    cmocka_unit_test(test_parse_rejects_malformed),
	    cmocka_unit_test_setup_teardown(test_concurrent_first_use, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
