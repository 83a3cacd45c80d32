/*
 * fuzz_sender_map.c - libFuzzer target for the sender map reader and
 * the sender check (smtpd/smtpd_passwd.c): whatever the map holds,
 * good entries carry only addresses with a domain, and each of them is
 * found to belong to its user through the same list matching that
 * MAIL FROM uses; the input read as a From: value never crashes the
 * ownership check.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_entry - every address of a good entry parses, with a domain */
static void
check_entry(const struct passwd_entry *e)
{
	const char *p = e->addrs, *comma;
	struct mail_addr a;
	struct reply r;
	size_t n;

	if (e->hash)
		__builtin_trap();
	while (*p) {
		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		if (addr_parse_mailbox(p, n, &a, &r) != RES_OK || a.domain[0] == '\0')
			__builtin_trap();
		p += n + (comma ? 1 : 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *patterns[] = {"%u@stud.example.org"};
	struct passwd_db db = {0};
	struct config cfg;
	struct reply r;
	size_t i;

	if (passwd_parse(&db, (const char *)data, size, "fuzz", false, NULL) < 0)
		__builtin_trap();
	for (i = 0; i < db.n; i++)
		if (!db.v[i].bad)
			check_entry(&db.v[i]);
	passwd_free(&db);
	/* the bytes as a From: header of an authenticated user: no files
	 * configured, so only the pattern can match */
	memset(&cfg, 0, sizeof(cfg));
	cfg.auth.passwd_file = (char *)"";
	cfg.auth.sender_map = (char *)"";
	cfg.auth.pam_service = (char *)"fuzz";
	cfg.auth.sender_patterns.items = patterns;
	cfg.auth.sender_patterns.n = 1;
	if (auth_from_owned(&cfg, "alice", (const char *)data, size, 1, false, &r) == RES_TEMP)
		__builtin_trap();
	return 0;
}
