/*
 * sendmail_input.c - mailout-sendmail's input: stdin, header section, -t
 *
 * What it is for: reading the message a local program pipes in.  Line
 * endings become canonical LF (CRLF and a bare CR end a line, as in
 * the receiver, so nothing smuggled survives to the gateway); without
 * -i a line holding only "." ends the input (sendmail's default).  The
 * header section is read first, bounded by SM_HEADER_MAX, so that -t
 * can take its recipients and Bcc: can be removed; the body is then
 * streamed piece by piece by the caller, in bounded memory.
 * What it must never do: hold more than the header section and one
 * piece of the body in memory, or let a header line it does not
 * understand swallow the body.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sendmail.h"
#include "mail_data.h"

void
sm_reader_init(struct sm_reader *r, int fd, bool dot_ends)
{
	r->fd = fd;
	r->dot_ends = dot_ends;
	r->at_bol = true;
	r->done = false;
	r->pos = r->len = 0;
}

/* rd_fill - refill the buffer; 1 data, 0 EOF, -1 error */
static int
rd_fill(struct sm_reader *r)
{
	ssize_t n;

	if (r->pos < r->len)
		return 1;
	do
		n = read(r->fd, r->buf, sizeof(r->buf));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	r->pos = 0;
	r->len = (size_t)n;
	return n > 0;
}

/* rd_getc - next byte, -1 at EOF, -2 on error */
static int
rd_getc(struct sm_reader *r)
{
	int f = rd_fill(r);

	if (f <= 0)
		return f == 0 ? -1 : -2;
	return (unsigned char)r->buf[r->pos++];
}

/* is_dot_line - the piece is a whole line holding only "." */
static bool
is_dot_line(const struct buf *out, size_t start)
{
	return out->len - start == 2 && out->s[start] == '.' && out->s[start + 1] == '\n';
}

int
sm_read_piece(struct sm_reader *r, struct buf *out, size_t max)
{
	size_t start = out->len;
	bool bol = r->at_bol;
	int c = 0;

	if (r->done)
		return 0;
	r->at_bol = false;
	while (out->len - start < max) {
		if ((c = rd_getc(r)) == -2)
			return -1;
		if (c == -1) {
			r->done = true;
			if (out->len == start)
				return 0;
			c = '\n'; /* a last line without LF gets one */
		} else if (c == '\r') {
			if (rd_fill(r) > 0 && r->buf[r->pos] == '\n')
				r->pos++;
			c = '\n';
		}
		if (buf_appendc(out, (char)c) < 0)
			return -1;
		if (c == '\n') {
			r->at_bol = true;
			break;
		}
	}
	if (bol && r->dot_ends && is_dot_line(out, start)) {
		buf_truncate(out, start);
		r->done = true;
		return 0;
	}
	return 1;
}

void
sm_message_init(struct sm_message *m)
{
	memset(m, 0, sizeof(*m));
	buf_init(&m->hdr, SM_HEADER_MAX);
	buf_init(&m->first, SM_PIECE + 1);
}

void
sm_message_free(struct sm_message *m)
{
	buf_free(&m->hdr);
	buf_free(&m->first);
	free(m->f);
	m->f = NULL;
	m->nf = 0;
}

/* header_name_len - length of "Name" in "Name:", 0 if not a header */
static size_t
header_name_len(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && s[i] != ':'; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return 0;
	return i < n ? i : 0;
}

/* add_field - a new field starting at off */
static int
add_field(struct sm_message *m, size_t off, size_t len, size_t name_len)
{
	struct sm_field *nf;

	if ((nf = realloc(m->f, (m->nf + 1) * sizeof(*m->f))) == NULL)
		return -1;
	m->f = nf;
	m->f[m->nf].off = off;
	m->f[m->nf].len = len;
	m->f[m->nf].name_len = name_len;
	m->f[m->nf].drop = false;
	m->nf++;
	return 0;
}

/* read_rest - the rest of a line whose first piece is in hdr */
static int
read_rest(struct sm_reader *r, struct buf *hdr)
{
	while (hdr->len > 0 && hdr->s[hdr->len - 1] != '\n')
		if (sm_read_piece(r, hdr, SM_PIECE) <= 0)
			return r->done ? 0 : -1;
	return 0;
}

/* read_failed - too large is the sender's problem, the rest ours */
static enum result
read_failed(char *err, size_t errsize)
{
	if (errno == E2BIG) {
		(void)bounded_format(err, errsize, "header section larger than %zu bytes",
		                     (size_t)SM_HEADER_MAX);
		return RES_PERM;
	}
	(void)bounded_format(err, errsize, "error reading the message: %s", strerror(errno));
	return RES_TEMP;
}

/* scan_known - Date, Message-ID, From, Received (mail_data's scanner) */
static int
scan_known(struct sm_message *m)
{
	struct header_scan h;

	header_scan_init(&h);
	if (m->hdr.len > 0)
		(void)header_scan_feed(&h, m->hdr.s, m->hdr.len);
	(void)header_scan_feed(&h, "\n", 1);
	m->has_date = h.has_date;
	m->has_message_id = h.has_message_id;
	m->has_from = h.has_from;
	m->received = h.received;
	header_scan_free(&h);
	return 0;
}

/* classify - the line at start: header, continuation, or body */
static enum result
classify(struct sm_message *m, size_t start, bool *end)
{
	const char *l = m->hdr.s + start;
	size_t n = m->hdr.len - start, name;

	*end = true;
	if (n == 1 && l[0] == '\n') { /* the blank line: consumed */
		buf_truncate(&m->hdr, start);
		return RES_OK;
	}
	if ((l[0] == ' ' || l[0] == '\t') && m->nf > 0) {
		m->f[m->nf - 1].len += n;
		*end = false;
		return RES_OK;
	}
	if ((name = header_name_len(l, n)) > 0) {
		*end = false;
		return add_field(m, start, n, name) < 0 ? RES_TEMP : RES_OK;
	}
	/* not a header: the body starts here, without a blank line */
	if (buf_set(&m->first, l, n < SM_PIECE ? n : SM_PIECE) < 0)
		return RES_TEMP;
	buf_truncate(&m->hdr, start);
	return RES_OK;
}

/* is_mbox_from - a leading "From sender date" line (mbox), dropped as
 * Postfix's sendmail does */
static bool
is_mbox_from(const struct buf *hdr, size_t start)
{
	return hdr->len - start >= 5 && memcmp(hdr->s + start, "From ", 5) == 0;
}

enum result
sm_read_headers(struct sm_reader *r, struct sm_message *m, char *err, size_t errsize)
{
	size_t start, before;
	bool end = false, first_line = true;
	int got;

	while (!end) {
		start = m->hdr.len;
		if ((got = sm_read_piece(r, &m->hdr, SM_PIECE)) < 0)
			return read_failed(err, errsize);
		if (got == 0)
			break;
		if (first_line && is_mbox_from(&m->hdr, start)) {
			first_line = false;
			if (read_rest(r, &m->hdr) < 0)
				return read_failed(err, errsize);
			buf_truncate(&m->hdr, start);
			continue;
		}
		first_line = false;
		if (classify(m, start, &end) != RES_OK) /* out of memory: errno says */
			return read_failed(err, errsize);
		if (end)
			break;
		before = m->hdr.len;
		if (read_rest(r, &m->hdr) < 0)
			return read_failed(err, errsize);
		m->f[m->nf - 1].len += m->hdr.len - before;
	}
	return scan_known(m) < 0 ? RES_TEMP : RES_OK;
}

_Static_assert(RES_OK == 0, "RES_OK must be enum result's");
