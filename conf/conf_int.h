/*
 * conf_int.h - what the conf/ files share among themselves (private)
 *
 * Only conf/ includes this; programs see conf.h.  conf.c parses and
 * records where each key was set, conf_build.c turns the parsed tree
 * into struct config, conf_value.c knows the syntax of single values,
 * conf_prescan.c readies the raw text for libconfuse.
 */
#ifndef MAILOUT_CONF_INT_H
#define MAILOUT_CONF_INT_H

#include <confuse.h>
#include <stddef.h>
#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>

#include "conf.h"

enum value_kind {
	V_TEXT, /* anything without control characters */
	V_NAME, /* a PAM service name: letters, digits, . _ - */
	V_NAME_OR_EMPTY,
	V_DURATION, /* more than zero */
	V_DURATION0, /* zero allowed */
	V_SIZE,
	V_RATE,
	V_DOMAIN,
	V_DOMAIN_OR_EMPTY,
	V_PATH, /* absolute */
	V_PATH_OR_EMPTY,
	V_CREDENTIAL, /* "", an absolute path, or a credential name (no '/') */
	V_NETWORK,
	V_SERVER,
	V_NAMESERVER, /* empty, IP, IP:port or [IPv6]:port */
	V_FINGERPRINT,
	V_PATTERN, /* "%u@stud.example.org" */
	V_ADDRESS_OR_EMPTY,
	V_TLS_VERSION,
	V_ENUM, /* one of key_rule.names */
	V_COUNT /* integer between key_rule.min and key_rule.max */
};

/* value_check - NULL when s is valid for kind, else why not */
const char *value_check(enum value_kind kind, const char *s);

/* value_is_name - a section title: 1..64 of letters, digits, . _ - */
int value_is_name(const char *s);

/* value_printable - s fit to quote in a message: control characters
 * become '?', long values are cut */
const char *value_printable(const char *s, char *out, size_t outsize);

struct enum_map {
	const char *name;
	int value;
};

/* What a key accepts; key is "section.key" or "key" at the top. */
struct key_rule {
	const char *key;
	enum value_kind kind;
	const struct enum_map *names; /* V_ENUM */
	long min, max; /* V_COUNT */
};

/* key_rule_find - the rule for a dotted key; NULL for sections */
const struct key_rule *key_rule_find(const char *key);
/* enum_lookup - value of name in map; -1 if absent */
int enum_lookup(const struct enum_map *map, const char *name);
/* enum_names - "\"a\", \"b\" or \"c\"" into out */
const char *enum_names(const struct enum_map *map, char *out, size_t outsize);

/* Where a key was set in the file (first time), per section. */
struct seen {
	const cfg_t *sec;
	char key[48]; /* dotted */
	int line;
};

/* One load in progress.  libconfuse's callbacks carry no user pointer,
 * so conf.c keeps the current one in a static; loads do not nest. */
struct parse_ctx {
	FILE *errs;
	const char *file; /* name used in messages */
	int errors;
	struct seen *seen;
	size_t n_seen, cap_seen;
	int *opens; /* lines of top-level '{', in order (conf_prescan) */
	size_t n_opens, cap_opens;
	const cfg_opt_t *last_opt; /* see conf.c validate_cb */
	unsigned last_n;
	char *last_val;
};

/* ctx_error - print "FILE:LINE: message" (LINE 0: "FILE: message") */
void ctx_error(struct parse_ctx *ctx, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* ctx_line - the line where key was set in sec, 0 if never */
int ctx_line(const struct parse_ctx *ctx, const cfg_t *sec, const char *key);
/* ctx_section_line - the line of the '{' that opens sec; fallback is
 * a line inside it (libconfuse keeps the closing line) */
int ctx_section_line(const struct parse_ctx *ctx, const cfg_t *sec, int fallback);

/* conf_prescan - rewrite s in place for libconfuse (conf_prescan.c):
 * each comment and each run of blanks outside strings becomes one
 * space, newlines stay; report ${VAR}, which libconfuse would take from
 * the environment, and strings, comments and braces left open */
void conf_prescan(char *s, struct parse_ctx *ctx);

/* conf_drop_tree - free libconfuse's tree of the last load, which
 * conf_load keeps (conf.c), and so reset libconfuse's lexer, whose state
 * (a string a bad file left open) would carry into the next parse: the
 * next load and conf_free call it */
void conf_drop_tree(void);

/* conf_build - fill out from a parsed tree; cross-checks reported
 * through ctx.  RES_PERM when anything is wrong, RES_TEMP out of memory. */
enum result conf_build(cfg_t *cfg, struct parse_ctx *ctx, struct config *out);

/* conf_not_implemented - the keys accepted before their feature
 * exists (conf.c's table, NULL-terminated), which --check-config
 * notes; the unit tests point it at one of their own to exercise the
 * notes.  No program needs it, so it lives here and not in conf.h. */
extern const char *const *conf_not_implemented;

/* conf_check_files - --check-config only: the files auth.passwd_file
 * and auth.sender_map name can be opened (errors through ctx); a
 * credential name without $CREDENTIALS_DIRECTORY gets a note */
void conf_check_files(struct parse_ctx *ctx, const struct config *cfg, FILE *notes);

#endif
