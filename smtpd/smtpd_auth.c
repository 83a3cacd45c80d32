/*
 * smtpd_auth.c - SMTP AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN
 *
 * What it is for: the AUTH command: where it may be given (inside TLS,
 * after EHLO, once, outside a transaction), the SASL exchange with its
 * base64 (strict: RFC 4648 4, padded, no blanks), PAM's
 * conversation (the rest of the credential check is smtpd_passwd.c's;
 * libpam is loaded on first use, smtpd_pam.c),
 * and the answer to guessing: each failure is answered after a
 * growing delay, the third ends the session, and failures are counted per client address across all
 * sessions (lib/client_state.c) so that an address past
 * auth.max_failures gets 454 4.7.0 until auth.failure_window passes.
 * Each failure is logged in one line that fail2ban can match.
 *
 * What it must never do: log, keep or echo a password; trust a length
 * that came with the client's data (the Exim AUTH bugs CVE-2018-6789
 * and CVE-2023-42115 were a decoded length computed wrong and a count
 * taken from the client); read a response longer than RFC 4954's 12288
 * octets; or accept AUTH outside TLS.
 */
#include "smtpd_auth.h"

#include <security/pam_appl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "client_state.h"
#include "log.h"
#include "mail_mime.h"
#include "smtpd.h"
#include "smtpd_pam.h"

int
sasl_decode(const char *in, size_t n, int allow_empty_marker, char *out, size_t outsize,
            size_t *outlen)
{
	size_t i, k, pad = 0, need, len = 0;
	unsigned long acc = 0;

	*outlen = 0;
	if (outsize == 0)
		return -1;
	out[0] = '\0';
	if (n == 0 || (allow_empty_marker && n == 1 && in[0] == '='))
		return 0;
	if (n % 4 != 0 || n > AUTH_LINE_MAX)
		return -1;
	for (i = 0; i < n; i++) {
		if (in[i] == '=' && i + 2 >= n) {
			pad++;
			continue;
		}
		if (pad > 0 || mime_base64_value((unsigned char)in[i]) < 0)
			return -1;
	}
	/* the length follows from the characters checked above, never from
	 * the data; the buffer must hold three octets per four characters
	 * (as with EVP_DecodeBlock before) and a NUL */
	if (n / 4 * 3 >= outsize)
		return -1;
	need = n / 4 * 3 - pad;
	for (i = 0; i < n; i++) {
		acc = (acc << 6) |
		      (unsigned long)(in[i] == '=' ? 0 : mime_base64_value((unsigned char)in[i]));
		if (i % 4 != 3)
			continue;
		for (k = 0; k < 3 && len < need; k++) /* 24 bits: three octets */
			out[len++] = (char)((acc >> (16 - 8 * k)) & 0xff);
		acc = 0;
	}
	*outlen = len;
	out[len] = '\0';
	return 0;
}

/* bad_token - 501 5.5.2 */
static enum result
bad_token(struct reply *r, const char *text)
{
	reply_set(r, 501, ESC_SYNTAX, "%s", text);
	return RES_PERM;
}

enum result
sasl_plain(const char *tok, size_t n, struct sasl_creds *c, struct reply *r)
{
	const char *z, *u = NULL, *p = NULL, *end = tok + n;
	size_t zlen, ulen, plen;

	memset(c, 0, sizeof(*c));
	if ((z = memchr(tok, '\0', n)) != NULL)
		u = z + 1;
	if (u && (z = memchr(u, '\0', (size_t)(end - u))) != NULL)
		p = z + 1;
	if (!p || memchr(p, '\0', (size_t)(end - p)) != NULL)
		return bad_token(
		    r, "Invalid AUTH PLAIN token: expected authzid NUL user NUL password");
	zlen = (size_t)(u - tok) - 1;
	ulen = (size_t)(p - u) - 1;
	plen = (size_t)(end - p);
	if (ulen == 0)
		return bad_token(r, "Invalid AUTH PLAIN token: no user id");
	if (zlen > AUTH_USER_MAX || ulen > AUTH_USER_MAX || plen > AUTH_PASS_MAX)
		return bad_token(r, "Invalid AUTH PLAIN token: too long");
	memcpy(c->authzid, tok, zlen);
	memcpy(c->user, u, ulen);
	memcpy(c->pass, p, plen);
	return RES_OK;
}

enum result
sasl_field(const char *dec, size_t n, char *out, size_t outsize, struct reply *r)
{
	if (n >= outsize || memchr(dec, '\0', n) != NULL)
		return bad_token(r, "Invalid AUTH LOGIN response");
	memcpy(out, dec, n);
	out[n] = '\0';
	return RES_OK;
}

void
sasl_wipe(struct sasl_creds *c)
{
	explicit_bzero(c, sizeof(*c));
}

/* struct pam_talk - what the conversation function hands to PAM */
struct pam_talk {
	const char *user, *pass;
};

/* pam_conv_fn - answer PAM's prompts: the password to a hidden prompt,
 * the user id to a visible one; nothing to messages */
static int
pam_conv_fn(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	const struct pam_talk *t = data;
	struct pam_response *r;
	int i;

	if (n <= 0 || n > PAM_MAX_NUM_MSG || (r = calloc((size_t)n, sizeof(*r))) == NULL)
		return PAM_CONV_ERR;
	for (i = 0; i < n; i++) {
		const char *answer = NULL;

		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF)
			answer = t->pass;
		else if (msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
			answer = t->user;
		if (answer && (r[i].resp = strdup(answer)) == NULL)
			goto fail;
	}
	*resp = r;
	return PAM_SUCCESS;
fail:
	for (i = 0; i < n; i++) {
		if (r[i].resp)
			explicit_bzero(r[i].resp, strlen(r[i].resp));
		free(r[i].resp);
	}
	free(r);
	return PAM_BUF_ERR;
}

/* pam_result - PAM's answer as ours: a wrong password or an unknown,
 * locked or expired account is permanent; anything else (the directory
 * is down, PAM_AUTHINFO_UNAVAIL, a module error) temporary */
static enum result
pam_result(int rc)
{
	switch (rc) {
	case PAM_SUCCESS:
		return RES_OK;
	case PAM_AUTH_ERR:
	case PAM_USER_UNKNOWN:
	case PAM_PERM_DENIED:
	case PAM_ACCT_EXPIRED:
	case PAM_NEW_AUTHTOK_REQD:
	case PAM_CRED_INSUFFICIENT:
		return RES_PERM;
	default:
		return RES_TEMP;
	}
}

enum result
auth_pam_check(const char *service, const char *user, const char *pass, const char *rhost)
{
	struct pam_talk talk = {user, pass};
	struct pam_conv conv = {pam_conv_fn, &talk};
	const struct pam_fns *pam = pam_fns_load();
	pam_handle_t *ph = NULL;
	int rc;

	if (pam == NULL)
		return RES_TEMP; /* logged: 454 4.7.0, as when the directory is down */
	rc = pam->start(service, user, &conv, &ph);
	if (rc == PAM_SUCCESS && rhost)
		rc = pam->set_item(ph, PAM_RHOST, rhost);
	if (rc == PAM_SUCCESS)
		rc = pam->authenticate(ph, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (rc == PAM_SUCCESS)
		rc = pam->acct_mgmt(ph, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (pam_result(rc) == RES_TEMP)
		log_warn("auth: PAM service %s: %s", service,
		         ph ? pam->strerror(ph, rc) : "cannot start");
	if (ph)
		(void)pam->end(ph, rc);
	return pam_result(rc);
}

/* The decoded response and the line it came in: static, so the stack
 * stays small; wiped after each use. */
static char auth_line[AUTH_LINE_MAX];
static char auth_dec[AUTH_DECODED_MAX + 1];

/* decode - a response (or the initial response) into auth_dec */
static enum result
decode(const char *in, size_t n, int initial, size_t *declen, struct reply *r)
{
	if (n == 1 && in[0] == '*') {
		/* RFC 4954 4: the client cancels the exchange */
		reply_set(r, 501, ESC_SECURITY, "Authentication cancelled");
		return RES_PERM;
	}
	if (sasl_decode(in, n, initial, auth_dec, sizeof(auth_dec), declen) < 0)
		return bad_token(r, "Cannot decode AUTH response: not base64");
	return RES_OK;
}

/* response - send a 334 challenge, read and decode the answer */
static enum result
response(struct session *s, const char *challenge, size_t *declen, struct reply *r)
{
	enum result res;
	bool too_long;
	size_t len;

	(void)io_put_line(&s->io, "334 %s", challenge);
	len = smtpd_next_line(s, auth_line, sizeof(auth_line), &too_long);
	if (too_long) {
		reply_set(r, 500, ESC_SYNTAX, "Error: AUTH response longer than %d octets",
		          AUTH_LINE_MAX);
		return RES_PERM;
	}
	res = decode(auth_line, len, 0, declen, r);
	explicit_bzero(auth_line, len);
	return res;
}

/* mech_plain - RFC 4616, with or without an initial response */
static enum result
mech_plain(struct session *s, const char *ir, size_t irlen, struct sasl_creds *c, struct reply *r)
{
	enum result res;
	size_t n;

	if (ir)
		res = decode(ir, irlen, 1, &n, r);
	else
		res = response(s, "", &n, r);
	if (res == RES_OK)
		res = sasl_plain(auth_dec, n, c, r);
	explicit_bzero(auth_dec, sizeof(auth_dec));
	return res;
}

/* mech_login - "Username:", "Password:" (draft-murchison-sasl-login);
 * an initial response is the user id */
static enum result
mech_login(struct session *s, const char *ir, size_t irlen, struct sasl_creds *c, struct reply *r)
{
	enum result res;
	size_t n;

	memset(c, 0, sizeof(*c));
	if (ir)
		res = decode(ir, irlen, 1, &n, r);
	else
		res = response(s, "VXNlcm5hbWU6", &n, r);
	if (res == RES_OK)
		res = sasl_field(auth_dec, n, c->user, sizeof(c->user), r);
	if (res == RES_OK)
		res = response(s, "UGFzc3dvcmQ6", &n, r);
	if (res == RES_OK)
		res = sasl_field(auth_dec, n, c->pass, sizeof(c->pass), r);
	explicit_bzero(auth_dec, sizeof(auth_dec));
	return res;
}

typedef enum result (*mech_fn)(struct session *s, const char *ir, size_t irlen,
                               struct sasl_creds *c, struct reply *r);

static const struct {
	const char *name;
	mech_fn fn;
} mechs[] = {{"PLAIN", mech_plain}, {"LOGIN", mech_login}};

/* auth_state - may AUTH be given now? */
static enum result
auth_state(struct session *s, struct reply *r)
{
	if (s->listener->auth == LISTENER_AUTH_NONE || !auth_configured(s->cfg)) {
		reply_set(r, 502, ESC_BAD_CMD, "Error: authentication not enabled");
		return RES_PERM;
	}
	if (!s->esmtp) {
		reply_set(r, 503, ESC_BAD_SEQ, "Error: send EHLO first");
		return RES_PERM;
	}
	if (s->io.ssl == NULL) {
		reply_set(r, 538, ESC_ENCRYPTION_REQUIRED,
		          "Must issue a STARTTLS command first: AUTH is offered only inside TLS");
		return RES_PERM;
	}
	if (s->pc.auth_user) {
		reply_set(r, 503, ESC_BAD_SEQ, "Error: already authenticated");
		return RES_PERM;
	}
	if (s->tx.mail) {
		reply_set(r, 503, ESC_BAD_SEQ, "Error: AUTH not allowed during a mail transaction");
		return RES_PERM;
	}
	return RES_OK;
}

/* auth_args - "MECH [initial-response]": the mechanism's index */
static enum result
auth_args(const struct smtp_cmd *c, size_t *mech, const char **ir, size_t *irlen, struct reply *r)
{
	size_t i, wlen = 0;

	while (wlen < c->arg_len && c->arg[wlen] != ' ')
		wlen++;
	*ir = NULL;
	*irlen = 0;
	if (wlen < c->arg_len) {
		*ir = c->arg + wlen + 1;
		*irlen = c->arg_len - wlen - 1;
		if (*irlen == 0 || memchr(*ir, ' ', *irlen) != NULL) {
			reply_set(r, 501, ESC_BAD_ARGS,
			          "Syntax: AUTH mechanism [initial-response]");
			return RES_PERM;
		}
	}
	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		if (wlen == strlen(mechs[i].name) &&
		    strncasecmp(c->arg, mechs[i].name, wlen) == 0) {
			*mech = i;
			return RES_OK;
		}
	}
	reply_set(r, 504, ESC_AUTH_MECH, "Unrecognized authentication type: use PLAIN or LOGIN");
	return RES_PERM;
}

/* address_allowed - has this client address failed too often lately,
 * in any session? (lib/client_state.h) */
static enum result
address_allowed(struct session *s, struct reply *r)
{
	const struct config *cfg = s->cfg;
	struct cs_count cnt;
	char why[256];

	if (client_state_get(cfg->state_dir, &s->pc.addr, CS_AUTH_FAILURES,
	                     cfg->auth.failure_window, time(NULL), &cnt, why,
	                     sizeof(why)) != RES_OK) {
		log_warn("%s[%s]: AUTH refused for now: %s", s->pc.name, s->pc.addr_str, why);
		reply_set(r, 454, ESC_SECURITY,
		          "Temporary authentication failure; try again later");
		return RES_TEMP;
	}
	if (cnt.count < cfg->auth.max_failures)
		return RES_OK;
	log_warn("%s[%s]: AUTH refused for now: %u failures from this address", s->pc.name,
	         s->pc.addr_str, cnt.count);
	reply_set(r, 454, ESC_SECURITY,
	          "Too many failed authentications from %s; try again in %ld minutes",
	          s->pc.addr_str, (long)((cnt.window_end - time(NULL)) / 60 + 1));
	return RES_TEMP;
}

/* pause_after_failure - failure_delay, doubled for each earlier
 * failure of this session, capped */
static void
pause_after_failure(const struct session *s)
{
	unsigned d = s->cfg->auth.failure_delay, cap = AUTH_DELAY_MAX, i;
	struct timespec ts;

	if (d > cap)
		cap = d;
	for (i = 1; i < s->auth_failures && d < cap; i++)
		d = d * 2 > cap ? cap : d * 2;
	ts.tv_sec = (time_t)d;
	ts.tv_nsec = 0;
	while (d > 0 && nanosleep(&ts, &ts) < 0)
		;
}

/* failed - wrong credentials: log for fail2ban, count, wait, answer */
static void
failed(struct session *s, const char *mech, const char *user, struct reply *r)
{
	char u[AUTH_USER_MAX + 1], why[256];

	smtp_sanitize(user, strlen(user), u, sizeof(u));
	log_warn("%s[%s]: SASL %s authentication failed: user=%s", s->pc.name, s->pc.addr_str, mech,
	         u);
	if (client_state_add(s->cfg->state_dir, &s->pc.addr, CS_AUTH_FAILURES,
	                     s->cfg->auth.failure_window, time(NULL), NULL, why,
	                     sizeof(why)) != RES_OK)
		log_warn("%s", why);
	s->auth_failures++;
	pause_after_failure(s);
	if (s->auth_failures >= AUTH_SESSION_FAILURES) {
		smtpd_log(s, NULL, "too many failed authentications from %s[%s]", s->pc.name,
		          s->pc.addr_str);
		smtpd_drop(s, ESC_SECURITY, "Error: too many failed authentications");
	}
	smtpd_reply(s, r);
}

/* name_ok - no control character (C0, DEL) and no U+2028/U+2029 in a
 * user id: no backend has such a user, and the id goes into log lines */
static bool
name_ok(const char *n)
{
	const unsigned char *p;

	for (p = (const unsigned char *)n; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return false;
		if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9))
			return false;
	}
	return true;
}

/* check - the credentials of a complete exchange, and the answer */
static void
check(struct session *s, const char *mech, struct sasl_creds *c)
{
	char u[AUTH_USER_MAX + 1];
	struct reply r;
	enum result res;

	if (!name_ok(c->user) || !name_ok(c->authzid)) {
		/* refused before any backend sees it (RFC 4954 4: 501) */
		sasl_wipe(c);
		smtpd_reply_code(s, 501, ESC_SYNTAX,
		                 "Invalid user id: control characters are not allowed");
		return;
	}
	if (c->authzid[0] && strcmp(c->authzid, c->user) != 0) {
		/* RFC 4616 2: we act for nobody else; 5.7.1: not authorised */
		smtp_sanitize(c->authzid, strlen(c->authzid), u, sizeof(u));
		log_warn("%s[%s]: SASL %s authorization refused: authzid=%s", s->pc.name,
		         s->pc.addr_str, mech, u);
		sasl_wipe(c);
		smtpd_reply_code(s, 535, ESC_POLICY,
		                 "Authorization identity must be empty or your own user id");
		return;
	}
	res = auth_verify(s->cfg, c->user, c->pass, s->pc.addr_str, &r);
	explicit_bzero(c->pass, sizeof(c->pass));
	if (res == RES_PERM) {
		failed(s, mech, c->user, &r);
	} else if (res == RES_TEMP) {
		smtp_sanitize(c->user, strlen(c->user), u, sizeof(u));
		log_warn("%s[%s]: SASL %s authentication deferred: user=%s", s->pc.name,
		         s->pc.addr_str, mech, u);
		smtpd_reply(s, &r);
	} else {
		(void)bounded_copy(s->auth_user, sizeof(s->auth_user), c->user);
		s->pc.auth_user = s->auth_user;
		smtp_sanitize(c->user, strlen(c->user), u, sizeof(u));
		smtpd_log(s, NULL, "client=%s[%s], sasl_method=%s, sasl_username=%s", s->pc.name,
		          s->pc.addr_str, mech, u);
		smtpd_reply_code(s, 235, ESC_SECURITY, "Authentication successful");
	}
	sasl_wipe(c);
}

void
smtpd_cmd_auth(struct session *s, const struct smtp_cmd *c)
{
	struct sasl_creds creds;
	struct reply r;
	const char *ir;
	size_t mech, irlen;

	if (auth_state(s, &r) != RES_OK || auth_args(c, &mech, &ir, &irlen, &r) != RES_OK ||
	    address_allowed(s, &r) != RES_OK) {
		smtpd_reply(s, &r);
		return;
	}
	if (mechs[mech].fn(s, ir, irlen, &creds, &r) != RES_OK) {
		sasl_wipe(&creds);
		smtpd_reply(s, &r);
		return;
	}
	check(s, mechs[mech].name, &creds);
}

int
auth_check_config(const char *path, FILE *out)
{
	struct config cfg;
	int rc = conf_check(path, out);

	if (rc != EX_OK)
		return rc;
	memset(&cfg, 0, sizeof(cfg));
	if (conf_load(path, &cfg, out) != RES_OK)
		return EX_CONFIG;
	if (auth_files_check(&cfg, out) > 0)
		rc = EX_CONFIG;
	conf_free(&cfg);
	return rc;
}

enum result
auth_from_owned(const struct config *cfg, const char *user, const char *value, size_t len,
                unsigned count, bool truncated, struct reply *r)
{
	struct from_header fh = {value, len, count, truncated};
	struct from_mailboxes fm;
	enum result res;
	size_t i;

	/* the same reading of the header as the class rules' (smtpd_policy.h) */
	if ((res = policy_from_mailboxes(&fh, 553, &fm, r)) != RES_OK)
		return res;
	for (i = 0; i < fm.n; i++)
		if ((res = auth_sender_owned(cfg, user, &fm.a[i], "From: address", r, NULL)) !=
		    RES_OK)
			return res;
	return RES_OK;
}
