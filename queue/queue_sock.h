/*
 * queue_sock.h - mailout-queue --socket: one client's request (queue_sock.c)
 *
 * The protocol is in queue_main.c's opening comment.
 */
#ifndef MAILOUT_QUEUE_SOCK_H
#define MAILOUT_QUEUE_SOCK_H

#include <sys/socket.h>

#include "queue_job.h"

#define SOCK_MAGIC "mailout-queue/1" /* the request line's first word */
#define SOCK_REQ_MAX 64 /* octets of a request line, newline included */
#define SOCK_REQ_TIMEOUT 30 /* seconds for the request to arrive */

/* A --socket request: the line, the two pipes, who sent them. */
struct sock_req {
	char line[SOCK_REQ_MAX];
	size_t len;
	int fds[2]; /* message, envelope; -1: none */
	struct ucred peer;
};

/* sock_req_init - no request, no fds, no peer yet */
void sock_req_init(struct sock_req *rq);
/* sock_job - take the request on fd 0 (a connected socket); on QQ_OK
 * job->msgfd and job->envfd are the client's pipes */
int sock_job(struct sock_req *rq, struct qq_job *job);
/* sock_done - the exit-code octet to the client (once the request was
 * taken); close the pipes */
void sock_done(struct sock_req *rq, int rc);
/* sock_alarm_reply - from a SIGALRM handler: tell the client 54 */
void sock_alarm_reply(void);

#endif
