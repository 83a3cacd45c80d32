/*
 * smtpd_queue.h - handing a message to the queue (qmail-queue protocol)
 *
 * The receiver never opens a spool file: lib/mail_qclient.h runs the
 * queue program with the message on its fd 0 and the envelope on its
 * fd 1 and reads the verdict from its exit code, or passes the two
 * pipes to mailout-queue --socket (queue.socket).  The program is
 * $MAILOUT_QUEUE (qmail's QMAILQUEUE: it may be a filter), else
 * mailout-queue --socket, else the compiled-in mailout-queue.
 *
 * With content.block_executables the message is not streamed: it is
 * held in a memfd as it arrives (bounded by limits.message_size), and
 * at its end sealed, inspected in a confined child (smtpd_inspect.h),
 * and then handed on, refused with the 554 naming the file, or
 * replaced by a notification to the sender (smtpd/scan_act.c, the
 * code mailout-scan runs too).  $MAILOUT_SCAN is not used.
 */
#ifndef MAILOUT_SMTPD_QUEUE_H
#define MAILOUT_SMTPD_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "mail_qclient.h"
#include "mail_reply.h"
#include "mail_spool.h"

struct queue_job {
	struct qclient qc; /* streaming (block_executables off) */
	char id[QUEUE_ID_LEN + 1]; /* chosen here, for Received: and the logs */
	/* held (block_executables on): the message so far */
	int memfd; /* -1: none */
	uint64_t held, max; /* octets in it; at most */
	bool too_big; /* more than max was written: 552 */
	bool failed; /* a write failed: 451 */
	const struct config *cfg;
	const char *config_path;
};

/* queue_init - nothing running, no ID */
void queue_init(struct queue_job *q);
/* queue_running - the program runs (or its socket is connected), or a
 * message is being held */
bool queue_running(const struct queue_job *q);
/* queue_open - new queue ID, then the hand-off for cfg (queue.socket)
 * with "-i ID [-c config_path]", or the memfd that holds the message
 * until it is inspected; RES_TEMP with a 451 reply when it cannot */
enum result queue_open(struct queue_job *q, const struct config *cfg, const char *config_path,
                       struct reply *r);
/* queue_write - message octets; after a failure it does nothing */
void queue_write(struct queue_job *q, const void *p, size_t n);
/* queue_commit - close the message, send the envelope ("addr\0" list
 * of recipients, rcpts_len octets), wait; the reply is 250 only on
 * exit 0.  A held message is inspected first: an executable gets the
 * 554 naming the file (or, with executable_action = bounce, 250 and a
 * notification queued to the sender). */
enum result queue_commit(struct queue_job *q, const char *sender, const char *rcpts,
                         size_t rcpts_len, struct reply *r);
/* queue_abort - close both pipes without an envelope (the program
 * writes nothing and exits 91) and reap it; or drop the held message */
void queue_abort(struct queue_job *q);
/* queue_exit_reply - the reply for a wait status (lib's table) */
void queue_exit_reply(int status, const char *id, struct reply *r);

#endif
