/*
 * spool_read.c - mailout-spool: finding and reading messages
 *
 * What it is for: the spool as mailout-deliver sees it - new/ (queued),
 * deferred/, hold/ (held), state/ID - read with the same parsers
 * (mail_spool_read, mail_state), so the admin's view and the
 * deliverer's never disagree.  Only the envelope block of a message is
 * read (bounded by SPOOL_ENVELOPE_MAX), never the whole body.
 * What it must never do: write anything, follow a symlink, or take a
 * name from a directory that is not a valid queue ID.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"

#define READ_CHUNK ((size_t)64 * 1024)

static const char *const state_names[SPOOL_NSTATES] = {"queued", "deferred", "held"};
static const char *const state_dirs[SPOOL_NSTATES] = {"new", "deferred", "hold"};

const char *
spool_state_name(enum spool_state s)
{
	return state_names[s];
}

const char *
spool_state_dir(enum spool_state s)
{
	return state_dirs[s];
}

void
spool_close(struct spool_dirs *d)
{
	int i;

	for (i = 0; i < SPOOL_NSTATES; i++)
		if (d->dir[i] >= 0)
			(void)close(d->dir[i]);
	if (d->state >= 0)
		(void)close(d->state);
	if (d->root >= 0)
		(void)close(d->root);
	d->root = d->state = -1;
	for (i = 0; i < SPOOL_NSTATES; i++)
		d->dir[i] = -1;
}

enum result
spool_open(const char *path, struct spool_dirs *d)
{
	const int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW;
	int i;

	d->root = d->state = -1;
	for (i = 0; i < SPOOL_NSTATES; i++)
		d->dir[i] = -1;
	if ((d->root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return RES_TEMP;
	for (i = 0; i < SPOOL_NSTATES; i++)
		if ((d->dir[i] = openat(d->root, state_dirs[i], flags)) < 0)
			break;
	if (i < SPOOL_NSTATES || (d->state = openat(d->root, "state", flags)) < 0) {
		int e = errno;

		spool_close(d);
		errno = e;
		return RES_TEMP;
	}
	return RES_OK;
}

/* id_cmp - IDs sort by time */
static int
id_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
spool_ids_free(char **ids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

int
spool_ids(const struct spool_dirs *d, enum spool_state s, char ***ids, size_t *n)
{
	int fd = dup(d->dir[s]);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	char **v = NULL, **nv;
	size_t k = 0;

	if (dir == NULL) {
		if (fd >= 0)
			(void)close(fd);
		return -1;
	}
	rewinddir(dir);
	while ((e = readdir(dir)) != NULL) {
		if (!queue_id_valid(e->d_name))
			continue;
		if ((nv = realloc(v, (k + 1) * sizeof(*v))) == NULL ||
		    (nv[k] = strdup(e->d_name)) == NULL) {
			v = nv ? nv : v;
			spool_ids_free(v, k);
			(void)closedir(dir);
			return -1;
		}
		v = nv;
		k++;
	}
	(void)closedir(dir);
	if (k > 0)
		qsort(v, k, sizeof(*v), id_cmp);
	*ids = v;
	*n = k;
	return 0;
}

int
spool_find(const struct spool_dirs *d, const char *id, enum spool_state *where)
{
	struct stat st;
	int i;

	if (!queue_id_valid(id))
		return -1;
	for (i = 0; i < SPOOL_NSTATES; i++)
		if (fstatat(d->dir[i], id, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
			*where = (enum spool_state)i;
			return 0;
		}
	return -1;
}

/* read_envelope - read until the blank line that ends the envelope */
static enum result
read_envelope(int fd, struct buf *b)
{
	ssize_t r;

	for (;;) {
		if (buf_reserve(b, READ_CHUNK) < 0)
			return RES_OK; /* at the cap: let the parser say what is wrong */
		r = read(fd, b->s + b->len, READ_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return RES_TEMP;
		if (r == 0)
			return RES_OK;
		b->len += (size_t)r;
		b->s[b->len] = '\0';
		if (memmem(b->s, b->len, "\n\n", 2) != NULL)
			return RES_OK;
	}
}

enum result
spool_msg_load(const struct spool_dirs *d, enum spool_state where, const char *id,
               struct spool_msg *m)
{
	struct buf b = BUF_INIT(SPOOL_ENVELOPE_MAX);
	struct stat st;
	enum result r;
	int fd, bad;

	memset(m, 0, sizeof(*m));
	state_init(&m->st);
	(void)bounded_copy(m->id, sizeof(m->id), id);
	m->where = where;
	fd = openat(d->dir[where], id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? RES_PERM : RES_TEMP;
	r = fstat(fd, &st) < 0 ? RES_TEMP : read_envelope(fd, &b);
	(void)close(fd);
	if (r == RES_OK &&
	    spool_parse_envelope(b.s ? b.s : "", b.len, &m->env, m->why, sizeof(m->why)) != RES_OK)
		m->bad = true;
	buf_free(&b);
	if (r != RES_OK)
		return r;
	m->size = (uint64_t)st.st_size > m->env.body_offset
	              ? (uint64_t)st.st_size - m->env.body_offset
	              : 0;
	if (state_load(d->state, id, &m->st, &bad) != RES_OK)
		return RES_TEMP;
	return RES_OK;
}

void
spool_msg_free(struct spool_msg *m)
{
	spool_envelope_free(&m->env);
	state_free(&m->st);
}

void
spool_counters_read(const struct spool_dirs *d, struct spool_counters *c)
{
	struct mail_counters mc;
	char text[4096];
	size_t len = 0;
	ssize_t n;
	int fd;

	memset(c, 0, sizeof(*c));
	if ((fd = openat(d->root, COUNTERS_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return;
	while (len < sizeof(text) && (n = read(fd, text + len, sizeof(text) - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			(void)close(fd);
			return;
		}
		len += (size_t)n;
	}
	(void)close(fd);
	counters_parse(text, len, &mc);
	c->delivered = mc.delivered;
	c->bounced = mc.bounced;
	c->deferred = mc.deferred;
	c->present = true;
}

int
spool_cat(const struct spool_dirs *d, enum spool_state where, const char *id, int out)
{
	char chunk[READ_CHUNK];
	ssize_t r, w, off;
	int fd = openat(d->dir[where], id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -1;
	while ((r = read(fd, chunk, sizeof(chunk))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		for (off = 0; r > 0 && off < r; off += w)
			if ((w = write(out, chunk + off, (size_t)(r - off))) < 0)
				break;
		if (r < 0 || off < r)
			break;
	}
	(void)close(fd);
	return r == 0 ? 0 : -1;
}
