/*
 * fuzz_blocklist.c - the blocklist parser (smtpd/smtpd_block.c) on any
 * text, with addresses inside and outside every kind of entry
 *
 * Checks beyond "no crash": a blocking hit names a line that exists,
 * and every line is counted once (entries + expired + bad <= lines).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd_block.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ips[] = {"130.83.5.7", "10.0.0.1", "2001:db8::1", "::"};
	const char *text = (const char *)data;
	struct block_hit h;
	struct net_addr a;
	size_t i, lines = 1;
	time_t t;

	for (i = 0; i < size; i++)
		lines += data[i] == '\n';
	for (i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
		if (net_addr_parse(ips[i], &a) < 0)
			abort();
		block_check_text(text, size, "fuzz", false, &a, 1796083200, &h);
		if (h.blocked && (h.line < 1 || (size_t)h.line > lines))
			abort();
		if ((size_t)h.entries + h.expired + h.bad > lines)
			abort();
		if (memchr(h.entry, '\0', sizeof(h.entry)) == NULL)
			abort();
	}
	if (size < 64) {
		char s[64];

		memcpy(s, data, size);
		s[size] = '\0';
		(void)block_parse_time(s, &t);
	}
	return 0;
}
