/*
 * test_mail_addr.c - table-driven tests for RFC 5321 path parsing,
 * the relay-trick flags, the length limits and domain_matches
 *
 * Must never depend on anything outside lib/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "mail_addr.h"

/* Flags in the tables, one letter each. */
#define F_NULL 0x01U
#define F_ROUTE 0x02U
#define F_QUOTED 0x04U
#define F_RELAY 0x08U
#define F_LITERAL 0x10U
#define F_UTF8 0x20U

struct good_case {
	const char *in;
	const char *local;
	const char *domain;
	unsigned flags;
};

static const struct good_case good_paths[] = {
    {"<>", "", "", F_NULL},
    {"<a@example.org>", "a", "example.org", 0},
    {"<First.Last@Example.ORG>", "First.Last", "example.org", 0},
    {"<a+tag@sub.example.org>", "a+tag", "sub.example.org", 0},
    {"<x!#$&'*+-/=?^_`{|}~@example.org>", "x!#$&'*+-/=?^_`{|}~", "example.org", F_RELAY},
    {"<a%b@example.org>", "a%b", "example.org", F_RELAY},
    {"<host!user@example.org>", "host!user", "example.org", F_RELAY},
    {"<\"a@b\"@example.org>", "\"a@b\"", "example.org", F_QUOTED | F_RELAY},
    {"<\"a b\"@example.org>", "\"a b\"", "example.org", F_QUOTED},
    {"<\"a\\\"b\"@example.org>", "\"a\\\"b\"", "example.org", F_QUOTED},
    {"<\"a\\@b\"@example.org>", "\"a\\@b\"", "example.org", F_QUOTED | F_RELAY},
    {"<\"a%b\"@example.org>", "\"a%b\"", "example.org", F_QUOTED | F_RELAY},
    {"<\"\"@example.org>", "\"\"", "example.org", F_QUOTED},
    {"<@a.example,@b.example:u@example.org>", "u", "example.org", F_ROUTE},
    {"<@relay.example:u@example.org>", "u", "example.org", F_ROUTE},
    {"<@m\xc3\xbcller.example:u@example.org>", "u", "example.org", F_ROUTE},
    {"<a@[130.83.1.1]>", "a", "[130.83.1.1]", F_LITERAL},
    {"<a@[010.083.001.001]>", "a", "[010.083.001.001]", F_LITERAL},
    {"<a@[IPv6:2001:DB8::1]>", "a", "[ipv6:2001:db8::1]", F_LITERAL},
    {"<a@[ipv6:::ffff:130.83.1.1]>", "a", "[ipv6:::ffff:130.83.1.1]", F_LITERAL},
    {"<postmaster>", "postmaster", "", 0},
    {"<PostMaster>", "PostMaster", "", 0},
    {"<a@localhost>", "a", "localhost", 0},
    {"<a@x-y.example.org>", "a", "x-y.example.org", 0},
    {"<a@xn--mller-kva.example>", "a", "xn--mller-kva.example", 0},
    {"<j\xc3\xbcrgen@m\xc3\xbcller.example>", "j\xc3\xbcrgen", "m\xc3\xbcller.example", F_UTF8},
    {"<\"\xe2\x82\xac\"@example.org>", "\"\xe2\x82\xac\"", "example.org", F_QUOTED | F_UTF8},
    {"<a@\xf0\x9f\x93\xa7.example>", "a", "\xf0\x9f\x93\xa7.example", F_UTF8},
    {"<A@B.C>", "A", "b.c", 0},
};

static const char *const bad_paths[] = {
    "",
    "a@example.org",
    "<a@example.org",
    "< a@example.org>",
    "<a @example.org>",
    "<a@ example.org>",
    "<a@example.org >",
    "<a b@example.org>",
    "<a@exa mple.org>",
    "<a\r@example.org>",
    "<a@example.org\r\n>",
    "<a\n@example.org>",
    "<a\t@example.org>",
    "<\"a\rb\"@example.org>",
    "<\"a\\\n\"@example.org>",
    "<\"ab@example.org>",
    "<a@>",
    "<@example.org>",
    "<a>",
    "<root>",
    "<\"postmaster\">",
    "<.a@example.org>",
    "<a.@example.org>",
    "<a..b@example.org>",
    "<a@example..org>",
    "<a@.example.org>",
    "<a@example.org.>",
    "<a@-example.org>",
    "<a@example-.org>",
    "<a@exa_mple.org>",
    "<a@b@example.org>",
    "<a(b)@example.org>",
    "<a,b@example.org>",
    "<a;b@example.org>",
    "<a@[130.83.1]>",
    "<a@[130.83.1.256]>",
    "<a@[1.2.3.4.5]>",
    "<a@[1234.1.1.1]>",
    "<a@[IPv6:1.2.3.4]>",
    "<a@[IPv6:2001:db8:::1]>",
    "<a@[x-tag:foo]>",
    "<a@[130.83.1.1>",
    "<a@[]>",
    "<@a,b:u@example.org>",
    "<@a:@b:u@example.org>",
    "<@a,@b u@example.org>",
    "<@[1.2.3.4]:u@example.org>",
    "<@:u@example.org>",
    "<<a@example.org>>",
    "<\xc3@example.org>",
    "<\xc0\xaf@example.org>",
    "<\xed\xa0\x80@example.org>",
    "<\xf5\x80\x80\x80@example.org>",
    "<a@ex\xc3\x61mple.org>",
    "<\xc2\x85@example.org>",
    "<a\x7f@example.org>",
};

/* check_good - parse a valid path and compare every field */
static void
check_good(const struct good_case *t)
{
	struct mail_addr a;
	struct reply r = {0};
	size_t end = 0;

	if (addr_parse_path(t->in, strlen(t->in), &a, &end, &r) != RES_OK)
		fail_msg("refused %s: %s", t->in, r.text);
	assert_int_equal(end, strlen(t->in));
	assert_string_equal(a.local, t->local);
	assert_string_equal(a.domain, t->domain);
	assert_int_equal(a.null, !!(t->flags & F_NULL));
	assert_int_equal(a.had_source_route, !!(t->flags & F_ROUTE));
	assert_int_equal(a.quoted_local, !!(t->flags & F_QUOTED));
	assert_int_equal(a.local_has_relay_chars, !!(t->flags & F_RELAY));
	assert_int_equal(a.domain_is_literal, !!(t->flags & F_LITERAL));
	assert_int_equal(a.utf8, !!(t->flags & F_UTF8));
}

static void
test_good_paths(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good_paths) / sizeof(good_paths[0]); i++)
		check_good(&good_paths[i]);
}

static void
test_bad_paths(void **state)
{
	struct mail_addr a;
	struct reply r;
	size_t i, end;

	(void)state;
	for (i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		memset(&r, 0, sizeof(r));
		end = 12345;
		if (addr_parse_path(bad_paths[i], strlen(bad_paths[i]), &a, &end, &r) != RES_PERM)
			fail_msg("accepted bad path #%zu %s", i, bad_paths[i]);
		assert_int_equal(r.code, 501);
		assert_string_equal(r.esc, ESC_BAD_DEST_SYNTAX);
		assert_non_null(strstr(r.text, "Bad address syntax"));
		assert_int_equal(end, 12345);
	}
}

static void
test_nul_refused(void **state)
{
	static const char in[] = "<a\0b@example.org>";
	static const char lit[] = "<a@[IPv6:::\0\0::1]>";
	struct mail_addr a;
	struct reply r;

	(void)state;
	assert_int_equal(addr_parse_path(in, sizeof(in) - 1, &a, NULL, &r), RES_PERM);
	assert_int_equal(addr_parse_path("<a@example.org>", 8, &a, NULL, &r), RES_PERM);
	assert_int_equal(addr_parse_path(lit, sizeof(lit) - 1, &a, NULL, &r), RES_PERM);
}

/* parameters after the path are the caller's: end points past '>' */
static void
test_end_and_params(void **state)
{
	const char *in = "<a@example.org> SIZE=100 BODY=8BITMIME";
	const char *q = "<\"x>y\"@example.org> SMTPUTF8";
	struct mail_addr a;
	struct reply r;
	size_t end;

	(void)state;
	assert_int_equal(addr_parse_path(in, strlen(in), &a, &end, &r), RES_OK);
	assert_int_equal(end, 15);
	assert_int_equal(addr_parse_path(q, strlen(q), &a, &end, &r), RES_OK);
	assert_int_equal(end, 19);
	assert_string_equal(a.local, "\"x>y\"");
}

/* fill - n copies of c */
static void
fill(char *out, char c, size_t n)
{
	memset(out, c, n);
	out[n] = '\0';
}

static void
test_local_limit(void **state)
{
	char local[80], path[200];
	struct mail_addr a;
	struct reply r;

	(void)state;
	fill(local, 'l', 64);
	assert_int_equal(bounded_format(path, sizeof(path), "<%s@example.org>", local), 0);
	assert_int_equal(addr_parse_path(path, strlen(path), &a, NULL, &r), RES_OK);
	assert_int_equal(strlen(a.local), 64);
	fill(local, 'l', 65);
	assert_int_equal(bounded_format(path, sizeof(path), "<%s@example.org>", local), 0);
	assert_int_equal(addr_parse_path(path, strlen(path), &a, NULL, &r), RES_PERM);
	assert_non_null(strstr(r.text, "64"));
	/* quotes count: the local part is kept as sent */
	fill(local, 'q', 62);
	assert_int_equal(bounded_format(path, sizeof(path), "<\"%s\"@example.org>", local), 0);
	assert_int_equal(addr_parse_path(path, strlen(path), &a, NULL, &r), RES_OK);
	fill(local, 'q', 63);
	assert_int_equal(bounded_format(path, sizeof(path), "<\"%s\"@example.org>", local), 0);
	assert_int_equal(addr_parse_path(path, strlen(path), &a, NULL, &r), RES_PERM);
}

static void
test_label_limit(void **state)
{
	char label[80], path[200];
	struct mail_addr a;
	struct reply r;

	(void)state;
	fill(label, 'd', 63);
	assert_int_equal(bounded_format(path, sizeof(path), "<a@%s.example>", label), 0);
	assert_int_equal(addr_parse_path(path, strlen(path), &a, NULL, &r), RES_OK);
	fill(label, 'd', 64);
	assert_int_equal(bounded_format(path, sizeof(path), "<a@%s.example>", label), 0);
	assert_int_equal(addr_parse_path(path, strlen(path), &a, NULL, &r), RES_PERM);
	assert_non_null(strstr(r.text, "63"));
}

/* path_with_domain - "<" local "@" domain-of-n-octets ">" */
static void
path_with_domain(char *out, size_t outsize, const char *local, size_t n)
{
	char domain[300];
	size_t i;

	assert_true(n < sizeof(domain));
	for (i = 0; i < n; i++)
		domain[i] = (i % 10 == 9) ? '.' : 'd';
	domain[n] = '\0';
	assert_int_equal(bounded_format(out, outsize, "<%s@%s>", local, domain), 0);
}

static void
test_path_and_domain_limits(void **state)
{
	char path[400], box[400];
	struct mail_addr a;
	struct reply r;

	(void)state;
	/* 1 + 1 + 1 + 252 + 1 = 256 octets: the longest path */
	path_with_domain(path, sizeof(path), "a", 252);
	assert_int_equal(strlen(path), 256);
	assert_int_equal(addr_parse_path(path, strlen(path), &a, NULL, &r), RES_OK);
	assert_int_equal(strlen(a.domain), 252);
	path_with_domain(path, sizeof(path), "ab", 252);
	assert_int_equal(addr_parse_path(path, strlen(path), &a, NULL, &r), RES_PERM);
	assert_non_null(strstr(r.text, "256"));
	/* a domain of 256 octets is refused as such */
	path_with_domain(path, sizeof(path), "a", 256);
	assert_int_equal(addr_parse_path(path, strlen(path), &a, NULL, &r), RES_PERM);
	assert_non_null(strstr(r.text, "255"));
	/* a mailbox: 254 octets at most (the path without brackets) */
	path_with_domain(path, sizeof(path), "a", 252);
	assert_int_equal(bounded_copy(box, sizeof(box), path + 1), 0);
	box[strlen(box) - 1] = '\0';
	assert_int_equal(addr_parse_mailbox(box, strlen(box), &a, &r), RES_OK);
	path_with_domain(path, sizeof(path), "ab", 252);
	assert_int_equal(bounded_copy(box, sizeof(box), path + 1), 0);
	box[strlen(box) - 1] = '\0';
	assert_int_equal(addr_parse_mailbox(box, strlen(box), &a, &r), RES_PERM);
}

static void
test_mailbox(void **state)
{
	struct mail_addr a;
	struct reply r;

	(void)state;
	assert_int_equal(addr_parse_mailbox("u@Example.Org", 13, &a, &r), RES_OK);
	assert_string_equal(a.domain, "example.org");
	assert_int_equal(addr_parse_mailbox("postmaster", 10, &a, &r), RES_OK);
	assert_string_equal(a.domain, "");
	assert_int_equal(addr_parse_mailbox("root", 4, &a, &r), RES_PERM);
	assert_int_equal(addr_parse_mailbox_opt("root", 4, ADDR_OPT_UNQUALIFIED, &a, &r), RES_OK);
	assert_string_equal(a.local, "root");
	assert_string_equal(a.domain, "");
	assert_int_equal(addr_parse_mailbox_opt("root@", 5, ADDR_OPT_UNQUALIFIED, &a, &r),
	                 RES_PERM);
	assert_int_equal(addr_parse_mailbox("", 0, &a, &r), RES_PERM);
	assert_int_equal(addr_parse_mailbox("<u@example.org>", 15, &a, &r), RES_PERM);
	assert_int_equal(addr_parse_mailbox("u@example.org>", 14, &a, &r), RES_PERM);
	assert_int_equal(addr_parse_mailbox("u@example.org ", 14, &a, &r), RES_PERM);
	assert_int_equal(addr_parse_mailbox("a%b@example.org", 15, &a, &r), RES_OK);
	assert_true(a.local_has_relay_chars);
	assert_int_equal(addr_parse_mailbox("@a:u@example.org", 16, &a, &r), RES_PERM);
}

static void
test_format_roundtrip(void **state)
{
	char out[ADDR_PATH_MAX];
	struct mail_addr a, b;
	struct reply r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good_paths) / sizeof(good_paths[0]); i++) {
		const char *in = good_paths[i].in;

		assert_int_equal(addr_parse_path(in, strlen(in), &a, NULL, &r), RES_OK);
		assert_int_equal(addr_format(&a, out, sizeof(out)), 0);
		if (a.null) {
			assert_string_equal(out, "");
			continue;
		}
		assert_int_equal(addr_parse_mailbox(out, strlen(out), &b, &r), RES_OK);
		assert_string_equal(a.local, b.local);
		assert_string_equal(a.domain, b.domain);
		assert_int_equal(a.local_has_relay_chars, b.local_has_relay_chars);
		assert_int_equal(a.domain_is_literal, b.domain_is_literal);
	}
	assert_int_equal(addr_parse_path("<a@example.org>", 15, &a, NULL, &r), RES_OK);
	assert_int_equal(addr_format(&a, out, 5), -1);
	assert_string_equal(out, "a@ex");
	/* the edge: 13 octets need 14 */
	assert_int_equal(addr_format(&a, out, 13), -1);
	assert_string_equal(out, "a@example.or");
	assert_int_equal(addr_format(&a, out, 14), 0);
	assert_string_equal(out, "a@example.org");
}

struct match_case {
	const char *domain, *pattern;
	bool match;
};

static const struct match_case matches[] = {
    {"example.org", "example.org", true},
    {"a.example.org", "example.org", true},
    {"a.b.example.org", "example.org", true},
    {"EXAMPLE.Org", "example.ORG", true},
    {"example.org.", "example.org", true},
    {"example.org", "example.org.", true},
    {"a.example.org.", "example.org.", true},
    {"evil-example.org", "example.org", false},
    {"evilexample.org", "example.org", false},
    {"example.org.evil.net", "example.org", false},
    {"example.org", "a.example.org", false},
    {"org", "example.org", false},
    {"example.com", "example.org", false},
    {".example.org", "example.org", false},
    {"a.example.org", ".example.org", true},
    {"example.org", ".example.org", false},
    {"", "example.org", false},
    {"example.org", "", false},
    {"", "", false},
    {".", ".", false},
    {"[130.83.1.1]", "130.83.1.1", false},
    {"m\xc3\xbcller.example", "example", true},
};

static void
test_domain_matches(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(matches) / sizeof(matches[0]); i++)
		if (domain_matches(matches[i].domain, matches[i].pattern) != matches[i].match)
			fail_msg("domain_matches(\"%s\", \"%s\") != %d", matches[i].domain,
			         matches[i].pattern, matches[i].match);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_paths),
	    cmocka_unit_test(test_bad_paths),
	    cmocka_unit_test(test_nul_refused),
	    cmocka_unit_test(test_end_and_params),
	    cmocka_unit_test(test_local_limit),
	    cmocka_unit_test(test_label_limit),
	    cmocka_unit_test(test_path_and_domain_limits),
	    cmocka_unit_test(test_mailbox),
	    cmocka_unit_test(test_format_roundtrip),
	    cmocka_unit_test(test_domain_matches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
