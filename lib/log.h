/*
 * log.h - the small logging API (Postfix msg(3) in spirit)
 *
 * Lines read "mailout-smtpd: warning: unable to ...".  When stderr is
 * connected to the systemd journal (JOURNAL_STREAM matches fd 2), each
 * line goes to the journal with structured fields instead.
 */
#ifndef MAILOUT_LOG_H
#define MAILOUT_LOG_H

#include <stddef.h>

struct log_field {
	const char *name; /* journal field name, e.g. "QUEUE_ID" */
	const char *value; /* NULL: field omitted */
};

void log_init(const char *progname);
const char *log_progname(void);
/* log_to_journal - force journal (1), stderr (0) or auto-detect (-1) */
void log_use_journal(int mode);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn_errno - warning with ": strerror(errno)" appended */
void log_warn_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_fatal - log and exit with EX_TEMPFAIL (75): our trouble is temporary */
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* log_panic - internal bug: log and exit with EX_SOFTWARE (70) */
void log_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* log_fields - info line with structured fields (QUEUE_ID, CLIENT_ADDR ...) */
void log_fields(int priority, const struct log_field *fields, size_t nfields, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* log_fields_text - log_fields(priority, fields, nfields, "%s", text) */
void log_fields_text(int priority, const struct log_field *fields, size_t nfields,
                     const char *text);

#endif
