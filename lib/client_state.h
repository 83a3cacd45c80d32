/*
 * client_state.h - counters per client address, shared by all sessions
 *
 * Every SMTP session is its own process, so a limit "per client
 * address" needs state outside the process: one small file,
 * DIR/client-state (mode 0600), of CS_SLOTS fixed-size slots, locked
 * with flock(2) around each operation.  A slot holds one counter: an
 * address, a kind, a count and the time its window started.  The file
 * never grows: when every slot a key may use is taken, the one used
 * longest ago is reused (so under a flood of distinct addresses a
 * counter may be forgotten early, never a session blocked wrongly for
 * another address).
 *
 * Windows are fixed: the first event opens a window of `period`
 * seconds; the count restarts when it has passed.
 *
 * Kinds:
 *   CS_MESSAGES      client.rate: MAIL commands accepted (smtpd_policy.c)
 *   CS_AUTH_FAILURES auth.max_failures within auth.failure_window: call
 *                    client_state_get() before AUTH (refuse with 454
 *                    4.7.0 when count >= max_failures), and
 *                    client_state_add() after each failed AUTH;
 *                    client_state_clear() after a success if wanted.
 *
 * All functions return RES_OK, or RES_TEMP with a reason in why when
 * the file cannot be opened, locked, read or written (our trouble: the
 * caller refuses for now, it never lets a limit pass silently).  now
 * is passed in (time(NULL) in programs), so tests can move time.
 */
#ifndef MAILOUT_CLIENT_STATE_H
#define MAILOUT_CLIENT_STATE_H

#include <stddef.h>
#include <time.h>

#include "net.h"
#include "result.h"

#define CS_SLOTS 4096
#define CS_PROBE 16 /* slots one key may use, from its hash on */
#define CS_FILE "client-state"

enum cs_kind { CS_MESSAGES = 1, CS_AUTH_FAILURES = 2 };

struct cs_count {
	unsigned count; /* events in the current window */
	time_t window_start; /* 0: no window open */
	time_t window_end; /* when the count restarts */
};

/* client_state_get - the counter as it stands (count 0 if none) */
enum result client_state_get(const char *dir, const struct net_addr *a, enum cs_kind kind,
                             unsigned period, time_t now, struct cs_count *out, char *why,
                             size_t whysize);

/* client_state_add - one more event; out (may be NULL) gets the new count */
enum result client_state_add(const char *dir, const struct net_addr *a, enum cs_kind kind,
                             unsigned period, time_t now, struct cs_count *out, char *why,
                             size_t whysize);

/* client_state_take - the rate check: under one lock, if the count is
 * below limit, add one and set *allowed; else leave it and clear
 * *allowed.  out gets the count after the decision. */
enum result client_state_take(const char *dir, const struct net_addr *a, enum cs_kind kind,
                              unsigned limit, unsigned period, time_t now, int *allowed,
                              struct cs_count *out, char *why, size_t whysize);

/* client_state_clear - forget the counter (after a successful AUTH) */
enum result client_state_clear(const char *dir, const struct net_addr *a, enum cs_kind kind,
                               char *why, size_t whysize);

#endif
