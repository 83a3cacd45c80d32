/*
 * smtpd_pam.h - libpam, loaded on first use
 *
 * Most sessions never AUTH, and most that do are checked against
 * auth.passwd_file: libpam (and libaudit, libcap-ng behind it) is
 * loaded only when auth.pam_service is asked.
 */
#ifndef MAILOUT_SMTPD_PAM_H
#define MAILOUT_SMTPD_PAM_H

#include <security/pam_appl.h>

/* The functions smtpd_auth.c calls, as libpam.so.0 exports them. */
struct pam_fns {
	int (*start)(const char *, const char *, const struct pam_conv *, pam_handle_t **);
	int (*set_item)(pam_handle_t *, int, const void *);
	int (*authenticate)(pam_handle_t *, int);
	int (*acct_mgmt)(pam_handle_t *, int);
	const char *(*strerror)(pam_handle_t *, int);
	int (*end)(pam_handle_t *, int);
};

/* pam_fns_load - the table, loading libpam.so.0 the first time; NULL
 * (logged) when it cannot be loaded: a temporary failure */
const struct pam_fns *pam_fns_load(void);

#endif
