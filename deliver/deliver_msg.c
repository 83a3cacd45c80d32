/*
 * deliver_msg.c - one message: lock, attempt, record, bounce, move
 *
 * What it is for: the life of a spool file during one attempt.  The
 * file is locked (flock, LOCK_NB: another run has it, skip) and the
 * path is checked to still name the locked inode (else another run has
 * finished it), so two runs never deliver a message twice.  After the
 * attempt the state file is written atomically first; only then is the
 * message unlinked (all recipients sent or bounced) or moved from new/
 * to deferred/.  A crash anywhere leaves either the old or the new
 * state: at worst a recipient is sent again (at-least-once).
 * What it must never do: remove a message before every recipient's
 * outcome is durable, bounce a message whose sender is <> (it goes
 * once to queue.postmaster, then is dropped), or treat our own trouble
 * as a reason to bounce.
 */
#include "deliver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

unsigned
deliver_backoff(const struct config *cfg, unsigned attempts)
{
	uint64_t d = cfg->queue.retry_min ? cfg->queue.retry_min : 1;

	for (unsigned i = 1; i < attempts && d < cfg->queue.retry_max; i++)
		d *= 2;
	if (cfg->queue.retry_max && d > cfg->queue.retry_max)
		d = cfg->queue.retry_max;
	return (unsigned)d;
}

/* log_outcome - Postfix's shape: "ID: to=<a>, relay=..., delay=S, status=..." */
static void
log_outcome(const struct msg_job *m, const char *relay, const struct state_rcpt *r, int64_t now)
{
	char delay[32];
	const char *status = state_status_name(r->status);
	struct log_field f[] = {
	    {"QUEUE_ID", m->id}, {"RELAY", relay}, {"STATUS", status}, {"RECIPIENT", r->addr}};

	(void)bounded_format(delay, sizeof(delay), "%lld", (long long)(now - m->env.queued_at));
	log_fields(r->status == RCPT_SENT ? LOG_INFO : LOG_NOTICE, f, 4,
	           "%s: to=<%s>, relay=%s, delay=%s, status=%s (%s)", m->id, r->addr, relay, delay,
	           r->status == RCPT_FAILED ? "bounced" : status, r->reply);
}

/* try_rcpts - the gateway attempt for every recipient still open */
static int
try_rcpts(struct deliver_ctx *ctx, struct gw_session *s, const struct msg_job *m,
          struct mail_state *st, struct rcpt_try *t, int64_t now)
{
	size_t n = 0;
	bool connected;

	for (size_t i = 0; i < m->env.n_rcpts; i++) {
		struct state_rcpt *r = state_rcpt_find(st, m->env.rcpts[i]);
		bool dup = false;

		for (size_t k = 0; k < n && !dup; k++)
			dup = strcmp(t[k].addr, m->env.rcpts[i]) == 0;
		if (dup || (r && (state_rcpt_done(r->status) || r->status == RCPT_FAILED)))
			continue;
		memset(&t[n], 0, sizeof(t[n]));
		t[n++].addr = m->env.rcpts[i];
	}
	if (n == 0)
		return 0;
	if (!s->up && !s->dead)
		(void)gw_open(s, ctx);
	/* every outcome of a session names its gateway, also one decided
	 * here (553 5.6.7 without SMTPUTF8) or a lost connection; gw_send
	 * sets s->relay to "none" only when it could not reconnect.  Who
	 * decided (t[i].remote) is recorded with it, for the bounce. */
	connected = s->up;
	if (connected)
		gw_send(s, ctx, m, t, n);
	else
		for (size_t i = 0; i < n; i++) {
			t[i].status = RCPT_DEFERRED;
			(void)bounded_copy(t[i].reply, sizeof(t[i].reply), s->why);
		}
	for (size_t i = 0; i < n; i++) {
		struct state_rcpt *r;

		ctx->tally.delivered += t[i].status == RCPT_SENT;
		ctx->tally.deferred += t[i].status == RCPT_DEFERRED;
		if (state_rcpt_set(st, t[i].addr, t[i].status, now, t[i].reply) < 0)
			return -1;
		r = state_rcpt_find(st, t[i].addr);
		state_rcpt_origin(r, t[i].remote ? ORIGIN_GATEWAY : ORIGIN_LOCAL, t[i].relay);
		log_outcome(m, r->relay[0] ? r->relay : "none", r, now);
	}
	return (int)n;
}

/* expire - past queue.lifetime, what is still deferred fails */
static void
expire(struct deliver_ctx *ctx, const struct msg_job *m, struct mail_state *st, int64_t now)
{
	if (now - m->env.queued_at < (int64_t)ctx->cfg->queue.lifetime)
		return;
	for (size_t i = 0; i < st->n_rcpts; i++)
		if (st->rcpts[i].status == RCPT_DEFERRED) {
			st->rcpts[i].status = RCPT_FAILED;
			log_info("%s: to=<%s>, status=expired, returned to sender (queue.lifetime)",
			         m->id, st->rcpts[i].addr);
		}
}

/* dsn_status - "5.1.1" from a stored reply; 4xx that expired: 5.4.7 */
static void
dsn_status(const char *reply, bool delayed, char *out, size_t outsize)
{
	const char *sp = strchr(reply, ' ');
	size_t n = sp ? strcspn(sp + 1, " ") : 0;

	if (!delayed && reply[0] != '5') {
		(void)bounded_copy(out, outsize, "5.4.7");
		return;
	}
	if (sp && n >= 5 && n < outsize && sp[1] == reply[0] && sp[2] == '.') {
		memcpy(out, sp + 1, n);
		out[n] = '\0';
		return;
	}
	(void)bounded_copy(out, outsize, delayed ? "4.0.0" : "5.0.0");
}

/* per-recipient text a DSN points into */
struct dsn_text {
	char code[16];
	char host[STATE_RELAY_MAX];
};

/* dsn_rcpt_of - the DSN entry of a recorded outcome: who decided it
 * and the gateway's name come from the state line; a line of unknown
 * origin (an older deliverer) gets host, this run's gateway if up */
static struct dsn_rcpt
dsn_rcpt_of(const struct state_rcpt *sr, enum dsn_kind kind, const char *host, struct dsn_text *txt)
{
	const char *mta = host;

	dsn_status(sr->reply, kind == DSN_DELAYED, txt->code, sizeof(txt->code));
	if (sr->origin != ORIGIN_UNKNOWN) {
		state_relay_host(sr->relay, txt->host, sizeof(txt->host));
		mta = sr->origin == ORIGIN_GATEWAY && txt->host[0] ? txt->host : NULL;
	}
	return (struct dsn_rcpt){sr->addr, txt->code, sr->reply, mta, sr->origin};
}

/* notify - one DSN for every recipient in state want; marks them */
static enum result
notify(struct deliver_ctx *ctx, const struct msg_job *m, struct mail_state *st,
       enum rcpt_status want, enum dsn_kind kind, const char *to, const char *host)
{
	struct dsn_rcpt *d = calloc(st->n_rcpts ? st->n_rcpts : 1, sizeof(*d));
	struct dsn_text *txt = calloc(st->n_rcpts ? st->n_rcpts : 1, sizeof(*txt));
	size_t n = 0;
	enum result r = RES_TEMP;

	if (d && txt) {
		for (size_t i = 0; i < st->n_rcpts; i++) {
			if (st->rcpts[i].status != want)
				continue;
			d[n] = dsn_rcpt_of(&st->rcpts[i], kind, host, &txt[n]);
			n++;
		}
		r = bounce_queue(ctx, m, d, n, kind, to);
	}
	free(d);
	free(txt);
	return r;
}

/* bounces - DSNs for failed recipients, a delay warning when due;
 * relay: this run's gateway host when up (for lines of unknown origin) */
static void
bounces(struct deliver_ctx *ctx, const struct msg_job *m, struct mail_state *st, int64_t now,
        const char *relay)
{
	const struct config *cfg = ctx->cfg;
	const char *pm = cfg->queue.postmaster;
	bool failed = false, deferred = false, drop;
	size_t hl = spool_message_headers(m->body, m->body_len);
	enum result r = RES_OK;

	for (size_t i = 0; i < st->n_rcpts; i++) {
		failed |= st->rcpts[i].status == RCPT_FAILED;
		deferred |= st->rcpts[i].status == RCPT_DEFERRED;
	}
	if (failed) {
		drop =
		    m->env.sender[0] == '\0' && (dsn_is_double_bounce(m->body, hl) || !pm || !*pm);
		if (drop)
			log_warn("%s: undeliverable message from <> (double bounce): dropped",
			         m->id);
		else if (m->env.sender[0] == '\0')
			r = notify(ctx, m, st, RCPT_FAILED, DSN_DOUBLE, pm, relay);
		else
			r = notify(ctx, m, st, RCPT_FAILED, DSN_FAILED, m->env.sender, relay);
		for (size_t i = 0; r == RES_OK && i < st->n_rcpts; i++)
			if (st->rcpts[i].status == RCPT_FAILED) {
				st->rcpts[i].status = RCPT_BOUNCED;
				ctx->tally.bounced++;
			}
		if (r != RES_OK)
			log_warn("%s: cannot queue the bounce; will retry", m->id);
	}
	if (deferred && !st->warned && cfg->queue.delay_warning && m->env.sender[0] &&
	    now - m->env.queued_at >= (int64_t)cfg->queue.delay_warning &&
	    notify(ctx, m, st, RCPT_DEFERRED, DSN_DELAYED, m->env.sender, relay) == RES_OK)
		st->warned = true;
}

/* finish - record the state, then unlink or move the message */
static enum msg_outcome
finish(struct deliver_ctx *ctx, int dirfd, const char *dirname, const struct msg_job *m,
       const struct mail_state *st)
{
	bool done = true;

	for (size_t i = 0; i < m->env.n_rcpts; i++) {
		const struct state_rcpt *r =
		    state_rcpt_find((struct mail_state *)st, m->env.rcpts[i]);
		done = done && r && state_rcpt_done(r->status);
	}
	/* done: removing the message is the record (a crash before it costs
	 * a duplicate, never a loss); else the state must be durable first */
	if (!done && state_save(ctx->dir_state, m->id, st) != RES_OK) {
		log_warn_errno("%s: unable to write state/%s", m->id, m->id);
		return MSG_ERROR;
	}
	if (done) {
		if ((unlinkat(dirfd, m->id, 0) < 0 && errno != ENOENT) || fsync(dirfd) < 0 ||
		    (unlinkat(ctx->dir_state, m->id, 0) == 0 && fsync(ctx->dir_state) < 0)) {
			log_warn_errno("%s: unable to remove %s/%s", m->id, dirname, m->id);
			return MSG_ERROR;
		}
		log_info("%s: removed", m->id);
		return MSG_DONE;
	}
	if (dirfd != ctx->dir_deferred && (renameat(dirfd, m->id, ctx->dir_deferred, m->id) < 0 ||
	                                   fsync(ctx->dir_deferred) < 0 || fsync(dirfd) < 0)) {
		log_warn_errno("%s: unable to move %s/%s to deferred/", m->id, dirname, m->id);
		return MSG_ERROR;
	}
	return MSG_DEFERRED;
}

/* attempt - one delivery attempt of a locked, mapped message */
static enum msg_outcome
attempt(struct deliver_ctx *ctx, struct gw_session *s, int dirfd, const char *dirname,
        struct msg_job *m)
{
	struct mail_state st;
	struct rcpt_try *t;
	int64_t now = time(NULL);
	int bad, tried;
	enum msg_outcome o = MSG_ERROR;

	state_init(&st);
	if (state_load(ctx->dir_state, m->id, &st, &bad) != RES_OK) {
		log_warn_errno("%s: unable to read state/%s", m->id, m->id);
		return MSG_ERROR;
	}
	if (bad)
		log_warn("%s: state/%s: %d malformed lines ignored", m->id, m->id, bad);
	if (dirfd == ctx->dir_deferred && !ctx->flush && st.next_attempt > now) {
		state_free(&st);
		return MSG_SKIPPED;
	}
	t = calloc(m->env.n_rcpts, sizeof(*t));
	if (t && (tried = try_rcpts(ctx, s, m, &st, t, now)) >= 0) {
		if (tried > 0)
			st.attempts++;
		if (!st.first_attempt)
			st.first_attempt = now;
		expire(ctx, m, &st, now);
		bounces(ctx, m, &st, now, s->up ? s->host : NULL);
		st.next_attempt = now + deliver_backoff(ctx->cfg, st.attempts ? st.attempts : 1);
		o = finish(ctx, dirfd, dirname, m, &st);
	}
	free(t);
	state_free(&st);
	return o;
}

/* quarantine - an unreadable spool file goes to hold/ for the admin */
static void
quarantine(struct deliver_ctx *ctx, int dirfd, const char *dirname, const char *id, const char *why)
{
	log_warn("%s: %s/%s is not a valid spool file (%s): moved to hold/", id, dirname, id, why);
	if (renameat(dirfd, id, ctx->dir_hold, id) < 0 || fsync(ctx->dir_hold) < 0 ||
	    fsync(dirfd) < 0)
		log_warn_errno("%s: unable to move %s/%s to hold/", id, dirname, id);
}

enum msg_outcome
deliver_message(struct deliver_ctx *ctx, struct gw_session *s, int dirfd, const char *dirname,
                const char *id)
{
	struct msg_job m;
	struct stat a, b;
	char why[128] = "";
	void *map = MAP_FAILED;
	enum msg_outcome o = MSG_SKIPPED;
	enum result r;
	int fd = openat(dirfd, id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return errno == ENOENT ? MSG_SKIPPED : MSG_ERROR;
	/* busy: another run has it; gone or replaced: another run finished it */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &a) < 0 ||
	    fstatat(dirfd, id, &b, AT_SYMLINK_NOFOLLOW) < 0 || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev || a.st_size == 0) {
		close(fd);
		return MSG_SKIPPED;
	}
	memset(&m, 0, sizeof(m));
	(void)bounded_copy(m.id, sizeof(m.id), id);
	map = mmap(NULL, (size_t)a.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		close(fd);
		return MSG_ERROR;
	}
	m.data = map;
	m.size = (size_t)a.st_size;
	r = spool_parse_envelope(m.data, m.size, &m.env, why, sizeof(why));
	if (r == RES_PERM)
		quarantine(ctx, dirfd, dirname, id, why);
	if (r == RES_OK) {
		m.body = m.data + m.env.body_offset;
		m.body_len = m.size - m.env.body_offset;
		o = attempt(ctx, s, dirfd, dirname, &m);
	}
	spool_envelope_free(&m.env);
	munmap(map, m.size);
	close(fd); /* drops the lock, after the state and the move are durable */
	return r == RES_OK ? o : MSG_ERROR;
}
