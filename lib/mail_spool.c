/*
 * mail_spool.c - queue IDs, the qmail-queue envelope, the spool's
 * envelope block (the format is documented in mail_spool.h)
 *
 * What it is for: turning the untrusted bytes a caller hands to
 * mailout-queue on fd 1 into a checked envelope, and that envelope into
 * the text block at the head of every spool file.
 * What it must never do: let an address break the line format (CR, LF,
 * control characters, angle brackets), read past the bytes it was
 * given, or produce an ID that could name a path outside the spool.
 */
#include "mail_spool.h"
#include "timefmt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define QUEUE_ID_TIME_LEN 16
#define QUEUE_ID_RAND_LEN 12

static const char base32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* random_bytes - fill p from getrandom(), riding out EINTR and short reads */
static int
random_bytes(unsigned char *p, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = getrandom(p + got, n - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

/* queue_id_new - time in microseconds, a dot, 60 random bits in base32 */
int
queue_id_new(char *id, size_t idsize)
{
	struct timespec ts;
	unsigned char rnd[8];
	uint64_t usec, bits = 0;
	size_t i;

	if (idsize < QUEUE_ID_LEN + 1) {
		errno = EINVAL;
		return -1;
	}
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0 || ts.tv_sec < 0)
		return -1;
	if (random_bytes(rnd, sizeof(rnd)) < 0)
		return -1;
	usec = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	if (bounded_format(id, idsize, "%016" PRIX64 ".", usec) < 0)
		return -1;
	for (i = 0; i < sizeof(rnd); i++)
		bits = bits << 8 | rnd[i];
	for (i = 0; i < QUEUE_ID_RAND_LEN; i++) {
		id[QUEUE_ID_TIME_LEN + 1 + i] = base32[bits & 31];
		bits >>= 5;
	}
	id[QUEUE_ID_LEN] = '\0';
	return 0;
}

/* queue_id_valid - exactly [0-9A-F]{16} "." [A-Z2-7]{12}: no '/', no ".." */
bool
queue_id_valid(const char *id)
{
	size_t i;
	char c;

	if (id == NULL)
		return false;
	for (i = 0; i < QUEUE_ID_LEN; i++) {
		c = id[i];
		if (i < QUEUE_ID_TIME_LEN) {
			if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
				return false;
		} else if (i == QUEUE_ID_TIME_LEN) {
			if (c != '.')
				return false;
		} else if (!((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7'))) {
			return false;
		}
	}
	return id[QUEUE_ID_LEN] == '\0';
}

bool
qq_exit_permanent(int code)
{
	return code >= 11 && code <= 40;
}

const char *
qq_exit_text(int code)
{
	switch (code) {
	case QQ_OK:
		return "ok";
	case QQ_ADDR_TOO_LONG:
		return "address too long";
	case QQ_PERM:
		return "permanently refused";
	case QQ_NOMEM:
		return "out of memory";
	case QQ_WRITE:
		return "write error or disk full";
	case QQ_READ:
		return "read error";
	case QQ_CONFIG:
		return "unable to read configuration or spool";
	case QQ_TEMP:
		return "temporarily refused";
	case QQ_BUG:
		return "internal bug";
	case QQ_BAD_ENVELOPE:
		return "envelope format error";
	default:
		return qq_exit_permanent(code) ? "permanent problem" : "temporary problem";
	}
}

void
envelope_init(struct envelope *env)
{
	buf_init(&env->raw, ENVELOPE_RAW_MAX);
	env->sender = NULL;
	env->rcpts = NULL;
	env->n_rcpts = 0;
}

void
envelope_free(struct envelope *env)
{
	buf_free(&env->raw);
	free(env->rcpts);
	env->sender = NULL;
	env->rcpts = NULL;
	env->n_rcpts = 0;
}

/* envelope_addr_ok - length first (qmail's 11), then the line-format check */
int
envelope_addr_ok(const char *addr, size_t len)
{
	size_t i;
	unsigned char c;

	if (len > ENVELOPE_ADDR_MAX)
		return QQ_ADDR_TOO_LONG;
	for (i = 0; i < len; i++) {
		c = (unsigned char)addr[i];
		if (c < 0x20 || c == 0x7f || c == '<' || c == '>')
			return QQ_BAD_ENVELOPE;
	}
	return QQ_OK;
}

/* add_rcpt - remember one recipient; bounded by ENVELOPE_RCPT_MAX */
static int
add_rcpt(struct envelope *env, const char *rcpt)
{
	const char **n;

	if (env->n_rcpts >= ENVELOPE_RCPT_MAX)
		return QQ_BAD_ENVELOPE;
	if ((env->n_rcpts & (env->n_rcpts + 1)) == 0 || env->rcpts == NULL) {
		/* grow at 0, 1, 3, 7, ... entries: capacity doubles */
		n = reallocarray(env->rcpts, (env->n_rcpts + 1) * 2, sizeof(*n));
		if (n == NULL)
			return QQ_NOMEM;
		env->rcpts = n;
	}
	env->rcpts[env->n_rcpts++] = rcpt;
	return QQ_OK;
}

/* field_end - index of the NUL ending the field at p, or len if none */
static size_t
field_end(const char *s, size_t p, size_t len)
{
	const char *nul = memchr(s + p, '\0', len - p);

	return nul ? (size_t)(nul - s) : len;
}

/* envelope_parse - F<sender>\0 (T<rcpt>\0)+ \0, and nothing after it */
int
envelope_parse(struct envelope *env, const char *data, size_t len)
{
	const char *s;
	size_t p, end;
	int rc;

	envelope_free(env);
	envelope_init(env);
	if (buf_set(&env->raw, data, len) < 0)
		return errno == ENOMEM ? QQ_NOMEM : QQ_BAD_ENVELOPE;
	s = env->raw.s ? env->raw.s : "";
	if (len < 1 || s[0] != 'F')
		return QQ_BAD_ENVELOPE;
	if ((end = field_end(s, 1, len)) == len)
		return QQ_BAD_ENVELOPE;
	if ((rc = envelope_addr_ok(s + 1, end - 1)) != QQ_OK)
		return rc;
	env->sender = s + 1;
	for (p = end + 1; p < len && s[p] == 'T'; p = end + 1) {
		if ((end = field_end(s, p + 1, len)) == len)
			return QQ_BAD_ENVELOPE;
		if (end == p + 1)
			return QQ_BAD_ENVELOPE; /* empty recipient */
		if ((rc = envelope_addr_ok(s + p + 1, end - p - 1)) != QQ_OK)
			return rc;
		if ((rc = add_rcpt(env, s + p + 1)) != QQ_OK)
			return rc;
	}
	/* the final \0 must be the last byte: no junk, no truncation */
	if (p != len - 1 || s[p] != '\0' || env->n_rcpts == 0)
		return QQ_BAD_ENVELOPE;
	return QQ_OK;
}

/* format_time - "1764000000 (2026-11-24T16:00:00Z)" */
static int
format_time(struct buf *out, time_t t)
{
	char iso[32];

	if (timefmt_iso8601((int64_t)t, iso, sizeof(iso)) < 0) {
		errno = EINVAL;
		return -1;
	}
	return buf_printf(out, "%s: %lld (%s)\n", SPOOL_HDR_QUEUED_AT, (long long)t, iso);
}

int
spool_format_envelope(struct buf *out, const char *id, time_t queued_at, const struct envelope *env)
{
	size_t i;

	if (!queue_id_valid(id) || env->sender == NULL || env->n_rcpts == 0 ||
	    envelope_addr_ok(env->sender, strlen(env->sender)) != QQ_OK) {
		errno = EINVAL;
		return -1;
	}
	if (buf_printf(out, "%s: %d\n%s: %s\n", SPOOL_HDR_VERSION, SPOOL_FORMAT_VERSION,
	               SPOOL_HDR_QUEUE_ID, id) < 0 ||
	    format_time(out, queued_at) < 0 ||
	    buf_printf(out, "%s: <%s>\n", SPOOL_HDR_FROM, env->sender) < 0)
		return -1;
	for (i = 0; i < env->n_rcpts; i++) {
		if (envelope_addr_ok(env->rcpts[i], strlen(env->rcpts[i])) != QQ_OK) {
			errno = EINVAL;
			return -1;
		}
		if (buf_printf(out, "%s: <%s>\n", SPOOL_HDR_TO, env->rcpts[i]) < 0)
			return -1;
	}
	return buf_appendc(out, '\n');
}
