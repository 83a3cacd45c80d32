/*
 * mail_addr.h - RFC 5321 paths and mailbox addresses
 *
 * The parser accepts exactly what RFC 5321 (plus RFC 6531 UTF-8) allows
 * in MAIL FROM / RCPT TO, and classifies the address so that policy can
 * refuse relay tricks: source routes (@a,@b:u@c), %-hacks, bang paths,
 * quoted local parts containing @, and address literals.
 */
#ifndef MAILOUT_MAIL_ADDR_H
#define MAILOUT_MAIL_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "mail_reply.h"

#define ADDR_LOCAL_MAX 64
#define ADDR_DOMAIN_MAX 255
#define ADDR_PATH_MAX 256

struct mail_addr {
	bool null; /* <> */
	char local[ADDR_LOCAL_MAX + 1]; /* as sent (quotes kept) */
	char domain[ADDR_DOMAIN_MAX + 1]; /* lower-cased; "" when none */
	bool had_source_route; /* @a,@b: stripped (RFC 5321 C) */
	bool quoted_local; /* "..."@domain */
	bool local_has_relay_chars; /* % ! or @ in the local part */
	bool domain_is_literal; /* [1.2.3.4] */
	bool utf8; /* non-ASCII octets present */
};

/* addr_parse_path - parse "<...>" at s (len bytes), which must be the
 * whole path; *end is set past the closing '>'.  Returns RES_OK, or
 * RES_PERM with a 501/553-class reply in err. */
enum result addr_parse_path(const char *s, size_t len, struct mail_addr *out, size_t *end,
                            struct reply *err);
/* addr_parse_mailbox - parse "local@domain" without brackets (the
 * whole of s); "postmaster" alone is accepted with domain "", an empty
 * string is not an address (callers decide what "" means to them). */
enum result addr_parse_mailbox(const char *s, size_t len, struct mail_addr *out, struct reply *err);

/* Options for addr_parse_mailbox_opt. */
#define ADDR_OPT_UNQUALIFIED 0x1U /* accept any local part without @domain ("root") */

/* addr_parse_mailbox_opt - addr_parse_mailbox with options, for local
 * injection where "root" is later qualified by the rewrite rules */
enum result addr_parse_mailbox_opt(const char *s, size_t len, unsigned opts, struct mail_addr *out,
                                   struct reply *err);
/* addr_fits_envelope - can the address travel to mailout-queue and
 * into the spool?  RFC 5321 allows quoted local parts that the spool's
 * line format cannot carry ("a>b"@example.org); this is the spool's
 * own check (envelope_addr_ok, lib/mail_spool.h), asked where the
 * address is given, so that it is refused there (553) and not at the
 * end of every DATA (451). */
bool addr_fits_envelope(const struct mail_addr *a);
/* addr_format - "local@domain" or "" for null */
int addr_format(const struct mail_addr *a, char *out, size_t outsize);
/* domain_matches - whole-label match: "a.example.org" matches
 * "example.org"; "evil-example.org" does not. Case-insensitive; a
 * trailing dot on either is ignored.  A pattern with a leading dot
 * (".example.org") matches subdomains only; an empty pattern or domain
 * matches nothing. */
bool domain_matches(const char *domain, const char *pattern);

#endif
