/*
 * mail_dsn.h - RFC 3464 / RFC 6533 delivery status notifications (bounces)
 *
 * dsn_build() writes a complete message (LF line endings, as the spool
 * holds it) ready for mailout-queue with the null sender:
 *
 *   multipart/report; report-type=delivery-status
 *     1. text/plain: what happened and what to do
 *     2. message/delivery-status: Reporting-MTA, Arrival-Date, and per
 *        recipient Final-Recipient, Action, Status, Remote-MTA,
 *        Diagnostic-Code
 *     3. text/rfc822-headers: the original headers (never the body)
 *
 * When an address (a recipient, the original sender) or the returned
 * headers hold UTF-8, the report is RFC 6533's global form instead:
 * report-type=global-delivery-status, part 2 message/global-delivery-
 * status with "Final-Recipient: utf-8; jürgen@example.org" for a
 * non-ASCII address (ASCII ones stay "rfc822;"), and part 3
 * message/global-headers when the headers hold UTF-8; the parts with
 * 8-bit text say Content-Transfer-Encoding: 8bit.
 *
 * Diagnostic-Code names who said it.  A reply the gateway sent is
 * "smtp; 550 5.1.1 text" with "Remote-MTA: dns; host".  An outcome
 * mailout decided itself (no SMTPUTF8 or too small a SIZE at the
 * gateway, a connection or DNS failure that outlived queue.lifetime) is
 * "X-mailout; text" without Remote-MTA: its reply carries DSN_OURS
 * after the codes ("553 5.6.7 mailout: text", the shape the deliverer
 * records such outcomes in; dsn_mark_ours makes it).
 *
 * Every DSN is From: MAILER-DAEMON@hostname, Auto-Submitted:
 * auto-replied (RFC 3834).  A double bounce (a bounce that could not
 * be delivered, sent to the postmaster) also carries the header
 * "X-Mailout-Bounce: double"; when such a message fails in turn it is
 * dropped with a log line (dsn_is_double_bounce).
 */
#ifndef MAILOUT_MAIL_DSN_H
#define MAILOUT_MAIL_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define DSN_HEADERS_MAX ((size_t)256 * 1024) /* original headers kept */
#define DSN_OURS "mailout: " /* after "553 5.6.7 ": mailout's own words */

enum dsn_kind { DSN_FAILED, DSN_DELAYED, DSN_DOUBLE };

struct dsn_rcpt {
	const char *addr; /* without <> */
	const char *status; /* "5.1.1" */
	const char *diagnostic; /* "550 5.1.1 unknown user"; NULL: none */
	const char *remote_mta; /* gateway host name; NULL: not reached */
};

struct dsn {
	enum dsn_kind kind;
	const char *hostname; /* Reporting-MTA, From: MAILER-DAEMON@ */
	const char *queue_id; /* of the original message */
	int64_t arrival; /* original's Queued-At */
	int64_t now;
	int64_t give_up; /* DSN_DELAYED: when the system stops trying */
	const char *to; /* recipient of the DSN (original sender, postmaster) */
	const char *orig_sender; /* "" for <> */
	const struct dsn_rcpt *rcpts;
	size_t n_rcpts;
	const char *headers; /* original header section, LF endings */
	size_t headers_len;
};

/* dsn_build - append the DSN message to out; -1 when out cannot grow */
int dsn_build(const struct dsn *d, struct buf *out);

/* dsn_reply_is_ours - does reply ("553 5.6.7 mailout: ...") carry
 * DSN_OURS, i.e. record an outcome mailout decided itself? */
bool dsn_reply_is_ours(const char *reply);

/* dsn_mark_ours - reply with DSN_OURS after its codes into out ("451
 * 4.4.1 text" -> "451 4.4.1 mailout: text"); unchanged when already
 * marked or without a reply code.  -1 when out is too small. */
int dsn_mark_ours(const char *reply, char *out, size_t outsize);

/* dsn_is_double_bounce - does this header section carry the marker? */
bool dsn_is_double_bounce(const char *headers, size_t len);

#endif
