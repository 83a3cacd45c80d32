/*
 * client_state.c - counters per client address, shared by all sessions
 *
 * What it is for: the one file in which the per-connection processes
 * of mailout-smtpd count, per client address, the messages they
 * accepted (client.rate) and the AUTH failures (auth.max_failures).
 * Layout: a header (magic, slot count) and CS_SLOTS fixed slots; a key
 * (address, kind) lives in one of CS_PROBE slots from its hash on.
 * Each operation holds flock(LOCK_EX) from open to close, so
 * concurrent sessions see each other's counts exactly.
 *
 * What it must never do: grow the file (it is fixed size; the least
 * recently used slot makes room), follow a symbolic link, or be
 * readable by others (0600: it lists client addresses).  A file of the
 * wrong size or magic (a crash while it was first made, an old
 * version) is started afresh: losing counters is better than refusing
 * mail for ever.
 */
#include "client_state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"

#define CS_MAGIC "mailout client-state 1\n"
#define CS_HEADER 64

struct cs_slot {
	unsigned char addr[16];
	uint32_t kind; /* 0: free */
	uint32_t count;
	int64_t window_start;
	int64_t last_used;
};

#define CS_SIZE ((off_t)CS_HEADER + (off_t)CS_SLOTS * (off_t)sizeof(struct cs_slot))

/* struct cs_file - one open, locked state file */
struct cs_file {
	int fd;
	char *why;
	size_t whysize;
};

/* fail - note why (with errno's text) and return RES_TEMP */
static enum result
fail(struct cs_file *f, const char *what)
{
	int e = errno;

	(void)bounded_format(f->why, f->whysize, "client state: %s: %s", what, strerror(e));
	if (f->fd >= 0)
		close(f->fd); /* also drops the lock */
	f->fd = -1;
	return RES_TEMP;
}

/* fresh - make the file empty slots with our header */
static int
fresh(int fd)
{
	char head[CS_HEADER];

	memset(head, 0, sizeof(head));
	memcpy(head, CS_MAGIC, sizeof(CS_MAGIC) - 1);
	if (ftruncate(fd, 0) < 0 || ftruncate(fd, CS_SIZE) < 0)
		return -1;
	return pwrite(fd, head, sizeof(head), 0) == (ssize_t)sizeof(head) ? 0 : -1;
}

/* cs_open - open and lock DIR/client-state, making it if need be */
static enum result
cs_open(struct cs_file *f, const char *dir)
{
	char path[4096], head[CS_HEADER];
	struct stat st;

	f->fd = -1;
	if (!dir || !*dir || bounded_format(path, sizeof(path), "%s/%s", dir, CS_FILE) < 0) {
		errno = ENAMETOOLONG;
		return fail(f, "bad state_dir");
	}
	f->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (f->fd < 0)
		return fail(f, path);
	while (flock(f->fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return fail(f, "lock");
	if (fstat(f->fd, &st) < 0)
		return fail(f, "fstat");
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return fail(f, "not a regular file");
	}
	if (st.st_size == CS_SIZE && pread(f->fd, head, sizeof(head), 0) == (ssize_t)sizeof(head) &&
	    memcmp(head, CS_MAGIC, sizeof(CS_MAGIC) - 1) == 0)
		return RES_OK;
	if (fresh(f->fd) < 0)
		return fail(f, "initialise");
	return RES_OK;
}

/* cs_close - drop the lock and the file; RES_TEMP if close fails */
static enum result
cs_close(struct cs_file *f)
{
	int rc = close(f->fd);

	f->fd = -1;
	return rc < 0 ? fail(f, "close") : RES_OK;
}

/* key_hash - FNV-1a over the address and the kind */
static size_t
key_hash(const struct net_addr *a, enum cs_kind kind)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < sizeof(a->a); i++)
		h = (h ^ a->a[i]) * 16777619u;
	h = (h ^ (uint32_t)kind) * 16777619u;
	return h % CS_SLOTS;
}

static off_t
slot_offset(size_t i)
{
	return (off_t)CS_HEADER + (off_t)i * (off_t)sizeof(struct cs_slot);
}

/* find - the key's slot (index and contents); with create, a free or the least
 * recently used one of its probe range, made the key's.  1 found or
 * made, 0 not found, -1 read error. */
static int
find(struct cs_file *f, const struct net_addr *a, enum cs_kind kind, int create, size_t *idx,
     struct cs_slot *s)
{
	size_t h = key_hash(a, kind), j, i, victim = h;
	int64_t oldest = INT64_MAX;
	struct cs_slot cur;

	for (j = 0; j < CS_PROBE; j++) {
		i = (h + j) % CS_SLOTS;
		if (pread(f->fd, &cur, sizeof(cur), slot_offset(i)) != (ssize_t)sizeof(cur))
			return -1;
		if (cur.kind == (uint32_t)kind && memcmp(cur.addr, a->a, sizeof(cur.addr)) == 0) {
			*idx = i;
			*s = cur;
			return 1;
		}
		if (cur.kind == 0 ? INT64_MIN < oldest : cur.last_used < oldest) {
			oldest = cur.kind == 0 ? INT64_MIN : cur.last_used;
			victim = i;
		}
	}
	if (!create)
		return 0;
	memset(s, 0, sizeof(*s));
	memcpy(s->addr, a->a, sizeof(s->addr));
	s->kind = (uint32_t)kind;
	*idx = victim;
	return 1;
}

/* window - restart the count when its window has passed (or the clock
 * went back) */
static void
window(struct cs_slot *s, unsigned period, time_t now)
{
	if (s->window_start == 0 || now < s->window_start || now - s->window_start >= period) {
		s->count = 0;
		s->window_start = now;
	}
}

static void
report(const struct cs_slot *s, unsigned period, struct cs_count *out)
{
	if (!out)
		return;
	out->count = s->count;
	out->window_start = (time_t)s->window_start;
	out->window_end = s->window_start ? (time_t)s->window_start + (time_t)period : 0;
}

/* update - find or make the key's slot, apply op, write it back.  op:
 * 'g' get, 'a' add, 't' take (limit), 'c' clear. */
static enum result
update(const char *dir, const struct net_addr *a, enum cs_kind kind, int op, unsigned limit,
       unsigned period, time_t now, int *allowed, struct cs_count *out, char *why, size_t whysize)
{
	struct cs_file f = {-1, why, whysize};
	struct cs_slot s;
	size_t idx = 0;
	int found;

	if (out)
		memset(out, 0, sizeof(*out));
	if (cs_open(&f, dir) != RES_OK)
		return RES_TEMP;
	if ((found = find(&f, a, kind, op == 'a' || op == 't', &idx, &s)) < 0)
		return fail(&f, "read");
	if (found == 0)
		return cs_close(&f);
	if (op == 'c') {
		memset(&s, 0, sizeof(s));
	} else {
		window(&s, period, now);
		if (op == 'a' || (op == 't' && s.count < limit)) {
			if (s.count < UINT32_MAX)
				s.count++;
			if (allowed)
				*allowed = 1;
		}
		if (op == 'g' && s.count == 0)
			s.window_start = 0; /* a window opens with an event */
		report(&s, period, out);
		if (op == 'g')
			return cs_close(&f);
		s.last_used = now;
	}
	if (pwrite(f.fd, &s, sizeof(s), slot_offset(idx)) != (ssize_t)sizeof(s))
		return fail(&f, "write");
	return cs_close(&f);
}

enum result
client_state_get(const char *dir, const struct net_addr *a, enum cs_kind kind, unsigned period,
                 time_t now, struct cs_count *out, char *why, size_t whysize)
{
	return update(dir, a, kind, 'g', 0, period, now, NULL, out, why, whysize);
}

enum result
client_state_add(const char *dir, const struct net_addr *a, enum cs_kind kind, unsigned period,
                 time_t now, struct cs_count *out, char *why, size_t whysize)
{
	return update(dir, a, kind, 'a', 0, period, now, NULL, out, why, whysize);
}

enum result
client_state_take(const char *dir, const struct net_addr *a, enum cs_kind kind, unsigned limit,
                  unsigned period, time_t now, int *allowed, struct cs_count *out, char *why,
                  size_t whysize)
{
	*allowed = 0;
	return update(dir, a, kind, 't', limit, period, now, allowed, out, why, whysize);
}

enum result
client_state_clear(const char *dir, const struct net_addr *a, enum cs_kind kind, char *why,
                   size_t whysize)
{
	return update(dir, a, kind, 'c', 0, 0, 0, NULL, NULL, why, whysize);
}
