/*
 * smtpd_policy.h - the campus rules, asked at each step of a session
 *
 * The session (smtpd_proto.c) fills a policy_client and asks before it
 * answers: at connect, at MAIL, at each RCPT, at end of DATA.  Policy
 * never talks to the client itself; it returns a result and a reply.
 * --explain (smtpd_explain.c) asks the same functions, so a dry run
 * can never disagree with a real session.
 */
#ifndef MAILOUT_SMTPD_POLICY_H
#define MAILOUT_SMTPD_POLICY_H

#include <stdbool.h>

#include "buf.h"
#include "conf.h"
#include "mail_addr.h"
#include "mail_reply.h"
#include "net.h"

struct policy_client {
	const struct config *cfg;
	const struct conf_listener *listener;
	const struct conf_client *class; /* set by policy_connect; NULL: none */
	const struct cidr *matched; /* the network that chose the class */
	struct net_addr addr;
	char addr_str[NET_ADDR_STRLEN];
	char name[256]; /* client host name, or "unknown" */
	char helo[256]; /* sanitised HELO/EHLO argument, or "" */
	bool tls; /* the session is inside TLS now */
	const char *auth_user; /* NULL unless authenticated */
	/* why - NULL in a session.  --explain points it at a buffer, and
	 * each check appends the rule that decided ("class campus
	 * (mailout.conf:12), network 130.83.0.0/16"), so a dry run and a
	 * session take the same path through the same code. */
	struct buf *why;
};

/* policy_client_init - zero the client, set cfg, listener and address */
void policy_client_init(struct policy_client *c, const struct config *cfg,
                        const struct conf_listener *listener, const struct net_addr *addr);

/* On RES_OK each function sets the reply a session would give: 220
 * "accepted" (no status code: the session writes its own banner),
 * 250 2.1.0 Ok, 250 2.1.5 Ok.  Otherwise the refusal to send. */

/* policy_connect - pick the client class (longest prefix); 554 5.7.1
 * when the client is in no class (except on auth = required listeners) */
enum result policy_connect(struct policy_client *c, struct reply *r);
/* policy_mail - MAIL FROM: TLS required (530 5.7.0), AUTH required
 * (530 5.7.0), sender checks */
enum result policy_mail(struct policy_client *c, const struct mail_addr *sender, struct reply *r);
/* policy_rcpt - RCPT TO: relay_domains unless authenticated (550 5.7.1);
 * relay tricks (source routes, %, !, quoted @, literals) never relay */
enum result policy_rcpt(struct policy_client *c, const struct mail_addr *sender,
                        const struct mail_addr *rcpt, struct reply *r);

#endif
