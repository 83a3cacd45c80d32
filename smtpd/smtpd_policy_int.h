/*
 * smtpd_policy_int.h - what the policy modules share (private)
 *
 *   smtpd_policy.c      the check tables: class, blocklist, TLS, AUTH,
 *                       relay, rate
 *   smtpd_policy_from.c sender_domains and verify_sender, for MAIL FROM
 *                       and the From: header; policy_data_end
 *   smtpd_policy_dns.c  the checks that ask DNS: forward-confirmed
 *                       reverse DNS, sender domain reachability, and
 *                       the From: header's addresses
 *
 * Only smtpd_policy*.c include this; the session sees smtpd_policy.h.
 */
#ifndef MAILOUT_SMTPD_POLICY_INT_H
#define MAILOUT_SMTPD_POLICY_INT_H

#include <stddef.h>

#include "smtpd_policy.h"

#define LIST_TEXT_MAX 160 /* a domain list as shown in a reply */

/* policy_check - one rule; rcpt is NULL at connect and MAIL, sender at
 * connect */
typedef enum result (*policy_check)(struct policy_client *c, const struct mail_addr *sender,
                                    const struct mail_addr *rcpt, struct reply *r);

/* policy_where - "campus (mailout.conf:12)": a class and where it is
 * written, for policy_why; "" in a session, which explains nothing */
void policy_where(const struct policy_client *c, const struct conf_client *cls, char *out,
                  size_t outsize);
/* policy_join_list - "a, b, c" into out, cut with "..." when it does
 * not fit; "none" for an empty list */
void policy_join_list(const struct conf_list *l, char *out, size_t outsize);

/* smtpd_policy_from.c - MAIL checks of the table in smtpd_policy.c:
 * sender_domains (553 5.7.1) and verify_sender (550/450 5.1.8) */
enum result policy_mail_sender_domains(struct policy_client *c, const struct mail_addr *sender,
                                       const struct mail_addr *rcpt, struct reply *r);
enum result policy_mail_verify_sender(struct policy_client *c, const struct mail_addr *sender,
                                      const struct mail_addr *rcpt, struct reply *r);

/* policy_why - note the rule that decided, for --explain; nothing in a
 * session (c->why is NULL there) */
void policy_why(struct policy_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* policy_fcrdns - look up the client's PTR names and their A/AAAA once
 * per session; sets c->fcrdns, c->fcrdns_text and, when confirmed,
 * c->name */
void policy_fcrdns(struct policy_client *c);

/* policy_domain_reachable - verify_sender: the domain has an MX that
 * is not the null MX (RFC 7505), or no MX and an A or AAAA record.
 * RES_OK, RES_PERM (does not resolve), RES_TEMP (DNS trouble); what
 * DNS said goes to detail either way. */
enum result policy_domain_reachable(struct policy_client *c, const char *domain, char *detail,
                                    size_t detailsize);

/* struct from_addrs - the mailboxes of a From: header value, as text */
struct from_addrs {
	size_t n;
	char addr[FROM_ADDRS_MAX][ADDR_PATH_MAX + 1]; /* local@domain as written */
	char domain[FROM_ADDRS_MAX][ADDR_DOMAIN_MAX + 1]; /* lower case; "" none */
	bool more; /* there were more than FROM_ADDRS_MAX */
	bool bad; /* an item is not a mailbox, or the value is too long */
};

/* policy_from_split - RFC 5322 3.4 address-list through addrlist_next
 * (lib/mail_rewrite.h): display names and comments dropped, angle
 * brackets and groups opened, obsolete routes (<@a,@b:u@d>) stripped.
 * An item that is not a mailbox (addrlist_next's bad, or anything but
 * comments after the <>), a NUL, or more than FROM_HEADER_MAX octets
 * set bad: the caller must refuse what it cannot read. */
#define FROM_HEADER_MAX 4096
void policy_from_split(const char *value, size_t len, struct from_addrs *out);
/* policy_from_parse - policy_from_split of a C string (NULL: none) */
void policy_from_parse(const char *value, struct from_addrs *out);

#endif
