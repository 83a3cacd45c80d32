/*
 * mail_addr.c - RFC 5321 paths and mailboxes, RFC 6531 UTF-8 addresses
 *
 * What it is for: turning the argument of MAIL FROM / RCPT TO (or a
 * sendmail argument, or a config value) into a struct mail_addr whose
 * flags tell policy about every relay trick in it: source routes
 * (RFC 5321 appendix C), %-hacks, bang paths, quoted local parts with
 * '@', and address literals.
 *
 * What it must never do: accept a byte the grammar does not allow (CR,
 * LF, NUL, controls, spaces outside quotes, ill-formed UTF-8), write
 * past the fixed fields of struct mail_addr, or hide a relay trick.
 * It decides syntax only; whether an address may be used is policy's,
 * and whether the spool can carry it is mail_spool.c's
 * (addr_fits_envelope asks it).
 */
#include "mail_addr.h"

#include <arpa/inet.h>
#include <string.h>

#include "buf.h"
#include "mail_spool.h"

/* scan - a cursor over untrusted input; why holds the first error */
struct scan {
	const char *s;
	size_t len;
	size_t pos;
	const char *why;
	bool utf8;
};

/* fail - remember the first reason for refusing; always returns -1 */
static int
fail(struct scan *sc, const char *why)
{
	if (!sc->why)
		sc->why = why;
	return -1;
}

/* peek - the octet at the cursor, or -1 at the end */
static int
peek(const struct scan *sc)
{
	return sc->pos < sc->len ? (unsigned char)sc->s[sc->pos] : -1;
}

/* lower - ASCII lower case, independent of the locale */
static int
lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* eq_case - n octets equal, ASCII case-insensitive */
static bool
eq_case(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}

/* layout_char - a character that breaks or reorders the text around
 * it: U+2028 LINE and U+2029 PARAGRAPH SEPARATOR (a new line in a log
 * viewer), the bidi embeddings, overrides and isolates (U+202A..U+202E,
 * U+2066..U+2069: a log line that reads differently from what it holds).
 * No address needs them; every reply and log line echoes addresses. */
static bool
layout_char(unsigned long cp)
{
	return (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* utf8_len - length of the well-formed UTF-8 sequence at s (RFC 3629:
 * no overlong forms, no surrogates, nothing past U+10FFFF), 0 if
 * ill-formed.  C1 controls (U+0080..U+009F) and layout_char()s are
 * refused too. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned long cp, min;
	size_t need, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 1, cp = s[0] & 0x1fU, min = 0xa0;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2, cp = s[0] & 0x0fU, min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3, cp = s[0] & 0x07U, min = 0x10000;
	} else {
		return 0;
	}
	if (n <= need)
		return 0;
	for (i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fU);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || layout_char(cp))
		return 0;
	return need + 1;
}

/* take_utf8 - step over one non-ASCII character at the cursor */
static int
take_utf8(struct scan *sc)
{
	size_t n = utf8_len((const unsigned char *)sc->s + sc->pos, sc->len - sc->pos);

	if (n == 0)
		return fail(sc, "invalid UTF-8");
	sc->pos += n;
	sc->utf8 = true;
	return 0;
}

/* next_ascii - take the UTF-8 characters at the cursor (RFC 6531: they
 * stand wherever letters may) and peek at the octet after them: *c is
 * -1 at the end.  -1 when the UTF-8 is bad. */
static int
next_ascii(struct scan *sc, int *c)
{
	while ((*c = peek(sc)) >= 0x80)
		if (take_utf8(sc) < 0)
			return -1;
	return 0;
}

/* is_atext - RFC 5322 atext, ASCII part */
static bool
is_atext(int c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c > 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* is_ldh - letter, digit or hyphen (ASCII) */
static bool
is_ldh(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

/* is_relay_char - characters that route mail onward when a host
 * re-parses the local part: user%host, host!user, "user@host" */
static bool
is_relay_char(int c)
{
	return c == '@' || c == '%' || c == '!';
}

/* bad_char - why the octet at the cursor cannot be where it is */
static const char *
bad_char(const struct scan *sc, const char *otherwise)
{
	int c = peek(sc);

	if (c < 0)
		return "missing closing >";
	if (c == ' ' || c == '\t')
		return "space in address (quote it)";
	if (c < 32 || c == 127)
		return "control character in address";
	return otherwise;
}

/* scan_quoted - Quoted-string (RFC 5321 4.1.2, RFC 6531 qtextSMTP) */
static int
scan_quoted(struct scan *sc, bool *relay)
{
	int c;

	sc->pos++; /* the opening DQUOTE */
	for (;;) {
		if (next_ascii(sc, &c) < 0)
			return -1;
		if (c < 0)
			return fail(sc, "unterminated quoted local part");
		if (c == '"') {
			sc->pos++;
			return 0;
		}
		if (c == '\\') {
			/* quoted-pairSMTP = %d92 %d32-126 */
			if (sc->pos + 1 >= sc->len || (unsigned char)sc->s[sc->pos + 1] < 32 ||
			    (unsigned char)sc->s[sc->pos + 1] > 126)
				return fail(sc, "bad quoted-pair in local part");
			c = (unsigned char)sc->s[++sc->pos];
		} else if (c < 32 || c == 127) {
			return fail(sc, "control character in address");
		}
		if (is_relay_char(c))
			*relay = true;
		sc->pos++;
	}
}

/* scan_dot_string - Dot-string: atoms separated by single dots */
static int
scan_dot_string(struct scan *sc, bool *relay)
{
	size_t start = sc->pos;
	int c, rc;

	while ((rc = next_ascii(sc, &c)) == 0 && (c == '.' || is_atext(c))) {
		if (c == '.' && (sc->pos == start || sc->s[sc->pos - 1] == '.'))
			return fail(sc, "empty part in local part (leading or double dot)");
		if (c == '%' || c == '!')
			*relay = true;
		sc->pos++;
	}
	if (rc < 0)
		return -1;
	if (sc->pos == start)
		return fail(sc, peek(sc) == '@' ? "empty local part"
		                                : bad_char(sc, "empty local part"));
	if (sc->s[sc->pos - 1] == '.')
		return fail(sc, "local part ends with a dot");
	return 0;
}

/* scan_local - Local-part into out->local, flags set */
static int
scan_local(struct scan *sc, struct mail_addr *out)
{
	size_t start = sc->pos, n;
	bool relay = false;

	if (peek(sc) == '"') {
		out->quoted_local = true;
		if (scan_quoted(sc, &relay) < 0)
			return -1;
	} else if (scan_dot_string(sc, &relay) < 0) {
		return -1;
	}
	n = sc->pos - start;
	if (n > ADDR_LOCAL_MAX)
		return fail(sc, "local part longer than 64 octets");
	memcpy(out->local, sc->s + start, n);
	out->local[n] = '\0';
	out->local_has_relay_chars = relay;
	return 0;
}

/* check_labels - Domain: labels of letters, digits, hyphens (or UTF-8
 * U-label characters), no hyphen at either end, 1..63 octets each */
static int
check_labels(struct scan *sc, const char *d, size_t n)
{
	size_t i, start = 0;

	if (n == 0)
		return fail(sc, "missing domain");
	if (n > ADDR_DOMAIN_MAX)
		return fail(sc, "domain longer than 255 octets");
	for (i = 0; i <= n; i++) {
		if (i < n && d[i] != '.')
			continue;
		if (i == start)
			return fail(sc, "empty label in domain");
		if (i - start > 63)
			return fail(sc, "domain label longer than 63 octets");
		if (d[start] == '-' || d[i - 1] == '-')
			return fail(sc, "domain label starts or ends with a hyphen");
		start = i + 1;
	}
	return 0;
}

/* copy_lower - copy n octets, ASCII lower-cased, into out (outsize > n) */
static void
copy_lower(char *out, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = (char)lower((unsigned char)s[i]);
	out[n] = '\0';
}

/* scan_domain - Domain (no literal) into out[ADDR_DOMAIN_MAX + 1] */
static int
scan_domain(struct scan *sc, char *out)
{
	size_t start = sc->pos;
	int c, rc;

	while ((rc = next_ascii(sc, &c)) == 0 && (is_ldh(c) || c == '.'))
		sc->pos++;
	if (rc < 0)
		return -1;
	if (check_labels(sc, sc->s + start, sc->pos - start) < 0)
		return -1;
	copy_lower(out, sc->s + start, sc->pos - start);
	return 0;
}

/* valid_ipv4 - IPv4-address-literal: Snum 3("." Snum), Snum 0..255 in
 * one to three digits (leading zeros allowed, unlike inet_pton) */
static bool
valid_ipv4(const char *s, size_t n)
{
	size_t i = 0, digits;
	unsigned v;
	int groups;

	for (groups = 0; groups < 4; groups++) {
		if (groups > 0 && (i >= n || s[i++] != '.'))
			return false;
		for (v = 0, digits = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++)
			v = v * 10 + (unsigned)(s[i] - '0');
		if (digits == 0 || digits > 3 || v > 255)
			return false;
	}
	return i == n;
}

/* valid_literal - the inside of "[...]": IPv4 or "IPv6:" address.
 * General-address-literal tags must be registered with IANA (RFC 5321
 * 4.1.3); none are, so any other tag is refused. */
static bool
valid_literal(const char *s, size_t n)
{
	char v6[INET6_ADDRSTRLEN];
	unsigned char bin[16];

	size_t i;

	/* dcontent = %d33-90 / %d94-126: no NUL to cut inet_pton short */
	for (i = 0; i < n; i++)
		if (s[i] < 33 || s[i] > 126 || s[i] == '[' || s[i] == '\\')
			return false;
	if (n > 5 && eq_case(s, "IPv6:", 5)) {
		if (n - 5 >= sizeof(v6))
			return false;
		memcpy(v6, s + 5, n - 5);
		v6[n - 5] = '\0';
		return inet_pton(AF_INET6, v6, bin) == 1;
	}
	return valid_ipv4(s, n);
}

/* scan_literal - address-literal "[...]" into out, lower-cased */
static int
scan_literal(struct scan *sc, char *out)
{
	size_t start = sc->pos, n;
	const char *close;

	close = memchr(sc->s + start, ']', sc->len - start);
	if (!close)
		return fail(sc, "unterminated address literal");
	n = (size_t)(close - (sc->s + start)) + 1;
	if (!valid_literal(sc->s + start + 1, n - 2))
		return fail(sc, "bad address literal");
	if (n > ADDR_DOMAIN_MAX)
		return fail(sc, "domain longer than 255 octets");
	copy_lower(out, sc->s + start, n);
	sc->pos += n;
	return 0;
}

/* scan_route - A-d-l ":" (RFC 5321 4.1.2); accepted and discarded as
 * appendix C asks, but remembered so that policy never relays on it */
static int
scan_route(struct scan *sc, struct mail_addr *out)
{
	char hop[ADDR_DOMAIN_MAX + 1];

	out->had_source_route = true;
	for (;;) {
		if (peek(sc) != '@')
			return fail(sc, "bad source route");
		sc->pos++;
		if (scan_domain(sc, hop) < 0)
			return -1;
		if (peek(sc) == ':') {
			sc->pos++;
			return 0;
		}
		if (peek(sc) != ',')
			return fail(sc, "bad source route");
		sc->pos++;
	}
}

/* scan_mailbox - Mailbox = Local-part "@" ( Domain / address-literal ),
 * or a bare local part: "postmaster" always (RFC 5321 4.1.1.3), any
 * local part with ADDR_OPT_UNQUALIFIED */
static int
scan_mailbox(struct scan *sc, struct mail_addr *out, unsigned opts)
{
	if (scan_local(sc, out) < 0)
		return -1;
	if (peek(sc) != '@') {
		if ((opts & ADDR_OPT_UNQUALIFIED) ||
		    (!out->quoted_local && strlen(out->local) == 10 &&
		     eq_case(out->local, "postmaster", 10))) {
			out->domain[0] = '\0';
			return 0;
		}
		if (peek(sc) < 0 || peek(sc) == '>')
			return fail(sc, "missing @domain");
		return fail(sc, bad_char(sc, "invalid character in local part"));
	}
	sc->pos++;
	if (peek(sc) == '[') {
		out->domain_is_literal = true;
		return scan_literal(sc, out->domain);
	}
	return scan_domain(sc, out->domain);
}

/* refuse - the reply for any syntax error.  The session may change the
 * status code to 5.1.7 for a sender; the text stays. */
static enum result
refuse(struct reply *err, const struct scan *sc)
{
	if (err)
		reply_set(err, 501, ESC_BAD_DEST_SYNTAX, "Bad address syntax: %s",
		          sc->why ? sc->why : "invalid address");
	return RES_PERM;
}

enum result
addr_parse_path(const char *s, size_t len, struct mail_addr *out, size_t *end, struct reply *err)
{
	struct scan sc = {s, len, 0, NULL, false};

	memset(out, 0, sizeof(*out));
	if (len == 0 || s[0] != '<') {
		fail(&sc, "address must be enclosed in <>");
		return refuse(err, &sc);
	}
	sc.pos = 1;
	if (peek(&sc) == '>') {
		out->null = true;
	} else {
		if (peek(&sc) == '@' && scan_route(&sc, out) < 0)
			return refuse(err, &sc);
		sc.utf8 = false; /* utf8 describes what is kept, not the route */
		if (scan_mailbox(&sc, out, 0) < 0)
			return refuse(err, &sc);
		if (peek(&sc) != '>') {
			fail(&sc, bad_char(&sc, "invalid character in domain"));
			return refuse(err, &sc);
		}
	}
	sc.pos++;
	/* RFC 5321 4.5.3.1.3: 256 octets including the punctuation */
	if (sc.pos > ADDR_PATH_MAX) {
		fail(&sc, "path longer than 256 octets");
		return refuse(err, &sc);
	}
	out->utf8 = sc.utf8;
	if (end)
		*end = sc.pos;
	return RES_OK;
}

enum result
addr_parse_mailbox_opt(const char *s, size_t len, unsigned opts, struct mail_addr *out,
                       struct reply *err)
{
	struct scan sc = {s, len, 0, NULL, false};

	memset(out, 0, sizeof(*out));
	if (len > ADDR_PATH_MAX - 2) {
		fail(&sc, "address longer than 254 octets");
		return refuse(err, &sc);
	}
	if (scan_mailbox(&sc, out, opts) < 0)
		return refuse(err, &sc);
	if (sc.pos != len) {
		fail(&sc, peek(&sc) == '>' ? "unexpected >"
		                           : bad_char(&sc, "invalid character in domain"));
		return refuse(err, &sc);
	}
	out->utf8 = sc.utf8;
	return RES_OK;
}

enum result
addr_parse_mailbox(const char *s, size_t len, struct mail_addr *out, struct reply *err)
{
	return addr_parse_mailbox_opt(s, len, 0, out, err);
}

bool
addr_fits_envelope(const struct mail_addr *a)
{
	char text[ADDR_PATH_MAX + 1];

	if (a->null)
		return true;
	return addr_format(a, text, sizeof(text)) == 0 &&
	       envelope_addr_ok(text, strlen(text)) == QQ_OK;
}

int
addr_format(const struct mail_addr *a, char *out, size_t outsize)
{
	size_t ln, dn;

	if (a->null)
		return bounded_copy(out, outsize, "");
	if (a->domain[0] == '\0')
		return bounded_copy(out, outsize, a->local);
	ln = strlen(a->local);
	dn = strlen(a->domain);
	if (ln + 1 + dn >= outsize) /* cut as printf cuts */
		return bounded_format(out, outsize, "%s@%s", a->local, a->domain);
	/* runs several times per recipient: no printf where it fits */
	memcpy(out, a->local, ln);
	out[ln] = '@';
	memcpy(out + ln + 1, a->domain, dn + 1);
	return 0;
}

bool
domain_matches(const char *domain, const char *pattern)
{
	size_t dn = strlen(domain), pn = strlen(pattern);
	bool sub_only = false;

	if (dn && domain[dn - 1] == '.')
		dn--;
	if (pn && pattern[pn - 1] == '.')
		pn--;
	if (pn && pattern[0] == '.') {
		sub_only = true;
		pattern++, pn--;
	}
	if (dn == 0 || pn == 0 || dn < pn || domain[0] == '.')
		return false;
	if (dn == pn)
		return !sub_only && eq_case(domain, pattern, pn);
	/* a subdomain: the pattern must start right after a dot */
	return domain[dn - pn - 1] == '.' && eq_case(domain + dn - pn, pattern, pn);
}
