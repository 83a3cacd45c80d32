/*
 * scan_arcload.c - libarchive, loaded only when a message needs it
 *
 * What it is for: keeping libarchive (and libxml2, libicu, libstdc++
 * behind it) out of mailout-scan's start-up.  Most messages carry no
 * archive: their inspector never calls libarchive (scan_inspect.c
 * reports SCAN_NEED_ARCHIVE for a part that might hold one), and then
 * the parent loads it here, before forking a fresh inspector, since the
 * confined child can open no file.  The functions scan_archive.c uses
 * are resolved at once (RTLD_NOW) into one table.
 * What it must never do: hand out a half-filled table (every symbol
 * resolves or the load fails, and the message is deferred), or be
 * called inside the sandbox.  When libarchive.so.13 cannot be opened,
 * symbols already linked into the program (fuzzers, tests) are used.
 */
#include "scan.h"

#include <dlfcn.h>
#include <string.h>

#include "log.h"

#define SCAN_ARCHIVE_SONAME "libarchive.so.13"

static struct scan_arc table;
const struct scan_arc *scan_arc;

/* resolve - every symbol from handle into t; -1 naming the first missing */
static int
resolve(void *handle, struct scan_arc *t)
{
	void *p;

#define SCAN_ARC_SYM(field, sym)                                                                   \
	if ((p = dlsym(handle, #sym)) == NULL) {                                                   \
		log_warn("%s: no symbol %s", SCAN_ARCHIVE_SONAME, #sym);                           \
		return -1;                                                                         \
	}                                                                                          \
	memcpy(&t->field, &p, sizeof(p));
	SCAN_ARC_SYMBOLS
#undef SCAN_ARC_SYM
	return 0;
}

enum result
scan_arc_load(void)
{
	void *h;

	if (scan_arc != NULL)
		return RES_OK;
	h = dlopen(SCAN_ARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *err = dlerror();

		/* a program linked with libarchive (fuzzers) has it already */
		if (dlsym(RTLD_DEFAULT, "archive_read_new") == NULL) {
			log_warn("unable to load %s: %s", SCAN_ARCHIVE_SONAME,
			         err ? err : "unknown error");
			return RES_TEMP;
		}
		h = RTLD_DEFAULT;
	}
	if (resolve(h, &table) < 0) {
		if (h != RTLD_DEFAULT)
			(void)dlclose(h);
		return RES_TEMP;
	}
	scan_arc = &table;
	return RES_OK;
}
