/*
 * fuzz_reply.c - libFuzzer target for the gateway reply parser and the
 * EHLO extension reader (lib/smtp_client.c)
 *
 * Feeds the input as a stream of replies, as a session would read it.
 */
#include <stddef.h>
#include <stdint.h>

#include "smtp_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct smtp_reply r;
	struct smtp_ext e;
	char line[600];
	ssize_t used;

	while (size > 0 && (used = smtp_reply_parse(p, size, &r)) > 0) {
		if ((size_t)used > size || r.code < 200 || r.code > 599)
			__builtin_trap();
		smtp_ehlo_parse(&r, &e);
		smtp_reply_oneline(&r, line, sizeof(line));
		p += used;
		size -= (size_t)used;
	}
	return 0;
}
