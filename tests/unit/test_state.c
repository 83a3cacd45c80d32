/*
 * test_state.c - unit tests for delivery state files (lib/mail_state.c)
 *
 * Round trips, garbage lines, addresses holding "> ", who decided each
 * outcome (origin=, relay=; old lines without them), and the atomic
 * save/load/remove under a temporary directory; the counters file:
 * parsing, and additions from many processes at once losing nothing.
 * Must never depend on anything outside lib/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "mail_state.h"

#define L(s) s, sizeof(s) - 1

static void
test_parse_example(void **unused)
{
	static const char text[] =
	    "attempts 3\nfirst_attempt 1764000000\n"
	    "next_attempt 1764000900\nwarned 1\n"
	    "rcpt <a@example.org> sent 1764000000 250 2.0.0 Ok: queued as X\n"
	    "rcpt <b@example.org> deferred 1764000300 451 4.3.0 try later\n"
	    "rcpt <c@example.org> bounced 1764000000 550 5.1.1 unknown user\n"
	    "rcpt <d@example.org> failed 1764000001 550 5.1.1 gone\n";
	struct mail_state st;
	struct state_rcpt *r;

	state_init(&st);
	assert_int_equal(state_parse(L(text), &st), 0);
	assert_int_equal(st.attempts, 3);
	assert_int_equal(st.first_attempt, 1764000000);
	assert_int_equal(st.next_attempt, 1764000900);
	assert_true(st.warned);
	assert_int_equal(st.n_rcpts, 4);
	r = state_rcpt_find(&st, "b@example.org");
	assert_non_null(r);
	assert_int_equal(r->status, RCPT_DEFERRED);
	assert_int_equal(r->when, 1764000300);
	assert_string_equal(r->reply, "451 4.3.0 try later");
	assert_int_equal(state_rcpt_find(&st, "d@example.org")->status, RCPT_FAILED);
	assert_true(state_rcpt_done(state_rcpt_find(&st, "c@example.org")->status));
	assert_false(state_rcpt_done(RCPT_FAILED));
	state_free(&st);
}

static const struct {
	const char *line;
	int bad;
} garbage[] = {
    {"attempts x\n", 1},
    {"attempts 99999999999999999999\n", 1},
    {"rcpt a@b sent 1 250 ok\n", 1},
    {"rcpt <a@b> sentx 1 250 ok\n", 1},
    {"rcpt <a@b> sent -1 250 ok\n", 1},
    {"rcpt <> sent 1 250 ok\n", 1},
    {"rcpt <a@b>\n", 1},
    {"future_key 12\n", 0},
    {"\n\n\n", 0},
    {"rcpt <a@b> sent 1\n", 0},
};

static void
test_parse_garbage(void **unused)
{
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		struct mail_state st;

		state_init(&st);
		assert_int_equal(state_parse(garbage[i].line, strlen(garbage[i].line), &st),
		                 garbage[i].bad);
		state_free(&st);
	}
}

static void
test_quoted_address(void **unused)
{
	static const char text[] = "rcpt <\"x> sent 1\"@example.org> deferred 5 451 4.0.0 no\n";
	struct mail_state st;

	state_init(&st);
	assert_int_equal(state_parse(L(text), &st), 0);
	assert_non_null(state_rcpt_find(&st, "\"x> sent 1\"@example.org"));
	state_free(&st);
}

static void
test_roundtrip_and_clean(void **unused)
{
	struct mail_state st, st2;
	struct buf out = BUF_INIT(0);

	state_init(&st);
	st.attempts = 2;
	st.first_attempt = 10;
	st.next_attempt = 20;
	assert_int_equal(state_rcpt_set(&st, "a@example.org", RCPT_SENT, 11, "250 ok"), 0);
	assert_int_equal(
	    state_rcpt_set(&st, "b@example.org", RCPT_DEFERRED, 12, "451 4.0.0 two\r\nlines"), 0);
	assert_int_equal(state_rcpt_set(&st, "c@example.org", RCPT_PENDING, 0, NULL), 0);
	assert_int_equal(state_rcpt_set(&st, "a\nb@example.org", RCPT_SENT, 1, ""), -1);
	assert_int_equal(state_format(&st, &out), 0);
	assert_null(strstr(buf_cstr(&out), "c@example.org"));
	state_init(&st2);
	assert_int_equal(state_parse(out.s, out.len, &st2), 0);
	assert_int_equal(st2.n_rcpts, 2);
	assert_string_equal(state_rcpt_find(&st2, "b@example.org")->reply, "451 4.0.0 two  lines");
	assert_int_equal(st2.next_attempt, 20);
	state_free(&st);
	state_free(&st2);
	buf_free(&out);
}

/* origin= and relay= round trip; a line without them (an older writer)
 * reads as unknown origin with its reply whole */
static void
test_origin_roundtrip(void **unused)
{
	static const char text[] =
	    "attempts 1\n"
	    "rcpt <a@example.org> failed 5 origin=gateway relay=gw.example.org[192.0.2.1]:25 "
	    "550 5.1.1 unknown user\n"
	    "rcpt <b@example.org> deferred 6 origin=local relay=gw[::1]:2525 451 4.4.2 lost\n"
	    "rcpt <c@example.org> deferred 7 origin=local 451 4.4.1 connect failed\n"
	    "rcpt <d@example.org> sent 8 250 2.0.0 old line\n"
	    "rcpt <e@example.org> sent 9 origin=gateway relay=gw[192.0.2.1]:25 \n";
	struct mail_state st, st2;
	struct buf out = BUF_INIT(0);
	struct state_rcpt *r;
	char host[64];

	state_init(&st);
	state_init(&st2);
	assert_int_equal(state_parse(L(text), &st), 0);
	r = state_rcpt_find(&st, "a@example.org");
	assert_int_equal(r->origin, ORIGIN_GATEWAY);
	assert_string_equal(r->relay, "gw.example.org[192.0.2.1]:25");
	assert_string_equal(r->reply, "550 5.1.1 unknown user");
	state_relay_host(r->relay, host, sizeof(host));
	assert_string_equal(host, "gw.example.org");
	r = state_rcpt_find(&st, "b@example.org");
	assert_int_equal(r->origin, ORIGIN_LOCAL);
	assert_string_equal(r->relay, "gw[::1]:2525");
	assert_string_equal(r->reply, "451 4.4.2 lost");
	r = state_rcpt_find(&st, "c@example.org");
	assert_int_equal(r->origin, ORIGIN_LOCAL);
	assert_string_equal(r->relay, "");
	assert_string_equal(r->reply, "451 4.4.1 connect failed");
	r = state_rcpt_find(&st, "d@example.org");
	assert_int_equal(r->origin, ORIGIN_UNKNOWN);
	assert_string_equal(r->relay, "");
	assert_string_equal(r->reply, "250 2.0.0 old line");
	assert_string_equal(state_rcpt_find(&st, "e@example.org")->reply, "");
	assert_int_equal(state_format(&st, &out), 0);
	assert_non_null(strstr(buf_cstr(&out), "rcpt <d@example.org> sent 8 250 2.0.0 old line\n"));
	assert_non_null(strstr(buf_cstr(&out), "rcpt <c@example.org> deferred 7 origin=local "
	                                       "451 4.4.1 connect failed\n"));
	assert_int_equal(state_parse(buf_cstr(&out), out.len, &st2), 0);
	for (size_t i = 0; i < st.n_rcpts; i++) {
		r = state_rcpt_find(&st2, st.rcpts[i].addr);
		assert_non_null(r);
		assert_int_equal(r->origin, st.rcpts[i].origin);
		assert_string_equal(r->relay, st.rcpts[i].relay);
		assert_string_equal(r->reply, st.rcpts[i].reply);
	}
	/* a new outcome without an origin forgets the old one */
	assert_int_equal(state_rcpt_set(&st, "a@example.org", RCPT_SENT, 10, "250 ok"), 0);
	r = state_rcpt_find(&st, "a@example.org");
	assert_int_equal(r->origin, ORIGIN_UNKNOWN);
	assert_string_equal(r->relay, "");
	/* a relay that is not one printable token, or "none", is not kept */
	state_rcpt_origin(r, ORIGIN_GATEWAY, "gw x");
	assert_string_equal(r->relay, "");
	state_rcpt_origin(r, ORIGIN_LOCAL, "none");
	assert_string_equal(r->relay, "");
	assert_int_equal(r->origin, ORIGIN_LOCAL);
	state_relay_host("", host, sizeof(host));
	assert_string_equal(host, "");
	buf_free(&out);
	state_free(&st);
	state_free(&st2);
}

/* an origin= this reader does not know, or an empty relay=, is malformed */
static void
test_origin_garbage(void **unused)
{
	static const char text[] = "rcpt <a@x> sent 1 origin=martian 250 ok\n"
	                           "rcpt <b@x> sent 1 origin=gateway relay= 250 ok\n"
	                           "rcpt <c@x> sent 1 origin=gateway 250 ok\n";
	struct mail_state st;

	state_init(&st);
	assert_int_equal(state_parse(L(text), &st), 2);
	assert_int_equal(st.n_rcpts, 1);
	assert_int_equal(st.rcpts[0].origin, ORIGIN_GATEWAY);
	state_free(&st);
}

static void
test_save_load(void **unused)
{
	char dir[] = "/tmp/test_state.XXXXXX";
	struct mail_state st, st2;
	int dfd, bad;

	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	state_init(&st);
	state_init(&st2);
	assert_int_equal(state_load(dfd, "ID", &st2, &bad), RES_OK); /* missing: empty */
	assert_int_equal(st2.n_rcpts, 0);
	st.attempts = 1;
	assert_int_equal(state_rcpt_set(&st, "a@example.org", RCPT_BOUNCED, 3, "550 no"), 0);
	assert_int_equal(state_save(dfd, "ID", &st), RES_OK);
	assert_int_equal(faccessat(dfd, ".tmp.ID", F_OK, 0), -1);
	assert_int_equal(state_load(dfd, "ID", &st2, &bad), RES_OK);
	assert_int_equal(bad, 0);
	assert_int_equal(st2.attempts, 1);
	assert_int_equal(state_rcpt_find(&st2, "a@example.org")->status, RCPT_BOUNCED);
	assert_int_equal(state_remove(dfd, "ID"), RES_OK);
	assert_int_equal(state_remove(dfd, "ID"), RES_OK);
	close(dfd);
	assert_int_equal(rmdir(dir), 0);
	state_free(&st);
	state_free(&st2);
}

static const struct {
	const char *text;
	uint64_t delivered, bounced, deferred;
} counter_cases[] = {
    {"", 0, 0, 0},
    {"delivered 12\nbounced 3\ndeferred 4\n", 12, 3, 4},
    {"deferred 4\ndelivered 12", 12, 0, 4}, /* any order, no final LF */
    {"delivered 18446744073709551615\n", UINT64_MAX, 0, 0}, /* the largest */
    {"delivered 18446744073709551616\nbounced 1\n", 0, 1, 0}, /* overflow: skipped */
    {"delivered -1\ndelivered\ndelivered \nbounced 2x\n", 0, 0, 0},
    {"sent 5\ndelivered  7\nDelivered 7\n\n\ndeferred 9\n", 0, 0, 9},
    {"delivered 1\ndelivered 2\n", 2, 0, 0}, /* the last line wins */
};

static void
test_counters_parse(void **unused)
{
	for (size_t i = 0; i < sizeof(counter_cases) / sizeof(counter_cases[0]); i++) {
		struct mail_counters c;

		memset(&c, 0xff, sizeof(c));
		counters_parse(counter_cases[i].text, strlen(counter_cases[i].text), &c);
		if (c.delivered != counter_cases[i].delivered ||
		    c.bounced != counter_cases[i].bounced ||
		    c.deferred != counter_cases[i].deferred)
			fail_msg("case %zu (%s): %llu %llu %llu", i, counter_cases[i].text,
			         (unsigned long long)c.delivered, (unsigned long long)c.bounced,
			         (unsigned long long)c.deferred);
	}
}

/* read_counters - the file as mailout-spool reads it */
static void
read_counters(int dfd, struct mail_counters *c)
{
	char text[512];
	int fd = openat(dfd, COUNTERS_FILE, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, text, sizeof(text));
	assert_true(n > 0);
	close(fd);
	counters_parse(text, (size_t)n, c);
}

/* many processes add at once: every addition counts (runs overlap) */
static void
test_counters_add_concurrent(void **unused)
{
	enum { PROCS = 8, ADDS = 40 };
	char dir[] = "/tmp/test_counters.XXXXXX";
	struct mail_counters one = {1, 2, 3}, zero = {0, 0, 0}, c;
	pid_t pids[PROCS];
	int dfd, status;

	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_int_equal(counters_add(dfd, &zero), RES_OK); /* nothing: no file */
	assert_int_equal(faccessat(dfd, COUNTERS_FILE, F_OK, 0), -1);
	for (int i = 0; i < PROCS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			for (int k = 0; k < ADDS; k++)
				if (counters_add(dfd, &one) != RES_OK)
					_exit(1);
			_exit(0);
		}
	}
	for (int i = 0; i < PROCS; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	read_counters(dfd, &c);
	assert_int_equal(c.delivered, PROCS * ADDS);
	assert_int_equal(c.bounced, 2 * PROCS * ADDS);
	assert_int_equal(c.deferred, 3 * PROCS * ADDS);
	assert_int_equal(faccessat(dfd, "." COUNTERS_FILE ".tmp", F_OK, 0), -1);
	assert_int_equal(unlinkat(dfd, COUNTERS_FILE, 0), 0);
	assert_int_equal(unlinkat(dfd, COUNTERS_LOCK, 0), 0);
	close(dfd);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_example),
	    cmocka_unit_test(test_parse_garbage),
	    cmocka_unit_test(test_quoted_address),
	    cmocka_unit_test(test_roundtrip_and_clean),
	    cmocka_unit_test(test_origin_roundtrip),
	    cmocka_unit_test(test_origin_garbage),
	    cmocka_unit_test(test_save_load),
	    cmocka_unit_test(test_counters_parse),
	    cmocka_unit_test(test_counters_add_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
