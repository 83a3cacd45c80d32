/*
 * smtp_client.c - parsing SMTP server replies and EHLO extensions
 *
 * What it is for: turning a gateway's bytes into a code, an enhanced
 * status code and a text that can be logged and stored.
 * What it must never do: read past the input, accept a reply whose
 * lines disagree on the code, or let a reply text grow without bound.
 */
#include "smtp_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

/* esc_len - length of an RFC 3463 code "c.sss.ddd" at s, plus its
 * trailing space, when its class digit matches; else 0 */
static size_t
esc_len(const char *s, size_t n, char cls)
{
	size_t i = 0, part, digits;

	if (n < 5 || s[0] != cls || s[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (digits = 0; i < n && s[i] >= '0' && s[i] <= '9' && digits < 3; i++)
			digits++;
		if (digits == 0)
			return 0;
		if (part == 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && s[i] != ' ')
		return 0;
	return i;
}

/* add_text - append a line's text, '\n'-separated, truncating */
static void
add_text(struct smtp_reply *r, const char *t, size_t n)
{
	size_t have = strlen(r->text), room;

	if (have && have + 1 < sizeof(r->text))
		r->text[have++] = '\n';
	room = sizeof(r->text) - 1 - have;
	if (n > room)
		n = room;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];
		r->text[have + i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	r->text[have + n] = '\0';
}

/* parse_line - one reply line (without LF/CRLF); -1 if malformed */
static int
parse_line(const char *s, size_t len, struct smtp_reply *r)
{
	int code;
	size_t e;

	if (len < 3 || s[0] < '2' || s[0] > '5' || s[1] < '0' || s[1] > '9' || s[2] < '0' ||
	    s[2] > '9')
		return -1;
	code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	if (r->lines > 0 && code != r->code)
		return -1;
	if (len > 3 && s[3] != ' ' && s[3] != '-')
		return -1;
	r->code = code;
	r->lines++;
	s += len > 3 ? 4 : 3;
	len -= len > 3 ? 4 : 3;
	e = esc_len(s, len, (char)('0' + code / 100));
	if (e && e < sizeof(r->esc) && r->esc[0] == '\0') {
		memcpy(r->esc, s, e);
		r->esc[e] = '\0';
	}
	if (e) {
		s += e;
		len -= e;
		if (len && *s == ' ') {
			s++;
			len--;
		}
	}
	add_text(r, s, len);
	return 0;
}

ssize_t
smtp_reply_parse(const char *in, size_t n, struct smtp_reply *r)
{
	size_t pos = 0;

	memset(r, 0, sizeof(*r));
	while (pos < n) {
		const char *nl = memchr(in + pos, '\n', n - pos);
		size_t len, next;

		if (!nl)
			return (n - pos > SMTP_REPLY_LINE_MAX) ? -1 : 0;
		len = (size_t)(nl - (in + pos));
		next = pos + len + 1;
		if (len > SMTP_REPLY_LINE_MAX || r->lines >= SMTP_REPLY_LINES_MAX)
			return -1;
		if (len > 0 && in[pos + len - 1] == '\r')
			len--;
		/* the separator decides: "250-" continues, anything else ends */
		if (parse_line(in + pos, len, r) < 0)
			return -1;
		if (len < 4 || in[pos + 3] != '-')
			return (ssize_t)next;
		pos = next;
	}
	return 0;
}

const char *
smtp_reply_status(const struct smtp_reply *r)
{
	if (r->esc[0])
		return r->esc;
	if (r->code >= 500)
		return "5.0.0";
	if (r->code >= 400)
		return "4.0.0";
	return "2.0.0";
}

void
smtp_reply_oneline(const struct smtp_reply *r, char *out, size_t outsize)
{
	size_t i;

	if (outsize == 0)
		return;
	if (bounded_format(out, outsize, "%d %s %s", r->code, smtp_reply_status(r), r->text) < 0 &&
	    outsize > 4)
		memcpy(out + outsize - 4, "...", 4);
	for (i = 0; out[i]; i++)
		if (out[i] == '\n')
			out[i] = ' ';
}

/* word_is - does the keyword at s (n bytes, ends at space/end) equal w? */
static bool
word_is(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

/* parse_ext_line - one "KEYWORD params" line of an EHLO reply */
static void
parse_ext_line(const char *s, size_t len, struct smtp_ext *ext)
{
	size_t k = 0, p;

	while (k < len && s[k] != ' ' && s[k] != '=')
		k++;
	if (word_is(s, k, "PIPELINING"))
		ext->pipelining = true;
	else if (word_is(s, k, "STARTTLS"))
		ext->starttls = true;
	else if (word_is(s, k, "8BITMIME"))
		ext->eightbitmime = true;
	else if (word_is(s, k, "SMTPUTF8"))
		ext->smtputf8 = true;
	else if (word_is(s, k, "ENHANCEDSTATUSCODES"))
		ext->enhanced = true;
	else if (word_is(s, k, "SIZE")) {
		uint64_t v = 0;
		for (p = k + 1; p < len && s[p] >= '0' && s[p] <= '9'; p++)
			v = v > UINT64_MAX / 10 - 9 ? UINT64_MAX : v * 10 + (uint64_t)(s[p] - '0');
		ext->size = v;
		ext->has_size = true;
	} else if (word_is(s, k, "AUTH")) {
		for (p = k; p < len;) {
			size_t w;
			while (p < len && (s[p] == ' ' || s[p] == '='))
				p++;
			for (w = 0; p + w < len && s[p + w] != ' '; w++)
				;
			if (word_is(s + p, w, "PLAIN"))
				ext->auth_plain = true;
			if (word_is(s + p, w, "LOGIN"))
				ext->auth_login = true;
			p += w;
		}
	}
}

void
smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ext *ext)
{
	const char *s = r->text;

	memset(ext, 0, sizeof(*ext));
	/* the first line is the greeting ("host Hello"), not an extension */
	s = strchr(s, '\n');
	while (s) {
		const char *nl;

		s++;
		nl = strchr(s, '\n');
		parse_ext_line(s, nl ? (size_t)(nl - s) : strlen(s), ext);
		s = nl;
	}
}
