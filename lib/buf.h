/*
 * buf.h - the one bounded, growable byte buffer for untrusted data
 *
 * Every byte that comes from outside (SMTP lines, addresses, message
 * content, config values, DNS answers) lives in a struct buf.  A buffer
 * has a hard ceiling (max) fixed at init: growth past it fails with
 * E2BIG instead of eating memory, and every length computation is
 * checked for overflow.  The contents are always NUL-terminated one
 * past len (Postfix's "gratuitous null terminator"), but may hold NULs.
 */
#ifndef MAILOUT_BUF_H
#define MAILOUT_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *s; /* contents, NUL-terminated at s[len] when s != NULL */
	size_t len; /* bytes used, excluding the terminator */
	size_t cap; /* bytes allocated */
	size_t max; /* hard ceiling on len; 0 means BUF_MAX_DEFAULT */
};

#define BUF_MAX_DEFAULT ((size_t)64 * 1024 * 1024)
#define BUF_INIT(limit)                                                                            \
	{                                                                                          \
		NULL, 0, 0, (limit)                                                                \
	}

/* All functions return 0 on success, -1 with errno (ENOMEM, E2BIG). */
void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t n);
int buf_appends(struct buf *b, const char *str);
int buf_appendc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
int buf_set(struct buf *b, const void *data, size_t n);
void buf_consume(struct buf *b, size_t n);
void buf_truncate(struct buf *b, size_t len);
const char *buf_cstr(const struct buf *b);
int buf_eq_case(const struct buf *b, const char *str);

/* bounded_copy - copy a C string into a fixed array; -1 if truncated */
int bounded_copy(char *dst, size_t dstsize, const char *src);
/* bounded_format - snprintf with a truncation check; -1 if truncated */
int bounded_format(char *dst, size_t dstsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
