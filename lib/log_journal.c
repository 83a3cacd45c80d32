/*
 * log_journal.c - structured journal entries for lib/log.c, spoken natively
 *
 * What it is for: sending one entry of FIELD=value items to journald in
 * its native protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL): one
 * datagram on /run/systemd/journal/socket holding "FIELD=value\n" per
 * item, or, for a value with a newline in it, the binary form "FIELD\n"
 * + the value's length (64 bits, little-endian) + the value + "\n".
 * The protocol is a dozen lines; libsystemd, which only this file used,
 * is not linked: loading it (with libcap, libgcrypt, libgpg-error,
 * liblzma, libzstd, liblz4) cost every process of mailout-smtpd, one
 * per connection, more than the whole session without TLS.
 * What it must never do: fail the caller when the journal cannot be
 * written (the sink returns -1 and log.c writes the line to stderr:
 * no journal socket, a full one is waited for as libsystemd did), or
 * send a datagram that journald would take apart differently from what
 * we meant (a value with a newline always goes in binary form).  Entries
 * too big for one datagram (log.c's are at most LOG_FIELDS_MAX + 3
 * items of LOG_LINE_MAX octets, far below the socket's limit) go to
 * stderr instead: there is no memfd path.
 */
#include "log_journal.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"
#define PIECES_PER_ITEM 5 /* binary form: name, "\n", length, value, "\n" */

static int journal_fd = -1; /* kept for the process, close-on-exec */

/* put_le64 - n as journald's binary length field */
static void
put_le64(unsigned char out[8], uint64_t n)
{
	int i;

	for (i = 0; i < 8; i++, n >>= 8)
		out[i] = (unsigned char)(n & 0xff);
}

/* piece - one iovec of the datagram */
static void
piece(struct iovec *v, size_t *k, const void *p, size_t len)
{
	v[*k].iov_base = (void *)p;
	v[*k].iov_len = len;
	(*k)++;
}

size_t
log_journal_encode(const struct iovec *items, size_t n, struct iovec *out, unsigned char (*lens)[8])
{
	static const char nl[] = "\n";
	const char *s, *eq;
	size_t i, k = 0, len;

	for (i = 0; i < n; i++) {
		s = items[i].iov_base;
		len = items[i].iov_len;
		if ((eq = memchr(s, '=', len)) == NULL || eq == s)
			return 0; /* not FIELD=value: journald would drop it */
		if (memchr(eq + 1, '\n', len - (size_t)(eq + 1 - s)) == NULL) {
			piece(out, &k, s, len);
			piece(out, &k, nl, 1);
			continue;
		}
		put_le64(lens[i], (uint64_t)(len - (size_t)(eq + 1 - s)));
		piece(out, &k, s, (size_t)(eq - s));
		piece(out, &k, nl, 1);
		piece(out, &k, lens[i], 8);
		piece(out, &k, eq + 1, len - (size_t)(eq + 1 - s));
		piece(out, &k, nl, 1);
	}
	return k;
}

int
log_journal_send_to(const char *path, const struct iovec *items, int n)
{
	struct iovec v[LOG_JOURNAL_ITEMS_MAX * PIECES_PER_ITEM];
	unsigned char lens[LOG_JOURNAL_ITEMS_MAX][8];
	struct sockaddr_un sa;
	struct msghdr mh;
	size_t k;

	if (n <= 0 || n > LOG_JOURNAL_ITEMS_MAX)
		return -1;
	if ((k = log_journal_encode(items, (size_t)n, v, lens)) == 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (bounded_copy(sa.sun_path, sizeof(sa.sun_path), path) < 0)
		return -1;
	if (journal_fd < 0 && (journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &sa;
	mh.msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
	mh.msg_iov = v;
	mh.msg_iovlen = k;
	return sendmsg(journal_fd, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* journal_send - the sink: one entry to the system's journal */
static int
journal_send(const struct iovec *iov, int n)
{
	return log_journal_send_to(JOURNAL_SOCKET, iov, n);
}

void
log_journal_enable(void)
{
	log_set_journal_sink(journal_send);
}
