/*
 * smtpd_pam.c - libpam.so.0 through dlopen, on first use
 *
 * What it is for: keeping libpam out of mailout-smtpd's start-up (it
 * is linked with -z now, so every library costs its relocations in
 * every session); it is loaded when the first AUTH is checked through
 * auth.pam_service, and stays loaded for the session.
 * What it must never do: load a library named by the environment or
 * the config (the name is fixed and resolved by the dynamic linker's
 * trusted paths), or half-fill the table: all or nothing.
 */
#include "smtpd_pam.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>

#include "log.h"
#include "smtpd_dl.h"

#define PAM_LIBRARY "libpam.so.0"

/* sym - one function of the library, or NULL (logged) */
static void *
sym(void *lib, const char *name)
{
	void *p = dlsym(lib, name);

	if (p == NULL)
		log_warn("auth: %s has no %s", PAM_LIBRARY, name);
	return p;
}

/* fill - every entry of t from lib; 0 or -1 */
static int
fill(void *lib, void *table)
{
	struct pam_fns *t = table;

	t->start = (int (*)(const char *, const char *, const struct pam_conv *,
	                    pam_handle_t **))sym(lib, "pam_start");
	t->set_item = (int (*)(pam_handle_t *, int, const void *))sym(lib, "pam_set_item");
	t->authenticate = (int (*)(pam_handle_t *, int))sym(lib, "pam_authenticate");
	t->acct_mgmt = (int (*)(pam_handle_t *, int))sym(lib, "pam_acct_mgmt");
	t->strerror = (const char *(*)(pam_handle_t *, int))sym(lib, "pam_strerror");
	t->end = (int (*)(pam_handle_t *, int))sym(lib, "pam_end");
	return t->start && t->set_item && t->authenticate && t->acct_mgmt && t->strerror && t->end
	           ? 0
	           : -1;
}

const struct pam_fns *
pam_fns_load(void)
{
	static struct pam_fns table;
	static bool loaded;

	if (!loaded && dl_load_table("auth", PAM_LIBRARY, fill, &table) == 0)
		loaded = true;
	return loaded ? &table : NULL;
}
