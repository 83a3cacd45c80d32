/*
 * fuzz_state.c - libFuzzer target for the delivery state parser
 * (lib/mail_state.c): whatever it reads must format and parse again
 * without a malformed line.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mail_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mail_state st, again;
	struct buf out = BUF_INIT(0);
	size_t pending = 0;

	state_init(&st);
	state_init(&again);
	if (state_parse((const char *)data, size, &st) >= 0 && state_format(&st, &out) == 0) {
		if (state_parse(out.s, out.len, &again) != 0)
			__builtin_trap();
		for (size_t i = 0; i < st.n_rcpts; i++)
			pending += st.rcpts[i].status == RCPT_PENDING;
		/* an address holding "> sent 5 " may shorten, never add */
		if (again.n_rcpts > st.n_rcpts - pending)
			__builtin_trap();
	}
	buf_free(&out);
	state_free(&st);
	state_free(&again);
	return 0;
}
