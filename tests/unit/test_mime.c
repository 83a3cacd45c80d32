/*
 * test_mime.c - unit tests for the MIME walker (lib/mail_mime.c)
 *
 * Tables of messages: for each, the leaf parts the walker must report
 * (type, first name, decoded body) and its status.  Also the decoders
 * (base64 leniency, quoted-printable soft breaks, RFC 2047 and 2231
 * names) and the bounds on depth and part count.  Must never depend on
 * anything outside lib/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mail_mime.h"

#define MAXP 8

struct seen {
	size_t n;
	char type[MAXP][MIME_TYPE_MAX];
	char name[MAXP][MIME_NAME_MAX];
	char names[MAXP][512]; /* all names, "|"-joined */
	char body[MAXP][256];
	char outer[MAXP][64];
};

static int
collect(void *ctx, const struct mime_part *p)
{
	struct seen *s = ctx;
	size_t i, n = p->len < 255 ? p->len : 255;

	if (s->n >= MAXP)
		return 0;
	snprintf(s->type[s->n], sizeof(s->type[0]), "%s", p->type);
	snprintf(s->name[s->n], sizeof(s->name[0]), "%s", p->n_names ? p->names[0] : "");
	s->names[s->n][0] = '\0';
	for (i = 0; i < p->n_names; i++) {
		strncat(s->names[s->n], p->names[i], 200);
		strncat(s->names[s->n], "|", 2);
	}
	memcpy(s->body[s->n], p->data, n);
	s->body[s->n][n] = '\0';
	snprintf(s->outer[s->n], sizeof(s->outer[0]), "%s", p->outer ? p->outer : "");
	s->n++;
	return 0;
}

struct mcase {
	const char *msg;
	size_t nparts;
	const char *type[3];
	const char *name[3];
	const char *body[3];
};

static const struct mcase cases[] = {
    {"Subject: plain\n\nhello\n", 1, {"text/plain"}, {""}, {"hello\n"}},
    {"Subject: crlf\r\nContent-Type: Application/PDF; name=a.pdf\r\n\r\n%PDF",
     1,
     {"application/pdf"},
     {"a.pdf"},
     {"%PDF"}},
    /* base64 with junk characters a client skips, and an inner "=" */
    {"Content-Type: application/octet-stream\nContent-Transfer-Encoding: BASE64\n\n"
     "TV!q*Q\nAA==TVo=\n",
     1,
     {"application/octet-stream"},
     {""},
     {"MZ\x90\x00MZ"}},
    {"Content-Transfer-Encoding: quoted-printable\n\n#=21/bin/sh=\n echo=20hi=3D\n",
     1,
     {"text/plain"},
     {""},
     {"#!/bin/sh echo hi=\n"}},
    /* multipart with preamble, epilogue, CRLF, a part without close */
    {"Content-Type: multipart/mixed; boundary=\"b1\"\n\npreamble\n--b1\n\nfirst\n"
     "--b1\nContent-Disposition: attachment; filename=\"x.exe\"\n\nsecond\n--b1--\nepilogue\n",
     2,
     {"text/plain", "text/plain"},
     {"", "x.exe"},
     {"first", "second"}},
    /* nested multipart, inner closing missing */
    {"Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/alternative;"
     " boundary=i\n\n--i\n\nalt1\n--i\n\nalt2\n--o\nContent-Type: image/png; name=p.png\n\nPNG\n"
     "--o--\n",
     3,
     {"text/plain", "text/plain", "image/png"},
     {"", "", "p.png"},
     {"alt1", "alt2", "PNG"}},
    /* RFC 2231 continuations, out of order, percent-encoded */
    {"Content-Type: application/octet-stream;\n name*1*=%2E%65xe; name*0*=utf-8''r%C3%A9port\n\n"
     "x",
     1,
     {"application/octet-stream"},
     {"r\xc3\xa9port.exe"},
     {"x"}},
    /* RFC 2047 in a quoted name, two words joined */
    {"Content-Disposition: attachment; filename=\"=?UTF-8?B?aW52b2ljZS5wZGY=?= "
     "=?utf-8?q?=2Eexe?=\"\n\nx",
     1,
     {"text/plain"},
     {"invoice.pdf.exe"},
     {"x"}},
    /* a forwarded message: leaf itself, then its parts */
    {"Content-Type: multipart/mixed; boundary=z\n\n--z\nContent-Type: message/rfc822; "
     "name=fw.eml\n\nSubject: inner\nContent-Type: application/x; name=in.bin\n\nINNER\n--z--\n",
     2,
     {"message/rfc822", "application/x"},
     {"fw.eml", "in.bin"},
     {"Subject", "INNER"}},
    /* multipart without any delimiter: the body is a leaf */
    {"Content-Type: multipart/mixed; boundary=never\n\nMZ body\n",
     1,
     {"multipart/mixed"},
     {""},
     {"MZ body\n"}},
    /* a part whose first line is not a header: body starts there */
    {"Content-Type: multipart/mixed; boundary=q\n\n--q\nTVqQAAM\n--q--\n",
     1,
     {"text/plain"},
     {""},
     {"TVqQAAM"}},
};

static void
test_table(void **unused)
{
	size_t i, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct mcase *c = &cases[i];
		struct seen s;

		memset(&s, 0, sizeof(s));
		assert_int_equal(mime_walk(c->msg, strlen(c->msg), collect, &s), MIME_OK);
		if (s.n != c->nparts)
			fail_msg("case %zu: %zu parts, want %zu", i, s.n, c->nparts);
		for (k = 0; k < c->nparts; k++) {
			if (strcmp(s.type[k], c->type[k]) != 0 ||
			    strcmp(s.name[k], c->name[k]) != 0 ||
			    strncmp(s.body[k], c->body[k], strlen(c->body[k])) != 0)
				fail_msg("case %zu part %zu: type %s name %s body %s", i, k,
				         s.type[k], s.name[k], s.body[k]);
		}
	}
}

static void
test_all_names(void **unused)
{
	static const char msg[] = "Content-Type: application/pdf; name=\"a.pdf\"\n"
	                          "Content-Disposition: attachment; filename=b.exe ; "
	                          "filename*=''c.js\n\nx";
	struct seen s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(mime_walk(msg, sizeof(msg) - 1, collect, &s), MIME_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.names[0], "a.pdf|b.exe|c.js|");
}

static void
test_outer(void **unused)
{
	static const char msg[] =
	    "Content-Type: message/rfc822; name=fw.eml\n\n"
	    "Content-Type: multipart/mixed; boundary=k\n\n--k\nContent-Type: a/b; name=x.bin\n\n1\n"
	    "--k--\n";
	struct seen s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(mime_walk(msg, sizeof(msg) - 1, collect, &s), MIME_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.outer[1], "fw.eml");
}

static int
stop_at_first(void *ctx, const struct mime_part *p)
{
	(void)ctx;
	(void)p;
	return 1;
}

static void
test_bounds(void **unused)
{
	struct buf m = BUF_INIT(0);
	struct seen s;
	int i;

	/* 25 nested multiparts */
	for (i = 0; i < 25; i++)
		assert_int_equal(
		    buf_printf(&m, "Content-Type: multipart/mixed; boundary=b%02d\n\n--b%02d\n", i,
		               i),
		    0);
	assert_int_equal(buf_appends(&m, "\nleaf\n"), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(mime_walk(m.s, m.len, collect, &s), MIME_TOO_DEEP);
	/* 2000 parts */
	buf_reset(&m);
	assert_int_equal(buf_appends(&m, "Content-Type: multipart/mixed; boundary=p\n\n"), 0);
	for (i = 0; i < 2000; i++)
		assert_int_equal(buf_appends(&m, "--p\n\nx\n"), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(mime_walk(m.s, m.len, collect, &s), MIME_TOO_MANY);
	assert_int_equal(mime_walk(m.s, m.len, stop_at_first, NULL), MIME_STOPPED);
	buf_free(&m);
}

static void
test_decoders(void **unused)
{
	struct buf out = BUF_INIT(0);

	assert_int_equal(mime_base64_decode("aGVs\nbG8=", 9, &out), 0);
	assert_string_equal(buf_cstr(&out), "hello");
	buf_reset(&out);
	assert_int_equal(mime_qp_decode("a=\r\nb=4", 7, &out), 0);
	assert_string_equal(buf_cstr(&out), "ab=4");
	buf_reset(&out);
	assert_int_equal(mime_qp_decode("x=  \ny=zz", 9, &out), 0);
	assert_string_equal(buf_cstr(&out), "xy=zz");
	buf_reset(&out);
	assert_int_equal(mime_decode_words("a =?x?Q?b_c?= d", 15, &out), 0);
	assert_string_equal(buf_cstr(&out), "a b c d");
	buf_reset(&out);
	assert_int_equal(mime_decode_words("=?x?Z?bad?=", 11, &out), 0);
	assert_string_equal(buf_cstr(&out), "=?x?Z?bad?=");
	buf_reset(&out);
	assert_int_equal(mime_percent_decode("iso-8859-1'de'a%2eexe", 21, 1, &out), 0);
	assert_string_equal(buf_cstr(&out), "a.exe");
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),    cmocka_unit_test(test_all_names),
	    cmocka_unit_test(test_outer),    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_decoders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
