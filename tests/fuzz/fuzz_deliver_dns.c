/*
 * fuzz_deliver_dns.c - libFuzzer target for the DNS answer parser of
 * mailout-deliver (deliver/deliver_dns.c: MX, A and AAAA records)
 */
#include <arpa/nameser.h>
#include <stddef.h>
#include <stdint.h>

#include "deliver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int types[] = {ns_t_mx, ns_t_a, ns_t_aaaa};
	struct dns_rr rr[GW_ADDRS_MAX];

	for (size_t i = 0; i < 3; i++) {
		int n = dns_parse_answer(data, size, types[i], rr, GW_ADDRS_MAX);
		if (n > GW_ADDRS_MAX)
			__builtin_trap();
	}
	return 0;
}
