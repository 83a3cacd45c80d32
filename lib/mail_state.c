/*
 * mail_state.c - reading and writing delivery state files
 *
 * What it is for: the durable per-recipient record of delivery (format
 * in mail_state.h), so that a crash never loses an outcome and a
 * recipient that was sent is not sent again.
 * Also the spool's delivery counters (SPOOL/counters), which every
 * run adds to under one lock.
 * What it must never do: leave a half-written state or counters file
 * (it writes a temporary file and renames it), let a reply text break
 * the one-item-per-line format, or lose another run's additions to the
 * counters (read, add and write happen under the lock).
 */
#include "mail_state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static const char *const status_names[] = {"pending", "sent", "deferred", "failed", "bounced"};
static const char *const origin_names[] = {"unknown", "gateway", "local"};

void
state_init(struct mail_state *st)
{
	memset(st, 0, sizeof(*st));
}

void
state_free(struct mail_state *st)
{
	for (size_t i = 0; i < st->n_rcpts; i++)
		free(st->rcpts[i].addr);
	free(st->rcpts);
	state_init(st);
}

const char *
state_status_name(enum rcpt_status s)
{
	if ((size_t)s < sizeof(status_names) / sizeof(status_names[0]))
		return status_names[s];
	return "pending";
}

bool
state_rcpt_done(enum rcpt_status s)
{
	return s == RCPT_SENT || s == RCPT_BOUNCED;
}

struct state_rcpt *
state_rcpt_find(struct mail_state *st, const char *addr)
{
	for (size_t i = 0; i < st->n_rcpts; i++)
		if (strcmp(st->rcpts[i].addr, addr) == 0)
			return &st->rcpts[i];
	return NULL;
}

/* clean_line - copy text as one printable line (controls become spaces) */
static void
clean_line(char *dst, size_t dstsize, const char *src, size_t n)
{
	size_t i;

	if (dstsize == 0) /* no room even for the terminator */
		return;
	if (n >= dstsize)
		n = dstsize - 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	dst[i] = '\0';
}

int
state_rcpt_set(struct mail_state *st, const char *addr, enum rcpt_status status, int64_t when,
               const char *reply)
{
	struct state_rcpt *r = state_rcpt_find(st, addr), *n;

	if (!r) {
		for (const char *p = addr; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				errno = EINVAL;
				return -1;
			}
		n = realloc(st->rcpts, (st->n_rcpts + 1) * sizeof(*n));
		if (!n)
			return -1;
		st->rcpts = n;
		r = &n[st->n_rcpts];
		memset(r, 0, sizeof(*r));
		if (!(r->addr = strdup(addr)))
			return -1;
		st->n_rcpts++;
	}
	r->status = status;
	r->when = when;
	clean_line(r->reply, sizeof(r->reply), reply ? reply : "", reply ? strlen(reply) : 0);
	r->origin = ORIGIN_UNKNOWN;
	r->relay[0] = '\0';
	return 0;
}

const char *
state_origin_name(enum rcpt_origin o)
{
	if ((size_t)o < sizeof(origin_names) / sizeof(origin_names[0]))
		return origin_names[o];
	return "unknown";
}

/* relay_ok - one token of printable ASCII that fits, not "none"? */
static bool
relay_ok(const char *s, size_t n)
{
	if (n == 0 || n >= STATE_RELAY_MAX || (n == 4 && memcmp(s, "none", 4) == 0))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

void
state_rcpt_origin(struct state_rcpt *r, enum rcpt_origin origin, const char *relay)
{
	r->origin = (size_t)origin < sizeof(origin_names) / sizeof(origin_names[0])
	                ? origin
	                : ORIGIN_UNKNOWN;
	r->relay[0] = '\0';
	if (relay && relay_ok(relay, strlen(relay)))
		(void)bounded_copy(r->relay, sizeof(r->relay), relay);
}

void
state_relay_host(const char *relay, char *out, size_t outsize)
{
	size_t n = relay ? strcspn(relay, "[") : 0;

	if (outsize == 0)
		return;
	if (n >= outsize)
		n = outsize - 1;
	if (n > 0)
		memcpy(out, relay, n);
	out[n] = '\0';
}

/* parse_i64 - a whole non-negative decimal field; -1 if not */
static int
parse_i64(const char *s, size_t len, int64_t *out)
{
	int64_t n = 0;

	if (len == 0 || len > 18)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	*out = n;
	return 0;
}

/* status_at - a status word followed by a space at s? */
static int
status_at(const char *s, size_t len, enum rcpt_status *out, size_t *wlen)
{
	for (size_t i = RCPT_SENT; i < sizeof(status_names) / sizeof(status_names[0]); i++) {
		size_t n = strlen(status_names[i]);

		if (len > n && memcmp(s, status_names[i], n) == 0 && s[n] == ' ') {
			*out = (enum rcpt_status)i;
			*wlen = n + 1;
			return 0;
		}
	}
	return -1;
}

/* token - the word "key=value" at *s (value into val), consumed with
 * its space; false when *s does not start with key= */
static bool
token(const char **s, size_t *len, const char *key, const char **val, size_t *vlen)
{
	size_t kl = strlen(key), n;

	if (*len <= kl || memcmp(*s, key, kl) != 0)
		return false;
	for (n = kl; n < *len && (*s)[n] != ' '; n++)
		;
	*val = *s + kl;
	*vlen = n - kl;
	if (n < *len)
		n++;
	*s += n;
	*len -= n;
	return true;
}

/* set_parsed - the entry of a parsed line: "[origin=O] [relay=R] reply" */
static int
set_parsed(struct mail_state *st, const char *addr, enum rcpt_status status, int64_t when,
           const char *rest, size_t rlen)
{
	enum rcpt_origin origin = ORIGIN_UNKNOWN;
	char relay[STATE_RELAY_MAX] = "";
	struct state_rcpt *r;
	const char *v;
	size_t vl;

	if (token(&rest, &rlen, "origin=", &v, &vl)) {
		for (size_t i = ORIGIN_GATEWAY; i < sizeof(origin_names) / sizeof(origin_names[0]);
		     i++)
			if (strlen(origin_names[i]) == vl && memcmp(v, origin_names[i], vl) == 0)
				origin = (enum rcpt_origin)i;
		if (origin == ORIGIN_UNKNOWN)
			return -1;
	}
	if (token(&rest, &rlen, "relay=", &v, &vl)) {
		if (!relay_ok(v, vl))
			return -1;
		memcpy(relay, v, vl);
		relay[vl] = '\0';
	}
	if (state_rcpt_set(st, addr, status, when, "") < 0)
		return errno == ENOMEM ? -2 : -1;
	r = state_rcpt_find(st, addr);
	clean_line(r->reply, STATE_REPLY_MAX, rest, rlen);
	state_rcpt_origin(r, origin, relay);
	return 0;
}

/* parse_rcpt - "<addr> status when [origin=O] [relay=R] reply"; -1
 * malformed, -2 no memory.
 * The address may hold "> " (a quoted local part), so the split is at
 * the first "> " that a status word and a time follow. */
static int
parse_rcpt(struct mail_state *st, const char *s, size_t len)
{
	char addr[STATE_REPLY_MAX];
	enum rcpt_status status;
	size_t wlen, i, tl;
	int64_t when;

	if (len < 2 || s[0] != '<')
		return -1;
	for (i = 1; i + 1 < len; i++) {
		const char *rest = s + i + 2;
		size_t rlen = len - i - 2;

		if (s[i] != '>' || s[i + 1] != ' ' || status_at(rest, rlen, &status, &wlen) < 0)
			continue;
		rest += wlen;
		rlen -= wlen;
		for (tl = 0; tl < rlen && rest[tl] != ' '; tl++)
			;
		if (parse_i64(rest, tl, &when) < 0)
			continue;
		if (i - 1 == 0 || i - 1 >= sizeof(addr))
			return -1;
		if (memchr(s + 1, '\0', i - 1))
			return -1;
		memcpy(addr, s + 1, i - 1);
		addr[i - 1] = '\0';
		if (tl < rlen)
			tl++;
		return set_parsed(st, addr, status, when, rest + tl, rlen - tl);
	}
	return -1;
}

/* parse_line - one line of the file; -1 malformed, -2 no memory */
static int
parse_line(struct mail_state *st, const char *s, size_t len)
{
	static const char *const keys[] = {"attempts ", "first_attempt ", "next_attempt ",
	                                   "warned "};
	int64_t v;

	if (len > 5 && memcmp(s, "rcpt ", 5) == 0)
		return parse_rcpt(st, s + 5, len - 5);
	for (size_t k = 0; k < 4; k++) {
		size_t n = strlen(keys[k]);

		if (len <= n || memcmp(s, keys[k], n) != 0)
			continue;
		if (parse_i64(s + n, len - n, &v) < 0)
			return -1;
		if (k == 0)
			st->attempts = v > 1000000 ? 1000000 : (unsigned)v;
		else if (k == 1)
			st->first_attempt = v;
		else if (k == 2)
			st->next_attempt = v;
		else
			st->warned = v != 0;
		return 0;
	}
	return 0; /* unknown line: a newer writer; ignore */
}

int
state_parse(const char *data, size_t len, struct mail_state *st)
{
	size_t pos = 0;
	int bad = 0, rc;

	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - (data + pos)) : len - pos;

		if (llen > 0) {
			rc = parse_line(st, data + pos, llen);
			if (rc == -2)
				return -1;
			if (rc == -1)
				bad++;
		}
		pos += llen + 1;
	}
	return bad;
}

int
state_format(const struct mail_state *st, struct buf *out)
{
	if (buf_printf(out, "attempts %u\nfirst_attempt %lld\nnext_attempt %lld\nwarned %d\n",
	               st->attempts, (long long)st->first_attempt, (long long)st->next_attempt,
	               st->warned ? 1 : 0) < 0)
		return -1;
	for (size_t i = 0; i < st->n_rcpts; i++) {
		const struct state_rcpt *r = &st->rcpts[i];

		if (r->status == RCPT_PENDING)
			continue;
		if (buf_printf(out, "rcpt <%s> %s %lld ", r->addr, state_status_name(r->status),
		               (long long)r->when) < 0 ||
		    (r->origin != ORIGIN_UNKNOWN &&
		     buf_printf(out, "origin=%s ", state_origin_name(r->origin)) < 0) ||
		    (r->relay[0] && buf_printf(out, "relay=%s ", r->relay) < 0) ||
		    buf_printf(out, "%s\n", r->reply) < 0)
			return -1;
	}
	return 0;
}

enum result
state_load(int statedir, const char *id, struct mail_state *st, int *malformed)
{
	struct buf b = BUF_INIT(STATE_FILE_MAX);
	char chunk[8192];
	ssize_t n;
	int fd, bad;

	if (malformed)
		*malformed = 0;
	fd = openat(statedir, id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? RES_OK : RES_TEMP;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || buf_append(&b, chunk, (size_t)n) < 0) {
			close(fd);
			buf_free(&b);
			return RES_TEMP;
		}
	}
	close(fd);
	bad = state_parse(buf_cstr(&b), b.len, st);
	buf_free(&b);
	if (bad < 0)
		return RES_TEMP;
	if (malformed)
		*malformed = bad;
	return RES_OK;
}

/* write_all - write n bytes, retrying short writes */
static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

enum result
state_save(int statedir, const char *id, const struct mail_state *st)
{
	struct buf b = BUF_INIT(STATE_FILE_MAX);
	char tmp[128];
	int fd, ok;

	if (bounded_format(tmp, sizeof(tmp), ".tmp.%s", id) < 0 || state_format(st, &b) < 0) {
		buf_free(&b);
		return RES_TEMP;
	}
	fd = openat(statedir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		buf_free(&b);
		return RES_TEMP;
	}
	ok = write_all(fd, buf_cstr(&b), b.len) == 0 && fsync(fd) == 0;
	buf_free(&b);
	if (close(fd) < 0)
		ok = 0;
	if (!ok || renameat(statedir, tmp, statedir, id) < 0 || fsync(statedir) < 0) {
		(void)unlinkat(statedir, tmp, 0);
		return RES_TEMP;
	}
	return RES_OK;
}

enum result
state_remove(int statedir, const char *id)
{
	if (unlinkat(statedir, id, 0) < 0 && errno != ENOENT)
		return RES_TEMP;
	return fsync(statedir) < 0 ? RES_TEMP : RES_OK;
}

/* counter_field - the counter a line's name stands for, or NULL */
static uint64_t *
counter_field(struct mail_counters *c, const char *name, size_t n)
{
	static const char *const names[] = {"delivered", "bounced", "deferred"};
	uint64_t *fields[] = {&c->delivered, &c->bounced, &c->deferred};

	for (size_t i = 0; i < 3; i++)
		if (strlen(names[i]) == n && memcmp(names[i], name, n) == 0)
			return fields[i];
	return NULL;
}

/* counter_line - "name N" (the line without its LF) into c */
static void
counter_line(const char *p, size_t n, struct mail_counters *c)
{
	const char *sp = memchr(p, ' ', n), *d;
	uint64_t v = 0, *field;

	if (!sp || sp + 1 == p + n || !(field = counter_field(c, p, (size_t)(sp - p))))
		return;
	for (d = sp + 1; d < p + n; d++) {
		if (*d < '0' || *d > '9' || v > (UINT64_MAX - (uint64_t)(*d - '0')) / 10)
			return;
		v = v * 10 + (uint64_t)(*d - '0');
	}
	*field = v;
}

void
counters_parse(const char *data, size_t len, struct mail_counters *c)
{
	const char *p = data, *end = data + len;

	memset(c, 0, sizeof(*c));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		counter_line(p, n, c);
		p += n + 1;
	}
}

bool
counters_zero(const struct mail_counters *c)
{
	return c->delivered == 0 && c->bounced == 0 && c->deferred == 0;
}

/* counters_read - SPOOL/counters; a missing file is all zero */
static enum result
counters_read(int spooldir, struct mail_counters *c)
{
	char text[4096];
	size_t len = 0;
	ssize_t n;
	int fd = openat(spooldir, COUNTERS_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	memset(c, 0, sizeof(*c));
	if (fd < 0)
		return errno == ENOENT ? RES_OK : RES_TEMP;
	while (len < sizeof(text) && (n = read(fd, text + len, sizeof(text) - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return RES_TEMP;
		}
		len += (size_t)n;
	}
	close(fd);
	counters_parse(text, len, c);
	return RES_OK;
}

/* counters_write - SPOOL/.counters.tmp, fsync, rename, fsync SPOOL */
static enum result
counters_write(int spooldir, const struct mail_counters *c)
{
	static const char tmp[] = "." COUNTERS_FILE ".tmp";
	char text[128];
	int fd, ok, len;

	len = snprintf(text, sizeof(text),
	               "delivered %" PRIu64 "\nbounced %" PRIu64 "\ndeferred %" PRIu64 "\n",
	               c->delivered, c->bounced, c->deferred);
	if (len < 0 || (size_t)len >= sizeof(text))
		return RES_TEMP;
	fd = openat(spooldir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return RES_TEMP;
	ok = write_all(fd, text, (size_t)len) == 0 && fsync(fd) == 0;
	if (close(fd) < 0)
		ok = 0;
	if (!ok || renameat(spooldir, tmp, spooldir, COUNTERS_FILE) < 0 || fsync(spooldir) < 0) {
		int saved = errno;

		(void)unlinkat(spooldir, tmp, 0);
		errno = saved;
		return RES_TEMP;
	}
	return RES_OK;
}

enum result
counters_add(int spooldir, const struct mail_counters *add)
{
	struct mail_counters c;
	enum result r;
	int saved, lock;

	if (counters_zero(add))
		return RES_OK;
	lock = openat(spooldir, COUNTERS_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (lock < 0)
		return RES_TEMP;
	while ((r = flock(lock, LOCK_EX) == 0 ? RES_OK : RES_TEMP) != RES_OK && errno == EINTR)
		continue;
	if (r == RES_OK)
		r = counters_read(spooldir, &c);
	if (r == RES_OK) {
		c.delivered += add->delivered;
		c.bounced += add->bounced;
		c.deferred += add->deferred;
		r = counters_write(spooldir, &c);
	}
	saved = errno;
	close(lock); /* drops the lock, after the rename */
	errno = saved;
	return r;
}
