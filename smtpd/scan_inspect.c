/*
 * scan_inspect.c - is there an executable in this message?
 *
 * What it is for: the checks themselves - a file name with an
 * executable extension, content that starts with executable magic - on
 * every MIME part, and from there on every archive entry
 * (scan_archive.c).  The name is checked as Windows would read it
 * ("invoice.pdf.exe. " is an .exe); the content whatever the name says.
 * A part that cannot hold anything libarchive reads is not given to
 * it, so that a message without one never loads it (scan_arcload.c).
 * What it must never do: open a file, talk to anyone, or let a name
 * from the message reach a reply or a log line unsanitised (quotes and
 * control characters would break the reply's syntax or forge lines).
 */
#include "scan.h"

#include <string.h>
#include <strings.h>

#include "mail_mime.h"

/* SPEC "Content (executables)": the extensions that run when opened. */
static const char *const exec_ext[] = {
    "exe", "com", "bat", "cmd", "scr", "pif", "vbs", "vbe", "js",  "jse",
    "wsf", "wsh", "msi", "msp", "ps1", "jar", "lnk", "hta", "cpl", "reg",
};

/* ends_exec - does s[0..n) end in ".EXT" from the list?  Trailing dots
 * and blanks go first, as the Windows file APIs drop them. */
static bool
ends_exec(const char *s, size_t n)
{
	size_t i, dot, elen;

	while (n > 0 && (s[n - 1] == '.' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	for (dot = n; dot > 0 && s[dot - 1] != '.' && s[dot - 1] != '/' && s[dot - 1] != '\\';
	     dot--)
		;
	if (dot == 0 || s[dot - 1] != '.')
		return false;
	elen = n - dot;
	for (i = 0; i < sizeof(exec_ext) / sizeof(exec_ext[0]); i++)
		if (strlen(exec_ext[i]) == elen && strncasecmp(s + dot, exec_ext[i], elen) == 0)
			return true;
	return false;
}

bool
scan_name_is_exec(const char *name)
{
	const char *base = name, *p, *colon;

	if (name == NULL)
		return false;
	if (ends_exec(name, strlen(name)))
		return true;
	for (p = name; *p; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	/* NTFS alternate data streams: "evil.exe:x", "evil.exe::$DATA" */
	colon = strchr(base, ':');
	return colon != NULL && ends_exec(base, (size_t)(colon - base));
}

const char *
scan_magic(const unsigned char *p, size_t n)
{
	uint32_t m;

	if (n >= 2 && p[0] == 'M' && p[1] == 'Z')
		return "PE executable";
	if (n >= 2 && p[0] == '#' && p[1] == '!')
		return "script with #!";
	if (n < 4)
		return NULL;
	if (memcmp(p, "\177ELF", 4) == 0)
		return "ELF executable";
	m = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	if (m == 0xfeedface || m == 0xfeedfacf || m == 0xcefaedfe || m == 0xcffaedfe ||
	    m == 0xcafebabe)
		return "Mach-O executable";
	return NULL;
}

void
scan_sanitize(char *dst, size_t dstsize, const char *src)
{
	size_t n, o = 0, off = 0;

	if (dstsize == 0)
		return;
	n = src ? strlen(src) : 0;
	if (n > dstsize - 1) {
		/* keep the tail: the extension is what the reader needs */
		off = n - (dstsize - 4);
		memcpy(dst, "...", 3);
		o = 3;
	}
	for (; off < n && o + 1 < dstsize; off++) {
		unsigned char c = (unsigned char)src[off];

		dst[o++] = (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') ? '?' : (char)c;
	}
	dst[o] = '\0';
}

int
scan_found(struct scan_ctx *c, int kind, const char *name, const char *outer, const char *why)
{
	c->v->kind = kind;
	scan_sanitize(c->v->name, sizeof(c->v->name), name);
	scan_sanitize(c->v->outer, sizeof(c->v->outer), outer);
	scan_sanitize(c->v->why, sizeof(c->v->why), why);
	return 1;
}

void
scan_ctx_init(struct scan_ctx *c, struct scan_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->kind = SCAN_CLEAN;
	c->v = v;
	c->budget = SCAN_BUDGET;
	c->entries = 0;
	c->outer = NULL;
}

/* Names libarchive's formats and filters go by (and what they unpack
 * to, as "x.tar.gz"): a text part so named is handed to it anyway. */
static const char *const arc_ext[] = {
    "zip",  "jar", "7z",  "rar",  "tar", "tgz", "tbz", "tbz2", "txz", "tlz", "tzst",
    "cpio", "iso", "cab", "lha",  "lzh", "ar",  "a",   "deb",  "rpm", "xar", "gz",
    "bz2",  "xz",  "lz",  "lzma", "zst", "lz4", "z",   "uu",   "uue", "xxe", "shar",
};

/* name_is_archive - does a file name end in one of arc_ext? */
static bool
name_is_archive(const char *name)
{
	const char *dot = strrchr(name, '.');
	size_t i;

	if (dot == NULL)
		return false;
	for (i = 0; i < sizeof(arc_ext) / sizeof(arc_ext[0]); i++)
		if (strcasecmp(dot + 1, arc_ext[i]) == 0)
			return true;
	return false;
}

/* utf8_seq - length of a well-formed UTF-8 sequence at p (>= 0x80), 0 if not */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	size_t want, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		want = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		want = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		want = 4;
	else
		return 0;
	if (n < want)
		return 0;
	for (i = 1; i < want; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return want;
}

/* plain_text - printable ASCII, tabs and line ends, well-formed UTF-8:
 * no octet any binary format libarchive reads could do without, and no
 * "begin " or "begin-base64" line (uuencode) */
static bool
plain_text(const unsigned char *p, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		if (p[i] >= 0x80) {
			if ((k = utf8_seq(p + i, n - i)) == 0)
				return false;
			i += k;
			continue;
		}
		if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') || p[i] == 0x7f)
			return false;
		if ((i == 0 || p[i - 1] == '\n') && n - i >= 6 &&
		    (memcmp(p + i, "begin ", 6) == 0 || memcmp(p + i, "begin-", 6) == 0))
			return false;
		i++;
	}
	return true;
}

/* printable_magic - headers libarchive reads that can be all printable:
 * ar, bzip2, lzip, lha ("-lh5-" at 2), cpio (odc/newc, "070707"), a tar
 * header (its checksum field at 148 holds octal digits, then blanks) */
static bool
printable_magic(const unsigned char *p, size_t n)
{
	size_t i;

	if ((n >= 7 && memcmp(p, "!<arch>", 7) == 0) || (n >= 3 && memcmp(p, "BZh", 3) == 0) ||
	    (n >= 4 && memcmp(p, "LZIP", 4) == 0) || (n >= 4 && memcmp(p, "0707", 4) == 0) ||
	    (n >= 5 && p[2] == '-' && p[3] == 'l' && p[4] != 0 && n >= 7 && p[6] == '-'))
		return true;
	if (n < 512)
		return false;
	for (i = 148; i < 156; i++)
		if (!(p[i] >= '0' && p[i] <= '7') && p[i] != ' ')
			return false;
	return true;
}

/* may_hold_archive - could libarchive take this part for an archive or
 * a compressed file?  Conservative: only text that is plainly text,
 * under a name no archive goes by, is not given to it. */
static bool
may_hold_archive(const struct mime_part *part)
{
	size_t i;

	for (i = 0; i < part->n_names; i++)
		if (name_is_archive(part->names[i]))
			return true;
	if (strncmp(part->type, "text/", 5) != 0)
		return true;
	return !plain_text(part->data, part->len) || printable_magic(part->data, part->len);
}

/* on_part - the checks for one MIME part; non-zero stops the walk */
static int
on_part(void *vctx, const struct mime_part *part)
{
	struct scan_ctx *c = vctx;
	const char *label = part->n_names > 0 ? part->names[0] : NULL;
	char unnamed[64];
	const char *magic;
	size_t i;

	for (i = 0; i < part->n_names; i++)
		if (scan_name_is_exec(part->names[i]))
			return scan_found(c, SCAN_EXEC, part->names[i], part->outer, "file name");
	if (label == NULL) {
		(void)bounded_format(unnamed, sizeof(unnamed), "part %u (%s)", part->index,
		                     part->type);
		label = unnamed;
	}
	if ((magic = scan_magic(part->data, part->len)) != NULL)
		return scan_found(c, SCAN_EXEC, label, part->outer, magic);
	if (part->len == 0)
		return 0;
	if (scan_arc == NULL && !may_hold_archive(part))
		return 0; /* nothing libarchive could read: it need not be loaded */
	c->outer = label;
	return scan_archive(c, part->data, part->len, label, 1);
}

void
scan_message(const char *msg, size_t len, struct scan_verdict *v)
{
	struct scan_ctx c;

	scan_ctx_init(&c, v);
	switch (mime_walk(msg, len, on_part, &c)) {
	case MIME_OK:
	case MIME_STOPPED:
		break;
	case MIME_TOO_DEEP:
		(void)scan_found(&c, SCAN_UNINSPECTABLE, "", "", "MIME parts nested too deeply");
		break;
	case MIME_TOO_MANY:
		(void)scan_found(&c, SCAN_UNINSPECTABLE, "", "", "too many MIME parts");
		break;
	case MIME_NOMEM:
	default:
		(void)scan_found(&c, SCAN_TROUBLE, "", "", "out of memory");
		break;
	}
}
