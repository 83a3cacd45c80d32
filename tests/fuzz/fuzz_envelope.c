/*
 * fuzz_envelope.c - libFuzzer target for mailout-queue's untrusted input:
 * the qmail-queue envelope parser and the CRLF canonicalisation of the
 * message store
 *
 * Invariants: no crash or undefined behaviour on any input; an accepted
 * envelope has 1..ENVELOPE_RCPT_MAX recipients, every address within
 * ENVELOPE_ADDR_MAX octets and fit for a spool line; its envelope block
 * has no blank line before its end, and reading the addresses back from
 * the block (between the first '<' and the last '>') rebuilds exactly
 * the input.  The message store turns every CRLF into LF and changes
 * nothing else, however the input is split into reads.
 * Must never write files or talk to the network.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mail_spool.h"
#include "queue_job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ID "0006445941624000.A7B2C3D4E5F6"

/* rebuild - the qmail envelope again, from the block's address lines */
static void
rebuild(const struct buf *block, struct buf *out)
{
	const char *p = block->s, *end = block->s + block->len, *nl, *lt, *gt;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL && nl != p) {
		char type = strncmp(p, "Envelope-From: ", 15) == 0 ? 'F'
		            : strncmp(p, "Envelope-To: ", 13) == 0 ? 'T'
		                                                   : 0;
		if (type) {
			lt = memchr(p, '<', (size_t)(nl - p));
			gt = nl - 1;
			if (lt == NULL || *gt != '>' || gt < lt)
				abort();
			if (buf_appendc(out, type) < 0 ||
			    buf_append(out, lt + 1, (size_t)(gt - lt - 1)) < 0 ||
			    buf_appendc(out, '\0') < 0)
				abort();
		}
		p = nl + 1;
	}
	/* the blank line is the block's last line */
	if (p + 1 != end || *p != '\n' || buf_appendc(out, '\0') < 0)
		abort();
}

static void
check_envelope(const uint8_t *data, size_t size)
{
	struct envelope env;
	struct buf block = BUF_INIT(0), again = BUF_INIT(0);
	size_t i;

	envelope_init(&env);
	if (envelope_parse(&env, (const char *)data, size) == QQ_OK) {
		if (env.n_rcpts < 1 || env.n_rcpts > ENVELOPE_RCPT_MAX)
			abort();
		for (i = 0; i < env.n_rcpts; i++)
			if (envelope_addr_ok(env.rcpts[i], strlen(env.rcpts[i])) != QQ_OK)
				abort();
		if (spool_format_envelope(&block, ID, 1764000000, &env) < 0)
			abort();
		rebuild(&block, &again);
		if (again.len != size || memcmp(again.s, data, size) != 0)
			abort();
	}
	envelope_free(&env);
	buf_free(&block);
	buf_free(&again);
}

static void
check_crlf(const uint8_t *data, size_t size)
{
	struct queue_msg m;
	size_t split = size ? data[0] % (size + 1) : 0, i, k = 0;
	char *want = malloc(size + 1);

	if (want == NULL || size > QUEUE_MEM_MAX)
		goto out;
	for (i = 0; i < size; i++)
		if (!(data[i] == '\r' && i + 1 < size && data[i + 1] == '\n'))
			want[k++] = (char)data[i];
	queue_msg_init(&m, 0);
	if (queue_msg_add(&m, -1, (const char *)data, split) != QQ_OK ||
	    queue_msg_add(&m, -1, (const char *)data + split, size - split) != QQ_OK ||
	    queue_msg_finish(&m, -1) != QQ_OK)
		abort();
	if (m.mem.len != k || m.size != k || (k && memcmp(m.mem.s, want, k) != 0))
		abort();
	queue_msg_free(&m);
out:
	free(want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_envelope(data, size);
	check_crlf(data, size);
	return 0;
}
