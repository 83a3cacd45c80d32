/*
 * deliver_dns.c - the gateway's addresses: MX, A and AAAA
 *
 * What it is for: turning one gateway.servers entry into addresses to
 * try in order.  "[host]:port" means the host itself; a bare host means
 * an MX lookup first (RFC 5321 5.1: no MX records = the host itself).
 * Questions go through the one resolver (lib/dns.h), to
 * resolver.nameserver when set; without it, host addresses come from
 * getaddrinfo (so /etc/hosts names such as localhost work).
 * What it must never do: call a DNS failure permanent (the gateway is
 * our own configuration: its absence is our trouble).
 */
#include "deliver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"

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

/* add_dns - the A or AAAA records of one answer */
static int
add_dns(const char *ns, const char *host, enum dns_type type, unsigned port, struct gw_addr *out,
        size_t max, size_t *n)
{
	struct dns_answer a;
	enum result r = dns_lookup(ns, host, type, &a);

	for (size_t k = 0; r == RES_OK && k < a.n; k++) {
		if (net_addr_is_v4(&a.rr[k].addr))
			add_addr(out, max, n, host, AF_INET, a.rr[k].addr.a + 12, port);
		else
			add_addr(out, max, n, host, AF_INET6, a.rr[k].addr.a, port);
	}
	return r == RES_TEMP ? -1 : 0;
}

/* host_addrs - A and AAAA of one host; -1 temporary trouble */
static int
host_addrs(const struct config *cfg, const char *host, unsigned port, struct gw_addr *out,
           size_t max, size_t *n)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	const char *ns = cfg->resolver.nameserver;
	unsigned char lit[16];

	if (inet_pton(AF_INET, host, lit) == 1 || inet_pton(AF_INET6, host, lit) == 1) {
		add_addr(out, max, n, host, strchr(host, ':') ? AF_INET6 : AF_INET, lit, port);
		return 0;
	}
	if (ns && *ns)
		return (add_dns(ns, host, DNS_A, port, out, max, n) < 0) &
		               (add_dns(ns, host, DNS_AAAA, port, out, max, n) < 0)
		           ? -1
		           : 0;
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
	const struct dns_record *x = a, *y = b;

	return (x->pref > y->pref) - (x->pref < y->pref);
}

enum result
dns_resolve(const struct config *cfg, const struct conf_server *srv, struct gw_addr *out,
            size_t max, size_t *n, char *why, size_t whysize)
{
	struct dns_answer mx = {.n = 0};
	unsigned port = srv->port ? srv->port : cfg->gateway.tls == GATEWAY_TLS_IMPLICIT ? 465 : 25;
	enum result r = RES_PERM;
	int trouble = 0;

	*n = 0;
	if (srv->mx &&
	    (r = dns_lookup(cfg->resolver.nameserver, srv->host, DNS_MX, &mx)) == RES_TEMP) {
		(void)bounded_format(why, whysize, "MX lookup for %s failed: %s", srv->host,
		                     dns_status_text(mx.status));
		return RES_TEMP;
	}
	if (r == RES_OK && mx.n > 0)
		qsort(mx.rr, mx.n, sizeof(mx.rr[0]), by_pref);
	for (size_t i = 0; r == RES_OK && i < mx.n; i++)
		if (mx.rr[i].name[0]) /* "." is the null MX: no mail */
			trouble |= host_addrs(cfg, mx.rr[i].name, port, out, max, n) < 0;
	if (r != RES_OK)
		trouble |= host_addrs(cfg, srv->host, port, out, max, n) < 0;
	if (*n == 0) {
		(void)bounded_format(why, whysize, "%s: %s", srv->host,
		                     trouble ? "address lookup failed" : "no address found");
		return RES_TEMP;
	}
	return RES_OK;
}
