/*
 * smtpd_dl.c - dlopen and dlsym for the libraries loaded on first use
 *
 * What it is for: the two steps every loader of mailout-smtpd takes
 * (smtpd_ssl.c, smtpd_crypt.c, smtpd_pam.c): open the library by its soname, then
 * copy each function's address into a typed slot of its table, logging
 * what is missing with the dynamic linker's own words.
 * What it must never do: open a library named by the environment or
 * the config, or hand a slot an address of another size than its own.
 */
#include "smtpd_dl.h"

#include <dlfcn.h>
#include <string.h>

#include "log.h"

void *
dl_load(const char *what, const char *soname)
{
	void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	const char *err;

	if (lib == NULL) {
		err = dlerror();
		log_warn("%s: unable to load %s: %s", what, soname, err ? err : "unknown error");
	}
	return lib;
}

int
dl_resolve(void *lib, const char *soname, const char *name, const char *version, void *slot,
           size_t size)
{
	void *p;

	if (size != sizeof(p)) {
		log_warn("%s: %s: function pointer of unexpected size", soname, name);
		return -1;
	}
	(void)dlerror();
	p = version ? dlvsym(lib, name, version) : dlsym(lib, name);
	if (p == NULL) {
		log_warn("%s: no function %s%s%s", soname, name, version ? "@" : "",
		         version ? version : "");
		return -1;
	}
	memcpy(slot, &p, sizeof(p));
	return 0;
}

int
dl_load_table(const char *what, const char *soname, int (*fill)(void *lib, void *table),
              void *table)
{
	void *lib = dl_load(what, soname);

	if (lib == NULL)
		return -1;
	if (fill(lib, table) < 0) {
		(void)dlclose(lib);
		return -1;
	}
	return 0;
}
