/*
 * smtpd_passwd.h - who may authenticate, and which senders are theirs
 *
 * Credentials come from auth.passwd_file (lines "user:crypt-hash:addr,
 * addr"; hashes checked with libxcrypt) and, for users not in it, from
 * PAM (auth.pam_service: a campus directory through sssd, LDAP or
 * Kerberos).  The addresses a user may send as come from the passwd
 * file's third field, from auth.sender_map (lines "USER ADDR,ADDR")
 * and from auth.sender_patterns ("%u@stud.example.org").
 *
 * Files whose configured name holds no '/' are systemd credentials,
 * read from $CREDENTIALS_DIRECTORY (LoadCredential=).  Every file is
 * read once per process (one session) and kept.
 */
#ifndef MAILOUT_SMTPD_PASSWD_H
#define MAILOUT_SMTPD_PASSWD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "buf.h"
#include "conf.h"
#include "mail_addr.h"
#include "mail_reply.h"
#include "result.h"

#define AUTH_USER_MAX 255 /* octets of a user id */
#define AUTH_PASS_MAX 1024 /* octets of a password */
#define AUTH_FILE_MAX ((size_t)16 * 1024 * 1024)

/* One line of the passwd file or the sender map. */
struct passwd_entry {
	char *user;
	char *hash; /* NULL in the sender map */
	char *addrs; /* "a@b,c@d" as written (spaces removed), maybe "" */
	const char *bad; /* why the line cannot be used, or NULL */
	unsigned line;
};

struct passwd_db {
	struct passwd_entry *v;
	size_t n, cap;
};

/* passwd_parse - the lines of a passwd file (hashes) or, with
 * want_hash false, of a sender map ("USER ADDR,ADDR").  Bad lines are
 * kept with their reason (so a user whose line is broken gets a
 * temporary failure, not "unknown user") and printed to errs (may be
 * NULL) as "NAME:LINE: message".  Returns the number of bad lines, or
 * -1 when out of memory. */
int passwd_parse(struct passwd_db *db, const char *text, size_t len, const char *name,
                 bool want_hash, FILE *errs);
void passwd_free(struct passwd_db *db);
/* passwd_find - the entry of user (exact, case-sensitive), or NULL */
const struct passwd_entry *passwd_find(const struct passwd_db *db, const char *user);
/* passwd_hash_ok - is s a complete crypt(5) hash of a strong method
 * ($y$ yescrypt, $gy$, $7$, $2b$ bcrypt, $6$ sha512crypt) that libxcrypt
 * does not call legacy?  A plain-text password is not. */
bool passwd_hash_ok(const char *s);

/* auth_files_check - --check-config: read passwd_file and sender_map,
 * print each bad line as "FILE:LINE: message"; returns the count of
 * problems (a file that cannot be read counts one). */
int auth_files_check(const struct config *cfg, FILE *out);

/* auth_configured - is there any way to authenticate (passwd_file or
 * pam_service)?  AUTH is offered only then. */
bool auth_configured(const struct config *cfg);

/* auth_verify - check user and password: the passwd file first, PAM
 * for users it does not name.  RES_OK: valid.  RES_PERM: wrong
 * (r: 535 5.7.8).  RES_TEMP: a broken line, an unreadable file, PAM's
 * backend down (r: 454 4.7.0; the reason is logged).  rhost is the
 * client address, for PAM_RHOST. */
enum result auth_verify(const struct config *cfg, const char *user, const char *pass,
                        const char *rhost, struct reply *r);

/* auth_sender_owned - may user send as addr?  RES_OK, RES_PERM with
 * 553 5.7.1 naming an address the user may use, RES_TEMP (451 4.3.0)
 * when a file cannot be read.  what names the address in the text
 * ("Sender address", "From: address").  *rule (rule may be NULL) names
 * what decided, for --explain. */
enum result auth_sender_owned(const struct config *cfg, const char *user,
                              const struct mail_addr *addr, const char *what, struct reply *r,
                              const char **rule);

/* auth_explain_user - --explain --auth USER: where user would be
 * checked (passwd file FILE:LINE, or PAM) and the addresses they may
 * send as, appended to out.  RES_OK: the user may log in (the password
 * is not checked); RES_PERM: unknown user (a session says 535);
 * RES_TEMP: a broken line or an unreadable file (454). */
enum result auth_explain_user(const struct config *cfg, const char *user, struct buf *out);

/* auth_files_reset - forget the files read (tests) */
void auth_files_reset(void);

#endif
