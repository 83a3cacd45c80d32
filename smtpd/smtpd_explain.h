/*
 * smtpd_explain.h - mailout-smtpd --explain: a dry run of the policy
 *
 *   mailout-smtpd --explain CLIENT_IP [--helo H] [--tls] [--auth USER]
 *                 --from ADDR --rcpt ADDR...
 *
 * Runs policy_connect, policy_mail and policy_rcpt exactly as a session
 * would and prints, per check, the rule that decided and the reply.
 */
#ifndef MAILOUT_SMTPD_EXPLAIN_H
#define MAILOUT_SMTPD_EXPLAIN_H

#include <stdio.h>

#include "conf.h"

/* explain_main - argv as main() received it (-c FILE is skipped: the
 * caller has loaded cfg; -l LISTENER picks the listener, default smtp).
 * Returns the exit code: 0 all accepted, 69 something refused for good,
 * 75 something refused for now, 64 usage. */
int explain_main(int argc, char **argv, const struct config *cfg);

/* explain_run - explain_main, printing the report to out */
int explain_run(int argc, char **argv, const struct config *cfg, FILE *out);

#endif
