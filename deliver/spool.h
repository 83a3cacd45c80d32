/*
 * spool.h - mailout-spool: the admin's view of the spool
 *
 * The library part of mailout-spool (SPOOLTOOL_SRCS): reading messages
 * with the same parsers mailout-deliver uses (mail_spool_read,
 * mail_state), printing them (table, JSON lines, show, stats in JSON
 * and Prometheus text format), and acting on one message (delete,
 * hold, release, retry) under the per-message flock mailout-deliver
 * takes, so nothing changes under a delivery in progress.
 */
#ifndef MAILOUT_SPOOL_H
#define MAILOUT_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "mail_spool.h"
#include "mail_spool_read.h"
#include "mail_state.h"
#include "result.h"

enum spool_state { SPOOL_QUEUED, SPOOL_DEFERRED, SPOOL_HELD, SPOOL_NSTATES };

/* The spool opened: one directory fd per state, and state/. */
struct spool_dirs {
	int root;
	int dir[SPOOL_NSTATES]; /* new/, deferred/, hold/ */
	int state;
};

/* One message as the admin sees it. */
struct spool_msg {
	char id[QUEUE_ID_LEN + 1];
	enum spool_state where;
	struct spool_envelope env;
	struct mail_state st;
	uint64_t size; /* the message, without the envelope block */
	bool bad; /* not a valid spool file (why says why) */
	char why[128];
};

/* Counters mailout-deliver keeps in SPOOL/counters ("name N" lines). */
struct spool_counters {
	uint64_t delivered, bounced, deferred;
	bool present;
};

const char *spool_state_name(enum spool_state s);
const char *spool_state_dir(enum spool_state s);

/* spool_open - the directories under path; RES_TEMP (errno) if missing */
enum result spool_open(const char *path, struct spool_dirs *d);
void spool_close(struct spool_dirs *d);
/* spool_ids - the IDs in one state directory, sorted; -1 on error */
int spool_ids(const struct spool_dirs *d, enum spool_state s, char ***ids, size_t *n);
void spool_ids_free(char **ids, size_t n);
/* spool_find - which state directory holds id; -1 when none */
int spool_find(const struct spool_dirs *d, const char *id, enum spool_state *where);
/* spool_msg_load - envelope (not the body), state, size of where/id;
 * RES_PERM when it vanished, RES_TEMP on I/O trouble.  A file that does
 * not parse is RES_OK with m->bad set. */
enum result spool_msg_load(const struct spool_dirs *d, enum spool_state where, const char *id,
                           struct spool_msg *m);
void spool_msg_free(struct spool_msg *m);
/* spool_cat - copy where/id to fd as it is; -1 on error */
int spool_cat(const struct spool_dirs *d, enum spool_state where, const char *id, int fd);
/* spool_counters_read - SPOOL/counters; missing is all zero */
void spool_counters_read(const struct spool_dirs *d, struct spool_counters *c);

/* Output. */
/* json_string - a JSON string literal: quotes, escapes, valid UTF-8 */
int json_string(struct buf *out, const char *s);
/* spool_last_error - the latest reply of a recipient not sent, or NULL */
const char *spool_last_error(const struct spool_msg *m);
int spool_format_json(const struct spool_msg *m, struct buf *out);
int spool_format_row(const struct spool_msg *m, struct buf *out);
const char *spool_row_header(void);

struct spool_stats {
	uint64_t count[SPOOL_NSTATES];
	uint64_t bytes;
	int64_t oldest; /* queued_at of the oldest message; 0 when empty */
	struct spool_counters counters;
};

int spool_format_stats(const struct spool_stats *s, int64_t now, int json, struct buf *out);

/* Actions, under the message's flock. */
enum spool_action { ACT_DELETE, ACT_HOLD, ACT_RELEASE, ACT_RETRY };

/* spool_act - returns a sysexits code, with a line for the admin in msg:
 * 0 done, 66 unknown ID, 75 busy (being delivered) or I/O trouble */
int spool_act(const struct spool_dirs *d, enum spool_action a, const char *id, int64_t now,
              char *msg, size_t msgsize);

#endif
