/*
 * buf.c - bounded, growable byte buffer (see buf.h)
 *
 * What it is for: holding untrusted data of unknown length safely.
 * What it must never do: grow past b->max, overflow a size_t, or leave
 * the buffer without its terminating NUL.
 */
#include "buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* buf_limit - the effective ceiling of a buffer */
static size_t
buf_limit(const struct buf *b)
{
	return b->max ? b->max : BUF_MAX_DEFAULT;
}

void
buf_init(struct buf *b, size_t max)
{
	b->s = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
buf_free(struct buf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = 0;
	b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
}

/* buf_reserve - make room for extra bytes plus the terminator */
int
buf_reserve(struct buf *b, size_t extra)
{
	size_t need, ncap;
	char *ns;

	if (extra > buf_limit(b) - b->len) {
		errno = E2BIG;
		return -1;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need) {
		if (ncap > (size_t)-1 / 2) {
			ncap = need;
			break;
		}
		ncap *= 2;
	}
	if (ncap > buf_limit(b) + 1)
		ncap = buf_limit(b) + 1;
	if ((ns = realloc(b->s, ncap)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	b->s = ns;
	b->cap = ncap;
	return 0;
}

int
buf_append(struct buf *b, const void *data, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->s + b->len, data, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

int
buf_appends(struct buf *b, const char *str)
{
	return buf_append(b, str, strlen(str));
}

int
buf_appendc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

int
buf_set(struct buf *b, const void *data, size_t n)
{
	buf_reset(b);
	return buf_append(b, data, n);
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if (buf_reserve(b, (size_t)n) < 0)
		return -1;
	if (vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap) != n)
		return -1;
	b->len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

/* buf_consume - drop the first n bytes */
void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->s, b->s + n, b->len - n);
	b->len -= n;
	b->s[b->len] = '\0';
}

void
buf_truncate(struct buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->s[len] = '\0';
	}
}

const char *
buf_cstr(const struct buf *b)
{
	return b->s ? b->s : "";
}

int
buf_eq_case(const struct buf *b, const char *str)
{
	return strlen(str) == b->len && strncasecmp(buf_cstr(b), str, b->len) == 0;
}

int
bounded_copy(char *dst, size_t dstsize, const char *src)
{
	size_t n = strlen(src);

	if (dstsize == 0)
		return -1;
	if (n >= dstsize) {
		memcpy(dst, src, dstsize - 1);
		dst[dstsize - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int
bounded_format(char *dst, size_t dstsize, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, dstsize, fmt, ap);
	va_end(ap);
	return (n < 0 || (size_t)n >= dstsize) ? -1 : 0;
}
