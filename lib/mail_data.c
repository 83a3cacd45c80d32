/*
 * mail_data.c - message content as it arrives: DATA, BDAT, headers
 *
 * What it is for: turning the bytes a client sends after DATA or BDAT
 * into canonical content (every line ends in one LF, no CR anywhere),
 * finding the one true end of DATA, dot-stuffing content again on its
 * way out, and watching the header section.
 *
 * What it must never do: end DATA anywhere but at <CR><LF>.<CR><LF>
 * (RFC 5321 4.1.1.4; SMTP smuggling, SEC Consult 2023: <LF>.<LF>,
 * <CR>.<CR>, <LF>.<CR><LF>, <CR><LF>.<LF> and the like are content);
 * let a bare CR or bare LF through to the output; grow memory past the
 * size limit, whatever the client sends; or depend on how the input
 * is split into chunks.
 *
 * Why a bare CR becomes a line end: kept in the content, some MTA
 * further down could read it as one, and <CR>.<CR> would then end the
 * message there.  Made a line end here, it is dot-stuffed on the way
 * out like every other line, so it can never end anything.
 */
#include "mail_data.h"

#include <string.h>
#include <strings.h>

#include "buf.h"

/* RFC 5321 4.5.3.1.6: 1000 octets with the CRLF, not counting the dot
 * doubled for transparency; that is 998 octets of canonical text. */
#define LINE_TEXT_MAX 998

/*
 * The DATA states, in the spirit of qmail's blast().  A CR is written
 * out as LF as soon as it is seen (whatever follows, it ends a line);
 * D_CR only remembers to swallow the LF of a real CRLF.
 *
 * state    | meaning                              | next byte
 * ---------+--------------------------------------+---------------------------
 * D_BOL    | a line that began after a real CRLF  | "." -> D_DOT, else D_MID
 * D_DOT    | that line began with "." (dropped)   | CR -> D_DOTCR, else D_MID
 * D_DOTCR  | ".<CR>" at a real line start         | LF: end, else bare CR
 * D_MID    | inside a line, or after a bare end   | CR -> D_CR, LF: line end
 * D_CR     | CR seen and written as LF            | LF -> D_BOL, else D_MID
 */
enum data_state {
	D_BOL = 0,
	D_DOT,
	D_DOTCR,
	D_MID,
	D_CR,
};

void
data_reader_init(struct data_reader *r, uint64_t max_size)
{
	memset(r, 0, sizeof(*r));
	r->state = D_BOL;
	r->max_size = max_size;
}

/* data_emit - count canonical bytes, append what fits under max_size */
static int
data_emit(struct data_reader *r, struct buf *out, const char *p, size_t len)
{
	uint64_t keep = len;

	if (r->max_size) {
		if (r->size >= r->max_size)
			keep = 0;
		else if (keep > r->max_size - r->size)
			keep = r->max_size - r->size;
	}
	r->size = (len > UINT64_MAX - r->size) ? UINT64_MAX : r->size + len;
	if (r->max_size && r->size > r->max_size)
		r->too_big = true;
	if (keep && buf_append(out, p, (size_t)keep) < 0)
		return -1;
	return 0;
}

/* data_text - emit text that holds no line end */
static int
data_text(struct data_reader *r, struct buf *out, const char *p, size_t len)
{
	r->line_len = (len > SIZE_MAX - r->line_len) ? SIZE_MAX : r->line_len + len;
	if (r->line_len > LINE_TEXT_MAX)
		r->line_too_long = true;
	return data_emit(r, out, p, len);
}

/* data_newline - emit the canonical line end */
static int
data_newline(struct data_reader *r, struct buf *out)
{
	r->line_len = 0;
	return data_emit(r, out, "\n", 1);
}

/*
 * Where the next CR and the next LF of a chunk are: each is found with
 * memchr and kept until the scan passes it, so a chunk is searched at
 * most once for CRs and once for LFs, whatever mix of them it holds
 * (searching afresh for both at every line end would go over a long
 * run of bare CRs once per CR, looking for a LF).
 */
struct line_ends {
	const char *end; /* of the chunk */
	/* the next CR and LF at or after the scan: end if there is none,
	 * NULL until looked for */
	const char *cr, *lf;
};

static void
line_ends_init(struct line_ends *e, const char *in, size_t n)
{
	e->end = in + n;
	e->cr = e->lf = NULL;
}

/* next_of - the first c at or after p, from *seen when still ahead */
static const char *
next_of(const char **seen, const char *p, const char *end, int c)
{
	const char *hit;

	if (*seen == NULL || *seen < p) {
		hit = memchr(p, c, (size_t)(end - p));
		*seen = hit ? hit : end;
	}
	return *seen;
}

/* text_span - how many bytes from p hold neither CR nor LF */
static size_t
text_span(struct line_ends *e, const char *p)
{
	const char *cr = next_of(&e->cr, p, e->end, '\r');
	const char *lf = next_of(&e->lf, p, e->end, '\n');

	return (size_t)((cr < lf ? cr : lf) - p);
}

/* data_mid - one step inside a line: a run of text, a CR or a LF;
 * returns the bytes used, or (size_t)-1 */
static size_t
data_mid(struct data_reader *r, struct line_ends *e, const char *p, struct buf *out)
{
	size_t span = text_span(e, p);

	if (span > 0)
		return data_text(r, out, p, span) < 0 ? (size_t)-1 : span;
	/* A CR ends the line whether or not a LF follows (a bare CR is a
	 * line end too, see above); a bare LF ends it as well, but the
	 * next line did not begin after a real CRLF: no dot counts there. */
	if (p[0] == '\r')
		r->state = D_CR;
	return data_newline(r, out) < 0 ? (size_t)-1 : 1;
}

/* data_step - one step of the DATA machine; returns the bytes used (0
 * when the byte is to be looked at again in the new state) */
static size_t
data_step(struct data_reader *r, struct line_ends *e, const char *p, struct buf *out)
{
	switch (r->state) {
	case D_BOL:
		/* RFC 5321 4.5.2: a leading dot on a real line is dropped;
		 * alone on its line it ends the data. */
		r->state = (p[0] == '.') ? D_DOT : D_MID;
		return p[0] == '.' ? 1 : 0;
	case D_DOT:
		r->state = (p[0] == '\r') ? D_DOTCR : D_MID;
		return p[0] == '\r' ? 1 : 0;
	case D_DOTCR:
		if (p[0] == '\n') {
			r->done = true;
			return 1;
		}
		/* "." then a bare CR: an empty line ended by a bare CR. */
		r->state = D_MID;
		return data_newline(r, out) < 0 ? (size_t)-1 : 0;
	case D_CR:
		r->state = (p[0] == '\n') ? D_BOL : D_MID;
		return p[0] == '\n' ? 1 : 0;
	default:
		return data_mid(r, e, p, out);
	}
}

size_t
data_feed(struct data_reader *r, const char *in, size_t n, struct buf *out)
{
	struct line_ends e;
	size_t i = 0, used;

	line_ends_init(&e, in, n);
	while (i < n && !r->done) {
		used = data_step(r, &e, in + i, out);
		if (used == (size_t)-1)
			return (size_t)-1;
		i += used;
	}
	return i;
}

size_t
dot_unstuff(const char *in, size_t n, struct buf *out, bool *done)
{
	struct data_reader r;
	size_t used;

	data_reader_init(&r, 0);
	used = data_feed(&r, in, n, out);
	*done = r.done;
	return used;
}

int
bdat_feed(struct data_reader *r, const char *in, size_t n, bool last, struct buf *out)
{
	struct line_ends e;
	size_t i = 0, used;

	/* BDAT carries no dot-stuffing (RFC 3030 2): only the CR/LF part
	 * of the DATA machine applies; D_BOL and D_DOT never arise. */
	if (r->state != D_CR)
		r->state = D_MID;
	line_ends_init(&e, in, n);
	while (i < n) {
		if (r->state == D_CR) {
			/* The CR was written as LF; its LF (even one that
			 * starts this chunk) is swallowed. */
			r->state = D_MID;
			if (in[i] == '\n')
				i++;
			continue;
		}
		used = data_mid(r, &e, in + i, out);
		if (used == (size_t)-1)
			return -1;
		i += used;
	}
	if (last) {
		r->state = D_MID;
		r->done = true;
	}
	return 0;
}

void
dot_stuffer_init(struct dot_stuffer *s)
{
	s->at_line_start = true;
	s->cr = false;
}

/* dot_stuffer_feed - stream content out as CRLF lines, dots doubled */
int
dot_stuffer_feed(struct dot_stuffer *s, const char *in, size_t n, struct buf *out)
{
	struct line_ends e;
	size_t i = 0, span;

	line_ends_init(&e, in, n);
	while (i < n) {
		if (s->cr) {
			s->cr = false;
			if (in[i] == '\n') {
				i++;
				continue;
			}
		}
		if (in[i] == '\r' || in[i] == '\n') {
			s->cr = (in[i] == '\r');
			s->at_line_start = true;
			if (buf_append(out, "\r\n", 2) < 0)
				return -1;
			i++;
			continue;
		}
		if (s->at_line_start && in[i] == '.' && buf_appendc(out, '.') < 0)
			return -1;
		span = text_span(&e, in + i);
		if (buf_append(out, in + i, span) < 0)
			return -1;
		s->at_line_start = false;
		i += span;
	}
	return 0;
}

int
dot_stuffer_finish(struct dot_stuffer *s, struct buf *out)
{
	s->cr = false;
	if (s->at_line_start)
		return 0;
	s->at_line_start = true;
	return buf_append(out, "\r\n", 2);
}

int
dot_stuff(const char *in, size_t n, bool at_line_start, struct buf *out)
{
	struct dot_stuffer s;

	dot_stuffer_init(&s);
	s.at_line_start = at_line_start;
	if (dot_stuffer_feed(&s, in, n, out) < 0)
		return -1;
	return dot_stuffer_finish(&s, out);
}

/*
 * The header scanner (RFC 5322 2.2, 3.6).  A field is a name of
 * printable ASCII other than ":" and a colon; like Postfix we allow
 * blanks before the colon (the obsolete syntax of RFC 5322 4.5).  A
 * line starting with a blank continues the field before it.  The
 * section ends at the first empty line, or at the first line that is
 * no field: the body begins there.
 */
enum header_state {
	H_BOL = 0, /* at the start of a line */
	H_NAME, /* in a field name */
	H_BLANK, /* blanks after the name, before the colon */
	H_VALUE, /* in the field's value */
	H_DONE, /* the section has ended */
};

enum header_field {
	F_NONE = 0, /* no field yet: a blank at line start is no fold */
	F_OTHER,
	F_FROM, /* the first From: header, captured */
};

void
header_scan_init(struct header_scan *h)
{
	memset(h, 0, sizeof(*h));
	h->in_headers = true;
	h->state = H_BOL;
	h->field = F_NONE;
	buf_init(&h->from, HEADER_FROM_MAX);
}

void
header_scan_free(struct header_scan *h)
{
	buf_free(&h->from);
}

/* is_name_char - RFC 5322 3.6.8 ftext: printable US-ASCII but ":" */
static bool
is_name_char(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

static bool
is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* header_end - the section ends at offset at */
static void
header_end(struct header_scan *h, uint64_t at, bool blank_line)
{
	h->state = H_DONE;
	h->in_headers = false;
	h->ended = true;
	h->missing_blank = !blank_line;
	h->end_offset = at;
}

/* header_name_is - the current field name, case-insensitively */
static bool
header_name_is(const struct header_scan *h, const char *name)
{
	size_t len = strlen(name);

	return h->name_len == len && strncasecmp(h->name, name, len) == 0;
}

/* header_field_start - a colon ended the name: note what it names */
static void
header_field_start(struct header_scan *h)
{
	h->field = F_OTHER;
	h->state = H_VALUE;
	if (h->name_len >= sizeof(h->name))
		return; /* longer than any name we look for */
	if (header_name_is(h, "received"))
		h->received++;
	else if (header_name_is(h, "date"))
		h->has_date = true;
	else if (header_name_is(h, "message-id"))
		h->has_message_id = true;
	else if (header_name_is(h, "from")) {
		h->has_from = true;
		if (h->from_count++ == 0)
			h->field = F_FROM;
	}
}

/* header_from_add - capture a byte of From:'s value, unfolded; leading
 * blanks are dropped, the value is cut at HEADER_FROM_MAX */
static void
header_from_add(struct header_scan *h, unsigned char c)
{
	if (h->from.len == 0 && is_blank(c))
		return;
	if (h->from.len >= HEADER_FROM_MAX) {
		h->from_truncated = true;
		return;
	}
	if (buf_appendc(&h->from, (char)c) < 0)
		h->from_truncated = true; /* XXX: out of memory, keep going */
}

/* header_from_trim - drop blanks at the end of a From: line */
static void
header_from_trim(struct header_scan *h)
{
	size_t len = h->from.len;

	while (len > 0 && is_blank((unsigned char)h->from.s[len - 1]))
		len--;
	buf_truncate(&h->from, len);
}

/* header_bol - the first byte of a line */
static void
header_bol(struct header_scan *h, unsigned char c)
{
	if (is_blank(c) && h->field != F_NONE) {
		h->state = H_VALUE; /* a folded line: unfolding keeps the blank */
		if (h->field == F_FROM)
			header_from_add(h, c);
		return;
	}
	h->field = F_NONE;
	if (c == '\n') {
		header_end(h, h->pos, true);
	} else if (is_name_char(c)) {
		h->state = H_NAME;
		h->name[0] = (char)c;
		h->name_len = 1;
	} else {
		header_end(h, h->pos, false);
	}
}

/* header_step - one byte of the header section */
static void
header_step(struct header_scan *h, unsigned char c)
{
	switch (h->state) {
	case H_BOL:
		header_bol(h, c);
		break;
	case H_NAME:
		if (is_name_char(c)) {
			if (h->name_len < sizeof(h->name))
				h->name[h->name_len] = (char)c;
			h->name_len += (h->name_len < SIZE_MAX);
			break;
		}
		/* FALLTHROUGH */
	case H_BLANK:
		if (c == ':')
			header_field_start(h);
		else if (is_blank(c))
			h->state = H_BLANK;
		else
			header_end(h, h->line_start, false);
		break;
	case H_VALUE:
		if (c == '\n') {
			if (h->field == F_FROM)
				header_from_trim(h);
			h->state = H_BOL;
			h->line_start = h->pos + 1;
		} else if (h->field == F_FROM) {
			header_from_add(h, c);
		}
		break;
	default:
		break;
	}
}

/* value_skip - the bytes before the next LF (or all n) when they are
 * the value of a field we do not capture: header_step would only pass
 * over them one by one; they are counted and skipped */
static size_t
value_skip(struct header_scan *h, const char *in, size_t n)
{
	const char *nl;
	size_t k;

	if (h->state != H_VALUE || h->field == F_FROM)
		return 0;
	nl = memchr(in, '\n', n);
	k = nl ? (size_t)(nl - in) : n;
	h->pos += k;
	return k;
}

size_t
header_scan_feed(struct header_scan *h, const char *in, size_t n)
{
	uint64_t chunk_start = h->pos;
	size_t i;

	if (h->ended)
		return 0;
	for (i = 0; i < n && !h->ended; i++) {
		i += value_skip(h, in + i, n - i);
		if (i == n)
			break;
		header_step(h, (unsigned char)in[i]);
		h->pos++;
	}
	if (!h->ended)
		return n;
	return h->end_offset >= chunk_start ? (size_t)(h->end_offset - chunk_start) : 0;
}

uint64_t
header_scan_safe(const struct header_scan *h)
{
	if (h->ended)
		return h->end_offset;
	if (h->state == H_NAME || h->state == H_BLANK)
		return h->line_start;
	return h->pos;
}
