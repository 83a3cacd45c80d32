/*
 * scan.h - no executables in attachments: the inspection and what follows
 *
 * Two programs inspect messages with this code.  mailout-smtpd holds
 * each message it receives in a sealed memfd and inspects it itself
 * (smtpd/smtpd_inspect.c); mailout-scan, a filter in the queue chain
 * (as qmail's QMAILQUEUE filters are) that mailout-sendmail runs, reads
 * its fd 0 into a sealed memfd (scan_io.c).  Either way the message is
 * inspected in a confined child (scan_sandbox.c: no network, no files,
 * bounded time and memory), and then (scan_act.c) the very same bytes
 * are handed on to the queue (a program or queue.socket, through
 * lib/mail_qclient.h), or refused with a 554 naming the file, or a
 * notification is queued to the sender instead (executable_action =
 * bounce).  The confined child is kept for the process's later
 * messages (scan_inspector.c): a session forks one, not one a message.
 *
 * The inspection: every MIME part (lib/mail_mime.h) and every entry of
 * every archive libarchive can read, nested up to SCAN_DEPTH_MAX, is
 * checked by name (scan_name_is_exec) and by its first bytes
 * (scan_magic).  Decompression is bounded by SCAN_BUDGET bytes and
 * SCAN_ENTRIES_MAX entries for the whole message; what cannot be
 * inspected within the bounds is refused (SCAN_UNINSPECTABLE).
 * Encrypted entries and damaged archives are let through and counted
 * (names are still checked): see README.md, "Executable attachments".
 */
#ifndef MAILOUT_SCAN_H
#define MAILOUT_SCAN_H

#include <fcntl.h>
#include <unistd.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "conf.h"
#include "mail_qclient.h"
#include "mail_reply.h"
#include "result.h"
#include "timefmt.h"

#define SCAN_DEPTH_MAX 4 /* archives inside archives */
#define SCAN_ENTRIES_MAX 10000 /* archive entries in the whole message */
#define SCAN_BUDGET ((uint64_t)64 * 1024 * 1024) /* decompressed octets, whole message */
#define SCAN_PEEK 512 /* first octets of an entry: magic, archive detection */
#define SCAN_NAME_MAX 192 /* of a name in a verdict (sanitised, tail kept) */
#define SCAN_PATH_MAX 1024 /* of an entry's path while walking */
#define SCAN_TIME_MAX 60 /* seconds of inspection of one message, then the child is killed */
/* seconds the parent waits for a verdict before it kills the child
 * itself (a child that ignores SIGALRM and sleeps uses no CPU time) */
#define SCAN_WAIT_MAX (SCAN_TIME_MAX + 5)
/* seconds of CPU: the child's RLIMIT_CPU, which counts for its whole
 * life, not per message; so a child that has used SCAN_CPU_WORN of it
 * is replaced before its next message, which gets at least
 * SCAN_CPU_MAX - SCAN_CPU_WORN and never more than SCAN_CPU_MAX */
#define SCAN_CPU_MAX (SCAN_TIME_MAX / 2)
#define SCAN_CPU_WORN 1
#define SCAN_INSPECTOR_MESSAGES 1000 /* a child serves this many, then a fresh one */
#define SCAN_SIZE_SLACK ((uint64_t)64 * 1024) /* as mailout-queue: room for Received: */
#define SCAN_SIZE_DEFAULT ((uint64_t)1024 * 1024 * 1024) /* limits.message_size = 0 */

enum scan_kind {
	SCAN_CLEAN = 0,
	SCAN_EXEC, /* an executable was found */
	SCAN_UNINSPECTABLE, /* a bound was hit: refused like an executable */
	SCAN_TROUBLE, /* our own trouble (memory): temporary */
	SCAN_NEED_ARCHIVE, /* a part may hold an archive: run again with libarchive */
};

/* What the child reports; fixed size, written in one go (< PIPE_BUF). */
struct scan_verdict {
	int kind; /* enum scan_kind */
	char name[SCAN_NAME_MAX]; /* the executable, or what could not be inspected */
	char outer[SCAN_NAME_MAX]; /* the attachment holding it; "" if none */
	char why[96]; /* "file name", "content: PE executable", a bound */
	unsigned encrypted; /* entries whose content could not be read */
	unsigned damaged; /* archives that could not be read to their end */
	char note[SCAN_NAME_MAX]; /* the first such archive */
};

/* One sealed message, its envelope, and how to reach the queue (scan_act.c). */
struct scan_job {
	const struct config *cfg;
	const char *id; /* queue ID; NULL: none */
	const char *msg; /* the sealed, inspected octets */
	size_t len;
	const char *sender;
	const char *const *rcpts;
	size_t n_rcpts;
	/* the hand-off: program (NULL: lib/mail_qclient.h chooses), -c
	 * config, socket, $MAILOUT_QUEUE, reply pipe, timeout; its id is set
	 * for each hand-off (the message's, or the notification's) */
	struct qclient_opts hop;
};

/* Where the archive walk is (scan_archive.c). */
struct scan_ctx {
	struct scan_verdict *v;
	uint64_t budget; /* decompressed octets left */
	unsigned entries; /* archive entries seen */
	const char *outer; /* the attachment being walked */
};

/* The libarchive functions scan_archive.c calls (scan_arcload.c). */
struct archive;
struct archive_entry;
#define SCAN_ARC_FORMATS 12
#define SCAN_ARC_FILTERS 9
struct scan_arc {
	struct archive *(*read_new)(void);
	int (*read_free)(struct archive *);
	int (*read_open_memory)(struct archive *, const void *, size_t);
	int (*read_next_header)(struct archive *, struct archive_entry **);
	ssize_t (*read_data)(struct archive *, void *, size_t);
	int (*format)(struct archive *);
	int (*filter_count)(struct archive *);
	int (*has_encrypted)(struct archive *);
	int (*size_is_set)(struct archive_entry *);
	mode_t (*filetype)(struct archive_entry *);
	int (*is_data_encrypted)(struct archive_entry *);
	const char *(*pathname_utf8)(struct archive_entry *);
	const char *(*pathname)(struct archive_entry *);
	int (*formats[SCAN_ARC_FORMATS])(struct archive *);
	int (*filters[SCAN_ARC_FILTERS])(struct archive *);
};

/* field, symbol: one line for each function in struct scan_arc */
#define SCAN_ARC_SYMBOLS                                                                           \
	SCAN_ARC_SYM(read_new, archive_read_new)                                                   \
	SCAN_ARC_SYM(read_free, archive_read_free)                                                 \
	SCAN_ARC_SYM(read_open_memory, archive_read_open_memory)                                   \
	SCAN_ARC_SYM(read_next_header, archive_read_next_header)                                   \
	SCAN_ARC_SYM(read_data, archive_read_data)                                                 \
	SCAN_ARC_SYM(format, archive_format)                                                       \
	SCAN_ARC_SYM(filter_count, archive_filter_count)                                           \
	SCAN_ARC_SYM(has_encrypted, archive_read_has_encrypted_entries)                            \
	SCAN_ARC_SYM(size_is_set, archive_entry_size_is_set)                                       \
	SCAN_ARC_SYM(filetype, archive_entry_filetype)                                             \
	SCAN_ARC_SYM(is_data_encrypted, archive_entry_is_data_encrypted)                           \
	SCAN_ARC_SYM(pathname_utf8, archive_entry_pathname_utf8)                                   \
	SCAN_ARC_SYM(pathname, archive_entry_pathname)                                             \
	SCAN_ARC_SYM(formats[0], archive_read_support_format_7zip)                                 \
	SCAN_ARC_SYM(formats[1], archive_read_support_format_ar)                                   \
	SCAN_ARC_SYM(formats[2], archive_read_support_format_cab)                                  \
	SCAN_ARC_SYM(formats[3], archive_read_support_format_cpio)                                 \
	SCAN_ARC_SYM(formats[4], archive_read_support_format_iso9660)                              \
	SCAN_ARC_SYM(formats[5], archive_read_support_format_lha)                                  \
	SCAN_ARC_SYM(formats[6], archive_read_support_format_rar)                                  \
	SCAN_ARC_SYM(formats[7], archive_read_support_format_rar5)                                 \
	SCAN_ARC_SYM(formats[8], archive_read_support_format_tar)                                  \
	SCAN_ARC_SYM(formats[9], archive_read_support_format_xar)                                  \
	SCAN_ARC_SYM(formats[10], archive_read_support_format_zip)                                 \
	SCAN_ARC_SYM(formats[11], archive_read_support_format_raw)                                 \
	SCAN_ARC_SYM(filters[0], archive_read_support_filter_bzip2)                                \
	SCAN_ARC_SYM(filters[1], archive_read_support_filter_compress)                             \
	SCAN_ARC_SYM(filters[2], archive_read_support_filter_gzip)                                 \
	SCAN_ARC_SYM(filters[3], archive_read_support_filter_lz4)                                  \
	SCAN_ARC_SYM(filters[4], archive_read_support_filter_lzip)                                 \
	SCAN_ARC_SYM(filters[5], archive_read_support_filter_lzma)                                 \
	SCAN_ARC_SYM(filters[6], archive_read_support_filter_xz)                                   \
	SCAN_ARC_SYM(filters[7], archive_read_support_filter_zstd)                                 \
	SCAN_ARC_SYM(filters[8], archive_read_support_filter_uu)

/* scan_arcload.c */
/* scan_arc - the loaded functions, NULL until scan_arc_load succeeded */
extern const struct scan_arc *scan_arc;
/* scan_arc_load - dlopen libarchive (never inside the sandbox: it opens
 * files); RES_OK, or RES_TEMP (logged) when it cannot be loaded */
enum result scan_arc_load(void);

/* scan_inspect.c */
/* scan_name_is_exec - does a file name end in an executable extension
 * (after Windows strips trailing dots and blanks; also "x.exe:stream")? */
bool scan_name_is_exec(const char *name);
/* scan_magic - "PE executable", "ELF executable", ..., or NULL */
const char *scan_magic(const unsigned char *p, size_t n);
/* scan_message - inspect a whole message; fills v */
void scan_message(const char *msg, size_t len, struct scan_verdict *v);
/* scan_ctx_init - a fresh context with the full budget */
void scan_ctx_init(struct scan_ctx *c, struct scan_verdict *v);
/* scan_found - record a verdict (names sanitised); returns 1 */
int scan_found(struct scan_ctx *c, int kind, const char *name, const char *outer, const char *why);
/* scan_sanitize - printable ASCII without quotes, tail kept if long */
void scan_sanitize(char *dst, size_t dstsize, const char *src);

/* scan_archive.c */
/* scan_archive - if libarchive recognises data (an archive, or a
 * compressed file), check every entry; 1 when a verdict was recorded
 * (stop), 0 to go on.  depth: 1 for an attachment.  Without libarchive
 * loaded the verdict is SCAN_NEED_ARCHIVE. */
int scan_archive(struct scan_ctx *c, const unsigned char *data, size_t len, const char *name,
                 unsigned depth);

/* scan_sandbox.c */
/* scan_confine - no new privileges, seccomp: no network, no exec, no
 * file may be opened or changed, no signal to another process; 0 or -1 */
int scan_confine(void);
/* scan_child_fds - what the confined child holds: /dev/null on fds 0, 1
 * and 2, sock (its socket to the parent) on fd 3, nothing else; 0 or -1 */
int scan_child_fds(int sock);
/* scan_child_limits - SCAN_CPU_MAX of CPU for the child's whole life,
 * bounded address space, no file growth; SIGALRM, SIGXCPU kill; 0 or -1 */
int scan_child_limits(void);
/* scan_verdict_check - a verdict from a child is not trusted: kind in
 * range, names ended and sanitised again; 0 or -1 */
int scan_verdict_check(struct scan_verdict *v);

/* scan_inspector.c */
/* scan_isolated - the verdict on the len octets of the sealed memfd,
 * which the caller has mapped at msg, from the process's confined child
 * (forked at the first message, then kept: a fresh child reads msg, a
 * kept one gets the memfd); when it needs libarchive, load it and ask a
 * fresh child.  RES_OK with the verdict (a child that took too long:
 * SCAN_UNINSPECTABLE), RES_TEMP when a child failed us or libarchive
 * could not be loaded */
enum result scan_isolated(int memfd, const char *msg, size_t len, struct scan_verdict *v);
/* scan_inspector_stop - kill and reap the child; nothing if there is none */
void scan_inspector_stop(void);
/* scan_inspector_pid - the child's pid, 0 when there is none */
pid_t scan_inspector_pid(void);

/* scan_reply.c */
/* scan_reply - 554 5.7.1 "Attachment ... is an executable ..." */
void scan_reply(const struct scan_verdict *v, struct reply *r);
/* scan_reply_line - the same as one line (no line end) */
int scan_reply_line(const struct scan_verdict *v, char *out, size_t outsize);
/* scan_notification - the message telling the sender what was not
 * delivered and why (LF endings), with the original header section */
int scan_notification(const struct scan_verdict *v, const char *hostname, const char *queue_id,
                      const char *sender, const char *const *rcpts, size_t n_rcpts, const char *msg,
                      size_t len, struct buf *out);

/* scan_act.c */
/* scan_act - what follows from a verdict (RES_TEMP from scan_isolated
 * is the caller's: QQ_TEMP): clean - hand j's message on; executable
 * or uninspectable - refuse (reject: QQ_PERM, r the 554 naming the
 * file) or queue the notification (bounce); our own trouble - QQ_NOMEM.
 * Returns the exit code (qmail-queue's); r is the reply a client gets. */
int scan_act(const struct scan_job *j, const struct scan_verdict *v, struct reply *r);
/* scan_hand_on - msg and its envelope to the queue as j->hop says,
 * with queue ID id; the exit code (QQ_TEMP when it could not run or
 * gave no verdict), r the reply (lib/mail_qclient.h) */
int scan_hand_on(const struct scan_job *j, const char *id, const char *msg, size_t len,
                 const char *sender, const char *const *rcpts, size_t n_rcpts, struct reply *r);

/* scan_filter.c */
/* scan_filter - mailout-scan's whole job: read, inspect (unless
 * !inspect: then only pass the message on), act; returns the exit code
 * (qmail-queue's) */
int scan_filter(const struct config *cfg, const char *cfile, const char *id, bool inspect);

/* scan_io.c */
/* scan_memfd_new - an empty memfd that can be sealed; QQ_OK or QQ_NOMEM */
int scan_memfd_new(int *memfd);
/* scan_memfd_append - n octets at its end; 0, or -1 with errno */
int scan_memfd_append(int memfd, const char *p, size_t n);
/* scan_memfd_seal - no more changes by anyone, then map its len
 * octets read-only (len 0: ""); QQ_OK or an exit code */
int scan_memfd_seal(int memfd, size_t len, const char **map);
/* scan_fd_send - n octets and fd in one record; 0, or -1 with errno */
int scan_fd_send(int sock, const void *p, size_t n, int fd);
/* scan_fd_recv - one record of exactly n octets with exactly one fd
 * (close-on-exec); 1, 0 at EOF, or -1 (errno; anything received closed) */
int scan_fd_recv(int sock, void *p, size_t n, int *fd);
/* scan_record_wait - one record of exactly n octets (no fd) by the
 * deadline until (mono_ms, timefmt.h); 0, or -1 with errno: ETIMEDOUT when
 * the deadline passed, EPROTO at EOF or for a record of another size */
int scan_record_wait(int sock, void *p, size_t n, long long until);
/* scan_read_message - fd 0 into a sealed memfd; QQ_OK or an exit code */
int scan_read_message(int in, uint64_t max, int *memfd, const char **map, size_t *len);
/* scan_read_envelope - fd 1, bounded; QQ_OK or an exit code */
int scan_read_envelope(int in, struct buf *raw);
/* scan_queue_program - the next hop: $MAILOUT_SCAN_QUEUE, $MAILOUT_QUEUE
 * unless it is mailout-scan itself, else NULL when queue.socket is set
 * (mailout-queue --socket), else the compiled-in mailout-queue */
const char *scan_queue_program(const struct config *cfg);
/* scan_tell_receiver - the reply line to fd 3 when that is a pipe */
void scan_tell_receiver(const char *line);

#endif
