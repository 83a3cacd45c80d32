/*
 * mail_spool_read.h - reading a spool file's envelope block
 *
 * A spool file (format in mail_spool.h) starts with "Name: value" lines
 * up to one blank line; the message follows.  spool_parse_envelope()
 * reads that block from memory and says where the message starts, so
 * that mailout-deliver and mailout-spool see the same envelope.  Unknown
 * envelope lines are ignored (a newer mailout-queue may add some); a
 * missing Mailout-Spool, Queue-ID, Queued-At or Envelope-From line, a
 * format version other than SPOOL_FORMAT_VERSION, or no Envelope-To at
 * all make the file invalid.
 */
#ifndef MAILOUT_MAIL_SPOOL_READ_H
#define MAILOUT_MAIL_SPOOL_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail_addr.h"
#include "mail_spool.h"
#include "result.h"

#define SPOOL_ENVELOPE_MAX ((size_t)4 * 1024 * 1024) /* the whole block */
#define SPOOL_RCPT_MAX 10000

struct spool_envelope {
	unsigned version;
	char queue_id[QUEUE_ID_LEN + 1];
	int64_t queued_at; /* seconds since the epoch */
	char sender[ADDR_PATH_MAX + 1]; /* without <>; "" is the null sender */
	char **rcpts; /* without <>; n_rcpts entries */
	size_t n_rcpts;
	size_t body_offset; /* where the message starts in the file */
};

/* spool_parse_envelope - parse the envelope block at the start of data
 * (len bytes).  Returns RES_OK, or RES_PERM with a reason in why when the
 * block is malformed, or RES_TEMP when memory runs out. env must be freed
 * with spool_envelope_free() whatever the outcome. */
enum result spool_parse_envelope(const char *data, size_t len, struct spool_envelope *env,
                                 char *why, size_t whysize);
void spool_envelope_free(struct spool_envelope *env);

/* spool_message_headers - length of the message's header section
 * (up to and including the blank line, or all of it when none) */
size_t spool_message_headers(const char *msg, size_t len);

#endif
