/*
 * mail_rewrite.c - sender masquerading and address lists (see mail_rewrite.h)
 *
 * What it is for: turning "root" and "www-data@host.local" into
 * addresses the gateway accepts, per the rewrite section and its map,
 * in the envelope and in From:; walking RFC 5322 address lists.
 * What it must never do: rewrite a sender that is neither local nor
 * named in the map, change anything in a header but the addresses,
 * or read past a bounded input (header values and map files are
 * untrusted: every loop is bounded by len, every copy by its size).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail_rewrite.h"

/* lower_copy - lower-cased copy of n bytes; -1 if it does not fit */
static int
lower_copy(char *dst, size_t dstsize, const char *src, size_t n)
{
	size_t i;

	if (n >= dstsize)
		return -1;
	for (i = 0; i < n; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[n] = '\0';
	return 0;
}

void
rewrite_init(struct rewrite *rw)
{
	memset(rw, 0, sizeof(*rw));
}

void
rewrite_free(struct rewrite *rw)
{
	size_t i;

	for (i = 0; i < rw->n_map; i++) {
		free(rw->map[i].key);
		free(rw->map[i].value);
	}
	free(rw->map);
	rw->map = NULL;
	rw->n_map = 0;
}

/* set_name - lower-cased host name without a trailing dot */
static int
set_name(char *dst, size_t dstsize, const char *name)
{
	size_t n = strlen(name);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0)
		return -1;
	return lower_copy(dst, dstsize, name, n);
}

int
rewrite_set_domain(struct rewrite *rw, const char *domain)
{
	if (domain == NULL)
		return -1;
	return set_name(rw->domain, sizeof(rw->domain), domain);
}

int
rewrite_add_local(struct rewrite *rw, const char *name)
{
	if (name == NULL || rw->n_locals >= REWRITE_LOCALS_MAX)
		return -1;
	if (set_name(rw->locals[rw->n_locals], sizeof(rw->locals[0]), name) < 0)
		return -1;
	rw->n_locals++;
	return 0;
}

int
rewrite_add_host(struct rewrite *rw, const char *name)
{
	char shortname[ADDR_DOMAIN_MAX + 1];
	size_t n = name ? strcspn(name, ".") : 0;

	if (rewrite_add_local(rw, name) < 0)
		return -1;
	if (name[n] != '.' || n == 0 || n >= sizeof(shortname))
		return 0;
	memcpy(shortname, name, n);
	shortname[n] = '\0';
	return rewrite_add_local(rw, shortname);
}

/* has_suffix - domain ends in the label sequence suffix (".local") */
static bool
has_suffix(const char *d, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n > k && strncasecmp(d + n - k, suffix, k) == 0;
}

/* rewrite_domain_is_local - names that only mean "this host" */
bool
rewrite_domain_is_local(const struct rewrite *rw, const char *domain)
{
	size_t n = strlen(domain), i;

	if (n > 0 && domain[n - 1] == '.')
		n--;
	if (n == 0)
		return true;
	if ((n == 9 && strncasecmp(domain, "localhost", 9) == 0) ||
	    has_suffix(domain, n, ".localhost") || has_suffix(domain, n, ".localdomain") ||
	    has_suffix(domain, n, ".local"))
		return true;
	if (strncmp(domain, "[127.", 5) == 0 || strncasecmp(domain, "[ipv6:::1]", 10) == 0)
		return true;
	for (i = 0; i < rw->n_locals; i++)
		if (strlen(rw->locals[i]) == n && strncasecmp(rw->locals[i], domain, n) == 0)
			return true;
	return false;
}

/* entry_cmp_key - order of the map: by key */
static int
entry_cmp_key(const void *a, const void *b)
{
	const struct rewrite_entry *x = a, *y = b;

	return strcmp(x->key, y->key);
}

/* entry_cmp - sort by key, then by line so that the first line wins */
static int
entry_cmp(const void *a, const void *b)
{
	const struct rewrite_entry *x = a, *y = b;
	int c = entry_cmp_key(a, b);

	if (c != 0)
		return c;
	return (x->line > y->line) - (x->line < y->line);
}

const char *
rewrite_map_lookup(const struct rewrite *rw, const char *key)
{
	char k[ADDR_PATH_MAX + 1];
	struct rewrite_entry probe, *hit;

	if (rw->n_map == 0 || lower_copy(k, sizeof(k), key, strlen(key)) < 0)
		return NULL;
	probe.key = k;
	probe.value = NULL;
	probe.line = 0;
	hit = bsearch(&probe, rw->map, rw->n_map, sizeof(*rw->map), entry_cmp_key);
	return hit ? hit->value : NULL;
}

/* token_ok - a map key or value: printable, no space, bounded */
static bool
token_ok(const char *t, size_t n)
{
	size_t i;

	if (n == 0 || n > ADDR_PATH_MAX)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == ',' || c == '"')
			return false;
	}
	return true;
}

/* value_ok - a replacement must be a full address: local@domain */
static bool
value_ok(const char *v, size_t n)
{
	const char *at = memchr(v, '@', n);

	return token_ok(v, n) && at != NULL && at != v && at != v + n - 1 &&
	       memchr(at + 1, '@', n - (size_t)(at + 1 - v)) == NULL;
}

/* map_add - append one entry (unsorted) */
static int
map_add(struct rewrite *rw, const char *k, size_t kn, const char *v, size_t vn, unsigned line)
{
	struct rewrite_entry *e, *nm;

	if (rw->n_map >= SIZE_MAX / sizeof(*rw->map) - 1) {
		errno = ENOMEM;
		return -1;
	}
	nm = realloc(rw->map, (rw->n_map + 1) * sizeof(*rw->map));
	if (nm == NULL)
		return -1;
	rw->map = nm;
	e = &rw->map[rw->n_map];
	e->key = malloc(kn + 1);
	e->value = malloc(vn + 1);
	if (e->key == NULL || e->value == NULL) {
		free(e->key);
		free(e->value);
		return -1;
	}
	/* v is a slice of the map file, not a C string: copy exactly vn */
	memcpy(e->value, v, vn);
	e->value[vn] = '\0';
	(void)lower_copy(e->key, kn + 1, k, kn);
	e->line = line;
	rw->n_map++;
	return 0;
}

/* next_token - skip blanks, return the token at *i and its length */
static size_t
next_token(const char *s, size_t n, size_t *i, const char **tok)
{
	size_t start;

	while (*i < n && (s[*i] == ' ' || s[*i] == '\t'))
		(*i)++;
	start = *i;
	while (*i < n && s[*i] != ' ' && s[*i] != '\t')
		(*i)++;
	*tok = s + start;
	return *i - start;
}

/* map_line - check one line; NULL when good (or blank), else why not */
static const char *
map_line(struct rewrite *rw, const char *s, size_t n, unsigned line, int *nomem)
{
	const char *k, *v, *x;
	size_t i = 0, kn, vn, xn;

	if (n > 0 && s[n - 1] == '\r')
		n--;
	kn = next_token(s, n, &i, &k);
	if (kn == 0 || k[0] == '#')
		return NULL;
	vn = next_token(s, n, &i, &v);
	xn = next_token(s, n, &i, &x);
	if (vn == 0)
		return "missing replacement address";
	if (xn > 0 && x[0] != '#')
		return "extra text after the replacement address";
	if (!token_ok(k, kn) || k[0] == '@' || k[kn - 1] == '@')
		return "bad key (want a local part or an address)";
	if (!value_ok(v, vn))
		return "bad replacement (want local@domain)";
	if (map_add(rw, k, kn, v, vn, line) < 0)
		*nomem = 1;
	return NULL;
}

/* map_dedupe - sort; drop later duplicates of a key, reporting them */
static int
map_dedupe(struct rewrite *rw, const char *name, FILE *errs)
{
	size_t i, j;
	int dups = 0;

	if (rw->n_map == 0)
		return 0;
	qsort(rw->map, rw->n_map, sizeof(*rw->map), entry_cmp);
	for (i = 1, j = 0; i < rw->n_map; i++) {
		if (strcmp(rw->map[i].key, rw->map[j].key) == 0) {
			if (errs)
				fprintf(errs, "%s:%u: duplicate key \"%s\" ignored\n", name,
				        rw->map[i].line, rw->map[i].key);
			free(rw->map[i].key);
			free(rw->map[i].value);
			dups++;
			continue;
		}
		rw->map[++j] = rw->map[i];
	}
	rw->n_map = j + 1;
	return dups;
}

int
rewrite_map_parse(struct rewrite *rw, const char *text, size_t len, const char *name, FILE *errs)
{
	size_t pos = 0, n;
	unsigned line = 0;
	int bad = 0, nomem = 0;
	const char *nl, *why;

	while (pos < len && !nomem) {
		nl = memchr(text + pos, '\n', len - pos);
		n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		line++;
		if ((why = map_line(rw, text + pos, n, line, &nomem)) != NULL) {
			if (errs)
				fprintf(errs, "%s:%u: %s\n", name, line, why);
			bad++;
		}
		pos += n + 1;
	}
	if (nomem)
		return -1;
	return bad + map_dedupe(rw, name, errs);
}

/* read_all - a regular file of bounded size into b */
static enum result
read_all(int fd, struct buf *b)
{
	char chunk[8192];
	ssize_t r;

	for (;;) {
		r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return RES_TEMP;
		if (r == 0)
			return RES_OK;
		if (buf_append(b, chunk, (size_t)r) < 0)
			return RES_TEMP;
	}
}

enum result
rewrite_map_load(struct rewrite *rw, const char *path, FILE *errs)
{
	struct buf b = BUF_INIT(REWRITE_MAP_MAX_BYTES);
	struct stat st;
	enum result res;
	int fd;

	if (path == NULL || path[0] == '\0')
		return RES_OK;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		if (errno == ENOENT) {
			if (errs)
				fprintf(errs, "%s: rewrite map not found; using the domain only\n",
				        path);
			return RES_OK;
		}
		if (errs)
			fprintf(errs, "%s: cannot open rewrite map: %s\n", path, strerror(errno));
		return RES_TEMP;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (errs)
			fprintf(errs, "%s: rewrite map is not a regular file\n", path);
		(void)close(fd);
		return RES_TEMP;
	}
	res = read_all(fd, &b);
	(void)close(fd);
	if (res != RES_OK) {
		if (errs)
			fprintf(errs, "%s: cannot read rewrite map: %s\n", path, strerror(errno));
	} else if (rewrite_map_parse(rw, b.s ? b.s : "", b.len, path, errs) < 0) {
		res = RES_TEMP;
	}
	buf_free(&b);
	return res;
}

/* split_at - the '@' before the domain: the last one not inside a
 * quoted local part; NULL when unqualified */
static const char *
split_at(const char *addr)
{
	const char *at = strrchr(addr, '@');

	if (at == NULL || strchr(at, '"') != NULL)
		return NULL;
	return at;
}

/* put - copy a result, reporting whether it differs from addr */
static int
put(const char *addr, const char *result, char *out, size_t outsize)
{
	if (bounded_copy(out, outsize, result) < 0)
		return -1;
	return strcmp(addr, result) != 0;
}

int
rewrite_address(const struct rewrite *rw, enum rewrite_mode mode, const char *addr, char *out,
                size_t outsize)
{
	const char *at = split_at(addr), *v;
	const char *domain = at ? at + 1 : "";
	char local[ADDR_PATH_MAX + 1], masq[ADDR_PATH_MAX + 1];
	size_t ln = at ? (size_t)(at - addr) : strlen(addr);

	if (ln == 0 || ln >= sizeof(local))
		return put(addr, addr, out, outsize);
	if (mode == REWRITE_SENDER && at && (v = rewrite_map_lookup(rw, addr)) != NULL)
		return put(addr, v, out, outsize);
	if (!rewrite_domain_is_local(rw, domain) || rw->domain[0] == '\0')
		return put(addr, addr, out, outsize);
	memcpy(local, addr, ln);
	local[ln] = '\0';
	if (mode == REWRITE_SENDER && (v = rewrite_map_lookup(rw, local)) != NULL)
		return put(addr, v, out, outsize);
	if (bounded_format(masq, sizeof(masq), "%s@%s", local, rw->domain) < 0)
		return -1;
	return put(addr, masq, out, outsize);
}

/* skip_quoted - from the opening '"' to past the closing one */
static size_t
skip_quoted(const char *s, size_t len, size_t i, bool *bad)
{
	for (i++; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len)
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	*bad = true;
	return len;
}

/* skip_comment - from '(' to past the matching ')', nested */
static size_t
skip_comment(const char *s, size_t len, size_t i, bool *bad)
{
	unsigned depth = 0;

	for (; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len)
			i++;
		else if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && --depth == 0)
			return i + 1;
	}
	*bad = true;
	return len;
}

/* skip_angle - from '<' to past the matching '>' (quotes skipped) */
static size_t
skip_angle(const char *s, size_t len, size_t i, bool *bad)
{
	for (i++; i < len;) {
		if (s[i] == '"')
			i = skip_quoted(s, len, i, bad);
		else if (s[i] == '>')
			return i + 1;
		else
			i++;
	}
	*bad = true;
	return len;
}

/* addr_put - append n bytes to the item's address; a NUL (which a
 * header may carry) would cut the C string short, and the rewrite
 * would then replace more than the address it looked at: bad */
static void
addr_put(struct addrlist_item *it, size_t *an, const char *p, size_t n)
{
	if (*an + n >= sizeof(it->addr) || memchr(p, '\0', n) != NULL) {
		it->bad = true;
		return;
	}
	memcpy(it->addr + *an, p, n);
	*an += n;
	it->addr[*an] = '\0';
}

/* copy_addr - the addr-spec in s[from, to) without comments and
 * white space; two atoms separated only by space make it bad */
static void
copy_addr(const char *s, size_t from, size_t to, struct addrlist_item *it)
{
	size_t i = from, j, an = 0;
	bool space = false;
	char prev = 0;

	it->addr[0] = '\0';
	it->off = SIZE_MAX;
	while (i < to) {
		if (s[i] == '(' || s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
			i = s[i] == '(' ? skip_comment(s, to, i, &it->bad) : i + 1;
			space = true;
			continue;
		}
		j = s[i] == '"' ? skip_quoted(s, to, i, &it->bad) : i + 1;
		if (space && an > 0 && prev != '.' && prev != '@' && s[i] != '.' && s[i] != '@')
			it->bad = true;
		if (it->off == SIZE_MAX)
			it->off = i;
		it->len = j - it->off;
		addr_put(it, &an, s + i, j - i);
		prev = s[j - 1];
		space = false;
		i = j;
	}
	if (it->off == SIZE_MAX) {
		it->off = from;
		it->len = 0;
	}
}

/* item_scan - one element up to a top-level ',' or ';' */
static int
item_scan(const char *s, size_t len, size_t *pos, struct addrlist_item *it)
{
	size_t i = *pos, gstart = *pos, astart = 0, aend = 0;

	memset(it, 0, sizeof(*it));
	while (i < len && s[i] != ',' && s[i] != ';') {
		if (s[i] == '"') {
			i = skip_quoted(s, len, i, &it->bad);
		} else if (s[i] == '(') {
			i = skip_comment(s, len, i, &it->bad);
		} else if (s[i] == '<') {
			if (it->angle)
				it->bad = true;
			it->angle = true;
			astart = i + 1;
			i = skip_angle(s, len, i, &it->bad);
			aend = s[i - 1] == '>' ? i - 1 : i;
		} else {
			if (s[i] == ':' && !it->angle)
				gstart = i + 1;
			i++;
		}
	}
	*pos = i < len ? i + 1 : len;
	if (it->angle)
		copy_addr(s, astart, aend, it);
	else
		copy_addr(s, gstart, i, it);
	return it->addr[0] != '\0' || (it->bad && it->len > 0);
}

int
addrlist_next(const char *s, size_t len, size_t *pos, struct addrlist_item *it)
{
	while (*pos < len)
		if (item_scan(s, len, pos, it))
			return 1;
	return 0;
}

int
rewrite_header_value(const struct rewrite *rw, enum rewrite_mode mode, const char *value,
                     size_t len, struct buf *out)
{
	struct addrlist_item it;
	char new[ADDR_PATH_MAX + 1];
	size_t pos = 0, last = 0;
	int changed = 0, r;

	while (addrlist_next(value, len, &pos, &it)) {
		if (it.bad)
			continue;
		r = rewrite_address(rw, mode, it.addr, new, sizeof(new));
		if (r <= 0)
			continue;
		if (buf_append(out, value + last, it.off - last) < 0 || buf_appends(out, new) < 0)
			return -1;
		last = it.off + it.len;
		changed++;
	}
	if (buf_append(out, value + last, len - last) < 0)
		return -1;
	return changed;
}

/* The header fields with addresses mailout acts on (RFC 5322 3.6.2,
 * 3.6.3): one table for the receiver's and mailout-sendmail's
 * rewriting and for the recipients of sendmail -t.  Bcc: is read for
 * recipients only: -t drops it, and a receiver leaves it as it is. */
static const struct {
	const char *name;
	enum rewrite_mode mode;
	unsigned flags;
} address_fields[] = {
    {"From", REWRITE_SENDER, REWRITE_FIELD_ADDRS},
    {"To", REWRITE_RECIPIENT, REWRITE_FIELD_ADDRS | REWRITE_FIELD_RCPT},
    {"Cc", REWRITE_RECIPIENT, REWRITE_FIELD_ADDRS | REWRITE_FIELD_RCPT},
    {"Bcc", REWRITE_RECIPIENT, REWRITE_FIELD_RCPT},
};

unsigned
rewrite_field_flags(const char *name, size_t n, enum rewrite_mode *mode)
{
	size_t i;

	while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t'))
		n--;
	for (i = 0; i < sizeof(address_fields) / sizeof(address_fields[0]); i++) {
		if (strlen(address_fields[i].name) == n &&
		    strncasecmp(name, address_fields[i].name, n) == 0) {
			*mode = address_fields[i].mode;
			return address_fields[i].flags;
		}
	}
	return 0;
}

bool
rewrite_field_mode(const char *name, size_t n, enum rewrite_mode *mode)
{
	enum rewrite_mode m;

	if ((rewrite_field_flags(name, n, &m) & REWRITE_FIELD_ADDRS) == 0)
		return false;
	*mode = m;
	return true;
}

int
rewrite_header_field(const struct rewrite *rw, const char *field, size_t len, struct buf *out)
{
	const char *colon = memchr(field, ':', len);
	enum rewrite_mode mode;
	size_t head;

	/* the first colon ends the name: RFC 5322 ftext has none */
	if (colon == NULL || !rewrite_field_mode(field, (size_t)(colon - field), &mode))
		return buf_append(out, field, len) < 0 ? -1 : 0;
	head = (size_t)(colon - field) + 1;
	if (buf_append(out, field, head) < 0)
		return -1;
	return rewrite_header_value(rw, mode, field + head, len - head, out);
}

_Static_assert(RES_OK == 0, "RES_OK must be enum result's");
