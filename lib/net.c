/*
 * net.c - IP address and CIDR parsing and matching
 *
 * What it is for: deciding which client class a peer address is in.
 * What it must never do: accept a malformed network silently (a typo
 * in a campus network must be a config error, not an open relay).
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static const unsigned char v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* set_v4 - store an IPv4 address in mapped form */
static void
set_v4(struct net_addr *out, const struct in_addr *in)
{
	memcpy(out->a, v4mapped_prefix, 12);
	memcpy(out->a + 12, &in->s_addr, 4);
}

int
net_addr_parse(const char *s, struct net_addr *out)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (inet_pton(AF_INET, s, &v4) == 1) {
		set_v4(out, &v4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &v6) == 1) {
		memcpy(out->a, v6.s6_addr, 16);
		return 0;
	}
	return -1;
}

int
net_addr_from_sockaddr(const struct sockaddr *sa, struct net_addr *out)
{
	if (sa->sa_family == AF_INET) {
		set_v4(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(out->a, ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr,
		       16);
		return 0;
	}
	return -1;
}

bool
net_addr_is_v4(const struct net_addr *a)
{
	return memcmp(a->a, v4mapped_prefix, 12) == 0;
}

void
net_addr_format(const struct net_addr *a, char *out, size_t outsize)
{
	if (outsize == 0)
		return;
	if (net_addr_is_v4(a)) {
		if (!inet_ntop(AF_INET, a->a + 12, out, (socklen_t)outsize))
			out[0] = '\0';
		return;
	}
	if (!inet_ntop(AF_INET6, a->a, out, (socklen_t)outsize))
		out[0] = '\0';
}

/* host_bits_clear - are all bits after prefix zero? */
static bool
host_bits_clear(const struct net_addr *a, unsigned prefix)
{
	unsigned i;

	for (i = prefix; i < 128; i++)
		if (a->a[i / 8] & (0x80 >> (i % 8)))
			return false;
	return true;
}

int
cidr_parse(const char *s, struct cidr *out, const char **why)
{
	char host[NET_ADDR_STRLEN];
	const char *slash = strchr(s, '/');
	unsigned long bits;
	char *end;
	size_t hlen = slash ? (size_t)(slash - s) : strlen(s);
	bool v4;

	*why = "not an IP address";
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (net_addr_parse(host, &out->addr) < 0)
		return -1;
	v4 = strchr(host, ':') == NULL;
	if (!slash) {
		out->prefix = 128;
		return 0;
	}
	errno = 0;
	*why = "bad prefix length";
	if (slash[1] < '0' || slash[1] > '9')
		return -1;
	bits = strtoul(slash + 1, &end, 10);
	if (errno || *end != '\0' || bits > (v4 ? 32UL : 128UL))
		return -1;
	out->prefix = (unsigned)bits + (v4 ? 96U : 0U);
	*why = "host bits set after the prefix (did you mean the network address?)";
	if (!host_bits_clear(&out->addr, out->prefix))
		return -1;
	return 0;
}

bool
cidr_contains(const struct cidr *net, const struct net_addr *a)
{
	unsigned full = net->prefix / 8, rest = net->prefix % 8;
	unsigned char mask;

	if (memcmp(net->addr.a, a->a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (unsigned char)(0xff00 >> rest);
	return (net->addr.a[full] & mask) == (a->a[full] & mask);
}

void
cidr_format(const struct cidr *net, char *out, size_t outsize)
{
	char host[NET_ADDR_STRLEN];
	bool v4 = net_addr_is_v4(&net->addr) && net->prefix >= 96;

	net_addr_format(&net->addr, host, sizeof(host));
	if (bounded_format(out, outsize, "%s/%u", host, v4 ? net->prefix - 96 : net->prefix) < 0 &&
	    outsize)
		out[0] = '\0';
}
