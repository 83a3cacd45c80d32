/*
 * sendmail_headers.c - the header section mailout-sendmail hands on
 *
 * What it is for: a Received: line recording the local injection (the
 * invoking uid), the message's own fields with From: masqueraded and
 * To:/Cc: qualified, Bcc: gone under -t, and the Date:, Message-ID:
 * and From: a message must have (RFC 5322 3.6) when they are missing.
 * What it must never do: let -F or a header value put a line break
 * (a new header) where none was, or emit a non-ASCII display name
 * unencoded (RFC 2047 encoded-words are used instead).
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "sendmail.h"

int
sm_format_date(time_t now, char *out, size_t outsize)
{
	struct tm tm;

	if (localtime_r(&now, &tm) == NULL)
		return -1;
	return strftime(out, outsize, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0 ? -1 : 0;
}

/* clean_name - the name without control characters, trimmed */
static size_t
clean_name(const char *in, char *out, size_t outsize, bool *ascii, bool *plain)
{
	size_t n = 0;
	unsigned char c;

	*ascii = *plain = true;
	for (; *in && n + 1 < outsize; in++) {
		c = (unsigned char)*in;
		if (c < 0x20 || c == 0x7f)
			c = ' ';
		if (c == ' ' && (n == 0 || out[n - 1] == ' '))
			continue;
		if (c >= 0x80)
			*ascii = false;
		else if (c != ' ' && strchr("()<>[]:;@\\,.\"", c) != NULL)
			*plain = false;
		out[n++] = (char)c;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	return n;
}

/* encode_words - RFC 2047 B encoding, words of at most 45 octets that
 * never split a UTF-8 sequence */
static int
encode_words(const char *s, size_t n, struct buf *out)
{
	unsigned char b64[64];
	size_t pos = 0, k;
	int len;

	while (pos < n) {
		k = n - pos > 45 ? 45 : n - pos;
		while (k > 1 && pos + k < n && ((unsigned char)s[pos + k] & 0xc0) == 0x80)
			k--;
		len = EVP_EncodeBlock(b64, (const unsigned char *)s + pos, (int)k);
		if (len < 0 || buf_printf(out, "%s=?UTF-8?B?%.*s?=", pos ? " " : "", len,
		                          (const char *)b64) < 0)
			return -1;
		pos += k;
	}
	return 0;
}

/* quote_name - a quoted-string, backslash before '"' and '\' */
static int
quote_name(const char *s, struct buf *out)
{
	if (buf_appendc(out, '"') < 0)
		return -1;
	for (; *s; s++) {
		if ((*s == '"' || *s == '\\') && buf_appendc(out, '\\') < 0)
			return -1;
		if (buf_appendc(out, *s) < 0)
			return -1;
	}
	return buf_appendc(out, '"');
}

int
sm_format_from(const struct sm_origin *o, const struct rewrite *rw, struct buf *out)
{
	char name[SM_NAME_MAX];
	bool ascii, plain;
	size_t n = 0;
	int r;

	if (o->fullname)
		n = clean_name(o->fullname, name, sizeof(name), &ascii, &plain);
	if (o->sender[0] == '\0')
		return buf_printf(out, "MAILER-DAEMON@%s", o->hostname);
	if (n == 0)
		return buf_appends(out, o->sender);
	if (!ascii)
		r = encode_words(name, n, out);
	else if (!plain)
		r = quote_name(name, out);
	else
		r = buf_appends(out, name);
	if (r < 0)
		return -1;
	return buf_printf(out, " <%s>", o->sender);
}

/* put_field - one field as read, or with its addresses rewritten:
 * the table of fields and modes is mail_rewrite's, so mailout-smtpd
 * (rewrite = true) and this program rewrite the same fields alike */
static int
put_field(const struct rewrite *rw, const struct sm_message *m, size_t i, struct buf *out)
{
	const struct sm_field *f = &m->f[i];

	return rewrite_header_field(rw, m->hdr.s + f->off, f->len, out) < 0 ? -1 : 0;
}

int
sm_compose_headers(const struct sm_origin *o, const struct rewrite *rw, const struct sm_message *m,
                   struct buf *out)
{
	char date[64];
	size_t i;

	if (sm_format_date(o->now, date, sizeof(date)) < 0)
		return -1;
	if (buf_printf(out, "Received: from userid %lu\n\tby %s (mailout) id %s;\n\t%s\n", o->uid,
	               o->hostname, o->queue_id, date) < 0)
		return -1;
	for (i = 0; i < m->nf; i++)
		if (!m->f[i].drop && put_field(rw, m, i, out) < 0)
			return -1;
	if (!m->has_date && buf_printf(out, "Date: %s\n", date) < 0)
		return -1;
	if (!m->has_message_id &&
	    buf_printf(out, "Message-ID: <%s@%s>\n", o->queue_id, o->hostname) < 0)
		return -1;
	if (!m->has_from && (buf_appends(out, "From: ") < 0 || sm_format_from(o, rw, out) < 0 ||
	                     buf_appendc(out, '\n') < 0))
		return -1;
	return buf_appendc(out, '\n');
}

_Static_assert(RES_OK == 0, "RES_OK must be enum result's");
