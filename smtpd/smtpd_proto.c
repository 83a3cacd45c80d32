/*
 * smtpd_proto.c - one SMTP session: greeting, command loop, command table
 *
 * What it is for: the RFC 5321 dialogue with one client: the pregreet
 * test, the banner (or the policy's refusal), reading command lines
 * with a hard cap, dispatching them from a table, replying with
 * enhanced status codes (RFC 2034), counting errors, and STARTTLS
 * (RFC 3207) with the session reset it requires.
 * What it must never do: answer a command that was injected in plain
 * text before TLS started, read the tail of an over-long line as a
 * command, wait for input while replies are pending, or accept a
 * message the policy refused.
 */
#include "smtpd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "smtpd_inspect.h"
#include "smtpd_tls.h"

typedef void (*cmd_fn)(struct session *s, const struct smtp_cmd *c);

/* NOOP, VRFY, RSET and HELP are free this many times between accepted
 * MAIL commands; each one more counts as an error (Postfix
 * smtpd_junk_command_limit), so a flood of them ends the session. */
#define JUNK_COMMANDS_MAX 100

/* the handlers are below the table's users; smtpd_cmd.c has the rest */
static void cmd_helo(struct session *s, const struct smtp_cmd *c);
static void cmd_data(struct session *s, const struct smtp_cmd *c);
static void cmd_bdat(struct session *s, const struct smtp_cmd *c);
static void cmd_rset(struct session *s, const struct smtp_cmd *c);
static void cmd_noop(struct session *s, const struct smtp_cmd *c);
static void cmd_quit(struct session *s, const struct smtp_cmd *c);
static void cmd_vrfy(struct session *s, const struct smtp_cmd *c);
static void cmd_help(struct session *s, const struct smtp_cmd *c);
static void cmd_other(struct session *s, const struct smtp_cmd *c);

/* qmail commands.c style: one row per verb */
static const struct {
	enum smtp_verb verb;
	cmd_fn fn;
} commands[] = {
    {V_HELO, cmd_helo},       {V_EHLO, cmd_helo},       {V_MAIL, smtpd_cmd_mail},
    {V_RCPT, smtpd_cmd_rcpt}, {V_DATA, cmd_data},       {V_BDAT, cmd_bdat},
    {V_RSET, cmd_rset},       {V_NOOP, cmd_noop},       {V_QUIT, cmd_quit},
    {V_VRFY, cmd_vrfy},       {V_HELP, cmd_help},       {V_STARTTLS, smtpd_cmd_starttls},
    {V_EXPN, cmd_other},      {V_AUTH, smtpd_cmd_auth}, {V_UNKNOWN, cmd_other},
};

/* peer_address - getpeername on the connection; UCSPI's TCPREMOTEIP
 * when it is not a socket (a pipe in a test); "::" when neither */
static void
peer_address(int fd, struct net_addr *addr)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const char *env;

	memset(addr, 0, sizeof(*addr));
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0 &&
	    net_addr_from_sockaddr((struct sockaddr *)&ss, addr) == 0)
		return;
	env = getenv("TCPREMOTEIP");
	if (env && net_addr_parse(env, addr) == 0)
		return;
	memset(addr, 0, sizeof(*addr));
}

void
smtpd_session_init(struct session *s, const struct config *cfg, const struct conf_listener *l,
                   const char *config_path, int rfd, int wfd)
{
	struct net_addr addr;

	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->listener = l;
	s->config_path = config_path;
	if (bounded_copy(s->hostname, sizeof(s->hostname), conf_hostname(cfg)) < 0)
		(void)bounded_copy(s->hostname, sizeof(s->hostname), "localhost");
	io_init(&s->io, rfd, wfd);
	s->io.write_timeout = cfg->limits.command_timeout;
	peer_address(rfd, &addr);
	policy_client_init(&s->pc, cfg, l, &addr);
	net_addr_format(&addr, s->pc.addr_str, sizeof(s->pc.addr_str));
	/* XXX: reverse DNS comes later; TCPREMOTEHOST is never trusted */
	(void)bounded_copy(s->pc.name, sizeof(s->pc.name), "unknown");
	buf_init(&s->tx.rcpts, (size_t)cfg->limits.recipients * (ADDR_PATH_MAX + 1) + 1);
	queue_init(&s->tx.q);
}

void
smtpd_tx_reset(struct session *s)
{
	struct smtpd_tx *tx = &s->tx;

	if (queue_running(&tx->q))
		queue_abort(&tx->q);
	if (tx->open) {
		header_scan_free(&tx->hs);
		buf_free(&tx->canon);
		buf_free(&tx->hold);
	}
	tx->mail = tx->open = tx->bdat = tx->rewrite = false;
	tx->nrcpt = 0;
	tx->rcpt_overshoot = 0;
	tx->bdat_start = 0;
	buf_reset(&tx->rcpts);
	tx->error.code = 0;
	tx->q.id[0] = '\0';
}

/* log_clean - client text must not shape a log line: C0 controls and
 * DEL become '?', and so do U+2028, U+2029 and the bidi controls
 * U+202A..U+202E, U+2066..U+2069 (a viewer breaks or reorders the
 * line at them); other UTF-8 stays */
static void
log_clean(char *line)
{
	unsigned char *u;

	for (u = (unsigned char *)line; *u; u++) {
		if (*u < 0x20 || *u == 0x7f) {
			*u = '?';
		} else if (u[0] == 0xe2 && ((u[1] == 0x80 && u[2] >= 0xa8 && u[2] <= 0xae) ||
		                            (u[1] == 0x81 && u[2] >= 0xa6 && u[2] <= 0xa9))) {
			u[0] = u[1] = u[2] = '?';
			u += 2;
		}
	}
}

void
smtpd_log(const struct session *s, const char *id, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	bool tls = s->io.ssl != NULL;
	struct log_field f[] = {
	    {"QUEUE_ID", id},
	    {"CLIENT_ADDR", s->pc.addr_str},
	    {"CLIENT_NAME", s->pc.name},
	    {"TLS_VERSION", tls ? s->tls_version : NULL},
	    {"TLS_CIPHER", tls ? s->tls_cipher : NULL},
	};

	va_start(ap, fmt);
	if (vsnprintf(line, sizeof(line), fmt, ap) < 0)
		line[0] = '\0';
	va_end(ap);
	log_clean(line);
	log_fields_text(LOG_INFO, f, sizeof(f) / sizeof(f[0]), line);
}

/* finish - end the session: close TLS, exit */
static __attribute__((noreturn)) void
finish(struct session *s)
{
	smtpd_tx_reset(s);
	rewrite_free(&s->rw);
	tls_stop(&s->io);
	smtpd_log(s, NULL, "disconnect from %s[%s]", s->pc.name, s->pc.addr_str);
	exit(0);
}

void
smtpd_drop(struct session *s, const char *esc, const char *why)
{
	struct reply r;

	if (why) {
		reply_set(&r, 421, esc, "%s %s", s->hostname, why);
		(void)io_put_reply(&s->io, &r);
		(void)io_flush(&s->io);
	}
	finish(s);
}

/* count_error - Postfix smtpd_hard_error_limit: limits.errors ends it */
static void
count_error(struct session *s)
{
	if (++s->errors >= s->cfg->limits.errors && s->cfg->limits.errors > 0) {
		smtpd_log(s, NULL, "too many errors from %s[%s]", s->pc.name, s->pc.addr_str);
		smtpd_drop(s, ESC_SECURITY, "Error: too many errors");
	}
}

/* is_error - every 4xx/5xx, except 452 4.5.3: past limits.recipients
 * the client is asked to send the rest in another transaction (RFC 5321
 * 4.5.3.1.10), which is no error (smtpd_cmd.c caps the overshoot) */
static bool
is_error(const struct reply *r)
{
	return r->code >= 400 &&
	       !(r->code == 452 && r->esc && strcmp(r->esc, ESC_TOO_MANY_RCPT) == 0);
}

void
smtpd_reply(struct session *s, const struct reply *r)
{
	if (io_put_reply(&s->io, r) != IO_OK) {
		smtpd_log(s, NULL, "lost connection from %s[%s]", s->pc.name, s->pc.addr_str);
		finish(s);
	}
	if (is_error(r))
		count_error(s);
}

void
smtpd_reply_code(struct session *s, int code, const char *esc, const char *text)
{
	struct reply r;

	reply_set_text(&r, code, esc, text);
	smtpd_reply(s, &r);
}

/* put_keyword - one fixed line of the EHLO reply (no printf for it) */
static void
put_keyword(struct session *s, const char *line)
{
	(void)io_put_text(&s->io, line, strlen(line));
}

/* cmd_helo - HELO/EHLO (RFC 5321 4.1.1.1); a new EHLO resets */
static void
cmd_helo(struct session *s, const struct smtp_cmd *c)
{
	bool ehlo = c->verb == V_EHLO;

	if (c->arg_len == 0) {
		smtpd_reply_code(s, 501, ESC_BAD_ARGS,
		                 ehlo ? "Syntax: EHLO hostname" : "Syntax: HELO hostname");
		return;
	}
	smtpd_tx_reset(s);
	smtp_sanitize(c->arg, c->arg_len, s->pc.helo, sizeof(s->pc.helo));
	s->helo = true;
	s->esmtp = ehlo;
	if (!ehlo) {
		(void)io_put_line(&s->io, "250 %s", s->hostname);
		return;
	}
	/* RFC 2034: no enhanced codes in the EHLO keyword lines */
	(void)io_put_line(&s->io, "250-%s", s->hostname);
	put_keyword(s, "250-PIPELINING");
	(void)io_put_line(&s->io, "250-SIZE %llu", (unsigned long long)s->cfg->limits.message_size);
	put_keyword(s, "250-8BITMIME");
	put_keyword(s, "250-ENHANCEDSTATUSCODES");
	if (s->listener->tls == LISTENER_TLS_STARTTLS && s->io.ssl == NULL &&
	    tls_configured(s->cfg))
		put_keyword(s, "250-STARTTLS");
	/* RFC 4954 4: no AUTH over plain text; RFC 4616 9 */
	if (s->io.ssl != NULL && s->listener->auth != LISTENER_AUTH_NONE && auth_configured(s->cfg))
		put_keyword(s, "250-AUTH PLAIN LOGIN");
	put_keyword(s, "250-SMTPUTF8");
	put_keyword(s, "250 CHUNKING");
}

static void
cmd_data(struct session *s, const struct smtp_cmd *c)
{
	if (c->arg_len != 0)
		smtpd_reply_code(s, 501, ESC_BAD_ARGS, "Syntax: DATA");
	else if (s->tx.bdat)
		smtpd_reply_code(s, 503, ESC_BAD_SEQ, "Error: DATA after BDAT");
	else if (!s->tx.mail)
		smtpd_reply_code(s, 503, ESC_BAD_SEQ, "Error: need MAIL command");
	else if (s->tx.nrcpt == 0)
		smtpd_reply_code(s, 503, ESC_BAD_SEQ, "Error: no valid recipients");
	else
		(void)smtpd_data(s);
}

static void
cmd_bdat(struct session *s, const struct smtp_cmd *c)
{
	struct reply r;
	uint64_t size;
	bool last;

	if (smtp_parse_bdat(c->arg, c->arg_len, &size, &last, &r) != RES_OK) {
		/* the chunk's length is unknown: its octets would be read
		 * as commands, so this session cannot go on */
		(void)io_put_reply(&s->io, &r);
		smtpd_drop(s, ESC_BAD_ARGS, "Malformed BDAT");
	}
	(void)smtpd_bdat(s, size, last);
}

static void
cmd_rset(struct session *s, const struct smtp_cmd *c)
{
	if (c->arg_len != 0) {
		smtpd_reply_code(s, 501, ESC_BAD_ARGS, "Syntax: RSET");
		return;
	}
	smtpd_tx_reset(s);
	smtpd_reply_code(s, 250, ESC_OK, "Ok");
}

static void
cmd_noop(struct session *s, const struct smtp_cmd *c)
{
	smtpd_reply_code(s, 250, ESC_OK, "Ok");
}

static void
cmd_quit(struct session *s, const struct smtp_cmd *c)
{
	smtpd_reply_code(s, 221, ESC_OK, "Bye");
	s->quit = true;
}

static void
cmd_vrfy(struct session *s, const struct smtp_cmd *c)
{
	if (c->arg_len == 0)
		smtpd_reply_code(s, 501, ESC_BAD_ARGS, "Syntax: VRFY address");
	else
		smtpd_reply_code(s, 252, ESC_VRFY,
		                 "Cannot VRFY user, but will accept message and attempt delivery");
}

static void
cmd_help(struct session *s, const struct smtp_cmd *c)
{
	smtpd_reply_code(
	    s, 214, ESC_OK,
	    "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH");
}

static void
cmd_other(struct session *s, const struct smtp_cmd *c)
{
	if (c->verb == V_EXPN)
		smtpd_reply_code(s, 502, ESC_BAD_CMD, "Error: command not implemented");
	else
		smtpd_reply_code(s, 500, ESC_UNKNOWN_CMD, "Error: command not recognized");
}

/* is_junk - a command that moves no mail forward */
static bool
is_junk(enum smtp_verb v)
{
	return v == V_NOOP || v == V_VRFY || v == V_RSET || v == V_HELP;
}

/* dispatch - one command line */
static void
dispatch(struct session *s, const char *line, size_t len)
{
	struct smtp_cmd c;
	bool had_mail;
	size_t i;

	smtp_cmd_parse(line, len, &c);
	if (s->refused) {
		/* RFC 5321 3.1: after a 554 greeting, 503 until QUIT */
		if (c.verb == V_QUIT)
			cmd_quit(s, &c);
		else
			smtpd_reply_code(s, 503, ESC_BAD_SEQ,
			                 "Error: access denied for this client");
		return;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (commands[i].verb == c.verb) {
			had_mail = s->tx.mail;
			commands[i].fn(s, &c);
			if (!had_mail && s->tx.mail)
				s->junk_commands = 0;
			else if (is_junk(c.verb) && ++s->junk_commands > JUNK_COMMANDS_MAX)
				count_error(s);
			return;
		}
	}
	cmd_other(s, &c);
}

/* fill_by - io_fill with what is left until deadline (monotonic ms),
 * in whole seconds rounded up; IO_TIMEOUT once it has passed */
static enum io_status
fill_by(struct session *s, long long deadline)
{
	long long left = deadline - mono_ms();

	if (left <= 0)
		return IO_TIMEOUT;
	return io_fill(&s->io, (unsigned)((left + 999) / 1000));
}

/* smtpd_next_line - one deadline for the whole line (Postfix
 * smtpd_per_request_deadline): a client that trickles a line one octet
 * at a time cannot hold the session past limits.command_timeout */
size_t
smtpd_next_line(struct session *s, char *line, size_t max, bool *too_long)
{
	long long deadline = mono_ms() + (long long)s->cfg->limits.command_timeout * 1000;
	enum line_status ls;
	enum io_status st;
	size_t len, used;

	*too_long = false;
	for (;;) {
		ls = smtp_line_take(&s->ls, buf_cstr(&s->io.in), s->io.in.len, max, &len, &used);
		if (ls == LINE_OK)
			memcpy(line, s->io.in.s, len);
		buf_consume(&s->io.in, used);
		if (ls == LINE_OK)
			return len;
		if (ls == LINE_TOO_LONG) {
			*too_long = true;
			return 0;
		}
		if (used > 0 && s->io.in.len > 0)
			continue;
		st = fill_by(s, deadline);
		if (st == IO_TIMEOUT)
			smtpd_drop(s, ESC_TIMEOUT, "Error: timeout exceeded");
		if (st != IO_OK) {
			smtpd_log(s, NULL, "lost connection from %s[%s]", s->pc.name,
			          s->pc.addr_str);
			finish(s);
		}
	}
}

/* pregreet - a client that talks before the banner is a bot (Postfix
 * postscreen); only on sockets: a test pipe holds the whole script */
static void
pregreet(struct session *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int rc;

	if (getpeername(s->io.rfd, (struct sockaddr *)&ss, &len) < 0)
		return;
	rc = io_readable(&s->io, (int)s->cfg->limits.pregreet_wait * 1000);
	if (rc <= 0)
		return;
	smtpd_log(s, NULL, "NOQUEUE: reject: CONNECT from %s[%s]: talked before the greeting",
	          s->pc.name, s->pc.addr_str);
	smtpd_reply_code(s, 554, ESC_POLICY, "Error: talked before the greeting");
	(void)io_flush(&s->io);
	finish(s);
}

/* implicit_tls - RFC 8314 3.3: TLS before the banner */
static void
implicit_tls(struct session *s)
{
	inspect_before_secrets(s->cfg); /* before the key is loaded */
	if (tls_prepare(s->cfg) != RES_OK) {
		log_warn("TLS is not available for listener %s", s->listener->name);
		finish(s);
	}
	if (tls_start(&s->io, s->cfg->limits.command_timeout, s->tls_version,
	              sizeof(s->tls_version), s->tls_cipher, sizeof(s->tls_cipher)) != RES_OK) {
		smtpd_log(s, NULL, "TLS handshake failed with %s[%s]", s->pc.name, s->pc.addr_str);
		finish(s);
	}
	s->pc.tls = true;
}

/* greet - the banner, or the policy's refusal (RFC 5321 3.1) */
static void
greet(struct session *s)
{
	char line[REPLY_TEXT_MAX + 32];
	struct reply r;

	if (policy_connect(&s->pc, &r) == RES_OK) {
		(void)io_put_line(&s->io, "220 %s ESMTP mailout", s->hostname);
		return;
	}
	if (reply_format(&r, line, sizeof(line)) < 0)
		line[sizeof(line) - 1] = '\0';
	smtpd_log(s, NULL, "NOQUEUE: reject: CONNECT from %s[%s]: %s", s->pc.name, s->pc.addr_str,
	          line);
	s->refused = true;
	(void)io_put_reply(&s->io, &r);
	if (r.code < 500) /* a temporary refusal closes at once */
		smtpd_drop(s, NULL, NULL);
}

int
smtpd_session_run(struct session *s)
{
	/* AUTH's line may be 12288 octets (RFC 4954 4), every other
	 * command's 512 (RFC 5321 4.5.3.1.4) */
	static char line[AUTH_LINE_MAX];
	struct smtp_cmd c;
	bool too_long;
	size_t len;

	smtpd_log(s, NULL, "connect from %s[%s]", s->pc.name, s->pc.addr_str);
	if (s->listener->tls == LISTENER_TLS_IMPLICIT)
		implicit_tls(s);
	else
		pregreet(s);
	greet(s);
	while (!s->quit) {
		len = smtpd_next_line(s, line, sizeof(line), &too_long);
		smtp_cmd_parse(line, len, &c);
		if (too_long || (c.verb != V_AUTH && len + 2 > SMTP_LINE_MAX))
			smtpd_reply_code(s, 500, ESC_SYNTAX, "Error: line too long");
		else
			dispatch(s, line, len);
	}
	(void)io_flush(&s->io);
	finish(s);
}
