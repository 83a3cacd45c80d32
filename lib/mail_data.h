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
 *
 * Every function here takes its input in chunks split anywhere (a CR
 * at the end of one chunk, its LF at the start of the next): feeding
 * the same bytes in any split gives the same result.
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
 * the final chunk so a trailing bare CR is flushed.  Returns 0, or -1
 * if out cannot grow.  Sets r->done when last is true. */
int bdat_feed(struct data_reader *r, const char *in, size_t n, bool last, struct buf *out);
/* dot_unstuff - data_feed() over one complete buffer without a size
 * limit: *done tells whether the end-of-data line was found.  Returns
 * the bytes consumed, or (size_t)-1 if out cannot grow. */
size_t dot_unstuff(const char *in, size_t n, struct buf *out, bool *done);

/* dot_stuff - RFC 5321 4.5.2 for output: canonical LF content in, CRLF
 * lines with leading dots doubled out; a final line without LF is
 * terminated.  Appends to out; returns 0, or -1 if out cannot grow.
 * One call handles one whole message (or its remainder: at_line_start
 * says whether what was sent before ended at a line start); to stream
 * a message in chunks use struct dot_stuffer below.  Input is also
 * accepted with CRLF or bare CR line ends (a spool file not written by
 * data_feed): every CR, LF or CRLF becomes one CRLF, so no bare CR or
 * bare LF ever reaches the wire. */
int dot_stuff(const char *in, size_t n, bool at_line_start, struct buf *out);

/* The streaming form of dot_stuff(): init, feed chunks split anywhere,
 * finish once at the end of the message (before the final ".CRLF"). */
struct dot_stuffer {
	bool at_line_start; /* the next byte starts a line */
	bool cr; /* private: the last byte was CR; a LF after it is its pair */
};

void dot_stuffer_init(struct dot_stuffer *s);
int dot_stuffer_feed(struct dot_stuffer *s, const char *in, size_t n, struct buf *out);
/* dot_stuffer_finish - terminate a final line that has no line end */
int dot_stuffer_finish(struct dot_stuffer *s, struct buf *out);

struct header_scan {
	bool in_headers; /* still in the header section */
	bool ended; /* the blank line (or a non-header line) seen */
	unsigned received; /* Received: count */
	bool has_date, has_message_id, has_from;
	struct buf from; /* the From: header's value, unfolded (bounded) */
	int state; /* private */
	size_t name_len; /* private */
	char name[32]; /* private: current header name */
	/* Added fields: */
	unsigned from_count; /* From: headers seen (h->from holds the first) */
	bool from_truncated; /* h->from was cut at HEADER_FROM_MAX */
	bool missing_blank; /* ended at a non-header line, not a blank line */
	uint64_t end_offset; /* where the section ended, from the first byte fed */
	uint64_t pos; /* private: bytes fed so far */
	uint64_t line_start; /* private: offset of the current line */
	int field; /* private: which header the current line continues */
};

#define HEADER_FROM_MAX 4096

void header_scan_init(struct header_scan *h);
void header_scan_free(struct header_scan *h);
/* header_scan_feed - feed canonical content; returns the offset in
 * this chunk where the header section ends (the offset of the blank
 * line, or of the first body line when no blank line), or n when it
 * has not ended within this chunk.  A line that turns out not to be a
 * header may have begun in an earlier chunk: then 0 is returned and
 * h->end_offset (counted from the first byte ever fed) is exact.  Once
 * ended, input is ignored and 0 is returned.  Content that ends while
 * still in the headers (no body) never sets ended. */
size_t header_scan_feed(struct header_scan *h, const char *in, size_t n);
/* header_scan_safe - for writers that stream: everything before this
 * offset (counted like end_offset) lies before the end of the header
 * section and may be written out; the rest of what was fed (a line
 * that may yet turn out to be the first body line) must be held back
 * until more is fed.  Once ended, it is end_offset. */
uint64_t header_scan_safe(const struct header_scan *h);

#endif
