/*
 * smtpd_explain.c - mailout-smtpd --explain: the policy, as a dry run
 *
 * What it is for: telling an admin, before a device is configured, what
 * a session from CLIENT_IP would be told at connect, MAIL and each RCPT,
 * and which rule of the configuration (class, FILE:LINE, network,
 * relay_domains entry) decided.  It asks the very functions a session
 * asks (smtpd_policy.c) with policy_client.why pointed at a buffer, so
 * the dry run cannot disagree with a session.
 *
 * What it must never do: send or queue mail, open a network connection,
 * or decide anything itself that a session decides elsewhere; the few
 * session rules it mirrors (AUTH only inside TLS, the recipient limit)
 * are named as such in its output.  Sender rewriting (rewrite = true)
 * is smtpd_cmd.c's: the rules come from its smtpd_rewrite_setup, and
 * apply as there, before the policy sees the sender.
 */
#include "smtpd_explain.h"

#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "mail_rewrite.h"
#include "smtpd.h"
#include "smtpd_passwd.h"
#include "smtpd_policy.h"

#define WHY_MAX 4096

struct explain_args {
	const char *ip, *helo, *auth, *from, *listener;
	const char **rcpts;
	size_t nrcpt;
	bool tls;
};

/* struct explain - one dry run: the client, its report, the worst outcome */
struct explain {
	struct policy_client c;
	struct buf why;
	FILE *out;
	bool refused, deferred;
};

/* usage - complain, return EX_USAGE */
static int
usage(const char *problem)
{
	fprintf(stderr,
	        "mailout-smtpd: %s\n"
	        "usage: mailout-smtpd [-c FILE] [-l LISTENER] --explain CLIENT_IP [--helo H] "
	        "[--tls] [--auth USER] --from ADDR --rcpt ADDR...\n",
	        problem);
	return EX_USAGE;
}

/* option_value - the argument after option i, or NULL */
static const char *
option_value(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

/* parse_one - one option at argv[*i]; 0, or -1 with *problem set */
static int
parse_one(int argc, char **argv, int *i, struct explain_args *a, const char **problem)
{
	const char *opt = argv[*i];
	const char **slot = NULL;

	if (strcmp(opt, "--tls") == 0) {
		a->tls = true;
		return 0;
	}
	if (strcmp(opt, "--explain") == 0)
		slot = &a->ip;
	else if (strcmp(opt, "--helo") == 0)
		slot = &a->helo;
	else if (strcmp(opt, "--auth") == 0)
		slot = &a->auth;
	else if (strcmp(opt, "--from") == 0)
		slot = &a->from;
	else if (strcmp(opt, "-l") == 0)
		slot = &a->listener;
	else if (strcmp(opt, "--rcpt") == 0)
		slot = &a->rcpts[a->nrcpt];
	else if (strcmp(opt, "-c") != 0) {
		*problem = "unknown option for --explain";
		return -1;
	}
	if (!option_value(argc, argv, i)) {
		*problem = "option needs a value";
		return -1;
	}
	if (slot)
		*slot = argv[*i];
	if (slot != &a->rcpts[a->nrcpt])
		return 0;
	/* --rcpt A B C: every following word that is not an option */
	for (a->nrcpt++; *i + 1 < argc && argv[*i + 1][0] != '-';)
		a->rcpts[a->nrcpt++] = argv[++*i];
	return 0;
}

/* parse_args - the command line into a; EX_OK or an exit code */
static int
parse_args(int argc, char **argv, struct explain_args *a)
{
	const char *problem = NULL;
	int i;

	memset(a, 0, sizeof(*a));
	a->listener = "smtp";
	if (argc < 1 || (a->rcpts = calloc((size_t)argc, sizeof(*a->rcpts))) == NULL) {
		fprintf(stderr, "mailout-smtpd: fatal: out of memory\n");
		return EX_TEMPFAIL;
	}
	for (i = 1; i < argc; i++)
		if (parse_one(argc, argv, &i, a, &problem) < 0)
			return usage(problem);
	if (!a->ip)
		return usage("--explain needs a CLIENT_IP");
	if (!a->from)
		return usage("--explain needs --from ADDR (use \"<>\" for the null sender)");
	if (a->nrcpt == 0)
		return usage("--explain needs --rcpt ADDR");
	return EX_OK;
}

/* find_listener - the listener section by name, or NULL */
static const struct conf_listener *
find_listener(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->n_listeners; i++)
		if (strcmp(cfg->listeners[i].name, name) == 0)
			return &cfg->listeners[i];
	return NULL;
}

/* report - one line: step, subject, the rule that decided, the reply */
static void
report(struct explain *e, const char *step, const char *subject, const struct reply *r)
{
	char line[REPLY_TEXT_MAX + 32];

	if (reply_format(r, line, sizeof(line)) < 0)
		line[0] = '\0';
	fprintf(e->out, "%-9s %s: %s -> %s\n", step, subject,
	        e->why.len ? buf_cstr(&e->why) : "no rule refused", line);
	if (reply_result(r) == RES_PERM)
		e->refused = true;
	else if (reply_result(r) == RES_TEMP)
		e->deferred = true;
	buf_reset(&e->why);
}

/* parse_addr - "<a@b>", "a@b", "<>" or "" (null) as given on the line;
 * with ADDR_OPT_UNQUALIFIED also "root" and "<root>", as MAIL takes
 * them from a class with rewrite = true (smtpd_parse.c) */
static enum result
parse_addr(const char *s, unsigned opts, struct mail_addr *a, struct reply *r)
{
	size_t end = 0, len = strlen(s);

	if (len == 0)
		return addr_parse_path("<>", 2, a, NULL, r);
	if ((opts & ADDR_OPT_UNQUALIFIED) && strchr(s, '@') == NULL) {
		if (s[0] == '<' && len > 2 && s[len - 1] == '>')
			return addr_parse_mailbox_opt(s + 1, len - 2, opts, a, r);
		if (s[0] != '<')
			return addr_parse_mailbox_opt(s, len, opts, a, r);
	}
	if (s[0] != '<')
		return addr_parse_mailbox(s, len, a, r);
	if (addr_parse_path(s, len, a, &end, r) != RES_OK)
		return RES_PERM;
	if (end == len)
		return RES_OK;
	reply_set(r, 501, ESC_BAD_DEST_SYNTAX, "Bad address syntax: text after >");
	return RES_PERM;
}

/* explain_user - the user's line in the auth files and their addresses
 * (smtpd_passwd.c, as a session reads them); RES_OK: print and go on
 * as that user, else the session's reply in r */
static enum result
explain_user(struct explain *e, const struct explain_args *a, struct reply *r)
{
	enum result res = auth_explain_user(e->c.cfg, a->auth, &e->why);

	if (res == RES_OK) {
		e->c.auth_user = a->auth;
		fprintf(e->out, "%-9s %s: %s -> 235 2.7.0 Authentication successful\n", "auth",
		        a->auth, buf_cstr(&e->why));
		buf_reset(&e->why);
	} else if (res == RES_TEMP) {
		reply_set(r, 454, ESC_SECURITY,
		          "Temporary authentication failure; try again later");
	} else {
		reply_set(r, 535, ESC_AUTH_INVALID, "Authentication credentials invalid");
	}
	return res;
}

/* explain_auth - the session's AUTH rules, mirrored: AUTH exists only
 * where the listener offers it, and only inside TLS (RFC 4954 4) */
static void
explain_auth(struct explain *e, const struct explain_args *a)
{
	struct reply r = {0};

	if (!a->auth)
		return;
	if (e->c.listener->auth == LISTENER_AUTH_NONE) {
		reply_set(&r, 502, ESC_BAD_CMD, "Error: authentication not enabled");
		(void)buf_printf(&e->why, "listener %s has auth = \"none\"", e->c.listener->name);
	} else if (!e->c.tls) {
		reply_set(&r, 538, ESC_ENCRYPTION_REQUIRED,
		          "Must issue a STARTTLS command first: AUTH is offered only inside TLS");
		(void)buf_printf(&e->why, "AUTH outside TLS (add --tls)");
	} else if (!auth_configured(e->c.cfg)) {
		/* a session answers 502; go on as if, to show the rest */
		e->c.auth_user = a->auth;
		fprintf(e->out,
		        "%-9s %s: no auth.passwd_file or auth.pam_service: a session refuses AUTH "
		        "(502); assumed authenticated below\n",
		        "auth", a->auth);
		return;
	} else if (explain_user(e, a, &r) == RES_OK) {
		return;
	}
	report(e, "auth", a->auth, &r);
}

/* explain_rcpts - each recipient as a session would see it */
static void
explain_rcpts(struct explain *e, const struct explain_args *a, const struct mail_addr *from)
{
	char subject[ADDR_PATH_MAX + 3];
	struct mail_addr to;
	struct reply r;
	unsigned limit = e->c.cfg->limits.recipients;
	size_t i;

	for (i = 0; i < a->nrcpt; i++) {
		memset(&r, 0, sizeof(r));
		(void)bounded_format(subject, sizeof(subject), "<%s>", a->rcpts[i]);
		if (a->rcpts[i][0] == '<')
			(void)bounded_copy(subject, sizeof(subject), a->rcpts[i]);
		if (limit && i >= limit) {
			(void)buf_printf(&e->why, "more than limits.recipients = %u (session rule)",
			                 limit);
			reply_set(&r, 452, ESC_TOO_MANY_RCPT, "Too many recipients");
		} else if (parse_addr(a->rcpts[i], 0, &to, &r) == RES_OK) {
			(void)policy_rcpt(&e->c, from, &to, &r);
		} else {
			(void)buf_appends(&e->why, "address syntax");
		}
		report(e, "rcpt", subject, &r);
	}
}

/* rewrite_rules - the rewrite section as a session reads it at its
 * first MAIL (smtpd_cmd.c): the domain (default: the hostname), this
 * host's names, the map; the map's problems are printed */
static enum result
rewrite_rules(struct explain *e, struct rewrite *rw)
{
	const struct config *cfg = e->c.cfg;
	char host[ADDR_DOMAIN_MAX + 1];

	if (bounded_copy(host, sizeof(host), conf_hostname(cfg)) < 0)
		(void)bounded_copy(host, sizeof(host), "localhost");
	if (smtpd_rewrite_setup(rw, cfg, host) != RES_OK) {
		(void)buf_appends(&e->why, "rewrite: no usable masquerade domain");
		return RES_TEMP;
	}
	if (rewrite_map_load(rw, cfg->rewrite.map, e->out) == RES_OK)
		return RES_OK;
	(void)buf_printf(&e->why, "rewrite.map %s cannot be read", cfg->rewrite.map);
	return RES_TEMP;
}

/* rewrite_step - print "rewrite <orig> -> <new> (rule)": the rule is
 * the domain when new is orig's local part at it, else the map */
static void
rewrite_step(struct explain *e, const struct rewrite *rw, const char *orig, const char *new)
{
	const char *at = strrchr(orig, '@');
	int ln = at ? (int)(at - orig) : (int)strlen(orig);
	char masq[ADDR_PATH_MAX + 1];

	if (bounded_format(masq, sizeof(masq), "%.*s@%s", ln, orig, rw->domain) == 0 &&
	    strcmp(masq, new) == 0)
		fprintf(e->out, "%-9s <%s> -> <%s> (rewrite.domain)\n", "rewrite", orig, new);
	else
		fprintf(e->out, "%-9s <%s> -> <%s> (rewrite.map %s)\n", "rewrite", orig, new,
		        e->c.cfg->rewrite.map);
}

/* explain_rewrite - masquerade the sender as the session does before
 * the policy sees it (smtpd_cmd.c mail_rewrite), with its replies */
static enum result
explain_rewrite(struct explain *e, struct mail_addr *from, struct reply *r)
{
	char orig[ADDR_PATH_MAX + 1], new[ADDR_PATH_MAX + 1];
	struct rewrite rw;
	struct mail_addr q;
	enum result res = RES_OK;
	int rc;

	if (rewrite_rules(e, &rw) != RES_OK) {
		reply_set(r, 451, ESC_CONFIG, "Error: sender rewriting is not available");
		res = RES_TEMP;
	} else if (addr_format(from, orig, sizeof(orig)) < 0 ||
	           (rc = rewrite_address(&rw, REWRITE_SENDER, orig, new, sizeof(new))) < 0) {
		reply_set(r, 553, ESC_BAD_SENDER_SYNTAX, "Sender address too long once qualified");
		(void)buf_appends(&e->why, "rewrite: too long once qualified");
		res = RES_PERM;
	} else if (rc > 0 && addr_parse_mailbox(new, strlen(new), &q, NULL) != RES_OK) {
		reply_set(r, 451, ESC_CONFIG, "Error: sender rewriting failed");
		(void)buf_printf(&e->why, "rewrite: <%s> would become <%s>, not an address", orig,
		                 new);
		res = RES_TEMP;
	} else if (rc > 0) {
		rewrite_step(e, &rw, orig, new);
		*from = q;
	}
	rewrite_free(&rw);
	return res;
}

/* explain_mail - MAIL: the sender as the session takes it (rewritten
 * for a class with rewrite = true), then the policy */
static void
explain_mail(struct explain *e, const struct explain_args *a, struct mail_addr *from,
             struct reply *r)
{
	bool rewriting = e->c.class != NULL && e->c.class->rewrite;
	char subject[ADDR_PATH_MAX + 3], addr[ADDR_PATH_MAX + 1];

	(void)bounded_format(subject, sizeof(subject), "<%s>", a->from);
	if (a->from[0] == '<')
		(void)bounded_copy(subject, sizeof(subject), a->from);
	if (parse_addr(a->from, rewriting ? ADDR_OPT_UNQUALIFIED : 0, from, r) != RES_OK) {
		r->esc = ESC_BAD_SENDER_SYNTAX;
		(void)buf_appends(&e->why, "address syntax");
	} else if (!rewriting || from->null || explain_rewrite(e, from, r) == RES_OK) {
		/* the policy sees the address as it leaves the host */
		if (!from->null && addr_format(from, addr, sizeof(addr)) == 0)
			(void)bounded_format(subject, sizeof(subject), "<%s>", addr);
		(void)policy_mail(&e->c, from, r);
	}
	report(e, "mail", subject, r);
}

/* explain_session - connect, AUTH, MAIL, RCPT... as a session goes */
static void
explain_session(struct explain *e, const struct explain_args *a)
{
	char subject[ADDR_PATH_MAX + 16];
	struct mail_addr from;
	struct reply r = {0};

	(void)bounded_format(subject, sizeof(subject), "client %s", e->c.addr_str);
	(void)policy_connect(&e->c, &r);
	report(e, "connect", subject, &r);
	if (reply_result(&r) != RES_OK) {
		fprintf(e->out, "(a session ends at the greeting; nothing more is checked)\n");
		return;
	}
	explain_auth(e, a);
	memset(&r, 0, sizeof(r));
	explain_mail(e, a, &from, &r);
	if (reply_result(&r) != RES_OK) {
		fprintf(e->out, "(a session refuses every RCPT after a refused MAIL)\n");
		return;
	}
	explain_rcpts(e, a, &from);
}

/* setup_client - the policy client a session from a->ip would have */
static int
setup_client(struct explain *e, const struct explain_args *a, const struct config *cfg)
{
	const struct conf_listener *l = find_listener(cfg, a->listener);
	struct net_addr addr;

	if (!l)
		return usage("no listener section of that name in the config (-l)");
	if (net_addr_parse(a->ip, &addr) < 0)
		return usage("CLIENT_IP is not an IPv4 or IPv6 address");
	policy_client_init(&e->c, cfg, l, &addr);
	e->c.tls = a->tls || l->tls == LISTENER_TLS_IMPLICIT;
	if (a->helo && bounded_copy(e->c.helo, sizeof(e->c.helo), a->helo) < 0)
		return usage("--helo is longer than a host name can be");
	e->c.why = &e->why;
	e->c.dry_run = true; /* rates: look, never count */
	return EX_OK;
}

int
explain_run(int argc, char **argv, const struct config *cfg, FILE *out)
{
	struct explain_args a;
	struct explain e;
	int rc;

	memset(&e, 0, sizeof(e));
	buf_init(&e.why, WHY_MAX);
	e.out = out;
	if ((rc = parse_args(argc, argv, &a)) == EX_OK &&
	    (rc = setup_client(&e, &a, cfg)) == EX_OK) {
		explain_session(&e, &a);
		rc = e.refused ? EX_UNAVAILABLE : e.deferred ? EX_TEMPFAIL : EX_OK;
	}
	free(a.rcpts);
	buf_free(&e.why);
	if (fflush(out) != 0 && rc == EX_OK)
		rc = EX_IOERR;
	return rc;
}

int
explain_main(int argc, char **argv, const struct config *cfg)
{
	return explain_run(argc, argv, cfg, stdout);
}
