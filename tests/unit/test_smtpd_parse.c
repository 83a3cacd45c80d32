/*
 * test_smtpd_parse.c - unit tests for the receiver's command parsing
 *
 * Table-driven: command-line splitting with the 512-octet cap (and the
 * 1000-octet text cap, same function), verbs and arguments, MAIL/RCPT
 * paths and ESMTP parameters, BDAT arguments, sanitising client text,
 * the queue exit-code table, and the Received: header.
 * Must never do I/O or start a program.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "smtpd.h"

/* take_all - run smtp_line_take over in as if it arrived in pieces of
 * chunk octets; one letter per event into events: O a line (also
 * appended to lines, '|'-terminated), L a line too long */
static void
take_all(const char *in, size_t n, size_t chunk, size_t max, struct buf *events, struct buf *lines)
{
	struct line_state st = {false};
	char pending[4096];
	size_t plen = 0, off = 0, len, used, add;
	enum line_status ls;

	buf_reset(events);
	buf_reset(lines);
	while (off < n || plen > 0) {
		add = n - off < chunk ? n - off : chunk;
		memcpy(pending + plen, in + off, add);
		plen += add;
		off += add;
		ls = smtp_line_take(&st, pending, plen, max, &len, &used);
		if (ls == LINE_OK) {
			assert_int_equal(buf_appendc(events, 'O'), 0);
			assert_int_equal(buf_append(lines, pending, len), 0);
			assert_int_equal(buf_appendc(lines, '|'), 0);
		} else if (ls == LINE_TOO_LONG) {
			assert_int_equal(buf_appendc(events, 'L'), 0);
		}
		assert_true(used <= plen);
		memmove(pending, pending + used, plen - used);
		plen -= used;
		if (ls == LINE_MORE && used == 0 && add == 0)
			break; /* an unfinished line at the end */
	}
}

static void
test_line_take(void **state)
{
	static char long511[600], long510[600], long2000[2100];
	static const struct {
		const char *in;
		size_t chunk, max;
		const char *events, *lines;
	} cases[] = {
	    {"NOOP\r\n", 100, 512, "O", "NOOP|"},
	    {"NOOP\r\nQUIT\r\n", 3, 512, "OO", "NOOP|QUIT|"},
	    {"NOOP\n", 100, 512, "O", "NOOP|"}, /* bare LF ends a command */
	    {"NO\rOP\r\n", 100, 512, "O", "NO\rOP|"}, /* bare CR does not */
	    {"\r\n", 100, 512, "O", "|"},
	    {"NOOP", 100, 512, "", ""}, /* no end yet */
	    {long510, 64, 512, "OO", NULL}, /* 510 + CRLF = 512: fits */
	    {long511, 64, 512, "LO", NULL}, /* 511 + CRLF = 513: too long */
	    {long511, 1000, 512, "LO", NULL},
	    {long2000, 7, 512, "LO", NULL}, /* tail never read as a command */
	    {long2000, 100, 1000, "LO", NULL},
	    {"short\r\n", 1, 4, "L", ""}, /* "short" > max 4 */
	};
	struct buf events = BUF_INIT(0), lines = BUF_INIT(0);
	size_t i;

	(void)state;
	memset(long510, 'A', 510);
	memcpy(long510 + 510, "\r\nQUIT\r\n", 9);
	memset(long511, 'A', 511);
	memcpy(long511 + 511, "\r\nQUIT\r\n", 9);
	memset(long2000, 'A', 2000);
	memcpy(long2000 + 1990, " QUIT\r\nRSET\r\n", 14);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		take_all(cases[i].in, strlen(cases[i].in), cases[i].chunk, cases[i].max, &events,
		         &lines);
		assert_string_equal(buf_cstr(&events), cases[i].events);
		if (cases[i].lines)
			assert_string_equal(buf_cstr(&lines), cases[i].lines);
	}
	/* the line after an over-long one is the next real command */
	take_all(long2000, strlen(long2000), 100, 512, &events, &lines);
	assert_string_equal(buf_cstr(&lines), "RSET|");
	take_all(long510, strlen(long510), 64, 512, &events, &lines);
	assert_int_equal(lines.len, 510 + 1 + 5);
	buf_free(&events);
	buf_free(&lines);
}

static void
test_cmd_parse(void **state)
{
	static const struct {
		const char *line;
		enum smtp_verb verb;
		const char *arg;
	} cases[] = {
	    {"EHLO client.example.org", V_EHLO, "client.example.org"},
	    {"ehlo   x  ", V_EHLO, "x"},
	    {"MAIL FROM:<a@b>", V_MAIL, "FROM:<a@b>"},
	    {"rcpt TO:<a@b> ", V_RCPT, "TO:<a@b>"},
	    {"DATA", V_DATA, ""},
	    {"BDAT 10 LAST", V_BDAT, "10 LAST"},
	    {"StartTLS", V_STARTTLS, ""},
	    {"QUIT", V_QUIT, ""},
	    {"QUITX", V_UNKNOWN, ""},
	    {"MAILFROM:<a@b>", V_UNKNOWN, ""},
	    {"", V_UNKNOWN, ""},
	    {"VRFY root", V_VRFY, "root"},
	    {"AUTH PLAIN", V_AUTH, "PLAIN"},
	};
	struct smtp_cmd c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		smtp_cmd_parse(cases[i].line, strlen(cases[i].line), &c);
		assert_int_equal(c.verb, cases[i].verb);
		if (c.verb != V_UNKNOWN) {
			assert_int_equal(c.arg_len, strlen(cases[i].arg));
			assert_memory_equal(c.arg, cases[i].arg, c.arg_len);
		}
	}
}

static void
test_parse_mail(void **state)
{
	static const struct {
		const char *arg;
		int code; /* 0: accepted */
		const char *addr;
		uint64_t size;
		enum smtp_body body;
		bool utf8;
	} cases[] = {
	    {"FROM:<a@example.org>", 0, "a@example.org", 0, BODY_UNSET, false},
	    {"from:<a@example.org>", 0, "a@example.org", 0, BODY_UNSET, false},
	    {"FROM: <a@example.org>", 0, "a@example.org", 0, BODY_UNSET, false},
	    {"FROM:<>", 0, "", 0, BODY_UNSET, false},
	    {"FROM:<a@example.org> SIZE=12345", 0, "a@example.org", 12345, BODY_UNSET, false},
	    {"FROM:<a@example.org> BODY=8BITMIME", 0, "a@example.org", 0, BODY_8BITMIME, false},
	    {"FROM:<a@example.org> body=7bit", 0, "a@example.org", 0, BODY_7BIT, false},
	    {"FROM:<a@example.org> SMTPUTF8", 0, "a@example.org", 0, BODY_UNSET, true},
	    {"FROM:<a@example.org> AUTH=<>", 0, "a@example.org", 0, BODY_UNSET, false},
	    {"FROM:<a@example.org>  SIZE=1  BODY=8BITMIME SMTPUTF8", 0, "a@example.org", 1,
	     BODY_8BITMIME, true},
	    {"FROM:<\"a>b\"@example.org> SIZE=5", 0, "\"a>b\"@example.org", 5, BODY_UNSET, false},
	    {"FROM:<a@example.org> SIZE=", 501, NULL, 0, BODY_UNSET, false},
	    {"FROM:<a@example.org> SIZE=12x", 501, NULL, 0, BODY_UNSET, false},
	    {"FROM:<a@example.org> SIZE=99999999999999999999999", 501, NULL, 0, BODY_UNSET, false},
	    {"FROM:<a@example.org> BODY=BINARYMIME", 555, NULL, 0, BODY_UNSET, false},
	    {"FROM:<a@example.org> FOO=bar", 555, NULL, 0, BODY_UNSET, false},
	    {"FROM:<a@example.org> SMTPUTF8=yes", 555, NULL, 0, BODY_UNSET, false},
	    {"FROM:<a@example.org>SIZE=1", 501, NULL, 0, BODY_UNSET, false},
	    {"FROM:a@example.org", 501, NULL, 0, BODY_UNSET, false},
	    {"FROM:<a@example.org", 501, NULL, 0, BODY_UNSET, false},
	    {"TO:<a@example.org>", 501, NULL, 0, BODY_UNSET, false},
	    {"", 501, NULL, 0, BODY_UNSET, false},
	    {"FROM:<j\xc3\xb6rg@example.org>", 553, NULL, 0, BODY_UNSET, false},
	    {"FROM:<j\xc3\xb6rg@example.org> SMTPUTF8", 0, "j\xc3\xb6rg@example.org", 0, BODY_UNSET,
	     true},
	};
	struct mail_addr a;
	struct mail_params p;
	struct reply r;
	char out[ADDR_PATH_MAX + 1];
	enum result res;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&r, 0, sizeof(r));
		res = smtp_parse_mail(cases[i].arg, strlen(cases[i].arg), &a, &p, &r);
		if (cases[i].code == 0) {
			assert_int_equal(res, RES_OK);
			assert_int_equal(addr_format(&a, out, sizeof(out)), 0);
			assert_string_equal(out, cases[i].addr);
			assert_true(p.size == cases[i].size);
			assert_int_equal(p.size_set, cases[i].size != 0);
			assert_int_equal(p.body, cases[i].body);
			assert_int_equal(p.smtputf8, cases[i].utf8);
		} else {
			assert_int_equal(res, RES_PERM);
			assert_int_equal(r.code, cases[i].code);
		}
	}
}

static void
test_parse_rcpt(void **state)
{
	static const struct {
		const char *arg;
		int code;
	} cases[] = {
	    {"TO:<b@example.org>", 0},
	    {"to: <b@example.org>", 0},
	    {"TO:<b@example.org> NOTIFY=NEVER", 555},
	    {"TO:<b@example.org> ORCPT=rfc822;b@example.org", 555},
	    {"TO:b@example.org", 501},
	    {"FROM:<b@example.org>", 501},
	    {"TO:<>x", 501},
	};
	struct mail_addr a;
	struct reply r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&r, 0, sizeof(r));
		if (cases[i].code == 0) {
			assert_int_equal(
			    smtp_parse_rcpt(cases[i].arg, strlen(cases[i].arg), &a, &r), RES_OK);
		} else {
			assert_int_equal(
			    smtp_parse_rcpt(cases[i].arg, strlen(cases[i].arg), &a, &r), RES_PERM);
			assert_int_equal(r.code, cases[i].code);
		}
	}
}

static void
test_parse_bdat(void **state)
{
	static const struct {
		const char *arg;
		bool ok;
		uint64_t size;
		bool last;
	} cases[] = {
	    {"0", true, 0, false},
	    {"100", true, 100, false},
	    {"100 LAST", true, 100, true},
	    {"100   last", true, 100, true},
	    {"0 LAST", true, 0, true},
	    {"18446744073709551615", true, UINT64_MAX, false},
	    {"18446744073709551616", false, 0, false},
	    {"", false, 0, false},
	    {"LAST", false, 0, false},
	    {"-1", false, 0, false},
	    {"10 LASTX", false, 0, false},
	    {"10 LAST more", false, 0, false},
	    {"1e3", false, 0, false},
	};
	struct reply r;
	uint64_t size;
	bool last;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum result res =
		    smtp_parse_bdat(cases[i].arg, strlen(cases[i].arg), &size, &last, &r);

		assert_int_equal(res, cases[i].ok ? RES_OK : RES_PERM);
		if (cases[i].ok) {
			assert_true(size == cases[i].size);
			assert_int_equal(last, cases[i].last);
		} else {
			assert_int_equal(r.code, 501);
		}
	}
}

static void
test_sanitize(void **state)
{
	char out[16];

	(void)state;
	smtp_sanitize("host.example", 12, out, sizeof(out));
	assert_string_equal(out, "host.example");
	smtp_sanitize("a b\r\n(c)[d];\x01", 13, out, sizeof(out));
	assert_string_equal(out, "a?b???c?[d]??");
	smtp_sanitize("0123456789abcdefghij", 20, out, sizeof(out));
	assert_string_equal(out, "0123456789abcde");
	smtp_sanitize("x\0y", 3, out, sizeof(out));
	assert_string_equal(out, "x?y");
}

static void
test_queue_exit_reply(void **state)
{
	static const struct {
		int status;
		int code;
	} cases[] = {
	    {0, 250},  {11, 554}, {31, 554}, {51, 451}, {53, 452},  {54, 451},
	    {55, 451}, {71, 451}, {81, 451}, {91, 451}, {100, 451}, {1, 451},
	};
	struct reply r;
	char line[REPLY_TEXT_MAX + 32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		queue_exit_reply(W_EXITCODE(cases[i].status, 0), "ID", &r);
		assert_int_equal(r.code, cases[i].code);
	}
	queue_exit_reply(0, "000660FCE5D33B8E.XYS2C4BWHY4P", &r);
	assert_int_equal(reply_format(&r, line, sizeof(line)), 0);
	assert_string_equal(line, "250 2.0.0 Ok: queued as 000660FCE5D33B8E.XYS2C4BWHY4P");
	queue_exit_reply(W_EXITCODE(53, 0), "ID", &r);
	assert_int_equal(reply_format(&r, line, sizeof(line)), 0);
	assert_string_equal(line, "452 4.3.1 Insufficient system storage");
	queue_exit_reply(W_EXITCODE(0, 9), "ID", &r); /* killed */
	assert_int_equal(r.code, 451);
	queue_exit_reply(-1, "ID", &r);
	assert_int_equal(r.code, 451);
}

static void
test_received(void **state)
{
	static struct session s;
	struct buf out = BUF_INIT(0);
	const char *p;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(bounded_copy(s.hostname, sizeof(s.hostname), "relay.example.org"), 0);
	assert_int_equal(net_addr_parse("130.83.1.2", &s.pc.addr), 0);
	assert_int_equal(bounded_copy(s.pc.addr_str, sizeof(s.pc.addr_str), "130.83.1.2"), 0);
	assert_int_equal(bounded_copy(s.pc.name, sizeof(s.pc.name), "unknown"), 0);
	assert_int_equal(bounded_copy(s.pc.helo, sizeof(s.pc.helo), "printer"), 0);
	s.esmtp = true;
	buf_init(&s.tx.rcpts, 0);
	assert_int_equal(buf_append(&s.tx.rcpts, "bob@example.org", 16), 0);
	s.tx.nrcpt = 1;
	assert_int_equal(smtpd_received(&out, &s, "ID1"), 0);
	p = buf_cstr(&out);
	assert_true(strncmp(p,
	                    "Received: from printer (unknown [130.83.1.2])\n"
	                    "\tby relay.example.org (mailout) with ESMTP id ID1\n"
	                    "\tfor <bob@example.org>;\n\t",
	                    strlen("Received: from printer (unknown [130.83.1.2])\n"
	                           "\tby relay.example.org (mailout) with ESMTP id ID1\n"
	                           "\tfor <bob@example.org>;\n\t")) == 0);
	assert_true(p[out.len - 1] == '\n');
	/* two recipients: no "for"; HELO: protocol SMTP; IPv6 tagged */
	buf_reset(&out);
	s.tx.nrcpt = 2;
	s.esmtp = false;
	assert_int_equal(net_addr_parse("2001:db8::1", &s.pc.addr), 0);
	assert_int_equal(bounded_copy(s.pc.addr_str, sizeof(s.pc.addr_str), "2001:db8::1"), 0);
	assert_int_equal(smtpd_received(&out, &s, "ID2"), 0);
	assert_non_null(strstr(buf_cstr(&out), "(unknown [IPv6:2001:db8::1])"));
	assert_non_null(strstr(buf_cstr(&out), "with SMTP id ID2;\n"));
	assert_null(strstr(buf_cstr(&out), "for <"));
	/* TLS and AUTH: their lines, in this order, before "for" */
	buf_reset(&out);
	s.tx.nrcpt = 1;
	s.esmtp = true;
	s.io.ssl = (struct ssl_st *)&s; /* only looked at for NULL */
	assert_int_equal(bounded_copy(s.tls_version, sizeof(s.tls_version), "TLSv1.3"), 0);
	assert_int_equal(bounded_copy(s.tls_cipher, sizeof(s.tls_cipher), "TLS_AES_256_GCM_SHA384"),
	                 0);
	s.pc.auth_user = "alice";
	assert_int_equal(smtpd_received(&out, &s, "ID3"), 0);
	p = strstr(buf_cstr(&out), "\tby relay.example.org");
	assert_non_null(p);
	assert_true(strncmp(p,
	                    "\tby relay.example.org (mailout) with ESMTPSA id ID3\n"
	                    "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)\n"
	                    "\t(authenticated as alice)\n"
	                    "\tfor <bob@example.org>;\n\t",
	                    strlen("\tby relay.example.org (mailout) with ESMTPSA id ID3\n"
	                           "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)\n"
	                           "\t(authenticated as alice)\n"
	                           "\tfor <bob@example.org>;\n\t")) == 0);
	s.io.ssl = NULL;
	buf_free(&out);
	buf_free(&s.tx.rcpts);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_line_take),        cmocka_unit_test(test_cmd_parse),
	    cmocka_unit_test(test_parse_mail),       cmocka_unit_test(test_parse_rcpt),
	    cmocka_unit_test(test_parse_bdat),       cmocka_unit_test(test_sanitize),
	    cmocka_unit_test(test_queue_exit_reply), cmocka_unit_test(test_received),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
