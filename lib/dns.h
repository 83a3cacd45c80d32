/*
 * dns.h - the one resolver of mailout: PTR, A, AAAA and MX lookups
 *
 * Every DNS question the programs ask goes through dns_lookup(), and
 * every answer is read by one parser, dns_parse() (it has a fuzz
 * target).  The questions go to the system's resolver (resolv.conf) or
 * to one configured server ("127.0.0.1:5353", "[::1]:53"); each try
 * waits DNS_TRY_SECONDS, DNS_TRIES tries, so a silent server costs a
 * few seconds, never a session.
 *
 * Outcomes: RES_OK records found; RES_PERM the name does not exist
 * (NXDOMAIN) or has no record of that type ("not found": a fact about
 * the name); RES_TEMP anything else - timeout, SERVFAIL, REFUSED, a
 * malformed answer: our trouble, try again later.
 */
#ifndef MAILOUT_DNS_H
#define MAILOUT_DNS_H

#include <stdbool.h>
#include <stddef.h>

#include "net.h"
#include "result.h"

#define DNS_NAME_MAX 256 /* a name in text form, with its NUL (RFC 1035: 253) */
#define DNS_RECORDS_MAX 16 /* records kept per answer; more are counted */
#define DNS_ANSWER_MAX 16384 /* bytes of one answer we read */
#define DNS_CNAME_MAX 8 /* CNAME links followed within one answer */
#define DNS_TRY_SECONDS 1 /* first try; glibc doubles it for the next */
#define DNS_TRIES 2

enum dns_type { DNS_A = 1, DNS_CNAME = 5, DNS_PTR = 12, DNS_MX = 15, DNS_AAAA = 28 };

enum dns_status {
	DNS_FOUND, /* records of the type asked for */
	DNS_NXDOMAIN, /* RCODE 3: the name does not exist */
	DNS_NODATA, /* the name exists, no record of that type */
	DNS_SERVFAIL, /* the server could not answer (RCODE 2) */
	DNS_REFUSED, /* another RCODE: REFUSED, NOTIMP, FORMERR */
	DNS_TIMEOUT, /* no answer in time, or no server reachable */
	DNS_MALFORMED /* an answer we cannot read */
};

struct dns_record {
	enum dns_type type;
	unsigned pref; /* MX preference */
	char name[DNS_NAME_MAX]; /* MX exchange or PTR target, lower case, no
	                          * trailing dot; "" for the null MX "." */
	struct net_addr addr; /* A (IPv4-mapped) or AAAA */
};

struct dns_answer {
	enum dns_status status;
	char qname[DNS_NAME_MAX]; /* the question, from the answer */
	char cname[DNS_NAME_MAX]; /* end of the CNAME chain, "" when none */
	size_t n; /* records kept in rr */
	size_t total; /* records of the type seen (may be more than n) */
	struct dns_record rr[DNS_RECORDS_MAX];
};

/* dns_parse - read one DNS message (wire format, len octets) and keep
 * the records of type whose owner is the question's name or the end of
 * its CNAME chain.  Never reads outside msg; names that do not fit
 * DNS_NAME_MAX make the answer DNS_MALFORMED.  Returns the outcome as
 * dns_lookup() would (RES_OK, RES_PERM for NXDOMAIN/no data, RES_TEMP). */
enum result dns_parse(const unsigned char *msg, size_t len, enum dns_type type,
                      struct dns_answer *out);

/* dns_lookup - ask nameserver ("" or NULL: the system's resolver;
 * "IP", "IP:PORT", "[IPv6]:PORT") for name's records of type */
enum result dns_lookup(const char *nameserver, const char *name, enum dns_type type,
                       struct dns_answer *out);

/* dns_reverse_name - "4.3.2.1.in-addr.arpa" or the ip6.arpa nibbles */
int dns_reverse_name(const struct net_addr *a, char *out, size_t outsize);

/* dns_status_text - "NXDOMAIN", "timeout", ... for logs and replies */
const char *dns_status_text(enum dns_status s);

/* dns_hostname_ok - letters, digits, '-', '_' and dots only, labels of
 * 1..63 octets, not all digits: fit for a Received: header and a log */
bool dns_hostname_ok(const char *name);

/* dns_nameserver_parse - the resolver.nameserver syntax into a socket
 * address (port 53 when none is given); -1 when it is not one */
struct sockaddr_storage;
int dns_nameserver_parse(const char *s, struct sockaddr_storage *ss);

#endif
