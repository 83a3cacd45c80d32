/*
 * fuzz_rewrite_map.c - libFuzzer target for the rewrite map reader and
 * the address-list walker (lib/mail_rewrite.c): whatever the map file
 * holds, the table must come out sorted, without duplicates, every key
 * must find its own value, and every value must be an address; the
 * same bytes read as a header value must rewrite without reading out
 * of bounds, and every mailbox span must lie inside the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail_rewrite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_map - the invariants of a parsed map */
static void
check_map(const struct rewrite *rw)
{
	size_t i;

	for (i = 0; i < rw->n_map; i++) {
		if (i > 0 && strcmp(rw->map[i - 1].key, rw->map[i].key) >= 0)
			__builtin_trap();
		if (strchr(rw->map[i].value, '@') == NULL)
			__builtin_trap();
		if (rewrite_map_lookup(rw, rw->map[i].key) != rw->map[i].value)
			__builtin_trap();
	}
}

/* check_list - spans in bounds; rewriting never fails on a big buffer */
static void
check_list(const struct rewrite *rw, const char *s, size_t n)
{
	struct addrlist_item it;
	struct buf out = BUF_INIT(0);
	size_t pos = 0, items = 0;

	while (addrlist_next(s, n, &pos, &it)) {
		if (it.off > n || it.len > n - it.off || pos > n || ++items > n)
			__builtin_trap();
		if (strlen(it.addr) > ADDR_PATH_MAX)
			__builtin_trap();
	}
	if (rewrite_header_value(rw, REWRITE_SENDER, s, n, &out) < 0)
		__builtin_trap();
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rewrite rw;

	rewrite_init(&rw);
	if (rewrite_set_domain(&rw, "example.org") < 0 || rewrite_add_local(&rw, "relay") < 0)
		__builtin_trap();
	if (rewrite_map_parse(&rw, (const char *)data, size, "fuzz", NULL) >= 0)
		check_map(&rw);
	check_list(&rw, (const char *)data, size);
	rewrite_free(&rw);
	return 0;
}
