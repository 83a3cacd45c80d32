/*
 * mail_spool_read.c - parse the envelope block of a spool file
 *
 * What it is for: one reader of the spool format (mail_spool.h) shared
 * by mailout-deliver and mailout-spool.
 * What it must never do: read past the bytes it was given, trust a
 * length or count from the file, or accept an address that could
 * smuggle a line break into an SMTP command.
 */
#include "mail_spool_read.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

/* why_set - store a reason, ignoring truncation (it is only a message) */
static enum result
why_set(char *why, size_t whysize, const char *text)
{
	if (whysize)
		(void)bounded_copy(why, whysize, text);
	return RES_PERM;
}

/* header_is - does the line start with "name:"? returns the value */
static const char *
header_is(const char *line, size_t len, const char *name, size_t *vlen)
{
	size_t n = strlen(name);

	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	line += n + 1;
	len -= n + 1;
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	*vlen = len;
	return line;
}

/* parse_path - "<addr>" into out (without brackets); -1 if invalid */
static int
parse_path(const char *v, size_t len, char *out, size_t outsize)
{
	const char *close;
	size_t n;

	if (len < 2 || v[0] != '<')
		return -1;
	close = memrchr(v, '>', len);
	if (!close || close == v)
		return -1;
	n = (size_t)(close - v) - 1;
	if (n >= outsize)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[1 + i];
		/* an address never holds controls: no CR/LF into SMTP */
		if (c < 0x20 || c == 0x7f)
			return -1;
	}
	memcpy(out, v + 1, n);
	out[n] = '\0';
	return 0;
}

/* parse_number - leading decimal digits of v; -1 if none or too big */
static int
parse_number(const char *v, size_t len, int64_t *out)
{
	int64_t n = 0;
	size_t i;

	for (i = 0; i < len && v[i] >= '0' && v[i] <= '9'; i++) {
		if (n > (INT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	if (i == 0 || (i < len && v[i] != ' '))
		return -1;
	*out = n;
	return 0;
}

/* add_rcpt - append one recipient */
static enum result
add_rcpt(struct spool_envelope *env, const char *v, size_t vlen, char *why, size_t whysize)
{
	char addr[ADDR_PATH_MAX + 1];
	char **n;

	if (parse_path(v, vlen, addr, sizeof(addr)) < 0 || addr[0] == '\0')
		return why_set(why, whysize, "bad Envelope-To line");
	if (env->n_rcpts >= SPOOL_RCPT_MAX)
		return why_set(why, whysize, "too many recipients");
	n = realloc(env->rcpts, (env->n_rcpts + 1) * sizeof(*n));
	if (!n)
		return RES_TEMP;
	env->rcpts = n;
	if (!(n[env->n_rcpts] = strdup(addr)))
		return RES_TEMP;
	env->n_rcpts++;
	return RES_OK;
}

/* parse_line - one envelope line; *seen collects the required ones */
static enum result
parse_line(struct spool_envelope *env, const char *line, size_t len, unsigned *seen, char *why,
           size_t whysize)
{
	const char *v;
	size_t vlen;
	int64_t n;

	if ((v = header_is(line, len, "Mailout-Spool", &vlen))) {
		if (parse_number(v, vlen, &n) < 0 || n != SPOOL_FORMAT_VERSION)
			return why_set(why, whysize, "unknown spool format version");
		env->version = (unsigned)n;
		*seen |= 1;
	} else if ((v = header_is(line, len, "Queue-ID", &vlen))) {
		if (vlen > QUEUE_ID_LEN)
			return why_set(why, whysize, "bad Queue-ID");
		memcpy(env->queue_id, v, vlen);
		env->queue_id[vlen] = '\0';
		if (!queue_id_valid(env->queue_id))
			return why_set(why, whysize, "bad Queue-ID");
		*seen |= 2;
	} else if ((v = header_is(line, len, "Queued-At", &vlen))) {
		if (parse_number(v, vlen, &env->queued_at) < 0)
			return why_set(why, whysize, "bad Queued-At");
		*seen |= 4;
	} else if ((v = header_is(line, len, "Envelope-From", &vlen))) {
		if (parse_path(v, vlen, env->sender, sizeof(env->sender)) < 0)
			return why_set(why, whysize, "bad Envelope-From");
		*seen |= 8;
	} else if ((v = header_is(line, len, "Envelope-To", &vlen))) {
		return add_rcpt(env, v, vlen, why, whysize);
	}
	return RES_OK;
}

enum result
spool_parse_envelope(const char *data, size_t len, struct spool_envelope *env, char *why,
                     size_t whysize)
{
	size_t pos = 0;
	unsigned seen = 0;
	enum result r;

	memset(env, 0, sizeof(*env));
	if (len > SPOOL_ENVELOPE_MAX)
		len = SPOOL_ENVELOPE_MAX;
	while (pos < len) {
		const char *line = data + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t llen;

		if (!nl)
			return why_set(why, whysize, "envelope block not terminated");
		llen = (size_t)(nl - line);
		pos += llen + 1;
		if (llen == 0) {
			env->body_offset = pos;
			if (seen != 15)
				return why_set(why, whysize, "envelope lines missing");
			if (env->n_rcpts == 0)
				return why_set(why, whysize, "no recipients");
			return RES_OK;
		}
		if ((r = parse_line(env, line, llen, &seen, why, whysize)) != RES_OK)
			return r;
	}
	return why_set(why, whysize, "envelope block not terminated");
}

void
spool_envelope_free(struct spool_envelope *env)
{
	for (size_t i = 0; i < env->n_rcpts; i++)
		free(env->rcpts[i]);
	free(env->rcpts);
	env->rcpts = NULL;
	env->n_rcpts = 0;
}

size_t
spool_message_headers(const char *msg, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(msg + pos, '\n', len - pos);

		if (!nl)
			return len;
		if (nl == msg + pos)
			return pos + 1;
		pos = (size_t)(nl - msg) + 1;
	}
	return len;
}
