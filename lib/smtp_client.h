/*
 * smtp_client.h - the client side of SMTP: parsing a server's replies
 *
 * smtp_reply_parse() takes bytes as read from the server and finds one
 * complete reply (RFC 5321 4.2: "250-..." continuation lines, then
 * "250 ..."), with its enhanced status code when it has one (RFC 2034).
 * smtp_ehlo_parse() reads the extensions out of an EHLO reply.  Both
 * are pure functions over untrusted bytes: no I/O, bounded output.
 */
#ifndef MAILOUT_SMTP_CLIENT_H
#define MAILOUT_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SMTP_REPLY_LINE_MAX 2048 /* RFC 5321 says 512; be lenient */
#define SMTP_REPLY_LINES_MAX 100
#define SMTP_REPLY_TEXT_MAX 4096

struct smtp_reply {
	int code; /* 200..599 */
	char esc[16]; /* "5.1.1", or "" when the server gave none */
	char text[SMTP_REPLY_TEXT_MAX]; /* line texts joined by '\n', codes cut */
	unsigned lines;
};

/* smtp_reply_parse - one reply at the start of in[0..n).  Returns the
 * bytes it used (> 0), 0 when the reply is not complete yet, or -1 when
 * the bytes are not an SMTP reply (bad code, mixed codes, line too
 * long, too many lines).  Lines end in LF; a CR before it is dropped. */
ssize_t smtp_reply_parse(const char *in, size_t n, struct smtp_reply *r);

/* smtp_reply_oneline - "550 5.1.1 text text" (lines joined by spaces;
 * "5.0.0"-style code filled in from the class when the server gave
 * none); truncated to fit. */
void smtp_reply_oneline(const struct smtp_reply *r, char *out, size_t outsize);
/* smtp_reply_status - the enhanced code, or the class default */
const char *smtp_reply_status(const struct smtp_reply *r);

struct smtp_ext {
	bool pipelining, starttls, eightbitmime, smtputf8, enhanced;
	bool auth_plain, auth_login;
	bool has_size; /* SIZE offered (RFC 1870) */
	uint64_t size; /* 0: no SIZE limit given */
};

/* smtp_ehlo_parse - extensions from an EHLO reply's text */
void smtp_ehlo_parse(const struct smtp_reply *r, struct smtp_ext *ext);

#endif
