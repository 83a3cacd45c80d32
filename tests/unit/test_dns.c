/*
 * test_dns.c - the one DNS answer parser, on answers captured from
 * dnsmasq (wire format), and on answers broken on purpose: truncated,
 * lengths past the end, compression loops, records of other owners;
 * the reverse names; host name checks; the nameserver syntax
 *
 * Never touches the network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "dns.h"

/* Captured with dnsmasq answering for example.org and test.example:
 * host-record client.test.example 127.0.0.2 (A and PTR), v6.test.example
 * 2001:db8::25, cname alias.test.example -> client.test.example, MX of
 * example.org mx 10 and mx2 20, nullmx.test.example "0 ." */
static const unsigned char ptr_ok[] = {
    0x12, 0x34, 0x85, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x32, 0x01,
    0x30, 0x01, 0x30, 0x03, 0x31, 0x32, 0x37, 0x07, 0x69, 0x6e, 0x2d, 0x61, 0x64, 0x64, 0x72,
    0x04, 0x61, 0x72, 0x70, 0x61, 0x00, 0x00, 0x0c, 0x00, 0x01, 0xc0, 0x0c, 0x00, 0x0c, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x15, 0x06, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x04,
    0x74, 0x65, 0x73, 0x74, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x00,
};
static const unsigned char a_ok[] = {
    0x12, 0x34, 0x85, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x06, 0x63,
    0x6c, 0x69, 0x65, 0x6e, 0x74, 0x04, 0x74, 0x65, 0x73, 0x74, 0x07, 0x65, 0x78, 0x61,
    0x6d, 0x70, 0x6c, 0x65, 0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c, 0x00, 0x01, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x7f, 0x00, 0x00, 0x02,
};
static const unsigned char aaaa_ok[] = {
    0x12, 0x34, 0x85, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x02, 0x76, 0x36, 0x04,
    0x74, 0x65, 0x73, 0x74, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x00, 0x00, 0x1c, 0x00,
    0x01, 0xc0, 0x0c, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x20, 0x01, 0x0d,
    0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x25,
};
static const unsigned char mx_two[] = {
    0x12, 0x34, 0x85, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x07, 0x65, 0x78,
    0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x0f, 0x00, 0x01, 0xc0,
    0x0c, 0x00, 0x0f, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x13, 0x00, 0x14, 0x03, 0x6d,
    0x78, 0x32, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x6f, 0x72, 0x67, 0x00,
    0xc0, 0x0c, 0x00, 0x0f, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x00, 0x0a, 0x02,
    0x6d, 0x78, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x6f, 0x72, 0x67, 0x00,
};
static const unsigned char mx_null[] = {
    0x12, 0x34, 0x85, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x06,
    0x6e, 0x75, 0x6c, 0x6c, 0x6d, 0x78, 0x04, 0x74, 0x65, 0x73, 0x74, 0x07, 0x65,
    0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x00, 0x00, 0x0f, 0x00, 0x01, 0xc0, 0x0c,
    0x00, 0x0f, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
};
static const unsigned char mx_nxdomain[] = {
    0x12, 0x34, 0x81, 0x83, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x04, 0x6e, 0x6f, 0x70, 0x65, 0x04, 0x74, 0x65, 0x73, 0x74, 0x07, 0x65,
    0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x00, 0x00, 0x0f, 0x00, 0x01,
};
static const unsigned char mx_nodata[] = {
    0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06,
    0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x04, 0x74, 0x65, 0x73, 0x74, 0x07, 0x65,
    0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x00, 0x00, 0x0f, 0x00, 0x01,
};
static const unsigned char a_cname[] = {
    0x12, 0x34, 0x85, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x05, 0x61, 0x6c,
    0x69, 0x61, 0x73, 0x04, 0x74, 0x65, 0x73, 0x74, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c,
    0x65, 0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x15, 0x06, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x04, 0x74, 0x65, 0x73, 0x74,
    0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x00, 0xc0, 0x30, 0x00, 0x01, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x7f, 0x00, 0x00, 0x02,
};
static const unsigned char refused[] = {
    0x12, 0x34, 0x81, 0x85, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x09, 0x65, 0x6c, 0x73, 0x65, 0x77, 0x68, 0x65, 0x72, 0x65, 0x07, 0x69,
    0x6e, 0x76, 0x61, 0x6c, 0x69, 0x64, 0x00, 0x00, 0x01, 0x00, 0x01,
};

struct parse_case {
	const char *what;
	const unsigned char *msg;
	size_t len;
	enum dns_type type;
	enum result res;
	enum dns_status status;
	size_t n;
	const char *first; /* name or address of the first record */
};

#define ANS(x) x, sizeof(x)

static const struct parse_case cases[] = {
    {"PTR", ANS(ptr_ok), DNS_PTR, RES_OK, DNS_FOUND, 1, "client.test.example"},
    {"A", ANS(a_ok), DNS_A, RES_OK, DNS_FOUND, 1, "127.0.0.2"},
    {"AAAA", ANS(aaaa_ok), DNS_AAAA, RES_OK, DNS_FOUND, 1, "2001:db8::25"},
    {"two MX", ANS(mx_two), DNS_MX, RES_OK, DNS_FOUND, 2, NULL},
    {"null MX", ANS(mx_null), DNS_MX, RES_OK, DNS_FOUND, 1, ""},
    {"NXDOMAIN", ANS(mx_nxdomain), DNS_MX, RES_PERM, DNS_NXDOMAIN, 0, NULL},
    {"no MX", ANS(mx_nodata), DNS_MX, RES_PERM, DNS_NODATA, 0, NULL},
    {"A via CNAME", ANS(a_cname), DNS_A, RES_OK, DNS_FOUND, 1, "127.0.0.2"},
    {"REFUSED", ANS(refused), DNS_A, RES_TEMP, DNS_REFUSED, 0, NULL},
    /* asking for another type than the answer holds: no data */
    {"PTR answer read as A", ANS(ptr_ok), DNS_A, RES_PERM, DNS_NODATA, 0, NULL},
};

static void
test_captured(void **state)
{
	struct dns_answer a;
	char text[NET_ADDR_STRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct parse_case *c = &cases[i];
		enum result res = dns_parse(c->msg, c->len, c->type, &a);

		if (res != c->res || a.status != c->status || a.n != c->n)
			fail_msg("%s: res %d status %s n %zu", c->what, res,
			         dns_status_text(a.status), a.n);
		if (!c->first)
			continue;
		if (c->type == DNS_A || c->type == DNS_AAAA) {
			net_addr_format(&a.rr[0].addr, text, sizeof(text));
			assert_string_equal(text, c->first);
		} else {
			assert_string_equal(a.rr[0].name, c->first);
		}
	}
}

static void
test_details(void **state)
{
	struct dns_answer a;

	(void)state;
	assert_int_equal(dns_parse(ANS(mx_two), DNS_MX, &a), RES_OK);
	assert_string_equal(a.qname, "example.org");
	assert_true((a.rr[0].pref == 10 && strcmp(a.rr[0].name, "mx.example.org") == 0) ||
	            (a.rr[1].pref == 10 && strcmp(a.rr[1].name, "mx.example.org") == 0));
	assert_int_equal(dns_parse(ANS(a_cname), DNS_A, &a), RES_OK);
	assert_string_equal(a.qname, "alias.test.example");
	assert_string_equal(a.cname, "client.test.example");
	assert_int_equal(dns_parse(ANS(mx_null), DNS_MX, &a), RES_OK);
	assert_int_equal(a.rr[0].pref, 0);
}

/* every prefix of every answer: never a crash, never RES_OK from a cut
 * answer that lost its records */
static void
test_truncated(void **state)
{
	struct dns_answer a;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (len = 0; len < cases[i].len; len++) {
			enum result res = dns_parse(cases[i].msg, len, cases[i].type, &a);

			assert_true(a.n <= DNS_RECORDS_MAX);
			if (res == RES_OK)
				assert_true(a.n > 0);
		}
}

/* answers changed on purpose */
static void
test_broken(void **state)
{
	unsigned char m[sizeof(a_ok)];
	struct dns_answer a;

	(void)state;
	/* a query, not a response */
	memcpy(m, a_ok, sizeof(m));
	m[2] &= 0x7f;
	assert_int_equal(dns_parse(m, sizeof(m), DNS_A, &a), RES_TEMP);
	assert_int_equal(a.status, DNS_MALFORMED);
	/* two questions */
	memcpy(m, a_ok, sizeof(m));
	m[5] = 2;
	assert_int_equal(dns_parse(m, sizeof(m), DNS_A, &a), RES_TEMP);
	/* an answer count past the records there are */
	memcpy(m, a_ok, sizeof(m));
	m[7] = 9;
	assert_int_equal(dns_parse(m, sizeof(m), DNS_A, &a), RES_TEMP);
	assert_int_equal(a.n, 0);
	/* an RDLENGTH past the end */
	memcpy(m, a_ok, sizeof(m));
	m[sizeof(m) - 5] = 0x40;
	assert_int_equal(dns_parse(m, sizeof(m), DNS_A, &a), RES_TEMP);
	/* SERVFAIL */
	memcpy(m, a_ok, sizeof(m));
	m[3] = (unsigned char)((m[3] & 0xf0) | 2);
	assert_int_equal(dns_parse(m, sizeof(m), DNS_A, &a), RES_TEMP);
	assert_int_equal(a.status, DNS_SERVFAIL);
	/* NXDOMAIN */
	m[3] = (unsigned char)((m[3] & 0xf0) | 3);
	assert_int_equal(dns_parse(m, sizeof(m), DNS_A, &a), RES_PERM);
	/* a record whose owner is another name is not ours */
	memcpy(m, a_ok, sizeof(m));
	m[sizeof(m) - 16] = 0xc0; /* the answer's owner: a pointer ... */
	m[sizeof(m) - 15] = 12 + 7; /* ... into the middle of the question */
	assert_int_equal(dns_parse(m, sizeof(m), DNS_A, &a), RES_PERM);
	assert_int_equal(a.status, DNS_NODATA);
	/* a compression pointer to itself */
	memcpy(m, a_ok, sizeof(m));
	m[sizeof(m) - 16] = 0xc0;
	m[sizeof(m) - 15] = (unsigned char)(sizeof(m) - 16);
	assert_int_equal(dns_parse(m, sizeof(m), DNS_A, &a), RES_TEMP);
	/* too short for a header */
	assert_int_equal(dns_parse(a_ok, 11, DNS_A, &a), RES_TEMP);
	assert_int_equal(dns_parse(a_ok, 0, DNS_A, &a), RES_TEMP);
}

static void
test_reverse_names(void **state)
{
	struct net_addr a;
	char out[DNS_NAME_MAX];

	(void)state;
	assert_int_equal(net_addr_parse("130.83.5.7", &a), 0);
	assert_int_equal(dns_reverse_name(&a, out, sizeof(out)), 0);
	assert_string_equal(out, "7.5.83.130.in-addr.arpa");
	assert_int_equal(net_addr_parse("2001:db8::567:89ab", &a), 0);
	assert_int_equal(dns_reverse_name(&a, out, sizeof(out)), 0);
	assert_string_equal(out, "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
	                         "ip6.arpa");
	assert_int_equal(dns_reverse_name(&a, out, 20), -1);
}

static void
test_hostnames(void **state)
{
	static const char *const good[] = {"client.test.example", "a", "x-1.example.org",
	                                   "_dmarc.example.org", "1a.example"};
	static const char *const bad[] = {
	    "",           ".",       "a..b",        "-a.example",      "a-.example",
	    "a.example.", "1.2.3.4", "a b.example", "a\\032b.example", "\xc3\xa9.example"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!dns_hostname_ok(good[i]))
			fail_msg("%s should be a host name", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (dns_hostname_ok(bad[i]))
			fail_msg("%s should not be a host name", bad[i]);
}

static void
test_nameserver_syntax(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;

	(void)state;
	assert_int_equal(dns_nameserver_parse("127.0.0.1:5353", &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(v4->sin_port), 5353);
	assert_int_equal(dns_nameserver_parse("127.0.0.1", &ss), 0);
	assert_int_equal(ntohs(v4->sin_port), 53);
	assert_int_equal(dns_nameserver_parse("[::1]:53", &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(v6->sin6_port), 53);
	assert_int_equal(dns_nameserver_parse("::1", &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(dns_nameserver_parse("[::1]", &ss), 0);
	assert_int_equal(dns_nameserver_parse("127.0.0.1:0", &ss), -1);
	assert_int_equal(dns_nameserver_parse("127.0.0.1:65536", &ss), -1);
	assert_int_equal(dns_nameserver_parse("127.0.0.1:", &ss), -1);
	assert_int_equal(dns_nameserver_parse("dns.example.org", &ss), -1);
	assert_int_equal(dns_nameserver_parse("[::1]x", &ss), -1);
	assert_int_equal(dns_nameserver_parse("[127.0.0.1:53", &ss), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_captured),          cmocka_unit_test(test_details),
	    cmocka_unit_test(test_truncated),         cmocka_unit_test(test_broken),
	    cmocka_unit_test(test_reverse_names),     cmocka_unit_test(test_hostnames),
	    cmocka_unit_test(test_nameserver_syntax),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
