/*
 * fuzz_auth.c - libFuzzer target for the AUTH decoder and the PLAIN and
 * LOGIN parsers (smtpd/smtpd_auth.c): whatever a client sends as a
 * response, the decoder must stay inside its buffer, report the exact
 * decoded length (CVE-2018-6789) with a NUL after it, agree with a
 * re-encoding of its output (but for the last quantum, whose spare
 * bits a client may set), and the PLAIN split must only yield
 * fields that fit and hold no NUL.
 */
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_plain - the fields of a split token */
static void
check_plain(const char *dec, size_t n)
{
	struct sasl_creds c;
	struct reply r;

	if (sasl_plain(dec, n, &c, &r) != RES_OK) {
		if (r.code != 501)
			__builtin_trap();
		return;
	}
	if (strlen(c.authzid) + strlen(c.user) + strlen(c.pass) + 2 != n || c.user[0] == '\0')
		__builtin_trap();
	if (sasl_field(dec, n, c.pass, sizeof(c.pass), &r) == RES_OK && memchr(dec, '\0', n))
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[AUTH_DECODED_MAX + 1];
	static unsigned char again[AUTH_LINE_MAX + 8];
	size_t n, outsize = size % 64 == 0 ? sizeof(out) : size % 64;

	if (size > AUTH_LINE_MAX + 4)
		return 0;
	memset(out, 0x5a, sizeof(out));
	if (sasl_decode((const char *)data, size, (int)(size & 1), out, outsize, &n) == 0) {
		if (n >= outsize || out[n] != '\0' || n > size / 4 * 3)
			__builtin_trap();
		if (size > 1 &&
		    (EVP_EncodeBlock(again, (const unsigned char *)out, (int)n) != (int)size ||
		     memcmp(again, data, size - 4) != 0))
			__builtin_trap();
		check_plain(out, n);
	}
	if (outsize < sizeof(out) && out[outsize] != 0x5a)
		__builtin_trap();
	check_plain((const char *)data, size);
	return 0;
}
