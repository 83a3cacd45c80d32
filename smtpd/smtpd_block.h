/*
 * smtpd_block.h - the blocklist: abusive hosts refused at the greeting
 *
 * The file (config key blocklist) has one entry a line:
 *
 *   ADDRESS-or-CIDR [until TIME]     # comment
 *
 * TIME is ISO 8601: 2026-12-01 (midnight), "2026-12-01 12:00",
 * 2026-12-01T12:00:00Z, 2026-12-01T12:00:00+01:00; UTC unless an
 * offset is given.  Entries whose time has come are ignored.  The file
 * is read afresh at every connection (each session is a process), so
 * an edit takes effect at once.  A malformed line is logged as
 * FILE:LINE and ignored; a missing file blocks nothing.
 */
#ifndef MAILOUT_SMTPD_BLOCK_H
#define MAILOUT_SMTPD_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "net.h"
#include "result.h"

#define BLOCK_FILE_MAX ((size_t)1024 * 1024) /* read no more than this */
#define BLOCK_LINE_MAX 1000
#define BLOCK_LINES_MAX 100000

struct block_hit {
	bool blocked;
	int line; /* of the entry that blocks */
	char entry[128]; /* that entry, as written (without its comment) */
	time_t until; /* 0: no end */
	unsigned entries; /* valid, current entries seen */
	unsigned expired; /* valid entries whose time has passed */
	unsigned bad; /* malformed lines (logged when asked) */
};

/* block_parse_line - one line (without its newline): 1 an entry in
 * *net and *until (0: none), 0 blank or comment, -1 malformed with a
 * reason in *why */
int block_parse_line(const char *line, size_t len, struct cidr *net, time_t *until,
                     const char **why);

/* block_parse_time - the TIME syntax above into seconds since the
 * epoch; -1 if it is not one */
int block_parse_time(const char *s, time_t *out);

/* block_check_text - is a blocked by the list in text (name is used
 * in warnings; log: warn about malformed lines)?  Fills hit. */
void block_check_text(const char *text, size_t len, const char *name, bool log,
                      const struct net_addr *a, time_t now, struct block_hit *hit);

/* block_check - block_check_text on the file at path ("" or NULL: no
 * list).  RES_OK always: an unreadable list is logged and blocks
 * nothing (it must never block everyone). */
enum result block_check(const char *path, const struct net_addr *a, time_t now,
                        struct block_hit *hit);

#endif
