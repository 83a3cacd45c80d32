/*
 * test_mail_data.c - unit tests for DATA/BDAT reading, dot-stuffing and
 * the header scanner (lib/mail_data.c)
 *
 * Every case is also fed one byte at a time and in pseudo-random splits
 * (fixed seed): the result must not depend on where chunks end.  Must
 * never depend on anything outside lib/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "mail_data.h"

#define L(s) s, sizeof(s) - 1

/* A deterministic xorshift: the same splits on every run. */
static uint32_t rng_state = 2463534242U;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

struct fed {
	size_t consumed;
	bool done, too_big, line_too_long;
	uint64_t size;
	struct buf out;
};

/* feed_data - feed in chunks of at most step bytes (0: random 1..17) */
static void
feed_data(const char *in, size_t n, size_t step, uint64_t max, struct fed *f)
{
	struct data_reader r;
	size_t off = 0, len, used;

	data_reader_init(&r, max);
	buf_init(&f->out, 0);
	while (off < n && !r.done) {
		len = step ? step : 1 + rng() % 17;
		if (len > n - off)
			len = n - off;
		used = data_feed(&r, in + off, len, &f->out);
		assert_true(used != (size_t)-1);
		assert_true(used <= len);
		if (!r.done)
			assert_int_equal(used, len);
		off += used;
	}
	if (r.done) /* done: nothing more is taken */
		assert_int_equal(data_feed(&r, "x", 1, &f->out), 0);
	f->consumed = off;
	f->done = r.done;
	f->too_big = r.too_big;
	f->line_too_long = r.line_too_long;
	f->size = r.size;
}

/* check_data - whole, byte-wise and random splits all give the result */
static void
check_data(const char *in, size_t n, uint64_t max, bool done, size_t consumed, const char *out,
           size_t outlen)
{
	static const size_t steps[] = {(size_t)-1, 1, 2, 3, 0, 0, 0, 0};
	struct fed f;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		feed_data(in, n, steps[i] == (size_t)-1 ? n + 1 : steps[i], max, &f);
		assert_int_equal(f.done, done);
		assert_int_equal(f.consumed, consumed);
		if (out != NULL) {
			assert_int_equal(f.out.len, outlen);
			assert_memory_equal(buf_cstr(&f.out), out, outlen);
		}
		assert_null(memchr(buf_cstr(&f.out), '\r', f.out.len));
		buf_free(&f.out);
	}
}

/*
 * SMTP smuggling (SEC Consult, December 2023): a fake end of data, then
 * a second transaction.  None of these may end DATA; the real
 * <CR><LF>.<CR><LF> after the smuggled transaction does, and "QUIT"
 * stays in the input for the command parser.
 */
#define SMUG_HEAD "Subject: t\r\n\r\nhello"
#define SMUG_TAIL "MAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nsmuggled\r\n"
#define SMUG_END "\r\n.\r\n"
#define SMUG_NEXT "QUIT\r\n"
#define SMUG_OUT_HEAD "Subject: t\n\nhello"
#define SMUG_OUT_TAIL "MAIL FROM:<evil@x>\nRCPT TO:<v@y>\nDATA\nsmuggled\n\n"

struct smuggle_case {
	const char *fake;
	size_t fake_len;
	const char *out; /* what the fake end became */
	size_t out_len;
};

static const struct smuggle_case smuggle_cases[] = {
    {L("\n.\n"), L("\n.\n")},
    {L("\r.\r"), L("\n.\n")},
    {L("\n.\r\n"), L("\n.\n")},
    {L("\r\n.\n"), L("\n\n")}, /* dot on a real line start: unstuffed */
    {L("\r\n.\r"), L("\n\n")},
    {L("\r.\n"), L("\n.\n")},
    {L("\n.\r"), L("\n.\n")},
    {L("\r.\r\n"), L("\n.\n")},
    {L("\r\n.\x00\r\n"), L("\n\x00\n")},
    {L("\r\n\x00.\r\n"), L("\n\x00.\n")},
    {L("\r\r\n.\r\r\n"), L("\n\n\n\n")},
    {L("\r\n .\r\n"), L("\n .\n")},
    {L("\n\n.\n\n"), L("\n\n.\n\n")},
    {L("\r\n.\n\r\n"), L("\n\n\n")},
};

static void
test_smuggling(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(smuggle_cases) / sizeof(smuggle_cases[0]); i++) {
		const struct smuggle_case *c = &smuggle_cases[i];
		struct buf in = BUF_INIT(0), want = BUF_INIT(0);

		assert_int_equal(buf_appends(&in, SMUG_HEAD), 0);
		assert_int_equal(buf_append(&in, c->fake, c->fake_len), 0);
		assert_int_equal(buf_appends(&in, SMUG_TAIL SMUG_END SMUG_NEXT), 0);
		assert_int_equal(buf_appends(&want, SMUG_OUT_HEAD), 0);
		assert_int_equal(buf_append(&want, c->out, c->out_len), 0);
		assert_int_equal(buf_appends(&want, SMUG_OUT_TAIL), 0);
		check_data(in.s, in.len, 0, true, in.len - strlen(SMUG_NEXT), want.s, want.len);
		buf_free(&in);
		buf_free(&want);
	}
}

/* Without the real end, a smuggled end is never the end. */
static void
test_smuggling_unterminated(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(smuggle_cases) / sizeof(smuggle_cases[0]); i++) {
		const struct smuggle_case *c = &smuggle_cases[i];
		struct buf in = BUF_INIT(0);

		assert_int_equal(buf_appends(&in, SMUG_HEAD), 0);
		assert_int_equal(buf_append(&in, c->fake, c->fake_len), 0);
		assert_int_equal(buf_appends(&in, SMUG_TAIL), 0);
		check_data(in.s, in.len, 0, false, in.len, NULL, 0);
		buf_free(&in);
	}
}

struct data_case {
	const char *in;
	size_t in_len;
	bool done;
	size_t consumed;
	const char *out;
	size_t out_len;
};

static const struct data_case data_cases[] = {
    {L(".\r\n"), true, 3, L("")}, /* empty message */
    {L(".\r\nMAIL FROM:<a@b>\r\n"), true, 3, L("")},
    {L("\r\n.\r\n"), true, 5, L("\n")},
    {L("a\r\n.\r\n"), true, 6, L("a\n")},
    {L("a\r\nb\r\n.\r\nQUIT\r\n"), true, 9, L("a\nb\n")},
    {L("..\r\n.\r\n"), true, 7, L(".\n")}, /* RFC 5321 4.5.2 */
    {L("...\r\n.\r\n"), true, 8, L("..\n")},
    {L(".a\r\n.b\r\n.\r\n"), true, 11, L("a\nb\n")},
    {L("a.\r\n.\r\n"), true, 7, L("a.\n")},
    {L("a\r\n.\n.\r\nb\r\n.\r\n"), true, 14, L("a\n\n.\nb\n")},
    {L("a\nb\rc\r\n.\r\n"), true, 10, L("a\nb\nc\n")},
    {L("a\r\r\nb\r\n.\r\n"), true, 10, L("a\n\nb\n")},
    {L("\n.\r\n"), false, 4, L("\n.\n")}, /* a bare LF never starts a real line */
    {L(".\r"), false, 2, L("")},
    {L(".\r.\r\n"), false, 5, L("\n.\n")},
    {L(". \r\n.\r\n"), true, 7, L(" \n")},
    {L("a\x00z\r\n.\r\n"), true, 8, L("a\x00z\n")},
    {L("\xff\xfe\r\n.\r\n"), true, 7, L("\xff\xfe\n")},
};

static void
test_data_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(data_cases) / sizeof(data_cases[0]); i++) {
		const struct data_case *c = &data_cases[i];

		check_data(c->in, c->in_len, 0, c->done, c->consumed, c->out, c->out_len);
	}
}

/* test_size_limit - too_big latches, output stays under the limit,
 * reading goes on to the real end */
static void
test_size_limit(void **state)
{
	struct buf in = BUF_INIT(0), want = BUF_INIT(0);
	struct fed f;

	(void)state;
	for (int i = 0; i < 20; i++)
		assert_int_equal(buf_appends(&in, "0123456789\r\n"), 0);
	assert_int_equal(buf_appends(&in, ".\r\nQUIT\r\n"), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(buf_appends(&want, "0123456789\n"), 0);
	check_data(in.s, in.len, 40, true, in.len - 6, want.s, 40);
	feed_data(in.s, in.len, 0, 40, &f);
	assert_true(f.too_big);
	assert_int_equal(f.size, 220);
	buf_free(&f.out);
	feed_data(in.s, in.len, 0, 220, &f); /* exactly the limit is fine */
	assert_false(f.too_big);
	assert_int_equal(f.out.len, 220);
	buf_free(&f.out);
	buf_free(&in);
	buf_free(&want);
}

/* test_size_bounded_memory - megabytes in, a few bytes kept */
static void
test_size_bounded_memory(void **state)
{
	struct data_reader r;
	struct buf out = BUF_INIT(0);
	char chunk[4096];

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	for (size_t i = 0; i < sizeof(chunk); i += 64)
		chunk[i] = (i % 128) ? '\r' : '\n';
	data_reader_init(&r, 1000);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(data_feed(&r, chunk, sizeof(chunk), &out), sizeof(chunk));
	assert_true(r.too_big);
	assert_false(r.done);
	assert_int_equal(out.len, 1000);
	assert_true(out.cap <= 2048);
	assert_int_equal(data_feed(&r, L("\r\n.\r\n"), &out), 5);
	assert_true(r.done);
	assert_true(r.size >= 16 * 1024 * 1024);
	buf_free(&out);
}

/* test_long_lines - kept whole, flagged, and the end is still found */
static void
test_long_lines(void **state)
{
	struct buf in = BUF_INIT(0), want = BUF_INIT(0);
	struct fed f;
	static const size_t lens[] = {998, 999, 1000, 5000};

	(void)state;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		buf_reset(&in);
		buf_reset(&want);
		/* a stuffed dot does not count (RFC 5321 4.5.3.1.6) */
		assert_int_equal(buf_appendc(&in, '.'), 0);
		for (size_t j = 0; j < lens[i]; j++) {
			assert_int_equal(buf_appendc(&in, j % 1000 == 500 ? '.' : 'y'), 0);
			assert_int_equal(buf_appendc(&want, j % 1000 == 500 ? '.' : 'y'), 0);
		}
		assert_int_equal(buf_appends(&in, "\r\n.\r\n"), 0);
		assert_int_equal(buf_appendc(&want, '\n'), 0);
		check_data(in.s, in.len, 0, true, in.len, want.s, want.len);
		feed_data(in.s, in.len, 0, 0, &f);
		assert_int_equal(f.line_too_long, lens[i] > 998);
		buf_free(&f.out);
	}
	buf_free(&in);
	buf_free(&want);
}

/* test_out_cannot_grow - a full output buffer is reported, not ignored */
static void
test_out_cannot_grow(void **state)
{
	struct data_reader r;
	struct buf out = BUF_INIT(4);

	(void)state;
	data_reader_init(&r, 0);
	assert_int_equal(data_feed(&r, L("abcdefgh\r\n.\r\n"), &out), (size_t)-1);
	buf_free(&out);
	data_reader_init(&r, 0);
	assert_int_equal(bdat_feed(&r, L("abcdefgh"), true, &out), -1);
	buf_free(&out);
}

struct bdat_case {
	const char *chunks[4]; /* NULL-terminated; the last one is "last" */
	const char *out;
};

static const struct bdat_case bdat_cases[] = {
    {{"a\r\nb\rc\nd", NULL}, "a\nb\nc\nd"},
    {{"a\r", "\nb", NULL}, "a\nb"},
    {{"a\r", "b", NULL}, "a\nb"},
    {{"a\r", NULL}, "a\n"},
    {{"a\r", "", NULL}, "a\n"},
    {{"a\r", "", "\n", NULL}, "a\n"},
    {{"a\r", "\r", "\n", NULL}, "a\n\n"},
    {{".\r\n", ".\r\n", NULL}, ".\n.\n"}, /* no dot handling in BDAT */
    {{"\r\n.\r\n", "MAIL FROM:<a@b>\r\n", NULL}, "\n.\nMAIL FROM:<a@b>\n"},
    {{"x\n\r", "\n\r\r", "\n", NULL}, "x\n\n\n\n"},
    {{"a\r\r\nb\n\r.\r\n\rz\r", NULL}, "a\n\nb\n\n.\n\nz\n"},
};

/* bdat_bytes - the same chunks, one byte at a time, "last" apart */
static void
bdat_bytes(const struct bdat_case *c, struct buf *out)
{
	struct data_reader r;

	data_reader_init(&r, 0);
	for (size_t j = 0; c->chunks[j] != NULL; j++)
		for (const char *p = c->chunks[j]; *p; p++)
			assert_int_equal(bdat_feed(&r, p, 1, false, out), 0);
	assert_int_equal(bdat_feed(&r, "", 0, true, out), 0);
	assert_true(r.done);
}

static void
test_bdat(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bdat_cases) / sizeof(bdat_cases[0]); i++) {
		const struct bdat_case *c = &bdat_cases[i];
		struct data_reader r;
		struct buf out = BUF_INIT(0);

		data_reader_init(&r, 0);
		for (size_t j = 0; c->chunks[j] != NULL; j++) {
			bool last = c->chunks[j + 1] == NULL;

			assert_false(r.done);
			assert_int_equal(
			    bdat_feed(&r, c->chunks[j], strlen(c->chunks[j]), last, &out), 0);
		}
		assert_true(r.done);
		assert_string_equal(buf_cstr(&out), c->out);
		assert_int_equal(r.size, strlen(c->out));
		buf_reset(&out);
		bdat_bytes(c, &out);
		assert_string_equal(buf_cstr(&out), c->out);
		buf_free(&out);
	}
}

struct stuff_case {
	const char *in;
	const char *out;
};

static const struct stuff_case stuff_cases[] = {
    {"", ""},
    {"a\n", "a\r\n"},
    {"a", "a\r\n"},
    {".\n", "..\r\n"},
    {"..\n", "...\r\n"},
    {"a\n.\n..\nb", "a\r\n..\r\n...\r\nb\r\n"},
    {"a.b\n.", "a.b\r\n..\r\n"},
    {"\n\n", "\r\n\r\n"},
    /* not canonical: still only CRLF out, dots stuffed after any end */
    {"a\r.\rb", "a\r\n..\r\nb\r\n"},
    {"a\r\n.\r\n", "a\r\n..\r\n"},
    {"a\r\r\n.", "a\r\n\r\n..\r\n"},
};

static void
test_dot_stuff(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(stuff_cases) / sizeof(stuff_cases[0]); i++) {
		struct buf out = BUF_INIT(0);

		assert_int_equal(
		    dot_stuff(stuff_cases[i].in, strlen(stuff_cases[i].in), true, &out), 0);
		assert_string_equal(buf_cstr(&out), stuff_cases[i].out);
		buf_free(&out);
	}
}

/* random_text - LF-canonical text rich in dots and short lines */
static void
random_text(struct buf *b, size_t n)
{
	static const char alphabet[] = "..\n\nab x";

	buf_reset(b);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(buf_appendc(b, alphabet[rng() % (sizeof(alphabet) - 1)]), 0);
}

/* stuff_streamed - dot_stuffer over random splits */
static void
stuff_streamed(const struct buf *x, struct buf *out)
{
	struct dot_stuffer s;
	size_t off = 0, len;

	dot_stuffer_init(&s);
	while (off < x->len) {
		len = 1 + rng() % 9;
		if (len > x->len - off)
			len = x->len - off;
		assert_int_equal(dot_stuffer_feed(&s, x->s + off, len, out), 0);
		off += len;
	}
	assert_int_equal(dot_stuffer_finish(&s, out), 0);
}

/* test_round_trip - data_feed(dot_stuff(x) ".\r\n") gives x back */
static void
test_round_trip(void **state)
{
	struct buf x = BUF_INIT(0), wire = BUF_INIT(0), streamed = BUF_INIT(0);

	(void)state;
	for (int round = 0; round < 500; round++) {
		random_text(&x, rng() % 64);
		buf_reset(&wire);
		buf_reset(&streamed);
		assert_int_equal(dot_stuff(x.s, x.len, true, &wire), 0);
		stuff_streamed(&x, &streamed);
		assert_int_equal(wire.len, streamed.len);
		assert_memory_equal(buf_cstr(&wire), buf_cstr(&streamed), wire.len);
		assert_null(strstr(buf_cstr(&wire), "\r\n.\r\n"));
		assert_int_equal(buf_appends(&wire, ".\r\nRSET\r\n"), 0);
		/* a final line without LF comes back terminated */
		if (x.len > 0 && x.s[x.len - 1] != '\n')
			assert_int_equal(buf_appendc(&x, '\n'), 0);
		check_data(wire.s, wire.len, 0, true, wire.len - 6, buf_cstr(&x), x.len);
	}
	buf_free(&x);
	buf_free(&wire);
	buf_free(&streamed);
}

/* test_dot_unstuff - the one-shot form */
static void
test_dot_unstuff(void **state)
{
	struct buf out = BUF_INIT(0);
	bool done = false;

	(void)state;
	assert_int_equal(dot_unstuff(L("..a\r\n.\r\nQUIT\r\n"), &out, &done), 8);
	assert_true(done);
	assert_string_equal(buf_cstr(&out), ".a\n");
	buf_reset(&out);
	assert_int_equal(dot_unstuff(L("a\n.\n"), &out, &done), 4);
	assert_false(done);
	buf_free(&out);
}

/* canon_ref - the readers by their definition, a line at a time: a
 * CRLF, a bare CR and a bare LF each end one line; with dots, a dot
 * leading a line that began after a CRLF (or at the start) is dropped */
static void
canon_ref(const char *t, size_t n, bool dots, struct buf *out)
{
	size_t i = 0, j;
	bool real = true;

	while (i < n) {
		if (dots && real && t[i] == '.')
			i++;
		for (j = i; j < n && t[j] != '\r' && t[j] != '\n'; j++)
			;
		assert_int_equal(buf_append(out, t + i, j - i), 0);
		if (j == n)
			break;
		assert_int_equal(buf_appendc(out, '\n'), 0);
		real = t[j] == '\r' && j + 1 < n && t[j + 1] == '\n';
		i = j + (real ? 2 : 1);
	}
}

/* long_runs - content of long runs: bare CRs without a LF for
 * thousands of bytes, LFs without a CR, both behind text, long lines,
 * CRLF lines with dots to unstuff (never an end of data) */
static void
long_runs(struct buf *b)
{
	static const char *const unit[] = {"\r", "\n", "x\r", "y\n", "a", "\r\n..z\r\n", "\r\n.x"};
	size_t u, k, reps;

	buf_reset(b);
	for (int block = 0; block < 24; block++) {
		u = rng() % (sizeof(unit) / sizeof(unit[0]));
		reps = u < 5 ? 1 + rng() % 3000 : 1 + rng() % 4;
		for (k = 0; k < reps; k++)
			assert_int_equal(buf_appends(b, unit[u]), 0);
	}
}

/* bdat_split - bdat_feed over random splits (step 0) or steps */
static void
bdat_split(const struct buf *x, size_t step, struct buf *out)
{
	struct data_reader r;
	size_t off = 0, len;

	data_reader_init(&r, 0);
	do {
		len = step ? step : rng() % 5000;
		if (len > x->len - off)
			len = x->len - off;
		assert_int_equal(bdat_feed(&r, x->s + off, len, off + len == x->len, out), 0);
		off += len;
	} while (off < x->len);
	assert_true(r.done);
}

/* test_long_runs - DATA, BDAT and dot-stuffing of long runs of bare
 * CRs and LFs give what the definition does, in any split (the line
 * scan looks for CR and LF with memchr, each at most once per byte) */
static void
test_long_runs(void **state)
{
	struct buf x = BUF_INIT(0), in = BUF_INIT(0), want = BUF_INIT(0), got = BUF_INIT(0);
	struct buf wire = BUF_INIT(0), streamed = BUF_INIT(0);
	bool done;

	(void)state;
	for (int round = 0; round < 6; round++) {
		long_runs(&x);
		/* DATA: the content, then the end */
		buf_reset(&in);
		assert_int_equal(buf_append(&in, x.s, x.len), 0);
		assert_int_equal(buf_appends(&in, "\r\n.\r\nQUIT\r\n"), 0);
		buf_reset(&want);
		canon_ref(in.s, in.len - 9, true, &want);
		check_data(in.s, in.len, 0, true, in.len - 6, buf_cstr(&want), want.len);
		/* BDAT: no dots; whole, byte by byte, random splits agree */
		buf_reset(&want);
		canon_ref(x.s, x.len, false, &want);
		for (size_t step = 0; step < 3; step++) {
			buf_reset(&got);
			bdat_split(&x, step == 2 ? x.len : step, &got);
			assert_int_equal(got.len, want.len);
			assert_memory_equal(buf_cstr(&got), buf_cstr(&want), want.len);
		}
		/* dot-stuffing the raw bytes: whole and streamed agree, and
		 * DATA reads them back as BDAT took them (a last line ended) */
		buf_reset(&wire);
		buf_reset(&streamed);
		assert_int_equal(dot_stuff(x.s, x.len, true, &wire), 0);
		stuff_streamed(&x, &streamed);
		assert_int_equal(wire.len, streamed.len);
		assert_memory_equal(buf_cstr(&wire), buf_cstr(&streamed), wire.len);
		assert_int_equal(buf_appends(&wire, ".\r\n"), 0);
		buf_reset(&got);
		assert_int_equal(dot_unstuff(wire.s, wire.len, &got, &done), wire.len);
		assert_true(done);
		if (x.len > 0 && x.s[x.len - 1] != '\r' && x.s[x.len - 1] != '\n')
			assert_int_equal(buf_appendc(&want, '\n'), 0);
		assert_int_equal(got.len, want.len);
		assert_memory_equal(buf_cstr(&got), buf_cstr(&want), want.len);
	}
	buf_free(&x);
	buf_free(&in);
	buf_free(&want);
	buf_free(&got);
	buf_free(&wire);
	buf_free(&streamed);
}

struct header_case {
	const char *in;
	bool ended, missing_blank;
	size_t end; /* end_offset when ended */
	unsigned received, from_count;
	bool date, message_id;
	const char *from;
};

static const struct header_case header_cases[] = {
    {"From: a@b\nDate: x\nMessage-ID: <1@b>\n\nbody\n", true, false, 36, 0, 1, true, true, "a@b"},
    /* folded: the continuation belongs to From:, unfolding keeps its blank */
    {"Subject: x\nFrom: \"Long\n Name\" <a@b>  \n\tmore\nReceived: x\n\n", true, false, 56, 1, 1,
     false, false, "\"Long Name\" <a@b>\tmore"},
    {"From:\n   a@b\n\n", true, false, 13, 0, 1, false, false, "a@b"},
    /* no blank line: the body starts at the first line that is no field */
    {"Subject: x\nHello world\n", true, true, 11, 0, 0, false, false, ""},
    {"Subject: x\nHello\n\n", true, true, 11, 0, 0, false, false, ""},
    {"Subject: x\n:colon\n", true, true, 11, 0, 0, false, false, ""},
    {"Subject: x\nSub ject: y\n", true, true, 11, 0, 0, false, false, ""},
    {"Subject: x\n\x80"
     "bad: y\n",
     true, true, 11, 0, 0, false, false, ""},
    /* no headers at all */
    {"Hello\n", true, true, 0, 0, 0, false, false, ""},
    {"\nbody\n", true, false, 0, 0, 0, false, false, ""},
    {" x: y\n", true, true, 0, 0, 0, false, false, ""},
    {"From a@b Mon Jan  1 00:00:00 2024\nFrom: c@d\n\n", true, true, 0, 0, 0, false, false, ""},
    /* names are case-insensitive; blanks before the colon (RFC 5322 4.5) */
    {"received: a\nRECEIVED: b\nReCeIvEd : c\n\tfolded\nX-Received: d\n\n", true, false, 59, 3, 0,
     false, false, ""},
    {"DATE:x\nmessage-ID:<a@b>\nfrom:\tc@d\n\n", true, false, 34, 0, 1, true, true, "c@d"},
    {"X-From: a\nFromx: b\nResent-From: c\nX-Date: d\n\n", true, false, 44, 0, 0, false, false, ""},
    {"From: first@x\nFrom: second@y\n\n", true, false, 29, 0, 2, false, false, "first@x"},
    {"X-A-Very-Long-Header-Name-Longer-Than-Thirty-Two: y\nDate: z\n\n", true, false, 60, 0, 0,
     true, false, ""},
    /* content that ends inside the headers never ends them */
    {"Subject: x\n", false, false, 0, 0, 0, false, false, ""},
    {"From: a@b", false, false, 0, 0, 1, false, false, "a@b"},
    {"", false, false, 0, 0, 0, false, false, ""},
};

/* scan_split - feed in chunks (step 0: random); returns the absolute
 * offset the returns point at (or the length when not ended) */
static uint64_t
scan_split(struct header_scan *h, const char *in, size_t n, size_t step)
{
	size_t off = 0, len, ret;
	uint64_t at = n;

	header_scan_init(h);
	while (off < n) {
		len = step ? step : 1 + rng() % 7;
		if (len > n - off)
			len = n - off;
		ret = header_scan_feed(h, in + off, len);
		if (!h->ended) {
			assert_int_equal(ret, len);
		} else if (at == n) {
			at = off + ret;
		} else {
			assert_int_equal(ret, 0);
		}
		off += len;
	}
	return at;
}

static void
test_headers(void **state)
{
	static const size_t steps[] = {(size_t)-1, 1, 2, 0, 0, 0};

	(void)state;
	for (size_t i = 0; i < sizeof(header_cases) / sizeof(header_cases[0]); i++) {
		const struct header_case *c = &header_cases[i];
		size_t n = strlen(c->in);

		for (size_t j = 0; j < sizeof(steps) / sizeof(steps[0]); j++) {
			struct header_scan h;
			uint64_t at =
			    scan_split(&h, c->in, n, steps[j] == (size_t)-1 ? n : steps[j]);

			assert_int_equal(h.ended, c->ended);
			assert_int_equal(h.in_headers, !c->ended);
			if (c->ended) {
				assert_int_equal(h.end_offset, c->end);
				assert_int_equal(h.missing_blank, c->missing_blank);
				/* the returned offset is exact unless the
				 * ending line began in an earlier chunk */
				assert_true(at == c->end ||
				            (steps[j] != (size_t)-1 && at > c->end));
			}
			assert_int_equal(h.received, c->received);
			assert_int_equal(h.from_count, c->from_count);
			assert_int_equal(h.has_from, c->from_count > 0);
			assert_int_equal(h.has_date, c->date);
			assert_int_equal(h.has_message_id, c->message_id);
			assert_string_equal(buf_cstr(&h.from), c->from);
			assert_false(h.from_truncated);
			header_scan_free(&h);
		}
	}
}

/* test_headers_split_line - a non-header line that began in an earlier
 * chunk: 0 is returned, end_offset is exact */
static void
test_headers_split_line(void **state)
{
	struct header_scan h;

	(void)state;
	header_scan_init(&h);
	assert_int_equal(header_scan_feed(&h, L("A: b\nHello")), 10);
	assert_false(h.ended);
	assert_int_equal(header_scan_safe(&h), 5); /* "Hello" may be the body */
	assert_int_equal(header_scan_feed(&h, L(" world\n")), 0);
	assert_true(h.ended);
	assert_true(h.missing_blank);
	assert_int_equal(h.end_offset, 5);
	header_scan_free(&h);
	header_scan_init(&h);
	assert_int_equal(header_scan_feed(&h, L("A: b\n")), 5);
	assert_int_equal(header_scan_safe(&h), 5);
	assert_int_equal(header_scan_feed(&h, L("B: c")), 4);
	assert_int_equal(header_scan_safe(&h), 9); /* a field: safe to write */
	assert_int_equal(header_scan_feed(&h, L("\n\nbody")), 1);
	assert_true(h.ended);
	assert_false(h.missing_blank);
	assert_int_equal(h.end_offset, 10);
	assert_int_equal(header_scan_safe(&h), 10);
	header_scan_free(&h);
}

/* test_headers_after_end - the body is ignored; From: is bounded */
static void
test_headers_after_end(void **state)
{
	struct header_scan h;
	struct buf in = BUF_INIT(0);

	(void)state;
	header_scan_init(&h);
	assert_int_equal(header_scan_feed(&h, L("A: b\n\nReceived: x\nDate: y\n")), 5);
	assert_int_equal(header_scan_feed(&h, L("Received: x\n")), 0);
	assert_int_equal(h.received, 0);
	assert_false(h.has_date);
	header_scan_free(&h);

	assert_int_equal(buf_appends(&in, "From: "), 0);
	for (int i = 0; i < 5000; i++)
		assert_int_equal(buf_appendc(&in, (char)('a' + i % 26)), 0);
	assert_int_equal(buf_appends(&in, "\n\n"), 0);
	header_scan_init(&h);
	assert_int_equal(header_scan_feed(&h, in.s, in.len), in.len - 1);
	assert_true(h.from_truncated);
	assert_int_equal(h.from.len, HEADER_FROM_MAX);
	assert_memory_equal(h.from.s, "abcdef", 6);
	header_scan_free(&h);
	buf_free(&in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_smuggling),
	    cmocka_unit_test(test_smuggling_unterminated),
	    cmocka_unit_test(test_data_table),
	    cmocka_unit_test(test_size_limit),
	    cmocka_unit_test(test_size_bounded_memory),
	    cmocka_unit_test(test_long_lines),
	    cmocka_unit_test(test_out_cannot_grow),
	    cmocka_unit_test(test_bdat),
	    cmocka_unit_test(test_dot_stuff),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_dot_unstuff),
	    cmocka_unit_test(test_long_runs),
	    cmocka_unit_test(test_headers),
	    cmocka_unit_test(test_headers_split_line),
	    cmocka_unit_test(test_headers_after_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
