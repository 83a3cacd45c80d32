/*
 * smtpd_policy.c - the campus rules, asked at each step of a session
 *
 * What it is for: deciding, from the configuration alone, whether a
 * client may connect (its client class, by longest network prefix),
 * may start a transaction (TLS and AUTH where required) and may send
 * to a recipient (relay_domains on whole labels, unless authenticated).
 * Every refusal tells the device's admin what to change.
 *
 * What it must never do: open the relay.  Source routes, %-hacks, bang
 * paths, quoted local parts with @, address literals and recipients
 * without a domain are refused for everyone, authenticated or not:
 * a host behind the gateway may re-parse them into a different
 * destination.  It never talks to the client; it returns a result and
 * a reply, so that --explain (smtpd_explain.c) runs the very same code.
 *
 * Each step is a table of checks; the first that does not return RES_OK
 * decides.  Checks of later releases (blocklist, reverse DNS, sender
 * verification, senders bound to the AUTH user, rates) join these
 * tables as functions of the same shape.
 */
#include "smtpd_policy_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client_state.h"
#include "log.h"
#include "smtpd_block.h"
#include "smtpd_passwd.h"

void
policy_why(struct policy_client *c, const char *fmt, ...)
{
	va_list ap;
	int rc;

	if (!c->why)
		return;
	if (c->why->len && buf_appends(c->why, "; ") < 0)
		return;
	va_start(ap, fmt);
	rc = buf_vprintf(c->why, fmt, ap);
	va_end(ap);
	/* a failed append leaves the explanation shorter, never wrong */
	(void)rc;
}

void
policy_where(const struct policy_client *c, const struct conf_client *cls, char *out,
             size_t outsize)
{
	const char *file = c->cfg && c->cfg->file ? c->cfg->file : "config";

	out[0] = '\0';
	if (!c->why)
		return; /* only policy_why reads it: nothing to explain in a session */
	if (bounded_format(out, outsize, "%s (%s:%d)", cls->name, file, cls->line) < 0)
		(void)bounded_copy(out, outsize, cls->name);
}

void
policy_join_list(const struct conf_list *l, char *out, size_t outsize)
{
	size_t i, used = 0;
	int n;

	out[0] = '\0';
	if (l->n == 0) {
		(void)bounded_copy(out, outsize, "none");
		return;
	}
	for (i = 0; i < l->n; i++) {
		n = snprintf(out + used, outsize - used, "%s%s", i ? ", " : "", l->items[i]);
		if (n < 0 || (size_t)n >= outsize - used - 8) {
			out[used] = '\0';
			(void)bounded_format(out + used, outsize - used, "%s...", i ? ", " : "");
			return;
		}
		used += (size_t)n;
	}
}

void
policy_client_init(struct policy_client *c, const struct config *cfg,
                   const struct conf_listener *listener, const struct net_addr *addr)
{
	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->listener = listener;
	c->addr = *addr;
	net_addr_format(addr, c->addr_str, sizeof(c->addr_str));
	(void)bounded_copy(c->name, sizeof(c->name), "unknown");
}

/* auth_required - the listener accepts nothing before AUTH */
static bool
auth_required(const struct policy_client *c)
{
	return c->listener && c->listener->auth == LISTENER_AUTH_REQUIRED;
}

/* find_class - the class whose network contains the client most
 * specifically.  Equal prefixes in two classes are a config error
 * (conf_load refuses them); the first would win here. */
static void
find_class(struct policy_client *c)
{
	const struct config *cfg = c->cfg;
	size_t i, j;

	c->class = NULL;
	c->matched = NULL;
	for (i = 0; cfg && i < cfg->n_clients; i++) {
		for (j = 0; j < cfg->clients[i].n_networks; j++) {
			const struct cidr *net = &cfg->clients[i].networks[j];

			if (!cidr_contains(net, &c->addr))
				continue;
			if (c->matched && net->prefix <= c->matched->prefix)
				continue;
			c->class = &cfg->clients[i];
			c->matched = net;
		}
	}
}

/* refuse_unknown_client - 554 for a client in no class, saying what to change */
static enum result
refuse_unknown_client(const struct policy_client *c, struct reply *r)
{
	reply_set(r, 554, ESC_POLICY,
	          "Client %s is not in a campus network allowed to send mail here; ask the mail "
	          "admin to add it to a client class",
	          c->addr_str);
	return RES_PERM;
}

/* connect_class - the client must be in a campus network */
static enum result
connect_class(struct policy_client *c, const struct mail_addr *sender, const struct mail_addr *rcpt,
              struct reply *r)
{
	char cls[200], net[NET_ADDR_STRLEN + 8];

	(void)sender, (void)rcpt;
	find_class(c);
	if (c->class) {
		policy_where(c, c->class, cls, sizeof(cls));
		if (c->why)
			cidr_format(c->matched, net, sizeof(net));
		policy_why(c, "class %s, network %s", cls, net);
		return RES_OK;
	}
	if (auth_required(c)) {
		policy_why(c,
		           "in no client class, but listener %s requires AUTH: any address may "
		           "connect, nothing is accepted before AUTH",
		           c->listener->name);
		return RES_OK;
	}
	policy_why(c, "in no client class (no network of any class contains it)");
	return refuse_unknown_client(c, r);
}

/* mail_tls - require_tls: nothing before STARTTLS (RFC 3207 4) */
static enum result
mail_tls(struct policy_client *c, const struct mail_addr *sender, const struct mail_addr *rcpt,
         struct reply *r)
{
	char cls[200];

	(void)sender, (void)rcpt;
	if (!c->class)
		return RES_OK;
	policy_where(c, c->class, cls, sizeof(cls));
	if (!c->class->require_tls) {
		policy_why(c, "TLS not required by class %s", cls);
		return RES_OK;
	}
	if (c->tls) {
		policy_why(c, "TLS required by class %s, session is in TLS", cls);
		return RES_OK;
	}
	policy_why(c, "class %s requires TLS, session is not in TLS", cls);
	reply_set(r, 530, ESC_AUTH_REQUIRED,
	          "Must issue a STARTTLS command first (this network requires TLS: configure the "
	          "device to use STARTTLS, or ask the mail admin to list it in a client class "
	          "with require_tls = false)");
	return RES_PERM;
}

/* mail_auth - auth = required listeners accept nothing before AUTH */
static enum result
mail_auth(struct policy_client *c, const struct mail_addr *sender, const struct mail_addr *rcpt,
          struct reply *r)
{
	(void)sender, (void)rcpt;
	if (c->auth_user) {
		policy_why(c, "authenticated as %s", c->auth_user);
		return RES_OK;
	}
	if (!auth_required(c))
		return RES_OK;
	policy_why(c, "listener %s requires AUTH, client is not authenticated", c->listener->name);
	reply_set(r, 530, ESC_AUTH_REQUIRED, "Authentication required%s",
	          c->tls ? " (use AUTH with your campus user id)"
	                 : " (issue STARTTLS, then AUTH with your campus user id)");
	return RES_PERM;
}

/* mail_class - defensive: an unknown client must have authenticated */
static enum result
mail_class(struct policy_client *c, const struct mail_addr *sender, const struct mail_addr *rcpt,
           struct reply *r)
{
	(void)sender, (void)rcpt;
	if (c->class || c->auth_user)
		return RES_OK;
	policy_why(c, "in no client class and not authenticated");
	return refuse_unknown_client(c, r);
}

/* mail_sender - the null sender is for bounces (RFC 5321 4.5.5); a
 * sender needs a domain (only RCPT may name a bare <postmaster>) */
static enum result
mail_sender(struct policy_client *c, const struct mail_addr *sender, const struct mail_addr *rcpt,
            struct reply *r)
{
	(void)rcpt;
	if (sender->null) {
		policy_why(c, "null sender <> (a bounce)");
		return RES_OK;
	}
	if (sender->domain[0] != '\0')
		return RES_OK;
	policy_why(c, "sender has no domain");
	reply_set(r, 501, ESC_BAD_SENDER_SYNTAX,
	          "Bad sender address syntax: <%s> has no domain; configure the device with a full "
	          "sender address (user@domain)",
	          sender->local);
	return RES_PERM;
}

/* mail_auth_sender - an authenticated user sends only as one of their
 * own addresses (553 5.7.1; smtpd_passwd.c: the passwd file's third
 * field, auth.sender_map, auth.sender_patterns) */
static enum result
mail_auth_sender(struct policy_client *c, const struct mail_addr *sender,
                 const struct mail_addr *rcpt, struct reply *r)
{
	const char *rule = NULL;
	enum result res;

	(void)rcpt;
	if (!c->auth_user)
		return RES_OK;
	res = auth_sender_owned(c->cfg, c->auth_user, sender, "Sender address", r, &rule);
	policy_why(c, "sender of user %s: %s", c->auth_user, rule);
	return res;
}

/* rcpt_syntax - defensive: <> is a sender, never a recipient */
static enum result
rcpt_syntax(struct policy_client *c, const struct mail_addr *sender, const struct mail_addr *rcpt,
            struct reply *r)
{
	(void)sender;
	if (!rcpt->null)
		return RES_OK;
	policy_why(c, "null recipient");
	reply_set(r, 501, ESC_BAD_DEST_SYNTAX,
	          "Bad recipient address syntax: <> is not a recipient");
	return RES_PERM;
}

/* trick_name - the relay trick in an address, or NULL */
static const char *
trick_name(const struct mail_addr *a)
{
	if (a->had_source_route)
		return "a source route (@host,@host:user@domain)";
	if (a->local_has_relay_chars && a->quoted_local)
		return "a quoted local part with @, % or !";
	if (a->local_has_relay_chars && strchr(a->local, '%'))
		return "a %-hack (user%host@domain)";
	if (a->local_has_relay_chars)
		return "a bang path (host!user@domain)";
	if (a->domain_is_literal)
		return "an IP address literal";
	return NULL;
}

/* rcpt_tricks - refused for everyone: none is ever legitimate here */
static enum result
rcpt_tricks(struct policy_client *c, const struct mail_addr *sender, const struct mail_addr *rcpt,
            struct reply *r)
{
	const char *trick = trick_name(rcpt);
	char addr[ADDR_PATH_MAX];

	(void)sender;
	if (addr_format(rcpt, addr, sizeof(addr)) < 0)
		addr[0] = '\0';
	if (rcpt->domain[0] == '\0') {
		policy_why(c, "recipient without a domain: this relay has no local mailboxes");
		reply_set(r, 550, ESC_POLICY,
		          "Relay access denied: <%s> has no domain and this relay has no local "
		          "mailboxes; use a full address (user@domain)",
		          addr);
		return RES_PERM;
	}
	if (!trick)
		return RES_OK;
	policy_why(c, "recipient uses %s, which is never relayed", trick);
	reply_set(r, 550, ESC_POLICY,
	          "Relay access denied: recipient <%s> was given with %s, which is never relayed; "
	          "use a plain address (user@domain)",
	          addr, trick);
	return RES_PERM;
}

/* rcpt_relay - unless authenticated (RFC 6409: submission may go
 * anywhere), the recipient's domain must be in the class's
 * relay_domains, matched on whole labels */
static enum result
rcpt_relay(struct policy_client *c, const struct mail_addr *sender, const struct mail_addr *rcpt,
           struct reply *r)
{
	char cls[200], list[LIST_TEXT_MAX];
	const struct conf_list *l;
	size_t i;

	(void)sender;
	if (c->auth_user) {
		policy_why(c, "authenticated as %s: any domain", c->auth_user);
		return RES_OK;
	}
	if (!c->class) {
		policy_why(c, "in no client class and not authenticated");
		reply_set(r, 550, ESC_POLICY, "Relay access denied: authenticate first");
		return RES_PERM;
	}
	policy_where(c, c->class, cls, sizeof(cls));
	l = &c->class->relay_domains;
	for (i = 0; i < l->n; i++) {
		if (domain_matches(rcpt->domain, l->items[i])) {
			policy_why(c, "%s in relay_domains (%s) of class %s", rcpt->domain,
			           l->items[i], cls);
			return RES_OK;
		}
	}
	policy_join_list(l, list, sizeof(list));
	policy_why(c, "%s not in relay_domains of class %s (%s)", rcpt->domain, cls, list);
	reply_set(r, 550, ESC_POLICY,
	          "Relay access denied: %s@%s is outside the domains this client may send to (%s); "
	          "ask the mail admin to add it to relay_domains of client class %s, or use "
	          "authenticated submission",
	          rcpt->local, rcpt->domain, list, c->class->name);
	return RES_PERM;
}

/* connect_block - the admin's blocklist, read afresh each time */
static enum result
connect_block(struct policy_client *c, const struct mail_addr *sender, const struct mail_addr *rcpt,
              struct reply *r)
{
	const char *file = c->cfg ? c->cfg->blocklist : NULL;
	const char *text = c->cfg && c->cfg->blocklist_message && *c->cfg->blocklist_message
	                       ? c->cfg->blocklist_message
	                       : "Your host has been blocked; contact the mail admin";
	struct block_hit hit;
	char until[64] = "";
	struct tm tm;

	(void)sender, (void)rcpt;
	if (!file || !*file)
		return RES_OK;
	(void)block_check(file, &c->addr, time(NULL), &hit);
	if (!hit.blocked) {
		policy_why(c, "not in blocklist %s (%u current entries, %u expired, %u bad lines)",
		           file, hit.entries, hit.expired, hit.bad);
		return RES_OK;
	}
	if (hit.until && gmtime_r(&hit.until, &tm))
		(void)strftime(until, sizeof(until), " (until %Y-%m-%dT%H:%M:%SZ)", &tm);
	policy_why(c, "blocklisted by %s:%d: %s", file, hit.line, hit.entry);
	if (!c->why)
		log_info("blocklist %s:%d blocks %s%s", file, hit.line, c->addr_str, until);
	reply_set(r, 554, ESC_POLICY, "%s", text);
	return RES_PERM;
}

/* class_uses_dns - only these classes make a session ask DNS */
static bool
class_uses_dns(const struct conf_client *cls)
{
	return cls && (cls->require_dns || cls->verify_sender);
}

/* connect_dns - look the client up once, at connect; the verdict of
 * require_dns comes at MAIL, where the client can read a reply */
static enum result
connect_dns(struct policy_client *c, const struct mail_addr *sender, const struct mail_addr *rcpt,
            struct reply *r)
{
	(void)sender, (void)rcpt, (void)r;
	if (!class_uses_dns(c->class))
		return RES_OK;
	policy_fcrdns(c);
	policy_why(c, "reverse DNS: %s", c->fcrdns_text);
	return RES_OK;
}

/* mail_dns - require_dns: forward-confirmed reverse DNS (RFC 8601
 * "iprev"), unless the client authenticated */
static enum result
mail_dns(struct policy_client *c, const struct mail_addr *sender, const struct mail_addr *rcpt,
         struct reply *r)
{
	char cls[200];

	(void)sender, (void)rcpt;
	if (!c->class || !c->class->require_dns)
		return RES_OK;
	policy_where(c, c->class, cls, sizeof(cls));
	if (c->auth_user) {
		policy_why(c, "require_dns of class %s: not applied, authenticated", cls);
		return RES_OK;
	}
	policy_fcrdns(c);
	if (c->fcrdns == RES_OK) {
		policy_why(c, "require_dns of class %s: %s", cls, c->fcrdns_text);
		return RES_OK;
	}
	policy_why(c, "require_dns of class %s: %s", cls, c->fcrdns_text);
	if (c->fcrdns == RES_TEMP) {
		reply_set(r, 450, ESC_REVERSE_DNS,
		          "Client host %s: reverse DNS lookup failed for now (%s); try again later",
		          c->addr_str, c->fcrdns_text);
		return RES_TEMP;
	}
	reply_set(r, 550, ESC_REVERSE_DNS,
	          "Client host %s has no forward-confirmed reverse DNS name (%s); register the "
	          "device in DNS (PTR and A/AAAA) or ask the mail admin",
	          c->addr_str, c->fcrdns_text);
	return RES_PERM;
}

/* rate_text - "600/3600s" as the admin wrote it, roughly */
static void
rate_text(const struct conf_client *cls, char *out, size_t outsize)
{
	unsigned p = cls->rate_period;

	if (p % 86400 == 0)
		(void)bounded_format(out, outsize, "%u per %ud", cls->rate_count, p / 86400);
	else if (p % 3600 == 0)
		(void)bounded_format(out, outsize, "%u per %uh", cls->rate_count, p / 3600);
	else if (p % 60 == 0)
		(void)bounded_format(out, outsize, "%u per %um", cls->rate_count, p / 60);
	else
		(void)bounded_format(out, outsize, "%u per %us", cls->rate_count, p);
}

/* mail_rate - client.rate: MAIL commands accepted per client address,
 * counted across all sessions; last, so only accepted ones count */
static enum result
mail_rate(struct policy_client *c, const struct mail_addr *sender, const struct mail_addr *rcpt,
          struct reply *r)
{
	const char *dir = c->cfg ? c->cfg->state_dir : NULL;
	char rate[64], err[300];
	struct cs_count n;
	enum result res;
	int allowed = 0;

	(void)sender, (void)rcpt;
	if (!c->class || c->class->rate_count == 0)
		return RES_OK;
	rate_text(c->class, rate, sizeof(rate));
	if (c->dry_run) {
		res = client_state_get(dir, &c->addr, CS_MESSAGES, c->class->rate_period,
		                       time(NULL), &n, err, sizeof(err));
		allowed = n.count < c->class->rate_count;
	} else {
		res = client_state_take(dir, &c->addr, CS_MESSAGES, c->class->rate_count,
		                        c->class->rate_period, time(NULL), &allowed, &n, err,
		                        sizeof(err));
	}
	if (res != RES_OK) {
		policy_why(c, "rate %s: %s", rate, err);
		if (!c->why)
			log_warn("%s", err);
		reply_set(r, 451, ESC_SYSTEM,
		          "Temporary local problem: cannot check the rate limit; "
		          "try again later");
		return RES_TEMP;
	}
	policy_why(c, "rate %s of class %s: %u counted in this window%s", rate, c->class->name,
	           n.count, c->dry_run ? " (--explain counts nothing)" : "");
	if (allowed)
		return RES_OK;
	reply_set(r, 450, ESC_RATE, "Rate limit exceeded: %s from %s (%s); try again later", rate,
	          c->addr_str, "messages per client address");
	return RES_TEMP;
}

/* run - the checks in order; the first that is not RES_OK decides */
static enum result
run(const policy_check *checks, size_t n, struct policy_client *c, const struct mail_addr *sender,
    const struct mail_addr *rcpt, struct reply *r)
{
	enum result res;
	size_t i;

	for (i = 0; i < n; i++)
		if ((res = checks[i](c, sender, rcpt, r)) != RES_OK)
			return res;
	return RES_OK;
}

static const policy_check connect_checks[] = {connect_block, connect_class, connect_dns};

static const policy_check mail_checks[] = {mail_tls,
                                           mail_auth,
                                           mail_class,
                                           mail_dns,
                                           mail_sender,
                                           mail_auth_sender,
                                           policy_mail_sender_domains,
                                           policy_mail_verify_sender,
                                           mail_rate};

static const policy_check rcpt_checks[] = {rcpt_syntax, rcpt_tricks, rcpt_relay};

#define NCHECKS(t) (sizeof(t) / sizeof((t)[0]))

enum result
policy_connect(struct policy_client *c, struct reply *r)
{
	enum result res = run(connect_checks, NCHECKS(connect_checks), c, NULL, NULL, r);

	if (res == RES_OK)
		reply_set(r, 220, NULL, "accepted");
	return res;
}

enum result
policy_mail(struct policy_client *c, const struct mail_addr *sender, struct reply *r)
{
	enum result res = run(mail_checks, NCHECKS(mail_checks), c, sender, NULL, r);

	if (res == RES_OK)
		reply_set(r, 250, ESC_OK_ADDR, "Ok");
	return res;
}

enum result
policy_rcpt(struct policy_client *c, const struct mail_addr *sender, const struct mail_addr *rcpt,
            struct reply *r)
{
	enum result res = run(rcpt_checks, NCHECKS(rcpt_checks), c, sender, rcpt, r);

	if (res == RES_OK)
		reply_set(r, 250, ESC_OK_RCPT, "Ok");
	return res;
}
