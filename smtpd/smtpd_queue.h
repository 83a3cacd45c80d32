/*
 * smtpd_queue.h - handing a message to mailout-queue (qmail-queue protocol)
 *
 * The receiver never opens a spool file: it runs mailout-queue with the
 * message on that program's fd 0 and the envelope on its fd 1, and
 * reads the verdict from its exit code (qmail-queue(8)'s table).  With
 * queue.socket set it runs nothing: it passes the two pipes to
 * mailout-queue --socket over that unix socket (the protocol is in
 * queue/queue_main.c) and reads the exit code as one octet.
 */
#ifndef MAILOUT_SMTPD_QUEUE_H
#define MAILOUT_SMTPD_QUEUE_H

#include <fcntl.h>
#include <unistd.h>

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "mail_reply.h"
#include "mail_spool.h"

struct queue_job {
	pid_t pid; /* 0: not running */
	int sock; /* connection to mailout-queue --socket; -1: none */
	int msg_fd; /* its fd 0; -1 when closed */
	int env_fd; /* its fd 1; -1 when closed */
	bool failed; /* a write failed (EPIPE ...): the message is lost */
	char id[QUEUE_ID_LEN + 1];
};

/* queue_running - the program runs (or its socket is connected) */
bool queue_running(const struct queue_job *q);
/* queue_program - $MAILOUT_QUEUE, else the compiled-in path */
const char *queue_program(void);
/* queue_open - new queue ID, spawn "mailout-queue -i ID [-c FILE]", or
 * with socket_path (queue.socket; NULL or "": spawn) and no
 * $MAILOUT_QUEUE hand the pipes to mailout-queue --socket; RES_TEMP
 * with a 451 reply when it cannot run */
enum result queue_open(struct queue_job *q, const char *socket_path, const char *config_path,
                       struct reply *r);
/* queue_write - message octets; after a failure it only counts */
void queue_write(struct queue_job *q, const void *p, size_t n);
/* queue_commit - close the message, send the envelope ("addr\0" list
 * of nrcpt recipients), wait; the reply is 250 only on exit 0 */
enum result queue_commit(struct queue_job *q, const char *sender, const char *rcpts,
                         size_t rcpts_len, struct reply *r);
/* queue_abort - close both pipes without an envelope (the program
 * writes nothing and exits 91) and reap it */
void queue_abort(struct queue_job *q);
/* queue_exit_reply - the reply for an exit status from waitpid */
void queue_exit_reply(int status, const char *id, struct reply *r);

#endif
