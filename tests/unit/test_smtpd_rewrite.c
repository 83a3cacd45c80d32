/*
 * test_smtpd_rewrite.c - unit tests for the receiver's masquerading:
 * MAIL FROM:<root> with ADDR_OPT_UNQUALIFIED (smtpd_parse.c), whole
 * header fields rewritten (lib/mail_rewrite.c rewrite_header_field,
 * smtpd_data.c smtpd_rewrite_fields), and where a header section that
 * arrives in pieces may be cut between whole fields (field_cut_scan),
 * checked against every split of the same input.
 *
 * Must never do I/O: these are the pure parts of the session.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtpd.h"

/* setup_rw - domain example.org, this host relay.test.example, a map */
static void
setup_rw(struct rewrite *rw)
{
	static const char map[] = "root admin@example.org\n"
	                          "www-data@web1.local webmaster@example.org\n";

	rewrite_init(rw);
	assert_int_equal(rewrite_set_domain(rw, "example.org"), 0);
	assert_int_equal(rewrite_add_local(rw, "relay.test.example"), 0);
	assert_int_equal(rewrite_map_parse(rw, map, sizeof(map) - 1, "map", NULL), 0);
}

static void
test_parse_mail_unqualified(void **state)
{
	static const struct {
		const char *arg;
		unsigned opts;
		int code; /* 0: accepted */
		const char *local, *domain;
	} cases[] = {
	    {"FROM:<root>", ADDR_OPT_UNQUALIFIED, 0, "root", ""},
	    {"FROM: <www-data> SIZE=10", ADDR_OPT_UNQUALIFIED, 0, "www-data", ""},
	    {"FROM:<root@host.local>", ADDR_OPT_UNQUALIFIED, 0, "root", "host.local"},
	    {"FROM:<>", ADDR_OPT_UNQUALIFIED, 0, "", ""},
	    {"FROM:<postmaster>", 0, 0, "postmaster", ""},
	    {"FROM:<root>", 0, 501, NULL, NULL},
	    {"FROM:<www-data>", 0, 501, NULL, NULL},
	    /* a route or a bad local part is still no address */
	    {"FROM:<@a.example:root>", ADDR_OPT_UNQUALIFIED, 501, NULL, NULL},
	    {"FROM:<ro ot>", ADDR_OPT_UNQUALIFIED, 501, NULL, NULL},
	    {"FROM:<root>>", ADDR_OPT_UNQUALIFIED, 501, NULL, NULL},
	    {"FROM:<root", ADDR_OPT_UNQUALIFIED, 501, NULL, NULL},
	};
	struct mail_addr a;
	struct mail_params p;
	struct reply r;
	enum result res;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&r, 0, sizeof(r));
		res = smtp_parse_mail_opt(cases[i].arg, strlen(cases[i].arg), cases[i].opts, &a, &p,
		                          &r);
		if (cases[i].code == 0) {
			if (res != RES_OK)
				fail_msg("%s: refused: %d %s", cases[i].arg, r.code, r.text);
			assert_string_equal(a.local, cases[i].local);
			assert_string_equal(a.domain, cases[i].domain);
		} else {
			if (res != RES_PERM || r.code != cases[i].code)
				fail_msg("%s: want %d, got %d", cases[i].arg, cases[i].code,
				         r.code);
		}
	}
	/* the plain parser is the one without options */
	assert_int_equal(smtp_parse_mail("FROM:<root>", 11, &a, &p, &r), RES_PERM);
}

static void
test_field_mode(void **state)
{
	enum rewrite_mode m;

	(void)state;
	assert_true(rewrite_field_mode("From", 4, &m) && m == REWRITE_SENDER);
	assert_true(rewrite_field_mode("FROM \t", 6, &m) && m == REWRITE_SENDER);
	assert_true(rewrite_field_mode("to", 2, &m) && m == REWRITE_RECIPIENT);
	assert_true(rewrite_field_mode("Cc", 2, &m) && m == REWRITE_RECIPIENT);
	assert_false(rewrite_field_mode("Sender", 6, &m));
	assert_false(rewrite_field_mode("Reply-To", 8, &m));
	assert_false(rewrite_field_mode("Bcc", 3, &m));
	assert_false(rewrite_field_mode("Fro", 3, &m));
}

static void
test_header_field(void **state)
{
	static const struct {
		const char *in, *out;
		int changed;
	} cases[] = {
	    {"From: root\n", "From: admin@example.org\n", 1},
	    {"from:root\n", "from:admin@example.org\n", 1},
	    {"From : Cron <cron>\n", "From : Cron <cron@example.org>\n", 1},
	    {"From: www-data@web1.local (web)\n", "From: webmaster@example.org (web)\n", 1},
	    {"From: \"Ro, Ot\" <root>,\n\tbackup@relay.test.example\n",
	     "From: \"Ro, Ot\" <admin@example.org>,\n\tbackup@example.org\n", 2},
	    {"From: someone@example.org\n", "From: someone@example.org\n", 0},
	    /* recipients are only qualified, never mapped */
	    {"To: root, ops@host.local\n", "To: root@example.org, ops@example.org\n", 2},
	    {"Cc: undisclosed-recipients:;\n", "Cc: undisclosed-recipients:;\n", 0},
	    {"Sender: root\n", "Sender: root\n", 0},
	    {"Subject: From: root\n", "Subject: From: root\n", 0},
	    {"From: root", "From: admin@example.org", 1}, /* no line end yet */
	    {"no colon here\n", "no colon here\n", 0},
	};
	struct rewrite rw;
	struct buf out = BUF_INIT(4096);
	size_t i;
	int r;

	(void)state;
	setup_rw(&rw);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&out);
		r = rewrite_header_field(&rw, cases[i].in, strlen(cases[i].in), &out);
		assert_int_equal(r, cases[i].changed);
		assert_string_equal(buf_cstr(&out), cases[i].out);
	}
	/* out full: -1 */
	buf_free(&out);
	buf_init(&out, 8);
	assert_int_equal(rewrite_header_field(&rw, "From: root\n", 11, &out), -1);
	buf_free(&out);
	rewrite_free(&rw);
}

static const char SECTION[] = "Received: from a\n\tby b\n"
                              "From: Cron <root>,\n"
                              "  www-data@web1.local\n"
                              "Subject: hi\n"
                              "To: ops\n"
                              "Cc: x@example.org\n\t\n";
static const char SECTION_OUT[] = "Received: from a\n\tby b\n"
                                  "From: Cron <admin@example.org>,\n"
                                  "  webmaster@example.org\n"
                                  "Subject: hi\n"
                                  "To: ops@example.org\n"
                                  "Cc: x@example.org\n\t\n";

static void
test_rewrite_fields(void **state)
{
	struct rewrite rw;
	struct buf out = BUF_INIT(4096);

	(void)state;
	setup_rw(&rw);
	assert_int_equal(smtpd_rewrite_fields(&rw, SECTION, sizeof(SECTION) - 1, &out), 3);
	assert_string_equal(buf_cstr(&out), SECTION_OUT);
	buf_free(&out);
	rewrite_free(&rw);
}

/* stream - SECTION fed in pieces of at most step octets, as
 * smtpd_data.c does: hold, cut at whole fields, rewrite what is cut;
 * the rest goes out at the end.  Returns what went out. */
static void
stream(const struct rewrite *rw, size_t step, struct buf *out)
{
	struct buf hold = BUF_INIT(4096);
	struct field_cut fc;
	size_t pos = 0, n, cut;

	field_cut_init(&fc);
	while (pos < sizeof(SECTION) - 1) {
		n = sizeof(SECTION) - 1 - pos < step ? sizeof(SECTION) - 1 - pos : step;
		assert_int_equal(buf_append(&hold, SECTION + pos, n), 0);
		pos += n;
		cut = field_cut_scan(&fc, hold.s, hold.len);
		assert_true(cut <= hold.len);
		/* a cut is at a line start that begins a field */
		if (cut > 0) {
			assert_int_equal(hold.s[cut - 1], '\n');
			assert_true(hold.s[cut] != ' ' && hold.s[cut] != '\t');
		}
		assert_true(smtpd_rewrite_fields(rw, hold.s, cut, out) >= 0);
		buf_consume(&hold, cut);
		field_cut_consume(&fc, cut);
	}
	assert_true(smtpd_rewrite_fields(rw, hold.s ? hold.s : "", hold.len, out) >= 0);
	buf_free(&hold);
}

static void
test_field_cut_every_split(void **state)
{
	struct rewrite rw;
	struct buf out = BUF_INIT(4096);
	size_t step;

	(void)state;
	setup_rw(&rw);
	for (step = 1; step <= sizeof(SECTION); step++) {
		buf_reset(&out);
		stream(&rw, step, &out);
		if (strcmp(buf_cstr(&out), SECTION_OUT) != 0)
			fail_msg("pieces of %zu: got\n%s", step, buf_cstr(&out));
	}
	buf_free(&out);
	rewrite_free(&rw);
}

static void
test_field_cut_holds_open_field(void **state)
{
	struct field_cut fc;

	(void)state;
	field_cut_init(&fc);
	/* the first field may go on: nothing is whole yet */
	assert_int_equal(field_cut_scan(&fc, "From: a\n", 8), 0);
	/* a blank continues it */
	assert_int_equal(field_cut_scan(&fc, "From: a\n\tb\n", 11), 0);
	/* a new field ends it */
	assert_int_equal(field_cut_scan(&fc, "From: a\n\tb\nS", 12), 11);
	assert_int_equal(field_cut_scan(&fc, "From: a\n\tb\nSubject: x\n", 22), 11);
	field_cut_consume(&fc, 11);
	assert_int_equal(fc.last, 0);
	assert_int_equal(field_cut_scan(&fc, "Subject: x\nTo: y\n", 17), 11);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_mail_unqualified),
	    cmocka_unit_test(test_field_mode),
	    cmocka_unit_test(test_header_field),
	    cmocka_unit_test(test_rewrite_fields),
	    cmocka_unit_test(test_field_cut_every_split),
	    cmocka_unit_test(test_field_cut_holds_open_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
