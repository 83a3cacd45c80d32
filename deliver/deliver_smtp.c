/*
 * deliver_smtp.c - the SMTP dialogue with the gateway
 *
 * What it is for: opening a session with the first gateway server that
 * works (greeting, EHLO, STARTTLS as gateway.tls says, AUTH), then
 * running one transaction per message on that session (RSET between;
 * MAIL and RCPT pipelined when offered, RFC 2920), and telling the
 * caller what the gateway said for each recipient.
 * What it must never do: send mail or credentials in clear text when
 * gateway.tls demands TLS and it failed, send AUTH outside TLS unless
 * gateway.tls = none, or call a failure of ours (connection, TLS, AUTH,
 * DNS) permanent: only the gateway's own 5xx replies are.
 */
#include "deliver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mail_data.h"

/* set_why - the reason of a failed session, as a reply line */
static enum result __attribute__((format(printf, 2, 3)))
set_why(struct gw_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
	return RES_TEMP;
}

/* send_cmd - queue one command line (CRLF added) */
static int __attribute__((format(printf, 2, 3)))
send_cmd(struct gw_session *s, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vprintf(&s->c.out, fmt, ap);
	va_end(ap);
	return rc < 0 || buf_appends(&s->c.out, "\r\n") < 0 ? -1 : 0;
}

int
gw_cmd(struct gw_session *s, const char *line)
{
	return send_cmd(s, "%s", line);
}

int
gw_exchange(struct gw_session *s, struct smtp_reply *r, unsigned timeout)
{
	if (conn_flush(&s->c, timeout) < 0 || conn_reply(&s->c, r, timeout) < 0)
		return -1;
	return 0;
}

/* said - "host[addr]:port said: 554 5.0.0 text" into s->why */
static enum result
said(struct gw_session *s, const char *what, const struct smtp_reply *r)
{
	char line[STATE_REPLY_MAX];

	smtp_reply_oneline(r, line, sizeof(line));
	(void)bounded_format(s->why, sizeof(s->why), "451 4.4.0 %s %s: %s", s->relay, what, line);
	return RES_TEMP;
}

/* ehlo - EHLO (HELO when refused), reading the extensions */
static enum result
ehlo(struct gw_session *s, struct deliver_ctx *ctx)
{
	struct smtp_reply r;

	if (send_cmd(s, "EHLO %s", conf_hostname(ctx->cfg)) < 0 ||
	    gw_exchange(s, &r, ctx->to.ehlo) < 0)
		return set_why(s, "451 4.4.2 lost connection with %s during EHLO: %s", s->relay,
		               s->c.err);
	if (r.code / 100 == 2) {
		smtp_ehlo_parse(&r, &s->ext);
		return RES_OK;
	}
	memset(&s->ext, 0, sizeof(s->ext));
	if (send_cmd(s, "HELO %s", conf_hostname(ctx->cfg)) < 0 ||
	    gw_exchange(s, &r, ctx->to.ehlo) < 0)
		return set_why(s, "451 4.4.2 lost connection with %s during HELO: %s", s->relay,
		               s->c.err);
	return r.code / 100 == 2 ? RES_OK : said(s, "refused HELO", &r);
}

/* starttls - STARTTLS when gateway.tls wants or allows it */
static enum result
starttls(struct gw_session *s, struct deliver_ctx *ctx, const char *host)
{
	enum gateway_tls mode = ctx->cfg->gateway.tls;
	struct smtp_reply r;

	if (mode == GATEWAY_TLS_NONE || mode == GATEWAY_TLS_IMPLICIT ||
	    (mode == GATEWAY_TLS_MAY && !s->ext.starttls))
		return RES_OK;
	if (!s->ext.starttls)
		return set_why(s, "451 4.7.4 TLS is required, but %s does not offer STARTTLS",
		               s->relay);
	if (send_cmd(s, "%s", "STARTTLS") < 0 || gw_exchange(s, &r, ctx->to.ehlo) < 0)
		return set_why(s, "451 4.4.2 lost connection with %s during STARTTLS: %s", s->relay,
		               s->c.err);
	if (r.code != 220)
		return mode == GATEWAY_TLS_MAY ? RES_OK : said(s, "refused STARTTLS", &r);
	if (conn_starttls(&s->c, ctx, host, ctx->to.ehlo) < 0)
		return set_why(s, "451 4.7.5 TLS with %s failed: %s", s->relay, s->c.err);
	return ehlo(s, ctx);
}

/* b64 - base64 of n bytes into out (NUL-terminated) */
static void
b64(const char *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)n);
}

/* auth - AUTH PLAIN or LOGIN, as offered, only inside TLS */
static enum result
auth(struct gw_session *s, struct deliver_ctx *ctx)
{
	const char *user = ctx->cfg->gateway.user;
	char raw[1100], enc[1500];
	size_t ul, pl;
	struct smtp_reply r;
	bool io;

	if (!user || !*user)
		return RES_OK;
	if (!s->c.tls && ctx->cfg->gateway.tls != GATEWAY_TLS_NONE)
		return set_why(s, "451 4.7.0 %s: no AUTH outside TLS", s->relay);
	if (!ctx->password_ok)
		return set_why(s, "451 4.7.0 gateway.password_file unreadable");
	if (!s->ext.auth_plain && !s->ext.auth_login)
		return set_why(s, "451 4.7.0 %s offers neither AUTH PLAIN nor LOGIN", s->relay);
	ul = strlen(user);
	pl = strlen(ctx->password);
	if (ul + pl + 2 > sizeof(raw) - 1)
		return set_why(s, "451 4.7.0 gateway credentials too long");
	if (s->ext.auth_plain) {
		raw[0] = '\0';
		memcpy(raw + 1, user, ul);
		raw[1 + ul] = '\0';
		memcpy(raw + 2 + ul, ctx->password, pl);
		b64(raw, ul + pl + 2, enc);
		io = send_cmd(s, "AUTH PLAIN %s", enc) < 0 || gw_exchange(s, &r, ctx->to.ehlo) < 0;
	} else {
		b64(user, ul, enc);
		io = send_cmd(s, "%s", "AUTH LOGIN") < 0 || gw_exchange(s, &r, ctx->to.ehlo) < 0 ||
		     (r.code == 334 &&
		      (send_cmd(s, "%s", enc) < 0 || gw_exchange(s, &r, ctx->to.ehlo) < 0));
		b64(ctx->password, pl, enc);
		io = io || (r.code == 334 &&
		            (send_cmd(s, "%s", enc) < 0 || gw_exchange(s, &r, ctx->to.ehlo) < 0));
	}
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(enc, sizeof(enc));
	if (io)
		return set_why(s, "451 4.4.2 lost connection with %s during AUTH: %s", s->relay,
		               s->c.err);
	/* the gateway's 535 is still our trouble: retry, never bounce */
	return r.code == 235 ? RES_OK : said(s, "refused our credentials", &r);
}

/* relay_name - "host[addr]:port" */
static void
relay_name(struct gw_session *s, const struct gw_addr *a)
{
	char addr[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (a->sa.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&a->sa;
		(void)inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
		port = ntohs(in->sin_port);
	} else {
		const struct sockaddr_in6 *in6 = (const void *)&a->sa;
		(void)inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
		port = ntohs(in6->sin6_port);
	}
	(void)bounded_copy(s->host, sizeof(s->host), a->host);
	if (bounded_format(s->relay, sizeof(s->relay), "%s[%s]:%u", a->host, addr, port) < 0)
		(void)bounded_copy(s->relay, sizeof(s->relay), a->host);
}

/* try_addr - one address: connect, greeting, EHLO, TLS, AUTH */
static enum result
try_addr(struct gw_session *s, struct deliver_ctx *ctx, const struct gw_addr *a)
{
	struct smtp_reply r;

	conn_close(&s->c);
	conn_init(&s->c);
	relay_name(s, a);
	if (conn_connect(&s->c, (const struct sockaddr *)&a->sa, a->salen, ctx->to.connect) < 0)
		return set_why(s, "451 4.4.1 connect to %s failed: %s", s->relay, s->c.err);
	if (ctx->cfg->gateway.tls == GATEWAY_TLS_IMPLICIT &&
	    conn_starttls(&s->c, ctx, a->host, ctx->to.greeting) < 0)
		return set_why(s, "451 4.7.5 TLS with %s failed: %s", s->relay, s->c.err);
	if (conn_reply(&s->c, &r, ctx->to.greeting) < 0)
		return set_why(s, "451 4.4.2 lost connection with %s before the greeting: %s",
		               s->relay, s->c.err);
	if (r.code != 220)
		return said(s, "refused to talk to me", &r);
	if (ehlo(s, ctx) != RES_OK || starttls(s, ctx, a->host) != RES_OK || auth(s, ctx) != RES_OK)
		return RES_TEMP;
	return RES_OK;
}

void
gw_session_init(struct gw_session *s)
{
	memset(s, 0, sizeof(*s));
	conn_init(&s->c);
	(void)bounded_copy(s->relay, sizeof(s->relay), "none");
}

enum result
gw_open(struct gw_session *s, struct deliver_ctx *ctx)
{
	const struct config *cfg = ctx->cfg;
	struct gw_addr addrs[GW_ADDRS_MAX];
	char why[STATE_REPLY_MAX - 16];
	size_t n, i, k;

	s->up = false;
	s->sent = 0;
	set_why(s, "451 4.4.1 no gateway.servers configured");
	for (i = 0; i < cfg->gateway.n_hosts && !deliver_stop; i++) {
		if (dns_resolve(cfg, &cfg->gateway.hosts[i], addrs, GW_ADDRS_MAX, &n, why,
		                sizeof(why)) != RES_OK) {
			set_why(s, "451 4.4.3 %s", why);
			log_warn("gateway %s: %s", cfg->gateway.hosts[i].host, why);
			continue;
		}
		for (k = 0; k < n && !deliver_stop; k++) {
			if (try_addr(s, ctx, &addrs[k]) == RES_OK) {
				s->up = true;
				if (ctx->verbose)
					log_info("connected to %s%s%s", s->relay,
					         s->c.tls ? " tls=" : "", s->c.tls_info);
				return RES_OK;
			}
			log_warn("%s", s->why);
			conn_close(&s->c);
			conn_init(&s->c);
		}
	}
	(void)bounded_copy(s->relay, sizeof(s->relay), "none");
	s->dead = true;
	return RES_TEMP;
}

void
gw_close(struct gw_session *s, struct deliver_ctx *ctx)
{
	struct smtp_reply r;

	if (s->up && send_cmd(s, "%s", "QUIT") == 0)
		(void)gw_exchange(s, &r, 10);
	s->up = false;
	conn_close(&s->c);
	conn_init(&s->c);
}
