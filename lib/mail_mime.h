/*
 * mail_mime.h - walking the MIME structure of a message
 *
 * mime_walk() visits every leaf part of a message (RFC 2045, 2046):
 * nested multiparts, and message/rfc822 parts both as a leaf (their
 * file name counts) and as a message walked in turn.  Each leaf is
 * handed over decoded (base64, quoted-printable) with every file name
 * the part claims: Content-Disposition filename=, Content-Type name=,
 * RFC 2231 (filename*=, filename*0*=...) and RFC 2047 encoded-words.
 * A part that names itself twice gets both names: a scanner must look
 * at every name a mail client might pick.
 *
 * The walk is bounded: at most MIME_DEPTH_MAX levels of nesting and
 * MIME_PARTS_MAX parts; beyond that it stops with MIME_TOO_DEEP or
 * MIME_TOO_MANY, and the caller decides (mailout-scan refuses: what
 * cannot be inspected may hide anything).  Nothing here allocates more
 * than a few times the message size.
 */
#ifndef MAILOUT_MAIL_MIME_H
#define MAILOUT_MAIL_MIME_H

#include <stddef.h>

#include "buf.h"

#define MIME_DEPTH_MAX 20 /* multipart and message/rfc822 levels */
#define MIME_PARTS_MAX 1000 /* parts of every kind, in the whole message */
#define MIME_NAMES_MAX 8 /* file names kept per part */
#define MIME_NAME_MAX 1024 /* octets of one decoded file name */
#define MIME_TYPE_MAX 128
#define MIME_BOUNDARY_MAX 256 /* RFC 2046 says 70; be lenient */

struct mime_part {
	const char *type; /* "application/pdf", lower case; "text/plain" by default */
	const char *names[MIME_NAMES_MAX]; /* decoded file names, NUL-terminated */
	size_t n_names;
	const unsigned char *data; /* the decoded body */
	size_t len;
	unsigned depth; /* 0: the message's own body */
	unsigned index; /* 1, 2, ... in the order met */
	const char *outer; /* file name of the enclosing message/rfc822 part, or NULL */
};

enum mime_status {
	MIME_OK = 0,
	MIME_STOPPED, /* the callback asked to stop */
	MIME_TOO_DEEP,
	MIME_TOO_MANY,
	MIME_NOMEM,
};

/* mime_part_fn - called per leaf part; return 0 to go on, else stop */
typedef int (*mime_part_fn)(void *ctx, const struct mime_part *part);

/* mime_walk - visit the leaf parts of msg (LF or CRLF line endings) */
enum mime_status mime_walk(const char *msg, size_t len, mime_part_fn fn, void *ctx);

/* mime_base64_value - the value of one of RFC 4648's 64 characters, or
 * -1 (not isalnum: that depends on the locale) */
int mime_base64_value(int c);

/* mime_base64_decode - append the decoded octets to out.  Lenient as
 * RFC 2045 6.8 asks: characters outside the alphabet are ignored, and
 * "=" ends a quantum without ending the data.  -1 if out cannot grow. */
int mime_base64_decode(const char *in, size_t len, struct buf *out);
/* mime_qp_decode - quoted-printable (RFC 2045 6.7); -1 if out cannot grow */
int mime_qp_decode(const char *in, size_t len, struct buf *out);
/* mime_decode_words - RFC 2047 encoded-words (B and Q, any charset,
 * octets kept as they are) in text, the rest copied; -1 if no room */
int mime_decode_words(const char *in, size_t len, struct buf *out);
/* mime_percent_decode - RFC 2231 value "charset'lang'%XX..." (with
 * the prefix) or a continuation "%XX..." (without); -1 if no room */
int mime_percent_decode(const char *in, size_t len, int with_charset, struct buf *out);

#endif
