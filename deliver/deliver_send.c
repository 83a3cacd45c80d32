/*
 * deliver_send.c - one mail transaction on an open gateway session
 *
 * What it is for: MAIL, RCPT (pipelined when the gateway offers
 * PIPELINING), DATA and the dot-stuffed message, and a status per
 * recipient: 2xx sent, 4xx deferred, 5xx failed (to be bounced), with
 * who decided it and the relay that session talked to.  An outcome
 * decided here rather than replied by the gateway (no SMTPUTF8, over
 * its SIZE, a lost connection) is marked not remote, so the state file
 * records it as local and its bounce never presents it as the
 * gateway's.
 * What it must never do: send the message unstuffed (a line "." would
 * end it early and the rest would be read as commands), send a message
 * the gateway said it cannot take (SIZE, SMTPUTF8), or report "sent"
 * before the gateway's reply to the final dot.
 */
#include "deliver.h"

#include <stdio.h>
#include <string.h>

#include "mail_data.h"

#define BODY_CHUNK ((size_t)64 * 1024)

/* set_all - give every still-open recipient in t the same outcome,
 * from s's relay */
static void
set_all(const struct gw_session *s, struct rcpt_try *t, size_t n, const bool *open,
        enum rcpt_status st, const char *reply, bool remote)
{
	for (size_t i = 0; i < n; i++) {
		if (open && !open[i])
			continue;
		t[i].status = st;
		t[i].remote = remote;
		(void)bounded_copy(t[i].reply, sizeof(t[i].reply), reply);
		(void)bounded_copy(t[i].relay, sizeof(t[i].relay), s->relay);
	}
}

/* from_reply - outcome of one gateway reply */
static enum rcpt_status
from_reply(const struct smtp_reply *r)
{
	return r->code / 100 == 2 ? RCPT_SENT : r->code / 100 == 4 ? RCPT_DEFERRED : RCPT_FAILED;
}

/* apply - every open recipient gets reply r; the session lives on */
static void
apply(const struct gw_session *s, struct rcpt_try *t, size_t n, const bool *open,
      const struct smtp_reply *r)
{
	char line[STATE_REPLY_MAX];

	smtp_reply_oneline(r, line, sizeof(line));
	set_all(s, t, n, open, from_reply(r), line, true);
}

/* lost - the connection broke: open recipients deferred, session down */
static void
lost(struct gw_session *s, struct rcpt_try *t, size_t n, const bool *open, const char *stage)
{
	char line[STATE_REPLY_MAX];

	(void)bounded_format(line, sizeof(line), "451 4.4.2 lost connection with %s while %s: %s",
	                     s->relay, stage, s->c.err);
	set_all(s, t, n, open, RCPT_DEFERRED, line, false);
	s->up = false;
	conn_close(&s->c);
	conn_init(&s->c);
}

/* needs_utf8 - any non-ASCII octet in the envelope (RFC 6531)? */
static bool
needs_utf8(const struct msg_job *m)
{
	const char *p;

	for (p = m->env.sender; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return true;
	for (size_t i = 0; i < m->env.n_rcpts; i++)
		for (p = m->env.rcpts[i]; *p; p++)
			if ((unsigned char)*p >= 0x80)
				return true;
	return false;
}

/* mail_cmd - queue MAIL FROM with SIZE, BODY and SMTPUTF8 as fit */
static int
mail_cmd(struct gw_session *s, const struct msg_job *m, uint64_t wire, bool utf8)
{
	bool eight = false;

	for (size_t i = 0; i < m->body_len && !eight; i++)
		eight = (unsigned char)m->body[i] >= 0x80;
	if (buf_printf(&s->c.out, "MAIL FROM:<%s>", m->env.sender) < 0 ||
	    (s->ext.has_size &&
	     buf_printf(&s->c.out, " SIZE=%llu", (unsigned long long)wire) < 0) ||
	    (eight && s->ext.eightbitmime && buf_appends(&s->c.out, " BODY=8BITMIME") < 0) ||
	    (utf8 && buf_appends(&s->c.out, " SMTPUTF8") < 0))
		return -1;
	return buf_appends(&s->c.out, "\r\n");
}

/* precheck - what the gateway said it cannot take fails at once */
static bool
precheck(struct gw_session *s, const struct msg_job *m, struct rcpt_try *t, size_t n, uint64_t wire,
         bool utf8)
{
	char line[STATE_REPLY_MAX];

	if (utf8 && !s->ext.smtputf8) {
		(void)bounded_format(
		    line, sizeof(line),
		    "553 5.6.7 %s does not support SMTPUTF8, needed for this address", s->relay);
		set_all(s, t, n, NULL, RCPT_FAILED, line, false);
		return false;
	}
	if (s->ext.size && wire > s->ext.size) {
		(void)bounded_format(
		    line, sizeof(line), "552 5.3.4 message size %llu exceeds the limit %llu of %s",
		    (unsigned long long)wire, (unsigned long long)s->ext.size, s->relay);
		set_all(s, t, n, NULL, RCPT_FAILED, line, false);
		return false;
	}
	return true;
}

/* envelope - MAIL and RCPTs; marks open[i] for accepted recipients;
 * returns the count accepted, or -1 when the connection broke */
static int
envelope(struct gw_session *s, struct deliver_ctx *ctx, const struct msg_job *m, struct rcpt_try *t,
         size_t n, bool *open, uint64_t wire, bool utf8)
{
	struct smtp_reply mail, r;
	bool pipe = s->ext.pipelining;
	int accepted = 0;
	size_t i;

	if (mail_cmd(s, m, wire, utf8) < 0)
		return -1;
	for (i = 0; pipe && i < n; i++)
		if (buf_printf(&s->c.out, "RCPT TO:<%s>\r\n", t[i].addr) < 0)
			return -1;
	if (gw_exchange(s, &mail, ctx->to.mail) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (!pipe && mail.code / 100 != 2)
			break;
		if (!pipe && buf_printf(&s->c.out, "RCPT TO:<%s>\r\n", t[i].addr) < 0)
			return -1;
		if (gw_exchange(s, &r, ctx->to.rcpt) < 0)
			return -1;
		open[i] = mail.code / 100 == 2 && r.code / 100 == 2;
		if (!open[i])
			apply(s, t + i, 1, NULL, mail.code / 100 == 2 ? &r : &mail);
		accepted += open[i];
	}
	if (mail.code / 100 != 2)
		apply(s, t, n, NULL, &mail);
	return accepted;
}

/* body - the message through the streaming dot-stuffer, BODY_CHUNK
 * bytes at a time wherever they split (a single long line too), so
 * the output buffer stays bounded; the end-of-data line goes out with
 * the last chunk */
static int
body(struct gw_session *s, struct deliver_ctx *ctx, const struct msg_job *m)
{
	struct dot_stuffer ds;
	size_t off = 0;

	dot_stuffer_init(&ds);
	while (off < m->body_len) {
		size_t len = m->body_len - off < BODY_CHUNK ? m->body_len - off : BODY_CHUNK;

		if (dot_stuffer_feed(&ds, m->body + off, len, &s->c.out) < 0)
			return -1;
		off += len;
		if (off < m->body_len && conn_flush(&s->c, ctx->to.data_block) < 0)
			return -1;
	}
	if (dot_stuffer_finish(&ds, &s->c.out) < 0 || buf_appends(&s->c.out, ".\r\n") < 0)
		return -1;
	return conn_flush(&s->c, ctx->to.data_block);
}

void
gw_send(struct gw_session *s, struct deliver_ctx *ctx, const struct msg_job *m, struct rcpt_try *t,
        size_t n)
{
	bool utf8 = needs_utf8(m), open[SPOOL_RCPT_MAX];
	uint64_t wire = m->body_len + 2;
	struct smtp_reply r;
	int accepted;

	for (const char *p = m->body; (p = memchr(p, '\n', m->body_len - (size_t)(p - m->body)));
	     p++)
		wire++;
	memset(open, 0, n * sizeof(open[0]));
	if (!precheck(s, m, t, n, wire, utf8))
		return;
	/* a gateway may drop an idle session: one new connection, then give up */
	if (s->sent > 0 &&
	    (gw_cmd(s, "RSET") < 0 || gw_exchange(s, &r, ctx->to.mail) < 0 || r.code / 100 != 2)) {
		s->up = false; /* no QUIT into a broken session */
		gw_close(s, ctx);
		if (gw_open(s, ctx) != RES_OK)
			return set_all(s, t, n, NULL, RCPT_DEFERRED, s->why, false);
	}
	s->sent++;
	if ((accepted = envelope(s, ctx, m, t, n, open, wire, utf8)) < 0)
		return lost(s, t, n, NULL, "sending MAIL FROM and RCPT TO");
	if (accepted == 0)
		return;
	if (gw_cmd(s, "DATA") < 0 || gw_exchange(s, &r, ctx->to.data_init) < 0)
		return lost(s, t, n, open, "sending DATA");
	if (r.code != 354)
		return apply(s, t, n, open, &r);
	if (body(s, ctx, m) < 0 || gw_exchange(s, &r, ctx->to.data_done) < 0)
		return lost(s, t, n, open, "sending the message");
	apply(s, t, n, open, &r);
}
