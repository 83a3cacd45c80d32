/*
 * sendmail_enqueue.c - one local injection, from stdin to mailout-queue
 *
 * What it is for: the -bm mode of mailout-sendmail.  Sender and
 * recipients are settled (rewritten, qualified, checked) and the
 * header section read before mailout-queue is started, so that most
 * mistakes are reported without touching the spool; the body then
 * streams through in pieces, with the size limit enforced on the way.
 * What it must never do: exit 0 unless mailout-queue exited 0, or let
 * a message that broke a limit reach the queue (it gets no envelope).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "sendmail.h"
#include "log.h"
#include "mail_spool.h"

#define SM_WRITE_CHUNK ((size_t)64 * 1024)

/* fail - log why and return the exit code */
static int
fail(int code, const char *what)
{
	log_warn("%s", what);
	return code;
}

/* code_of - the exit code for a result that is not RES_OK */
static int
code_of(enum result r)
{
	return r == RES_PERM ? EX_DATAERR : EX_TEMPFAIL;
}

/* settle_sender - -f (first address of its argument; "" or "<>" is the
 * null sender) or the login name, then masqueraded */
static int
settle_sender(const struct sm_context *c, char *out, size_t outsize)
{
	const char *s = c->opts->sender;
	struct addrlist_item it;
	size_t pos = 0;
	int rc;

	if (s == NULL) {
		if (c->user[0] == '\0')
			return fail(EX_OSERR, "no login name for this user id; use -f");
		s = c->user;
	}
	if (!addrlist_next(s, strlen(s), &pos, &it)) {
		out[0] = '\0'; /* "", "<>": the null sender */
		return EX_OK;
	}
	if (it.bad || rewrite_address(&c->rw, REWRITE_SENDER, it.addr, out, outsize) < 0 ||
	    (rc = sm_check_address(out)) == -1)
		return fail(EX_DATAERR, "bad sender address");
	if (rc < 0)
		return fail(EX_DATAERR, "sender address not accepted (a local part with < or > "
		                        "cannot be queued)");
	return EX_OK;
}

/* settle_recipients - arguments, then (-t) the headers */
static int
settle_recipients(struct sm_context *c, struct sm_message *m, struct sm_rcpts *r)
{
	char err[400];
	enum result res;
	int i;

	err[0] = '\0';
	for (i = 0; i < c->opts->n_rcpts; i++) {
		res = sm_add_recipients(&c->rw, c->opts->rcpts[i], strlen(c->opts->rcpts[i]), r,
		                        err, sizeof(err));
		if (res != RES_OK)
			return fail(code_of(res), err[0] ? err : "out of memory");
	}
	if (c->opts->extract) {
		res = sm_extract_recipients(&c->rw, m, r, err, sizeof(err));
		if (res != RES_OK)
			return fail(code_of(res), err[0] ? err : "out of memory");
	}
	if (r->n == 0)
		return fail(EX_USAGE, "no recipients given (use arguments or -t)");
	return EX_OK;
}

/* stream_body - the rest of stdin to the queue, in bounded pieces */
static int
stream_body(struct sm_context *c, struct sm_reader *rd, struct sm_queue *q, uint64_t size)
{
	struct buf chunk = BUF_INIT(SM_WRITE_CHUNK + SM_PIECE);
	int got = 1, code = EX_OK;

	while (got > 0 && code == EX_OK) {
		while (chunk.len < SM_WRITE_CHUNK &&
		       (got = sm_read_piece(rd, &chunk, SM_PIECE)) > 0)
			;
		size += chunk.len;
		if (got < 0)
			code = fail(EX_TEMPFAIL, "error reading the message");
		else if (c->max_size > 0 && size > c->max_size)
			code = fail(EX_DATAERR, "message larger than limits.message_size");
		else if (chunk.len > 0 && sm_queue_write(q, chunk.s, chunk.len) < 0)
			code = fail(EX_TEMPFAIL, "mailout-queue stopped reading the message");
		buf_reset(&chunk);
	}
	buf_free(&chunk);
	return code;
}

/* hand_off - start mailout-queue, send headers and body, envelope */
static int
hand_off(struct sm_context *c, struct sm_reader *rd, const struct buf *head,
         const struct sm_message *m, const char *sender, const struct sm_rcpts *r, const char *id)
{
	struct sm_queue q;
	int code, qcode;

	if (sm_queue_open(&q, c->queue_path, c->queue_socket, c->config, id) < 0) {
		log_warn_errno("unable to %s %s", c->queue_socket[0] ? "connect to" : "execute",
		               c->queue_socket[0] ? c->queue_socket : c->queue_path);
		return EX_TEMPFAIL;
	}
	code = EX_OK;
	if (sm_queue_write(&q, head->s, head->len) < 0 ||
	    (m->first.len > 0 && sm_queue_write(&q, m->first.s, m->first.len) < 0))
		code = fail(EX_TEMPFAIL, "mailout-queue stopped reading the message");
	if (code == EX_OK)
		code = stream_body(c, rd, &q, head->len + m->first.len);
	if (code != EX_OK) {
		sm_queue_abort(&q);
		return code;
	}
	qcode = sm_queue_finish(&q, sender, r);
	if (qcode != 0)
		log_warn("%s: mailout-queue failed (%s %d); message not queued", id,
		         qcode < 0 ? "killed" : "exit", qcode);
	else if (c->opts->verbose > 0)
		log_info("%s: queued", id);
	return sm_exit_code(qcode < 0 ? 81 : qcode);
}

/* prepare - headers read, recipients settled, header section composed */
static int
prepare(struct sm_context *c, struct sm_reader *rd, struct sm_message *m, struct sm_rcpts *r,
        const char *sender, struct buf *head, char *id, size_t idsize)
{
	struct sm_origin o;
	char err[400];
	enum result res;
	int code;

	err[0] = '\0';
	if ((res = sm_read_headers(rd, m, err, sizeof(err))) != RES_OK)
		return fail(code_of(res), err);
	if ((code = settle_recipients(c, m, r)) != EX_OK)
		return code;
	if (c->max_hops > 0 && m->received > c->max_hops)
		return fail(EX_DATAERR, "too many Received: headers (mail loop?)");
	o.uid = c->uid;
	o.hostname = c->hostname;
	o.sender = sender;
	o.fullname = c->opts->fullname ? c->opts->fullname : (c->opts->sender ? NULL : c->gecos);
	o.now = time(NULL);
	o.queue_id = id;
	if (queue_id_new(id, idsize) < 0 || sm_compose_headers(&o, &c->rw, m, head) < 0)
		return fail(EX_TEMPFAIL, "out of memory or randomness");
	if (c->max_size > 0 && head->len > c->max_size)
		return fail(EX_DATAERR, "message larger than limits.message_size");
	return EX_OK;
}

int
sm_enqueue(struct sm_context *c)
{
	struct sm_reader *rd;
	struct sm_message m;
	struct sm_rcpts r = {NULL, 0};
	struct buf head = BUF_INIT(SM_HEADER_MAX * 2);
	char sender[ADDR_PATH_MAX + 1], id[QUEUE_ID_LEN + 1];
	int code;

	if ((code = settle_sender(c, sender, sizeof(sender))) != EX_OK)
		return code;
	if ((rd = malloc(sizeof(*rd))) == NULL)
		return fail(EX_TEMPFAIL, "out of memory");
	sm_reader_init(rd, 0, c->opts->dot_ends);
	sm_message_init(&m);
	code = prepare(c, rd, &m, &r, sender, &head, id, sizeof(id));
	if (code == EX_OK)
		code = hand_off(c, rd, &head, &m, sender, &r, id);
	buf_free(&head);
	sm_message_free(&m);
	sm_rcpts_free(&r);
	free(rd);
	return code;
}

_Static_assert(RES_OK == 0, "RES_OK must be enum result's");
