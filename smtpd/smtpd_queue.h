/*
 * smtpd_queue.h - handing a message to the queue (qmail-queue protocol)
 *
 * The receiver never opens a spool file: lib/mail_qclient.h runs the
 * queue program with the message on its fd 0 and the envelope on its
 * fd 1 and reads the verdict from its exit code, or passes the two
 * pipes to mailout-queue --socket (queue.socket).  With
 * content.block_executables the program is mailout-scan ($MAILOUT_SCAN,
 * else the compiled-in one), which names a refused attachment on a
 * reply pipe (its fd 3); an explicit $MAILOUT_QUEUE (unless $MAILOUT_SCAN
 * is set too) replaces the whole chain, as qmail's QMAILQUEUE does.
 */
#ifndef MAILOUT_SMTPD_QUEUE_H
#define MAILOUT_SMTPD_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "mail_qclient.h"
#include "mail_reply.h"
#include "mail_spool.h"

struct queue_job {
	struct qclient qc;
	char id[QUEUE_ID_LEN + 1]; /* chosen here, for Received: and the logs */
};

/* queue_init - nothing running, no ID */
void queue_init(struct queue_job *q);
/* queue_running - the program runs (or its socket is connected) */
bool queue_running(const struct queue_job *q);
/* queue_open - new queue ID, then the hand-off for cfg (the scanner,
 * queue.socket) with "-i ID [-c config_path]"; RES_TEMP with a 451
 * reply when it cannot run */
enum result queue_open(struct queue_job *q, const struct config *cfg, const char *config_path,
                       struct reply *r);
/* queue_write - message octets; after a failure it does nothing */
void queue_write(struct queue_job *q, const void *p, size_t n);
/* queue_commit - close the message, send the envelope ("addr\0" list
 * of recipients, rcpts_len octets), wait; the reply is 250 only on
 * exit 0, the scanner's 554 naming the file on its refusal */
enum result queue_commit(struct queue_job *q, const char *sender, const char *rcpts,
                         size_t rcpts_len, struct reply *r);
/* queue_abort - close both pipes without an envelope (the program
 * writes nothing and exits 91) and reap it */
void queue_abort(struct queue_job *q);
/* queue_exit_reply - the reply for a wait status (lib's table) */
void queue_exit_reply(int status, const char *id, struct reply *r);

#endif
