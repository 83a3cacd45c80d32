/*
 * queue_job.h - mailout-queue's work: read the message and the envelope,
 * write one spool file, commit it (see queue_spool.c for the states)
 *
 * Every function returns an enum qq_exit code (mail_spool.h); on
 * failure job->why says what went wrong, for the one log line.
 */
#ifndef MAILOUT_QUEUE_JOB_H
#define MAILOUT_QUEUE_JOB_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "mail_spool.h"

#define QUEUE_MEM_MAX ((size_t)1024 * 1024) /* beyond: a scratch file */
#define QUEUE_SIZE_SLACK ((uint64_t)64 * 1024) /* room for Received: */
#define QUEUE_READ_TIMEOUT 86400 /* seconds, as qmail-queue */
#define QUEUE_WHY_MAX 256

/* The message as read from fd 0, CRLF turned into LF. */
struct queue_msg {
	struct buf mem; /* the first QUEUE_MEM_MAX bytes */
	int fd; /* scratch file holding everything once mem overflowed; -1 */
	uint64_t size; /* canonical bytes seen */
	uint64_t max; /* refuse more than this; 0: no limit */
	bool too_big; /* size passed max: content dropped */
	bool cr; /* a CR is held back from the previous chunk */
};

struct qq_job {
	/* set by the caller */
	const char *spool; /* the spool directory */
	char id[QUEUE_ID_LEN + 1]; /* caller's choice, or "" to generate */
	int msgfd, envfd; /* 0 and 1 */
	uint64_t max_size; /* 0: no limit */
	/* results */
	char why[QUEUE_WHY_MAX]; /* on failure, for the log */
	/* private */
	int spoolfd, tmpfd, newfd;
	bool tmp_created; /* tmp/ID exists and is ours: unlink on failure */
	struct queue_msg msg;
	struct envelope env;
};

void qq_job_init(struct qq_job *job);
void qq_job_free(struct qq_job *job);
/* queue_run - the whole of mailout-queue after option parsing */
int queue_run(struct qq_job *job);

/* queue_fail - note why (with errno text when err != 0); returns code */
int queue_fail(struct qq_job *job, int code, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The message store (queue_msg.c). */
void queue_msg_init(struct queue_msg *m, uint64_t max);
void queue_msg_free(struct queue_msg *m);
/* queue_msg_add - canonicalise n bytes; spills into a scratch file in
 * tmpdir (an O_TMPFILE, never visible) past QUEUE_MEM_MAX */
int queue_msg_add(struct queue_msg *m, int tmpdir, const char *in, size_t n);
/* queue_msg_finish - end of input: flush a held-back CR */
int queue_msg_finish(struct queue_msg *m, int tmpdir);
/* queue_msg_write - write head (the envelope block), then the stored
 * message, to fd: one writev when the message is held in memory */
int queue_msg_write(struct queue_msg *m, const char *head, size_t head_len, int fd);
/* queue_read_message - read fd 0 to EOF into job->msg */
int queue_read_message(struct qq_job *job);
/* queue_read_envelope - read fd 1 to EOF and parse it into job->env */
int queue_read_envelope(struct qq_job *job);

/* queue_write_all - write n bytes, riding out EINTR and short writes */
int queue_write_all(int fd, const void *p, size_t n);
/* queue_errno_code - 51 for ENOMEM, 53 for the rest of write trouble */
int queue_errno_code(int err);

#endif
