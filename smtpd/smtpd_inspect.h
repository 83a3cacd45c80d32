/*
 * smtpd_inspect.h - mailout-smtpd inspects the messages it receives
 *
 * With content.block_executables each message is inspected in a
 * confined child (smtpd/scan_sandbox.c) forked, at the first message,
 * from a process that holds nothing a client must not learn, and kept
 * for the session's later messages (smtpd/scan_inspector.c).  Until
 * the session loads a secret that is the session process itself: a
 * plain session holds its config and what this client sent.  Before the first secret - the
 * TLS key and the shared ticket keys (STARTTLS, implicit TLS); AUTH's
 * files come only inside TLS - the session forks an inspection helper
 * that holds none of it, and from then on the inspection child is
 * the helper's.
 */
#ifndef MAILOUT_SMTPD_INSPECT_H
#define MAILOUT_SMTPD_INSPECT_H

#include <stddef.h>

#include "conf.h"
#include "result.h"
#include "scan.h"

/* inspect_before_secrets - call before the session loads a secret
 * (TLS); with content.block_executables it forks the helper.  When
 * that fails every later message is deferred (fail closed), and the
 * session goes on. */
void inspect_before_secrets(const struct config *cfg);
/* inspect_message - the verdict on the len octets of the sealed memfd,
 * mapped at msg: RES_OK with v, or RES_TEMP (logged) */
enum result inspect_message(int memfd, const char *msg, size_t len, struct scan_verdict *v);

#endif
