/*
 * conf_build.c - from the parsed libconfuse tree to struct config:
 * what each key accepts, defaults that depend on the host or on other
 * keys, and the checks that span keys (one network in two client
 * classes, a client class without networks, ...)
 *
 * What it is for: the one place that knows what a valid configuration
 * is, beyond the syntax of single values (conf_value.c).
 * What it must never do: report a value twice (conf.c already did, with
 * its line, while parsing) or return RES_OK with a half-filled config.
 */
#include "conf_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "net.h"

static const struct enum_map listener_tls_names[] = {
    {"starttls", LISTENER_TLS_STARTTLS},
    {"implicit", LISTENER_TLS_IMPLICIT},
    {"none", LISTENER_TLS_NONE},
    {NULL, 0},
};

static const struct enum_map listener_auth_names[] = {
    {"none", LISTENER_AUTH_NONE},
    {"optional", LISTENER_AUTH_OPTIONAL},
    {"required", LISTENER_AUTH_REQUIRED},
    {NULL, 0},
};

static const struct enum_map gateway_tls_names[] = {
    {"verify", GATEWAY_TLS_VERIFY},     {"encrypt", GATEWAY_TLS_ENCRYPT}, {"may", GATEWAY_TLS_MAY},
    {"implicit", GATEWAY_TLS_IMPLICIT}, {"none", GATEWAY_TLS_NONE},       {NULL, 0},
};

static const struct enum_map exec_names[] = {
    {"reject", EXEC_REJECT},
    {"bounce", EXEC_BOUNCE},
    {NULL, 0},
};

/* What every key accepts.  Booleans are checked by libconfuse. */
static const struct key_rule rules[] = {
    {"hostname", V_DOMAIN, NULL, 0, 0},
    {"spool", V_PATH, NULL, 0, 0},
    {"tls.cert", V_CREDENTIAL, NULL, 0, 0},
    {"tls.key", V_CREDENTIAL, NULL, 0, 0},
    {"tls.min_version", V_TLS_VERSION, NULL, 0, 0},
    {"listener.tls", V_ENUM, listener_tls_names, 0, 0},
    {"listener.auth", V_ENUM, listener_auth_names, 0, 0},
    {"client.networks", V_NETWORK, NULL, 0, 0},
    {"client.relay_domains", V_DOMAIN, NULL, 0, 0},
    {"client.sender_domains", V_DOMAIN, NULL, 0, 0},
    {"client.rate", V_RATE, NULL, 0, 0},
    {"auth.passwd_file", V_CREDENTIAL, NULL, 0, 0},
    {"auth.pam_service", V_NAME_OR_EMPTY, NULL, 0, 0},
    {"auth.sender_map", V_CREDENTIAL, NULL, 0, 0},
    {"auth.sender_patterns", V_PATTERN, NULL, 0, 0},
    {"auth.max_failures", V_COUNT, NULL, 1, 1000000},
    {"auth.failure_window", V_DURATION, NULL, 0, 0},
    {"auth.failure_delay", V_DURATION0, NULL, 0, 0},
    {"rewrite.domain", V_DOMAIN_OR_EMPTY, NULL, 0, 0},
    {"rewrite.map", V_PATH_OR_EMPTY, NULL, 0, 0},
    {"limits.message_size", V_SIZE, NULL, 0, 0},
    {"limits.recipients", V_COUNT, NULL, 1, 100000},
    {"limits.command_timeout", V_DURATION, NULL, 0, 0},
    {"limits.data_timeout", V_DURATION, NULL, 0, 0},
    {"limits.errors", V_COUNT, NULL, 1, 100000},
    {"limits.hops", V_COUNT, NULL, 1, 10000},
    {"limits.pregreet_wait", V_DURATION0, NULL, 0, 0},
    {"content.executable_action", V_ENUM, exec_names, 0, 0},
    {"blocklist", V_PATH_OR_EMPTY, NULL, 0, 0},
    {"blocklist_message", V_TEXT, NULL, 0, 0},
    {"state_dir", V_PATH, NULL, 0, 0},
    {"resolver.nameserver", V_NAMESERVER, NULL, 0, 0},
    {"gateway.servers", V_SERVER, NULL, 0, 0},
    {"gateway.tls", V_ENUM, gateway_tls_names, 0, 0},
    {"gateway.ca_file", V_PATH_OR_EMPTY, NULL, 0, 0},
    {"gateway.fingerprints", V_FINGERPRINT, NULL, 0, 0},
    {"gateway.user", V_TEXT, NULL, 0, 0},
    {"gateway.password_file", V_CREDENTIAL, NULL, 0, 0},
    {"gateway.connections", V_COUNT, NULL, 1, 64},
    {"gateway.command_timeout", V_DURATION, NULL, 0, 0},
    {"queue.lifetime", V_DURATION, NULL, 0, 0},
    {"queue.retry_min", V_DURATION, NULL, 0, 0},
    {"queue.retry_max", V_DURATION, NULL, 0, 0},
    {"queue.delay_warning", V_DURATION0, NULL, 0, 0},
    {"queue.postmaster", V_ADDRESS_OR_EMPTY, NULL, 0, 0},
    {"queue.socket", V_PATH_OR_EMPTY, NULL, 0, 0},
    {NULL, V_TEXT, NULL, 0, 0},
};

/* A build in progress: bad is set when a value does not convert (it
 * was reported while parsing), oom when memory ran out. */
struct build {
	struct parse_ctx *ctx;
	bool bad, oom;
};

/*
 * A section as the build reads it.  conf.c marks every option of the
 * schema CFGF_NODEFAULT, so libconfuse makes no value the file does not
 * set, and no section the file does not have (building them all, then
 * freeing them, was most of a load): a key not set reads its default
 * from opts, and a section not in the file reads opts, the schema's
 * copy that libconfuse keeps in the root, alone (sec is then NULL).
 */
struct view {
	cfg_t *sec;
	cfg_opt_t *opts;
};

/* key_rule_find - runs for every value parsed: the first octet is
 * compared before the whole key */
const struct key_rule *
key_rule_find(const char *key)
{
	const struct key_rule *r;

	for (r = rules; r->key; r++)
		if (r->key[0] == key[0] && strcmp(r->key, key) == 0)
			return r;
	return NULL;
}

int
enum_lookup(const struct enum_map *map, const char *name)
{
	for (; map->name; map++)
		if (strcmp(map->name, name) == 0)
			return map->value;
	return -1;
}

/* find_opt - the option called name among opts; NULL if none */
static cfg_opt_t *
find_opt(cfg_opt_t *opts, const char *name)
{
	for (; opts && opts->name; opts++)
		if (strcmp(opts->name, name) == 0)
			return opts;
	return NULL;
}

/* view_root - the top level, which always exists */
static struct view
view_root(cfg_t *cfg)
{
	struct view v = {cfg, cfg->opts};

	return v;
}

/* view_section - an untitled section (tls, limits, ...): the file's,
 * else the schema's defaults */
static struct view
view_section(cfg_t *cfg, const char *name)
{
	cfg_opt_t *o = find_opt(cfg->opts, name);
	struct view v = {NULL, NULL};

	if (o) {
		v.sec = cfg_opt_getnsec(o, 0);
		v.opts = v.sec ? v.sec->opts : o->subopts;
	}
	return v;
}

/* view_titled - the i-th of the titled sections called name */
static struct view
view_titled(cfg_opt_t *o, unsigned i)
{
	struct view v = {cfg_opt_getnsec(o, i), NULL};

	if (v.sec)
		v.opts = v.sec->opts;
	return v;
}

/* view_opt - a key of the section; none means the schema and this file
 * disagree, which the build reports as a value that does not convert */
static cfg_opt_t *
view_opt(struct build *b, const struct view *v, const char *key)
{
	cfg_opt_t *o = find_opt(v->opts, key);

	if (!o)
		b->bad = true;
	return o;
}

/* view_str - a string key's value, or its default */
static const char *
view_str(struct build *b, const struct view *v, const char *key)
{
	cfg_opt_t *o = view_opt(b, v, key);

	if (!o)
		return NULL;
	return cfg_opt_size(o) ? cfg_opt_getnstr(o, 0) : o->def.string;
}

/* view_int - an integer key's value, or its default */
static long
view_int(struct build *b, const struct view *v, const char *key)
{
	cfg_opt_t *o = view_opt(b, v, key);

	if (!o)
		return 0;
	return cfg_opt_size(o) ? cfg_opt_getnint(o, 0) : o->def.number;
}

/* view_bool - a boolean key's value, or its default */
static bool
view_bool(struct build *b, const struct view *v, const char *key)
{
	cfg_opt_t *o = view_opt(b, v, key);

	if (!o)
		return false;
	return (cfg_opt_size(o) ? cfg_opt_getnbool(o, 0) : o->def.boolean) == cfg_true;
}

/* xstrdup - strdup that records running out of memory */
static char *
xstrdup(struct build *b, const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d)
		b->oom = true;
	return d;
}

/* get_str - a string key, never NULL in the result */
static char *
get_str(struct build *b, const struct view *sec, const char *key)
{
	return xstrdup(b, view_str(b, sec, key));
}

static unsigned
get_duration(struct build *b, const struct view *sec, const char *key)
{
	const char *s = view_str(b, sec, key);
	unsigned v = 0;

	if (!s || conf_parse_duration(s, &v) < 0)
		b->bad = true;
	return v;
}

static unsigned
get_count(struct build *b, const struct view *sec, const char *name, const char *key)
{
	const struct key_rule *r = key_rule_find(name);
	long v = view_int(b, sec, key);

	if (!r || v < r->min || v > r->max) {
		b->bad = true;
		return 0;
	}
	return (unsigned)v;
}

static int
get_enum(struct build *b, const struct view *sec, const char *name, const char *key, int def)
{
	const struct key_rule *r = key_rule_find(name);
	const char *v = view_str(b, sec, key);
	int e;

	if (!v || !*v)
		return def;
	e = enum_lookup(r->names, v);
	if (e < 0)
		b->bad = true;
	return e < 0 ? def : e;
}

/* get_list - a list of strings; domains are stored normalised */
static void
get_list(struct build *b, const struct view *sec, const char *key, bool domains,
         struct conf_list *out)
{
	cfg_opt_t *o = view_opt(b, sec, key);
	unsigned i, n = cfg_opt_size(o);
	char dom[256];
	const char *v, *why;

	out->n = 0;
	out->items = n ? calloc(n, sizeof(char *)) : NULL;
	if (n && !out->items) {
		b->oom = true;
		return;
	}
	for (i = 0; i < n; i++) {
		v = cfg_opt_getnstr(o, i);
		if (!v || (domains && conf_parse_domain(v, dom, sizeof(dom), &why) < 0)) {
			b->bad = true;
			continue;
		}
		out->items[out->n] = xstrdup(b, domains ? dom : v);
		if (out->items[out->n])
			out->n++;
	}
}

/* build_top - hostname, spool, tls, blocklist, state_dir */
static void
build_top(struct build *b, cfg_t *cfg, struct config *out)
{
	struct view top = view_root(cfg), tls = view_section(cfg, "tls");
	const char *h = view_str(b, &top, "hostname");
	char dom[256];
	const char *why;

	if (h && *h) {
		bool ok = conf_parse_domain(h, dom, sizeof(dom), &why) == 0;

		b->bad = b->bad || !ok;
		out->hostname = xstrdup(b, ok ? dom : h);
	} else {
		out->hostname = xstrdup(b, ""); /* conf_hostname() finds it */
	}
	out->spool = get_str(b, &top, "spool");
	out->blocklist = get_str(b, &top, "blocklist");
	out->blocklist_message = get_str(b, &top, "blocklist_message");
	out->state_dir = get_str(b, &top, "state_dir");
	out->tls.cert = get_str(b, &tls, "cert");
	out->tls.key = get_str(b, &tls, "key");
	out->tls.min_version = get_str(b, &tls, "min_version");
	if (out->tls.cert && out->tls.key && !*out->tls.cert != !*out->tls.key)
		ctx_error(b->ctx,
		          ctx_line(b->ctx, tls.sec, *out->tls.cert ? "tls.cert" : "tls.key"),
		          "tls: cert and key go together: set both or neither");
}

/* listener_defaults - the namesake standard listener's settings */
static void
listener_defaults(struct conf_listener *l)
{
	l->tls = LISTENER_TLS_STARTTLS;
	l->auth = LISTENER_AUTH_OPTIONAL;
	if (strcmp(l->name, "smtps") == 0)
		l->tls = LISTENER_TLS_IMPLICIT;
	if (strcmp(l->name, "smtps") == 0 || strcmp(l->name, "submission") == 0)
		l->auth = LISTENER_AUTH_REQUIRED;
}

/* build_listeners - the sections, or smtp, submission, smtps if none */
static void
build_listeners(struct build *b, cfg_t *cfg, struct config *out)
{
	static const char *const std[] = {"smtp", "submission", "smtps"};
	cfg_opt_t *o = find_opt(cfg->opts, "listener");
	unsigned i, n = cfg_opt_size(o);
	size_t want = n ? n : 3;

	out->listeners = calloc(want, sizeof(*out->listeners));
	if (!out->listeners) {
		b->oom = true;
		return;
	}
	for (i = 0; i < want; i++) {
		struct conf_listener *l = &out->listeners[out->n_listeners];
		struct view v = view_titled(o, i);
		cfg_t *sec = n ? v.sec : NULL;

		l->name = xstrdup(b, sec ? cfg_title(sec) : std[i]);
		if (!l->name)
			return;
		out->n_listeners++;
		listener_defaults(l);
		if (!sec)
			continue;
		l->line = ctx_section_line(b->ctx, sec, sec->line);
		if (!value_is_name(l->name))
			ctx_error(b->ctx, l->line,
			          "listener \"%s\": a name has letters, digits, "
			          "'.', '_' and '-' only",
			          l->name);
		l->tls = get_enum(b, &v, "listener.tls", "tls", (int)l->tls);
		l->auth = get_enum(b, &v, "listener.auth", "auth", (int)l->auth);
	}
}

/* client_networks - parse the networks of one class */
static void
client_networks(struct build *b, const struct view *sec, struct conf_client *c)
{
	cfg_opt_t *o = view_opt(b, sec, "networks");
	unsigned i, n = cfg_opt_size(o);
	const char *v, *why;

	c->networks = n ? calloc(n, sizeof(*c->networks)) : NULL;
	if (n && !c->networks) {
		b->oom = true;
		return;
	}
	for (i = 0; i < n; i++) {
		v = cfg_opt_getnstr(o, i);
		if (!v || cidr_parse(v, &c->networks[c->n_networks], &why) < 0)
			b->bad = true;
		else
			c->n_networks++;
	}
}

/* build_client - one client class */
static void
build_client(struct build *b, const struct view *sec, struct conf_client *c)
{
	const char *rate = view_str(b, sec, "rate");

	c->line = ctx_section_line(b->ctx, sec->sec, sec->sec->line);
	if (!value_is_name(c->name))
		ctx_error(b->ctx, c->line,
		          "client \"%s\": a name has letters, digits, '.', '_' and '-' only",
		          c->name);
	client_networks(b, sec, c);
	c->require_tls = view_bool(b, sec, "require_tls");
	c->require_dns = view_bool(b, sec, "require_dns");
	c->verify_sender = view_bool(b, sec, "verify_sender");
	c->rewrite = view_bool(b, sec, "rewrite");
	get_list(b, sec, "relay_domains", true, &c->relay_domains);
	get_list(b, sec, "sender_domains", true, &c->sender_domains);
	if (!rate || conf_parse_rate(rate, &c->rate_count, &c->rate_period) < 0)
		b->bad = true;
	if (cfg_opt_size(view_opt(b, sec, "networks")) == 0)
		ctx_error(b->ctx, c->line, "client %s: no networks (who is in this class?)",
		          c->name);
}

static bool
cidr_equal(const struct cidr *x, const struct cidr *y)
{
	return x->prefix == y->prefix && memcmp(x->addr.a, y->addr.a, sizeof(x->addr.a)) == 0;
}

/* The first place of each network: a hash table, open addressing. */
struct net_place {
	const struct cidr *net; /* NULL: a free slot */
	size_t client;
};

/* cidr_hash - FNV-1a over the address and the prefix */
static size_t
cidr_hash(const struct cidr *c)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < sizeof(c->addr.a); i++)
		h = (h ^ c->addr.a[i]) * 16777619u;
	return (h ^ c->prefix) * 16777619u;
}

/* first_place - where net was seen first, or NULL after noting this
 * place as its first; slots has a free one (cap is a power of two) */
static const struct net_place *
first_place(struct net_place *slots, size_t cap, const struct cidr *net, size_t client)
{
	size_t h = cidr_hash(net) & (cap - 1);

	while (slots[h].net && !cidr_equal(slots[h].net, net))
		h = (h + 1) & (cap - 1);
	if (slots[h].net)
		return &slots[h];
	slots[h].net = net;
	slots[h].client = client;
	return NULL;
}

/* check_duplicate_networks - a network may be in one class only: with
 * the longest-prefix rule, two would make the choice arbitrary.  Each
 * later place is reported, in the file's order, with the class of the
 * first (comparing every pair made a campus of many networks cost
 * millions of instructions per load). */
static void
check_duplicate_networks(struct build *b, const struct config *out)
{
	const struct net_place *first;
	struct net_place *slots;
	char text[NET_ADDR_STRLEN + 8];
	size_t i, k, n = 0, cap = 16;

	for (i = 0; i < out->n_clients; i++)
		n += out->clients[i].n_networks;
	while (cap < 2 * n)
		cap *= 2;
	if ((slots = calloc(cap, sizeof(*slots))) == NULL) {
		b->oom = true;
		return;
	}
	for (i = 0; i < out->n_clients; i++) {
		const struct conf_client *c = &out->clients[i];

		for (k = 0; k < c->n_networks; k++) {
			if ((first = first_place(slots, cap, &c->networks[k], i)) == NULL)
				continue;
			cidr_format(&c->networks[k], text, sizeof(text));
			ctx_error(b->ctx, c->line, "client %s: network %s is also in client %s",
			          c->name, text, out->clients[first->client].name);
		}
	}
	free(slots);
}

static void
build_clients(struct build *b, cfg_t *cfg, struct config *out)
{
	cfg_opt_t *o = find_opt(cfg->opts, "client");
	unsigned i, n = cfg_opt_size(o);

	if (n == 0)
		return;
	out->clients = calloc(n, sizeof(*out->clients));
	if (!out->clients) {
		b->oom = true;
		return;
	}
	for (i = 0; i < n; i++) {
		struct view v = view_titled(o, i);
		struct conf_client *c = &out->clients[out->n_clients];

		c->name = xstrdup(b, cfg_title(v.sec));
		if (!c->name)
			return;
		out->n_clients++;
		build_client(b, &v, c);
	}
	check_duplicate_networks(b, out);
}

/* build_policy - auth, rewrite, limits, content, resolver */
static void
build_policy(struct build *b, cfg_t *cfg, struct config *out)
{
	struct view a = view_section(cfg, "auth"), rw = view_section(cfg, "rewrite");
	struct view lim = view_section(cfg, "limits"), ct = view_section(cfg, "content");
	struct view res = view_section(cfg, "resolver");
	const char *domain = view_str(b, &rw, "domain"), *size = view_str(b, &lim, "message_size");
	char dom[256];
	const char *why;

	out->auth.passwd_file = get_str(b, &a, "passwd_file");
	out->auth.pam_service = get_str(b, &a, "pam_service");
	out->auth.sender_map = get_str(b, &a, "sender_map");
	get_list(b, &a, "sender_patterns", false, &out->auth.sender_patterns);
	out->auth.max_failures = get_count(b, &a, "auth.max_failures", "max_failures");
	out->auth.failure_window = get_duration(b, &a, "failure_window");
	out->auth.failure_delay = get_duration(b, &a, "failure_delay");
	if (domain && *domain && conf_parse_domain(domain, dom, sizeof(dom), &why) == 0)
		domain = dom;
	out->rewrite.domain = xstrdup(b, domain);
	out->rewrite.map = get_str(b, &rw, "map");
	if (!size || conf_parse_size(size, &out->limits.message_size) < 0)
		b->bad = true;
	out->limits.recipients = get_count(b, &lim, "limits.recipients", "recipients");
	out->limits.command_timeout = get_duration(b, &lim, "command_timeout");
	out->limits.data_timeout = get_duration(b, &lim, "data_timeout");
	out->limits.errors = get_count(b, &lim, "limits.errors", "errors");
	out->limits.hops = get_count(b, &lim, "limits.hops", "hops");
	out->limits.pregreet_wait = get_duration(b, &lim, "pregreet_wait");
	out->content.block_executables = view_bool(b, &ct, "block_executables");
	out->content.executable_action =
	    get_enum(b, &ct, "content.executable_action", "executable_action", EXEC_REJECT);
	out->resolver.nameserver = get_str(b, &res, "nameserver");
}

/* gateway_hosts - the servers, parsed; the port defaults by tls mode */
static void
gateway_hosts(struct build *b, struct config *out)
{
	size_t i, n = out->gateway.servers.n;
	const char *why;

	out->gateway.hosts = n ? calloc(n, sizeof(*out->gateway.hosts)) : NULL;
	if (n && !out->gateway.hosts) {
		b->oom = true;
		return;
	}
	for (i = 0; i < n; i++) {
		struct conf_server *s = &out->gateway.hosts[out->gateway.n_hosts];

		if (conf_parse_server(out->gateway.servers.items[i], s, &why) < 0) {
			b->bad = true;
			continue;
		}
		if (s->port == 0)
			s->port = out->gateway.tls == GATEWAY_TLS_IMPLICIT ? 465 : 25;
		out->gateway.n_hosts++;
	}
}

/* build_delivery - gateway and queue */
static void
build_delivery(struct build *b, cfg_t *cfg, struct config *out)
{
	struct view gw = view_section(cfg, "gateway"), q = view_section(cfg, "queue");

	get_list(b, &gw, "servers", false, &out->gateway.servers);
	out->gateway.tls = get_enum(b, &gw, "gateway.tls", "tls", GATEWAY_TLS_VERIFY);
	out->gateway.ca_file = get_str(b, &gw, "ca_file");
	get_list(b, &gw, "fingerprints", false, &out->gateway.fingerprints);
	out->gateway.user = get_str(b, &gw, "user");
	out->gateway.password_file = get_str(b, &gw, "password_file");
	out->gateway.connections = get_count(b, &gw, "gateway.connections", "connections");
	out->gateway.command_timeout = get_duration(b, &gw, "command_timeout");
	if (out->gateway.command_timeout > GATEWAY_COMMAND_TIMEOUT_MAX)
		ctx_error(b->ctx, ctx_line(b->ctx, gw.sec, "gateway.command_timeout"),
		          "gateway: command_timeout is longer than 15m (a run lasts at most 1h)");
	gateway_hosts(b, out);
	if (out->gateway.user && *out->gateway.user && out->gateway.password_file &&
	    !*out->gateway.password_file)
		ctx_error(b->ctx, ctx_line(b->ctx, gw.sec, "gateway.user"),
		          "gateway: user needs a password_file");
	out->queue.lifetime = get_duration(b, &q, "lifetime");
	out->queue.retry_min = get_duration(b, &q, "retry_min");
	out->queue.retry_max = get_duration(b, &q, "retry_max");
	out->queue.delay_warning = get_duration(b, &q, "delay_warning");
	out->queue.postmaster = get_str(b, &q, "postmaster");
	out->queue.socket = get_str(b, &q, "socket");
	if (out->queue.retry_min > out->queue.retry_max)
		ctx_error(b->ctx, ctx_line(b->ctx, q.sec, "queue.retry_min"),
		          "queue: retry_min is longer than retry_max");
}

enum result
conf_build(cfg_t *cfg, struct parse_ctx *ctx, struct config *out)
{
	struct build b = {ctx, false, false};
	int errors = ctx->errors;

	out->file = xstrdup(&b, ctx->file);
	build_top(&b, cfg, out);
	build_listeners(&b, cfg, out);
	build_clients(&b, cfg, out);
	build_policy(&b, cfg, out);
	build_delivery(&b, cfg, out);
	if (b.oom) {
		ctx_error(ctx, 0, "out of memory");
		return RES_TEMP;
	}
	if (b.bad && errors == 0)
		ctx_error(ctx, 0, "internal error: a default value does not convert");
	return b.bad || ctx->errors > 0 ? RES_PERM : RES_OK;
}

static void
free_list(struct conf_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

static void
free_clients(struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_clients; i++) {
		free(cfg->clients[i].name);
		free(cfg->clients[i].networks);
		free_list(&cfg->clients[i].relay_domains);
		free_list(&cfg->clients[i].sender_domains);
	}
	free(cfg->clients);
}

void
conf_free(struct config *cfg)
{
	size_t i;

	conf_drop_tree();
	if (!cfg)
		return;
	free(cfg->file);
	free(cfg->hostname);
	free(cfg->spool);
	free(cfg->tls.cert);
	free(cfg->tls.key);
	free(cfg->tls.min_version);
	for (i = 0; i < cfg->n_listeners; i++)
		free(cfg->listeners[i].name);
	free(cfg->listeners);
	free_clients(cfg);
	free(cfg->auth.passwd_file);
	free(cfg->auth.pam_service);
	free(cfg->auth.sender_map);
	free_list(&cfg->auth.sender_patterns);
	free(cfg->rewrite.domain);
	free(cfg->rewrite.map);
	free(cfg->blocklist);
	free(cfg->blocklist_message);
	free(cfg->state_dir);
	free(cfg->resolver.nameserver);
	free_list(&cfg->gateway.servers);
	for (i = 0; i < cfg->gateway.n_hosts; i++)
		free(cfg->gateway.hosts[i].host);
	free(cfg->gateway.hosts);
	free(cfg->gateway.ca_file);
	free_list(&cfg->gateway.fingerprints);
	free(cfg->gateway.user);
	free(cfg->gateway.password_file);
	free(cfg->queue.postmaster);
	free(cfg->queue.socket);
	memset(cfg, 0, sizeof(*cfg));
}
