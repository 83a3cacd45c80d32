/*
 * smtpd_policy_dns.c - the campus rules that ask DNS
 *
 * What it is for: forward-confirmed reverse DNS of the client (a PTR
 * name whose A/AAAA records hold the client's address: the device is
 * registered in the campus network database), and the reachability of
 * a sender domain (an MX that is not RFC 7505's null MX, or else an A
 * or AAAA record), for MAIL FROM and the From: header, whose address
 * list is read here, once, for every check that looks at it (the class
 * rules and the AUTH sender binding).  All questions go through
 * lib/dns.c.
 *
 * What it must never do: turn DNS trouble (timeout, SERVFAIL, REFUSED)
 * into a permanent refusal, put an unchecked PTR name into Received:
 * or a log line (only names that pass dns_hostname_ok), ask more
 * than a bounded number of questions per check, or pass a From: header
 * it could not read whole (fail closed).
 */
#include "smtpd_policy_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "dns.h"
#include "mail_rewrite.h"

#define PTR_NAMES_MAX 4 /* PTR names whose addresses are looked up */

/* nameserver - resolver.nameserver, or NULL for resolv.conf */
static const char *
nameserver(const struct policy_client *c)
{
	return c->cfg ? c->cfg->resolver.nameserver : NULL;
}

/* confirm - does name's A (or AAAA) hold the client's address? */
static enum result
confirm(struct policy_client *c, const char *name, char *seen, size_t seensize)
{
	enum dns_type type = net_addr_is_v4(&c->addr) ? DNS_A : DNS_AAAA;
	struct dns_answer ans;
	char a[NET_ADDR_STRLEN];
	enum result res;
	size_t i;

	res = dns_lookup(nameserver(c), name, type, &ans);
	if (res != RES_OK) {
		(void)bounded_format(seen, seensize, "%s has no %s record (%s)", name,
		                     type == DNS_A ? "A" : "AAAA", dns_status_text(ans.status));
		return res;
	}
	for (i = 0; i < ans.n; i++)
		if (memcmp(ans.rr[i].addr.a, c->addr.a, sizeof(c->addr.a)) == 0)
			return RES_OK;
	net_addr_format(&ans.rr[0].addr, a, sizeof(a));
	(void)bounded_format(seen, seensize, "%s resolves to %s%s, not to %s", name, a,
	                     ans.n > 1 ? " ..." : "", c->addr_str);
	return RES_PERM;
}

/* ptr_names - the PTR lookup; RES_OK with ans filled */
static enum result
ptr_names(struct policy_client *c, struct dns_answer *ans)
{
	char rev[DNS_NAME_MAX];
	enum result res;

	if (dns_reverse_name(&c->addr, rev, sizeof(rev)) < 0) {
		(void)bounded_copy(c->fcrdns_text, sizeof(c->fcrdns_text), "no reverse name");
		return RES_PERM;
	}
	res = dns_lookup(nameserver(c), rev, DNS_PTR, ans);
	if (res == RES_OK)
		return RES_OK;
	(void)bounded_format(c->fcrdns_text, sizeof(c->fcrdns_text), "%s %s (%s)",
	                     res == RES_TEMP ? "PTR lookup failed for" : "no PTR record for",
	                     c->addr_str, dns_status_text(ans->status));
	return res;
}

void
policy_fcrdns(struct policy_client *c)
{
	struct dns_answer ans;
	char seen[300] = "";
	bool temp = false;
	size_t i;

	if (c->fcrdns_done)
		return;
	c->fcrdns_done = true;
	if ((c->fcrdns = ptr_names(c, &ans)) != RES_OK)
		return;
	for (i = 0; i < ans.n && i < PTR_NAMES_MAX; i++) {
		const char *name = ans.rr[i].name;
		enum result res;

		if (!dns_hostname_ok(name)) {
			(void)bounded_copy(seen, sizeof(seen), "PTR name is not a host name");
			continue;
		}
		res = confirm(c, name, seen, sizeof(seen));
		if (res == RES_OK) {
			c->fcrdns = RES_OK;
			(void)bounded_copy(c->name, sizeof(c->name), name);
			(void)bounded_format(c->fcrdns_text, sizeof(c->fcrdns_text),
			                     "%s has PTR %s, which resolves back to it",
			                     c->addr_str, name);
			return;
		}
		temp = temp || res == RES_TEMP;
	}
	c->fcrdns = temp ? RES_TEMP : RES_PERM;
	(void)bounded_format(c->fcrdns_text, sizeof(c->fcrdns_text), "%s has PTR %s, but %s",
	                     c->addr_str, ans.rr[0].name, seen);
}

/* has_address - the fallback of RFC 5321 5.1: no MX, an A or AAAA */
static enum result
has_address(struct policy_client *c, const char *domain, char *detail, size_t detailsize)
{
	static const enum dns_type types[] = {DNS_A, DNS_AAAA};
	struct dns_answer ans;
	enum result res, worst = RES_PERM;
	char a[NET_ADDR_STRLEN];
	size_t i;

	for (i = 0; i < 2; i++) {
		res = dns_lookup(nameserver(c), domain, types[i], &ans);
		if (res == RES_OK) {
			net_addr_format(&ans.rr[0].addr, a, sizeof(a));
			(void)bounded_format(detail, detailsize, "%s has no MX, but %s %s", domain,
			                     i == 0 ? "A" : "AAAA", a);
			return RES_OK;
		}
		if (res == RES_TEMP)
			worst = RES_TEMP;
	}
	(void)bounded_format(detail, detailsize, "%s has no MX, A or AAAA record%s", domain,
	                     worst == RES_TEMP ? " (a lookup failed)" : "");
	return worst;
}

enum result
policy_domain_reachable(struct policy_client *c, const char *domain, char *detail,
                        size_t detailsize)
{
	struct dns_answer ans;
	enum result res;
	size_t i;

	if (domain[0] == '\0' || domain[0] == '[') {
		(void)bounded_format(detail, detailsize, "%s cannot be verified in DNS",
		                     domain[0] ? "an address literal"
		                               : "an address without domain");
		return RES_PERM;
	}
	res = dns_lookup(nameserver(c), domain, DNS_MX, &ans);
	if (res == RES_TEMP || (res == RES_PERM && ans.status == DNS_NXDOMAIN)) {
		(void)bounded_format(detail, detailsize, "MX lookup for %s: %s", domain,
		                     dns_status_text(ans.status));
		return res;
	}
	if (res == RES_PERM)
		return has_address(c, domain, detail, detailsize);
	for (i = 0; i < ans.n; i++) {
		if (ans.rr[i].name[0] != '\0') {
			(void)bounded_format(detail, detailsize, "%s has MX %s (preference %u)",
			                     domain, ans.rr[i].name, ans.rr[i].pref);
			return RES_OK;
		}
	}
	(void)bounded_format(detail, detailsize, "%s has a null MX (RFC 7505): it accepts no mail",
	                     domain);
	return RES_PERM;
}

/* skip_cfws - past blanks and (nested) comments from i; len when a
 * comment is not closed */
static size_t
skip_cfws(const char *s, size_t len, size_t i)
{
	unsigned depth = 0;

	for (; i < len; i++) {
		if (depth && s[i] == '\\' && i + 1 < len)
			i++;
		else if (s[i] == '(')
			depth++;
		else if (depth && s[i] == ')')
			depth--;
		else if (!depth && s[i] != ' ' && s[i] != '\t')
			return i;
	}
	return len;
}

/* angle_tail_ok - a name-addr ends at its '>': after the addr-spec
 * that ends at i only comments and blanks, the '>', comments and
 * blanks, then the end or the list's separator.  "<a@b> evil@c" is
 * refused, never read as one of the two. */
static bool
angle_tail_ok(const char *s, size_t len, size_t i)
{
	i = skip_cfws(s, len, i);
	if (i >= len || s[i] != '>')
		return false;
	i = skip_cfws(s, len, i + 1);
	return i >= len || s[i] == ',' || s[i] == ';';
}

/* from_add - one addr-spec: the obsolete route goes, the domain is
 * what follows the last '@' outside quotes, lower-cased */
static void
from_add(struct from_addrs *out, const char *addr)
{
	const char *w = addr, *at = NULL, *p;
	char *d;
	bool q = false;

	if (*w == '@' && (p = strchr(w, ':')) != NULL) /* <@a,@b:u@d> */
		w = p + 1;
	for (p = w; *p; p++) {
		if (*p == '"')
			q = !q;
		else if (*p == '\\' && p[1])
			p++;
		else if (*p == '@' && !q)
			at = p;
	}
	(void)bounded_copy(out->addr[out->n], sizeof(out->addr[0]), w);
	(void)bounded_copy(out->domain[out->n], sizeof(out->domain[0]), at ? at + 1 : "");
	for (d = out->domain[out->n]; *d; d++)
		*d = (char)tolower((unsigned char)*d);
	if (d > out->domain[out->n] && d[-1] == '.')
		d[-1] = '\0';
	out->n++;
}

void
policy_from_split(const char *value, size_t len, struct from_addrs *out)
{
	struct addrlist_item it;
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	if (!value)
		return;
	if (len > FROM_HEADER_MAX || memchr(value, '\0', len) != NULL) {
		out->bad = true; /* what a C string parser would not see */
		return;
	}
	while (addrlist_next(value, len, &pos, &it) == 1) {
		if (it.bad || (it.angle && !angle_tail_ok(value, len, it.off + it.len))) {
			out->bad = true;
		} else if (out->n == FROM_ADDRS_MAX) {
			out->more = true;
			return;
		} else {
			from_add(out, it.addr);
		}
	}
}

void
policy_from_parse(const char *value, struct from_addrs *out)
{
	policy_from_split(value, value ? strnlen(value, FROM_HEADER_MAX + 1) : 0, out);
}

/* from_refuse - the header cannot be checked whole: fail closed */
static enum result
from_refuse(int code, struct reply *r, const char *why)
{
	reply_set(r, code, ESC_POLICY,
	          "Message refused: %s; send one From: header with your own address", why);
	return RES_PERM;
}

enum result
policy_from_mailboxes(const struct from_header *fh, int code, struct from_mailboxes *out,
                      struct reply *r)
{
	struct from_addrs fa;
	size_t i;

	out->n = 0;
	if (fh->count == 0 || fh->value == NULL)
		return RES_OK;
	if (fh->count > 1)
		return from_refuse(code, r, "more than one From: header");
	if (fh->truncated || fh->len > FROM_HEADER_MAX)
		return from_refuse(code, r, "From: header too long to check");
	policy_from_split(fh->value, fh->len, &fa);
	if (fa.bad)
		return from_refuse(code, r, "From: header holds something that is not an address");
	if (fa.more)
		return from_refuse(code, r, "From: header has too many addresses to check");
	for (i = 0; i < fa.n; i++) {
		if (addr_parse_mailbox(fa.addr[i], strlen(fa.addr[i]), &out->a[i], NULL) != RES_OK)
			return from_refuse(code, r,
			                   "From: header holds something that is not an address");
	}
	out->n = fa.n;
	return RES_OK;
}
