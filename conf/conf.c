/*
 * conf.c - read mailout.conf: the libconfuse schema, file:line errors,
 * the built-in default, --check-config
 *
 * What it is for: every program calls conf_load() once at start and
 * then trusts struct config; all checking happens here, up front, and
 * every problem is reported as "FILE:LINE: message", all of them at
 * once where libconfuse lets us continue (it stops at a syntax error;
 * bad values and cross-checks are all reported).
 * What it must never do: let the environment reach a set-id program
 * (MAILOUT_CONFIG is read with secure_getenv, and libconfuse's ${VAR}
 * substitution is refused in every file), or hand out a half-checked
 * configuration.
 */
#include "conf_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"

#ifndef MAILOUT_SYSCONFDIR
#define MAILOUT_SYSCONFDIR "/usr/local/etc"
#endif
#ifndef MAILOUT_LOCALSTATEDIR
#define MAILOUT_LOCALSTATEDIR "/var"
#endif
#ifndef MAILOUT_RUNSTATEDIR
#define MAILOUT_RUNSTATEDIR "/run"
#endif

#define BUILTIN_NAME "(built-in default)"
#define CONF_FILE_MAX ((size_t)1024 * 1024)

/*
 * Keys that are accepted but whose feature does not exist yet:
 * --check-config notes them when a file sets them.  An entry names a
 * key ("client.rate") or a whole section ("queue").  Add a line when a
 * key comes before its feature; delete it when the feature lands.
 * Every key is implemented in this release.
 */
static const char *const not_implemented[] = {
    NULL,
};

/* conf_not_implemented - the table in use (conf_int.h) */
const char *const *conf_not_implemented = not_implemented;

/* The schema.  Defaults are the ones SPEC.md promises; conf_build.c
 * reads them from here (prepare_schema) and fills in those that depend
 * on other keys or on the host. */
static cfg_opt_t tls_opts[] = {
    CFG_STR("cert", "", CFGF_NONE),
    CFG_STR("key", "", CFGF_NONE),
    CFG_STR("min_version", "TLSv1.2", CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t listener_opts[] = {
    CFG_STR("tls", "", CFGF_NONE), /* "": by title, see conf_build.c */
    CFG_STR("auth", "", CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t client_opts[] = {
    CFG_STR_LIST("networks", 0, CFGF_NONE),
    CFG_BOOL("require_tls", cfg_true, CFGF_NONE),
    CFG_BOOL("require_dns", cfg_false, CFGF_NONE),
    CFG_STR_LIST("relay_domains", 0, CFGF_NONE),
    CFG_BOOL("verify_sender", cfg_false, CFGF_NONE),
    CFG_STR_LIST("sender_domains", 0, CFGF_NONE),
    CFG_STR("rate", "", CFGF_NONE),
    CFG_BOOL("rewrite", cfg_false, CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t auth_opts[] = {
    CFG_STR("passwd_file", "", CFGF_NONE),     CFG_STR("pam_service", "", CFGF_NONE),
    CFG_STR("sender_map", "", CFGF_NONE),      CFG_STR_LIST("sender_patterns", 0, CFGF_NONE),
    CFG_INT("max_failures", 10, CFGF_NONE),    CFG_STR("failure_window", "15m", CFGF_NONE),
    CFG_STR("failure_delay", "1s", CFGF_NONE), CFG_END(),
};

static cfg_opt_t rewrite_opts[] = {
    CFG_STR("domain", "", CFGF_NONE),
    CFG_STR("map", "", CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t limits_opts[] = {
    CFG_STR("message_size", "25M", CFGF_NONE),
    CFG_INT("recipients", 100, CFGF_NONE),
    CFG_STR("command_timeout", "5m", CFGF_NONE),
    CFG_STR("data_timeout", "10m", CFGF_NONE),
    CFG_INT("errors", 10, CFGF_NONE),
    CFG_INT("hops", 100, CFGF_NONE),
    CFG_STR("pregreet_wait", "0", CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t content_opts[] = {
    CFG_BOOL("block_executables", cfg_true, CFGF_NONE),
    CFG_STR("executable_action", "reject", CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t resolver_opts[] = {
    CFG_STR("nameserver", "", CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t gateway_opts[] = {
    CFG_STR_LIST("servers", 0, CFGF_NONE),
    CFG_STR("tls", "verify", CFGF_NONE),
    CFG_STR("ca_file", "/etc/ssl/certs/ca-certificates.crt", CFGF_NONE),
    CFG_STR_LIST("fingerprints", 0, CFGF_NONE),
    CFG_STR("user", "", CFGF_NONE),
    CFG_STR("password_file", "", CFGF_NONE),
    CFG_INT("connections", 4, CFGF_NONE),
    CFG_STR("command_timeout", "5m", CFGF_NONE),
    CFG_END(),
};

static cfg_opt_t queue_opts[] = {
    CFG_STR("lifetime", "5d", CFGF_NONE),
    CFG_STR("retry_min", "5m", CFGF_NONE),
    CFG_STR("retry_max", "1h", CFGF_NONE),
    CFG_STR("delay_warning", "4h", CFGF_NONE),
    CFG_STR("postmaster", "", CFGF_NONE),
    CFG_STR("socket", "", CFGF_NONE),
    CFG_END(),
};

#define TITLED (CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES)

static cfg_opt_t root_opts[] = {
    CFG_STR("hostname", "", CFGF_NONE), /* "": the host's FQDN */
    CFG_STR("spool", MAILOUT_LOCALSTATEDIR "/spool/mailout", CFGF_NONE),
    CFG_SEC("tls", tls_opts, CFGF_NONE),
    CFG_SEC("listener", listener_opts, TITLED),
    CFG_SEC("client", client_opts, TITLED),
    CFG_SEC("auth", auth_opts, CFGF_NONE),
    CFG_SEC("rewrite", rewrite_opts, CFGF_NONE),
    CFG_SEC("limits", limits_opts, CFGF_NONE),
    CFG_SEC("content", content_opts, CFGF_NONE),
    CFG_STR("blocklist", "", CFGF_NONE),
    CFG_STR("blocklist_message",
            "Your host has been blocked temporarily because of abuse; contact the mail admin",
            CFGF_NONE),
    CFG_STR("state_dir", MAILOUT_RUNSTATEDIR "/mailout", CFGF_NONE),
    CFG_SEC("resolver", resolver_opts, CFGF_NONE),
    CFG_SEC("gateway", gateway_opts, CFGF_NONE),
    CFG_SEC("queue", queue_opts, CFGF_NONE),
    CFG_END(),
};

/* The load in progress, for libconfuse's callbacks (no user pointer). */
static struct parse_ctx *cur;

void
ctx_error(struct parse_ctx *ctx, int line, const char *fmt, ...)
{
	va_list ap;

	if (line > 0)
		fprintf(ctx->errs, "%s:%d: ", ctx->file, line);
	else
		fprintf(ctx->errs, "%s: ", ctx->file);
	va_start(ap, fmt);
	vfprintf(ctx->errs, fmt, ap);
	va_end(ap);
	fputc('\n', ctx->errs);
	ctx->errors++;
}

/* confuse_error - libconfuse's own messages, in our FILE:LINE: form */
static void confuse_error(cfg_t *cfg, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
confuse_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	FILE *f = cur ? cur->errs : stderr;
	const char *file = cur ? cur->file : cfg ? cfg->filename : NULL;

	if (cfg && cfg->line > 0)
		fprintf(f, "%s:%d: ", file ? file : "?", cfg->line);
	else
		fprintf(f, "%s: ", file ? file : "?");
	if (strcmp(fmt, "no such option '%s'") == 0 && cfg && cfg->name) {
		/* the one message users meet most: say it in our words */
		fprintf(f, "unknown key '%s%s%s'", strcmp(cfg->name, "root") ? cfg->name : "",
		        strcmp(cfg->name, "root") ? "." : "", va_arg(ap, const char *));
	} else {
		vfprintf(f, fmt, ap);
	}
	fputc('\n', f);
	if (cur)
		cur->errors++;
}

int
ctx_line(const struct parse_ctx *ctx, const cfg_t *sec, const char *key)
{
	size_t i;

	for (i = 0; i < ctx->n_seen; i++)
		if (ctx->seen[i].sec == sec && strcmp(ctx->seen[i].key, key) == 0)
			return ctx->seen[i].line;
	return 0;
}

int
ctx_section_line(const struct parse_ctx *ctx, const cfg_t *sec, int fallback)
{
	int line = fallback, open = 0;
	size_t i;

	for (i = 0; i < ctx->n_seen; i++)
		if (ctx->seen[i].sec == sec) {
			line = ctx->seen[i].line; /* recorded in file order */
			break;
		}
	/* no other top-level '{' lies between a section's and that line */
	for (i = 0; i < ctx->n_opens && ctx->opens[i] <= line; i++)
		open = ctx->opens[i];
	return open ? open : line;
}

/* seen_record - remember where sec set key.  Only a repeat of the last
 * record (the values of one list) is left out: looking for every
 * earlier one made a load quadratic in the keys of the file.  The
 * readers take the first record that matches, which is the first line
 * where the key was set. */
static int
seen_record(struct parse_ctx *ctx, const cfg_t *sec, const char *key, int line)
{
	struct seen *n = ctx->n_seen ? &ctx->seen[ctx->n_seen - 1] : NULL;

	if (n && n->sec == sec && strcmp(n->key, key) == 0)
		return 0;
	if (ctx->n_seen == ctx->cap_seen) {
		size_t cap = ctx->cap_seen ? ctx->cap_seen * 2 : 32;

		n = reallocarray(ctx->seen, cap, sizeof(*n));
		if (!n)
			return -1;
		ctx->seen = n;
		ctx->cap_seen = cap;
	}
	n = &ctx->seen[ctx->n_seen];
	n->sec = sec;
	n->line = line;
	if (bounded_copy(n->key, sizeof(n->key), key) < 0)
		return -1;
	ctx->n_seen++;
	return 0;
}

/* value_what - how a message names the key: "limits.message_size",
 * "listener smtp: tls"; built only when there is something to report */
static const char *
value_what(const cfg_t *cfg, const cfg_opt_t *opt, const char *key, char *what, size_t size)
{
	if (cfg->title &&
	    bounded_format(what, size, "%s %s: %s", cfg->name, cfg->title, opt->name) == 0)
		return what;
	return key;
}

/* check_string - one string value against its rule */
static void
check_string(struct parse_ctx *ctx, const cfg_t *cfg, const cfg_opt_t *opt, const char *key,
             const struct key_rule *r, const char *v)
{
	char shown[84], names[96], why_buf[120], what[128];
	const char *why;

	if (r->kind == V_ENUM) {
		why = NULL;
		if (enum_lookup(r->names, v) < 0 &&
		    bounded_format(why_buf, sizeof(why_buf), "must be %s",
		                   enum_names(r->names, names, sizeof(names))) == 0)
			why = why_buf;
		else if (enum_lookup(r->names, v) < 0)
			why = "not an allowed value";
	} else {
		why = value_check(r->kind, v);
	}
	if (why)
		ctx_error(ctx, cfg->line, "%s = \"%s\": %s",
		          value_what(cfg, opt, key, what, sizeof(what)),
		          value_printable(v, shown, sizeof(shown)), why);
}

/* is_closing_call - libconfuse calls a list's validator after each
 * value and once more at the closing brace; the second call for the
 * same last value is that one. */
static bool
is_closing_call(struct parse_ctx *ctx, const cfg_opt_t *opt, const char *v)
{
	if (ctx->last_opt == opt && ctx->last_n == opt->nvalues && ctx->last_val &&
	    strcmp(ctx->last_val, v) == 0)
		return true;
	free(ctx->last_val);
	ctx->last_val = strdup(v);
	ctx->last_opt = opt;
	ctx->last_n = opt->nvalues;
	return false;
}

/* key_name - "section.key" ("key" at the top) into key; -1 if too long.
 * Runs for every value parsed: no printf. */
static int
key_name(const cfg_t *cfg, const cfg_opt_t *opt, char *key, size_t size)
{
	bool top = strcmp(cfg->name, "root") == 0;
	size_t sec = top ? 0 : strlen(cfg->name), name = strlen(opt->name);

	if (sec + 1 + name + 1 > size)
		return -1;
	if (!top) {
		memcpy(key, cfg->name, sec);
		key[sec++] = '.';
	}
	memcpy(key + sec, opt->name, name + 1);
	return 0;
}

/* own_key - opt is one of cfg's own keys.  libconfuse also takes
 * "tls|cert = ..." at the top for tls's cert: that value would be
 * checked under the wrong name (not at all) and read by conf_build as
 * if the section had set it. */
static bool
own_key(const cfg_t *cfg, const cfg_opt_t *opt)
{
	const cfg_opt_t *o;

	for (o = cfg->opts; o->name; o++)
		if (o == opt)
			return true;
	return false;
}

/* validate_cb - runs as each value is parsed, so cfg->line is its line.
 * Always returns 0: a bad value is reported and parsing goes on, so
 * that one run shows every bad value. */
static int
validate_cb(cfg_t *cfg, cfg_opt_t *opt)
{
	struct parse_ctx *ctx = cur;
	const struct key_rule *r;
	char key[48], what[128];
	const char *v;
	unsigned n = opt->nvalues;
	long i;

	if (!ctx || n == 0)
		return 0;
	if (!own_key(cfg, opt)) {
		ctx_error(ctx, cfg->line,
		          "'%s' set from outside its section: \"section|key\" is not "
		          "allowed",
		          opt->name);
		return 0;
	}
	if (key_name(cfg, opt, key, sizeof(key)) < 0)
		return 0;
	if (seen_record(ctx, cfg, key, cfg->line) < 0)
		ctx_error(ctx, cfg->line, "out of memory");
	r = key_rule_find(key);
	if (!r)
		return 0;
	if (opt->type == CFGT_INT) {
		i = cfg_opt_getnint(opt, n - 1);
		if (i < r->min || i > r->max)
			ctx_error(ctx, cfg->line, "%s = %ld: must be between %ld and %ld",
			          value_what(cfg, opt, key, what, sizeof(what)), i, r->min, r->max);
		return 0;
	}
	if (opt->type != CFGT_STR)
		return 0;
	v = cfg_opt_getnstr(opt, n - 1);
	if (!v || ((opt->flags & CFGF_LIST) && is_closing_call(ctx, opt, v)))
		return 0;
	check_string(ctx, cfg, opt, key, r, v);
	return 0;
}

/* prepare_schema - set in the schema itself (cfg_init copies it):
 * validate_cb on every key of every section, with no lookup by name per
 * key and per load, as cfg_set_validate_func would do; and
 * CFGF_NODEFAULT on every option and section, so that libconfuse makes
 * values and sections only for what the file sets (conf_build.c reads
 * the defaults from the schema) instead of making all of them and
 * freeing most, unread, at the end of each load */
static void
prepare_schema(void)
{
	cfg_opt_t *o, *sub;

	for (o = root_opts; o->name; o++) {
		o->flags |= CFGF_NODEFAULT;
		if (o->type != CFGT_SEC) {
			o->validcb = validate_cb;
			continue;
		}
		for (sub = o->subopts; sub && sub->name; sub++) {
			sub->flags |= CFGF_NODEFAULT;
			sub->validcb = validate_cb;
		}
	}
}

/* print_notes - keys set in the file whose feature is not there yet */
static void
print_notes(const struct parse_ctx *ctx, FILE *notes)
{
	const char *const *ni;
	size_t i, j, n;
	bool dup;

	for (i = 0; i < ctx->n_seen; i++) {
		const char *key = ctx->seen[i].key;

		for (dup = false, j = 0; j < i && !dup; j++)
			dup = strcmp(ctx->seen[j].key, key) == 0;
		for (ni = conf_not_implemented; *ni && !dup; ni++) {
			n = strlen(*ni);
			if (strncmp(key, *ni, n) == 0 && (key[n] == '\0' || key[n] == '.')) {
				fprintf(notes,
				        "%s:%d: note: %s is accepted but not implemented yet\n",
				        ctx->file, ctx->seen[i].line, key);
				break;
			}
		}
	}
}

/* The tree of the last load.  Freeing it (one allocation per value, per
 * key name, per section) cost a fifth of a load, malloc's tidying
 * included, and bought nothing to a program that loads its config once,
 * copies what it needs (conf_build) and runs.  So the tree stays,
 * reachable, until conf_free or the next load. */
static cfg_t *kept_tree;

void
conf_drop_tree(void)
{
	if (kept_tree)
		cfg_free(kept_tree);
	kept_tree = NULL;
}

/* parse_text - text is NUL-terminated, holds no other NUL, and is ours
 * to change (conf_prescan rewrites it) */
static enum result
parse_text(struct parse_ctx *ctx, char *text, struct config *out, FILE *notes)
{
	enum result r = RES_PERM;
	cfg_t *cfg;
	int rc;

	conf_prescan(text, ctx);
	prepare_schema();
	conf_drop_tree();
	cfg = cfg_init(root_opts, CFGF_NONE);
	if (!cfg) {
		ctx_error(ctx, 0, "out of memory");
		return RES_TEMP;
	}
	cfg_set_error_function(cfg, confuse_error);
	cur = ctx;
	rc = cfg_parse_buf(cfg, text);
	cur = NULL;
	if (rc != CFG_SUCCESS && ctx->errors == 0)
		ctx_error(ctx, 0, "syntax error");
	if (rc == CFG_SUCCESS)
		r = conf_build(cfg, ctx, out);
	if (r == RES_OK && notes)
		conf_check_files(ctx, out, notes);
	if (r == RES_OK && ctx->errors > 0)
		r = RES_PERM;
	if (notes)
		print_notes(ctx, notes);
	kept_tree = cfg;
	return r;
}

/* load_text - the common path of files and the built-in default */
static enum result
load_text(const char *text, size_t len, const char *name, struct config *out, FILE *errs,
          FILE *notes)
{
	struct buf copy = BUF_INIT(CONF_FILE_MAX);
	char empty[1] = "";
	struct parse_ctx ctx;
	enum result r = RES_PERM;

	memset(out, 0, sizeof(*out));
	memset(&ctx, 0, sizeof(ctx));
	ctx.errs = errs ? errs : stderr;
	ctx.file = name;
	if (buf_set(&copy, text, len) < 0) {
		ctx_error(&ctx, 0, "%s", errno == E2BIG ? "larger than 1 MiB" : "out of memory");
		r = errno == E2BIG ? RES_PERM : RES_TEMP;
	} else if (copy.len && memchr(copy.s, '\0', copy.len)) {
		ctx_error(&ctx, 0, "contains a NUL byte (not a text file)");
	} else {
		r = parse_text(&ctx, copy.s ? copy.s : empty, out, notes);
	}
	buf_free(&copy);
	free(ctx.seen);
	free(ctx.opens);
	free(ctx.last_val);
	if (r != RES_OK)
		conf_free(out);
	return r;
}

enum result
conf_load_text(const char *text, size_t len, const char *name, struct config *out, FILE *errs)
{
	return load_text(text, len, name, out, errs, NULL);
}

/* read_file - the whole file into b; -1 with errno */
static int
read_file(const char *path, struct buf *b)
{
	char chunk[8192];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -1;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || buf_append(b, chunk, (size_t)n) < 0) {
			int e = errno;

			close(fd);
			errno = e;
			return -1;
		}
	}
	close(fd);
	return 0;
}

/* load_path - conf_load and conf_check */
static enum result
load_path(const char *path, struct config *out, FILE *errs, FILE *notes)
{
	struct buf b = BUF_INIT(CONF_FILE_MAX);
	const char *builtin;
	enum result r;

	if (!path)
		path = conf_path(NULL);
	if (!errs)
		errs = stderr;
	if (read_file(path, &b) < 0) {
		int e = errno;

		buf_free(&b);
		memset(out, 0, sizeof(*out));
		if (e == ENOENT && strcmp(path, conf_default_path()) == 0) {
			builtin = conf_builtin_text();
			return load_text(builtin, strlen(builtin), BUILTIN_NAME, out, errs, notes);
		}
		fprintf(errs, "%s: %s\n", path, e == E2BIG ? "larger than 1 MiB" : strerror(e));
		return e == E2BIG ? RES_PERM : RES_TEMP;
	}
	r = load_text(buf_cstr(&b), b.len, path, out, errs, notes);
	buf_free(&b);
	return r;
}

enum result
conf_load(const char *path, struct config *out, FILE *errs)
{
	return load_path(path, out, errs, NULL);
}

int
conf_check(const char *path, FILE *out)
{
	struct config cfg;
	enum result r;

	if (!out)
		out = stdout;
	r = load_path(path, &cfg, out, out);
	if (r != RES_OK)
		return EX_CONFIG;
	conf_free(&cfg);
	return EX_OK;
}

const char *
conf_default_path(void)
{
	return MAILOUT_SYSCONFDIR "/mailout/mailout.conf";
}

const char *
conf_path(const char *from_option)
{
	const char *env;

	if (from_option && *from_option)
		return from_option;
	/* secure_getenv: NULL when the program runs set-id (AT_SECURE) */
	env = secure_getenv("MAILOUT_CONFIG");
	if (env && *env)
		return env;
	return conf_default_path();
}

const struct conf_listener *
conf_listener(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->n_listeners; i++)
		if (strcmp(cfg->listeners[i].name, name) == 0)
			return &cfg->listeners[i];
	return NULL;
}

const char *
conf_file_for_children(const struct config *cfg)
{
	const char *f = cfg->file;

	return f && f[0] && strcmp(f, BUILTIN_NAME) != 0 ? f : NULL;
}
