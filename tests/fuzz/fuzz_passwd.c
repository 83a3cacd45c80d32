/*
 * fuzz_passwd.c - libFuzzer target for the passwd file reader
 * (smtpd/smtpd_passwd.c): whatever the file holds, every entry that is
 * not marked bad has a usable user id, a hash that passwd_hash_ok()
 * accepts and an address list without blanks, and every user finds
 * its first entry.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "smtpd_passwd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct passwd_db db = {0};
	size_t i;
	int bad;

	bad = passwd_parse(&db, (const char *)data, size, "fuzz", true, NULL);
	if (bad < 0 || (size_t)bad > size + 1)
		__builtin_trap();
	for (i = 0; i < db.n; i++) {
		const struct passwd_entry *e = &db.v[i];

		if (passwd_find(&db, e->user) > e)
			__builtin_trap();
		if (e->bad)
			continue;
		if (!e->hash || !passwd_hash_ok(e->hash) || strpbrk(e->addrs, " \t") ||
		    strpbrk(e->user, ":, \t\r\n") || strlen(e->user) > AUTH_USER_MAX)
			__builtin_trap();
	}
	passwd_free(&db);
	return 0;
}
