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
 * Diagnostic-Code names who said it, as the deliverer recorded it
 * (dsn_rcpt.origin, from the state file).  A reply the gateway sent is
 * "smtp; 550 5.1.1 text" with "Remote-MTA: dns; host".  An outcome
 * mailout decided itself (no SMTPUTF8 or too small a SIZE at the
 * gateway, a connection or DNS failure that outlived queue.lifetime) is
 * "X-mailout; text" without Remote-MTA.  A recipient of unknown origin
 * (a state line of an older deliverer) is judged as that deliverer
 * wrote it: a reply carrying DSN_OURS after its codes ("553 5.6.7
 * mailout: text"), or a 4xx without a Remote-MTA, is mailout's own.
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
#include "mail_state.h"

#define DSN_HEADERS_MAX ((size_t)256 * 1024) /* original headers kept */
#define DSN_OURS "mailout: " /* older state files: after "553 5.6.7 " */

enum dsn_kind { DSN_FAILED, DSN_DELAYED, DSN_DOUBLE };

struct dsn_rcpt {
	const char *addr; /* without <> */
	const char *status; /* "5.1.1" */
	const char *diagnostic; /* "550 5.1.1 unknown user"; NULL: none */
	const char *remote_mta; /* gateway host name; NULL: not reached */
	enum rcpt_origin origin; /* who decided; ORIGIN_UNKNOWN: judge the reply */
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
 * DSN_OURS, i.e. record (in an older state file) an outcome mailout
 * decided itself? */
bool dsn_reply_is_ours(const char *reply);

/* dsn_rcpt_is_ours - did mailout decide r's outcome (no Remote-MTA,
 * Diagnostic-Code X-mailout)?  By r->origin; when unknown, by the
 * older rules above. */
bool dsn_rcpt_is_ours(const struct dsn_rcpt *r);

/* dsn_is_double_bounce - does this header section carry the marker? */
bool dsn_is_double_bounce(const char *headers, size_t len);

#endif
