/*
 * mail_dsn.c - building RFC 3464 delivery status notifications
 *
 * What it is for: telling a sender, in words and in a machine-readable
 * report, which recipients failed (or are delayed) and why.
 * What it must never do: include the original body (privacy, size), or
 * produce a report without the null-sender markers (From:
 * MAILER-DAEMON, Auto-Submitted) that stop mail loops.
 */
#include "mail_dsn.h"

#include <string.h>
#include <strings.h>
#include <time.h>

/* rfc5322_date - "Mon, 24 Nov 2025 16:00:00 +0000" */
static void
rfc5322_date(int64_t t, char *out, size_t outsize)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
	    tm.tm_mon > 11) {
		(void)bounded_copy(out, outsize, "Thu, 1 Jan 1970 00:00:00 +0000");
		return;
	}
	if (bounded_format(out, outsize, "%s, %d %s %d %02d:%02d:%02d +0000", days[tm.tm_wday],
	                   tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	                   tm.tm_sec) < 0)
		out[0] = '\0';
}

/* put_headers - the DSN's own header section */
static int
put_headers(const struct dsn *d, const char *boundary, struct buf *out)
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
	                  "Content-Type: multipart/report; report-type=delivery-status;\n"
	                  "\tboundary=\"%s\"\n"
	                  "\n"
	                  "This is a MIME-encapsulated message.\n\n",
	                  boundary);
}

/* put_human - part 1: what happened and what to do */
static int
put_human(const struct dsn *d, const char *boundary, struct buf *out)
{
	char until[64];
	size_t i;

	if (buf_printf(out,
	               "--%s\nContent-Description: Notification\n"
	               "Content-Type: text/plain; charset=utf-8\n\n"
	               "This is the mail system at host %s.\n\n",
	               boundary, d->hostname) < 0)
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

/* put_report - part 2: message/delivery-status (RFC 3464 2.2, 2.3) */
static int
put_report(const struct dsn *d, const char *boundary, struct buf *out)
{
	char date[64];
	size_t i;

	rfc5322_date(d->arrival, date, sizeof(date));
	if (buf_printf(out,
	               "--%s\nContent-Description: Delivery report\n"
	               "Content-Type: message/delivery-status\n\n"
	               "Reporting-MTA: dns; %s\nX-Mailout-Queue-ID: %s\nArrival-Date: %s\n",
	               boundary, d->hostname, d->queue_id, date) < 0)
		return -1;
	for (i = 0; i < d->n_rcpts; i++) {
		const struct dsn_rcpt *r = &d->rcpts[i];

		if (buf_printf(out, "\nFinal-Recipient: rfc822; %s\nAction: %s\nStatus: %s\n",
		               r->addr, d->kind == DSN_DELAYED ? "delayed" : "failed",
		               r->status) < 0)
			return -1;
		if (r->remote_mta && buf_printf(out, "Remote-MTA: dns; %s\n", r->remote_mta) < 0)
			return -1;
		if (r->diagnostic &&
		    buf_printf(out, "Diagnostic-Code: smtp; %s\n", r->diagnostic) < 0)
			return -1;
	}
	return buf_appends(out, "\n");
}

/* put_headers_part - part 3: the original headers, LF-terminated */
static int
put_headers_part(const struct dsn *d, const char *boundary, struct buf *out)
{
	size_t n = d->headers_len;

	if (n > DSN_HEADERS_MAX)
		n = DSN_HEADERS_MAX;
	/* the blank line ending the section is ours to write */
	while (n > 0 && d->headers[n - 1] == '\n' && (n < 2 || d->headers[n - 2] == '\n'))
		n--;
	if (buf_printf(out,
	               "--%s\nContent-Description: Undelivered Message Headers\n"
	               "Content-Type: text/rfc822-headers\n\n",
	               boundary) < 0 ||
	    buf_append(out, d->headers, n) < 0)
		return -1;
	if (n > 0 && d->headers[n - 1] != '\n' && buf_appends(out, "\n") < 0)
		return -1;
	return buf_printf(out, "\n--%s--\n", boundary);
}

int
dsn_build(const struct dsn *d, struct buf *out)
{
	char boundary[96];

	if (bounded_format(boundary, sizeof(boundary), "%s.%lld/%s", d->queue_id, (long long)d->now,
	                   d->hostname) < 0)
		(void)bounded_format(boundary, sizeof(boundary), "%s.%lld/mailout", d->queue_id,
		                     (long long)d->now);
	if (put_headers(d, boundary, out) < 0 || put_human(d, boundary, out) < 0 ||
	    put_report(d, boundary, out) < 0 || put_headers_part(d, boundary, out) < 0)
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
