/*
 * test_spool_read.c - unit tests for the spool file envelope reader
 * (lib/mail_spool_read.c)
 *
 * Must never depend on anything outside lib/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mail_spool_read.h"

#define ID "0005F1C2A3B4D5E6.ABCDEFGHIJ23"
#define GOOD                                                                                       \
	"Mailout-Spool: 1\nQueue-ID: " ID "\nQueued-At: 1764000000 (2026-11-24T16:00:00Z)\n"       \
	"Envelope-From: <root@example.org>\nEnvelope-To: <alice@example.org>\n"                    \
	"Envelope-To: <bob@example.org>\nX-Future: 1\n\nSubject: hi\n\nbody\n"

static void
test_good(void **unused)
{
	static const char text[] = GOOD;
	struct spool_envelope env;
	char why[100];

	assert_int_equal(spool_parse_envelope(text, sizeof(text) - 1, &env, why, sizeof(why)),
	                 RES_OK);
	assert_string_equal(env.queue_id, ID);
	assert_int_equal(env.queued_at, 1764000000);
	assert_string_equal(env.sender, "root@example.org");
	assert_int_equal(env.n_rcpts, 2);
	assert_string_equal(env.rcpts[1], "bob@example.org");
	assert_string_equal(text + env.body_offset, "Subject: hi\n\nbody\n");
	assert_int_equal(
	    spool_message_headers(text + env.body_offset, sizeof(text) - 1 - env.body_offset), 13);
	spool_envelope_free(&env);
}

static const char *const bad[] = {
    "",
    "Mailout-Spool: 1\n",
    "Mailout-Spool: 2\nQueue-ID: " ID "\nQueued-At: 1\nEnvelope-From: <>\n"
    "Envelope-To: <a@b>\n\n",
    "Mailout-Spool: 1\nQueue-ID: ../../etc\nQueued-At: 1\nEnvelope-From: <>\n"
    "Envelope-To: <a@b>\n\n",
    "Mailout-Spool: 1\nQueue-ID: " ID "\nQueued-At: x\nEnvelope-From: <>\n"
    "Envelope-To: <a@b>\n\n",
    "Mailout-Spool: 1\nQueue-ID: " ID "\nQueued-At: 1\nEnvelope-From: <>\n\n",
    "Mailout-Spool: 1\nQueue-ID: " ID "\nQueued-At: 1\nEnvelope-To: <a@b>\n\n",
    "Mailout-Spool: 1\nQueue-ID: " ID "\nQueued-At: 1\nEnvelope-From: <>\n"
    "Envelope-To: <a\rb@c>\n\n",
    "Mailout-Spool: 1\nQueue-ID: " ID "\nQueued-At: 1\nEnvelope-From: <>\n"
    "Envelope-To: a@b\n\n",
    "Mailout-Spool: 1\nQueue-ID: " ID "\nQueued-At: 1\nEnvelope-From: <>\n"
    "Envelope-To: <a@b>\n",
};

static void
test_bad(void **unused)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct spool_envelope env;
		char why[100];

		assert_int_equal(
		    spool_parse_envelope(bad[i], strlen(bad[i]), &env, why, sizeof(why)), RES_PERM);
		spool_envelope_free(&env);
	}
}

static void
test_null_sender(void **unused)
{
	static const char text[] = "Mailout-Spool: 1\nQueue-ID: " ID "\nQueued-At: 5\n"
	                           "Envelope-From: <>\nEnvelope-To: <pm@example.org>\n\n";
	struct spool_envelope env;

	assert_int_equal(spool_parse_envelope(text, sizeof(text) - 1, &env, NULL, 0), RES_OK);
	assert_string_equal(env.sender, "");
	assert_int_equal(env.body_offset, sizeof(text) - 1);
	assert_int_equal(spool_message_headers("", 0), 0);
	assert_int_equal(spool_message_headers("A: b", 4), 4);
	spool_envelope_free(&env);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_null_sender),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
