/*
 * scan_reply.c - telling the sender: the reply line and the notification
 *
 * What it is for: one SMTP reply line for executable_action = reject
 * (the receiver passes it on), and, for executable_action = bounce, a
 * notification to the envelope sender in the shape of an RFC 3464
 * report: what was not delivered and why, with the original header
 * section (never the body: that is what was refused).
 * What it must never do: put an unsanitised name into either (names
 * come from the message: scan_sanitize has made them printable ASCII
 * without quotes), or write a notification that could bounce back in
 * a loop (it goes with the null sender, Auto-Submitted: auto-replied).
 */
#include "scan.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mail_reply.h"

#define ADVICE "send it as a link or ask your mail admin"
#define HEADERS_MAX ((size_t)256 * 1024)

/* subject - "Attachment "x" (inside "y")" or "Message" */
static void
subject(const struct scan_verdict *v, char *out, size_t outsize)
{
	if (v->name[0] == '\0')
		(void)bounded_copy(out, outsize, "Message");
	else if (v->outer[0] != '\0' && strcmp(v->outer, v->name) != 0)
		(void)bounded_format(out, outsize, "Attachment \"%s\" (inside \"%s\")", v->name,
		                     v->outer);
	else
		(void)bounded_format(out, outsize, "Attachment \"%s\"", v->name);
}

void
scan_reply(const struct scan_verdict *v, struct reply *r)
{
	char what[2 * SCAN_NAME_MAX + 64];

	subject(v, what, sizeof(what));
	if (v->kind == SCAN_EXEC)
		reply_set(r, 554, ESC_POLICY, "%s is an executable and is not accepted; " ADVICE,
		          what);
	else
		reply_set(r, 554, ESC_POLICY,
		          "%s cannot be inspected (%s) and is not accepted; " ADVICE, what, v->why);
}

int
scan_reply_line(const struct scan_verdict *v, char *out, size_t outsize)
{
	struct reply r;

	scan_reply(v, &r);
	return reply_format(&r, out, outsize);
}

/* date - RFC 5322 date of now */
static void
date(char *out, size_t outsize)
{
	time_t now = time(NULL);
	struct tm tm;

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(out, outsize, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		(void)bounded_copy(out, outsize, "Thu, 01 Jan 1970 00:00:00 +0000");
}

/* header_section - the original headers, up to the empty line */
static size_t
header_section(const char *msg, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && i < HEADERS_MAX; i++)
		if (msg[i] == '\n' && (msg[i + 1] == '\n' ||
		                       (msg[i + 1] == '\r' && i + 2 < len && msg[i + 2] == '\n')))
			return i + 1;
	return len < HEADERS_MAX ? len : HEADERS_MAX;
}

int
scan_notification(const struct scan_verdict *v, const char *hostname, const char *queue_id,
                  const char *sender, const char *const *rcpts, size_t n_rcpts, const char *msg,
                  size_t len, struct buf *out)
{
	char line[REPLY_TEXT_MAX + 16], when[64];
	size_t hl = header_section(msg, len), i;

	if (scan_reply_line(v, line, sizeof(line)) < 0)
		return -1;
	date(when, sizeof(when));
	if (buf_printf(out,
	               "From: Mail Delivery System <MAILER-DAEMON@%s>\n"
	               "To: <%s>\n"
	               "Subject: Undelivered Mail: executable attachment\n"
	               "Date: %s\n"
	               "Message-ID: <%s.scan@%s>\n"
	               "Auto-Submitted: auto-replied\n"
	               "MIME-Version: 1.0\n"
	               "Content-Type: multipart/report; report-type=delivery-status;\n"
	               "\tboundary=\"%s/scan\"\n\n"
	               "This is a MIME-encapsulated message.\n\n",
	               hostname, sender, when, queue_id, hostname, queue_id) < 0)
		return -1;
	if (buf_printf(out,
	               "--%s/scan\nContent-Description: Notification\n"
	               "Content-Type: text/plain; charset=us-ascii\n\n"
	               "This is the mail system at host %s.\n\n"
	               "Your message was not delivered to any of its recipients:\n"
	               "it carries an executable attachment, and this mail system\n"
	               "does not pass on programs (also not inside archives, and\n"
	               "also not when the file name says otherwise).\n\n"
	               "    %s\n\n"
	               "What to do: put the file somewhere the recipients can fetch\n"
	               "it and send them a link, or ask your mail admin.\n\n",
	               queue_id, hostname, line) < 0)
		return -1;
	if (buf_printf(out,
	               "--%s/scan\nContent-Description: Delivery report\n"
	               "Content-Type: message/delivery-status\n\n"
	               "Reporting-MTA: dns; %s\nX-Mailout-Queue-ID: %s\nArrival-Date: %s\n",
	               queue_id, hostname, queue_id, when) < 0)
		return -1;
	for (i = 0; i < n_rcpts; i++)
		if (buf_printf(out,
		               "\nFinal-Recipient: rfc822; %s\nAction: failed\nStatus: 5.7.1\n"
		               "Diagnostic-Code: smtp; %s\n",
		               rcpts[i], line) < 0)
			return -1;
	if (buf_appends(out, "\n") < 0)
		return -1;
	if (buf_printf(out,
	               "--%s/scan\nContent-Description: Undelivered message headers\n"
	               "Content-Type: text/rfc822-headers\n\n",
	               queue_id) < 0 ||
	    buf_append(out, msg, hl) < 0 ||
	    buf_printf(out, "%s--%s/scan--\n", hl > 0 && msg[hl - 1] == '\n' ? "\n" : "\n\n",
	               queue_id) < 0)
		return -1;
	return 0;
}
