/*
 * mail_mime.c - the MIME walker and its decoders (see mail_mime.h)
 *
 * What it is for: showing a content filter every part of a message the
 * way a mail client would find it - decoded, with every name it claims -
 * so that an attachment cannot hide behind an encoding, a nested
 * multipart, a forwarded message or a split or encoded file name.
 * What it must never do: trust a length or a count from the message,
 * recurse without bound, or read outside the message it was given.
 *
 * Base64 is decoded here rather than with OpenSSL's EVP_DecodeUpdate:
 * that decoder stops at the first character outside the alphabet,
 * while RFC 2045 6.8 tells decoders to ignore such characters, and mail
 * clients do.  A scanner that decodes less than the client would let a
 * few junk characters smuggle a file past it.  For the same reason a
 * pad "=" ends only the current quantum (concatenated base64 decodes
 * on, as lenient clients do), and a multipart body that claims a
 * transfer encoding (forbidden by RFC 2045 6.4) is walked both ways.
 */
#include "mail_mime.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#define LOGICAL_HEADER_MAX ((size_t)64 * 1024) /* longer headers are cut */
#define SEGMENTS_MAX 64 /* RFC 2231 continuations kept per name */
#define ATTR_MAX 64

enum encoding { ENC_IDENTITY, ENC_BASE64, ENC_QP };

/* RFC 2231 continuations of one parameter (name*0, name*1*, ...). */
struct segments {
	struct buf seg[SEGMENTS_MAX];
	unsigned char star[SEGMENTS_MAX];
	int used;
};

struct part_hdr {
	char type[MIME_TYPE_MAX];
	char boundary[MIME_BOUNDARY_MAX];
	int seen_type;
	enum encoding enc;
	struct buf names[MIME_NAMES_MAX];
	size_t n_names;
	struct segments cont[2]; /* 0: name*N, 1: filename*N */
};

struct walk {
	mime_part_fn fn;
	void *ctx;
	unsigned parts;
};

static enum mime_status walk_entity(struct walk *w, const char *p, size_t len, unsigned depth,
                                    const char *outer);

/* lower - ASCII tolower, whatever the locale */
static int
lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* hexval - value of a hex digit, or -1 */
static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

int
mime_base64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int
mime_base64_decode(const char *in, size_t len, struct buf *out)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t i;
	int v;

	if (buf_reserve(out, len / 4 * 3 + 3) < 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (in[i] == '=') {
			acc = 0; /* a quantum ends; the data may go on */
			bits = 0;
			continue;
		}
		if ((v = mime_base64_value((unsigned char)in[i])) < 0)
			continue;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out->s[out->len++] = (char)((acc >> bits) & 0xff);
		}
	}
	out->s[out->len] = '\0';
	return 0;
}

int
mime_qp_decode(const char *in, size_t len, struct buf *out)
{
	size_t i = 0, j;
	int hi, lo;

	if (buf_reserve(out, len) < 0)
		return -1;
	while (i < len) {
		if (in[i] != '=') {
			out->s[out->len++] = in[i++];
			continue;
		}
		if (i + 2 < len + 0 && (hi = hexval((unsigned char)in[i + 1])) >= 0 &&
		    (lo = hexval((unsigned char)in[i + 2])) >= 0) {
			out->s[out->len++] = (char)(hi << 4 | lo);
			i += 3;
			continue;
		}
		/* a soft line break: "=", optional trailing blanks, end of line */
		for (j = i + 1; j < len && (in[j] == ' ' || in[j] == '\t'); j++)
			;
		if (j < len && in[j] == '\r' && j + 1 < len && in[j + 1] == '\n')
			j++;
		if (j >= len || in[j] == '\n') {
			i = j < len ? j + 1 : j;
			continue;
		}
		out->s[out->len++] = in[i++]; /* not an escape: keep it */
	}
	out->s[out->len] = '\0';
	return 0;
}

int
mime_percent_decode(const char *in, size_t len, int with_charset, struct buf *out)
{
	const char *q1, *q2;
	size_t i = 0;
	int hi, lo;

	if (with_charset && (q1 = memchr(in, '\'', len)) != NULL &&
	    (q2 = memchr(q1 + 1, '\'', len - (size_t)(q1 + 1 - in))) != NULL)
		i = (size_t)(q2 + 1 - in);
	if (buf_reserve(out, len - i) < 0)
		return -1;
	for (; i < len; i++) {
		if (in[i] == '%' && i + 2 < len + 0 &&
		    (hi = hexval((unsigned char)in[i + 1])) >= 0 &&
		    (lo = hexval((unsigned char)in[i + 2])) >= 0) {
			out->s[out->len++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out->s[out->len++] = in[i];
		}
	}
	out->s[out->len] = '\0';
	return 0;
}

/* encoded_word - "=?charset?B|Q?text?=" at in: decoded into out, its
 * length returned; 0 if it is not one (out untouched) */
static size_t
encoded_word(const char *in, size_t len, struct buf *out)
{
	size_t i = 2, text, end;
	char enc;

	if (len < 8 || in[0] != '=' || in[1] != '?')
		return 0;
	while (i < len && in[i] != '?' && !is_wsp((unsigned char)in[i]) && i < 80)
		i++;
	if (i + 3 >= len || in[i] != '?' || i == 2 || in[i + 2] != '?')
		return 0;
	enc = (char)lower((unsigned char)in[i + 1]);
	if (enc != 'b' && enc != 'q')
		return 0;
	text = i + 3;
	for (end = text; end + 1 < len && !(in[end] == '?' && in[end + 1] == '='); end++)
		;
	if (end + 1 >= len)
		return 0;
	if (enc == 'b') {
		if (mime_base64_decode(in + text, end - text, out) < 0)
			return 0;
	} else {
		for (i = text; i < end; i++) {
			int hi, lo;
			char c = in[i] == '_' ? ' ' : in[i];

			if (in[i] == '=' && i + 2 < end + 1 &&
			    (hi = hexval((unsigned char)in[i + 1])) >= 0 &&
			    (lo = hexval((unsigned char)in[i + 2])) >= 0) {
				c = (char)(hi << 4 | lo);
				i += 2;
			}
			if (buf_appendc(out, c) < 0)
				return 0;
		}
	}
	return end + 2;
}

int
mime_decode_words(const char *in, size_t len, struct buf *out)
{
	size_t i = 0, n, ws;
	int after_word = 0;

	while (i < len) {
		for (ws = i; ws < len && is_wsp((unsigned char)in[ws]); ws++)
			;
		/* RFC 2047 6.2: blanks between two encoded-words vanish */
		if (after_word && ws > i && ws < len &&
		    (n = encoded_word(in + ws, len - ws, out)) > 0) {
			i = ws + n;
			continue;
		}
		if ((n = encoded_word(in + i, len - i, out)) > 0) {
			i += n;
			after_word = 1;
			continue;
		}
		n = ws > i ? ws - i : 1;
		if (buf_append(out, in + i, n) < 0)
			return -1;
		i += n;
		after_word = 0;
	}
	return 0;
}

/* hdr_init - an entity without headers is text/plain, 7bit */
static void
hdr_init(struct part_hdr *h)
{
	memset(h, 0, sizeof(*h));
	(void)bounded_copy(h->type, sizeof(h->type), "text/plain");
}

static void
hdr_free(struct part_hdr *h)
{
	size_t i;
	int k;

	for (i = 0; i < h->n_names; i++)
		buf_free(&h->names[i]);
	for (k = 0; k < 2; k++)
		for (i = 0; i < SEGMENTS_MAX; i++)
			buf_free(&h->cont[k].seg[i]);
}

/* add_name - keep a decoded name; of a very long one its tail, since
 * the extension is what counts */
static void
add_name(struct part_hdr *h, const struct buf *name)
{
	size_t off = 0;
	struct buf *b;

	if (name->len == 0 || h->n_names >= MIME_NAMES_MAX)
		return;
	if (name->len >= MIME_NAME_MAX)
		off = name->len - (MIME_NAME_MAX - 1);
	b = &h->names[h->n_names];
	buf_init(b, MIME_NAME_MAX);
	if (buf_set(b, name->s + off, name->len - off) < 0) {
		buf_free(b);
		return;
	}
	h->n_names++;
}

/* skip_cfws - blanks and (nested) comments, RFC 5322 3.2.2 */
static size_t
skip_cfws(const char *s, size_t n, size_t i)
{
	unsigned depth = 0;

	while (i < n) {
		if (s[i] == '(') {
			depth++;
		} else if (depth > 0) {
			if (s[i] == '\\' && i + 1 < n)
				i++;
			else if (s[i] == ')')
				depth--;
		} else if (!is_wsp((unsigned char)s[i])) {
			break;
		}
		i++;
	}
	return i;
}

/* param_value - a quoted-string, or anything up to ';' (lenient: names
 * with blanks go unquoted in the wild); unquoted into v */
static size_t
param_value(const char *s, size_t n, size_t i, struct buf *v)
{
	size_t start, end;

	buf_reset(v);
	if (i < n && s[i] == '"') {
		for (i++; i < n && s[i] != '"'; i++) {
			if (s[i] == '\\' && i + 1 < n)
				i++;
			(void)buf_appendc(v, s[i]); /* too long: cut */
		}
		return i < n ? i + 1 : i;
	}
	for (start = i; i < n && s[i] != ';'; i++)
		;
	for (end = i; end > start && is_wsp((unsigned char)s[end - 1]); end--)
		;
	(void)buf_append(v, s + start, end - start);
	return i;
}

/* put_segment - one RFC 2231 continuation, "name*3*" -> 3, starred */
static void
put_segment(struct segments *sg, const char *rest, const struct buf *v)
{
	unsigned long k = 0;
	const char *p = rest;

	while (*p >= '0' && *p <= '9' && k < SEGMENTS_MAX)
		k = k * 10 + (unsigned long)(*p++ - '0');
	if (p == rest || k >= SEGMENTS_MAX || (p[0] != '\0' && strcmp(p, "*") != 0))
		return;
	buf_free(&sg->seg[k]);
	buf_init(&sg->seg[k], MIME_NAME_MAX);
	if (buf_set(&sg->seg[k], v->s ? v->s : "", v->len) < 0)
		return;
	sg->star[k] = p[0] == '*';
	sg->used = 1;
}

/* handle_param - boundary, name, filename and their RFC 2231 forms */
static void
handle_param(struct part_hdr *h, const char *attr, const struct buf *v, int ct_first)
{
	struct buf name = BUF_INIT(LOGICAL_HEADER_MAX);
	const char *rest;
	int which;

	if (ct_first && strcmp(attr, "boundary") == 0) {
		size_t n = v->len < sizeof(h->boundary) - 1 ? v->len : sizeof(h->boundary) - 1;

		memcpy(h->boundary, v->s ? v->s : "", n);
		h->boundary[n] = '\0';
		return;
	}
	if (strncmp(attr, "filename", 8) == 0)
		which = 1, rest = attr + 8;
	else if (strncmp(attr, "name", 4) == 0)
		which = 0, rest = attr + 4;
	else
		return;
	if (rest[0] == '\0') {
		if (mime_decode_words(v->s ? v->s : "", v->len, &name) == 0)
			add_name(h, &name);
	} else if (strcmp(rest, "*") == 0) {
		if (mime_percent_decode(v->s ? v->s : "", v->len, 1, &name) == 0)
			add_name(h, &name);
	} else if (rest[0] == '*') {
		put_segment(&h->cont[which], rest + 1, v);
	}
	buf_free(&name);
}

/* parse_params - "; attr=value; ..." from s[i] on */
static void
parse_params(struct part_hdr *h, const char *s, size_t n, size_t i, int ct_first)
{
	struct buf v = BUF_INIT(LOGICAL_HEADER_MAX);
	char attr[ATTR_MAX];
	size_t a;

	while (i < n) {
		i = skip_cfws(s, n, i);
		if (i < n && s[i] == ';') {
			i++;
			continue;
		}
		for (a = 0; i < n && s[i] != '=' && s[i] != ';' && !is_wsp((unsigned char)s[i]);
		     i++)
			if (a + 1 < sizeof(attr))
				attr[a++] = (char)lower((unsigned char)s[i]);
		attr[a] = '\0';
		i = skip_cfws(s, n, i);
		if (i >= n || s[i] != '=')
			continue;
		i = param_value(s, n, skip_cfws(s, n, i + 1), &v);
		handle_param(h, attr, &v, ct_first);
	}
	buf_free(&v);
}

/* finish_segments - join RFC 2231 continuations into names */
static void
finish_segments(struct part_hdr *h)
{
	struct buf name = BUF_INIT(LOGICAL_HEADER_MAX);
	struct segments *sg;
	size_t k;
	int which;

	for (which = 0; which < 2; which++) {
		sg = &h->cont[which];
		if (!sg->used)
			continue;
		buf_reset(&name);
		for (k = 0; k < SEGMENTS_MAX; k++) {
			const struct buf *b = &sg->seg[k];

			if (b->s == NULL)
				continue;
			if (sg->star[k] ? mime_percent_decode(b->s, b->len, k == 0, &name) < 0
			                : buf_append(&name, b->s, b->len) < 0)
				break;
		}
		add_name(h, &name);
	}
	buf_free(&name);
}

/* header_is - does the header name s[0..n) equal name, ignoring case? */
static int
header_is(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(s, name, n) == 0;
}

/* token - the first token of a header value, lower case, into out */
static size_t
token(const char *s, size_t n, size_t i, char *out, size_t outsize)
{
	size_t o = 0;

	for (i = skip_cfws(s, n, i);
	     i < n && s[i] != ';' && s[i] != '(' && !is_wsp((unsigned char)s[i]); i++)
		if (o + 1 < outsize)
			out[o++] = (char)lower((unsigned char)s[i]);
	out[o] = '\0';
	return i;
}

/* process_header - one unfolded header line */
static void
process_header(struct part_hdr *h, const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	char tok[MIME_TYPE_MAX];
	size_t nl, i;
	int first;

	if (colon == NULL)
		return;
	for (nl = (size_t)(colon - s); nl > 0 && is_wsp((unsigned char)s[nl - 1]); nl--)
		;
	i = (size_t)(colon - s) + 1;
	if (header_is(s, nl, "content-type")) {
		i = token(s, n, i, tok, sizeof(tok));
		first = !h->seen_type;
		h->seen_type = 1;
		if (first && strchr(tok, '/') != NULL)
			(void)bounded_copy(h->type, sizeof(h->type), tok);
		parse_params(h, s, n, i, first);
	} else if (header_is(s, nl, "content-disposition")) {
		parse_params(h, s, n, token(s, n, i, tok, sizeof(tok)), 0);
	} else if (header_is(s, nl, "content-transfer-encoding") && h->enc == ENC_IDENTITY) {
		(void)token(s, n, i, tok, sizeof(tok));
		if (strcmp(tok, "base64") == 0)
			h->enc = ENC_BASE64;
		else if (strcmp(tok, "quoted-printable") == 0)
			h->enc = ENC_QP;
	}
}

/* parse_headers - the header section of p; returns where the body
 * starts (after the empty line, or at the first line that is neither a
 * header nor a continuation, as lenient clients read it) */
static size_t
parse_headers(struct part_hdr *h, const char *p, size_t len)
{
	struct buf logical = BUF_INIT(LOGICAL_HEADER_MAX);
	size_t i = 0, eol, next, l, body = len;
	const char *nl;

	while (i < len) {
		nl = memchr(p + i, '\n', len - i);
		eol = nl ? (size_t)(nl - p) : len;
		next = nl ? eol + 1 : len;
		l = eol - i;
		if (l > 0 && p[eol - 1] == '\r')
			l--;
		if (l == 0) {
			body = next;
			break;
		}
		if ((p[i] == ' ' || p[i] == '\t') && logical.len > 0) {
			(void)buf_append(&logical, p + i, l); /* too long: cut */
		} else if (memchr(p + i, ':', l) == NULL) {
			body = i;
			break;
		} else {
			if (logical.len > 0)
				process_header(h, logical.s, logical.len);
			buf_reset(&logical);
			(void)buf_append(&logical, p + i, l);
		}
		i = next;
	}
	if (logical.len > 0)
		process_header(h, logical.s, logical.len);
	buf_free(&logical);
	finish_segments(h);
	return body;
}

/* decode - a body in its transfer encoding */
static int
decode(enum encoding enc, const char *in, size_t len, struct buf *out)
{
	return enc == ENC_BASE64 ? mime_base64_decode(in, len, out) : mime_qp_decode(in, len, out);
}

/* walk_leaf - hand a decoded part to the callback; walk a forwarded
 * message in it */
static enum mime_status
walk_leaf(struct walk *w, const struct part_hdr *h, const char *body, size_t blen, unsigned depth,
          const char *outer)
{
	struct buf dec = BUF_INIT(blen + 16);
	struct mime_part part;
	enum mime_status st = MIME_OK;
	size_t i;

	memset(&part, 0, sizeof(part));
	part.data = (const unsigned char *)body;
	part.len = blen;
	if (h->enc != ENC_IDENTITY) {
		if (decode(h->enc, body, blen, &dec) < 0)
			return MIME_NOMEM;
		part.data = (const unsigned char *)(dec.s ? dec.s : "");
		part.len = dec.len;
	}
	part.type = h->type;
	for (i = 0; i < h->n_names; i++)
		part.names[i] = h->names[i].s;
	part.n_names = h->n_names;
	part.depth = depth;
	part.index = w->parts;
	part.outer = outer;
	if (w->fn(w->ctx, &part) != 0)
		st = MIME_STOPPED;
	else if (strcmp(h->type, "message/rfc822") == 0 || strcmp(h->type, "message/global") == 0)
		st = walk_entity(w, (const char *)part.data, part.len, depth + 1,
		                 h->n_names > 0 ? h->names[0].s : outer);
	buf_free(&dec);
	return st;
}

/* is_delimiter - is the line "--boundary" or "--boundary--"?  *close
 * tells which.  Matched as a prefix, as most clients do. */
static int
is_delimiter(const char *line, size_t l, const char *boundary, size_t bl, int *close)
{
	if (l < 2 + bl || line[0] != '-' || line[1] != '-' || memcmp(line + 2, boundary, bl) != 0)
		return 0;
	*close = l >= 4 + bl && line[2 + bl] == '-' && line[3 + bl] == '-';
	return 1;
}

/* split_parts - walk the body parts between delimiter lines; *found
 * says whether there was any delimiter */
static enum mime_status
split_parts(struct walk *w, const char *boundary, const char *body, size_t blen, unsigned depth,
            const char *outer, int *found)
{
	size_t bl = strlen(boundary), i = 0, eol, next, end, start = SIZE_MAX;
	enum mime_status st;
	const char *nl;
	int close = 0;

	*found = 0;
	while (i < blen && !close) {
		nl = memchr(body + i, '\n', blen - i);
		eol = nl ? (size_t)(nl - body) : blen;
		next = nl ? eol + 1 : blen;
		if (is_delimiter(body + i, eol - i, boundary, bl, &close)) {
			*found = 1;
			if (start != SIZE_MAX) {
				/* the line break before a delimiter belongs to it */
				end = i;
				if (end > start && body[end - 1] == '\n')
					end--;
				if (end > start && body[end - 1] == '\r')
					end--;
				st = walk_entity(w, body + start, end - start, depth + 1, outer);
				if (st != MIME_OK)
					return st;
			}
			start = next;
		}
		i = next;
	}
	if (!close && start != SIZE_MAX && start < blen)
		return walk_entity(w, body + start, blen - start, depth + 1, outer);
	return MIME_OK;
}

/* walk_multipart - the parts; a multipart without any delimiter is
 * inspected as a leaf, so its body cannot hide */
static enum mime_status
walk_multipart(struct walk *w, const struct part_hdr *h, const char *body, size_t blen,
               unsigned depth, const char *outer)
{
	struct buf dec = BUF_INIT(blen + 16);
	enum mime_status st;
	int found = 0, found2 = 0;

	st = split_parts(w, h->boundary, body, blen, depth, outer, &found);
	if (st == MIME_OK && h->enc != ENC_IDENTITY) {
		if (decode(h->enc, body, blen, &dec) < 0)
			st = MIME_NOMEM;
		else
			st = split_parts(w, h->boundary, dec.s ? dec.s : "", dec.len, depth, outer,
			                 &found2);
	}
	buf_free(&dec);
	if (st == MIME_OK && !found && !found2)
		st = walk_leaf(w, h, body, blen, depth, outer);
	return st;
}

static enum mime_status
walk_entity(struct walk *w, const char *p, size_t len, unsigned depth, const char *outer)
{
	struct part_hdr h;
	enum mime_status st;
	size_t body;

	if (depth > MIME_DEPTH_MAX)
		return MIME_TOO_DEEP;
	if (++w->parts > MIME_PARTS_MAX)
		return MIME_TOO_MANY;
	hdr_init(&h);
	body = parse_headers(&h, p, len);
	if (strncmp(h.type, "multipart/", 10) == 0 && h.boundary[0] != '\0')
		st = walk_multipart(w, &h, p + body, len - body, depth, outer);
	else
		st = walk_leaf(w, &h, p + body, len - body, depth, outer);
	hdr_free(&h);
	return st;
}

enum mime_status
mime_walk(const char *msg, size_t len, mime_part_fn fn, void *ctx)
{
	struct walk w = {fn, ctx, 0};

	return walk_entity(&w, msg, len, 0, NULL);
}
