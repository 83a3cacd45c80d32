/*
 * smtpd_parse.c - splitting and parsing SMTP command lines
 *
 * What it is for: the pure, I/O-free part of the receiver: cutting the
 * input into command lines with a hard cap (RFC 5321 4.5.3.1.4), the
 * verb table, MAIL/RCPT paths and ESMTP parameters (RFC 1870 SIZE,
 * RFC 6152 8BITMIME, RFC 6531 SMTPUTF8, RFC 4954 AUTH=), BDAT
 * arguments (RFC 3030), and making client text printable for logs.
 * What it must never do: read past the length it is given (client
 * lines may hold NULs), or let the rest of an over-long line be taken
 * as a new command.
 */
#include "smtpd.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
    {"HELO", V_HELO}, {"EHLO", V_EHLO},         {"MAIL", V_MAIL}, {"RCPT", V_RCPT},
    {"DATA", V_DATA}, {"BDAT", V_BDAT},         {"RSET", V_RSET}, {"NOOP", V_NOOP},
    {"QUIT", V_QUIT}, {"VRFY", V_VRFY},         {"EXPN", V_EXPN}, {"HELP", V_HELP},
    {"AUTH", V_AUTH}, {"STARTTLS", V_STARTTLS},
};

/* smtp_line_take - find one command line of at most max octets (its
 * CRLF included) at the start of in.  The caller drops *used octets
 * whatever the status.  A line without LF in its first max octets is
 * too long: it is dropped up to and including its LF, possibly over
 * several calls, and reported once, when its end is seen, so that its
 * tail is never read as a command. */
enum line_status
smtp_line_take(struct line_state *st, const char *in, size_t n, size_t max, size_t *line_len,
               size_t *used)
{
	const char *lf;

	*line_len = 0;
	*used = 0;
	if (st->discarding) {
		lf = memchr(in, '\n', n);
		if (lf == NULL) {
			*used = n;
			return LINE_MORE;
		}
		*used = (size_t)(lf - in) + 1;
		st->discarding = false;
		return LINE_TOO_LONG;
	}
	lf = memchr(in, '\n', n < max ? n : max);
	if (lf != NULL) {
		*used = (size_t)(lf - in) + 1;
		*line_len = (size_t)(lf - in);
		if (*line_len > 0 && in[*line_len - 1] == '\r')
			(*line_len)--;
		return LINE_OK;
	}
	if (n < max)
		return LINE_MORE;
	st->discarding = true;
	*used = max;
	return LINE_MORE;
}

/* smtp_cmd_parse - split "VERB args" into verb and trimmed args */
void
smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd)
{
	size_t i, vlen = 0;

	while (vlen < len && line[vlen] != ' ')
		vlen++;
	cmd->verb = V_UNKNOWN;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strlen(verbs[i].name) == vlen && strncasecmp(line, verbs[i].name, vlen) == 0) {
			cmd->verb = verbs[i].verb;
			break;
		}
	}
	i = vlen;
	while (i < len && line[i] == ' ')
		i++;
	while (len > i && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	cmd->arg = line + i;
	cmd->arg_len = len - i;
}

/* prefix_case - does s (n octets) start with the word p? */
static bool
prefix_case(const char *s, size_t n, const char *p)
{
	size_t plen = strlen(p);

	return n >= plen && strncasecmp(s, p, plen) == 0;
}

/* path_extent - length of the "<...>" at s, quotes honoured; 0 if none */
static size_t
path_extent(const char *s, size_t n)
{
	bool quoted = false;
	size_t i;

	if (n == 0 || s[0] != '<')
		return 0;
	for (i = 1; i < n; i++) {
		if (quoted && s[i] == '\\' && i + 1 < n)
			i++;
		else if (s[i] == '"')
			quoted = !quoted;
		else if (!quoted && s[i] == '>')
			return i + 1;
	}
	return 0;
}

/* parse_u64 - decimal digits only, no overflow; -1 if bad */
static int
parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 20)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* keyword_is - does "KEY[=value]" have this key? */
static bool
keyword_is(const char *kw, size_t klen, const char *name)
{
	return strlen(name) == klen && strncasecmp(kw, name, klen) == 0;
}

/* mail_param - one "KEY[=VALUE]" of MAIL FROM */
static enum result
mail_param(const char *s, size_t n, struct mail_params *p, struct reply *r)
{
	const char *eq = memchr(s, '=', n);
	size_t klen = eq ? (size_t)(eq - s) : n;
	const char *val = eq ? eq + 1 : NULL;
	size_t vlen = eq ? n - klen - 1 : 0;

	if (keyword_is(s, klen, "SIZE")) {
		if (!val || parse_u64(val, vlen, &p->size) < 0) {
			reply_set(r, 501, ESC_BAD_ARGS, "Bad SIZE parameter");
			return RES_PERM;
		}
		p->size_set = true;
	} else if (keyword_is(s, klen, "BODY")) {
		if (val && vlen == 4 && strncasecmp(val, "7BIT", 4) == 0)
			p->body = BODY_7BIT;
		else if (val && vlen == 8 && strncasecmp(val, "8BITMIME", 8) == 0)
			p->body = BODY_8BITMIME;
		else {
			reply_set(r, 555, ESC_BAD_ARGS, "Unsupported BODY parameter");
			return RES_PERM;
		}
	} else if (keyword_is(s, klen, "SMTPUTF8") && !val) {
		p->smtputf8 = true;
	} else if (keyword_is(s, klen, "AUTH") && val) {
		/* RFC 4954 5: accepted, and ignored until AUTH exists */
	} else {
		reply_set(r, 555, ESC_BAD_ARGS, "Unsupported MAIL parameter");
		return RES_PERM;
	}
	return RES_OK;
}

/* parse_params - space-separated parameters after the path */
static enum result
parse_params(const char *s, size_t n, struct mail_params *p, struct reply *r)
{
	size_t i = 0, start;
	enum result res;

	while (i < n) {
		while (i < n && s[i] == ' ')
			i++;
		if (i == n)
			break;
		start = i;
		while (i < n && s[i] != ' ')
			i++;
		if (p == NULL) {
			reply_set(r, 555, ESC_BAD_ARGS, "Unsupported RCPT parameter");
			return RES_PERM;
		}
		if ((res = mail_param(s + start, i - start, p, r)) != RES_OK)
			return res;
	}
	return RES_OK;
}

/* parse_path_opt - "<root>" with ADDR_OPT_UNQUALIFIED: a path with
 * no '@' at all (no domain, no source route) is one local part, to be
 * qualified by the rewrite rules; anything else is an RFC 5321 path */
static enum result
parse_path_opt(const char *s, size_t plen, unsigned opts, struct mail_addr *a, struct reply *r)
{
	size_t end = 0;

	if ((opts & ADDR_OPT_UNQUALIFIED) && plen > 2 && memchr(s, '@', plen) == NULL)
		return addr_parse_mailbox_opt(s + 1, plen - 2, ADDR_OPT_UNQUALIFIED, a, r);
	return addr_parse_path(s, plen, a, &end, r);
}

/* parse_path_cmd - "FROM:<path> params" / "TO:<path> params" */
static enum result
parse_path_cmd(const char *arg, size_t len, const char *word, unsigned opts, struct mail_addr *a,
               struct mail_params *p, struct reply *r)
{
	size_t i, plen;
	enum result res;

	memset(a, 0, sizeof(*a));
	if (!prefix_case(arg, len, word)) {
		reply_set(r, 501, ESC_BAD_ARGS, "Syntax: %s<address>",
		          word[0] == 'F' ? "MAIL FROM:" : "RCPT TO:");
		return RES_PERM;
	}
	i = strlen(word);
	while (i < len && arg[i] == ' ') /* "MAIL FROM: <a>" is common */
		i++;
	if ((plen = path_extent(arg + i, len - i)) == 0) {
		reply_set(r, 501, ESC_BAD_ARGS, "Syntax: %s<address>",
		          word[0] == 'F' ? "MAIL FROM:" : "RCPT TO:");
		return RES_PERM;
	}
	if ((res = parse_path_opt(arg + i, plen, opts, a, r)) != RES_OK)
		return res;
	i += plen;
	if (i < len && arg[i] != ' ') {
		reply_set(r, 501, ESC_BAD_ARGS, "Syntax error after the address");
		return RES_PERM;
	}
	return parse_params(arg + i, len - i, p, r);
}

enum result
smtp_parse_mail(const char *arg, size_t len, struct mail_addr *from, struct mail_params *p,
                struct reply *r)
{
	return smtp_parse_mail_opt(arg, len, 0, from, p, r);
}

enum result
smtp_parse_mail_opt(const char *arg, size_t len, unsigned opts, struct mail_addr *from,
                    struct mail_params *p, struct reply *r)
{
	enum result res;

	memset(p, 0, sizeof(*p));
	if ((res = parse_path_cmd(arg, len, "FROM:", opts, from, p, r)) != RES_OK)
		return res;
	if (from->utf8 && !p->smtputf8) {
		/* RFC 6531 3.5 */
		reply_set(r, 553, ESC_UTF8_REQUIRED, "Non-ASCII address needs SMTPUTF8");
		return RES_PERM;
	}
	return RES_OK;
}

enum result
smtp_parse_rcpt(const char *arg, size_t len, struct mail_addr *to, struct reply *r)
{
	return parse_path_cmd(arg, len, "TO:", 0, to, NULL, r);
}

/* smtp_parse_bdat - "SIZE [LAST]" (RFC 3030 2) */
enum result
smtp_parse_bdat(const char *arg, size_t len, uint64_t *size, bool *last, struct reply *r)
{
	size_t i = 0, j;

	*last = false;
	while (i < len && arg[i] != ' ')
		i++;
	if (parse_u64(arg, i, size) < 0)
		goto bad;
	j = i;
	while (j < len && arg[j] == ' ')
		j++;
	if (j < len) {
		if (len - j != 4 || strncasecmp(arg + j, "LAST", 4) != 0)
			goto bad;
		*last = true;
	}
	return RES_OK;
bad:
	reply_set(r, 501, ESC_BAD_ARGS, "Syntax: BDAT size [LAST]");
	return RES_PERM;
}

/* smtp_sanitize - printable, bounded copy of client text for logs and
 * headers: anything that is not visible ASCII, and the characters that
 * give Received: comments and log fields their structure (parentheses,
 * ; < > " and backslash) become '?'.  Brackets stay: "EHLO [192.0.2.1]" is common. */
void
smtp_sanitize(const char *in, size_t n, char *out, size_t outsize)
{
	size_t i;
	unsigned char c;

	if (outsize == 0)
		return;
	for (i = 0; i < n && i + 1 < outsize; i++) {
		c = (unsigned char)in[i];
		if (c < 0x21 || c > 0x7e || strchr("();<>\"\\", c) != NULL)
			c = '?';
		out[i] = (char)c;
	}
	out[i] = '\0';
}
