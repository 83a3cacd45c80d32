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

enum result
reply_result(const struct reply *r)
{
	if (r->code >= 500)
		return RES_PERM;
	if (r->code >= 400)
		return RES_TEMP;
	return RES_OK;
}

int
reply_format(const struct reply *r, char *out, size_t outsize)
{
	const char *detail = r->esc;

	/* accept both "7.1" and a full "5.7.1": keep the class of the code */
	if (detail && strlen(detail) >= 5 && detail[1] == '.')
		detail += 2;
	if (detail)
		return bounded_format(out, outsize, "%d %d.%s %s", r->code, r->code / 100, detail,
		                      r->text);
	return bounded_format(out, outsize, "%d %s", r->code, r->text);
}
