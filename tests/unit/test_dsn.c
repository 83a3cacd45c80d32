/*
 * test_dsn.c - unit tests for the RFC 3464 bounce builder (lib/mail_dsn.c)
 *
 * Checks the fields a reader of the report relies on, that the body of
 * the original never appears, and the double-bounce marker.  Must
 * never depend on anything outside lib/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mail_dsn.h"

static const char headers[] = "Subject: hello\nFrom: <root@example.org>\n\n";

static void
build(enum dsn_kind kind, struct buf *out)
{
	static const struct dsn_rcpt rcpts[] = {
	    {"bad@example.org", "5.1.1", "550 5.1.1 unknown user", "gw.example.org"},
	    {"late@example.org", "5.4.7", NULL, NULL},
	};
	struct dsn d = {
	    .kind = kind,
	    .hostname = "relay.example.org",
	    .queue_id = "0005F1C2A3B4D5E6.ABCDEFGHIJ23",
	    .arrival = 1764000000,
	    .now = 1764003600,
	    .give_up = 1764432000,
	    .to = "root@example.org",
	    .orig_sender = "",
	    .rcpts = rcpts,
	    .n_rcpts = 2,
	    .headers = headers,
	    .headers_len = sizeof(headers) - 1,
	};

	buf_init(out, 0);
	assert_int_equal(dsn_build(&d, out), 0);
}

static const char *const must_have[] = {
    "From: Mail Delivery System <MAILER-DAEMON@relay.example.org>\n",
    "To: <root@example.org>\n",
    "Subject: Undelivered Mail Returned to Sender\n",
    "Date: Mon, 24 Nov 2025 17:00:00 +0000\n",
    "Auto-Submitted: auto-replied\n",
    "Content-Type: multipart/report; report-type=delivery-status;",
    "Content-Type: message/delivery-status\n\nReporting-MTA: dns; relay.example.org\n",
    "Arrival-Date: Mon, 24 Nov 2025 16:00:00 +0000\n",
    "Final-Recipient: rfc822; bad@example.org\nAction: failed\nStatus: 5.1.1\n"
    "Remote-MTA: dns; gw.example.org\nDiagnostic-Code: smtp; 550 5.1.1 unknown user\n",
    "Final-Recipient: rfc822; late@example.org\nAction: failed\nStatus: 5.4.7\n\n",
    "Content-Type: text/rfc822-headers\n\nSubject: hello\nFrom: <root@example.org>\n\n--",
};

static void
test_failed(void **unused)
{
	struct buf out;

	build(DSN_FAILED, &out);
	for (size_t i = 0; i < sizeof(must_have) / sizeof(must_have[0]); i++)
		if (!strstr(buf_cstr(&out), must_have[i]))
			fail_msg("missing: %s\nin:\n%s", must_have[i], buf_cstr(&out));
	assert_null(strchr(buf_cstr(&out), '\r'));
	assert_false(dsn_is_double_bounce(out.s, out.len));
	buf_free(&out);
}

static void
test_delayed_and_double(void **unused)
{
	struct buf out;

	build(DSN_DELAYED, &out);
	assert_non_null(strstr(buf_cstr(&out), "Action: delayed\n"));
	assert_non_null(strstr(buf_cstr(&out), "keep trying until Sat, 29 Nov 2025"));
	buf_free(&out);
	build(DSN_DOUBLE, &out);
	assert_true(dsn_is_double_bounce(out.s, out.len));
	assert_non_null(strstr(buf_cstr(&out), "Postmaster Copy"));
	buf_free(&out);
	assert_true(dsn_is_double_bounce("A: b\nx-mailout-bounce: double\n", 30));
	assert_false(dsn_is_double_bounce("A: b\n X-Mailout-Bounce: double\n", 31));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_failed),
	    cmocka_unit_test(test_delayed_and_double),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
