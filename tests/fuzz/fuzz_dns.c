/*
 * fuzz_dns.c - the one DNS answer parser (lib/dns.c dns_parse) on any
 * octets, for every record type it reads
 *
 * Checks beyond "no crash": the record count stays bounded, a name is
 * always a terminated string that fits, and RES_OK means records.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum dns_type types[] = {DNS_A, DNS_AAAA, DNS_MX, DNS_PTR, DNS_CNAME};
	struct dns_answer a;
	size_t i, j;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		enum result res = dns_parse(data, size, types[i], &a);

		if (a.n > DNS_RECORDS_MAX || a.n > a.total || (res == RES_OK && a.n == 0))
			abort();
		if (memchr(a.qname, '\0', sizeof(a.qname)) == NULL ||
		    memchr(a.cname, '\0', sizeof(a.cname)) == NULL)
			abort();
		for (j = 0; j < a.n; j++)
			if (memchr(a.rr[j].name, '\0', sizeof(a.rr[j].name)) == NULL)
				abort();
	}
	return 0;
}
