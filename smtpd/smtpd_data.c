/*
 * smtpd_data.c - DATA and BDAT: streaming message content to the queue
 *
 * What it is for: reading message content (RFC 5321 4.1.1.4 DATA,
 * RFC 3030 BDAT) through the canonicalising readers of mail_data.h,
 * prepending our Received: header, adding a missing Date: and
 * Message-ID: at the end of the header section, counting hops, and
 * streaming it all to mailout-queue as it arrives (or, with
 * content.block_executables, into the memfd that smtpd_queue.c holds
 * for the inspection, bounded by limits.message_size), so memory stays
 * bounded whatever the client sends.  For a class with rewrite = true
 * the header section goes out one whole field at a time, From:, To:
 * and Cc: masqueraded (lib/mail_rewrite.h), a missing From: added from
 * the envelope sender; the body streams as before.  Errors (too big,
 * too many hops, queue trouble) are latched; the content is read on to
 * its end and the client gets one reply (OpenSMTPD tx->error).
 * What it must never do: answer 250 unless mailout-queue exited 0,
 * end DATA anywhere but at <CR><LF>.<CR><LF>, leave unread BDAT
 * octets in the input to be taken as commands, or, for a class with
 * rewrite = true, store a From: other than the one the policy checked.
 */
#include "smtpd.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"
#include "smtpd_tls.h"

#define HEADER_MAX 4096 /* our own header lines */
#define HOLD_MAX (256 * 1024) /* a header line held back at most */
/* rewritten header fields: each address may grow by a domain */
#define FIELDS_OUT_MAX (HOLD_MAX + 64 * 1024)
#define FROM_MASQ_MAX (4 * HEADER_FROM_MAX) /* From: for the policy, rewritten */
/* Postfix smtpd_min_data_rate: each octet within limits.message_size
 * buys a DATA or BDAT transfer this much more time, in octets/second */
#define DATA_MIN_RATE 500

int
smtpd_rfc5322_date(char *out, size_t outsize)
{
	time_t now = time(NULL);
	struct tm tm;

	if (localtime_r(&now, &tm) == NULL)
		return -1;
	/* RFC 5322 3.3; the C locale gives English day and month names */
	return strftime(out, outsize, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0 ? -1 : 0;
}

/* protocol_name - RFC 3848 "with" keyword */
static const char *
protocol_name(const struct session *s)
{
	bool tls = s->io.ssl != NULL, auth = s->pc.auth_user != NULL;

	if (!s->esmtp)
		return "SMTP";
	if (tls)
		return auth ? "ESMTPSA" : "ESMTPS";
	return auth ? "ESMTPA" : "ESMTP";
}

/* append_parts - each string of a NULL-terminated list, in turn */
static int
append_parts(struct buf *out, const char *const *part)
{
	for (; *part != NULL; part++)
		if (buf_appends(out, *part) < 0)
			return -1;
	return 0;
}

/* smtpd_received - our trace header (RFC 5321 4.4), LF line endings:
 * copied together, as nothing in it is formatted but the date */
int
smtpd_received(struct buf *out, const struct session *s, const char *id)
{
	const struct policy_client *pc = &s->pc;
	char date[64], rcpt[ADDR_PATH_MAX + 1];
	const char *helo = pc->helo[0] ? pc->helo : "unknown";
	const char *v6 = net_addr_is_v4(&pc->addr) ? "" : "IPv6:", *proto = protocol_name(s);
	const char *const from[] = {"Received: from ", helo, " (", pc->name, NULL};
	const char *const addr[] = {" [", v6, pc->addr_str, "])\n\tby ", s->hostname, NULL};
	const char *const with[] = {" (mailout) with ", proto, " id ", id, NULL};
	const char *const tls[] = {
	    "\n\t(using ", s->tls_version, " with cipher ", s->tls_cipher, ")", NULL};
	const char *const auth[] = {"\n\t(authenticated as ", pc->auth_user, ")", NULL};
	const char *const one_rcpt[] = {"\n\tfor <", rcpt, ">", NULL};
	const char *const when[] = {";\n\t", date, "\n", NULL};

	if (smtpd_rfc5322_date(date, sizeof(date)) < 0)
		return -1;
	if (s->tx.nrcpt == 1)
		smtp_sanitize(s->tx.rcpts.s, strlen(buf_cstr(&s->tx.rcpts)), rcpt, sizeof(rcpt));
	if (append_parts(out, from) < 0 || append_parts(out, addr) < 0 ||
	    append_parts(out, with) < 0 || (s->io.ssl && append_parts(out, tls) < 0) ||
	    (pc->auth_user && append_parts(out, auth) < 0) ||
	    (s->tx.nrcpt == 1 && append_parts(out, one_rcpt) < 0))
		return -1;
	return append_parts(out, when);
}

/* latch - remember the first error of the transaction */
static void
latch(struct smtpd_tx *tx, int code, const char *esc, const char *text)
{
	if (tx->error.code == 0)
		reply_set(&tx->error, code, esc, "%s", text);
}

/* tx_send - content to the queue unless the transaction has failed */
static void
tx_send(struct smtpd_tx *tx, const char *p, size_t n)
{
	if (n == 0)
		return;
	tx->last = p[n - 1];
	if (tx->error.code == 0 && queue_running(&tx->q))
		queue_write(&tx->q, p, n);
}

/* tx_add_headers - at the end of the header section: hop count,
 * missing Date: and Message-ID:, and a blank line when the section
 * ended at a body line instead of one (blank) */
static void
tx_add_headers(struct session *s, bool blank)
{
	struct smtpd_tx *tx = &s->tx;
	char date[64], line[HEADER_MAX], addr[ADDR_PATH_MAX + 1];

	tx->headers_added = true;
	if (tx->hs.received > s->cfg->limits.hops)
		latch(tx, 554, ESC_HOPS, "Too many hops");
	if (tx->last != '\n')
		tx_send(tx, "\n", 1);
	/* RFC 5322 3.6: From: is required; as mailout-sendmail (and
	 * Postfix for local_header_rewrite_clients), the envelope sender,
	 * already masqueraded, when the client left it out */
	if (tx->rewrite && !tx->hs.has_from && !tx->sender.null &&
	    addr_format(&tx->sender, addr, sizeof(addr)) == 0 &&
	    bounded_format(line, sizeof(line), "From: %s\n", addr) == 0)
		tx_send(tx, line, strlen(line));
	if (!tx->hs.has_date && smtpd_rfc5322_date(date, sizeof(date)) == 0 &&
	    bounded_format(line, sizeof(line), "Date: %s\n", date) == 0)
		tx_send(tx, line, strlen(line));
	if (!tx->hs.has_message_id &&
	    bounded_format(line, sizeof(line), "Message-ID: <%s@%s>\n", tx->q.id, s->hostname) == 0)
		tx_send(tx, line, strlen(line));
	if (blank)
		tx_send(tx, "\n", 1);
}

/* hold_release - send the first n held octets */
static void
hold_release(struct smtpd_tx *tx, size_t n)
{
	if (n > tx->hold.len)
		n = tx->hold.len;
	tx_send(tx, tx->hold.s, n);
	buf_consume(&tx->hold, n);
	tx->sent += n;
}

void
field_cut_init(struct field_cut *fc)
{
	fc->pos = fc->last = 0;
	fc->bol = true;
}

size_t
field_cut_scan(struct field_cut *fc, const char *s, size_t n)
{
	const char *nl;

	while (fc->pos < n) {
		if (fc->bol && s[fc->pos] != ' ' && s[fc->pos] != '\t')
			fc->last = fc->pos;
		fc->bol = false;
		nl = memchr(s + fc->pos, '\n', n - fc->pos);
		if (nl == NULL) {
			fc->pos = n;
			break;
		}
		fc->pos = (size_t)(nl - s) + 1;
		fc->bol = true;
	}
	return fc->last;
}

void
field_cut_consume(struct field_cut *fc, size_t k)
{
	fc->pos = fc->pos > k ? fc->pos - k : 0;
	fc->last = fc->last > k ? fc->last - k : 0;
}

int
smtpd_rewrite_fields(const struct rewrite *rw, const char *s, size_t n, struct buf *out)
{
	size_t start = 0, end;
	const char *nl;
	int r, changed = 0;

	while (start < n) {
		end = start;
		do { /* a field: its first line and the lines that continue it */
			nl = memchr(s + end, '\n', n - end);
			end = nl ? (size_t)(nl - s) + 1 : n;
		} while (end < n && (s[end] == ' ' || s[end] == '\t'));
		if ((r = rewrite_header_field(rw, s + start, end - start, out)) < 0)
			return -1;
		changed += r;
		start = end;
	}
	return changed;
}

/* fields_release - send the first n held octets, whole header fields,
 * with their addresses rewritten */
static void
fields_release(struct session *s, size_t n)
{
	struct smtpd_tx *tx = &s->tx;
	struct buf out = BUF_INIT(FIELDS_OUT_MAX);

	if (n > tx->hold.len)
		n = tx->hold.len;
	if (n == 0)
		return;
	if (smtpd_rewrite_fields(&s->rw, tx->hold.s, n, &out) < 0)
		latch(tx, 451, ESC_SYSTEM, "Local error in processing");
	else
		tx_send(tx, out.s, out.len);
	buf_free(&out);
	buf_consume(&tx->hold, n);
	field_cut_consume(&tx->cut, n);
	tx->sent += n;
}

/* head_release - the first n held octets of the header section */
static void
head_release(struct session *s, size_t n)
{
	if (s->tx.rewrite)
		fields_release(s, n);
	else
		hold_release(&s->tx, n);
}

/* held - offset off of the content, counted in the hold */
static size_t
held(const struct smtpd_tx *tx, uint64_t off)
{
	if (off <= tx->sent)
		return 0;
	return off - tx->sent < tx->hold.len ? (size_t)(off - tx->sent) : tx->hold.len;
}

/* hold_overflow - XXX: a header field longer than HOLD_MAX: placement
 * (and masquerading, for the rest of this message) is lost, the
 * content is not */
static void
hold_overflow(struct session *s, const char *p, size_t n)
{
	struct smtpd_tx *tx = &s->tx;

	if (tx->rewrite) {
		fields_release(s, field_cut_scan(&tx->cut, tx->hold.s, tx->hold.len));
		smtpd_log(s, tx->q.id, "%s: header field over %d octets: not rewritten", tx->q.id,
		          HOLD_MAX);
		tx->rewrite = false;
	}
	hold_release(tx, tx->hold.len);
	tx_send(tx, p, n);
	tx->sent += n;
}

/* tx_content - one piece of canonical content.  While in the header
 * section, a line that may yet turn out to be the first body line is
 * held back (header_scan_safe), so that Date: and Message-ID: go in
 * exactly where the section ends; with rewrite = true, so is the field
 * that a next line may still continue. */
static void
tx_content(struct session *s, const char *p, size_t n)
{
	struct smtpd_tx *tx = &s->tx;

	if (tx->headers_added) {
		tx_send(tx, p, n);
		return;
	}
	(void)header_scan_feed(&tx->hs, p, n);
	if (buf_append(&tx->hold, p, n) < 0)
		hold_overflow(s, p, n);
	if (tx->hs.ended) {
		head_release(s, held(tx, tx->hs.end_offset));
		tx_add_headers(s, tx->hs.missing_blank);
		hold_release(tx, tx->hold.len);
		return;
	}
	if (tx->rewrite)
		fields_release(s, field_cut_scan(&tx->cut, tx->hold.s, tx->hold.len));
	else
		hold_release(tx, held(tx, header_scan_safe(&tx->hs)));
}

/* tx_end_headers - content ended inside the header section: what is
 * held past header_scan_safe is one unfinished line; if it cannot be a
 * header ("abc", no colon), our headers and a blank line go before it */
static void
tx_end_headers(struct session *s)
{
	struct smtpd_tx *tx = &s->tx;
	size_t safe;

	if (tx->headers_added)
		return;
	safe = held(tx, header_scan_safe(&tx->hs));
	if (safe < tx->hold.len && memchr(tx->hold.s + safe, ':', tx->hold.len - safe) == NULL) {
		head_release(s, safe);
		tx_add_headers(s, true);
		hold_release(tx, tx->hold.len);
		return;
	}
	head_release(s, tx->hold.len);
	tx_add_headers(s, false);
}

/* tx_open - at DATA or the first BDAT: run the queue, write Received: */
static void
tx_open(struct session *s)
{
	struct smtpd_tx *tx = &s->tx;
	struct buf hdr = BUF_INIT(HEADER_MAX);
	struct reply r;

	tx->open = true;
	tx->error.code = 0;
	tx->headers_added = false;
	tx->last = '\n';
	data_reader_init(&tx->reader, s->cfg->limits.message_size);
	header_scan_init(&tx->hs);
	buf_init(&tx->canon, 2 * IO_IN_MAX + 16);
	buf_init(&tx->hold, HOLD_MAX);
	field_cut_init(&tx->cut);
	tx->sent = 0;
	if (queue_open(&tx->q, s->cfg, s->config_path, &r) != RES_OK) {
		tx->error = r;
		return;
	}
	if (smtpd_received(&hdr, s, tx->q.id) < 0)
		latch(tx, 451, ESC_SYSTEM, "Local error in processing");
	else
		queue_write(&tx->q, hdr.s, hdr.len);
	buf_free(&hdr);
}

/* log_accepted - Postfix's qmgr line, in smtpd's words */
static void
log_accepted(const struct session *s)
{
	const struct smtpd_tx *tx = &s->tx;
	char from[ADDR_PATH_MAX + 1], addr[ADDR_PATH_MAX + 1], user[AUTH_USER_MAX + 1];
	const char *tls = s->io.ssl ? s->tls_version : "none";
	bool auth = s->pc.auth_user != NULL;
	struct log_field f[] = {
	    {"QUEUE_ID", tx->q.id},
	    {"CLIENT_ADDR", s->pc.addr_str},
	    {"CLIENT_NAME", s->pc.name},
	    {"TLS", tls},
	    {"TLS_VERSION", s->io.ssl ? s->tls_version : NULL},
	    {"TLS_CIPHER", s->io.ssl ? s->tls_cipher : NULL},
	    {"SASL_USERNAME", auth ? user : NULL},
	};

	if (addr_format(&tx->sender, addr, sizeof(addr)) < 0)
		addr[0] = '\0';
	smtp_sanitize(addr, strlen(addr), from, sizeof(from));
	if (auth)
		smtp_sanitize(s->pc.auth_user, strlen(s->pc.auth_user), user, sizeof(user));
	/* Postfix names the SASL user on its smtpd line: sasl_username= */
	log_fields(LOG_INFO, f, sizeof(f) / sizeof(f[0]),
	           "%s: from=<%s>, size=%" PRIu64 ", nrcpt=%zu, client=%s[%s], tls=%s%s%s",
	           tx->q.id, from, tx->reader.size, tx->nrcpt, s->pc.name, s->pc.addr_str, tls,
	           auth ? ", sasl_username=" : "", auth ? user : "");
}

/* log_reject_eom - a refused message, in Postfix's words */
static void
log_reject_eom(const struct session *s)
{
	char line[REPLY_TEXT_MAX + 32];

	if (reply_format(&s->tx.error, line, sizeof(line)) < 0)
		line[sizeof(line) - 1] = '\0';
	smtpd_log(s, s->tx.q.id[0] ? s->tx.q.id : NULL,
	          "%s: reject: END-OF-MESSAGE from %s[%s]: %s",
	          s->tx.q.id[0] ? s->tx.q.id : "NOQUEUE", s->pc.name, s->pc.addr_str, line);
}

/* from_checked - the From: value the policy checks is the one that
 * leaves the host: masqueraded for rewrite = true, as it was stored
 * (rewrite_header_value over the unfolded value finds the same
 * addresses as over the folded field).  NULL: no From:. */
static const char *
from_checked(struct session *s, struct buf *masq, size_t *len)
{
	struct smtpd_tx *tx = &s->tx;

	*len = 0;
	if (!tx->hs.has_from)
		return NULL;
	if (!tx->rewrite) {
		*len = tx->hs.from.len;
		return buf_cstr(&tx->hs.from);
	}
	if (rewrite_header_value(&s->rw, REWRITE_SENDER, buf_cstr(&tx->hs.from), tx->hs.from.len,
	                         masq) < 0) {
		latch(tx, 451, ESC_SYSTEM, "Local error in processing");
		return NULL;
	}
	*len = masq->len;
	return buf_cstr(masq);
}

/* tx_policy - what only the whole message shows: a line over RFC 5321
 * 4.5.3.1.6's 1000 octets (the content was read on, and is refused
 * whole), the From: header of an authenticated user (it must be one of
 * the user's addresses), and the client class's rules for From: */
static void
tx_policy(struct session *s)
{
	struct smtpd_tx *tx = &s->tx;
	struct buf masq = BUF_INIT(FROM_MASQ_MAX);
	size_t from_len = 0;
	const char *from;
	struct from_header fh;
	struct reply r;

	if (tx->reader.line_too_long)
		latch(tx, 500, ESC_SYNTAX,
		      "Line too long: RFC 5321 allows 1000 octets per line; wrap the lines or send "
		      "the content base64 or quoted-printable encoded");
	from = from_checked(s, &masq, &from_len);
	fh = (struct from_header){from, from_len, tx->hs.from_count, tx->hs.from_truncated};
	if (tx->error.code != 0)
		; /* refused already */
	else if (s->pc.auth_user &&
	         auth_from_owned(s->cfg, s->pc.auth_user, from ? from : "", from_len,
	                         from ? tx->hs.from_count : 0, tx->hs.from_truncated, &r) != RES_OK)
		tx->error = r;
	else if (policy_data_end_from(&s->pc, &fh, &r) != RES_OK)
		tx->error = r;
	buf_free(&masq);
}

/* tx_finish - the end of the content: one reply for the transaction */
static void
tx_finish(struct session *s)
{
	struct smtpd_tx *tx = &s->tx;
	char sender[ADDR_PATH_MAX + 1];
	struct reply r;

	tx_end_headers(s);
	if (tx->reader.too_big)
		latch(tx, 552, ESC_MSG_TOO_BIG, "Message size exceeds fixed limit");
	tx_policy(s);
	if (addr_format(&tx->sender, sender, sizeof(sender)) < 0)
		latch(tx, 451, ESC_SYSTEM, "Local error in processing");
	if (tx->error.code != 0) {
		queue_abort(&tx->q);
		log_reject_eom(s);
		r = tx->error;
	} else if (queue_commit(&tx->q, sender, tx->rcpts.s, tx->rcpts.len, &r) == RES_OK) {
		log_accepted(s);
	}
	smtpd_reply(s, &r);
	smtpd_tx_reset(s);
}

/* content_deadline - one deadline for the whole content of a message,
 * not per read (Postfix smtpd_per_request_deadline): limits.data_timeout
 * from start (DATA's 354, the first BDAT), plus a second for every
 * DATA_MIN_RATE octets received within limits.message_size, so that a
 * large message on a slow link arrives and a trickle does not last */
static long long
content_deadline(const struct session *s, long long start)
{
	uint64_t credit = s->tx.reader.size, max = s->cfg->limits.message_size;

	if (credit > max)
		credit = max;
	return start + (long long)s->cfg->limits.data_timeout * 1000 +
	       (long long)(credit * 1000 / DATA_MIN_RATE);
}

/* content_fill - more content by the deadline (whole seconds, rounded
 * up); IO_TIMEOUT once it has passed */
static enum io_status
content_fill(struct session *s, long long start)
{
	long long left = content_deadline(s, start) - mono_ms();

	if (left <= 0)
		return IO_TIMEOUT;
	return io_fill(&s->io, (unsigned)((left + 999) / 1000));
}

/* lost - the client went away or fell silent inside DATA/BDAT */
static void
lost(struct session *s, enum io_status st, const char *where)
{
	queue_abort(&s->tx.q);
	if (st == IO_TIMEOUT)
		smtpd_drop(s, ESC_TIMEOUT, "Error: timeout exceeded");
	smtpd_log(s, NULL, "lost connection after %s from %s[%s]", where, s->pc.name,
	          s->pc.addr_str);
	smtpd_drop(s, NULL, NULL);
}

int
smtpd_data(struct session *s)
{
	struct smtpd_tx *tx = &s->tx;
	enum io_status st;
	long long start;
	size_t used;

	tx_open(s);
	if (tx->error.code != 0 && tx->error.code < 500 && !queue_running(&tx->q)) {
		/* the queue cannot run: say so now, before any content */
		smtpd_reply(s, &tx->error);
		smtpd_tx_reset(s);
		return 0;
	}
	smtpd_reply_code(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
	start = mono_ms();
	while (!tx->reader.done) {
		if (s->io.in.len == 0 && (st = content_fill(s, start)) != IO_OK)
			lost(s, st, "DATA");
		buf_reset(&tx->canon);
		used = data_feed(&tx->reader, s->io.in.s, s->io.in.len, &tx->canon);
		if (used == (size_t)-1) {
			queue_abort(&tx->q);
			smtpd_drop(s, ESC_SYSTEM, "Error: out of memory");
		}
		buf_consume(&s->io.in, used);
		tx_content(s, tx->canon.s, tx->canon.len);
	}
	tx_finish(s);
	return 0;
}

/* bdat_chunk - read exactly size octets, canonicalise and stream them,
 * by the deadline of the transfer that began at start */
static void
bdat_chunk(struct session *s, uint64_t size, bool last, bool discard, long long start)
{
	struct smtpd_tx *tx = &s->tx;
	enum io_status st;
	size_t take;

	if (mono_ms() >= content_deadline(s, start))
		lost(s, IO_TIMEOUT, "BDAT");
	while (size > 0) {
		if (s->io.in.len == 0 && (st = content_fill(s, start)) != IO_OK)
			lost(s, st, "BDAT");
		take = s->io.in.len < size ? s->io.in.len : (size_t)size;
		if (!discard) {
			buf_reset(&tx->canon);
			if (bdat_feed(&tx->reader, s->io.in.s, take, last && take == size,
			              &tx->canon) < 0) {
				queue_abort(&tx->q);
				smtpd_drop(s, ESC_SYSTEM, "Error: out of memory");
			}
			tx_content(s, tx->canon.s, tx->canon.len);
		}
		buf_consume(&s->io.in, take);
		size -= take;
	}
}

/* smtpd_bdat - one BDAT command (RFC 3030 2): the octets are always
 * read, even when the command is refused, so they are never taken as
 * commands */
int
smtpd_bdat(struct session *s, uint64_t size, bool last)
{
	struct smtpd_tx *tx = &s->tx;
	char text[64];

	if (!tx->mail || tx->nrcpt == 0) {
		bdat_chunk(s, size, last, true, mono_ms());
		smtpd_reply_code(s, 503, ESC_BAD_SEQ,
		                 tx->mail ? "Error: no valid recipients"
		                          : "Error: need MAIL command");
		return 0;
	}
	if (!tx->bdat) {
		tx_open(s);
		tx->bdat = true;
		tx->bdat_start = mono_ms();
	}
	bdat_chunk(s, size, last, false, tx->bdat_start);
	if (!last) {
		if (bounded_format(text, sizeof(text), "%" PRIu64 " octets received", size) < 0)
			text[0] = '\0';
		smtpd_reply_code(s, 250, ESC_OK, text);
		return 0;
	}
	if (size == 0) {
		buf_reset(&tx->canon);
		if (bdat_feed(&tx->reader, "", 0, true, &tx->canon) == 0)
			tx_content(s, tx->canon.s, tx->canon.len);
	}
	tx_finish(s);
	return 0;
}
