/*
 * smtpd_dl.h - libraries that mailout-smtpd loads on first use
 *
 * mailout-smtpd is one process per connection, linked with -z now: a
 * linked library costs every session its relocations, whether the
 * session uses it or not.  OpenSSL (smtpd_ssl.c) and libxcrypt
 * (smtpd_crypt.c) are loaded with dlopen when a session first needs
 * them, as libpam is (smtpd_pam.c); their functions are resolved at
 * once into a table of the loader's, all or none.
 */
#ifndef MAILOUT_SMTPD_DL_H
#define MAILOUT_SMTPD_DL_H

#include <stddef.h>

/* dl_load - dlopen(soname) resolved now and kept to itself; NULL,
 * logged after what ("TLS", "auth") with dlerror's text, when it cannot
 * be loaded.  soname is a fixed name found by the dynamic linker's own
 * rules, never one from the config. */
void *dl_load(const char *what, const char *soname);
/* dl_resolve - the function name (of symbol version version, or the
 * default version when NULL) of the library lib into *slot, a function
 * pointer of size bytes; -1, logged, when the library has no such
 * function */
int dl_resolve(void *lib, const char *soname, const char *name, const char *version, void *slot,
               size_t size);
/* dl_load_table - dl_load, then fill(lib, table) copies the functions
 * into the caller's table; 0, or -1 (the library closed again) */
int dl_load_table(const char *what, const char *soname, int (*fill)(void *lib, void *table),
                  void *table);

#endif
