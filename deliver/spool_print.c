/*
 * spool_print.c - mailout-spool: what the admin reads
 *
 * What it is for: one table row or one JSON object per message, and the
 * queue statistics as JSON or in the Prometheus text exposition format
 * (node_exporter's textfile collector).
 * What it must never do: print a string from the spool unescaped into
 * JSON (addresses may hold quotes, replies anything printable, and
 * bytes that are not UTF-8 become U+FFFD), or print a metric line the
 * exposition format does not allow.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "spool.h"

/* utf8_len - length of a valid UTF-8 sequence at s, 0 if invalid */
static size_t
utf8_len(const unsigned char *s)
{
	size_t n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

int
json_string(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;
	int r = buf_appendc(out, '"');

	while (r == 0 && *p) {
		if (*p == '"' || *p == '\\') {
			r = buf_printf(out, "\\%c", *p++);
		} else if (*p < 0x20 || *p == 0x7f) {
			r = buf_printf(out, "\\u%04x", *p++);
		} else if (*p < 0x80) {
			r = buf_appendc(out, (char)*p++);
		} else if ((n = utf8_len(p)) > 0) {
			r = buf_append(out, p, n);
			p += n;
		} else {
			r = buf_appends(out, "\\ufffd");
			p++;
		}
	}
	return r == 0 ? buf_appendc(out, '"') : -1;
}

const char *
spool_last_error(const struct spool_msg *m)
{
	const struct state_rcpt *best = NULL;
	size_t i;

	for (i = 0; i < m->st.n_rcpts; i++) {
		const struct state_rcpt *r = &m->st.rcpts[i];

		if (r->status != RCPT_SENT && r->status != RCPT_PENDING && r->reply[0] &&
		    (best == NULL || r->when >= best->when))
			best = r;
	}
	return best ? best->reply : NULL;
}

/* rcpt_status - the state file's word for a recipient, "pending" if none */
static const struct state_rcpt *
rcpt_state(const struct spool_msg *m, const char *addr)
{
	return state_rcpt_find((struct mail_state *)&m->st, addr);
}

/* json_relay - , "relay": "host[addr]:port" | null, "origin": "gateway" |
 * "local" | null (unknown: written by an older deliverer) */
static int
json_relay(const struct state_rcpt *r, struct buf *out)
{
	if (buf_appends(out, ", \"relay\": ") < 0 ||
	    (r && r->relay[0] ? json_string(out, r->relay) : buf_appends(out, "null")) < 0)
		return -1;
	if (!r || r->origin == ORIGIN_UNKNOWN)
		return buf_appends(out, ", \"origin\": null");
	return buf_printf(out, ", \"origin\": \"%s\"", state_origin_name(r->origin));
}

/* json_rcpts - [{"address":..., "status":..., "reply":..., "relay":...,
 * "origin":...}, ...] */
static int
json_rcpts(const struct spool_msg *m, struct buf *out)
{
	const struct state_rcpt *r;
	size_t i;

	if (buf_appendc(out, '[') < 0)
		return -1;
	for (i = 0; i < m->env.n_rcpts; i++) {
		r = rcpt_state(m, m->env.rcpts[i]);
		if (buf_appends(out, i ? ", {\"address\": " : "{\"address\": ") < 0 ||
		    json_string(out, m->env.rcpts[i]) < 0 ||
		    buf_printf(out, ", \"status\": \"%s\", \"reply\": ",
		               state_status_name(r ? r->status : RCPT_PENDING)) < 0)
			return -1;
		if ((r && r->reply[0] ? json_string(out, r->reply) : buf_appends(out, "null")) <
		        0 ||
		    json_relay(r, out) < 0 || buf_appendc(out, '}') < 0)
			return -1;
	}
	return buf_appendc(out, ']');
}

/* json_time - seconds since the epoch, or null for "never" */
static int
json_time(struct buf *out, const char *name, int64_t t)
{
	if (t <= 0)
		return buf_printf(out, ", \"%s\": null", name);
	return buf_printf(out, ", \"%s\": %" PRId64, name, t);
}

int
spool_format_json(const struct spool_msg *m, struct buf *out)
{
	const char *err = m->bad ? m->why : spool_last_error(m);

	if (buf_printf(out, "{\"id\": \"%s\", \"state\": \"%s\"", m->id,
	               spool_state_name(m->where)) < 0 ||
	    json_time(out, "queued_at", m->env.queued_at) < 0 ||
	    json_time(out, "next_attempt", m->st.next_attempt) < 0 ||
	    buf_printf(out, ", \"attempts\": %u, \"size\": %" PRIu64 ", \"sender\": ",
	               m->st.attempts, m->size) < 0 ||
	    json_string(out, m->env.sender) < 0 || buf_appends(out, ", \"recipients\": ") < 0 ||
	    json_rcpts(m, out) < 0 || buf_appends(out, ", \"last_error\": ") < 0)
		return -1;
	if ((err ? json_string(out, err) : buf_appends(out, "null")) < 0)
		return -1;
	return buf_appends(out, "}\n");
}

/* fmt_time - "2026-11-24 16:00:00" (UTC) or "-" */
static void
fmt_time(int64_t t, char *out, size_t outsize)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, outsize, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		(void)bounded_copy(out, outsize, "-");
}

const char *
spool_row_header(void)
{
	return "ID                            STATE     QUEUED_AT (UTC)      NEXT_ATTEMPT (UTC)   "
	       "TRIES     SIZE SENDER -> RECIPIENTS\n";
}

int
spool_format_row(const struct spool_msg *m, struct buf *out)
{
	char q[32], n[32];
	const struct state_rcpt *r;
	size_t i;

	fmt_time(m->env.queued_at, q, sizeof(q));
	fmt_time(m->st.next_attempt, n, sizeof(n));
	if (buf_printf(out, "%-29s %-9s %-20s %-20s %5u %8" PRIu64 " <%s> ->", m->id,
	               spool_state_name(m->where), q, n, m->st.attempts, m->size,
	               m->bad ? "?" : m->env.sender) < 0)
		return -1;
	for (i = 0; i < m->env.n_rcpts; i++) {
		r = rcpt_state(m, m->env.rcpts[i]);
		if (buf_printf(out, " <%s>", m->env.rcpts[i]) < 0 ||
		    (r && r->status != RCPT_PENDING &&
		     buf_printf(out, "(%s)", state_status_name(r->status)) < 0))
			return -1;
	}
	if (m->bad && buf_printf(out, " [invalid: %s]", m->why) < 0)
		return -1;
	return buf_appendc(out, '\n');
}

/* prom - one metric with its HELP and TYPE lines */
static int
prom(struct buf *out, const char *name, const char *type, const char *help, uint64_t v)
{
	return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name,
	                  type, name, v);
}

/* stats_prometheus - node_exporter textfile format */
static int
stats_prometheus(const struct spool_stats *s, uint64_t age, struct buf *out)
{
	int i;

	if (buf_appends(out, "# HELP mailout_queue_messages Messages in the spool by state.\n"
	                     "# TYPE mailout_queue_messages gauge\n") < 0)
		return -1;
	for (i = 0; i < SPOOL_NSTATES; i++)
		if (buf_printf(out, "mailout_queue_messages{state=\"%s\"} %" PRIu64 "\n",
		               spool_state_name((enum spool_state)i), s->count[i]) < 0)
			return -1;
	if (prom(out, "mailout_queue_size_bytes", "gauge",
	         "Total size of the messages in the spool.", s->bytes) < 0 ||
	    prom(out, "mailout_queue_oldest_message_age_seconds", "gauge",
	         "Age of the oldest message in the spool (0 when empty).", age) < 0 ||
	    prom(out, "mailout_delivered_total", "counter",
	         "Recipients the gateway accepted (mailout-deliver's counters file).",
	         s->counters.delivered) < 0 ||
	    prom(out, "mailout_bounced_total", "counter", "Recipients bounced to the sender.",
	         s->counters.bounced) < 0 ||
	    prom(out, "mailout_deferred_total", "counter", "Recipient attempts deferred (4xx).",
	         s->counters.deferred) < 0)
		return -1;
	return 0;
}

int
spool_format_stats(const struct spool_stats *s, int64_t now, int json, struct buf *out)
{
	uint64_t age = s->oldest > 0 && now > s->oldest ? (uint64_t)(now - s->oldest) : 0;

	if (json == 2)
		return stats_prometheus(s, age, out);
	if (json == 1)
		return buf_printf(
		    out,
		    "{\"queued\": %" PRIu64 ", \"deferred\": %" PRIu64 ", \"held\": %" PRIu64
		    ", \"size\": %" PRIu64 ", \"oldest_age\": %" PRIu64 ", \"delivered\": %" PRIu64
		    ", \"bounced\": %" PRIu64 ", \"deferred_attempts\": %" PRIu64 "}\n",
		    s->count[SPOOL_QUEUED], s->count[SPOOL_DEFERRED], s->count[SPOOL_HELD],
		    s->bytes, age, s->counters.delivered, s->counters.bounced,
		    s->counters.deferred);
	return buf_printf(out,
	                  "queued:     %" PRIu64 "\ndeferred:   %" PRIu64 "\nheld:       %" PRIu64
	                  "\nsize:       %" PRIu64 " bytes\noldest:     %" PRIu64
	                  " s\ndelivered:  %" PRIu64 "\nbounced:    %" PRIu64 "\n",
	                  s->count[SPOOL_QUEUED], s->count[SPOOL_DEFERRED], s->count[SPOOL_HELD],
	                  s->bytes, age, s->counters.delivered, s->counters.bounced);
}
