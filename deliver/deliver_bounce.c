/*
 * deliver_bounce.c - handing bounces and delay warnings to mailout-queue
 *
 * What it is for: a DSN (lib/mail_dsn.c) enters the spool like any
 * message, through mailout-queue and the qmail-queue protocol: the
 * message on its fd 0, the envelope "F\0T<to>\0\0" (null sender) on its
 * fd 1.  The program is $MAILOUT_QUEUE, else SBINDIR/mailout-queue.
 * What it must never do: write the spool itself, or report a bounce as
 * queued unless mailout-queue exited 0 (the caller keeps the
 * recipient "failed" and tries again on the next run).
 */
#include "deliver.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

#ifndef MAILOUT_SBINDIR
#define MAILOUT_SBINDIR "/usr/local/sbin"
#endif

/* write_all - the whole buffer to fd; -1 on error */
static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* child - become mailout-queue with the pipes on fd 0 and fd 1 */
static void __attribute__((noreturn))
child(const struct deliver_ctx *ctx, int msg, int env, const char *prog)
{
	const char *file = ctx->cfg->file;

	if (dup2(msg, 0) < 0 || dup2(env, 1) < 0)
		_exit(81);
	if (msg > 1)
		close(msg);
	if (env > 1)
		close(env);
	/* mailout-queue reads the same configuration as we do */
	if (file && file[0] == '/' && setenv("MAILOUT_CONFIG", file, 1) < 0)
		_exit(51);
	execl(prog, "mailout-queue", (char *)NULL);
	_exit(81);
}

/* run_queue - spawn mailout-queue, feed it; its exit code, or -1 */
static int
run_queue(const struct deliver_ctx *ctx, const struct buf *msg, const struct buf *env)
{
	const char *prog = getenv("MAILOUT_QUEUE");
	int pm[2], pe[2], status, ok;
	pid_t pid;

	if (!prog || !*prog)
		prog = MAILOUT_SBINDIR "/mailout-queue";
	if (pipe2(pm, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(pm[0]);
		close(pm[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0)
		child(ctx, pm[0], pe[0], prog);
	close(pm[0]);
	close(pe[0]);
	ok = pid > 0 && write_all(pm[1], msg->s, msg->len) == 0;
	close(pm[1]);
	ok = ok && write_all(pe[1], env->s, env->len) == 0;
	close(pe[1]);
	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status))
		return -1;
	return ok || WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : -1;
}

enum result
bounce_queue(struct deliver_ctx *ctx, const struct msg_job *m, const struct dsn_rcpt *rcpts,
             size_t n, enum dsn_kind kind, const char *to)
{
	struct buf msg = BUF_INIT(0), env = BUF_INIT(0);
	size_t hl = spool_message_headers(m->body, m->body_len);
	struct dsn d = {
	    .kind = kind,
	    .hostname = ctx->cfg->hostname,
	    .queue_id = m->id,
	    .arrival = m->env.queued_at,
	    .now = time(NULL),
	    .give_up = m->env.queued_at + ctx->cfg->queue.lifetime,
	    .to = to,
	    .orig_sender = m->env.sender,
	    .rcpts = rcpts,
	    .n_rcpts = n,
	    .headers = m->body,
	    .headers_len = hl,
	};
	int code = -1;

	if (n > 0 && dsn_build(&d, &msg) == 0 && buf_append(&env, "F\0T", 3) == 0 &&
	    buf_appends(&env, to) == 0 && buf_append(&env, "\0\0", 2) == 0)
		code = run_queue(ctx, &msg, &env);
	buf_free(&msg);
	buf_free(&env);
	if (code == 0) {
		log_info("%s: sender %s notification queued for <%s>", m->id,
		         kind == DSN_DELAYED  ? "delay"
		         : kind == DSN_DOUBLE ? "double bounce"
		                              : "bounce",
		         to);
		return RES_OK;
	}
	log_warn("%s: mailout-queue failed (exit %d) for a notification to <%s>", m->id, code, to);
	return RES_TEMP;
}
