/*
 * test_auth.c - the SASL pieces of AUTH (smtpd/smtpd_auth.c)
 *
 * Table-driven: strict base64 (padding, lengths, alphabet, the "="
 * empty marker, the largest line RFC 4954 allows), PLAIN tokens with
 * every wrong number of NULs and every over-long field, LOGIN fields.
 * The decoded length must be exact (CVE-2018-6789: Exim computed it
 * wrong) and the output always NUL-terminated.  Must never do I/O.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtpd_auth.h"

static const struct {
	const char *in;
	int marker; /* "=" means empty */
	int ok;
	const char *out;
	size_t outlen;
} b64_cases[] = {
    {"", 0, 1, "", 0},
    {"=", 1, 1, "", 0},
    {"=", 0, 0, NULL, 0},
    {"YQ==", 0, 1, "a", 1},
    {"YWI=", 0, 1, "ab", 2},
    {"YWJj", 0, 1, "abc", 3},
    {"AGFsaWNlAHNlY3JldA==", 0, 1, "\0alice\0secret", 13},
    {"YWJ", 0, 0, NULL, 0}, /* not a multiple of 4 */
    {"YQ=", 0, 0, NULL, 0}, /* short padding */
    {"Y===", 0, 0, NULL, 0}, /* three '=' */
    {"YQ==YQ==", 0, 0, NULL, 0}, /* padding in the middle */
    {"YW=j", 0, 0, NULL, 0}, /* data after '=' */
    {"YW J", 0, 0, NULL, 0}, /* blank */
    {" YWJj", 0, 0, NULL, 0}, /* leading blank (EVP would skip it) */
    {"YWJj\r", 0, 0, NULL, 0}, /* CR */
    {"YW-j", 0, 0, NULL, 0}, /* base64url is not base64 */
    {"YW\x80j", 0, 0, NULL, 0}, /* 8-bit */
    {"====", 0, 0, NULL, 0},
};

static void
test_decode_table(void **state)
{
	char out[64];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
		int rc = sasl_decode(b64_cases[i].in, strlen(b64_cases[i].in), b64_cases[i].marker,
		                     out, sizeof(out), &n);

		if (!b64_cases[i].ok) {
			if (rc != -1)
				fail_msg("case %zu (%s) decoded", i, b64_cases[i].in);
			continue;
		}
		if (rc != 0)
			fail_msg("case %zu (%s) refused", i, b64_cases[i].in);
		assert_int_equal(n, b64_cases[i].outlen);
		assert_memory_equal(out, b64_cases[i].out, n);
		assert_int_equal(out[n], '\0');
	}
}

/* test_decode_bounds - the output buffer is never overrun, and the
 * largest response RFC 4954 allows decodes into AUTH_DECODED_MAX */
static void
test_decode_bounds(void **state)
{
	static char in[AUTH_LINE_MAX + 8], out[AUTH_DECODED_MAX + 1];
	char small[4];
	size_t n, len = AUTH_LINE_MAX - 2 - 12; /* "AUTH PLAIN " + CRLF */

	(void)state;
	len -= len % 4;
	memset(in, 'Q', len);
	assert_int_equal(sasl_decode(in, len, 0, out, sizeof(out), &n), 0);
	assert_int_equal(n, len / 4 * 3);
	/* one more block than RFC 4954 allows */
	memset(in, 'Q', AUTH_LINE_MAX + 4);
	assert_int_equal(sasl_decode(in, AUTH_LINE_MAX + 4, 0, out, sizeof(out), &n), -1);
	/* "YWJj" needs 3 octets and a NUL: 4 is enough, 3 is not */
	assert_int_equal(sasl_decode("YWJj", 4, 0, small, 4, &n), 0);
	assert_string_equal(small, "abc");
	assert_int_equal(sasl_decode("YWJj", 4, 0, small, 3, &n), -1);
	assert_int_equal(sasl_decode("YQ==", 4, 0, small, 0, &n), -1);
}

static void
plain(const char *tok, size_t n, enum result want, const char *z, const char *u, const char *p)
{
	struct sasl_creds c;
	struct reply r;

	if (sasl_plain(tok, n, &c, &r) != want)
		fail_msg("PLAIN token of %zu octets: unexpected result", n);
	if (want != RES_OK) {
		assert_int_equal(r.code, 501);
		assert_string_equal(r.esc, ESC_SYNTAX);
		return;
	}
	assert_string_equal(c.authzid, z);
	if (u)
		assert_string_equal(c.user, u);
	if (p)
		assert_string_equal(c.pass, p);
}

static void
test_plain(void **state)
{
	static char big[AUTH_PASS_MAX + AUTH_USER_MAX + 8];

	(void)state;
	plain("\0alice\0secret", 13, RES_OK, "", "alice", "secret");
	plain("alice\0alice\0secret", 18, RES_OK, "alice", "alice", "secret");
	plain("\0alice\0", 7, RES_OK, "", "alice", "");
	plain("alice\0secret", 12, RES_PERM, NULL, NULL, NULL); /* one NUL */
	plain("\0alice\0se\0cret", 14, RES_PERM, NULL, NULL, NULL); /* three */
	plain("\0\0secret", 8, RES_PERM, NULL, NULL, NULL); /* no user */
	plain("", 0, RES_PERM, NULL, NULL, NULL);
	plain("abc", 3, RES_PERM, NULL, NULL, NULL);
	/* every field at and past its limit */
	memset(big, 'u', sizeof(big));
	big[0] = '\0';
	big[1 + AUTH_USER_MAX] = '\0';
	plain(big, 2 + AUTH_USER_MAX + AUTH_PASS_MAX, RES_OK, "", NULL, NULL);
	plain(big, 3 + AUTH_USER_MAX + AUTH_PASS_MAX, RES_PERM, NULL, NULL, NULL);
	big[1 + AUTH_USER_MAX] = 'u';
	big[2 + AUTH_USER_MAX] = '\0';
	plain(big, 10 + AUTH_USER_MAX, RES_PERM, NULL, NULL, NULL);
}

static void
test_field(void **state)
{
	char out[8];
	struct reply r;

	(void)state;
	assert_int_equal(sasl_field("alice", 5, out, sizeof(out), &r), RES_OK);
	assert_string_equal(out, "alice");
	assert_int_equal(sasl_field("", 0, out, sizeof(out), &r), RES_OK);
	assert_string_equal(out, "");
	assert_int_equal(sasl_field("a\0b", 3, out, sizeof(out), &r), RES_PERM);
	assert_int_equal(r.code, 501);
	assert_int_equal(sasl_field("12345678", 8, out, sizeof(out), &r), RES_PERM);
	assert_int_equal(sasl_field("1234567", 7, out, sizeof(out), &r), RES_OK);
}

static void
test_wipe(void **state)
{
	struct sasl_creds c;
	struct reply r;
	size_t i;

	(void)state;
	assert_int_equal(sasl_plain("\0bob\0hunter2", 12, &c, &r), RES_OK);
	sasl_wipe(&c);
	for (i = 0; i < sizeof(c.pass); i++)
		assert_int_equal(c.pass[i], 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decode_table), cmocka_unit_test(test_decode_bounds),
	    cmocka_unit_test(test_plain),        cmocka_unit_test(test_field),
	    cmocka_unit_test(test_wipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
