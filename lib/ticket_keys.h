/*
 * ticket_keys.h - TLS session ticket keys shared by all receiver processes
 *
 * Every SMTP session is its own process, so OpenSSL's in-memory keys
 * cannot decrypt a ticket that another process issued.  The keys live
 * in one small file, DIR/tls-ticket-keys (mode 0600, owned by the
 * receiver's user), read by a session only when it starts TLS.
 *
 * A ring of at most TICKET_RING_MAX keys, newest first.  The newest
 * encrypts new tickets for TICKET_ROTATE seconds after it was made;
 * every key decrypts tickets for TICKET_ROTATE + TICKET_RETAIN seconds
 * after it was made, then it is dropped.  The first session that finds
 * no key fit to encrypt makes a new one: under flock(2) on
 * DIR/tls-ticket-keys.lock it reads the file again, and if no other
 * process rotated meanwhile, writes a temporary file and renames it
 * over the old one, so readers see the old ring or the new, never half.
 *
 * File format (all records fixed size, integers big-endian):
 *   8 bytes  "MOTKEYS1"
 *   n times (1 <= n <= TICKET_RING_MAX), newest first, 88 bytes each:
 *     16 bytes key name (random), 32 bytes AES-256 key, 32 bytes
 *     HMAC-SHA256 key, 8 bytes creation time (seconds since the epoch)
 * A file of any other size or magic is made afresh.
 *
 * The clock is passed in (time(NULL) in programs) so tests can move it.
 */
#ifndef MAILOUT_TICKET_KEYS_H
#define MAILOUT_TICKET_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "result.h"

#define TICKET_FILE "tls-ticket-keys"
#define TICKET_LOCK_FILE "tls-ticket-keys.lock"
#define TICKET_MAGIC "MOTKEYS1"
#define TICKET_MAGIC_LEN 8
#define TICKET_NAME_LEN 16
#define TICKET_AES_LEN 32
#define TICKET_HMAC_LEN 32
#define TICKET_RECORD_LEN (TICKET_NAME_LEN + TICKET_AES_LEN + TICKET_HMAC_LEN + 8)
#define TICKET_RING_MAX 4
#define TICKET_FILE_MAX (TICKET_MAGIC_LEN + TICKET_RING_MAX * TICKET_RECORD_LEN)
#define TICKET_ROTATE (12 * 60 * 60) /* a key encrypts this long */
#define TICKET_RETAIN (12 * 60 * 60) /* then only decrypts this long */
#define TICKET_SKEW (5 * 60) /* a key "made" further in the future is bad */

struct ticket_key {
	unsigned char name[TICKET_NAME_LEN];
	unsigned char aes[TICKET_AES_LEN];
	unsigned char hmac[TICKET_HMAC_LEN];
	int64_t created;
};

struct ticket_ring {
	struct ticket_key keys[TICKET_RING_MAX]; /* newest first */
	size_t n;
	bool rotated; /* ticket_keys_load made a new key */
};

/* ticket_keys_load - the ring from DIR/tls-ticket-keys with a key fit
 * to encrypt at now (rotating, making the file if need be) and only
 * keys that still decrypt.  RES_TEMP with a reason in why when the
 * file or the directory cannot be used (not ours, readable by others,
 * not writable, lock not had in time): the caller then does full
 * handshakes. */
enum result ticket_keys_load(const char *dir, time_t now, struct ticket_ring *out, char *why,
                             size_t whysize);

/* ticket_key_encrypts - may k encrypt new tickets at now? */
bool ticket_key_encrypts(const struct ticket_key *k, time_t now);
/* ticket_key_decrypts - may k still decrypt tickets at now? */
bool ticket_key_decrypts(const struct ticket_key *k, time_t now);

/* ticket_ring_find - the key of that name that still decrypts, or NULL */
const struct ticket_key *ticket_ring_find(const struct ticket_ring *r,
                                          const unsigned char name[TICKET_NAME_LEN], time_t now);

/* ticket_ring_parse - the file's bytes into r; -1 if malformed */
int ticket_ring_parse(const unsigned char *p, size_t len, struct ticket_ring *r);
/* ticket_ring_format - r into out (TICKET_FILE_MAX bytes); its length */
size_t ticket_ring_format(const struct ticket_ring *r, unsigned char out[TICKET_FILE_MAX]);

/* ticket_ring_clear - wipe the key material */
void ticket_ring_clear(struct ticket_ring *r);

#endif
