/*
 * mail_dsn.c - building RFC 3464 / RFC 6533 delivery status notifications
 *
 * What it is for: telling a sender, in words and in a machine-readable
 * report, which recipients failed (or are delayed) and why; in RFC
 * 6533's global form when an address or the returned headers are UTF-8.
 * What it must never do: include the original body (privacy, size),
 * produce a report without the null-sender markers (From:
 * MAILER-DAEMON, Auto-Submitted) that stop mail loops, or present an
 * outcome mailout decided itself as a reply of the gateway
 * ("Diagnostic-Code: smtp;", Remote-MTA).
 */
#include "mail_dsn.h"
#include "timefmt.h"

#include <string.h>
#include <strings.h>

/* the shape of one DSN, decided once by dsn_build */
struct shape {
	char boundary[96];
	bool global; /* RFC 6533 global DSN */
	bool global_headers; /* part 3 is message/global-headers */
	size_t headers_len; /* of the original headers kept */
};

/* has_8bit - any octet outside ASCII? */
static bool
has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/* utf8_len - length of the well-formed UTF-8 sequence at s (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF), or 0 */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80                    ? 1
	             : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
	             : s[0] >= 0xe0 && s[0] <= 0xef ? 3
	             : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
	                                            : 0;
	unsigned char lo = 0x80, hi = 0xbf;

	if (len == 0 || len > n)
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (len > 1 && (s[1] < lo || s[1] > hi))
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* is_utf8 - non-ASCII and well-formed UTF-8 (RFC 6532 content)? */
static bool
is_utf8(const char *s, size_t n)
{
	size_t i = 0, k;

	if (!has_8bit(s, n))
		return false;
	for (; i < n; i += k)
		if ((k = utf8_len((const unsigned char *)s + i, n - i)) == 0)
			return false;
	return true;
}

/* kept_headers - how much of the original header section part 3 holds */
static size_t
kept_headers(const struct dsn *d)
{
	size_t n = d->headers_len;

	if (n > DSN_HEADERS_MAX)
		n = DSN_HEADERS_MAX;
	/* the blank line ending the section is ours to write */
	while (n > 0 && d->headers[n - 1] == '\n' && (n < 2 || d->headers[n - 2] == '\n'))
		n--;
	return n;
}

/* status_skip - offset of the text in "553 5.6.7 text" (0: no code) */
static size_t
status_skip(const char *reply)
{
	size_t off = 0, n;

	if (strspn(reply, "0123456789") != 3 || reply[3] != ' ')
		return 0;
	off = 4;
	n = strspn(reply + off, "0123456789.");
	if (n >= 5 && reply[off + 1] == '.' && reply[off + n] == ' ')
		off += n + 1;
	return off;
}

bool
dsn_reply_is_ours(const char *reply)
{
	return reply && strncmp(reply + status_skip(reply), DSN_OURS, strlen(DSN_OURS)) == 0;
}

/* rfc5322_date - "Mon, 24 Nov 2025 16:00:00 +0000" */
static void
rfc5322_date(int64_t t, char *out, size_t outsize)
{
	if (timefmt_rfc5322(t, out, outsize) == 0)
		return;
	if (bounded_copy(out, outsize, "Thu, 1 Jan 1970 00:00:00 +0000") < 0)
		out[0] = '\0';
}

/* put_headers - the DSN's own header section */
static int
put_headers(const struct dsn *d, const struct shape *sh, struct buf *out)
{
	char date[64];
	const char *subject = d->kind == DSN_DELAYED  ? "Delayed Mail (still being retried)"
	                      : d->kind == DSN_DOUBLE ? "Postmaster Copy: Undelivered Mail"
	                                              : "Undelivered Mail Returned to Sender";

	rfc5322_date(d->now, date, sizeof(date));
	if (buf_printf(out,
	               "From: Mail Delivery System <MAILER-DAEMON@%s>\n"
	               "To: <%s>\n"
	               "Subject: %s\n"
	               "Date: %s\n"
	               "Message-ID: <%s.%lld.%s@%s>\n"
	               "Auto-Submitted: auto-replied\n",
	               d->hostname, d->to, subject, date, d->queue_id, (long long)d->now,
	               d->kind == DSN_DELAYED ? "delay" : "bounce", d->hostname) < 0)
		return -1;
	if (d->kind == DSN_DOUBLE && buf_appends(out, "X-Mailout-Bounce: double\n") < 0)
		return -1;
	return buf_printf(out,
	                  "MIME-Version: 1.0\n"
	                  "Content-Type: multipart/report; report-type=%sdelivery-status;\n"
	                  "\tboundary=\"%s\"\n"
	                  "\n"
	                  "This is a MIME-encapsulated message.\n\n",
	                  sh->global ? "global-" : "", sh->boundary);
}

/* put_human - part 1: what happened and what to do */
static int
put_human(const struct dsn *d, const struct shape *sh, struct buf *out)
{
	char until[64];
	size_t i;

	if (buf_printf(out,
	               "--%s\nContent-Description: Notification\n"
	               "Content-Type: text/plain; charset=utf-8\n%s\n"
	               "This is the mail system at host %s.\n\n",
	               sh->boundary, sh->global ? "Content-Transfer-Encoding: 8bit\n" : "",
	               d->hostname) < 0)
		return -1;
	if (d->kind == DSN_DELAYED) {
		rfc5322_date(d->give_up, until, sizeof(until));
		if (buf_printf(out,
		               "Your message could not be delivered yet to the recipients below.\n"
		               "The mail system will keep trying until %s.\n"
		               "You do not need to send it again.\n\n",
		               until) < 0)
			return -1;
	} else if (buf_printf(out,
	                      "I'm sorry to have to inform you that your message could not\n"
	                      "be delivered to one or more recipients. It's attached below.\n\n"
	                      "What to do: check each address below for typing mistakes.\n"
	                      "If the reason names a policy or a full mailbox, contact the\n"
	                      "recipient another way, or the postmaster of this host.\n\n") < 0)
		return -1;
	if (d->kind == DSN_DOUBLE &&
	    buf_printf(out, "This was a bounce (sender <%s>); it could not be delivered.\n\n",
	               d->orig_sender) < 0)
		return -1;
	for (i = 0; i < d->n_rcpts; i++)
		if (buf_printf(out, "<%s>: %s\n", d->rcpts[i].addr,
		               d->rcpts[i].diagnostic ? d->rcpts[i].diagnostic
		                                      : d->rcpts[i].status) < 0)
			return -1;
	return buf_appends(out, "\n");
}

bool
dsn_rcpt_is_ours(const struct dsn_rcpt *r)
{
	if (r->origin == ORIGIN_GATEWAY)
		return false;
	if (r->origin == ORIGIN_LOCAL)
		return true;
	return dsn_reply_is_ours(r->diagnostic) ||
	       (!r->remote_mta && r->diagnostic && r->diagnostic[0] == '4');
}

/* our_words - the text of an outcome of our own, without its codes */
static const char *
our_words(const char *reply)
{
	const char *text = reply + status_skip(reply);

	return strncmp(text, DSN_OURS, strlen(DSN_OURS)) == 0 ? text + strlen(DSN_OURS) : text;
}

/* put_rcpt - one per-recipient group (RFC 3464 2.3, RFC 6533 3); an
 * outcome of our own names no Remote-MTA and no SMTP reply */
static int
put_rcpt(const struct dsn *d, const struct dsn_rcpt *r, struct buf *out)
{
	bool ours = dsn_rcpt_is_ours(r);
	const char *type = has_8bit(r->addr, strlen(r->addr)) ? "utf-8" : "rfc822";

	if (buf_printf(out, "\nFinal-Recipient: %s; %s\nAction: %s\nStatus: %s\n", type, r->addr,
	               d->kind == DSN_DELAYED ? "delayed" : "failed", r->status) < 0)
		return -1;
	if (!ours && r->remote_mta && buf_printf(out, "Remote-MTA: dns; %s\n", r->remote_mta) < 0)
		return -1;
	if (!r->diagnostic)
		return 0;
	if (!ours)
		return buf_printf(out, "Diagnostic-Code: smtp; %s\n", r->diagnostic);
	if (*our_words(r->diagnostic) == '\0')
		return 0;
	return buf_printf(out, "Diagnostic-Code: X-mailout; %s\n", our_words(r->diagnostic));
}

/* put_report - part 2: message/(global-)delivery-status (RFC 3464 2.2) */
static int
put_report(const struct dsn *d, const struct shape *sh, struct buf *out)
{
	char date[64];

	rfc5322_date(d->arrival, date, sizeof(date));
	if (buf_printf(out,
	               "--%s\nContent-Description: Delivery report\n"
	               "Content-Type: message/%sdelivery-status\n%s\n"
	               "Reporting-MTA: dns; %s\nX-Mailout-Queue-ID: %s\nArrival-Date: %s\n",
	               sh->boundary, sh->global ? "global-" : "",
	               sh->global ? "Content-Transfer-Encoding: 8bit\n" : "", d->hostname,
	               d->queue_id, date) < 0)
		return -1;
	for (size_t i = 0; i < d->n_rcpts; i++)
		if (put_rcpt(d, &d->rcpts[i], out) < 0)
			return -1;
	return buf_appends(out, "\n");
}

/* put_headers_part - part 3: the original headers, LF-terminated */
static int
put_headers_part(const struct dsn *d, const struct shape *sh, struct buf *out)
{
	size_t n = sh->headers_len;

	if (buf_printf(out, "--%s\nContent-Description: Undelivered Message Headers\n%s\n",
	               sh->boundary,
	               sh->global_headers ? "Content-Type: message/global-headers\n"
	                                    "Content-Transfer-Encoding: 8bit\n"
	                                  : "Content-Type: text/rfc822-headers\n") < 0 ||
	    buf_append(out, d->headers, n) < 0)
		return -1;
	if (n > 0 && d->headers[n - 1] != '\n' && buf_appends(out, "\n") < 0)
		return -1;
	return buf_printf(out, "\n--%s--\n", sh->boundary);
}

/* decide - boundary, and whether the report must be RFC 6533's */
static void
decide(const struct dsn *d, struct shape *sh)
{
	if (bounded_format(sh->boundary, sizeof(sh->boundary), "%s.%lld/%s", d->queue_id,
	                   (long long)d->now, d->hostname) < 0)
		(void)bounded_format(sh->boundary, sizeof(sh->boundary), "%s.%lld/mailout",
		                     d->queue_id, (long long)d->now);
	sh->headers_len = kept_headers(d);
	sh->global_headers = is_utf8(d->headers, sh->headers_len);
	sh->global = sh->global_headers || has_8bit(d->orig_sender, strlen(d->orig_sender)) ||
	             has_8bit(d->to, strlen(d->to));
	for (size_t i = 0; i < d->n_rcpts && !sh->global; i++)
		sh->global = has_8bit(d->rcpts[i].addr, strlen(d->rcpts[i].addr));
}

int
dsn_build(const struct dsn *d, struct buf *out)
{
	struct shape sh;

	decide(d, &sh);
	if (put_headers(d, &sh, out) < 0 || put_human(d, &sh, out) < 0 ||
	    put_report(d, &sh, out) < 0 || put_headers_part(d, &sh, out) < 0)
		return -1;
	return 0;
}

bool
dsn_is_double_bounce(const char *headers, size_t len)
{
	static const char marker[] = "X-Mailout-Bounce:";
	size_t pos = 0, n = sizeof(marker) - 1;

	while (pos < len) {
		const char *nl = memchr(headers + pos, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - (headers + pos)) : len - pos;

		if (llen >= n && strncasecmp(headers + pos, marker, n) == 0)
			return true;
		pos += llen + 1;
	}
	return false;
}
