/*
 * sendmail.h - mailout-sendmail: local injection, the sendmail way
 *
 * The library part of mailout-sendmail (SENDMAIL_SRCS), so that unit
 * tests can link it: option parsing, the input reader, the header
 * section (-t, Bcc removal, rewriting, added headers), and the
 * qmail-queue hand-off to mailout-queue.
 */
#ifndef MAILOUT_SENDMAIL_H
#define MAILOUT_SENDMAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "mail_addr.h"
#include "mail_qclient.h"
#include "mail_rewrite.h"
#include "result.h"

#define SM_HEADER_MAX ((size_t)1024 * 1024) /* the header section, read before queueing */
#define SM_RCPT_MAX 10000 /* recipients per message */
#define SM_PIECE 4096 /* a long line is read in pieces of this size */
#define SM_NAME_MAX 256 /* -F full name */

enum sm_mode {
	SM_MODE_ENQUEUE, /* -bm, the default */
	SM_MODE_MAILQ, /* -bp, mailq */
	SM_MODE_FLUSH, /* -q, -qR */
	SM_MODE_SMTP, /* -bs */
	SM_MODE_NOOP, /* -bi, newaliases, -q30m: nothing to do here */
};

struct sm_opts {
	enum sm_mode mode;
	bool extract; /* -t */
	bool dot_ends; /* no -i/-oi: a line "." ends the input */
	const char *sender; /* -f/-r; NULL: the invoking user */
	const char *fullname; /* -F */
	const char *config; /* -c */
	int verbose; /* -v count */
	char **rcpts; /* recipient arguments */
	int n_rcpts;
};

/* sm_parse_args - sendmail's command line; argv[0]'s base name picks
 * the mode for "mailq" and "newaliases".  Returns 0, or -1 with a
 * message in err (the caller exits EX_USAGE). */
int sm_parse_args(int argc, char **argv, struct sm_opts *o, char *err, size_t errsize);

/* Recipients, in order, without duplicates. */
struct sm_rcpts {
	char **v;
	size_t n;
};

void sm_rcpts_free(struct sm_rcpts *r);
/* sm_add_recipients - parse an address list (an argument or a header
 * value), qualify each address, check it, add it.  RES_PERM with err set
 * for a bad address or too many recipients, RES_TEMP when out of memory. */
enum result sm_add_recipients(const struct rewrite *rw, const char *list, size_t len,
                              struct sm_rcpts *r, char *err, size_t errsize);
/* sm_check_address - 0 good; -1 not a qualified address; -2 the spool
 * cannot carry it (see addr_fits_envelope) */
int sm_check_address(const char *addr);

/* The input: stdin, canonicalised (CRLF and bare CR become LF). */
struct sm_reader {
	int fd;
	bool dot_ends; /* sendmail without -i */
	bool at_bol; /* the next byte starts a line */
	bool done; /* EOF or the "." line seen */
	size_t pos, len;
	char buf[65536];
};

void sm_reader_init(struct sm_reader *r, int fd, bool dot_ends);
/* sm_read_piece - append the next piece of a line to out: a whole line
 * ending in LF, or max bytes of a longer one.  Returns 1, 0 at the end
 * of input, -1 on a read error. */
int sm_read_piece(struct sm_reader *r, struct buf *out, size_t max);

struct sm_field {
	size_t off, len; /* in hdr, including the final LF */
	size_t name_len;
	bool drop; /* Bcc: under -t */
};

struct sm_message {
	struct buf hdr; /* the header section as read */
	struct sm_field *f;
	size_t nf;
	struct buf first; /* the first body piece, read while looking for the end */
	bool has_date, has_message_id, has_from;
	unsigned received;
};

void sm_message_init(struct sm_message *m);
void sm_message_free(struct sm_message *m);
/* sm_read_headers - the header section (a leading mbox "From " line is
 * dropped); RES_PERM when it is larger than SM_HEADER_MAX, RES_TEMP on a
 * read error or when out of memory. */
enum result sm_read_headers(struct sm_reader *r, struct sm_message *m, char *err, size_t errsize);
/* sm_extract_recipients - -t: To, Cc, Bcc; Bcc fields are dropped */
enum result sm_extract_recipients(const struct rewrite *rw, struct sm_message *m,
                                  struct sm_rcpts *r, char *err, size_t errsize);

/* What the added headers say. */
struct sm_origin {
	unsigned long uid; /* the invoking user */
	const char *hostname;
	const char *sender; /* envelope sender after rewriting; "" = null */
	const char *fullname; /* NULL or "" for none */
	const char *queue_id; /* chosen here (mailout-queue -i): Received id, Message-ID */
	time_t now;
};

/* sm_format_date - RFC 5322 date-time in local time */
int sm_format_date(time_t now, char *out, size_t outsize);
/* sm_format_from - "From: NAME <sender>" value; NAME quoted or RFC 2047
 * encoded as needed, control characters removed */
int sm_format_from(const struct sm_origin *o, const struct rewrite *rw, struct buf *out);
/* sm_compose_headers - Received, the fields (From/To/Cc rewritten,
 * Bcc dropped), the missing Date/Message-ID/From and the blank line */
int sm_compose_headers(const struct sm_origin *o, const struct rewrite *rw,
                       const struct sm_message *m, struct buf *out);

/* The hand-off to the queue (lib/mail_qclient.h): mailout-scan first
 * (it reads content.block_executables itself and, when that is false,
 * only passes the message on), unless $MAILOUT_QUEUE names another
 * program; the scanner's last hop is queue.socket when set, else
 * mailout-queue.  Local mail leaving the host obeys the same
 * "no executables" rule as mail from the network. */
struct sm_queue {
	struct qclient qc;
};

/* sm_queue_open - start the hand-off ("-c config" when config is set,
 * "-i id"); path and socket are sm_context's queue_path and
 * queue_socket (qclient_open makes the same choice from the
 * environment; path names the queue program in messages); -1 (errno)
 * if nothing could be run or reached */
int sm_queue_open(struct sm_queue *q, const char *path, const char *socket, const char *config,
                  const char *id);
/* sm_queue_write - message bytes; -1 when the queue went away */
int sm_queue_write(struct sm_queue *q, const char *p, size_t n);
/* sm_queue_finish - end the message, send the envelope, wait; returns
 * the queue's exit code (qmail-queue's table), or -1 if it died; a
 * refusal's reply (the scanner names the file) goes to stderr */
int sm_queue_finish(struct sm_queue *q, const char *sender, const struct sm_rcpts *r);
/* sm_queue_abort - end without an envelope, so nothing is queued */
void sm_queue_abort(struct sm_queue *q);
/* sm_exit_code - mailout-queue's exit code as a sysexits code */
int sm_exit_code(int qmail_code);

/* Everything mailout-sendmail needs to inject one message. */
struct sm_context {
	const struct sm_opts *opts;
	struct rewrite rw;
	char hostname[ADDR_DOMAIN_MAX + 1];
	unsigned long uid;
	char user[ADDR_LOCAL_MAX + 1]; /* login name, "" if none */
	char gecos[SM_NAME_MAX]; /* full name from the password file */
	uint64_t max_size; /* limits.message_size; 0: none */
	unsigned max_hops;
	const char *queue_path;
	const char *queue_socket; /* queue.socket; "": run queue_path */
	const char *config; /* -c, passed on */
};

struct config;
/* sm_context_init - who, host names, rewrite rules, limits from cfg;
 * returns EX_OK or the exit code */
int sm_context_init(struct sm_context *c, const struct sm_opts *o, const struct config *cfg);
/* sm_run_program - exec mailout-spool list (-bp), mailout-deliver
 * --flush (-q) or mailout-smtpd (-bs); returns only on failure, with
 * the exit code */
int sm_run_program(const struct sm_opts *o, const struct config *cfg);
/* sm_enqueue - read stdin, queue it; returns the sysexits exit code */
int sm_enqueue(struct sm_context *c);
/* sm_program - path of a sibling program (mailout-spool ...) */
int sm_program(const char *name, char *out, size_t outsize);

#endif
