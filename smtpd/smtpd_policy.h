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
#include <stddef.h>

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
	bool dry_run; /* --explain: look, but count nothing (rates) */
	/* forward-confirmed reverse DNS, looked up once by policy_connect
	 * when the class has require_dns or verify_sender */
	bool fcrdns_done;
	enum result fcrdns; /* RES_OK confirmed (name is set), RES_PERM, RES_TEMP */
	char fcrdns_text[400]; /* what DNS said, for replies and --explain */
};

/* policy_client_init - zero the client, set cfg, listener and address */
void policy_client_init(struct policy_client *c, const struct config *cfg,
                        const struct conf_listener *listener, const struct net_addr *addr);

/* On RES_OK each function sets the reply a session would give: 220
 * "accepted" (no status code: the session writes its own banner),
 * 250 2.1.0 Ok, 250 2.1.5 Ok.  Otherwise the refusal to send. */

/* policy_connect - the blocklist (554 5.7.1 with blocklist_message),
 * the client class (longest prefix; 554 5.7.1 when in none, except on
 * auth = required listeners), and the reverse DNS lookup the class
 * needs (its verdict is given at MAIL, so the client hears it) */
enum result policy_connect(struct policy_client *c, struct reply *r);
/* policy_mail - MAIL FROM: TLS required (530 5.7.0), AUTH required
 * (530 5.7.0), require_dns (550 5.7.25, 450 4.7.25), sender_domains
 * (553 5.7.1), verify_sender (550 5.1.8, 450 4.1.8), and last the rate
 * (450 4.7.1): an accepted MAIL counts one message for the client's
 * address, in all sessions (lib/client_state.h) */
enum result policy_mail(struct policy_client *c, const struct mail_addr *sender, struct reply *r);
/* policy_rcpt - RCPT TO: relay_domains unless authenticated (550 5.7.1);
 * relay tricks (source routes, %, !, quoted @, literals) never relay */
enum result policy_rcpt(struct policy_client *c, const struct mail_addr *sender,
                        const struct mail_addr *rcpt, struct reply *r);

/* struct from_header - the From: header of a message as the DATA
 * reader saw it (lib/mail_data.h, struct header_scan) */
struct from_header {
	const char *value; /* the first From:'s value, unfolded; NULL: none */
	size_t len; /* octets of value */
	unsigned count; /* From: headers seen */
	bool truncated; /* value was cut short (HEADER_FROM_MAX) */
};

#define FROM_ADDRS_MAX 8 /* addresses of a From: header that are checked */

/* struct from_mailboxes - the addresses of a From: header, parsed */
struct from_mailboxes {
	size_t n;
	struct mail_addr a[FROM_ADDRS_MAX];
};

/* policy_from_mailboxes - the From: header's mailboxes, read the one way
 * every check reads them (the class rules here, the AUTH sender binding
 * in smtpd_auth.c): split by addrlist_next (lib/mail_rewrite.h), each
 * address parsed by addr_parse_mailbox.  It fails closed: more than one
 * From: header, a value cut short, an item that is not a mailbox (a
 * display name without <>, junk after the <>, an over-long item), or
 * more than FROM_ADDRS_MAX addresses give RES_PERM with code (550 or
 * 553) x.7.1 and the reason in r, since what was not read cannot be
 * checked.  No From: header at all gives n = 0. */
enum result policy_from_mailboxes(const struct from_header *fh, int code,
                                  struct from_mailboxes *out, struct reply *r);

/* policy_data_end_from - end of DATA, before the message is queued:
 * every address of the From: header must pass the class's
 * sender_domains (550 5.7.1) and verify_sender (550 5.1.8, 450 4.1.8),
 * like the envelope sender at MAIL; a header that cannot be checked
 * whole is refused (550 5.7.1, policy_from_mailboxes).  On RES_OK the
 * reply is 250 2.0.0 (the session sends its own "queued as" text). */
enum result policy_data_end_from(struct policy_client *c, const struct from_header *fh,
                                 struct reply *r);
/* policy_data_end - the same for one From: header whose value is the
 * C string from_header_value (NULL: none) */
enum result policy_data_end(struct policy_client *c, const char *from_header_value,
                            struct reply *r);

#endif
