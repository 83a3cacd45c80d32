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
 *   Queue-ID: 0005F1C2A3B4D5E6.A7B8C9D0E1F2
 *   Queued-At: 1764000000 (2026-11-24T16:00:00Z)
 *   Envelope-From: <root@example.org>
 *   Envelope-To: <alice@example.org>
 *   Envelope-To: <bob@example.org>
 *
 *   Received: from ...
 *
 * Queue IDs: 16 hex digits of microseconds since the epoch, a dot, and
 * 12 characters of randomness (base32, A-Z2-7): unique without any
 * shared state and sortable by time with ls.
 */
#ifndef MAILOUT_MAIL_SPOOL_H
#define MAILOUT_MAIL_SPOOL_H

#include <stdbool.h>
#include <stddef.h>

#define QUEUE_ID_LEN 29 /* 16 + 1 + 12 */
#define SPOOL_FORMAT_VERSION 1

/* queue_id_new - fill id (QUEUE_ID_LEN + 1 bytes); -1 if no randomness */
int queue_id_new(char *id, size_t idsize);
/* queue_id_valid - syntax check (also guards path traversal) */
bool queue_id_valid(const char *id);

#endif
