/*
 * mail_spool.h - the spool's names and on-disk format
 *
 * Layout under the spool directory:
 *   tmp/ID        being written by mailout-queue (never delivered)
 *   new/ID        queued, not tried yet (the .path unit watches new/)
 *   deferred/ID   tried, waiting for its next attempt
 *   hold/ID       held by the admin
 *   state/ID      delivery state of ID (written by mailout-deliver only)
 *
 * A message file is plain text: an envelope block of "Name: value"
 * lines, one blank line, then the message with LF line endings:
 *
 *   Mailout-Spool: 1
 *   Queue-ID: 0006445941624000.A7B2C3D4E5F6
 *   Queued-At: 1764000000 (2025-11-24T16:00:00Z)
 *   Envelope-From: <root@example.org>
 *   Envelope-To: <alice@example.org>
 *   Envelope-To: <bob@example.org>
 *
 *   Received: from ...
 *
 * Queue IDs: 16 hex digits of microseconds since the epoch, a dot, and
 * 12 characters of randomness (base32, A-Z2-7): unique without any
 * shared state and sortable by time with ls.
 *
 * Envelope block rules (what a reader may rely on):
 *   - the header lines appear in the order shown, each exactly once,
 *     except Envelope-To, which appears once per recipient (at least one);
 *   - Queued-At is decimal epoch seconds, a space, and the same instant
 *     as UTC ISO 8601 in parentheses (for people; readers use the number);
 *   - Envelope-From is "<>" for the null sender; addresses are written
 *     as mailout-queue received them (it folds no case itself; the
 *     receiver lower-cases domains, never local parts), at most ENVELOPE_ADDR_MAX octets,
 *     and never contain a control character (C0, DEL) or '<' '>', so the
 *     address is exactly the text between the first '<' and the last '>';
 *   - the block ends at the first empty line; everything after it is the
 *     message, byte for byte (LF line endings; it may lack a final LF
 *     and may contain NUL bytes, as qmail-queue passes them).
 *
 * The hand-off to mailout-queue is qmail-queue's: the message on fd 0,
 * then the envelope on fd 1 as F<sender>\0T<rcpt>\0...T<rcpt>\0\0, bare
 * addresses without angle brackets, an empty sender being the null
 * sender.  Its exit codes are enum qq_exit.
 */
#ifndef MAILOUT_MAIL_SPOOL_H
#define MAILOUT_MAIL_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"

#define QUEUE_ID_LEN 29 /* 16 + 1 + 12 */
#define SPOOL_FORMAT_VERSION 1

/* queue_id_new - fill id (QUEUE_ID_LEN + 1 bytes); -1 if no randomness */
int queue_id_new(char *id, size_t idsize);
/* queue_id_valid - syntax check (also guards path traversal) */
bool queue_id_valid(const char *id);

/* Subdirectories of the spool (see the layout above). */
#define SPOOL_DIR_TMP "tmp"
#define SPOOL_DIR_NEW "new"
#define SPOOL_DIR_DEFERRED "deferred"
#define SPOOL_DIR_HOLD "hold"
#define SPOOL_DIR_STATE "state"

/* Names of the envelope block's lines, without ": ". */
#define SPOOL_HDR_VERSION "Mailout-Spool"
#define SPOOL_HDR_QUEUE_ID "Queue-ID"
#define SPOOL_HDR_QUEUED_AT "Queued-At"
#define SPOOL_HDR_FROM "Envelope-From"
#define SPOOL_HDR_TO "Envelope-To"

/* mailout-queue's exit codes: qmail-queue's table (qmail-queue.8). */
enum qq_exit {
	QQ_OK = 0,
	QQ_ADDR_TOO_LONG = 11, /* permanent */
	QQ_PERM = 31, /* permanent refusal */
	QQ_NOMEM = 51,
	QQ_WRITE = 53, /* write error or disk full */
	QQ_READ = 54, /* cannot read the message or envelope */
	QQ_CONFIG = 55, /* cannot load the config, spool missing */
	QQ_TEMP = 71, /* temporary refusal (queue ID in use) */
	QQ_BUG = 81, /* internal bug, or the caller's: bad usage */
	QQ_BAD_ENVELOPE = 91, /* envelope format error: the caller's bug */
};

/* qq_exit_permanent - "never retry"?  As qmail.c: 11-40 permanent,
 * everything else (91 included) temporary. */
bool qq_exit_permanent(int code);
/* qq_exit_text - a short description of an exit code */
const char *qq_exit_text(int code);

#define ENVELOPE_ADDR_MAX 256 /* octets; longer: QQ_ADDR_TOO_LONG */
#define ENVELOPE_RCPT_MAX 10000 /* more: QQ_BAD_ENVELOPE */
/* The largest valid envelope on fd 1, for bounding the read. */
#define ENVELOPE_RAW_MAX ((size_t)(ENVELOPE_RCPT_MAX + 1) * (ENVELOPE_ADDR_MAX + 2) + 1)

/* A parsed envelope.  sender and rcpts point into raw. */
struct envelope {
	struct buf raw; /* a copy of the bytes read from fd 1 */
	const char *sender; /* "" for the null sender */
	const char **rcpts;
	size_t n_rcpts;
};

void envelope_init(struct envelope *env);
void envelope_free(struct envelope *env);
/* envelope_parse - parse qmail-queue's F<sender>\0T<rcpt>\0...\0 from
 * data; returns QQ_OK, QQ_ADDR_TOO_LONG, QQ_BAD_ENVELOPE or QQ_NOMEM. */
int envelope_parse(struct envelope *env, const char *data, size_t len);
/* envelope_addr_ok - may this address go into a spool line? 0 if so,
 * else QQ_ADDR_TOO_LONG or QQ_BAD_ENVELOPE */
int envelope_addr_ok(const char *addr, size_t len);
/* spool_format_envelope - append the envelope block, blank line
 * included, to out; 0, or -1 with errno (ENOMEM, E2BIG, EINVAL). */
int spool_format_envelope(struct buf *out, const char *id, time_t queued_at,
                          const struct envelope *env);

#endif
