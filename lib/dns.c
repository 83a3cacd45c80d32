/*
 * dns.c - the one resolver of mailout: PTR, A, AAAA and MX lookups
 *
 * What it is for: asking the system's resolver, or the one server of
 * resolver.nameserver, a question with short timeouts, and reading the
 * answer in one function, dns_parse(), that the fuzzer exercises.  The
 * C library builds the query and sends it (res_nmkquery, res_nsend:
 * UDP with retries, TCP when the answer is truncated, IDs and the
 * question checked); everything in the answer is read here.
 *
 * What it must never do: trust a count or a length in an answer
 * without checking it against the octets there are, keep more than
 * DNS_RECORDS_MAX records, call our trouble (a silent or failing
 * server) a fact about the name (it is RES_TEMP, never RES_PERM), or read
 * /etc/hosts (a policy asks DNS, not this host's files).
 */
#include "dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"

#define CNAME_LINKS 16 /* CNAME records remembered from one answer */

/* get16 - big-endian 16 bits */
static unsigned
get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* struct rr_walk - where the walk through an answer's records is */
struct rr_walk {
	const unsigned char *msg, *end, *p;
	unsigned left; /* records left in the answer section */
};

/* struct rr - one resource record, as the walk found it */
struct rr {
	char owner[NS_MAXDNAME];
	unsigned type, cls, rdlen;
	const unsigned char *rdata;
};

/* expand - a (compressed) name at p into text, lower case, fitting
 * outsize; octets consumed, or -1 (bad name, or it does not fit) */
static int
expand(const unsigned char *msg, const unsigned char *end, const unsigned char *p, char *out,
       size_t outsize)
{
	char text[NS_MAXDNAME];
	int n = dn_expand(msg, end, p, text, sizeof(text));
	size_t i;

	if (n < 0 || bounded_copy(out, outsize, text) < 0)
		return -1;
	for (i = 0; out[i]; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	return n;
}

/* walk_start - past the header and the one question; -1 if malformed */
static int
walk_start(struct rr_walk *w, const unsigned char *msg, size_t len, char *qname, size_t qsize)
{
	int n;

	if (len < NS_HFIXEDSZ || len > DNS_ANSWER_MAX)
		return -1;
	if (!(msg[2] & 0x80) || get16(msg + 4) != 1) /* a response, to one question */
		return -1;
	w->msg = msg;
	w->end = msg + len;
	w->p = msg + NS_HFIXEDSZ;
	w->left = get16(msg + 6);
	if ((n = expand(msg, w->end, w->p, qname, qsize)) < 0 || w->end - (w->p + n) < 4)
		return -1;
	w->p += n + 4; /* QTYPE, QCLASS */
	return 0;
}

/* walk_next - the next answer record: 1, 0 at the end, -1 malformed */
static int
walk_next(struct rr_walk *w, struct rr *rr)
{
	int n;

	if (w->left == 0)
		return 0;
	w->left--;
	n = expand(w->msg, w->end, w->p, rr->owner, sizeof(rr->owner));
	if (n < 0 || w->end - (w->p + n) < 10)
		return -1;
	w->p += n;
	rr->type = get16(w->p);
	rr->cls = get16(w->p + 2);
	rr->rdlen = get16(w->p + 8);
	w->p += 10;
	if ((size_t)(w->end - w->p) < rr->rdlen)
		return -1;
	rr->rdata = w->p;
	w->p += rr->rdlen;
	return 1;
}

/* follow_cnames - the end of qname's CNAME chain within the answer
 * (RFC 1034 3.6.2: a resolver hands back the chain and its target's
 * records; RFC 2317 delegates reverse zones that way) */
static int
follow_cnames(const unsigned char *msg, size_t len, struct dns_answer *out)
{
	char from[CNAME_LINKS][DNS_NAME_MAX], to[CNAME_LINKS][DNS_NAME_MAX];
	char qname[DNS_NAME_MAX];
	struct rr_walk w;
	struct rr rr;
	size_t links = 0, i, hops;
	int k;

	if (walk_start(&w, msg, len, qname, sizeof(qname)) < 0)
		return -1;
	while ((k = walk_next(&w, &rr)) > 0) {
		if (rr.type != DNS_CNAME || rr.cls != ns_c_in || links == CNAME_LINKS)
			continue;
		if (bounded_copy(from[links], DNS_NAME_MAX, rr.owner) < 0 ||
		    expand(msg, rr.rdata + rr.rdlen, rr.rdata, to[links], DNS_NAME_MAX) < 0)
			continue;
		links++;
	}
	if (k < 0)
		return -1;
	for (hops = 0; hops < DNS_CNAME_MAX; hops++) {
		const char *cur = out->cname[0] ? out->cname : out->qname;

		for (i = 0; i < links && strcmp(from[i], cur) != 0; i++)
			;
		if (i == links)
			break;
		(void)bounded_copy(out->cname, sizeof(out->cname), to[i]);
	}
	return 0;
}

/* keep - one record of the type asked for; false when rdata is not one */
static bool
keep(const unsigned char *msg, const struct rr *rr, struct dns_record *d)
{
	const unsigned char *rd = rr->rdata, *rdend = rr->rdata + rr->rdlen;
	int n;

	memset(d, 0, sizeof(*d));
	d->type = (enum dns_type)rr->type;
	switch (rr->type) {
	case DNS_A:
		if (rr->rdlen != 4)
			return false;
		d->addr.a[10] = d->addr.a[11] = 0xff;
		memcpy(d->addr.a + 12, rd, 4);
		return true;
	case DNS_AAAA:
		if (rr->rdlen != 16)
			return false;
		memcpy(d->addr.a, rd, 16);
		return true;
	case DNS_MX:
		if (rr->rdlen < 3)
			return false;
		d->pref = get16(rd);
		rd += 2;
		/* FALLTHROUGH */
	case DNS_PTR:
		/* the name may point back into the message, but must end
		 * inside its own rdata */
		n = expand(msg, rdend, rd, d->name, sizeof(d->name));
		return n > 0 && n <= rdend - rd;
	default:
		return false;
	}
}

/* status_of - the answer's RCODE and records as an outcome */
static enum result
status_of(struct dns_answer *out, unsigned rcode)
{
	if (rcode == ns_r_nxdomain)
		out->status = DNS_NXDOMAIN;
	else if (rcode == ns_r_servfail)
		out->status = DNS_SERVFAIL;
	else if (rcode != ns_r_noerror)
		out->status = DNS_REFUSED;
	else
		out->status = out->n ? DNS_FOUND : DNS_NODATA;
	switch (out->status) {
	case DNS_FOUND:
		return RES_OK;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		return RES_PERM;
	default:
		return RES_TEMP;
	}
}

enum result
dns_parse(const unsigned char *msg, size_t len, enum dns_type type, struct dns_answer *out)
{
	struct rr_walk w;
	struct rr rr;
	const char *owner;
	int k;

	memset(out, 0, sizeof(*out));
	out->status = DNS_MALFORMED;
	if (walk_start(&w, msg, len, out->qname, sizeof(out->qname)) < 0 ||
	    follow_cnames(msg, len, out) < 0)
		return RES_TEMP;
	owner = out->cname[0] ? out->cname : out->qname;
	while ((k = walk_next(&w, &rr)) > 0) {
		if (rr.type != (unsigned)type || rr.cls != ns_c_in || strcmp(rr.owner, owner) != 0)
			continue;
		out->total++;
		if (out->n < DNS_RECORDS_MAX && keep(msg, &rr, &out->rr[out->n]))
			out->n++;
	}
	if (k < 0) {
		out->n = out->total = 0;
		return RES_TEMP;
	}
	return status_of(out, msg[3] & 0x0f);
}

int
dns_nameserver_parse(const char *s, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL, *close;
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	unsigned long p = 53;
	char *end;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		if (!(close = strchr(s, ']')) || (close[1] && close[1] != ':') ||
		    bounded_format(host, sizeof(host), "%.*s", (int)(close - s - 1), s + 1) < 0)
			return -1;
		port = close[1] ? close + 2 : NULL;
	} else if (strchr(s, ':') && strchr(s, ':') == strrchr(s, ':')) {
		close = strchr(s, ':');
		if (bounded_format(host, sizeof(host), "%.*s", (int)(close - s), s) < 0)
			return -1;
		port = close + 1;
	} else if (bounded_copy(host, sizeof(host), s) < 0) {
		return -1;
	}
	if (port) {
		errno = 0;
		p = strtoul(port, &end, 10);
		if (!isdigit((unsigned char)*port) || *end || errno || p == 0 || p > 65535)
			return -1;
	}
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)p);
		return 0;
	}
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) != 1)
		return -1;
	v6->sin6_family = AF_INET6;
	v6->sin6_port = htons((uint16_t)p);
	return 0;
}

/* use_server - point the resolver state at one server.  glibc keeps an
 * IPv6 server in _u._ext.nsaddrs (malloc'd, freed by res_nclose) with
 * nsaddr_list[n].sin_family 0, as res_ninit does for resolv.conf. */
static int
use_server(res_state rs, const struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *v6;
	int i;

	for (i = 0; i < MAXNS; i++) {
		free(rs->_u._ext.nsaddrs[i]);
		rs->_u._ext.nsaddrs[i] = NULL;
	}
	memset(rs->nsaddr_list, 0, sizeof(rs->nsaddr_list));
	rs->_u._ext.nscount = 0;
	rs->nscount = 1;
	if (ss->ss_family == AF_INET) {
		memcpy(&rs->nsaddr_list[0], ss, sizeof(struct sockaddr_in));
		return 0;
	}
	if (!(v6 = malloc(sizeof(*v6))))
		return -1;
	memcpy(v6, ss, sizeof(*v6));
	rs->_u._ext.nsaddrs[0] = v6;
	return 0;
}

/* open_resolver - a resolver state for nameserver ("" = resolv.conf) */
static int
open_resolver(res_state rs, const char *nameserver)
{
	struct sockaddr_storage ss;

	memset(rs, 0, sizeof(*rs));
	if (res_ninit(rs) < 0)
		return -1;
	rs->retrans = DNS_TRY_SECONDS;
	rs->retry = DNS_TRIES;
	rs->options &= ~(unsigned long)(RES_DEFNAMES | RES_DNSRCH);
	if (!nameserver || !*nameserver)
		return 0;
	if (dns_nameserver_parse(nameserver, &ss) < 0 || use_server(rs, &ss) < 0) {
		res_nclose(rs);
		return -1;
	}
	return 0;
}

enum result
dns_lookup(const char *nameserver, const char *name, enum dns_type type, struct dns_answer *out)
{
	unsigned char query[NS_PACKETSZ], *ans;
	struct __res_state rs;
	enum result res = RES_TEMP;
	int qlen, alen;

	memset(out, 0, sizeof(*out));
	out->status = DNS_TIMEOUT;
	(void)bounded_copy(out->qname, sizeof(out->qname), name);
	if (!(ans = malloc(DNS_ANSWER_MAX)))
		return RES_TEMP;
	if (open_resolver(&rs, nameserver) < 0) {
		free(ans);
		return RES_TEMP;
	}
	qlen = res_nmkquery(&rs, ns_o_query, name, ns_c_in, (int)type, NULL, 0, NULL, query,
	                    sizeof(query));
	if (qlen < 0) {
		out->status = DNS_MALFORMED; /* a name that cannot be asked */
	} else {
		errno = 0;
		alen = res_nsend(&rs, query, qlen, ans, DNS_ANSWER_MAX);
		if (alen >= 0)
			res =
			    dns_parse(ans, (size_t)(alen > DNS_ANSWER_MAX ? DNS_ANSWER_MAX : alen),
			              type, out);
		else
			out->status = errno == ETIMEDOUT ? DNS_TIMEOUT : DNS_SERVFAIL;
	}
	res_nclose(&rs);
	free(ans);
	return res;
}

int
dns_reverse_name(const struct net_addr *a, char *out, size_t outsize)
{
	static const char hex[] = "0123456789abcdef";
	struct buf b = BUF_INIT(DNS_NAME_MAX);
	int i, rc = 0;

	if (net_addr_is_v4(a)) {
		rc = bounded_format(out, outsize, "%u.%u.%u.%u.in-addr.arpa", a->a[15], a->a[14],
		                    a->a[13], a->a[12]);
		return rc;
	}
	for (i = 15; i >= 0 && rc == 0; i--)
		rc = buf_printf(&b, "%c.%c.", hex[a->a[i] & 0xf], hex[a->a[i] >> 4]);
	if (rc == 0)
		rc = buf_appends(&b, "ip6.arpa");
	if (rc == 0)
		rc = bounded_copy(out, outsize, buf_cstr(&b));
	buf_free(&b);
	return rc;
}

const char *
dns_status_text(enum dns_status s)
{
	switch (s) {
	case DNS_FOUND:
		return "found";
	case DNS_NXDOMAIN:
		return "NXDOMAIN";
	case DNS_NODATA:
		return "no records";
	case DNS_SERVFAIL:
		return "server failure";
	case DNS_REFUSED:
		return "refused";
	case DNS_TIMEOUT:
		return "timeout";
	case DNS_MALFORMED:
		return "malformed answer";
	}
	return "?";
}

bool
dns_hostname_ok(const char *name)
{
	size_t label = 0, len = strlen(name);
	bool alpha = false;
	const char *p;

	if (len == 0 || len > 253 || name[0] == '.' || name[len - 1] == '.')
		return false;
	for (p = name; *p; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return false;
		if ((label == 0 && *p == '-') || ++label > 63)
			return false;
		alpha = alpha || !isdigit((unsigned char)*p);
	}
	return alpha && p[-1] != '-';
}
