/*
 * scan_archive.c - what is inside an archive, read with libarchive
 *
 * What it is for: letting libarchive decide by content - not by name -
 * whether an attachment is an archive (zip, 7z, rar, tar, cpio, iso,
 * cab, lha, xar, ar) or a compressed file (gzip, bzip2, xz, lzma, lzip,
 * zstd, lz4, compress, uuencode), and checking each entry by name and
 * by its first SCAN_PEEK octets.  An entry that is itself an archive is
 * read whole (within the budget) and walked in turn, up to
 * SCAN_DEPTH_MAX levels.
 * What it must never do: decompress more than the budget (an archive
 * bomb costs at most SCAN_BUDGET octets of work, then it is refused),
 * read a file from disk (the mtree format would: not enabled) or run a
 * helper program (the lrzip, grzip and lzop filters would: not
 * enabled; the sandbox forbids exec anyway).
 *
 * libarchive is called through scan_arc (scan_arcload.c): the headers
 * give only types and constants; the program does not link it.
 *
 * Skipping an entry is free only where libarchive can seek past it
 * (zip with known sizes, uncompressed tar/cpio/ar/iso); anywhere else
 * skipping means decompressing, so the rest of the entry is read here,
 * where it counts against the budget.
 */
#include "scan.h"

#include <archive.h>
#include <archive_entry.h>
#include <string.h>
#include <strings.h>

enum arch_kind { ARCH_NONE, ARCH_FORMAT, ARCH_COMPRESSED };

#define CHUNK 65536

/* support - the formats and filters we read, all in-process */
static int
support(struct archive *a)
{
	size_t i;

	/* ARCHIVE_WARN: not built in (xar without libxml2; a filter that
	 * would need a helper program, which the sandbox refuses) */
	for (i = 0; i < SCAN_ARC_FORMATS; i++)
		if (scan_arc->formats[i](a) < ARCHIVE_WARN)
			return -1;
	for (i = 0; i < SCAN_ARC_FILTERS; i++)
		if (scan_arc->filters[i](a) < ARCHIVE_WARN)
			return -1;
	return 0;
}

/* open_mem - an archive reader over memory, or NULL */
static struct archive *
open_mem(const void *p, size_t n)
{
	struct archive *a = scan_arc->read_new();

	if (a == NULL)
		return NULL;
	if (support(a) < 0 || scan_arc->read_open_memory(a, p, n) != ARCHIVE_OK) {
		scan_arc->read_free(a);
		return NULL;
	}
	return a;
}

/* classify - after the first header: an archive, a compressed file
 * (the raw format under a filter), or neither.  A failure means a
 * real format bid for the data: a (damaged) archive. */
static enum arch_kind
classify(struct archive *a, int r)
{
	if (r == ARCHIVE_EOF)
		return ARCH_NONE;
	if (r >= ARCHIVE_WARN &&
	    (scan_arc->format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_RAW)
		return scan_arc->filter_count(a) > 1 ? ARCH_COMPRESSED : ARCH_NONE;
	return ARCH_FORMAT;
}

/* looks_archive - does libarchive take these first octets for one? */
static bool
looks_archive(const unsigned char *p, size_t n)
{
	struct archive_entry *e;
	struct archive *a = open_mem(p, n);
	enum arch_kind k;

	if (a == NULL)
		return false;
	k = classify(a, scan_arc->read_next_header(a, &e));
	scan_arc->read_free(a);
	return k != ARCH_NONE;
}

/* over - charge n decompressed octets; true when the budget is gone */
static bool
over(struct scan_ctx *c, size_t n)
{
	if (n > c->budget) {
		c->budget = 0;
		return true;
	}
	c->budget -= n;
	return false;
}

static int
too_big(struct scan_ctx *c, const char *path)
{
	return scan_found(c, SCAN_UNINSPECTABLE, path, c->outer,
	                  "unpacks to more than the inspection limit");
}

/* unreadable - an archive we cannot read on: note it, go on with the
 * message (names seen so far were checked) */
static int
unreadable(struct scan_ctx *c, struct archive *a, const char *path)
{
	if (scan_arc->has_encrypted(a) > 0)
		c->v->encrypted++;
	else
		c->v->damaged++;
	if (c->v->note[0] == '\0')
		scan_sanitize(c->v->note, sizeof(c->v->note), path);
	return -1;
}

/* read_upto - fill p with up to n octets of the entry; -1 on error */
static la_ssize_t
read_upto(struct archive *a, unsigned char *p, size_t n)
{
	size_t got = 0;
	la_ssize_t r;

	while (got < n) {
		r = scan_arc->read_data(a, p + got, n - got);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (la_ssize_t)got;
}

/* nested - read the rest of an entry that is an archive, walk it */
static int
nested(struct scan_ctx *c, struct archive *a, const unsigned char *peek, size_t n, const char *path,
       unsigned depth)
{
	static char chunk[CHUNK];
	struct buf all;
	la_ssize_t r;
	int stop;

	if (depth >= SCAN_DEPTH_MAX)
		return scan_found(c, SCAN_UNINSPECTABLE, path, c->outer,
		                  "archives nested too deeply");
	buf_init(&all, (size_t)c->budget + n + 1);
	if (buf_append(&all, peek, n) < 0)
		return scan_found(c, SCAN_TROUBLE, path, c->outer, "out of memory");
	while ((r = scan_arc->read_data(a, chunk, sizeof(chunk))) > 0) {
		if (over(c, (size_t)r)) {
			buf_free(&all);
			return too_big(c, path);
		}
		if (buf_append(&all, chunk, (size_t)r) < 0) {
			buf_free(&all);
			return scan_found(c, SCAN_TROUBLE, path, c->outer, "out of memory");
		}
	}
	if (r < 0) {
		buf_free(&all);
		return unreadable(c, a, path);
	}
	stop = scan_archive(c, (const unsigned char *)all.s, all.len, path, depth + 1);
	buf_free(&all);
	return stop;
}

/* finish_entry - past the rest of an entry: seek where that is free,
 * else read it here so that it counts against the budget */
static int
finish_entry(struct scan_ctx *c, struct archive *a, struct archive_entry *e, const char *path)
{
	static char chunk[CHUNK];
	int fmt = scan_arc->format(a) & ARCHIVE_FORMAT_BASE_MASK;
	la_ssize_t r;

	if ((fmt == ARCHIVE_FORMAT_ZIP && scan_arc->size_is_set(e)) ||
	    (scan_arc->filter_count(a) == 1 &&
	     (fmt == ARCHIVE_FORMAT_TAR || fmt == ARCHIVE_FORMAT_CPIO || fmt == ARCHIVE_FORMAT_AR ||
	      fmt == ARCHIVE_FORMAT_ISO9660)))
		return 0;
	while ((r = scan_arc->read_data(a, chunk, sizeof(chunk))) > 0)
		if (over(c, (size_t)r))
			return too_big(c, path);
	return r < 0 ? unreadable(c, a, path) : 0;
}

/* check_entry - name, magic, nested archive; 1: verdict, -1: this
 * archive cannot be read on, 0: next entry */
static int
check_entry(struct scan_ctx *c, struct archive *a, struct archive_entry *e, const char *ename,
            const char *path, unsigned depth)
{
	unsigned char peek[SCAN_PEEK];
	const char *magic;
	la_ssize_t n;

	if (scan_name_is_exec(ename))
		return scan_found(c, SCAN_EXEC, path, c->outer, "file name");
	if (scan_arc->filetype(e) != AE_IFREG && scan_arc->filetype(e) != 0)
		return 0;
	if (scan_arc->is_data_encrypted(e) > 0) {
		c->v->encrypted++;
		if (c->v->note[0] == '\0')
			scan_sanitize(c->v->note, sizeof(c->v->note), path);
		return 0;
	}
	if ((n = read_upto(a, peek, sizeof(peek))) < 0)
		return unreadable(c, a, path);
	if (over(c, (size_t)n))
		return too_big(c, path);
	if ((magic = scan_magic(peek, (size_t)n)) != NULL)
		return scan_found(c, SCAN_EXEC, path, c->outer, magic);
	if (n > 0 && looks_archive(peek, (size_t)n))
		return nested(c, a, peek, (size_t)n, path, depth);
	return finish_entry(c, a, e, path);
}

/* single_name - "report.exe.gz" -> "report.exe": the name a compressed
 * file unpacks to */
static void
single_name(char *out, size_t outsize, const char *name)
{
	static const char *const suffix[] = {".gz",  ".bz2", ".xz", ".lzma", ".lz",
	                                     ".zst", ".lz4", ".z",  ".uue",  ".uu"};
	size_t n = strlen(name), i, sl;

	(void)bounded_copy(out, outsize, name);
	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		sl = strlen(suffix[i]);
		if (n > sl && n < outsize && strcasecmp(name + n - sl, suffix[i]) == 0) {
			out[n - sl] = '\0';
			return;
		}
	}
}

/* copy_tail - a name into out; of a very long one its tail, which
 * holds the extension */
static void
copy_tail(char *out, size_t outsize, const char *name)
{
	size_t n = strlen(name);

	if (n >= outsize)
		name += n - (outsize - 1);
	(void)bounded_copy(out, outsize, name);
}

/* walk - every entry of an open archive whose first header is read */
static int
walk(struct scan_ctx *c, struct archive *a, struct archive_entry *e, int r, enum arch_kind kind,
     const char *name, unsigned depth)
{
	char ename[SCAN_PATH_MAX], path[SCAN_PATH_MAX];
	const char *p;
	int rc;

	for (;; r = scan_arc->read_next_header(a, &e)) {
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return unreadable(c, a, name) > 0;
		if (++c->entries > SCAN_ENTRIES_MAX)
			return scan_found(c, SCAN_UNINSPECTABLE, name, c->outer,
			                  "too many archive entries");
		if (kind == ARCH_COMPRESSED) {
			single_name(ename, sizeof(ename), name);
		} else {
			p = scan_arc->pathname_utf8(e);
			if (p == NULL)
				p = scan_arc->pathname(e);
			copy_tail(ename, sizeof(ename), p ? p : "");
		}
		if (depth <= 1 || bounded_format(path, sizeof(path), "%s/%s", name, ename) < 0)
			(void)bounded_copy(path, sizeof(path), ename);
		rc = check_entry(c, a, e, ename, path, depth);
		if (rc != 0)
			return rc > 0;
	}
}

int
scan_archive(struct scan_ctx *c, const unsigned char *data, size_t len, const char *name,
             unsigned depth)
{
	struct archive_entry *e = NULL;
	struct archive *a;
	enum arch_kind kind;
	int r, stop;

	if (len == 0)
		return 0;
	if (scan_arc == NULL) /* the inspector cannot load it: ask the parent */
		return scan_found(c, SCAN_NEED_ARCHIVE, name, c->outer, "needs the archive reader");
	if ((a = open_mem(data, len)) == NULL)
		return 0;
	r = scan_arc->read_next_header(a, &e);
	kind = classify(a, r);
	stop = kind == ARCH_NONE ? 0 : walk(c, a, e, r, kind, name ? name : "", depth);
	scan_arc->read_free(a);
	return stop;
}
