/*
 * smtpd_cmd.c - MAIL, RCPT and STARTTLS: the commands with consequences
 *
 * What it is for: checking a command's sequence and syntax, then
 * asking the policy (OpenSMTPD's smtp_check_* / smtp_proceed_* split),
 * and logging each refusal in Postfix's "NOQUEUE: reject:" shape; and
 * STARTTLS (RFC 3207), which drops everything read before the
 * handshake and resets the session.  For a class with rewrite = true,
 * MAIL also takes an unqualified sender ("<root>") and masquerades it
 * (lib/mail_rewrite.h) before the policy sees it.
 * What it must never do: accept a sender or recipient the policy
 * refused or the spool cannot carry, keep more recipients than
 * limits.recipients, or keep any plain-text input once TLS has been
 * asked for (CVE-2011-0411).
 */
#include "smtpd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "smtpd_inspect.h"
#include "smtpd_tls.h"

/* lines of map problems logged per session */
#define REWRITE_NOTES_MAX 20

/* Recipients past limits.recipients get 452 4.5.3 (RFC 5321
 * 4.5.3.1.10) and count as no error; this many more in one transaction
 * end the session (Postfix smtpd_recipient_overshoot_limit). */
#define RCPT_OVERSHOOT_MAX 1000

/* log_reject - "NOQUEUE: reject: RCPT from name[addr]: 550 5.7.1 text;
 * from=<a> to=<b> proto=ESMTP helo=<h>" */
static void
log_reject(const struct session *s, const char *stage, const struct reply *r,
           const struct mail_addr *to)
{
	char line[REPLY_TEXT_MAX + 32], a[ADDR_PATH_MAX + 1], from[ADDR_PATH_MAX + 1],
	    rcpt[ADDR_PATH_MAX + 1];

	if (reply_format(r, line, sizeof(line)) < 0)
		line[sizeof(line) - 1] = '\0';
	from[0] = rcpt[0] = '\0';
	if (s->tx.mail || to == NULL) {
		if (addr_format(&s->tx.sender, a, sizeof(a)) == 0)
			smtp_sanitize(a, strlen(a), from, sizeof(from));
	}
	if (to && addr_format(to, a, sizeof(a)) == 0)
		smtp_sanitize(a, strlen(a), rcpt, sizeof(rcpt));
	smtpd_log(s, NULL,
	          "NOQUEUE: reject: %s from %s[%s]: %s; from=<%s>%s%s%s proto=%s helo=<%s>", stage,
	          s->pc.name, s->pc.addr_str, line, from, to ? " to=<" : "", to ? rcpt : "",
	          to ? ">" : "", s->esmtp ? "ESMTP" : "SMTP", s->pc.helo);
}

/* rewriting - the client's class masquerades senders (rewrite = true) */
static bool
rewriting(const struct session *s)
{
	return s->pc.class != NULL && s->pc.class->rewrite;
}

/* smtpd_rewrite_setup - see smtpd.h */
enum result
smtpd_rewrite_setup(struct rewrite *rw, const struct config *cfg, const char *host)
{
	const char *domain = cfg->rewrite.domain;
	char sys[ADDR_DOMAIN_MAX + 1];

	rewrite_init(rw);
	if (rewrite_set_domain(rw, domain && domain[0] ? domain : host) < 0)
		return RES_TEMP;
	(void)rewrite_add_host(rw, host);
	if (gethostname(sys, sizeof(sys) - 1) == 0) {
		sys[sizeof(sys) - 1] = '\0';
		(void)rewrite_add_host(rw, sys);
	}
	return RES_OK;
}

/* log_notes - what the map loader said, line by line, to the log:
 * stderr may be the client's connection (inetd) */
static void
log_notes(const char *text, size_t len)
{
	size_t pos = 0, n, lines = 0;
	const char *nl;

	while (pos < len) {
		nl = memchr(text + pos, '\n', len - pos);
		n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		if (++lines <= REWRITE_NOTES_MAX)
			log_warn("rewrite: %.*s", (int)n, text + pos);
		pos += n + 1;
	}
	if (lines > REWRITE_NOTES_MAX)
		log_warn("rewrite: %zu more problems with the map", lines - REWRITE_NOTES_MAX);
}

/* rewrite_ready - the rules of the rewrite section, read at the first
 * MAIL of a session whose class has rewrite = true (as mailout-sendmail
 * reads them): the domain (default: hostname), this host's names, the
 * map.  RES_TEMP when the map cannot be read. */
static enum result
rewrite_ready(struct session *s)
{
	char *notes = NULL;
	size_t notes_len = 0;
	enum result res;
	FILE *errs;

	if (s->rw_loaded)
		return RES_OK;
	if (smtpd_rewrite_setup(&s->rw, s->cfg, s->hostname) != RES_OK) {
		log_warn("rewrite: no usable masquerade domain");
		return RES_TEMP;
	}
	errs = open_memstream(&notes, &notes_len);
	res = rewrite_map_load(&s->rw, s->cfg->rewrite.map, errs);
	if (errs != NULL && fclose(errs) == 0)
		log_notes(notes, notes_len);
	free(notes);
	if (res != RES_OK) {
		rewrite_free(&s->rw);
		return res;
	}
	s->rw_loaded = true;
	return RES_OK;
}

/* mail_rewrite - masquerade the envelope sender.  The rewritten address
 * is what leaves the host, so it is the one the policy checks
 * (sender_domains, verify_sender, the AUTH sender binding) and the one
 * that is queued. */
static enum result
mail_rewrite(struct session *s, struct mail_addr *from, struct reply *r)
{
	char orig[ADDR_PATH_MAX + 1], new[ADDR_PATH_MAX + 1], a[ADDR_PATH_MAX + 1],
	    b[ADDR_PATH_MAX + 1];
	struct mail_addr q;
	int rc;

	if (from->null)
		return RES_OK;
	if (rewrite_ready(s) != RES_OK) {
		reply_set(r, 451, ESC_CONFIG, "Error: sender rewriting is not available");
		return RES_TEMP;
	}
	if (addr_format(from, orig, sizeof(orig)) < 0 ||
	    (rc = rewrite_address(&s->rw, REWRITE_SENDER, orig, new, sizeof(new))) < 0) {
		reply_set(r, 553, ESC_BAD_SENDER_SYNTAX, "Sender address too long once qualified");
		return RES_PERM;
	}
	if (rc == 0)
		return RES_OK;
	smtp_sanitize(orig, strlen(orig), a, sizeof(a));
	smtp_sanitize(new, strlen(new), b, sizeof(b));
	if (addr_parse_mailbox(new, strlen(new), &q, NULL) != RES_OK) {
		log_warn(
		    "rewrite: <%s> would become <%s>, which is not an address: check the rewrite "
		    "section and its map",
		    a, b);
		reply_set(r, 451, ESC_CONFIG, "Error: sender rewriting failed");
		return RES_TEMP;
	}
	smtpd_log(s, NULL, "NOQUEUE: rewrite: from=<%s> becomes from=<%s>", a, b);
	*from = q;
	return RES_OK;
}

/* mail_check - sequence, syntax, size: everything but the policy */
static enum result
mail_check(struct session *s, const struct smtp_cmd *c, struct mail_addr *from,
           struct mail_params *p, struct reply *r)
{
	enum result res;

	if (!s->helo) {
		reply_set(r, 503, ESC_BAD_SEQ, "Error: send HELO/EHLO first");
		return RES_PERM;
	}
	if (s->tx.mail) {
		reply_set(r, 503, ESC_BAD_SEQ, "Error: nested MAIL command");
		return RES_PERM;
	}
	if ((res = smtp_parse_mail_opt(c->arg, c->arg_len, rewriting(s) ? ADDR_OPT_UNQUALIFIED : 0,
	                               from, p, r)) != RES_OK)
		return res;
	if (!addr_fits_envelope(from)) {
		reply_set(r, 553, ESC_BAD_SENDER_SYNTAX,
		          "Sender address not accepted: a local part with < or > cannot be "
		          "queued here; use another address");
		return RES_PERM;
	}
	if (p->size_set && p->size > s->cfg->limits.message_size) {
		/* RFC 1870 6.1 */
		reply_set(r, 552, ESC_MSG_TOO_BIG, "Message size exceeds fixed limit");
		return RES_PERM;
	}
	return RES_OK;
}

void
smtpd_cmd_mail(struct session *s, const struct smtp_cmd *c)
{
	struct mail_addr from;
	struct mail_params p;
	struct reply r;

	if (mail_check(s, c, &from, &p, &r) != RES_OK ||
	    (rewriting(s) && mail_rewrite(s, &from, &r) != RES_OK)) {
		smtpd_reply(s, &r);
		return;
	}
	if (policy_mail(&s->pc, &from, &r) != RES_OK) {
		s->tx.sender = from;
		log_reject(s, "MAIL", &r, NULL);
		smtpd_reply(s, &r);
		return;
	}
	s->tx.sender = from;
	s->tx.params = p;
	s->tx.mail = true;
	s->tx.rewrite = rewriting(s);
	s->tx.rcpt_overshoot = 0;
	smtpd_reply_code(s, 250, ESC_OK_ADDR, "Ok");
}

/* rcpt_check - sequence, syntax, count: everything but the policy */
static enum result
rcpt_check(struct session *s, const struct smtp_cmd *c, struct mail_addr *to, struct reply *r)
{
	enum result res;

	if (!s->tx.mail) {
		reply_set(r, 503, ESC_BAD_SEQ, "Error: need MAIL command");
		return RES_PERM;
	}
	if (s->tx.bdat) {
		reply_set(r, 503, ESC_BAD_SEQ, "Error: RCPT during BDAT");
		return RES_PERM;
	}
	if ((res = smtp_parse_rcpt(c->arg, c->arg_len, to, r)) != RES_OK)
		return res;
	if (to->null) {
		reply_set(r, 501, ESC_BAD_DEST_SYNTAX, "Error: bad recipient address syntax");
		return RES_PERM;
	}
	if (to->utf8 && !s->tx.params.smtputf8) {
		reply_set(r, 553, ESC_UTF8_REQUIRED, "Non-ASCII address needs SMTPUTF8");
		return RES_PERM;
	}
	if (!addr_fits_envelope(to)) {
		reply_set(r, 553, ESC_BAD_DEST_SYNTAX,
		          "Recipient address not accepted: a local part with < or > cannot be "
		          "queued here");
		return RES_PERM;
	}
	if (s->tx.nrcpt >= s->cfg->limits.recipients) {
		/* RFC 5321 4.5.3.1.8: a temporary refusal; the client sends
		 * the rest in another transaction (smtpd_reply counts no error) */
		if (++s->tx.rcpt_overshoot > RCPT_OVERSHOOT_MAX) {
			smtpd_log(s, NULL, "too many recipients from %s[%s]", s->pc.name,
			          s->pc.addr_str);
			smtpd_drop(s, ESC_SECURITY, "Error: too many recipients");
		}
		reply_set(r, 452, ESC_TOO_MANY_RCPT, "Error: too many recipients");
		return RES_TEMP;
	}
	return RES_OK;
}

void
smtpd_cmd_rcpt(struct session *s, const struct smtp_cmd *c)
{
	char addr[ADDR_PATH_MAX + 1];
	struct mail_addr to;
	struct reply r;

	if (rcpt_check(s, c, &to, &r) != RES_OK) {
		smtpd_reply(s, &r);
		return;
	}
	if (policy_rcpt(&s->pc, &s->tx.sender, &to, &r) != RES_OK) {
		log_reject(s, "RCPT", &r, &to);
		smtpd_reply(s, &r);
		return;
	}
	if (addr_format(&to, addr, sizeof(addr)) < 0 ||
	    buf_append(&s->tx.rcpts, addr, strlen(addr) + 1) < 0) {
		smtpd_reply_code(s, 451, ESC_SYSTEM, "Error: local error in processing");
		return;
	}
	s->tx.nrcpt++;
	smtpd_reply_code(s, 250, ESC_OK_RCPT, "Ok");
}

/* starttls_check - may this session start TLS now? */
static enum result
starttls_check(struct session *s, const struct smtp_cmd *c, struct reply *r)
{
	if (c->arg_len != 0) {
		reply_set(r, 501, ESC_BAD_ARGS, "Syntax: STARTTLS");
		return RES_PERM;
	}
	if (s->io.ssl != NULL) {
		reply_set(r, 503, ESC_BAD_SEQ, "Error: TLS already active");
		return RES_PERM;
	}
	if (s->listener->tls == LISTENER_TLS_STARTTLS)
		inspect_before_secrets(s->cfg); /* before the key is loaded */
	if (s->listener->tls != LISTENER_TLS_STARTTLS || tls_prepare(s->cfg) != RES_OK) {
		reply_set(r, 454, ESC_SECURITY, "TLS not available due to local problem");
		return RES_TEMP;
	}
	return RES_OK;
}

void
smtpd_cmd_starttls(struct session *s, const struct smtp_cmd *c)
{
	struct reply r;
	size_t dropped;

	if (starttls_check(s, c, &r) != RES_OK) {
		smtpd_reply(s, &r);
		return;
	}
	/* CVE-2011-0411: what came with STARTTLS was sent in plain text */
	if ((dropped = io_discard_input(&s->io)) > 0)
		log_warn("%s[%s]: %zu octets of pipelined input after STARTTLS dropped", s->pc.name,
		         s->pc.addr_str, dropped);
	s->ls.discarding = false;
	smtpd_reply_code(s, 220, ESC_OK, "Ready to start TLS");
	if (io_flush(&s->io) != IO_OK)
		smtpd_drop(s, NULL, NULL);
	if (tls_start(&s->io, s->cfg->limits.command_timeout, s->tls_version,
	              sizeof(s->tls_version), s->tls_cipher, sizeof(s->tls_cipher)) != RES_OK) {
		smtpd_log(s, NULL, "TLS handshake failed with %s[%s]", s->pc.name, s->pc.addr_str);
		smtpd_drop(s, NULL, NULL);
	}
	/* RFC 3207 4.2: forget everything learnt before */
	smtpd_tx_reset(s);
	s->helo = s->esmtp = false;
	s->pc.helo[0] = '\0';
	s->pc.tls = true;
	smtpd_log(s, NULL, "TLS started with %s[%s]: %s %s", s->pc.name, s->pc.addr_str,
	          s->tls_version, s->tls_cipher);
}
