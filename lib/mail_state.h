/*
 * mail_state.h - delivery state files (spool/state/ID)
 *
 * mailout-deliver records what happened to a message after every
 * attempt, in a plain-text file readable with cat and grep.  Only
 * mailout-deliver writes it (atomically: state/.tmp.ID, fsync, rename,
 * fsync of state/).  A missing file means nothing was tried yet.
 *
 *   attempts 3
 *   first_attempt 1764000000
 *   next_attempt 1764000900
 *   warned 0
 *   rcpt <a@example.org> sent 1764000000 origin=gateway relay=mx.example.org[192.0.2.1]:25
 * 250 2.0.0 Ok: queued as X rcpt <b@example.org> deferred 1764000300 origin=local
 * relay=mx.example.org[192.0.2.1]:25 451 4.4.2 lost connection with ... rcpt <c@example.org> failed
 * 1764000000 origin=gateway relay=mx.example.org[192.0.2.1]:25 550 5.1.1 unknown user rcpt
 * <d@example.org> bounced 1764000000 550 5.1.1 unknown user
 *
 * Times are seconds since the epoch.  A recipient line holds the last
 * outcome for that recipient and the reply that decided it, and who
 * decided it: "origin=gateway" (the gateway replied so) or
 * "origin=local" (mailout did: connection, DNS, TLS or AUTH trouble, a
 * SIZE or SMTPUTF8 the gateway lacks), and "relay=host[addr]:port",
 * the gateway of that session (absent when none was reached).  Both
 * are optional, in that order, before the reply: a line without them
 * (written by an older mailout-deliver) has an unknown origin.
 *
 *   sent      the gateway accepted it (2xx); done
 *   deferred  temporary failure (4xx, no connection, TLS, AUTH); retried
 *   failed    permanent failure; the bounce is not queued yet
 *   bounced   permanent failure and the bounce (or double bounce) is
 *             queued, or was dropped; done
 *
 * A recipient without a line has not been tried.  "warned 1" means the
 * delay warning was queued.  Unknown lines are ignored; malformed lines
 * are skipped and reported, so a damaged file costs at most a duplicate.
 */
#ifndef MAILOUT_MAIL_STATE_H
#define MAILOUT_MAIL_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "result.h"

#define STATE_FILE_MAX ((size_t)4 * 1024 * 1024)
#define STATE_REPLY_MAX 512

#define STATE_RELAY_MAX 320

enum rcpt_status { RCPT_PENDING, RCPT_SENT, RCPT_DEFERRED, RCPT_FAILED, RCPT_BOUNCED };

/* who decided a recipient's last outcome */
enum rcpt_origin {
	ORIGIN_UNKNOWN = 0, /* a line of an older writer */
	ORIGIN_GATEWAY, /* the reply is the gateway's own */
	ORIGIN_LOCAL, /* mailout decided; the reply is in its words */
};

struct state_rcpt {
	char *addr; /* without <> */
	enum rcpt_status status;
	int64_t when;
	char reply[STATE_REPLY_MAX]; /* "550 5.1.1 text", one line */
	enum rcpt_origin origin;
	char relay[STATE_RELAY_MAX]; /* "host[addr]:port"; "": none reached */
};

struct mail_state {
	unsigned attempts;
	int64_t first_attempt, next_attempt; /* 0: none */
	bool warned;
	struct state_rcpt *rcpts;
	size_t n_rcpts;
};

void state_init(struct mail_state *st);
void state_free(struct mail_state *st);

/* state_parse - parse file contents; returns the number of malformed
 * lines skipped (0 when clean), or -1 when memory runs out. */
int state_parse(const char *data, size_t len, struct mail_state *st);
/* state_format - the file contents; -1 when memory runs out */
int state_format(const struct mail_state *st, struct buf *out);

/* state_rcpt_find - the entry for addr, or NULL */
struct state_rcpt *state_rcpt_find(struct mail_state *st, const char *addr);
/* state_rcpt_set - create or update the entry for addr; the reply is
 * cleaned to one printable line; the origin becomes unknown and the
 * relay empty (state_rcpt_origin sets them).  -1 when memory runs out. */
int state_rcpt_set(struct mail_state *st, const char *addr, enum rcpt_status status, int64_t when,
                   const char *reply);
/* state_rcpt_origin - who decided r's outcome, and the gateway of that
 * session (NULL, "" or "none": none).  A relay that is not one token of
 * printable ASCII is not kept. */
void state_rcpt_origin(struct state_rcpt *r, enum rcpt_origin origin, const char *relay);
/* state_origin_name - "gateway", "local", "unknown" */
const char *state_origin_name(enum rcpt_origin o);
/* state_relay_host - the host part of a relay ("mx" of "mx[192.0.2.1]:25")
 * into out; "" when none */
void state_relay_host(const char *relay, char *out, size_t outsize);
const char *state_status_name(enum rcpt_status s);
/* state_done - true when no recipient of the list is still to be tried */
bool state_rcpt_done(enum rcpt_status s);

/* state_load - read state/ID under the spool dir fd; a missing file is
 * an empty state.  RES_TEMP on I/O trouble.  *malformed (may be NULL)
 * receives the count of skipped lines. */
enum result state_load(int statedir, const char *id, struct mail_state *st, int *malformed);
/* state_save - write state/ID atomically (tmp, fsync, rename, fsync dir) */
enum result state_save(int statedir, const char *id, const struct mail_state *st);
/* state_remove - unlink state/ID (missing is fine) and fsync the dir */
enum result state_remove(int statedir, const char *id);

/*
 * The spool's delivery counters, SPOOL/counters, read by mailout-spool
 * stats (Prometheus counters: they only grow):
 *
 *   delivered 1234      recipients the gateway accepted
 *   bounced 5           recipients bounced (or double-bounced, dropped)
 *   deferred 67         recipient attempts deferred
 *
 * Several mailout-deliver runs and their workers add to it at once, so
 * counters_add() takes SPOOL/counters.lock (flock), reads, adds,
 * writes SPOOL/.counters.tmp, fsyncs and renames it over the old file.
 * Readers need no lock: the file is always whole.
 */
struct mail_counters {
	uint64_t delivered, bounced, deferred;
};

#define COUNTERS_FILE "counters"
#define COUNTERS_LOCK "counters.lock"

/* counters_parse - the "name N" lines; unknown names and malformed
 * lines are ignored (a damaged file restarts from what it still says) */
void counters_parse(const char *data, size_t len, struct mail_counters *c);
/* counters_add - add to SPOOL/counters under its lock, atomically.
 * RES_TEMP (errno set) when the file cannot be read or written. */
enum result counters_add(int spooldir, const struct mail_counters *add);
/* counters_zero - nothing to add? */
bool counters_zero(const struct mail_counters *c);

#endif
