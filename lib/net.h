/*
 * net.h - IP addresses and networks (CIDR), IPv4 and IPv6
 *
 * IPv4 addresses are held as IPv4-mapped IPv6 (::ffff:a.b.c.d) so one
 * comparison serves both families; an IPv4 prefix /n becomes /(96+n).
 */
#ifndef MAILOUT_NET_H
#define MAILOUT_NET_H

#include <stdbool.h>
#include <sys/socket.h>

#define NET_ADDR_STRLEN 64

struct net_addr {
	unsigned char a[16]; /* IPv6 or IPv4-mapped */
};

struct cidr {
	struct net_addr addr; /* host bits cleared */
	unsigned prefix; /* 0..128, in the IPv6 form */
};

/* net_addr_parse - "130.83.1.2", "::1", "2001:db8::1"; -1 if invalid */
int net_addr_parse(const char *s, struct net_addr *out);
/* net_addr_from_sockaddr - -1 for non-IP families */
int net_addr_from_sockaddr(const struct sockaddr *sa, struct net_addr *out);
bool net_addr_is_v4(const struct net_addr *a);
/* net_addr_format - canonical text (dotted quad for IPv4-mapped) */
void net_addr_format(const struct net_addr *a, char *out, size_t outsize);

/* cidr_parse - "130.83.0.0/16", "2001:db8::/32", bare address = host;
 * -1 with a reason in *why when invalid (host bits set is invalid). */
int cidr_parse(const char *s, struct cidr *out, const char **why);
bool cidr_contains(const struct cidr *net, const struct net_addr *a);
/* cidr_format - "130.83.0.0/16" */
void cidr_format(const struct cidr *net, char *out, size_t outsize);

#endif
