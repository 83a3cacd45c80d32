/*
 * smtpd_crypt.c - libxcrypt through dlopen, on first use
 *
 * What it is for: keeping libcrypt out of mailout-smtpd's start-up (it
 * is linked with -z now, so a linked library costs its relocations in
 * every session); it is loaded when a passwd file is first read or a
 * password first hashed, and stays loaded for the process.  Here too:
 * the password check itself.
 * What it must never do: load a library named by the environment or
 * the config, half-fill the table (all or nothing), keep a password or
 * its hash in memory it frees, or tell by its timing how much of a
 * hash matched.
 */
#include "smtpd_crypt.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd_dl.h"

#define CRYPT_LIBRARY "libcrypt.so.1"

/* fill - every function of the table from lib; 0 or -1 (logged) */
static int
fill(void *lib, void *table)
{
	struct crypt_fns *t = table;

#define CRYPT_FN(name)                                                                             \
	if (dl_resolve(lib, CRYPT_LIBRARY, #name, NULL, &t->name, sizeof(t->name)) < 0)            \
		return -1;
	CRYPT_FUNCTIONS
#undef CRYPT_FN
	return 0;
}

const struct crypt_fns *
crypt_fns_load(void)
{
	static struct crypt_fns table;
	static bool loaded;

	if (!loaded && dl_load_table("auth", CRYPT_LIBRARY, fill, &table) == 0)
		loaded = true;
	return loaded ? &table : NULL;
}

/* same_secret - a[0..n) == b[0..n), in time independent of where they
 * differ */
static bool
same_secret(const char *a, const char *b, size_t n)
{
	volatile unsigned char diff = 0;
	size_t i;

	for (i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

bool
crypt_matches(const char *pass, const char *hash)
{
	static char dummy[CRYPT_GENSALT_OUTPUT_SIZE];
	const struct crypt_fns *cf = crypt_fns_load();
	struct crypt_data *cd;
	const char *out;
	bool ok = false;

	if (cf == NULL || (cd = calloc(1, sizeof(*cd))) == NULL)
		return false;
	if (!hash && !dummy[0] &&
	    cf->crypt_gensalt_rn(NULL, 0, NULL, 0, dummy, sizeof(dummy)) == NULL)
		dummy[0] = '\0';
	out = cf->crypt_rn(pass, hash ? hash : dummy, cd, (int)sizeof(*cd));
	if (hash && out && strlen(out) == strlen(hash))
		ok = same_secret(out, hash, strlen(hash));
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}
