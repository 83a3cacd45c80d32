/*
 * smtpd.h - mailout-smtpd: one SMTP session per process
 *
 * The session (smtpd_proto.c) reads command lines through smtpd_io,
 * parses them with smtpd_parse.c, asks smtpd_policy before it answers,
 * streams DATA/BDAT content through smtpd_data.c into mailout-queue
 * (smtpd_queue.c), or, with content.block_executables, holds it in a
 * sealed memfd and inspects it in a confined child first
 * (smtpd_inspect.c).  Everything the client sends is untrusted and is
 * held in struct buf or in fixed, bounded arrays.
 */
#ifndef MAILOUT_SMTPD_H
#define MAILOUT_SMTPD_H

#include <fcntl.h>
#include <unistd.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "conf.h"
#include "mail_addr.h"
#include "mail_data.h"
#include "mail_reply.h"
#include "mail_rewrite.h"
#include "mail_spool.h"
#include "smtpd_auth.h"
#include "smtpd_io.h"
#include "smtpd_policy.h"
#include "smtpd_queue.h"

#define SMTP_LINE_MAX 512 /* RFC 5321 4.5.3.1.4: command line, CRLF included */
#define SMTP_TEXT_LINE_MAX 1000 /* RFC 5321 4.5.3.1.6: text line, CRLF included */
#define SMTPD_HOSTNAME_MAX 256

enum smtp_verb {
	V_UNKNOWN,
	V_HELO,
	V_EHLO,
	V_MAIL,
	V_RCPT,
	V_DATA,
	V_BDAT,
	V_RSET,
	V_NOOP,
	V_QUIT,
	V_VRFY,
	V_EXPN,
	V_HELP,
	V_STARTTLS,
	V_AUTH,
};

/* One command line, split: arg points into the line (not NUL-ended). */
struct smtp_cmd {
	enum smtp_verb verb;
	const char *arg;
	size_t arg_len;
};

enum smtp_body { BODY_UNSET, BODY_7BIT, BODY_8BITMIME };

/* ESMTP parameters of MAIL FROM (RFC 1870, 6152, 6531, 4954) */
struct mail_params {
	bool size_set;
	uint64_t size;
	enum smtp_body body;
	bool smtputf8;
};

/* Splitting the input into command lines with a hard cap. */
enum line_status { LINE_MORE, LINE_OK, LINE_TOO_LONG };
struct line_state {
	bool discarding; /* inside the rest of a too-long line */
};

/* smtpd_parse.c - pure parsers, no I/O (unit tests and fuzz target) */
enum line_status smtp_line_take(struct line_state *st, const char *in, size_t n, size_t max,
                                size_t *line_len, size_t *used);
void smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd);
enum result smtp_parse_mail(const char *arg, size_t len, struct mail_addr *from,
                            struct mail_params *p, struct reply *r);
/* smtp_parse_mail_opt - with ADDR_OPT_UNQUALIFIED (classes with
 * rewrite = true) a path without any '@' ("<root>") is taken as a bare
 * local part (domain "") for the rewrite rules to qualify */
enum result smtp_parse_mail_opt(const char *arg, size_t len, unsigned opts, struct mail_addr *from,
                                struct mail_params *p, struct reply *r);
enum result smtp_parse_rcpt(const char *arg, size_t len, struct mail_addr *to, struct reply *r);
enum result smtp_parse_bdat(const char *arg, size_t len, uint64_t *size, bool *last,
                            struct reply *r);
void smtp_sanitize(const char *in, size_t n, char *out, size_t outsize);

/* Where the held header section may be cut between whole fields */
struct field_cut {
	size_t pos; /* octets looked at */
	size_t last; /* start of the last field seen */
	bool bol; /* pos is at a line start */
};

/* The transaction: MAIL, RCPT..., DATA or BDAT... */
struct smtpd_tx {
	bool mail; /* MAIL accepted */
	struct mail_addr sender;
	struct mail_params params;
	size_t nrcpt;
	struct buf rcpts; /* "addr\0addr\0...": accepted recipients */
	bool open; /* the queue program runs (DATA/first BDAT seen) */
	bool bdat; /* a BDAT transfer is in progress */
	struct queue_job q;
	struct data_reader reader;
	struct header_scan hs;
	struct buf canon; /* canonical content of the current chunk */
	struct buf hold; /* content held back while in the header section */
	uint64_t sent; /* content octets released so far */
	struct reply error; /* latched error; code 0: none */
	bool headers_added; /* Date/Message-ID handled */
	char last; /* last byte sent to the queue */
	/* rewrite = true: From:, To:, Cc: rewritten as they pass, so the
	 * header section goes out one whole field at a time */
	bool rewrite;
	struct field_cut cut;
	/* 452s past limits.recipients in this transaction; more than
	 * RCPT_OVERSHOOT_MAX end the session */
	unsigned rcpt_overshoot;
	/* when the BDAT transfer of this transaction began (monotonic ms):
	 * limits.data_timeout bounds all its chunks */
	long long bdat_start;
};

struct session {
	const struct config *cfg;
	const struct conf_listener *listener;
	const char *config_path; /* passed on as -c; NULL: none */
	char hostname[SMTPD_HOSTNAME_MAX];
	struct smtp_io io;
	struct policy_client pc;
	bool helo, esmtp;
	bool refused; /* policy_connect said no: answer 503 until QUIT */
	char tls_version[32], tls_cipher[96];
	unsigned errors;
	bool quit;
	char auth_user[AUTH_USER_MAX + 1]; /* pc.auth_user points here */
	unsigned auth_failures; /* failed AUTH commands in this session */
	/* NOOP, VRFY, RSET, HELP since the last accepted MAIL; more than
	 * JUNK_COMMANDS_MAX count as errors */
	unsigned junk_commands;
	struct line_state ls;
	struct smtpd_tx tx;
	/* masquerading for a class with rewrite = true: the rewrite
	 * section and its map, read at the session's first MAIL */
	struct rewrite rw;
	bool rw_loaded;
};

/* smtpd_proto.c */
void smtpd_session_init(struct session *s, const struct config *cfg, const struct conf_listener *l,
                        const char *config_path, int rfd, int wfd);
/* smtpd_session_run - the whole session; returns the process exit code */
int smtpd_session_run(struct session *s);
void smtpd_reply(struct session *s, const struct reply *r);
/* smtpd_log - info line with QUEUE_ID (id may be NULL), CLIENT_* and TLS_* fields */
void smtpd_log(const struct session *s, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void smtpd_reply_code(struct session *s, int code, const char *esc, const char *text);
void smtpd_tx_reset(struct session *s);
/* smtpd_next_line - the next line of at most max octets (CRLF
 * included) into line, without its CRLF; *too_long when the client
 * sent a longer one (it is dropped, to its end).  Ends the session on
 * timeout or EOF. */
size_t smtpd_next_line(struct session *s, char *line, size_t max, bool *too_long);
/* smtpd_drop - 421 and exit: timeout, lost connection, too many errors */
__attribute__((noreturn)) void smtpd_drop(struct session *s, const char *esc, const char *why);

/* smtpd_cmd.c - the commands that ask the policy or switch to TLS */
void smtpd_cmd_mail(struct session *s, const struct smtp_cmd *c);
void smtpd_cmd_rcpt(struct session *s, const struct smtp_cmd *c);
void smtpd_cmd_starttls(struct session *s, const struct smtp_cmd *c);
/* smtpd_rewrite_setup - the rewrite section as a session with rewrite
 * = true reads it at its first MAIL, and --explain with it: rw gets the
 * masquerade domain (default: host, the name the session greets with)
 * and this host's names (host and the system's hostname, each with its
 * first label); the caller loads the map.  RES_TEMP when there is no
 * usable masquerade domain. */
enum result smtpd_rewrite_setup(struct rewrite *rw, const struct config *cfg, const char *host);

/* smtpd_auth.c - AUTH PLAIN and LOGIN (RFC 4954) */
void smtpd_cmd_auth(struct session *s, const struct smtp_cmd *c);

/* smtpd_data.c */
int smtpd_data(struct session *s);
/* field_cut_scan - of the n octets of a header section held so far
 * (canonical LF lines from a line start; s may grow between calls,
 * each octet is looked at once), how many hold only whole fields: up
 * to the start of the last field, the last line whose first octet is
 * known and is not a blank (a blank line start would continue it).
 * field_cut_consume - k octets went out from the front. */
void field_cut_init(struct field_cut *fc);
size_t field_cut_scan(struct field_cut *fc, const char *s, size_t n);
void field_cut_consume(struct field_cut *fc, size_t k);
/* smtpd_rewrite_fields - whole header fields (s, n octets, as
 * field_cut_scan measured them) appended to out, From:, To:
 * and Cc: rewritten (rewrite_header_field).  Returns the number of
 * addresses changed, or -1 when out is full. */
int smtpd_rewrite_fields(const struct rewrite *rw, const char *s, size_t n, struct buf *out);
int smtpd_bdat(struct session *s, uint64_t size, bool last);
int smtpd_received(struct buf *out, const struct session *s, const char *id);
int smtpd_rfc5322_date(char *out, size_t outsize);

#endif
