/*
 * mail_qclient.h - the one client of the queue hand-off
 *
 * Every program that puts a message into the spool does it here, the
 * qmail way (notqmail qmail.c): a program - mailout-queue, or the
 * scanner mailout-scan in front of it - gets the message on its fd 0
 * and the envelope "F<sender>\0T<rcpt>\0...\0" on its fd 1, and its
 * exit code (qmail-queue's table, enum qq_exit) is the verdict.  Or no
 * program runs: the read ends of the two pipes go to mailout-queue
 * --socket over a unix socket (protocol in queue/queue_main.c) and the
 * exit code comes back as one octet.
 *
 * Which of them (qclient_open):
 *   1. o->program, when set: exactly that program;
 *   2. o->scan: $MAILOUT_SCAN when set;
 *   3. o->queue_env: $MAILOUT_QUEUE when set (an explicit queue program,
 *      which may itself be a filter such as mailout-scan);
 *   4. o->scan: SBINDIR/mailout-scan;
 *   5. o->socket, when set (queue.socket): the socket;
 *   6. SBINDIR/mailout-queue.
 * The environment is read with secure_getenv: a set-id caller never
 * runs what its caller names.
 *
 * With o->reply a program (never the socket) also gets the write end of
 * a pipe on its fd 3; after exit 31 the first line read from it is the
 * reply when it is a well-formed 5xx reply (mailout-scan names the
 * executable there), else the table's.
 *
 * The calls: qclient_open, qclient_write..., then either qclient_commit
 * (or qclient_commitv) or qclient_abort.  A write error (EPIPE: the
 * program stopped reading) never raises SIGPIPE and is latched: the
 * commit then sends no envelope and reports the program's exit code.
 */
#ifndef MAILOUT_MAIL_QCLIENT_H
#define MAILOUT_MAIL_QCLIENT_H

#include <fcntl.h>
#include <unistd.h>

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "mail_reply.h"
#include "mail_spool.h"
#include "result.h"

#define QCLIENT_SOCKET_MAGIC "mailout-queue/1" /* queue/queue_main.c: the request line */
#define QCLIENT_NAME_MAX 256 /* of the program or socket named in log lines */
#define QCLIENT_REPLY_MAX 512 /* octets read from the reply pipe */
#define QCLIENT_TIMEOUT_DEFAULT 600 /* seconds: limits.data_timeout's default */

struct qclient_opts {
	const char *id; /* -i ID (and on the socket's request line); NULL: none */
	const char *config; /* -c FILE for a program; NULL: none */
	const char *program; /* run exactly this; NULL: choose (above) */
	const char *socket; /* queue.socket; NULL or "": none */
	bool scan; /* content.block_executables: mailout-scan goes first */
	bool queue_env; /* honour $MAILOUT_QUEUE */
	bool reply; /* a reply pipe on the program's fd 3 */
	/* seconds each write of the message or envelope, and the wait for
	 * the verdict, may take; 0: QCLIENT_TIMEOUT_DEFAULT.  Past it the
	 * program is killed (SIGKILL: the queue's commit is crash-safe) and
	 * the hand-off fails temporarily (451). */
	unsigned timeout;
};

struct qclient {
	pid_t pid; /* the program; 0: none */
	int sock; /* connection to mailout-queue --socket; -1: none */
	int msg_fd; /* write end of its fd 0; -1 when closed */
	int env_fd; /* write end of its fd 1; -1 when closed */
	int reply_fd; /* read end of its fd 3; -1: none */
	bool failed; /* a write failed: the message is lost */
	int exit; /* after commit: its exit code; -1 when it died or said nothing */
	char id[QUEUE_ID_LEN + 1]; /* "" when none was given */
	char name[QCLIENT_NAME_MAX]; /* what runs, for log lines */
	unsigned timeout; /* seconds, from the options */
};

/* qclient_init - an idle client: nothing runs, nothing to close */
void qclient_init(struct qclient *q);
/* qclient_running - a program runs or a socket is connected */
bool qclient_running(const struct qclient *q);
/* qclient_open - start the hand-off; RES_TEMP with a 451 reply when it
 * cannot (no program, no socket, no pipes) */
enum result qclient_open(struct qclient *q, const struct qclient_opts *o, struct reply *r);
/* qclient_write - message octets; 0, or -1 once a write failed (then
 * later writes do nothing) */
int qclient_write(struct qclient *q, const void *p, size_t n);
/* qclient_commit - end the message, send the envelope (rcpts is a list
 * of rcpts_len octets: "addr\0addr\0..."), wait; r is 250 only on exit
 * 0; q->exit is the exit code */
enum result qclient_commit(struct qclient *q, const char *sender, const char *rcpts,
                           size_t rcpts_len, struct reply *r);
/* qclient_commitv - the same with an array of n recipients */
enum result qclient_commitv(struct qclient *q, const char *sender, const char *const *rcpts,
                            size_t n, struct reply *r);
/* qclient_abort - close both pipes without an envelope (the program
 * queues nothing and exits 91), wait for it */
void qclient_abort(struct qclient *q);

/* The table: an exit code of the queue program as an SMTP reply and as
 * a sysexits code.  code -1: it died or gave no verdict (temporary). */
void qclient_exit_reply(int code, const char *id, struct reply *r);
int qclient_exit_sysexit(int code);
/* qclient_parse_reply - a line "5xx 5.y.z text" (up to a newline) into
 * r, the status code taken from mail_reply.h's table; -1 when it is
 * not a well-formed permanent reply */
int qclient_parse_reply(const char *line, size_t len, struct reply *r);

#endif
