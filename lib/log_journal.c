/*
 * log_journal.c - structured journal entries for lib/log.c
 *
 * What it is for: the one place that calls sd_journal_sendv, in its
 * own object so that only the programs calling log_journal_enable()
 * link libsystemd (mailout-queue and mailout-scan, which run once per
 * message, do not pay for loading it).
 * What it must never do: fail the caller when the journal cannot be
 * written (log.c falls back to stderr on an error).
 */
#include "log_journal.h"

#include <systemd/sd-journal.h>

/* journal_send - the sink: one entry, fields as given */
static int
journal_send(const struct iovec *iov, int n)
{
	return sd_journal_sendv(iov, n);
}

void
log_journal_enable(void)
{
	log_set_journal_sink(journal_send);
}
