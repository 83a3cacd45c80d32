/*
 * fuzz_mime.c - libFuzzer target for the MIME walker (lib/mail_mime.c)
 *
 * Input: a message.  Invariants: no crash or undefined behaviour; the
 * walk ends with a known status; every part's data lies in memory the
 * walker owns or in the input (touched in full here, so ASan sees any
 * stray pointer), names are NUL-terminated within MIME_NAME_MAX, and
 * there are never more parts than MIME_PARTS_MAX.
 * Must never write files or talk to the network.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail_mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
visit(void *ctx, const struct mime_part *p)
{
	unsigned *count = ctx;
	volatile unsigned char sink = 0;
	size_t i;

	if (++*count > MIME_PARTS_MAX || p->n_names > MIME_NAMES_MAX || p->type == NULL ||
	    p->depth > MIME_DEPTH_MAX)
		abort();
	for (i = 0; i < p->len; i++)
		sink ^= p->data[i];
	for (i = 0; i < p->n_names; i++)
		if (strlen(p->names[i]) >= MIME_NAME_MAX)
			abort();
	(void)sink;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned count = 0;
	char *copy = malloc(size ? size : 1);
	enum mime_status st;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size); /* exact bounds: no terminator to lean on */
	st = mime_walk(copy, size, visit, &count);
	if (st != MIME_OK && st != MIME_TOO_DEEP && st != MIME_TOO_MANY && st != MIME_NOMEM)
		abort();
	free(copy);
	return 0;
}
