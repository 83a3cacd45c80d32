/*
 * mail_reply.h - SMTP replies with enhanced status codes (RFC 3463)
 *
 * Every reply mailout sends carries an enhanced status code taken from
 * the table below; tests match on these constants.
 */
#ifndef MAILOUT_MAIL_REPLY_H
#define MAILOUT_MAIL_REPLY_H

#include <stddef.h>

#include "result.h"

#define REPLY_TEXT_MAX 400

struct reply {
	int code; /* 250, 451, 550 ... ; 0 = no reply set */
	const char *esc; /* enhanced status code, e.g. ESC_POLICY */
	char text[REPLY_TEXT_MAX];
};

/* Enhanced status codes, detail part; class digit comes from code. */
#define ESC_OK "2.0.0"
#define ESC_OK_ADDR "2.1.0"
#define ESC_OK_RCPT "2.1.5"
#define ESC_OTHER "0.0"
#define ESC_SYNTAX "5.2" /* x.5.2 syntax error */
#define ESC_BAD_CMD "5.1" /* x.5.1 invalid command */
#define ESC_BAD_SEQ "5.1" /* x.5.1 bad sequence */
#define ESC_BAD_ARGS "5.4" /* x.5.4 invalid command arguments */
#define ESC_TOO_MANY_RCPT "5.3"
#define ESC_BAD_SENDER_SYNTAX "1.7"
#define ESC_BAD_DEST_SYNTAX "1.3"
#define ESC_BAD_SENDER_DOMAIN "1.8"
#define ESC_POLICY "7.1" /* x.7.1 delivery not authorized */
#define ESC_AUTH_REQUIRED "7.0"
#define ESC_ENCRYPTION_REQUIRED "7.11"
#define ESC_AUTH_INVALID "7.8"
#define ESC_REVERSE_DNS "7.25"
#define ESC_RATE "7.1"
#define ESC_MSG_TOO_BIG "3.4"
#define ESC_HOPS "4.6"
#define ESC_SYSTEM "3.0" /* x.3.0 other mail system problem */
#define ESC_STORAGE "3.1" /* x.3.1 mail system full */
#define ESC_NETWORK "4.2"
#define ESC_TIMEOUT "4.2"
#define ESC_CONTENT "6.0"
#define ESC_UTF8_REQUIRED "6.7"
#define ESC_SECURITY "7.0" /* x.7.0 other security status (454 4.7.0, 421 4.7.0) */
#define ESC_CONFIG "3.5" /* x.3.5 system incorrectly configured */
#define ESC_UNKNOWN_CMD "5.2" /* 500 5.5.2 command unrecognised (syntax error) */
#define ESC_VRFY "5.2" /* 252 2.5.2: cannot verify, will accept */
#define ESC_AUTH_MECH "5.4" /* 504 5.5.4 unrecognised authentication type */

/* reply_set - fill a reply; esc is the detail ("7.1"), class from code */
void reply_set(struct reply *r, int code, const char *esc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* reply_set_text - reply_set(r, code, esc, "%s", text), without printf */
void reply_set_text(struct reply *r, int code, const char *esc, const char *text);
/* reply_result - RES_OK for 2xx/3xx, RES_TEMP for 4xx, RES_PERM for 5xx */
enum result reply_result(const struct reply *r);
/* reply_format - "550 5.7.1 text" (single line, no CRLF) into out */
int reply_format(const struct reply *r, char *out, size_t outsize);

#endif
