/*
 * conf_host.c - the name this host gives itself, found when first asked
 *
 * What it is for: conf_hostname(), the `hostname` key as set, else the
 * host's fully qualified name.  Finding that name may ask the resolver
 * (a DNS query when /etc/hosts does not know the short name), so it is
 * done at the first call of a program that needs the name (banner,
 * Received:, EHLO, bounces), once per process, and never by merely
 * loading the config: mailout-queue, mailout-spool and most runs of
 * mailout-scan never ask.
 * What it must never do: return NULL or an empty or invalid name (the
 * last resort is "localhost"), or ask the resolver more than once per
 * process.
 */
#include "conf_int.h"

#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"

/* canonical - the resolver's canonical name for host into out, or
 * host itself when it has a dot or the resolver does not know it */
static void
canonical(const char *host, char *out, size_t outsize)
{
	struct addrinfo hints, *ai = NULL;
	const char *why;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_flags = AI_CANONNAME;
	if (!strchr(host, '.') && getaddrinfo(host, NULL, &hints, &ai) == 0 && ai &&
	    ai->ai_canonname && conf_parse_domain(ai->ai_canonname, out, outsize, &why) == 0) {
		freeaddrinfo(ai);
		return;
	}
	if (ai)
		freeaddrinfo(ai);
	if (conf_parse_domain(host, out, outsize, &why) < 0)
		(void)bounded_copy(out, outsize, "localhost");
}

/* system_name - gethostname, made canonical by the resolver when it
 * has no dot; "localhost" if all else fails */
static void
system_name(char *out, size_t outsize)
{
	char host[256];

	if (gethostname(host, sizeof(host)) < 0) {
		(void)bounded_copy(out, outsize, "localhost");
		return;
	}
	host[sizeof(host) - 1] = '\0';
	canonical(host, out, outsize);
}

const char *
conf_hostname(const struct config *cfg)
{
	static char found[256]; /* the name does not change while we run */

	if (cfg->hostname && cfg->hostname[0])
		return cfg->hostname;
	if (!found[0])
		system_name(found, sizeof(found));
	return found;
}
