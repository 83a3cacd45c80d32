/*
 * smtpd_passwd.c - credentials and sender ownership for AUTH
 *
 * What it is for: reading auth.passwd_file ("user:crypt-hash:addr,addr")
 * and auth.sender_map ("USER ADDR,ADDR"), checking a password against
 * a crypt(5) hash (libxcrypt, smtpd_crypt.c) or through PAM (auth.pam_service, whose
 * conversation is in smtpd_auth.c), and
 * deciding whether an address (MAIL FROM, the From: header) belongs to
 * the authenticated user: the passwd file's third field, the sender
 * map, or auth.sender_patterns ("%u@stud.example.org").
 *
 * What it must never do: log or keep a password, tell by its timing or
 * its reply whether a user exists (unknown users cost one crypt of a
 * dummy hash, and get the same 535 as a wrong password), accept a
 * plain-text "hash", or let a broken file pass as "wrong password":
 * our own trouble is temporary (454 4.7.0, 451 4.3.0).
 */
#include "smtpd_passwd.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "smtpd_auth.h"
#include "smtpd_crypt.h"
#include "smtpd_tls.h"

#define PATH_MAX_LEN 4096

/* A file read once per process: the passwd file or the sender map. */
struct cached_file {
	char path[PATH_MAX_LEN]; /* as resolved; "" until read */
	enum result res; /* RES_TEMP: could not be read */
	struct passwd_db db;
};

static struct cached_file pw_cache, map_cache;

/* user_ok - a user id we can log, put in a header and match: visible
 * ASCII without the characters that structure our lines and headers */
static bool
user_ok(const char *u, size_t n)
{
	size_t i;

	if (n == 0 || n > AUTH_USER_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (u[i] < 0x21 || u[i] > 0x7e || strchr(":,;()<>\"\\", u[i]) != NULL)
			return false;
	return true;
}

bool
passwd_hash_ok(const char *s)
{
	static const char *const strong[] = {"$y$", "$gy$", "$7$", "$2b$", "$2y$", "$6$"};
	const struct crypt_fns *cf;
	const char *last = strrchr(s, '$');
	size_t i, dollars = 0;
	bool known = false;

	for (i = 0; i < sizeof(strong) / sizeof(strong[0]); i++)
		known = known || strncmp(s, strong[i], strlen(strong[i])) == 0;
	for (i = 0; s[i]; i++)
		dollars += s[i] == '$';
	/* a setting without its hash part ("$6$salt") would match nothing */
	if (!known || dollars < 3 || last[1] == '\0' || strlen(s) >= CRYPT_OUTPUT_SIZE)
		return false;
	if (strncmp(s, "$2", 2) == 0)
		return strlen(s) == 60; /* bcrypt: "$2b$NN$" + 53 */
	return (cf = crypt_fns_load()) != NULL && cf->crypt_checksalt(s) == CRYPT_SALT_OK;
}

/* addrs_ok - "a@b,c@d" (spaces already removed): each a mailbox with a
 * domain; "" is fine */
static const char *
addrs_ok(const char *s)
{
	struct mail_addr a;
	struct reply r;
	const char *p = s, *comma;
	size_t n;

	while (*p) {
		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		if (n == 0 || addr_parse_mailbox(p, n, &a, &r) != RES_OK || a.domain[0] == '\0')
			return "not a list of addresses (user@domain,user@domain)";
		p += n + (comma ? 1 : 0);
	}
	return NULL;
}

/* squeeze - drop blanks (a list may be written "a@b, c@d") */
static void
squeeze(char *s)
{
	char *w = s;

	for (; *s; s++)
		if (*s != ' ' && *s != '\t')
			*w++ = *s;
	*w = '\0';
}

/* db_add - one entry (strings are copied); -1 when out of memory */
static int
db_add(struct passwd_db *db, const char *user, const char *hash, const char *addrs, const char *bad,
       unsigned line)
{
	struct passwd_entry *e;

	if (db->n == db->cap) {
		size_t cap = db->cap ? db->cap * 2 : 16;
		struct passwd_entry *v = reallocarray(db->v, cap, sizeof(*v));

		if (!v)
			return -1;
		db->v = v;
		db->cap = cap;
	}
	e = &db->v[db->n];
	memset(e, 0, sizeof(*e));
	e->user = strdup(user);
	e->hash = hash ? strdup(hash) : NULL;
	e->addrs = strdup(addrs);
	if (!e->user || (hash && !e->hash) || !e->addrs) {
		free(e->user), free(e->hash), free(e->addrs);
		return -1;
	}
	e->bad = bad;
	e->line = line;
	db->n++;
	return 0;
}

/* parse_line - one line (NUL-terminated, ours to change) into db */
static int
parse_line(struct passwd_db *db, char *l, unsigned line, bool want_hash, const char **bad)
{
	char none[1] = "", *user = l, *hash = NULL, *addrs = none, *sep;

	if (want_hash) {
		if ((sep = strchr(l, ':')) == NULL) {
			*bad = "expected user:crypt-hash:addr,addr";
			return 0;
		}
		*sep = '\0';
		hash = sep + 1;
		if ((sep = strchr(hash, ':')) != NULL) {
			*sep = '\0';
			addrs = sep + 1;
		}
		if (!passwd_hash_ok(hash))
			*bad =
			    "not a crypt hash ($y$, $6$, $2b$ ...): plain-text passwords are not "
			    "accepted; make one with mkpasswd or openssl passwd -6";
	} else {
		sep = l + strcspn(l, " \t");
		if (*sep == '\0') {
			*bad = "expected USER ADDR,ADDR";
			return 0;
		}
		*sep = '\0';
		addrs = sep + 1;
	}
	squeeze(addrs);
	if (!user_ok(user, strlen(user)))
		*bad = "bad user id (visible characters only, no : , ; ( ) < > \" \\)";
	else if (!*bad && passwd_find(db, user))
		*bad = "user given twice (the first line counts)";
	else if (!*bad)
		*bad = addrs_ok(addrs);
	return db_add(db, user, hash, addrs, *bad, line);
}

int
passwd_parse(struct passwd_db *db, const char *text, size_t len, const char *name, bool want_hash,
             FILE *errs)
{
	struct buf l = BUF_INIT(64 * 1024);
	const char *bad;
	size_t i = 0, n, lead;
	unsigned line = 0;
	int nbad = 0, rc = 0;

	while (i < len && rc == 0) {
		const char *nl = memchr(text + i, '\n', len - i);

		n = nl ? (size_t)(nl - (text + i)) : len - i;
		line++;
		bad = NULL;
		if (buf_set(&l, text + i, n) < 0) {
			bad = "line too long";
			rc = errno == ENOMEM ? -1 : 0;
		} else {
			while (l.len && strchr(" \t\r", l.s[l.len - 1]))
				buf_truncate(&l, l.len - 1);
			lead = strspn(l.s, " \t");
			if (memchr(l.s, '\0', l.len))
				bad = "NUL in line";
			else if (l.s[lead] != '\0' && l.s[lead] != '#')
				rc = parse_line(db, l.s + lead, line, want_hash, &bad);
		}
		if (bad) {
			nbad++;
			if (errs)
				fprintf(errs, "%s:%u: %s\n", name, line, bad);
		}
		i += n + 1;
	}
	buf_free(&l);
	return rc < 0 ? -1 : nbad;
}

void
passwd_free(struct passwd_db *db)
{
	size_t i;

	for (i = 0; i < db->n; i++) {
		if (db->v[i].hash)
			explicit_bzero(db->v[i].hash, strlen(db->v[i].hash));
		free(db->v[i].user), free(db->v[i].hash), free(db->v[i].addrs);
	}
	free(db->v);
	memset(db, 0, sizeof(*db));
}

const struct passwd_entry *
passwd_find(const struct passwd_db *db, const char *user)
{
	size_t i;

	for (i = 0; i < db->n; i++)
		if (strcmp(db->v[i].user, user) == 0)
			return &db->v[i];
	return NULL;
}

/* read_file - the whole file into b; RES_TEMP with errno on trouble */
static enum result
read_file(const char *path, struct buf *b)
{
	char chunk[8192];
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return RES_TEMP;
	while ((got = read(fd, chunk, sizeof(chunk))) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 || buf_append(b, chunk, (size_t)got) < 0) {
			int e = errno;

			close(fd);
			errno = e;
			return RES_TEMP;
		}
	}
	close(fd);
	return RES_OK;
}

/* load - read and parse a file once; report bad lines to errs, or to
 * the log when errs is NULL.  Returns the cache entry's result. */
static enum result
load(struct cached_file *c, const char *name, bool want_hash, FILE *errs, int *nbad)
{
	struct buf text = BUF_INIT(AUTH_FILE_MAX);
	char path[PATH_MAX_LEN];
	size_t i;
	int bad;

	*nbad = 0;
	if (tls_credential_path(name, path, sizeof(path)) < 0)
		(void)bounded_copy(path, sizeof(path), name);
	if (c->path[0] && strcmp(c->path, path) == 0)
		return c->res;
	passwd_free(&c->db);
	(void)bounded_copy(c->path, sizeof(c->path), path);
	c->res = read_file(path, &text);
	if (c->res != RES_OK) {
		if (errs)
			fprintf(errs, "%s: cannot read: %s\n", path, strerror(errno));
		else
			log_warn("auth: cannot read %s: %s", path, strerror(errno));
	} else if (want_hash && crypt_fns_load() == NULL) {
		if (errs) /* the reason went to the log (stderr) */
			fprintf(errs, "%s: cannot check its hashes without libcrypt\n", path);
		c->res = RES_TEMP;
	} else if ((bad = passwd_parse(&c->db, text.s ? text.s : "", text.len, path, want_hash,
	                               errs)) < 0) {
		log_warn("auth: %s: out of memory", path);
		c->res = RES_TEMP;
		c->path[0] = '\0';
	} else {
		*nbad = bad;
		for (i = 0; !errs && i < c->db.n; i++)
			if (c->db.v[i].bad)
				log_warn("auth: %s:%u: %s", path, c->db.v[i].line, c->db.v[i].bad);
	}
	if (text.s)
		explicit_bzero(text.s, text.len);
	buf_free(&text);
	return c->res;
}

void
auth_files_reset(void)
{
	passwd_free(&pw_cache.db);
	passwd_free(&map_cache.db);
	memset(&pw_cache, 0, sizeof(pw_cache));
	memset(&map_cache, 0, sizeof(map_cache));
}

int
auth_files_check(const struct config *cfg, FILE *out)
{
	int problems = 0, nbad;

	auth_files_reset();
	if (cfg->auth.passwd_file && cfg->auth.passwd_file[0]) {
		if (load(&pw_cache, cfg->auth.passwd_file, true, out, &nbad) != RES_OK)
			problems++;
		problems += nbad;
	}
	if (cfg->auth.sender_map && cfg->auth.sender_map[0]) {
		if (load(&map_cache, cfg->auth.sender_map, false, out, &nbad) != RES_OK)
			problems++;
		problems += nbad;
	}
	auth_files_reset();
	return problems;
}

bool
auth_configured(const struct config *cfg)
{
	return (cfg->auth.passwd_file && cfg->auth.passwd_file[0]) ||
	       (cfg->auth.pam_service && cfg->auth.pam_service[0]);
}

/* lookup - the user's entry in a configured file: RES_OK with *e (NULL
 * when the user is not in it, or no file is configured), RES_TEMP */
static enum result
lookup(struct cached_file *c, const char *name, bool want_hash, const char *user,
       const struct passwd_entry **e)
{
	int nbad;

	*e = NULL;
	if (!name || !name[0])
		return RES_OK;
	if (load(c, name, want_hash, NULL, &nbad) != RES_OK)
		return RES_TEMP;
	*e = passwd_find(&c->db, user);
	return RES_OK;
}

/* set_temp, set_wrong - the replies of auth_verify */
static enum result
set_temp(struct reply *r)
{
	reply_set(r, 454, ESC_SECURITY, "Temporary authentication failure; try again later");
	return RES_TEMP;
}

static enum result
set_wrong(struct reply *r)
{
	reply_set(r, 535, ESC_AUTH_INVALID, "Authentication credentials invalid");
	return RES_PERM;
}

enum result
auth_verify(const struct config *cfg, const char *user, const char *pass, const char *rhost,
            struct reply *r)
{
	const struct passwd_entry *e;
	const char *pam = cfg->auth.pam_service;

	if (!user_ok(user, strlen(user)) || strlen(pass) > AUTH_PASS_MAX) {
		(void)crypt_matches(pass, NULL);
		return set_wrong(r);
	}
	if (lookup(&pw_cache, cfg->auth.passwd_file, true, user, &e) != RES_OK)
		return set_temp(r);
	if (e && e->bad) /* logged when the file was read */
		return set_temp(r);
	if (e)
		return crypt_matches(pass, e->hash) ? RES_OK : set_wrong(r);
	if (pam && pam[0]) {
		switch (auth_pam_check(pam, user, pass, rhost)) {
		case RES_OK:
			return RES_OK;
		case RES_PERM:
			return set_wrong(r);
		default:
			return set_temp(r);
		}
	}
	(void)crypt_matches(pass, NULL);
	return set_wrong(r);
}

/* list_has - is addr in the list "a@b,c@d"? */
static bool
list_has(const char *list, const struct mail_addr *addr, char *first, size_t firstsize)
{
	struct mail_addr a;
	struct reply r;
	const char *p = list, *comma;
	size_t n;

	while (*p) {
		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		if (addr_parse_mailbox(p, n, &a, &r) == RES_OK) {
			if (!first[0])
				(void)addr_format(&a, first, firstsize);
			/* RFC 5321 2.4: the local part is the user's, exactly;
			 * domains are case-insensitive */
			if (strcmp(a.local, addr->local) == 0 &&
			    strcasecmp(a.domain, addr->domain) == 0)
				return true;
		}
		p += n + (comma ? 1 : 0);
	}
	return false;
}

/* pattern_expand - "%u@stud.example.org" for user; -1 if it does not fit */
static int
pattern_expand(const char *pat, const char *user, char *out, size_t outsize)
{
	struct buf b = BUF_INIT(ADDR_PATH_MAX);
	int rc = 0;

	for (; *pat && rc == 0; pat++) {
		if (pat[0] == '%' && pat[1] == 'u')
			rc = buf_appends(&b, user), pat++;
		else if (pat[0] == '%' && pat[1] == '%')
			rc = buf_appendc(&b, '%'), pat++;
		else
			rc = buf_appendc(&b, *pat);
	}
	if (rc == 0)
		rc = bounded_copy(out, outsize, buf_cstr(&b));
	buf_free(&b);
	return rc;
}

/* owned_by - is addr one of user's?  *rule names the rule that said
 * yes; first gets an address the user may use, if any */
static enum result
owned_by(const struct config *cfg, const char *user, const struct mail_addr *addr,
         const char **rule, char *first, size_t firstsize)
{
	const struct passwd_entry *pe, *me;
	char exp[ADDR_PATH_MAX + 1];
	size_t i;

	first[0] = '\0';
	if (lookup(&pw_cache, cfg->auth.passwd_file, true, user, &pe) != RES_OK ||
	    lookup(&map_cache, cfg->auth.sender_map, false, user, &me) != RES_OK)
		return RES_TEMP;
	*rule = "listed in the passwd file";
	if (pe && !pe->bad && list_has(pe->addrs, addr, first, firstsize))
		return RES_OK;
	*rule = "listed in the sender map";
	if (me && !me->bad && list_has(me->addrs, addr, first, firstsize))
		return RES_OK;
	*rule = "matches sender_patterns";
	for (i = 0; i < cfg->auth.sender_patterns.n; i++) {
		if (pattern_expand(cfg->auth.sender_patterns.items[i], user, exp, sizeof(exp)) < 0)
			continue;
		if (list_has(exp, addr, first, firstsize))
			return RES_OK;
	}
	return RES_PERM;
}

enum result
auth_sender_owned(const struct config *cfg, const char *user, const struct mail_addr *addr,
                  const char *what, struct reply *r, const char **rule)
{
	char first[ADDR_PATH_MAX + 1], text[ADDR_PATH_MAX + 1];
	const char *dummy;
	enum result res;

	if (!rule)
		rule = &dummy;
	*rule = "the null sender: the From: header is checked at the end of DATA";
	if (addr->null)
		return RES_OK;
	/* no passwd file and no PAM: nobody can authenticate in a session,
	 * so there is nobody to bind (only a hand-made config gets here) */
	*rule = "no auth.passwd_file or auth.pam_service: no senders are bound";
	if (!auth_configured(cfg))
		return RES_OK;
	if (addr_format(addr, text, sizeof(text)) < 0)
		text[0] = '\0';
	res = owned_by(cfg, user, addr, rule, first, sizeof(first));
	if (res == RES_TEMP) {
		*rule = "a file of the auth section cannot be read";
		reply_set(r, 451, ESC_SYSTEM, "Local error in processing");
		return RES_TEMP;
	}
	if (res == RES_OK)
		return RES_OK;
	*rule = "not in the passwd file, the sender map or sender_patterns";
	if (first[0])
		reply_set(r, 553, ESC_POLICY, "%s <%s> is not owned by user %s; use %s", what, text,
		          user, first);
	else
		reply_set(r, 553, ESC_POLICY,
		          "%s <%s> is not owned by user %s, and no address is; ask the mail admin",
		          what, text, user);
	return RES_PERM;
}

/* explain_addrs - "a@b, c@d" of every source, for --explain */
static void
explain_addrs(const struct config *cfg, const char *user, const struct passwd_entry *pe,
              const struct passwd_entry *me, struct buf *out)
{
	char exp[ADDR_PATH_MAX + 1];
	size_t start = out->len, i;

	if (pe && pe->addrs[0])
		(void)buf_printf(out, "%s", pe->addrs);
	if (me && !me->bad && me->addrs[0])
		(void)buf_printf(out, "%s%s", out->len > start ? "," : "", me->addrs);
	for (i = 0; i < cfg->auth.sender_patterns.n; i++)
		if (pattern_expand(cfg->auth.sender_patterns.items[i], user, exp, sizeof(exp)) == 0)
			(void)buf_printf(out, "%s%s", out->len > start ? "," : "", exp);
	if (out->len == start)
		(void)buf_appends(out, "no address (every sender gets 553 5.7.1)");
}

enum result
auth_explain_user(const struct config *cfg, const char *user, struct buf *out)
{
	const struct passwd_entry *pe, *me;
	const char *pam = cfg->auth.pam_service;

	if (!user_ok(user, strlen(user))) {
		(void)buf_appends(out, "not a user id a session accepts");
		return RES_PERM;
	}
	if (lookup(&pw_cache, cfg->auth.passwd_file, true, user, &pe) != RES_OK ||
	    lookup(&map_cache, cfg->auth.sender_map, false, user, &me) != RES_OK) {
		(void)buf_appends(out, "a file of the auth section cannot be read");
		return RES_TEMP;
	}
	if (pe && pe->bad) {
		(void)buf_printf(out, "%s:%u: %s", pw_cache.path, pe->line, pe->bad);
		return RES_TEMP;
	}
	if (pe)
		(void)buf_printf(out, "user in %s:%u", pw_cache.path, pe->line);
	else if (pam && pam[0])
		(void)buf_printf(out, "not in the passwd file: PAM service %s decides", pam);
	else {
		(void)buf_appends(out, "no such user in the passwd file, and no pam_service");
		return RES_PERM;
	}
	(void)buf_appends(out, " (the password is not checked by --explain); may send as ");
	explain_addrs(cfg, user, pe, me, out);
	return RES_OK;
}
