/*
 * smtpd_block.c - the blocklist: abusive hosts refused at the greeting
 *
 * What it is for: reading the admin's blocklist file at each
 * connection and saying whether the client is in a current entry, and
 * which line put it there (for the log and --explain).
 *
 * What it must never do: block everybody because of a bad line or an
 * unreadable file (a malformed line is logged and skipped; a file that
 * cannot be read blocks nothing and is logged), read without bound
 * (BLOCK_FILE_MAX octets, BLOCK_LINES_MAX lines, BLOCK_LINE_MAX per
 * line), or trust the file's text in a log line unfiltered.
 */
#include "smtpd_block.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

/* digits - exactly n digits at *p into *v; advances *p */
static int
digits(const char **p, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		*v = *v * 10 + (**p - '0');
	}
	return 0;
}

/* zone - "", "Z", "+01:00", "-0130" into seconds east of UTC */
static int
zone(const char *p, long *off)
{
	int h, m, sign;

	*off = 0;
	if (*p == '\0' || ((*p == 'Z' || *p == 'z') && p[1] == '\0'))
		return 0;
	if (*p != '+' && *p != '-')
		return -1;
	sign = *p++ == '-' ? -1 : 1;
	if (digits(&p, 2, &h) < 0)
		return -1;
	if (*p == ':')
		p++;
	if (digits(&p, 2, &m) < 0 || *p != '\0' || h > 23 || m > 59)
		return -1;
	*off = sign * (h * 3600L + m * 60L);
	return 0;
}

int
block_parse_time(const char *s, time_t *out)
{
	struct tm tm, back;
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0;
	long off;
	time_t t;

	if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 || *p++ != '-' ||
	    digits(&p, 2, &d) < 0)
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &mi) < 0)
			return -1;
		if (*p == ':' && (p++, digits(&p, 2, &sec) < 0))
			return -1;
	}
	if (zone(p, &off) < 0 || y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 ||
	    sec > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* 2026-02-30 is not a date: timegm would roll it into March */
	if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != d || back.tm_mon != mo - 1)
		return -1;
	*out = t - off;
	return 0;
}

int
block_parse_line(const char *line, size_t len, struct cidr *net, time_t *until, const char **why)
{
	char text[BLOCK_LINE_MAX + 1], *p, *word, *rest;
	size_t n;

	*until = 0;
	*why = "line too long";
	if (len > BLOCK_LINE_MAX)
		return -1;
	*why = "contains a NUL or control character";
	for (n = 0; n < len; n++)
		if (line[n] == '\0' ||
		    (iscntrl((unsigned char)line[n]) && line[n] != '\t' && line[n] != '\r'))
			return -1;
	memcpy(text, line, len);
	text[len] = '\0';
	if ((p = strchr(text, '#')) != NULL)
		*p = '\0';
	for (n = strlen(text); n > 0 && isspace((unsigned char)text[n - 1]); n--)
		text[n - 1] = '\0';
	for (word = text; isspace((unsigned char)*word); word++)
		;
	if (*word == '\0')
		return 0;
	for (rest = word; *rest && !isspace((unsigned char)*rest); rest++)
		;
	if (*rest)
		*rest++ = '\0';
	if (cidr_parse(word, net, why) < 0)
		return -1;
	while (isspace((unsigned char)*rest))
		rest++;
	if (*rest == '\0')
		return 1;
	*why = "expected \"until TIME\" after the address";
	if (strncmp(rest, "until", 5) != 0 || !isspace((unsigned char)rest[5]))
		return -1;
	for (rest += 5; isspace((unsigned char)*rest); rest++)
		;
	*why = "bad time (2026-12-01, \"2026-12-01 12:00\" or 2026-12-01T12:00:00Z)";
	return block_parse_time(rest, until) < 0 ? -1 : 1;
}

/* note_hit - the first current entry that holds the client decides */
static void
note_hit(struct block_hit *hit, const char *line, size_t len, int lineno, time_t until)
{
	const char *hash = memchr(line, '#', len);

	if (hash)
		len = (size_t)(hash - line);
	while (len > 0 && isspace((unsigned char)line[len - 1]))
		len--;
	while (len > 0 && isspace((unsigned char)*line))
		line++, len--;
	hit->blocked = true;
	hit->line = lineno;
	hit->until = until;
	if (len >= sizeof(hit->entry))
		len = sizeof(hit->entry) - 1;
	memcpy(hit->entry, line, len);
	hit->entry[len] = '\0';
}

void
block_check_text(const char *text, size_t len, const char *name, bool log, const struct net_addr *a,
                 time_t now, struct block_hit *hit)
{
	const char *p = text, *end = text + len, *nl, *why;
	struct cidr net;
	time_t until;
	int lineno = 0, rc;

	memset(hit, 0, sizeof(*hit));
	while (p < end && lineno < BLOCK_LINES_MAX) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		lineno++;
		rc = block_parse_line(p, (size_t)(nl - p), &net, &until, &why);
		if (rc < 0) {
			hit->bad++;
			if (log)
				log_warn("%s:%d: %s; line ignored", name, lineno, why);
		} else if (rc > 0 && until != 0 && until <= now) {
			hit->expired++;
		} else if (rc > 0) {
			hit->entries++;
			if (!hit->blocked && cidr_contains(&net, a))
				note_hit(hit, p, (size_t)(nl - p), lineno, until);
		}
		p = nl + 1;
	}
	if (p < end && log)
		log_warn("%s: more than %d lines; the rest is ignored", name, BLOCK_LINES_MAX);
}

/* read_list - the file into b, at most BLOCK_FILE_MAX octets; -1 errno */
static int
read_list(const char *path, struct buf *b, bool *cut)
{
	char chunk[8192];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	*cut = false;
	if (fd < 0)
		return -1;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (b->len + (size_t)n > BLOCK_FILE_MAX) {
			*cut = true;
			n = (ssize_t)(BLOCK_FILE_MAX - b->len);
		}
		if (buf_append(b, chunk, (size_t)n) < 0 || *cut)
			break;
	}
	n = n < 0 ? -1 : 0;
	if (close(fd) < 0 && n == 0 && errno != EINTR)
		n = -1;
	return (int)n;
}

enum result
block_check(const char *path, const struct net_addr *a, time_t now, struct block_hit *hit)
{
	struct buf b = BUF_INIT(BLOCK_FILE_MAX + 1);
	bool cut;

	memset(hit, 0, sizeof(*hit));
	if (!path || !*path)
		return RES_OK;
	if (read_list(path, &b, &cut) < 0) {
		if (errno != ENOENT)
			log_warn_errno("blocklist %s: cannot read it, nothing is blocked", path);
		buf_free(&b);
		return RES_OK;
	}
	if (cut)
		log_warn("blocklist %s: larger than %zu octets; the rest is ignored", path,
		         BLOCK_FILE_MAX);
	block_check_text(b.s ? b.s : "", b.len, path, true, a, now, hit);
	buf_free(&b);
	return RES_OK;
}
