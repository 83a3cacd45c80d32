/*
 * fuzz_conf.c - libFuzzer target for the configuration loader (conf/)
 *
 * Feeds arbitrary bytes as a configuration file, through the same path
 * as a file on disk (pre-scan, libconfuse, value checks, cross-checks).
 * It must never crash or leak, and a configuration it accepts must keep
 * the promises of conf.h: strings set, every client class with
 * networks, at least one listener.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_promises - what programs rely on in an accepted config */
static void
check_promises(const struct config *c)
{
	size_t i;

	if (!c->file || !c->hostname || !c->spool || c->spool[0] != '/')
		__builtin_trap();
	if (c->n_listeners == 0 || !c->tls.cert || !c->tls.key || !c->queue.postmaster)
		__builtin_trap();
	for (i = 0; i < c->n_clients; i++)
		if (c->clients[i].n_networks == 0 || !c->clients[i].name)
			__builtin_trap();
	if (c->gateway.n_hosts != c->gateway.servers.n)
		__builtin_trap();
	for (i = 0; i < c->gateway.n_hosts; i++)
		if (!c->gateway.hosts[i].host || c->gateway.hosts[i].port == 0)
			__builtin_trap();
	if (c->limits.message_size == 0 || c->limits.recipients == 0 || c->queue.retry_min == 0 ||
	    c->queue.retry_min > c->queue.retry_max)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	struct config c;

	if (!sink)
		sink = fopen("/dev/null", "w");
	if (!sink)
		return 0;
	if (conf_load_text((const char *)data, size, "fuzz.conf", &c, sink) == RES_OK) {
		check_promises(&c);
		conf_free(&c);
	}
	return 0;
}
