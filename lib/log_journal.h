/*
 * log_journal.h - the structured journal sink of lib/log.c
 *
 * A program that logs per-event lines with fields (QUEUE_ID, ...)
 * calls log_journal_enable() once in main(); only then is libsystemd
 * linked in.  Without it, a line goes to stderr, which the journal
 * still records as plain text when stderr is its stream.
 */
#ifndef MAILOUT_LOG_JOURNAL_H
#define MAILOUT_LOG_JOURNAL_H

#include <sys/uio.h>

/* log_journal_sink - send one entry (sd_journal_sendv's shape); < 0 on error */
typedef int (*log_journal_sink)(const struct iovec *iov, int n);

/* log_journal_enable - structured entries when stderr is the journal */
void log_journal_enable(void);
/* log_set_journal_sink - used by log_journal_enable(); NULL: none */
void log_set_journal_sink(log_journal_sink sink);

#endif
