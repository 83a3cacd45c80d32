/*
 * conf.h - mailout's configuration, as every program sees it
 *
 * The file is libconfuse syntax (conf/mailout.conf documents every key).
 * conf_load() validates everything it can up front, so that programs
 * never meet a malformed value at run time.  Durations are seconds,
 * sizes are bytes.
 */
#ifndef MAILOUT_CONF_H
#define MAILOUT_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "net.h"
#include "result.h"

enum listener_tls { LISTENER_TLS_NONE, LISTENER_TLS_STARTTLS, LISTENER_TLS_IMPLICIT };
enum listener_auth { LISTENER_AUTH_NONE, LISTENER_AUTH_OPTIONAL, LISTENER_AUTH_REQUIRED };
enum gateway_tls {
	GATEWAY_TLS_VERIFY,
	GATEWAY_TLS_ENCRYPT,
	GATEWAY_TLS_MAY,
	GATEWAY_TLS_IMPLICIT,
	GATEWAY_TLS_NONE
};
enum exec_action { EXEC_REJECT, EXEC_BOUNCE };

struct conf_list {
	char **items;
	size_t n;
};

struct conf_listener {
	char *name; /* section title: smtp, submission, smtps, ... */
	enum listener_tls tls;
	enum listener_auth auth;
	int line;
};

/* A gateway server, parsed from "[host]:port", "host:port", "[host]" or
 * "host" ("[2001:db8::1]:25" for IPv6 literals). */
struct conf_server {
	char *host; /* without brackets: a host name or an IP literal */
	unsigned port; /* as given, else 25 (465 when gateway.tls is implicit) */
	bool mx; /* bare host: look up MX; "[host]": connect to host itself */
};

struct conf_client {
	char *name;
	struct cidr *networks;
	size_t n_networks;
	bool require_tls;
	bool require_dns;
	bool verify_sender;
	bool rewrite;
	struct conf_list relay_domains; /* lower case, no trailing dot */
	struct conf_list sender_domains; /* empty: any */
	unsigned rate_count; /* 0: no limit */
	unsigned rate_period; /* seconds */
	int line; /* where the section starts */
};

struct config {
	char *file; /* path it was read from, or "(built-in default)" */
	char *hostname; /* as set, "" if not: read it with conf_hostname() */
	char *spool;

	struct {
		char *cert, *key, *min_version;
	} tls;

	struct conf_listener *listeners;
	size_t n_listeners;
	struct conf_client *clients;
	size_t n_clients;

	struct {
		char *passwd_file, *pam_service, *sender_map;
		struct conf_list sender_patterns;
		unsigned max_failures;
		unsigned failure_window;
		unsigned failure_delay; /* seconds before the first 535; doubles per failure */
	} auth;

	struct {
		char *domain, *map;
	} rewrite;

	struct {
		uint64_t message_size;
		unsigned recipients;
		unsigned command_timeout, data_timeout;
		unsigned errors, hops;
		unsigned pregreet_wait; /* seconds to wait for early talkers; 0: check only */
	} limits;

	struct {
		bool block_executables;
		enum exec_action executable_action;
	} content;

	char *blocklist; /* "": nothing is blocked */
	char *blocklist_message; /* the text of the 554 to blocked clients */
	char *state_dir; /* counters shared by sessions (lib/client_state.h) */

	struct {
		char *nameserver; /* NULL or "": the system's resolv.conf */
	} resolver;

	struct {
		struct conf_list servers; /* as written */
		struct conf_server *hosts; /* servers, parsed, same order */
		size_t n_hosts;
		enum gateway_tls tls;
		char *ca_file;
		struct conf_list fingerprints;
		char *user, *password_file;
		unsigned connections;
		unsigned command_timeout; /* RFC 5321 4.5.3.2's 5 minutes; the rest scale */
	} gateway;

	struct {
		unsigned lifetime, retry_min, retry_max, delay_warning;
		char *postmaster;
		char *socket; /* "": run mailout-queue; else its unix socket (--socket) */
	} queue;
};

/* gateway.command_timeout's limit: mailout-deliver's run lasts an hour */
#define GATEWAY_COMMAND_TIMEOUT_MAX (15 * 60)

/* conf_path - -c argument, else $MAILOUT_CONFIG (ignored when set-id),
 * else the compiled-in default. */
const char *conf_path(const char *from_option);

/* conf_load - read and validate; errors are printed to errs as
 * "FILE:LINE: message".  A missing file at the compiled-in default path
 * loads the built-in default configuration.  Returns RES_OK, or RES_PERM
 * when the file is invalid, RES_TEMP when it cannot be read. */
enum result conf_load(const char *path, struct config *out, FILE *errs);

/* conf_check - --check-config: load, also print notes for keys that
 * are accepted but not implemented yet; returns the exit code (0, 78). */
int conf_check(const char *path, FILE *out);

/* conf_credential_unchecked - value names a systemd credential (no
 * '/') and $CREDENTIALS_DIRECTORY is not set: conf_check noted it
 * instead of reading it, and so should every other check */
bool conf_credential_unchecked(const char *value);

/* conf_free - free cfg, and what conf_load keeps between loads (the
 * parsed tree): a program that loads once and runs need not call it */
void conf_free(struct config *cfg);

/* conf_hostname - the name this host gives itself (banner, Received:,
 * EHLO, bounces): hostname as set, else the host's fully qualified
 * name (gethostname, made canonical by the resolver when it has no
 * dot; "localhost" if all else fails), found at the first call and
 * kept for the rest of the process.  Never NULL or empty. */
const char *conf_hostname(const struct config *cfg);

/* conf_file_for_children - the path a child program should be given
 * with -c: the file this config was read from, or NULL when it is the
 * built-in default (the child falls back to the same default). */
const char *conf_file_for_children(const struct config *cfg);

const struct conf_listener *conf_listener(const struct config *cfg, const char *name);

/* conf_parse_duration - "90", "5m", "4h", "5d" -> seconds; -1 if bad */
int conf_parse_duration(const char *s, unsigned *out);
/* conf_parse_size - "1024", "25M", "10k", "1G" -> bytes; -1 if bad */
int conf_parse_size(const char *s, uint64_t *out);

/* conf_builtin_text - the embedded default configuration */
const char *conf_builtin_text(void);

/* conf_load_text - like conf_load, from memory; name is used in messages */
enum result conf_load_text(const char *text, size_t len, const char *name, struct config *out,
                           FILE *errs);

/* conf_default_path - the compiled-in SYSCONFDIR/mailout/mailout.conf */
const char *conf_default_path(void);

/* conf_parse_rate - "600/h" (units s m h d) -> count, period seconds;
 * "" and "0" mean no limit (count 0).  -1 if bad. */
int conf_parse_rate(const char *s, unsigned *count, unsigned *period);
/* conf_parse_domain - check a domain name and write it lower case,
 * without a trailing dot, to out; -1 with a reason in *why if bad. */
int conf_parse_domain(const char *s, char *out, size_t outsize, const char **why);
/* conf_parse_server - gateway server syntax; out->host is allocated
 * (free it), out->port is 0 when not given; -1 with *why if bad. */
int conf_parse_server(const char *s, struct conf_server *out, const char **why);

#endif
