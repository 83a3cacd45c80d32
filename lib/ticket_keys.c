/*
 * ticket_keys.c - TLS session ticket keys shared by all receiver processes
 *
 * What it is for: the small ring of ticket keys in DIR/tls-ticket-keys
 * that lets a receiver process resume a TLS session another process
 * started (ticket_keys.h has the format and the rotation rules).
 * Readers open, check and read the file without a lock: it is only
 * ever replaced whole, by rename(2).  Writers (one rotation every
 * TICKET_ROTATE seconds) hold flock(2) on a separate lock file.
 *
 * What it must never do: use a file that another user owns or could
 * have read (the keys decrypt every session resumed with them), follow
 * a symbolic link, leave a half-written ring where readers find it,
 * keep a key past its retention, or block a session for long (the
 * lock is waited for a bounded time; then the session does a full
 * handshake).  It knows nothing of TLS: OpenSSL stays in the receiver.
 */
#include "ticket_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"

#define LOCK_TRIES 200 /* times LOCK_WAIT_NS: two seconds at most */
#define LOCK_WAIT_NS 10000000L

/* fail - note why (with errno's text when err is set) and RES_TEMP */
static enum result
fail(char *why, size_t whysize, const char *what, int err)
{
	if (err)
		(void)bounded_format(why, whysize, "ticket keys: %s: %s", what, strerror(err));
	else
		(void)bounded_format(why, whysize, "ticket keys: %s", what);
	return RES_TEMP;
}

/* put_be64, get_be64 - the creation time on disk */
static void
put_be64(unsigned char *p, int64_t v)
{
	uint64_t u = (uint64_t)v;
	int i;

	for (i = 7; i >= 0; i--, u >>= 8)
		p[i] = (unsigned char)(u & 0xff);
}

static int64_t
get_be64(const unsigned char *p)
{
	uint64_t u = 0;
	int i;

	for (i = 0; i < 8; i++)
		u = (u << 8) | p[i];
	return (int64_t)u;
}

bool
ticket_key_encrypts(const struct ticket_key *k, time_t now)
{
	return k->created - TICKET_SKEW <= (int64_t)now &&
	       (int64_t)now < k->created + TICKET_ROTATE;
}

bool
ticket_key_decrypts(const struct ticket_key *k, time_t now)
{
	return k->created - TICKET_SKEW <= (int64_t)now &&
	       (int64_t)now < k->created + TICKET_ROTATE + TICKET_RETAIN;
}

const struct ticket_key *
ticket_ring_find(const struct ticket_ring *r, const unsigned char name[TICKET_NAME_LEN], time_t now)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (memcmp(r->keys[i].name, name, TICKET_NAME_LEN) == 0)
			return ticket_key_decrypts(&r->keys[i], now) ? &r->keys[i] : NULL;
	return NULL;
}

int
ticket_ring_parse(const unsigned char *p, size_t len, struct ticket_ring *r)
{
	size_t i, n;

	ticket_ring_clear(r);
	if (len < TICKET_MAGIC_LEN + TICKET_RECORD_LEN || len > TICKET_FILE_MAX ||
	    (len - TICKET_MAGIC_LEN) % TICKET_RECORD_LEN != 0 ||
	    memcmp(p, TICKET_MAGIC, TICKET_MAGIC_LEN) != 0)
		return -1;
	n = (len - TICKET_MAGIC_LEN) / TICKET_RECORD_LEN;
	for (i = 0, p += TICKET_MAGIC_LEN; i < n; i++, p += TICKET_RECORD_LEN) {
		struct ticket_key *k = &r->keys[i];

		memcpy(k->name, p, TICKET_NAME_LEN);
		memcpy(k->aes, p + TICKET_NAME_LEN, TICKET_AES_LEN);
		memcpy(k->hmac, p + TICKET_NAME_LEN + TICKET_AES_LEN, TICKET_HMAC_LEN);
		k->created = get_be64(p + TICKET_NAME_LEN + TICKET_AES_LEN + TICKET_HMAC_LEN);
	}
	r->n = n;
	return 0;
}

size_t
ticket_ring_format(const struct ticket_ring *r, unsigned char out[TICKET_FILE_MAX])
{
	unsigned char *p = out + TICKET_MAGIC_LEN;
	size_t i, n = r->n < TICKET_RING_MAX ? r->n : TICKET_RING_MAX;

	memcpy(out, TICKET_MAGIC, TICKET_MAGIC_LEN);
	for (i = 0; i < n; i++, p += TICKET_RECORD_LEN) {
		const struct ticket_key *k = &r->keys[i];

		memcpy(p, k->name, TICKET_NAME_LEN);
		memcpy(p + TICKET_NAME_LEN, k->aes, TICKET_AES_LEN);
		memcpy(p + TICKET_NAME_LEN + TICKET_AES_LEN, k->hmac, TICKET_HMAC_LEN);
		put_be64(p + TICKET_NAME_LEN + TICKET_AES_LEN + TICKET_HMAC_LEN, k->created);
	}
	return (size_t)(p - out);
}

void
ticket_ring_clear(struct ticket_ring *r)
{
	explicit_bzero(r, sizeof(*r));
}

/* ring_prune - keep, in order, the keys that still decrypt at now */
static void
ring_prune(struct ticket_ring *r, time_t now)
{
	size_t i, kept = 0;

	for (i = 0; i < r->n; i++)
		if (ticket_key_decrypts(&r->keys[i], now)) {
			if (kept != i)
				r->keys[kept] = r->keys[i];
			kept++;
		}
	if (kept < TICKET_RING_MAX)
		explicit_bzero(&r->keys[kept], (TICKET_RING_MAX - kept) * sizeof(r->keys[0]));
	r->n = kept;
}

/* read_all - up to size bytes of fd; -1 with errno */
static ssize_t
read_all(int fd, unsigned char *p, size_t size)
{
	size_t got = 0;
	ssize_t n;

	while (got < size) {
		n = read(fd, p + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* read_ring - the file at path into r.  A missing or malformed file is
 * an empty ring (it will be made afresh); a file we cannot trust or
 * read is RES_TEMP. */
static enum result
read_ring(const char *path, struct ticket_ring *r, char *why, size_t whysize)
{
	unsigned char data[TICKET_FILE_MAX + 1];
	struct stat st;
	ssize_t len;
	int fd, e;

	ticket_ring_clear(r);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? RES_OK : fail(why, whysize, path, errno);
	if (fstat(fd, &st) < 0) {
		e = errno;
		close(fd);
		return fail(why, whysize, path, e);
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		close(fd);
		return fail(why, whysize,
		            !S_ISREG(st.st_mode)
		                ? "not a regular file"
		                : "file not owned by us or open to others (want 0600)",
		            0);
	}
	len = read_all(fd, data, sizeof(data));
	e = errno;
	close(fd);
	if (len < 0)
		return fail(why, whysize, path, e);
	if (ticket_ring_parse(data, (size_t)len, r) < 0)
		ticket_ring_clear(r); /* made afresh below */
	explicit_bzero(data, sizeof(data));
	return RES_OK;
}

/* lock_dir - flock on DIR/tls-ticket-keys.lock, waited for a bounded
 * time; the fd, or -1 with *err set */
static int
lock_dir(const char *dir, int *err)
{
	struct timespec ts = {0, LOCK_WAIT_NS};
	char path[4096];
	int fd, i;

	*err = ENAMETOOLONG;
	if (bounded_format(path, sizeof(path), "%s/%s", dir, TICKET_LOCK_FILE) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	for (i = 0; i < LOCK_TRIES; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR)
			break;
		(void)nanosleep(&ts, NULL);
	}
	*err = i == LOCK_TRIES ? ETIMEDOUT : errno;
	close(fd);
	return -1;
}

/* write_ring - r to path, whole or not at all: temp file, fsync, rename */
static enum result
write_ring(const char *dir, const char *path, const struct ticket_ring *r, char *why,
           size_t whysize)
{
	unsigned char data[TICKET_FILE_MAX];
	char tmp[4096];
	size_t len = ticket_ring_format(r, data);
	ssize_t n;
	int fd, e = 0;

	if (bounded_format(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, TICKET_FILE) < 0)
		return fail(why, whysize, "state_dir path too long", 0);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		explicit_bzero(data, sizeof(data));
		return fail(why, whysize, dir, errno);
	}
	do
		n = write(fd, data, len);
	while (n < 0 && errno == EINTR);
	explicit_bzero(data, sizeof(data));
	if (n != (ssize_t)len)
		e = n < 0 ? errno : EIO;
	else if (fchmod(fd, 0600) < 0 || fsync(fd) < 0)
		e = errno;
	if (close(fd) < 0 && e == 0)
		e = errno;
	if (e == 0 && rename(tmp, path) < 0)
		e = errno;
	if (e != 0) {
		(void)unlink(tmp);
		return fail(why, whysize, tmp, e);
	}
	return RES_OK;
}

/* new_key - a fresh random key made at now, in front of the ring */
static int
new_key(struct ticket_ring *r, time_t now)
{
	struct ticket_key k;
	unsigned char *p = (unsigned char *)&k;
	size_t got = 0;
	ssize_t n;

	memset(&k, 0, sizeof(k));
	while (got < TICKET_NAME_LEN + TICKET_AES_LEN + TICKET_HMAC_LEN) {
		n = getrandom(p + got, TICKET_NAME_LEN + TICKET_AES_LEN + TICKET_HMAC_LEN - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	k.created = (int64_t)now;
	if (r->n == TICKET_RING_MAX)
		r->n--; /* the oldest goes */
	memmove(&r->keys[1], &r->keys[0], r->n * sizeof(r->keys[0]));
	r->keys[0] = k;
	r->n++;
	explicit_bzero(&k, sizeof(k));
	return 0;
}

/* rotate - under the lock: read again (another process may have
 * rotated meanwhile); if still no key encrypts, add one and write */
static enum result
rotate(const char *dir, const char *path, time_t now, struct ticket_ring *r, char *why,
       size_t whysize)
{
	enum result res;
	int lock, err;

	if ((lock = lock_dir(dir, &err)) < 0)
		return fail(why, whysize, "lock", err);
	res = read_ring(path, r, why, whysize);
	if (res == RES_OK && !(r->n > 0 && ticket_key_encrypts(&r->keys[0], now))) {
		ring_prune(r, now);
		if (new_key(r, now) < 0)
			res = fail(why, whysize, "getrandom", errno);
		else
			res = write_ring(dir, path, r, why, whysize);
		r->rotated = res == RES_OK;
	}
	close(lock); /* also drops the lock */
	if (res != RES_OK)
		ticket_ring_clear(r);
	return res;
}

enum result
ticket_keys_load(const char *dir, time_t now, struct ticket_ring *out, char *why, size_t whysize)
{
	char path[4096];
	enum result res;

	ticket_ring_clear(out);
	if (!dir || !*dir || bounded_format(path, sizeof(path), "%s/%s", dir, TICKET_FILE) < 0)
		return fail(why, whysize, "no usable state_dir", 0);
	if ((res = read_ring(path, out, why, whysize)) != RES_OK)
		return res;
	if (out->n == 0 || !ticket_key_encrypts(&out->keys[0], now))
		res = rotate(dir, path, now, out, why, whysize);
	if (res == RES_OK)
		ring_prune(out, now);
	return res;
}
