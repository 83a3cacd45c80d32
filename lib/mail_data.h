/*
 * mail_data.h - message content as it arrives: DATA, BDAT, headers
 *
 * data_feed() is the small explicit state machine that reads DATA
 * content (RFC 5321 4.1.1.4, 4.5.2): it ends only at <CR><LF>.<CR><LF>,
 * removes dot-stuffing at the start of real (CRLF-terminated) lines,
 * and writes canonical content: every line ends in a single LF; a bare
 * CR or bare LF from the client also ends a line (so nothing smuggled
 * can survive as an end-of-data on the way out, where lines are
 * dot-stuffed again).  bdat_feed() does the same canonicalisation for
 * BDAT chunks, which carry no dot-stuffing.
 *
 * header_scan watches the canonical output line by line: it counts
 * Received: headers, notes Date:, Message-ID: and From:, and reports
 * where the header section ends, so the receiver can add what is
 * missing before the blank line.
 */
#ifndef MAILOUT_MAIL_DATA_H
#define MAILOUT_MAIL_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct data_reader {
	int state; /* private: where in a line we are */
	bool done; /* the final "." line was seen */
	bool too_big; /* canonical size passed max_size (content dropped) */
	bool line_too_long; /* a line passed 1000 octets (kept, continued) */
	uint64_t size; /* canonical bytes produced (counted even if dropped) */
	uint64_t max_size;
	size_t line_len; /* private */
};

void data_reader_init(struct data_reader *r, uint64_t max_size);
/* data_feed - consume client bytes; append canonical content to out
 * (unless too_big).  Returns the number of bytes consumed: it stops
 * right after the terminating ".<CR><LF>" so that pipelined commands
 * stay in the input.  Returns (size_t)-1 if out cannot grow. */
size_t data_feed(struct data_reader *r, const char *in, size_t n, struct buf *out);
/* bdat_feed - canonicalise a BDAT chunk (no dot handling); last marks
 * the final chunk so a trailing bare CR is flushed. */
int bdat_feed(struct data_reader *r, const char *in, size_t n, bool last, struct buf *out);

/* dot_stuff - RFC 5321 4.5.2 for output: canonical LF content in, CRLF
 * lines with leading dots doubled out; a final line without LF is
 * terminated.  Appends to out. */
int dot_stuff(const char *in, size_t n, bool at_line_start, struct buf *out);

struct header_scan {
	bool in_headers; /* still in the header section */
	bool ended; /* the blank line (or a non-header line) seen */
	unsigned received; /* Received: count */
	bool has_date, has_message_id, has_from;
	struct buf from; /* the From: header's value, unfolded (bounded) */
	int state; /* private */
	size_t name_len; /* private */
	char name[32]; /* private: current header name */
};

void header_scan_init(struct header_scan *h);
void header_scan_free(struct header_scan *h);
/* header_scan_feed - feed canonical content; returns the offset in
 * this chunk where the header section ends (the offset of the blank
 * line, or of the first body line when no blank line), or n when it
 * has not ended within this chunk. */
size_t header_scan_feed(struct header_scan *h, const char *in, size_t n);

#endif
