/*
 * mail_reply.c - building SMTP replies with enhanced status codes
 *
 * What it is for: one place where a reply's code and status code meet.
 * What it must never do: emit a reply whose enhanced code class differs
 * from its basic code class (a 4xx with 5.x.x confuses clients).
 */
#include "mail_reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"

void
reply_set(struct reply *r, int code, const char *esc, const char *fmt, ...)
{
	va_list ap;
	int n;

	r->code = code;
	r->esc = esc;
	va_start(ap, fmt);
	n = vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
	if (n < 0)
		r->text[0] = '\0';
	/* XXX: a reply text is ours, never client data unfiltered; strip
	 * CR and LF so a text can never become two replies. */
	for (char *p = r->text; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
}

void
reply_set_text(struct reply *r, int code, const char *esc, const char *text)
{
	char *p;

	r->code = code;
	r->esc = esc;
	(void)bounded_copy(r->text, sizeof(r->text), text);
	for (p = r->text; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
}

enum result
reply_result(const struct reply *r)
{
	if (r->code >= 500)
		return RES_PERM;
	if (r->code >= 400)
		return RES_TEMP;
	return RES_OK;
}

/* A reply line being built: as snprintf would write it, cut to size. */
struct line {
	char *out;
	size_t size, len; /* len: what the whole line needs */
};

/* line_put - append n octets, as far as they fit */
static void
line_put(struct line *l, const char *s, size_t n)
{
	if (l->len < l->size - 1) {
		size_t room = l->size - 1 - l->len;

		memcpy(l->out + l->len, s, n < room ? n : room);
	}
	l->len += n;
}

int
reply_format(const struct reply *r, char *out, size_t outsize)
{
	const char *detail = r->esc;
	char code[6] = {0, 0, 0, ' ', 0, '.'};
	struct line l = {out, outsize, 0};

	/* accept both "7.1" and a full "5.7.1": keep the class of the code */
	if (detail && strlen(detail) >= 5 && detail[1] == '.')
		detail += 2;
	if (r->code < 100 || r->code > 999 || outsize == 0) /* not a reply code: printf's way */
		return detail ? bounded_format(out, outsize, "%d %d.%s %s", r->code, r->code / 100,
		                               detail, r->text)
		              : bounded_format(out, outsize, "%d %s", r->code, r->text);
	/* the same octets as "%d %d.%s %s", without printf: a reply costs less */
	code[0] = (char)('0' + r->code / 100);
	code[1] = (char)('0' + r->code / 10 % 10);
	code[2] = (char)('0' + r->code % 10);
	code[4] = code[0];
	line_put(&l, code, detail ? 6 : 4);
	if (detail) {
		line_put(&l, detail, strlen(detail));
		line_put(&l, " ", 1);
	}
	line_put(&l, r->text, strlen(r->text));
	out[l.len < outsize ? l.len : outsize - 1] = '\0';
	return l.len < outsize ? 0 : -1;
}
