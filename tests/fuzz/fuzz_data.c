/*
 * fuzz_data.c - libFuzzer target for the DATA/BDAT reader and dot_stuff
 *
 * Input: two bytes choose a split point, one byte a size limit, the
 * rest is what a client sends after DATA.  Invariants: no crash or
 * undefined behaviour; consumed <= n; the output holds no CR and never
 * more than the limit; whole, split and byte-at-a-time feeding agree;
 * DATA ends exactly at the first <CR><LF>.<CR><LF> (counting the CRLF
 * of the DATA command) and nowhere else; the output equals a simple
 * line-by-line reference, and so does BDAT's (without the dots);
 * dot_stuff() output never holds a bare CR or LF nor "\r\n.\r\n",
 * reads back to the same content, and is the same streamed in pieces.
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

struct run {
	size_t consumed;
	struct data_reader r;
	struct buf out;
};

/* run_data - feed in at most three pieces: [0,a) [a,b) [b,n) */
static void
run_data(const char *in, size_t n, size_t a, size_t b, uint64_t max, struct run *x)
{
	size_t cut[3] = {a, b, n}, off = 0, used;

	data_reader_init(&x->r, max);
	buf_init(&x->out, 0);
	for (int i = 0; i < 3 && !x->r.done; i++) {
		used = data_feed(&x->r, in + off, cut[i] - off, &x->out);
		if (used == (size_t)-1 || used > cut[i] - off)
			abort();
		if (!x->r.done && used != cut[i] - off)
			abort();
		off += used;
	}
	x->consumed = off;
}

/* run_bytes - feed one byte at a time */
static void
run_bytes(const char *in, size_t n, uint64_t max, struct run *x)
{
	size_t off = 0;

	data_reader_init(&x->r, max);
	buf_init(&x->out, 0);
	while (off < n && !x->r.done) {
		if (data_feed(&x->r, in + off, 1, &x->out) != 1)
			abort();
		off++;
	}
	x->consumed = off;
}

static void
same_run(const struct run *x, const struct run *y)
{
	if (x->consumed != y->consumed || x->r.done != y->r.done || x->r.size != y->r.size ||
	    x->r.too_big != y->r.too_big || x->r.line_too_long != y->r.line_too_long ||
	    x->out.len != y->out.len || memcmp(buf_cstr(&x->out), buf_cstr(&y->out), x->out.len))
		abort();
}

/* first_end - where "\r\n.\r\n" first ends in "\r\n" + in, or 0 */
static size_t
first_end(const char *in, size_t n)
{
	if (n >= 3 && memcmp(in, ".\r\n", 3) == 0)
		return 3;
	for (size_t i = 0; i + 5 <= n; i++)
		if (memcmp(in + i, "\r\n.\r\n", 5) == 0)
			return i + 5;
	return 0;
}

/* reference - line by line: CRLF, CR or LF ends a line; with dots, a
 * dot leading a line that began after CRLF is dropped.  A last line
 * without an end is kept as it is (DATA's t ends in CRLF or is ""). */
static void
reference(const char *t, size_t n, bool dots, struct buf *out)
{
	size_t i = 0, j;
	bool real = true;

	while (i < n) {
		if (dots && real && t[i] == '.')
			i++;
		for (j = i; j < n && t[j] != '\r' && t[j] != '\n'; j++)
			;
		if (buf_append(out, t + i, j - i) < 0)
			abort();
		if (j == n)
			break;
		if (buf_appendc(out, '\n') < 0)
			abort();
		real = t[j] == '\r' && j + 1 < n && t[j + 1] == '\n';
		i = j + (real ? 2 : 1);
	}
}

/* check_wire - only CRLF line ends, no end-of-data inside */
static void
check_wire(const struct buf *w)
{
	for (size_t i = 0; i < w->len; i++) {
		if (w->s[i] == '\r' && (i + 1 >= w->len || w->s[i + 1] != '\n'))
			abort();
		if (w->s[i] == '\n' && (i == 0 || w->s[i - 1] != '\r'))
			abort();
	}
	if (memmem(buf_cstr(w), w->len, "\r\n.\r\n", 5) != NULL ||
	    (w->len >= 3 && memcmp(w->s, ".\r\n", 3) == 0))
		abort();
}

/* check_stuff - dot_stuff the content and read it back */
static void
check_stuff(const struct buf *content)
{
	struct buf wire = BUF_INIT(0), back = BUF_INIT(0);
	bool done;

	if (dot_stuff(buf_cstr(content), content->len, true, &wire) < 0)
		abort();
	check_wire(&wire);
	if (buf_append(&wire, ".\r\n", 3) < 0)
		abort();
	if (dot_unstuff(wire.s, wire.len, &back, &done) != wire.len || !done)
		abort();
	if (back.len != content->len || memcmp(buf_cstr(&back), buf_cstr(content), back.len))
		abort();
	buf_free(&wire);
	buf_free(&back);
}

/* check_bdat - BDAT whole and split agree with the reference (no dot
 * handling), no CR comes out */
static void
check_bdat(const char *in, size_t n, size_t a)
{
	struct data_reader r1, r2;
	struct buf o1 = BUF_INIT(0), o2 = BUF_INIT(0), ref = BUF_INIT(0);

	data_reader_init(&r1, 0);
	data_reader_init(&r2, 0);
	if (bdat_feed(&r1, in, n, true, &o1) < 0 || bdat_feed(&r2, in, a, false, &o2) < 0 ||
	    bdat_feed(&r2, in + a, n - a, true, &o2) < 0)
		abort();
	reference(in, n, false, &ref);
	if (o1.len != o2.len || memcmp(buf_cstr(&o1), buf_cstr(&o2), o1.len) ||
	    memchr(buf_cstr(&o1), '\r', o1.len) || r1.size != o1.len || ref.len != o1.len ||
	    memcmp(buf_cstr(&ref), buf_cstr(&o1), o1.len))
		abort();
	buf_free(&o1);
	buf_free(&o2);
	buf_free(&ref);
}

/* check_raw_stuff - raw client bytes, CRs and all, are safe to send
 * as well, and streaming them in two pieces changes nothing */
static void
check_raw_stuff(const char *in, size_t n, size_t a)
{
	struct buf wire = BUF_INIT(0), streamed = BUF_INIT(0);
	struct dot_stuffer s;

	if (dot_stuff(in, n, true, &wire) < 0)
		abort();
	check_wire(&wire);
	dot_stuffer_init(&s);
	if (dot_stuffer_feed(&s, in, a, &streamed) < 0 ||
	    dot_stuffer_feed(&s, in + a, n - a, &streamed) < 0 ||
	    dot_stuffer_finish(&s, &streamed) < 0)
		abort();
	if (wire.len != streamed.len || memcmp(buf_cstr(&wire), buf_cstr(&streamed), wire.len))
		abort();
	buf_free(&wire);
	buf_free(&streamed);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, split, bytes, lim;
	struct buf ref = BUF_INIT(0);
	const char *in = (const char *)data + 3;
	size_t n, a, end;
	uint64_t max;

	if (size < 3)
		return 0;
	n = size - 3;
	a = n ? ((size_t)data[0] << 8 | data[1]) % (n + 1) : 0;
	max = data[2];
	end = first_end(in, n);

	run_data(in, n, n, n, 0, &whole);
	run_data(in, n, a / 2, a, 0, &split);
	run_bytes(in, n, 0, &bytes);
	same_run(&whole, &split);
	same_run(&whole, &bytes);
	if (whole.r.done != (end != 0) || whole.consumed != (end ? end : n))
		abort();
	if (memchr(buf_cstr(&whole.out), '\r', whole.out.len) || whole.r.size != whole.out.len)
		abort();
	if (whole.r.done) {
		reference(in, end - 3, true, &ref);
		if (ref.len != whole.out.len ||
		    memcmp(buf_cstr(&ref), buf_cstr(&whole.out), ref.len))
			abort();
		check_stuff(&whole.out);
	}

	/* the limit bounds the output, never the reading */
	run_data(in, n, a, a, max, &lim);
	if (lim.consumed != whole.consumed || lim.r.size != whole.r.size ||
	    lim.out.len != (max && whole.r.size > max ? max : whole.r.size) ||
	    lim.r.too_big != (max && whole.r.size > max) ||
	    memcmp(buf_cstr(&lim.out), buf_cstr(&whole.out), lim.out.len))
		abort();

	check_bdat(in, n, a);
	check_raw_stuff(in, n, a);
	buf_free(&whole.out);
	buf_free(&split.out);
	buf_free(&bytes.out);
	buf_free(&lim.out);
	buf_free(&ref);
	return 0;
}
