/*
 * queue_sock.h - mailout-queue --socket: one client's request
 * (queue_sock.c) and the service on a listening socket (queue_server.c)
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

#define SERVER_IDLE_DEFAULT 10 /* seconds without a connection or a job: exit */
#define SERVER_IDLE_MAX 86400 /* the largest -t */
#define SERVER_CHILDREN_MAX 64 /* workers, so jobs at once; more wait in the backlog */
#define SERVER_WORKER_JOBS 1000 /* jobs of one worker before a fresh one */
#define SERVER_STOP_WAIT 30 /* seconds the jobs may take after SIGTERM */

/* A --socket request: the line, the two pipes, who sent them. */
struct sock_req {
	char line[SOCK_REQ_MAX];
	size_t len;
	int fds[2]; /* message, envelope; -1: none */
	struct ucred peer;
};

/* sock_request_parse - a request line of len octets (untrusted):
 * "mailout-queue/1\n" or "mailout-queue/1 -i ID\n" and nothing else; 0
 * (id set, "" without -i), -1 a bad line, -2 an ID of bad syntax (id "") */
int sock_request_parse(const char *l, size_t len, char id[QUEUE_ID_LEN + 1]);
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

/* server_job_fn - one connection, which is fd 0 of a worker; must
 * leave nothing of the job behind (fds, memory, timers); returns the
 * job's exit code */
typedef int (*server_job_fn)(void *arg);

/* server_listener - the listening socket handed over by a service
 * manager: fd 3 when LISTEN_FDS=1 is ours (sd_listen_fds(3)) and
 * listens, else fd 0 when it listens; *lfd = -1 when neither does (fd
 * 0 is one connection).  QQ_OK, or QQ_BUG with job->why set. */
int server_listener(int *lfd, struct qq_job *job);
/* server_run - a pool of forked workers accepting on lfd, each running
 * job(arg) per connection; returns when idle for idle seconds (0: never) or after
 * SIGTERM/SIGINT once the jobs are done; the exit code */
int server_run(int lfd, unsigned idle, server_job_fn job, void *arg);

#endif
