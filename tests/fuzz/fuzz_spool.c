/*
 * fuzz_spool.c - libFuzzer target for the spool file envelope reader
 * (lib/mail_spool_read.c)
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mail_spool_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spool_envelope env;
	char why[128];

	if (spool_parse_envelope((const char *)data, size, &env, why, sizeof(why)) == RES_OK) {
		if (env.body_offset > size || env.n_rcpts == 0)
			__builtin_trap();
		for (size_t i = 0; i < env.n_rcpts; i++)
			if (strpbrk(env.rcpts[i], "\r\n"))
				__builtin_trap();
		(void)spool_message_headers((const char *)data + env.body_offset,
		                            size - env.body_offset);
	}
	spool_envelope_free(&env);
	return 0;
}
