/*
 * smtpd_policy_dns.c - the campus rules that ask DNS
 *
 * What it is for: forward-confirmed reverse DNS of the client (a PTR
 * name whose A/AAAA records hold the client's address: the device is
 * registered in the campus network database), and the reachability of
 * a sender domain (an MX that is not RFC 7505's null MX, or else an A
 * or AAAA record), for MAIL FROM and the From: header, whose address
 * list is parsed here.  All questions go through lib/dns.c.
 *
 * What it must never do: turn DNS trouble (timeout, SERVFAIL, REFUSED)
 * into a permanent refusal, put an unchecked PTR name into Received:
 * or a log line (only names that pass dns_hostname_ok), or ask more
 * than a bounded number of questions per check.
 */
#include "smtpd_policy_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "dns.h"

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

/* struct from_scan - where policy_from_parse is in the value */
struct from_scan {
	char word[ADDR_PATH_MAX * 2]; /* the current mailbox, comments dropped */
	size_t len;
	bool angle, overflow; /* inside <...>; the mailbox did not fit */
	size_t angle_at; /* where <...> started in word */
};

/* from_add - a mailbox from its text (addr-spec or name-addr) */
static void
from_add(struct from_addrs *out, struct from_scan *s)
{
	char *w = s->word, *at = NULL, *p, *end;
	bool q = false;

	s->word[s->len] = '\0';
	if (s->angle_at || (s->len && s->word[0] == '<'))
		w = s->word + s->angle_at;
	while (isspace((unsigned char)*w) || *w == '<')
		w++;
	if (*w == '@' && (p = strchr(w, ':')) != NULL) /* obsolete route */
		w = p + 1;
	for (end = w + strlen(w); end > w && (isspace((unsigned char)end[-1]) || end[-1] == '>');)
		*--end = '\0';
	s->len = s->angle_at = 0;
	s->angle = false;
	if (*w == '\0' || s->overflow) {
		s->overflow = false;
		return;
	}
	if (out->n == FROM_ADDRS_MAX) {
		out->more = true;
		return;
	}
	for (p = w; *p; p++) {
		if (*p == '"')
			q = !q;
		else if (*p == '\\' && p[1])
			p++;
		else if (*p == '@' && !q)
			at = p;
	}
	(void)bounded_copy(out->addr[out->n], sizeof(out->addr[0]), w);
	for (p = at ? at + 1 : end; *p && isspace((unsigned char)*p); p++)
		;
	(void)bounded_copy(out->domain[out->n], sizeof(out->domain[0]), p);
	for (p = out->domain[out->n]; *p && !isspace((unsigned char)*p); p++)
		*p = (char)tolower((unsigned char)*p);
	*p = '\0';
	if (p > out->domain[out->n] && p[-1] == '.')
		p[-1] = '\0';
	out->n++;
}

/* from_put - one octet of the current mailbox */
static void
from_put(struct from_scan *s, char ch)
{
	if (s->len + 1 >= sizeof(s->word))
		s->overflow = true;
	else
		s->word[s->len++] = ch;
}

void
policy_from_parse(const char *value, struct from_addrs *out)
{
	struct from_scan s;
	size_t i, n = value ? strnlen(value, FROM_HEADER_MAX) : 0;
	int depth = 0;
	bool q = false;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	for (i = 0; i < n; i++) {
		char ch = value[i];

		if (ch == '\\' && i + 1 < n && (q || depth)) { /* quoted-pair */
			if (!depth)
				from_put(&s, ch), from_put(&s, value[i + 1]);
			i++;
		} else if (depth) {
			depth += ch == '(' ? 1 : ch == ')' ? -1 : 0;
		} else if (q) {
			q = ch != '"';
			from_put(&s, ch);
		} else if (ch == '"') {
			q = true;
			from_put(&s, ch);
		} else if (ch == '(') {
			depth = 1;
		} else if (ch == '<') {
			s.angle = true;
			s.len = s.angle_at = 0; /* the display name goes */
			from_put(&s, ch);
		} else if (ch == '>' && s.angle) {
			s.angle = false;
		} else if (ch == ':' && !s.angle) {
			s.len = 0; /* a group's name */
		} else if ((ch == ',' || ch == ';') && !s.angle) {
			from_add(out, &s);
		} else if (!s.angle || ch != '>') {
			from_put(&s, ch);
		}
	}
	from_add(out, &s);
}
