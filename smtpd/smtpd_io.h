/*
 * smtpd_io.h - buffered, timed I/O for one SMTP connection, plain or TLS
 *
 * Input is read into a bounded buffer that the session takes lines or
 * octets from; replies are collected in an output buffer and flushed
 * before the session waits for input (RFC 2920 PIPELINING).  Every wait
 * has a deadline.  Once TLS is on, every byte goes through it.
 */
#ifndef MAILOUT_SMTPD_IO_H
#define MAILOUT_SMTPD_IO_H

#include <fcntl.h>
#include <unistd.h>

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "mail_reply.h"
#include "timefmt.h"

#define IO_IN_MAX (64 * 1024) /* input buffer ceiling */
#define IO_OUT_FLUSH (16 * 1024) /* flush replies early beyond this */
#define SMTP_REPLY_LINE_MAX 512 /* RFC 5321 4.5.3.1.5, CRLF included */

enum io_status { IO_OK, IO_EOF, IO_TIMEOUT, IO_ERR };

struct ssl_st;

struct smtp_io {
	int rfd, wfd;
	struct ssl_st *ssl; /* NULL: plain text */
	struct buf in; /* received, not yet used */
	struct buf out; /* replies not yet sent */
	unsigned write_timeout; /* seconds, for flushing replies */
};

void io_init(struct smtp_io *io, int rfd, int wfd);
void io_free(struct smtp_io *io);
/* io_fill - flush replies, then read at least one more octet */
enum io_status io_fill(struct smtp_io *io, unsigned timeout);
/* io_flush - send every pending reply octet */
enum io_status io_flush(struct smtp_io *io);
/* io_put - queue octets for sending; flushes when much is pending */
enum io_status io_put(struct smtp_io *io, const char *s, size_t n);
/* io_put_reply - queue "code x.y.z text\r\n" */
enum io_status io_put_reply(struct smtp_io *io, const struct reply *r);
/* io_put_text - queue n octets of text (cut to a reply line) and CRLF */
enum io_status io_put_text(struct smtp_io *io, const char *text, size_t n);
/* io_put_line - queue a formatted line and CRLF */
enum io_status io_put_line(struct smtp_io *io, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* io_discard_input - drop everything buffered; returns how much */
size_t io_discard_input(struct smtp_io *io);
/* io_readable - is input waiting within timeout_ms (plain only)?
 * 1 yes, 0 no, -1 error; used to catch clients that talk too early */
int io_readable(struct smtp_io *io, int timeout_ms);
/* io_wait - poll one fd for events until the deadline (ms, monotonic) */
enum io_status io_wait(int fd, short events, long long deadline_ms);

#endif
