/*
 * smtpd_policy_from.c - the rules on whom a client may send as
 *
 * What it is for: a class's sender_domains and verify_sender, for the
 * envelope sender (MAIL FROM, in smtpd_policy.c's table) and for every
 * address of the From: header at the end of the content (policy_data_end).
 * The From: header is read by policy_from_mailboxes
 * (smtpd_policy_dns.c), the one reader every check shares.
 *
 * What it must never do: let an unauthenticated client of a class with
 * sender_domains send as another domain, pass a From: header it could
 * not read whole (fail closed), or turn DNS trouble into a permanent
 * refusal.  Like smtpd_policy.c it never talks to the client: it
 * returns a result and a reply, for a session and --explain alike.
 */
#include "smtpd_policy_int.h"

#include <string.h>

/* domain_allowed - sender_domains: true when the domain may send, else
 * false and the list (for the reply) in list */
static bool
domain_allowed(const struct conf_client *cls, const char *domain, char *list, size_t listsize)
{
	size_t i;

	for (i = 0; i < cls->sender_domains.n; i++)
		if (domain_matches(domain, cls->sender_domains.items[i]))
			return true;
	policy_join_list(&cls->sender_domains, list, listsize);
	return false;
}

/* policy_mail_sender_domains - a class may send only for its own domains
 * (Hochschule Offenburg: the university's sender addresses only
 * through its own server, and only those) */
enum result
policy_mail_sender_domains(struct policy_client *c, const struct mail_addr *sender,
                           const struct mail_addr *rcpt, struct reply *r)
{
	char cls[200], list[LIST_TEXT_MAX];

	(void)rcpt;
	if (sender->null || !c->class || c->class->sender_domains.n == 0 || c->auth_user)
		return RES_OK;
	policy_where(c, c->class, cls, sizeof(cls));
	if (domain_allowed(c->class, sender->domain, list, sizeof(list))) {
		policy_why(c, "%s in sender_domains of class %s", sender->domain, cls);
		return RES_OK;
	}
	policy_why(c, "%s not in sender_domains of class %s (%s)", sender->domain, cls, list);
	reply_set(r, 553, ESC_POLICY,
	          "Sender address <%s@%s> rejected: this network may send only as %s; configure "
	          "the device with such a sender address",
	          sender->local, sender->domain, list);
	return RES_PERM;
}

/* check_reachable - verify_sender for one domain; what is the reply */
static enum result
check_reachable(struct policy_client *c, const char *what, const char *addr, const char *domain,
                struct reply *r)
{
	char detail[300];
	enum result res = policy_domain_reachable(c, domain, detail, sizeof(detail));

	policy_why(c, "verify_sender: %s", detail);
	if (res == RES_TEMP)
		reply_set(r, 450, ESC_BAD_SENDER_DOMAIN,
		          "%s <%s>: cannot verify the domain for now (%s); try again later", what,
		          addr, detail);
	else if (res == RES_PERM)
		reply_set(r, 550, ESC_BAD_SENDER_DOMAIN,
		          "%s <%s> rejected: domain not found (%s); use a sender address that can "
		          "receive replies and bounces",
		          what, addr, detail);
	return res;
}

/* policy_mail_verify_sender - the sender domain must be reachable, or its
 * bounces clog the gateway (TU Darmstadt rule 5) */
enum result
policy_mail_verify_sender(struct policy_client *c, const struct mail_addr *sender,
                          const struct mail_addr *rcpt, struct reply *r)
{
	char addr[ADDR_PATH_MAX];

	(void)rcpt;
	if (sender->null || !c->class || !c->class->verify_sender)
		return RES_OK;
	if (addr_format(sender, addr, sizeof(addr)) < 0)
		addr[0] = '\0';
	return check_reachable(c, "Sender address", addr, sender->domain, r);
}

/* from_domain_allowed - sender_domains for one From: address */
static enum result
from_domain_allowed(struct policy_client *c, const struct mail_addr *a, const char *addr,
                    struct reply *r)
{
	char list[LIST_TEXT_MAX];

	if (!c->class->sender_domains.n || c->auth_user ||
	    domain_allowed(c->class, a->domain, list, sizeof(list)))
		return RES_OK;
	policy_why(c, "From: %s not in sender_domains of class %s (%s)", addr, c->class->name,
	           list);
	reply_set(r, 550, ESC_POLICY,
	          "From: header address <%s> rejected: this network may send only as %s", addr,
	          list);
	return RES_PERM;
}

enum result
policy_data_end_from(struct policy_client *c, const struct from_header *fh, struct reply *r)
{
	const struct conf_client *cls = c->class;
	struct from_mailboxes fm;
	char addr[ADDR_PATH_MAX];
	enum result res;
	size_t i;

	reply_set(r, 250, ESC_OK, "Ok");
	if (!cls || (!cls->verify_sender && (cls->sender_domains.n == 0 || c->auth_user)))
		return RES_OK;
	if ((res = policy_from_mailboxes(fh, 550, &fm, r)) != RES_OK) {
		policy_why(c, "From: header cannot be checked: %s", r->text);
		return res;
	}
	for (i = 0; i < fm.n; i++) {
		if (addr_format(&fm.a[i], addr, sizeof(addr)) < 0)
			addr[0] = '\0';
		if ((res = from_domain_allowed(c, &fm.a[i], addr, r)) != RES_OK)
			return res;
		if (cls->verify_sender && (res = check_reachable(c, "From: header address", addr,
		                                                 fm.a[i].domain, r)) != RES_OK)
			return res;
	}
	reply_set(r, 250, ESC_OK, "Ok");
	return RES_OK;
}

enum result
policy_data_end(struct policy_client *c, const char *from_header_value, struct reply *r)
{
	struct from_header fh = {from_header_value, 0, 0, false};

	if (from_header_value) {
		fh.len = strlen(from_header_value);
		fh.count = 1;
	}
	return policy_data_end_from(c, &fh, r);
}
