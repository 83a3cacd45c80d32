/*
 * log_journal.h - the structured journal sink of lib/log.c
 *
 * A program that logs per-event lines with fields (QUEUE_ID, ...)
 * calls log_journal_enable() once in main(); its lines then go to the
 * journal in journald's native protocol (log_journal.c speaks it
 * itself: no libsystemd).  Without it, a line goes to stderr, which
 * the journal still records as plain text when stderr is its stream.
 */
#ifndef MAILOUT_LOG_JOURNAL_H
#define MAILOUT_LOG_JOURNAL_H

#include <stddef.h>
#include <sys/uio.h>

/* the most items one entry may have (log.c sends at most 19) */
#define LOG_JOURNAL_ITEMS_MAX 32

/* log_journal_sink - send one entry of "FIELD=value" items; < 0 on error */
typedef int (*log_journal_sink)(const struct iovec *iov, int n);

/* log_journal_enable - structured entries when stderr is the journal */
void log_journal_enable(void);
/* log_set_journal_sink - used by log_journal_enable(); NULL: none */
void log_set_journal_sink(log_journal_sink sink);

/* log_journal_send_to - one entry as one datagram to the journal
 * socket at path (the sink uses /run/systemd/journal/socket; tests
 * their own); 0, or -1 (errno set when a system call failed) */
int log_journal_send_to(const char *path, const struct iovec *items, int n);
/* log_journal_encode - the datagram's pieces for n items into out (5
 * per item at most), the binary length fields kept in lens (one per
 * item); the number of pieces, 0 when an item is not FIELD=value */
size_t log_journal_encode(const struct iovec *items, size_t n, struct iovec *out,
                          unsigned char (*lens)[8]);

#endif
