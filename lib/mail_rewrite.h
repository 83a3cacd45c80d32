/*
 * mail_rewrite.h - sender masquerading and address lists in headers
 *
 * The gateway rejects root@localhost: mail injected on this host (and
 * from client classes with rewrite = true) has its local senders
 * rewritten per the config's rewrite section.  A sender is local when
 * it is unqualified ("root") or its domain names this host
 * ("localhost", "*.local", "*.localdomain", the host's own names).
 *
 * Sender lookup order (map lines "LOCALPART-or-ADDRESS  new@address",
 * keys case-insensitive):
 *   1. the full address "user@domain" in the map (any domain);
 *   2. local senders only: the local part in the map;
 *   3. local senders only: "localpart@" the rewrite domain.
 * Recipients are only qualified: an unqualified or local recipient
 * gets the rewrite domain; the map never applies to recipients.
 *
 * addrlist_next() walks an RFC 5322 address list (To:, From:, a -t
 * header or a sendmail argument) mailbox by mailbox, so that headers
 * can be rewritten in place without disturbing display names and
 * comments.
 */
#ifndef MAILOUT_MAIL_REWRITE_H
#define MAILOUT_MAIL_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "buf.h"
#include "mail_addr.h"
#include "result.h"

#define REWRITE_LOCALS_MAX 8
#define REWRITE_MAP_MAX_BYTES ((size_t)4 * 1024 * 1024)

struct rewrite_entry {
	char *key; /* lower case: "root" or "www-data@host.local" */
	char *value; /* "webmaster@example.org" */
	unsigned line;
};

struct rewrite {
	char domain[ADDR_DOMAIN_MAX + 1]; /* masquerade domain */
	char locals[REWRITE_LOCALS_MAX][ADDR_DOMAIN_MAX + 1]; /* this host's names */
	size_t n_locals;
	struct rewrite_entry *map; /* sorted by key */
	size_t n_map;
};

enum rewrite_mode { REWRITE_SENDER, REWRITE_RECIPIENT };

void rewrite_init(struct rewrite *rw);
void rewrite_free(struct rewrite *rw);
/* rewrite_set_domain - the masquerade domain; -1 if empty or too long */
int rewrite_set_domain(struct rewrite *rw, const char *domain);
/* rewrite_add_local - a name of this host (hostname, FQDN); -1 if full */
int rewrite_add_local(struct rewrite *rw, const char *name);
/* rewrite_add_host - a host name and its first label ("relay" of
 * "relay.example.org"), as both programs count this host's names;
 * -1 if full */
int rewrite_add_host(struct rewrite *rw, const char *name);

/* rewrite_map_parse - add the lines of a map; bad lines are reported
 * to errs (may be NULL) as "NAME:LINE: message" and skipped.  Returns
 * the number of bad lines, or -1 when out of memory. */
int rewrite_map_parse(struct rewrite *rw, const char *text, size_t len, const char *name,
                      FILE *errs);
/* rewrite_map_load - read a map file; a missing file is reported and
 * treated as empty (masquerading still applies); RES_TEMP when it
 * cannot be read. */
enum result rewrite_map_load(struct rewrite *rw, const char *path, FILE *errs);
/* rewrite_map_lookup - value for key (case-insensitive) or NULL */
const char *rewrite_map_lookup(const struct rewrite *rw, const char *key);

/* rewrite_domain_is_local - "" (unqualified), localhost, *.local ... */
bool rewrite_domain_is_local(const struct rewrite *rw, const char *domain);
/* rewrite_address - rewrite one bare address ("root", "a@b.local")
 * into out.  Returns 1 when changed, 0 when unchanged (out holds a
 * copy), -1 when the result does not fit. */
int rewrite_address(const struct rewrite *rw, enum rewrite_mode mode, const char *addr, char *out,
                    size_t outsize);

struct addrlist_item {
	size_t off, len; /* the addr-spec's span in the list, raw */
	char addr[ADDR_PATH_MAX + 1]; /* addr-spec without comments and folding */
	bool angle; /* written as <addr> */
	bool bad; /* not a mailbox ("John Doe" without <>, too long) */
};

/* addrlist_next - next mailbox of an address list from *pos; returns
 * 1 with *it filled, 0 at the end.  Groups ("team: a@b, c@d;") yield
 * their members; empty members ("<>", "undisclosed:;") are skipped. */
int addrlist_next(const char *s, size_t len, size_t *pos, struct addrlist_item *it);

/* rewrite_header_value - rewrite every mailbox of a header value,
 * keeping display names, comments and layout; appends to out.
 * Returns the number of addresses changed, or -1 when out is full. */
int rewrite_header_value(const struct rewrite *rw, enum rewrite_mode mode, const char *value,
                         size_t len, struct buf *out);

/* rewrite_field_flags - what a header field's addresses are to mailout,
 * from one table: REWRITE_FIELD_ADDRS, they are rewritten (From: as
 * senders, To: and Cc: as recipients; *mode says how);
 * REWRITE_FIELD_RCPT, sendmail -t takes them as recipients (To:, Cc:,
 * Bcc:).  name is the field name (n octets; blanks before the colon
 * are allowed, RFC 5322 4.5.3).  0: none of these. */
#define REWRITE_FIELD_ADDRS 1u
#define REWRITE_FIELD_RCPT 2u
unsigned rewrite_field_flags(const char *name, size_t n, enum rewrite_mode *mode);

/* rewrite_field_mode - the header fields whose addresses are rewritten
 * and how (REWRITE_FIELD_ADDRS of rewrite_field_flags): From: as
 * senders, To: and Cc: as recipients.  false: leave it be. */
bool rewrite_field_mode(const char *name, size_t n, enum rewrite_mode *mode);

/* rewrite_header_field - one whole header field as it stands in a
 * message ("From: root\n\t(cron)\n", folded lines and line ends
 * included), appended to out: From:, To: and Cc: with their addresses
 * rewritten, any other field as it is.  Returns the number of
 * addresses changed, or -1 when out is full. */
int rewrite_header_field(const struct rewrite *rw, const char *field, size_t len, struct buf *out);

#endif
