/*
 * deliver_dns.c - the gateway's addresses: MX, A and AAAA
 *
 * What it is for: turning one gateway.servers entry into addresses to
 * try in order.  "[host]:port" means the host itself (getaddrinfo, or
 * A/AAAA queries to resolver.nameserver when that is set); a bare host
 * means an MX lookup first (RFC 5321 5.1: no MX records = the host
 * itself).  Answers are parsed by one function, dns_parse_answer(),
 * which has a fuzz target.
 * What it must never do: call a DNS failure permanent (the gateway is
 * our own configuration: its absence is our trouble), or trust a
 * length in a DNS answer without checking it against the buffer.
 */
#include "deliver.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DNS_ANSWER_MAX 8192
#define MX_MAX 8

/* get16 - big-endian 16 bits */
static unsigned
get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* skip_name - length of the (compressed) name at p, or -1 */
static int
skip_name(const unsigned char *msg, const unsigned char *end, const unsigned char *p)
{
	char name[NS_MAXDNAME];

	return dn_expand(msg, end, p, name, sizeof(name));
}

/* take_rr - copy the data of one record of the wanted type; 1 kept */
static int
take_rr(const unsigned char *msg, const unsigned char *end, const unsigned char *rd, unsigned type,
        unsigned rdlen, struct dns_rr *out)
{
	memset(out, 0, sizeof(*out));
	out->type = (int)type;
	if (type == ns_t_a && rdlen == 4) {
		memcpy(out->addr, rd, 4);
		return 1;
	}
	if (type == ns_t_aaaa && rdlen == 16) {
		memcpy(out->addr, rd, 16);
		return 1;
	}
	if (type == ns_t_mx && rdlen >= 3) {
		out->pref = get16(rd);
		if (dn_expand(msg, end, rd + 2, out->name, sizeof(out->name)) < 0)
			return -1;
		return 1;
	}
	return 0;
}

int
dns_parse_answer(const unsigned char *msg, size_t len, int qtype, struct dns_rr *rr, size_t max)
{
	const unsigned char *p = msg + NS_HFIXEDSZ, *end = msg + len;
	unsigned qd, an, i;
	size_t n = 0;
	int sk;

	if (len < NS_HFIXEDSZ || len > 65535)
		return -1;
	qd = get16(msg + 4);
	an = get16(msg + 6);
	for (i = 0; i < qd; i++) {
		if ((sk = skip_name(msg, end, p)) < 0 || end - (p + sk) < 4)
			return -1;
		p += sk + 4;
	}
	for (i = 0; i < an; i++) {
		unsigned type, rdlen;

		if ((sk = skip_name(msg, end, p)) < 0 || end - (p + sk) < 10)
			return -1;
		p += sk;
		type = get16(p);
		rdlen = get16(p + 8);
		p += 10;
		if ((size_t)(end - p) < rdlen)
			return -1;
		if ((int)type == qtype && get16(p - 8) == ns_c_in && n < max) {
			int kept = take_rr(msg, p + rdlen, p, type, rdlen, &rr[n]);
			if (kept < 0)
				return -1;
			n += (size_t)kept;
		}
		p += rdlen;
	}
	return (int)n;
}

/* res_setup - a resolver state, honouring resolver.nameserver */
static int
res_setup(const struct config *cfg, struct __res_state *rs, char *why, size_t whysize)
{
	const char *ns = cfg->resolver.nameserver;
	char host[64];
	const char *colon;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(53)};

	memset(rs, 0, sizeof(*rs));
	if (res_ninit(rs) < 0) {
		(void)bounded_copy(why, whysize, "cannot initialise the resolver");
		return -1;
	}
	if (!ns || !*ns)
		return 0;
	/* XXX: IPv4 name servers only ("127.0.0.1:53"); glibc keeps IPv6
	 * ones in private fields. */
	colon = strchr(ns, ':');
	if (bounded_format(host, sizeof(host), "%.*s", colon ? (int)(colon - ns) : (int)strlen(ns),
	                   ns) < 0 ||
	    inet_pton(AF_INET, host, &sin.sin_addr) != 1 || (colon && atoi(colon + 1) <= 0) ||
	    (colon && atoi(colon + 1) > 65535)) {
		(void)bounded_format(why, whysize,
		                     "resolver.nameserver %s: need IPv4 address[:port]", ns);
		res_nclose(rs);
		return -1;
	}
	if (colon)
		sin.sin_port = htons((uint16_t)atoi(colon + 1));
	rs->nsaddr_list[0] = sin;
	rs->nscount = 1;
	rs->retrans = 2;
	rs->retry = 2;
	return 0;
}

/* query - one lookup; count of records, 0 for none, -1 temporary */
static int
query(struct __res_state *rs, const char *name, int type, struct dns_rr *rr, size_t max)
{
	unsigned char ans[DNS_ANSWER_MAX];
	int len = res_nquery(rs, name, ns_c_in, type, ans, sizeof(ans));

	if (len < 0)
		return (rs->res_h_errno == HOST_NOT_FOUND || rs->res_h_errno == NO_DATA) ? 0 : -1;
	return dns_parse_answer(ans, (size_t)len, type, rr, max);
}

/* add_addr - append one address with the name it came from */
static void
add_addr(struct gw_addr *out, size_t max, size_t *n, const char *host, int family, const void *a,
         unsigned port)
{
	struct gw_addr *g;

	if (*n >= max)
		return;
	g = &out[(*n)++];
	memset(g, 0, sizeof(*g));
	(void)bounded_copy(g->host, sizeof(g->host), host);
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&g->sa;
		s->sin_family = AF_INET;
		s->sin_port = htons((uint16_t)port);
		memcpy(&s->sin_addr, a, 4);
		g->salen = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&g->sa;
		s->sin6_family = AF_INET6;
		s->sin6_port = htons((uint16_t)port);
		memcpy(&s->sin6_addr, a, 16);
		g->salen = sizeof(*s);
	}
}

/* host_addrs - A and AAAA of one host; -1 temporary trouble */
static int
host_addrs(const struct config *cfg, struct __res_state *rs, const char *host, unsigned port,
           struct gw_addr *out, size_t max, size_t *n)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	unsigned char lit[16];
	struct dns_rr rr[GW_ADDRS_MAX];
	int k;

	if (inet_pton(AF_INET, host, lit) == 1 || inet_pton(AF_INET6, host, lit) == 1) {
		add_addr(out, max, n, host, strchr(host, ':') ? AF_INET6 : AF_INET, lit, port);
		return 0;
	}
	if (cfg->resolver.nameserver && *cfg->resolver.nameserver) {
		int a = query(rs, host, ns_t_a, rr, GW_ADDRS_MAX);
		for (k = 0; k < a; k++)
			add_addr(out, max, n, host, AF_INET, rr[k].addr, port);
		int aaaa = query(rs, host, ns_t_aaaa, rr, GW_ADDRS_MAX);
		for (k = 0; k < aaaa; k++)
			add_addr(out, max, n, host, AF_INET6, rr[k].addr, port);
		return (a < 0 && aaaa < 0) ? -1 : 0;
	}
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return -1;
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET)
			add_addr(out, max, n, host, AF_INET,
			         &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr, port);
		else if (ai->ai_family == AF_INET6)
			add_addr(out, max, n, host, AF_INET6,
			         &((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr, port);
	}
	freeaddrinfo(res);
	return 0;
}

/* by_pref - qsort: lower MX preference first */
static int
by_pref(const void *a, const void *b)
{
	const struct dns_rr *x = a, *y = b;

	return (x->pref > y->pref) - (x->pref < y->pref);
}

enum result
dns_resolve(const struct config *cfg, const struct conf_server *srv, struct gw_addr *out,
            size_t max, size_t *n, char *why, size_t whysize)
{
	struct __res_state rs;
	struct dns_rr mx[MX_MAX];
	unsigned port = srv->port ? srv->port : cfg->gateway.tls == GATEWAY_TLS_IMPLICIT ? 465 : 25;
	int nmx = 0, trouble = 0;

	*n = 0;
	if (res_setup(cfg, &rs, why, whysize) < 0)
		return RES_TEMP;
	if (srv->mx && (nmx = query(&rs, srv->host, ns_t_mx, mx, MX_MAX)) < 0) {
		(void)bounded_format(why, whysize, "MX lookup for %s failed", srv->host);
		res_nclose(&rs);
		return RES_TEMP;
	}
	qsort(mx, (size_t)nmx, sizeof(mx[0]), by_pref);
	for (int i = 0; i < nmx; i++)
		trouble |= host_addrs(cfg, &rs, mx[i].name, port, out, max, n) < 0;
	if (nmx == 0)
		trouble |= host_addrs(cfg, &rs, srv->host, port, out, max, n) < 0;
	res_nclose(&rs);
	if (*n == 0) {
		(void)bounded_format(why, whysize, "%s: %s", srv->host,
		                     trouble ? "address lookup failed" : "no address found");
		return RES_TEMP;
	}
	return RES_OK;
}
