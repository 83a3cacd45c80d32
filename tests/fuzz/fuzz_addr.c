/*
 * fuzz_addr.c - libFuzzer target for the address parser
 *
 * Invariants: no crash or undefined behaviour on any input; an accepted
 * path ends inside the input and within 256 octets; every field is
 * NUL-terminated within its array; the formatted address parses again
 * (as a mailbox) to the same local part, domain and flags; a relay
 * trick in the input is never lost on the way.
 * Must never write files or talk to the network.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_same - the second parse saw what the first one saw */
static void
check_same(const struct mail_addr *a, const struct mail_addr *b)
{
	if (strcmp(a->local, b->local) != 0 || strcmp(a->domain, b->domain) != 0)
		abort();
	if (a->quoted_local != b->quoted_local ||
	    a->local_has_relay_chars != b->local_has_relay_chars ||
	    a->domain_is_literal != b->domain_is_literal || a->utf8 != b->utf8)
		abort();
}

/* check_fields - fixed arrays are terminated, domain is lower case */
static void
check_fields(const struct mail_addr *a)
{
	const char *p;

	if (memchr(a->local, '\0', sizeof(a->local)) == NULL ||
	    memchr(a->domain, '\0', sizeof(a->domain)) == NULL)
		abort();
	for (p = a->domain; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			abort();
	if (a->local_has_relay_chars == false && strpbrk(a->local, "%!@") != NULL)
		abort();
}

/* roundtrip - format an accepted address and parse it again */
static void
roundtrip(const struct mail_addr *a)
{
	char out[ADDR_PATH_MAX];
	struct mail_addr b;
	struct reply r;

	if (a->null)
		return;
	if (addr_format(a, out, sizeof(out)) < 0)
		abort();
	if (addr_parse_mailbox(out, strlen(out), &b, &r) != RES_OK)
		abort();
	check_same(a, &b);
	(void)domain_matches(a->domain, "example.org");
	if (a->domain[0] && !domain_matches(a->domain, a->domain) && !a->domain_is_literal)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct mail_addr a;
	struct reply r;
	size_t end = 0;

	if (addr_parse_path(s, size, &a, &end, &r) == RES_OK) {
		if (end < 2 || end > size || end > ADDR_PATH_MAX || s[end - 1] != '>')
			abort();
		check_fields(&a);
		roundtrip(&a);
	} else if (r.code != 501) {
		abort();
	}
	if (addr_parse_mailbox_opt(s, size, ADDR_OPT_UNQUALIFIED, &a, &r) == RES_OK) {
		check_fields(&a);
		if (a.domain[0])
			roundtrip(&a);
	}
	return 0;
}
