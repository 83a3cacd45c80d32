/*
 * test_dsn.c - unit tests for the RFC 3464 / RFC 6533 bounce builder
 * (lib/mail_dsn.c)
 *
 * Checks the fields a reader of the report relies on, that the body of
 * the original never appears, and the double-bounce marker; then both
 * shapes read strictly, group by group and field by field: an ASCII
 * report (message/delivery-status, text/rfc822-headers) and RFC 6533's
 * global one (message/global-delivery-status, "utf-8;" addresses,
 * message/global-headers), with an outcome of our own that names no
 * Remote-MTA and no SMTP reply.  Must never depend on anything outside
 * lib/.
 */
#include <setjmp.h>
#include <stdbool.h>
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
	    {"bad@example.org", "5.1.1", "550 5.1.1 unknown user", "gw.example.org",
	     ORIGIN_GATEWAY},
	    {"late@example.org", "5.4.7", NULL, NULL, ORIGIN_LOCAL},
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

/* --- strict reading of the report ------------------------------------ */

#define GROUPS_MAX 8
#define FIELDS_MAX 12

struct field {
	char name[32];
	char value[160];
};

struct group {
	size_t n;
	struct field f[FIELDS_MAX];
};

/* part_body - the body of the part whose Content-Type line is ctype;
 * *len up to the next boundary line */
static const char *
part_body(const char *msg, const char *ctype, size_t *len)
{
	const char *p = strstr(msg, ctype), *body, *end;

	if (!p || !(body = strstr(p, "\n\n")))
		fail_msg("no part %s in:\n%s", ctype, msg);
	body += 2;
	if (!(end = strstr(body, "\n--")))
		fail_msg("part %s not closed", ctype);
	*len = (size_t)(end - body) + 1;
	return body;
}

/* read_field - one "Name: value" line: a token, ": ", a value without
 * control characters; no continuation lines in our reports */
static void
read_field(const char *line, size_t len, struct field *f)
{
	size_t n = strspn(line, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-");

	if (n == 0 || n >= sizeof(f->name) || len < n + 3 || line[n] != ':' || line[n + 1] != ' ' ||
	    len - n - 2 >= sizeof(f->value))
		fail_msg("not a field: %.*s", (int)len, line);
	memcpy(f->name, line, n);
	f->name[n] = '\0';
	memcpy(f->value, line + n + 2, len - n - 2);
	f->value[len - n - 2] = '\0';
	for (size_t i = 0; f->value[i]; i++)
		if ((unsigned char)f->value[i] < 0x20 || f->value[i] == 0x7f)
			fail_msg("control character in %s", f->name);
}

/* read_groups - the per-message group, then one per recipient, each
 * ended by one empty line (RFC 3464 2.1) */
static size_t
read_groups(const char *body, size_t len, struct group *g)
{
	size_t ng = 0, pos = 0;

	memset(g, 0, GROUPS_MAX * sizeof(*g));
	while (pos < len) {
		const char *nl = memchr(body + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (body + pos)) : len - pos;

		assert_true(ng < GROUPS_MAX);
		if (ll == 0) {
			assert_true(g[ng].n > 0); /* never two empty lines */
			ng++;
		} else {
			assert_true(g[ng].n < FIELDS_MAX);
			read_field(body + pos, ll, &g[ng].f[g[ng].n++]);
		}
		pos += ll + 1;
	}
	assert_int_equal(g[ng].n, 0); /* the last group was closed */
	return ng;
}

/* expect_group - exactly these fields, in this order ("Name: value") */
static void
expect_group(const struct group *g, const char *const *want, size_t n)
{
	assert_int_equal(g->n, n);
	for (size_t i = 0; i < n; i++) {
		char line[200];

		assert_true(
		    bounded_format(line, sizeof(line), "%s: %s", g->f[i].name, g->f[i].value) == 0);
		assert_string_equal(line, want[i]);
	}
}

#define EXPECT(g, ...)                                                                             \
	do {                                                                                       \
		static const char *const want_[] = {__VA_ARGS__};                                  \
		expect_group((g), want_, sizeof(want_) / sizeof(want_[0]));                        \
	} while (0)

/* build_shape - a DSN_FAILED report on rcpts with the given headers */
static void
build_shape(const struct dsn_rcpt *rcpts, size_t n, const char *hdrs, struct buf *out)
{
	struct dsn d = {
	    .kind = DSN_FAILED,
	    .hostname = "relay.example.org",
	    .queue_id = "0005F1C2A3B4D5E6.ABCDEFGHIJ23",
	    .arrival = 1764000000,
	    .now = 1764003600,
	    .to = "root@example.org",
	    .orig_sender = "root@example.org",
	    .rcpts = rcpts,
	    .n_rcpts = n,
	    .headers = hdrs,
	    .headers_len = strlen(hdrs),
	};

	buf_init(out, 0);
	assert_int_equal(dsn_build(&d, out), 0);
}

/* lines of an older deliverer (origin unknown): judged by the marker */
static const struct dsn_rcpt mixed[] = {
    {"bad@example.org", "5.1.1", "550 5.1.1 unknown user", "gw.example.org", ORIGIN_UNKNOWN},
    {"big@example.org", "5.3.4",
     "552 5.3.4 mailout: message size 900 exceeds the limit 200 of gw[192.0.2.1]:25",
     "gw.example.org", ORIGIN_UNKNOWN},
    {"late@example.org", "5.4.7", "451 4.4.1 mailout: connect to gw[192.0.2.1]:25 failed: timeout",
     NULL, ORIGIN_UNKNOWN},
};

/* the same outcomes as recorded now: who decided is in origin, and the
 * text carries no marker */
static const struct dsn_rcpt recorded[] = {
    {"bad@example.org", "5.1.1", "550 5.1.1 unknown user", "gw.example.org", ORIGIN_GATEWAY},
    {"big@example.org", "5.3.4",
     "552 5.3.4 message size 900 exceeds the limit 200 of gw[192.0.2.1]:25", "gw.example.org",
     ORIGIN_LOCAL},
    {"late@example.org", "5.4.7", "451 4.4.1 connect to gw[192.0.2.1]:25 failed: timeout", NULL,
     ORIGIN_LOCAL},
    /* a gateway's 4xx that expired, recorded while the session was up */
    {"slow@example.org", "5.4.7", "451 4.3.0 try later", "gw.example.org", ORIGIN_GATEWAY},
};

static void
test_ascii_shape(void **unused)
{
	struct group g[GROUPS_MAX];
	struct buf out;
	const char *body;
	size_t len;

	build_shape(mixed, 3, headers, &out);
	assert_non_null(strstr(buf_cstr(&out), "multipart/report; report-type=delivery-status;"));
	assert_null(strstr(buf_cstr(&out), "global"));
	assert_null(strstr(buf_cstr(&out), "Content-Transfer-Encoding"));
	body = part_body(buf_cstr(&out), "Content-Type: message/delivery-status\n", &len);
	assert_int_equal(read_groups(body, len, g), 4);
	EXPECT(&g[0], "Reporting-MTA: dns; relay.example.org",
	       "X-Mailout-Queue-ID: 0005F1C2A3B4D5E6.ABCDEFGHIJ23",
	       "Arrival-Date: Mon, 24 Nov 2025 16:00:00 +0000");
	/* the gateway said it: its reply, and who it is */
	EXPECT(&g[1], "Final-Recipient: rfc822; bad@example.org", "Action: failed", "Status: 5.1.1",
	       "Remote-MTA: dns; gw.example.org", "Diagnostic-Code: smtp; 550 5.1.1 unknown user");
	/* we decided (connected, though): no Remote-MTA, no SMTP reply */
	EXPECT(&g[2], "Final-Recipient: rfc822; big@example.org", "Action: failed", "Status: 5.3.4",
	       "Diagnostic-Code: X-mailout; message size 900 exceeds the limit 200 of "
	       "gw[192.0.2.1]:25");
	EXPECT(&g[3], "Final-Recipient: rfc822; late@example.org", "Action: failed",
	       "Status: 5.4.7",
	       "Diagnostic-Code: X-mailout; connect to gw[192.0.2.1]:25 failed: timeout");
	body = part_body(buf_cstr(&out), "Content-Type: text/rfc822-headers\n", &len);
	assert_int_equal(len, sizeof(headers) - 1);
	assert_memory_equal(body, headers, len);
	buf_free(&out);
}

static void
test_global_shape(void **unused)
{
	static const struct dsn_rcpt rcpts[] = {
	    {"j\xc3\xbcrgen@example.org", "5.6.7",
	     "553 5.6.7 mailout: gw[192.0.2.1]:25 does not support SMTPUTF8, needed for this "
	     "address",
	     "gw.example.org", ORIGIN_UNKNOWN},
	    {"a@example.org", "5.1.1", "550 5.1.1 unknown user", "gw.example.org", ORIGIN_GATEWAY},
	};
	struct group g[GROUPS_MAX];
	struct buf out;
	const char *body, *s;
	size_t len;

	build_shape(rcpts, 2, headers, &out);
	s = buf_cstr(&out);
	assert_non_null(strstr(s, "Content-Type: multipart/report; "
	                          "report-type=global-delivery-status;\n"));
	assert_null(strstr(s, "message/delivery-status"));
	assert_null(strstr(s, "global-headers")); /* the headers are ASCII */
	body = part_body(s,
	                 "Content-Type: message/global-delivery-status\n"
	                 "Content-Transfer-Encoding: 8bit\n",
	                 &len);
	assert_int_equal(read_groups(body, len, g), 3);
	assert_string_equal(g[0].f[0].name, "Reporting-MTA");
	EXPECT(&g[1], "Final-Recipient: utf-8; j\xc3\xbcrgen@example.org", "Action: failed",
	       "Status: 5.6.7",
	       "Diagnostic-Code: X-mailout; gw[192.0.2.1]:25 does not support SMTPUTF8, needed for "
	       "this address");
	EXPECT(&g[2], "Final-Recipient: rfc822; a@example.org", "Action: failed", "Status: 5.1.1",
	       "Remote-MTA: dns; gw.example.org", "Diagnostic-Code: smtp; 550 5.1.1 unknown user");
	assert_non_null(strstr(s, "Content-Type: text/plain; charset=utf-8\n"
	                          "Content-Transfer-Encoding: 8bit\n\n"));
	assert_non_null(part_body(s, "Content-Type: text/rfc822-headers\n", &len));
	buf_free(&out);
}

static void
test_global_headers(void **unused)
{
	static const char utf8[] = "Subject: Gr\xc3\xbc\xc3\x9f"
	                           "e\nFrom: <root@example.org>\n\n";
	static const char latin1[] = "Subject: Gr\xfc\xdf"
	                             "e\n\n";
	struct buf out;
	const char *body;
	size_t len;

	/* UTF-8 in the returned headers alone makes the report global */
	build_shape(mixed, 1, utf8, &out);
	assert_non_null(strstr(buf_cstr(&out), "report-type=global-delivery-status;"));
	assert_non_null(
	    part_body(buf_cstr(&out), "Content-Type: message/global-delivery-status\n", &len));
	body = part_body(buf_cstr(&out),
	                 "Content-Type: message/global-headers\nContent-Transfer-Encoding: 8bit\n",
	                 &len);
	assert_int_equal(len, sizeof(utf8) - 1);
	assert_memory_equal(body, utf8, len);
	buf_free(&out);
	/* 8-bit octets that are not UTF-8 are no reason to claim RFC 6532 */
	build_shape(mixed, 1, latin1, &out);
	assert_null(strstr(buf_cstr(&out), "global"));
	buf_free(&out);
}

static void
test_ours_marker(void **unused)
{
	static const struct {
		const char *in;
		bool ours;
	} t[] = {
	    {"451 4.4.1 connect failed", false},
	    {"451 4.4.1 mailout: connect failed", true},
	    {"553 5.6.7 mailout: x", true},
	    {"550 no enhanced code", false},
	    {"550 mailout: x", true},
	    {"550 5.1.1 said mailout: x", false},
	    {"no code at all", false},
	    {"", false},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(dsn_reply_is_ours(t[i].in), t[i].ours);
	assert_false(dsn_reply_is_ours(NULL));
}

/* who decided: the recorded origin wins over the text and over whether
 * a gateway is named; unknown keeps the older rules */
static void
test_rcpt_is_ours(void **unused)
{
	static const struct {
		struct dsn_rcpt r;
		bool ours;
	} t[] = {
	    {{"a@x", "4.3.0", "451 4.3.0 try later", NULL, ORIGIN_GATEWAY}, false},
	    {{"a@x", "4.3.0", "451 4.3.0 mailout: x", "gw", ORIGIN_GATEWAY}, false},
	    {{"a@x", "5.1.1", "550 5.1.1 no", "gw", ORIGIN_LOCAL}, true},
	    {{"a@x", "5.1.1", "550 5.1.1 no", "gw", ORIGIN_UNKNOWN}, false},
	    {{"a@x", "5.1.1", "550 5.1.1 no", NULL, ORIGIN_UNKNOWN}, false},
	    {{"a@x", "4.3.0", "451 4.3.0 later", NULL, ORIGIN_UNKNOWN}, true},
	    {{"a@x", "4.3.0", "451 4.3.0 later", "gw", ORIGIN_UNKNOWN}, false},
	    {{"a@x", "5.6.7", "553 5.6.7 mailout: x", "gw", ORIGIN_UNKNOWN}, true},
	    {{"a@x", "5.4.7", NULL, NULL, ORIGIN_UNKNOWN}, false},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(dsn_rcpt_is_ours(&t[i].r), t[i].ours);
}

/* outcomes recorded with their origin: the gateway's (also a 4xx that
 * expired) name it and its reply; ours name neither */
static void
test_recorded_origin(void **unused)
{
	struct group g[GROUPS_MAX];
	struct buf out;
	const char *body;
	size_t len;

	build_shape(recorded, 4, headers, &out);
	body = part_body(buf_cstr(&out), "Content-Type: message/delivery-status\n", &len);
	assert_int_equal(read_groups(body, len, g), 5);
	EXPECT(&g[1], "Final-Recipient: rfc822; bad@example.org", "Action: failed", "Status: 5.1.1",
	       "Remote-MTA: dns; gw.example.org", "Diagnostic-Code: smtp; 550 5.1.1 unknown user");
	EXPECT(&g[2], "Final-Recipient: rfc822; big@example.org", "Action: failed", "Status: 5.3.4",
	       "Diagnostic-Code: X-mailout; message size 900 exceeds the limit 200 of "
	       "gw[192.0.2.1]:25");
	EXPECT(&g[3], "Final-Recipient: rfc822; late@example.org", "Action: failed",
	       "Status: 5.4.7",
	       "Diagnostic-Code: X-mailout; connect to gw[192.0.2.1]:25 failed: timeout");
	EXPECT(&g[4], "Final-Recipient: rfc822; slow@example.org", "Action: failed",
	       "Status: 5.4.7", "Remote-MTA: dns; gw.example.org",
	       "Diagnostic-Code: smtp; 451 4.3.0 try later");
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_failed),         cmocka_unit_test(test_delayed_and_double),
	    cmocka_unit_test(test_ascii_shape),    cmocka_unit_test(test_global_shape),
	    cmocka_unit_test(test_global_headers), cmocka_unit_test(test_ours_marker),
	    cmocka_unit_test(test_rcpt_is_ours),   cmocka_unit_test(test_recorded_origin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
