/*
 * smtpd_auth.h - the SASL exchange of SMTP AUTH (RFC 4954): PLAIN
 * (RFC 4616) and LOGIN, their base64 (RFC 4648) and their limits
 *
 * The pure parts (decoding, splitting a PLAIN token) are here for the
 * unit tests and the fuzz target; the command itself is
 * smtpd_cmd_auth() in smtpd.h.
 */
#ifndef MAILOUT_SMTPD_AUTH_H
#define MAILOUT_SMTPD_AUTH_H

#include <stddef.h>

#include "mail_reply.h"
#include "smtpd_passwd.h"

/* RFC 4954 4: an AUTH command line and each response may be 12288
 * octets, CRLF included. */
#define AUTH_LINE_MAX 12288
/* the most a response of AUTH_LINE_MAX octets decodes to */
#define AUTH_DECODED_MAX (AUTH_LINE_MAX / 4 * 3)
/* failures in one session before it is ended (421 4.7.0) */
#define AUTH_SESSION_FAILURES 3
/* the delay before a 535 doubles per failure, up to this (seconds) */
#define AUTH_DELAY_MAX 30

struct sasl_creds {
	char authzid[AUTH_USER_MAX + 1];
	char user[AUTH_USER_MAX + 1];
	char pass[AUTH_PASS_MAX + 1];
};

/* sasl_decode - strict base64 of n octets (no blanks, '=' only as the
 * padding at the end, length a multiple of 4) into out, NUL-terminated;
 * *outlen is the decoded length, padding excluded.  "=" alone is the
 * empty response when allow_empty_marker (RFC 4954 4: an empty initial
 * response).  0, or -1 when it is not base64 or does not fit. */
int sasl_decode(const char *in, size_t n, int allow_empty_marker, char *out, size_t outsize,
                size_t *outlen);

/* sasl_plain - "authzid NUL authcid NUL passwd" (RFC 4616 2): exactly
 * two NULs, a non-empty authcid, each part fitting its field.  RES_OK,
 * or RES_PERM with 501 5.5.2 in r. */
enum result sasl_plain(const char *tok, size_t n, struct sasl_creds *c, struct reply *r);

/* sasl_field - one LOGIN response (user or password) into a field:
 * no NUL, fits.  RES_OK or RES_PERM with 501 5.5.2 in r. */
enum result sasl_field(const char *dec, size_t n, char *out, size_t outsize, struct reply *r);

/* auth_pam_check - pam_authenticate and pam_acct_mgmt for user through
 * service, the password given by the conversation function; PAM_RHOST
 * is rhost.  RES_OK; RES_PERM for a wrong password or an unknown,
 * locked or expired account; RES_TEMP for anything else (the directory
 * is down: PAM_AUTHINFO_UNAVAIL, a module error), logged. */
enum result auth_pam_check(const char *service, const char *user, const char *pass,
                           const char *rhost);

/* auth_check_config - mailout-smtpd --check-config: conf_check(), then
 * auth_files_check() on the loaded config; 0 or EX_CONFIG (78) */
int auth_check_config(const char *path, FILE *out);

/* auth_from_owned - the From: header (value, unfolded) of a message
 * from user: every mailbox in it must be user's; count is the number
 * of From: headers seen (0: none, nothing to check). */
enum result auth_from_owned(const struct config *cfg, const char *user, const char *value,
                            size_t len, unsigned count, bool truncated, struct reply *r);

/* sasl_wipe - forget a password */
void sasl_wipe(struct sasl_creds *c);

#endif
