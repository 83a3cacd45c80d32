/*
 * smtpd_crypt.h - libxcrypt (libcrypt.so.1), loaded on first use
 *
 * Only AUTH against auth.passwd_file (and --check-config reading it)
 * hashes passwords; every other session leaves libcrypt unloaded.
 */
#ifndef MAILOUT_SMTPD_CRYPT_H
#define MAILOUT_SMTPD_CRYPT_H

#include <crypt.h>
#include <stdbool.h>

/* The functions smtpd_passwd.c calls, typed as <crypt.h> declares them. */
#define CRYPT_FUNCTIONS                                                                            \
	CRYPT_FN(crypt_rn)                                                                         \
	CRYPT_FN(crypt_gensalt_rn)                                                                 \
	CRYPT_FN(crypt_checksalt)

struct crypt_fns {
#define CRYPT_FN(name) __typeof__(&name) name;
	CRYPT_FUNCTIONS
#undef CRYPT_FN
};

/* crypt_fns_load - the table, loading libcrypt.so.1 the first time;
 * NULL (logged) when it cannot be loaded: a temporary failure */
const struct crypt_fns *crypt_fns_load(void);
/* crypt_matches - does pass hash to hash (compared in constant time)?
 * With hash NULL a dummy of the default method is hashed, so that an
 * unknown user costs what a known one does; false then, and false when
 * libcrypt cannot be loaded */
bool crypt_matches(const char *pass, const char *hash);

#endif
