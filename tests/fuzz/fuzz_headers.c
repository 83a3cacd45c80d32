/*
 * fuzz_headers.c - libFuzzer target for the header scanner
 *
 * Input: two bytes choose a split point, the rest is canonical content.
 * Invariants: no crash or undefined behaviour; whole, split and
 * byte-at-a-time feeding agree on every result; the section ends at a
 * line start (on the blank line itself when there is one); the
 * returned offset lies in the chunk and points where end_offset says;
 * header_scan_safe() never moves back nor past the end of the section;
 * From: stays within HEADER_FROM_MAX.
 * Must never write files or talk to the network.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mail_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* feed - one chunk, checking what the return value promises */
static void
feed(struct header_scan *h, const char *in, size_t n)
{
	bool was_ended = h->ended;
	uint64_t start = h->pos;
	size_t ret = header_scan_feed(h, in, n);

	if (was_ended || !h->ended) {
		if (ret != (was_ended ? 0 : n))
			abort();
		return;
	}
	if (ret > n || (h->end_offset >= start && ret != h->end_offset - start) ||
	    (h->end_offset < start && ret != 0))
		abort();
}

static void
same_scan(const struct header_scan *x, const struct header_scan *y)
{
	if (x->ended != y->ended || x->in_headers != y->in_headers || x->received != y->received ||
	    x->has_date != y->has_date || x->has_message_id != y->has_message_id ||
	    x->has_from != y->has_from || x->from_count != y->from_count ||
	    x->from_truncated != y->from_truncated || x->missing_blank != y->missing_blank ||
	    x->end_offset != y->end_offset || x->from.len != y->from.len ||
	    memcmp(buf_cstr(&x->from), buf_cstr(&y->from), x->from.len))
		abort();
}

/* check_end - the section ends at a line start */
static void
check_end(const struct header_scan *h, const char *in, size_t n)
{
	size_t e = (size_t)h->end_offset;

	if (h->from.len > HEADER_FROM_MAX || h->has_from != (h->from_count > 0))
		abort();
	if (!h->ended)
		return;
	if (h->end_offset > n || h->in_headers)
		abort();
	if (e > 0 && in[e - 1] != '\n')
		abort();
	if (!h->missing_blank && (e >= n || in[e] != '\n'))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct header_scan whole, split, bytes;
	const char *in = (const char *)data + 2;
	size_t n, a;
	uint64_t safe, last_safe = 0;

	if (size < 2)
		return 0;
	n = size - 2;
	a = n ? ((size_t)data[0] << 8 | data[1]) % (n + 1) : 0;

	header_scan_init(&whole);
	feed(&whole, in, n);
	header_scan_init(&split);
	feed(&split, in, a);
	feed(&split, in + a, n - a);
	header_scan_init(&bytes);
	for (size_t i = 0; i < n; i++) {
		feed(&bytes, in + i, 1);
		safe = header_scan_safe(&bytes);
		if (safe < last_safe || safe > i + 1)
			abort();
		last_safe = safe;
	}
	/* what was called safe to write was never past the end */
	if (bytes.ended && last_safe != bytes.end_offset)
		abort();

	same_scan(&whole, &split);
	same_scan(&whole, &bytes);
	check_end(&whole, in, n);
	header_scan_free(&whole);
	header_scan_free(&split);
	header_scan_free(&bytes);
	return 0;
}
