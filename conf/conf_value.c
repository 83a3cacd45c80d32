/*
 * conf_value.c - syntax of configuration values: durations, sizes,
 * rates, domains, gateway servers, networks, fingerprints
 *
 * What it is for: turning the strings of mailout.conf into checked
 * values, so that no program meets a malformed value at run time.
 * What it must never do: accept a value it cannot fully account for
 * (a trailing "x" in "25Mx", a domain with an empty label, a port
 * past 65535); every accepted byte is understood.
 */
#include "conf_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "net.h"

/* What a systemd credential name may hold here (LoadCredential= IDs). */
#define CRED_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

#define DOMAIN_MAX 253
#define LABEL_MAX 63

/* parse_digits - a plain decimal number, at least one digit, no sign;
 * *end points past it.  -1 on overflow or no digits. */
static int
parse_digits(const char *s, uint64_t *out, const char **end)
{
	uint64_t v = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return -1;
	*out = v;
	*end = p;
	return 0;
}

/* unit_seconds - s m h d; 0 if not a time unit */
static unsigned
unit_seconds(char c)
{
	switch (c) {
	case 's':
		return 1;
	case 'm':
		return 60;
	case 'h':
		return 3600;
	case 'd':
		return 86400;
	default:
		return 0;
	}
}

int
conf_parse_duration(const char *s, unsigned *out)
{
	uint64_t v;
	const char *end;
	unsigned mult = 1;

	if (!s || parse_digits(s, &v, &end) < 0)
		return -1;
	if (*end != '\0') {
		mult = unit_seconds(*end);
		if (mult == 0 || end[1] != '\0')
			return -1;
	}
	if (v > (uint64_t)INT_MAX / mult)
		return -1;
	*out = (unsigned)(v * mult);
	return 0;
}

int
conf_parse_size(const char *s, uint64_t *out)
{
	uint64_t v, mult = 1;
	const char *end;

	if (!s || parse_digits(s, &v, &end) < 0)
		return -1;
	if (*end != '\0') {
		switch (*end) {
		case 'k':
		case 'K':
			mult = 1024;
			break;
		case 'M':
			mult = 1024 * 1024;
			break;
		case 'G':
			mult = 1024 * 1024 * 1024;
			break;
		default:
			return -1;
		}
		if (end[1] != '\0')
			return -1;
	}
	if (v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

int
conf_parse_rate(const char *s, unsigned *count, unsigned *period)
{
	uint64_t v;
	const char *end;
	unsigned unit;

	if (!s)
		return -1;
	if (s[0] == '\0' || strcmp(s, "0") == 0) {
		*count = 0;
		*period = 0;
		return 0;
	}
	if (parse_digits(s, &v, &end) < 0 || v == 0 || v > UINT_MAX || end[0] != '/')
		return -1;
	unit = unit_seconds(end[1]);
	if (unit == 0 || end[2] != '\0')
		return -1;
	*count = (unsigned)v;
	*period = unit;
	return 0;
}

/* check_label - one label of a domain, [a-z0-9-], no '-' at either end */
static int
check_label(const char *l, size_t n, const char **why)
{
	size_t i;

	if (n == 0) {
		*why = "empty label (two dots, or a leading dot)";
		return -1;
	}
	if (n > LABEL_MAX) {
		*why = "label longer than 63 characters";
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)l[i];

		if (c == '@') {
			*why = "contains '@' (a domain, not an address)";
			return -1;
		}
		if (isspace(c)) {
			*why = "contains white space";
			return -1;
		}
		if (!(isalnum(c) && c < 128) && c != '-') {
			*why = "bad character (letters, digits, '-' and '.' only; IDN as xn--)";
			return -1;
		}
	}
	if (l[0] == '-' || l[n - 1] == '-') {
		*why = "label starts or ends with '-'";
		return -1;
	}
	return 0;
}

int
conf_parse_domain(const char *s, char *out, size_t outsize, const char **why)
{
	size_t len, i, start = 0;
	bool numeric = true;

	*why = "empty";
	if (!s || !*s)
		return -1;
	len = strlen(s);
	if (len > 1 && s[len - 1] == '.')
		len--;
	*why = "longer than 253 characters";
	if (len > DOMAIN_MAX || len >= outsize)
		return -1;
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		if (check_label(s + start, i - start, why) < 0)
			return -1;
		numeric = strspn(s + start, "0123456789") >= i - start;
		start = i + 1;
	}
	*why = "an IP address, not a domain";
	if (numeric)
		return -1;
	for (i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[len] = '\0';
	return 0;
}

/* parse_port - "1".."65535" */
static int
parse_port(const char *s, unsigned *port)
{
	uint64_t v;
	const char *end;

	if (parse_digits(s, &v, &end) < 0 || *end != '\0' || v == 0 || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

/* server_host - check and store a host: IP literal or domain */
static int
server_host(const char *h, size_t n, bool bracketed, struct conf_server *out, const char **why)
{
	char host[DOMAIN_MAX + 2], dom[DOMAIN_MAX + 2];
	struct net_addr a;

	*why = "empty host";
	if (n == 0)
		return -1;
	*why = "host name too long";
	if (n >= sizeof(host))
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	if (net_addr_parse(host, &a) == 0) {
		*why = "an IPv6 address needs brackets: \"[2001:db8::1]:25\"";
		if (!bracketed && strchr(host, ':'))
			return -1;
		out->mx = false;
	} else {
		if (conf_parse_domain(host, dom, sizeof(dom), why) < 0)
			return -1;
		if (bounded_copy(host, sizeof(host), dom) < 0)
			return -1;
		out->mx = !bracketed;
	}
	*why = "out of memory";
	out->host = strdup(host);
	return out->host ? 0 : -1;
}

int
conf_parse_server(const char *s, struct conf_server *out, const char **why)
{
	const char *host = s, *rest, *colon;
	size_t hlen;
	bool br = false;

	out->host = NULL;
	out->port = 0;
	out->mx = false;
	*why = "empty";
	if (!s || !*s)
		return -1;
	if (s[0] == '[') {
		rest = strchr(s, ']');
		*why = "missing ']'";
		if (!rest)
			return -1;
		host = s + 1;
		hlen = (size_t)(rest - host);
		rest++;
		br = true;
	} else {
		colon = strchr(s, ':');
		*why = "an IPv6 address needs brackets: \"[2001:db8::1]:25\"";
		if (colon && strchr(colon + 1, ':'))
			return -1;
		hlen = colon ? (size_t)(colon - s) : strlen(s);
		rest = s + hlen;
	}
	*why = "expected \":PORT\" after the host";
	if (*rest != '\0' && *rest != ':')
		return -1;
	*why = "bad port (1 to 65535)";
	if (*rest == ':' && parse_port(rest + 1, &out->port) < 0)
		return -1;
	return server_host(host, hlen, br, out, why);
}

/* check_nameserver - "", IP, IPv4:port, [IP]:port */
static const char *
check_nameserver(const char *s)
{
	struct conf_server srv;
	struct net_addr a;
	const char *why;
	int ok;

	if (!*s || net_addr_parse(s, &a) == 0)
		return NULL;
	if (conf_parse_server(s, &srv, &why) < 0)
		return why;
	ok = net_addr_parse(srv.host, &a) == 0;
	free(srv.host);
	return ok ? NULL : "not an IP address (IP, IP:PORT or [IPv6]:PORT)";
}

/* check_fingerprint - "sha256:" and 32 bytes in hex, ':' between bytes allowed */
static const char *
check_fingerprint(const char *s)
{
	const char *p;
	size_t digits = 0;

	if (strncmp(s, "sha256:", 7) != 0)
		return "must start with \"sha256:\"";
	for (p = s + 7; *p; p++) {
		if (isxdigit((unsigned char)*p))
			digits++;
		else if (*p != ':' || digits % 2 != 0)
			return "bad hex digits after \"sha256:\"";
	}
	return digits == 64 ? NULL : "a SHA-256 fingerprint has 64 hex digits";
}

/* check_address - local@domain, nothing fancy */
static const char *
check_address(const char *s)
{
	const char *at = strrchr(s, '@'), *why;
	char dom[DOMAIN_MAX + 2];
	const char *p;

	if (!at || at == s)
		return "not an address (local@domain)";
	for (p = s; p < at; p++)
		if (isspace((unsigned char)*p) || *p == '<' || *p == '>' || *p == '@')
			return "bad character in the local part";
	if (conf_parse_domain(at + 1, dom, sizeof(dom), &why) < 0)
		return why;
	return NULL;
}

/* check_pattern - an address with %u (the user) and %% only */
static const char *
check_pattern(const char *s)
{
	const char *p;
	bool user = false;

	for (p = s; *p; p++) {
		if (*p != '%')
			continue;
		if (p[1] == 'u')
			user = true;
		else if (p[1] != '%')
			return "only %u (the user) and %% may follow '%'";
		p++;
	}
	if (!user)
		return "a sender pattern needs %u";
	return check_address(s);
}

int
value_is_name(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

	return n > 0 && n <= 64 && s[n] == '\0';
}

/* check_syntax - the kinds whose answer is a fixed message */
static const char *
check_syntax(enum value_kind kind, const char *s)
{
	uint64_t size;
	unsigned u, u2;

	switch (kind) {
	case V_NAME_OR_EMPTY:
		if (!*s)
			return NULL;
		/* FALLTHROUGH */
	case V_NAME:
		return value_is_name(s) ? NULL : "letters, digits, '.', '_' and '-' only";
	case V_DURATION:
	case V_DURATION0:
		if (conf_parse_duration(s, &u) < 0)
			return "not a duration (seconds, or a number with s, m, h or d)";
		return kind == V_DURATION && u == 0 ? "must be more than zero" : NULL;
	case V_SIZE:
		if (conf_parse_size(s, &size) < 0)
			return "not a size (bytes, or a number with k, M or G)";
		return size == 0 ? "must be more than zero" : NULL;
	case V_RATE:
		return conf_parse_rate(s, &u, &u2) < 0 ? "not a rate (\"600/h\"; s, m, h or d)"
		                                       : NULL;
	case V_CREDENTIAL:
		/* a name without '/' is read from $CREDENTIALS_DIRECTORY
		 * (systemd LoadCredential=): tls_cert.pem, gateway_password */
		if (*s && s[0] != '/' && strspn(s, CRED_CHARS) == strlen(s) && s[0] != '.')
			return NULL;
		/* FALLTHROUGH */
	case V_PATH_OR_EMPTY:
		if (!*s)
			return NULL;
		/* FALLTHROUGH */
	case V_PATH:
		return s[0] == '/' ? NULL : "must be an absolute path";
	case V_TLS_VERSION:
		return strcmp(s, "TLSv1.2") == 0 || strcmp(s, "TLSv1.3") == 0
		           ? NULL
		           : "must be \"TLSv1.2\" or \"TLSv1.3\"";
	case V_NAMESERVER:
		return check_nameserver(s);
	case V_FINGERPRINT:
		return check_fingerprint(s);
	case V_PATTERN:
		return check_pattern(s);
	case V_ADDRESS_OR_EMPTY:
		return *s ? check_address(s) : NULL;
	default:
		return NULL;
	}
}

const char *
value_check(enum value_kind kind, const char *s)
{
	char dom[DOMAIN_MAX + 2];
	struct conf_server srv;
	struct cidr net;
	const char *p, *why = NULL;

	if (!s)
		return "missing value";
	for (p = s; *p; p++)
		if (iscntrl((unsigned char)*p))
			return "contains a control character";
	switch (kind) {
	case V_DOMAIN_OR_EMPTY:
		if (!*s)
			return NULL;
		/* FALLTHROUGH */
	case V_DOMAIN:
		return conf_parse_domain(s, dom, sizeof(dom), &why) < 0 ? why : NULL;
	case V_NETWORK:
		return cidr_parse(s, &net, &why) < 0 ? why : NULL;
	case V_SERVER:
		if (conf_parse_server(s, &srv, &why) < 0)
			return why;
		free(srv.host);
		return NULL;
	default:
		return check_syntax(kind, s);
	}
}

/* printable - a value fit to quote in a message: control characters
 * become '?', long values are cut */
const char *
value_printable(const char *s, char *out, size_t outsize)
{
	size_t i;

	for (i = 0; s[i] && i + 4 < outsize; i++)
		out[i] = (s[i] >= 0 && s[i] < 0x20) || s[i] == 0x7f ? '?' : s[i];
	if (s[i])
		out[i++] = '.', out[i++] = '.', out[i++] = '.';
	out[i] = '\0';
	return out;
}

/* enum_names - "a, b or c" */
const char *
enum_names(const struct enum_map *m, char *out, size_t outsize)
{
	size_t n = 0;

	out[0] = '\0';
	for (; m->name; m++)
		if (bounded_format(out + n, outsize - n, "%s\"%s\"",
		                   n == 0      ? ""
		                   : m[1].name ? ", "
		                               : " or ",
		                   m->name) == 0)
			n += strlen(out + n);
	return out;
}
