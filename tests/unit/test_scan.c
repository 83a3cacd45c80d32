/*
 * test_scan.c - unit tests for mailout-scan's checks (smtpd/scan_*.c)
 *
 * Tables for executable names and magic; archives built here with
 * libarchive's writer (zip, tar.gz, 7z, nested, disguised, encrypted
 * names) and inspected in memory; the reply line; the notification;
 * libarchive loaded only for a message that may hold an archive (the
 * inspector asks for it, the parent loads it and inspects again); one
 * inspector kept for many messages, replaced when it died, ran out of
 * time or served its number; and the sandbox: after scan_child_fds() the child holds /dev/null on
 * fds 0-2 and its verdict pipe on fd 3, nothing else (whatever its
 * parent had open: a socket like a client connection, a file); after
 * scan_confine() socket, open, exec, fork, signals to another process
 * and reading another process's memory must fail.  Never writes files
 * or talks to the network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "scan.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <openssl/evp.h>
#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

static void
test_names(void **unused)
{
	static const struct {
		const char *name;
		bool exec;
	} t[] = {
	    {"setup.exe", true},
	    {"INVOICE.PDF.EXE", true},
	    {"a.pdf.exe. . ", true},
	    {"run.Bat", true},
	    {"x.js", true},
	    {"x.jse", true},
	    {"x.ps1", true},
	    {"x.lnk", true},
	    {"dir/x.hta", true},
	    {"dir\\x.cpl", true},
	    {"evil.exe::$DATA", true},
	    {"evil.scr:zone", true},
	    {"x.reg", true},
	    {"a.jar", true},
	    {"report.pdf", false},
	    {"exe", false},
	    {".exe", true},
	    {"x.exe.pdf", false},
	    {"x.json", false},
	    {"x.com.au.txt", false},
	    {"", false},
	    {"notes.txt", false},
	    {"x.msi", true},
	    {"x.msp", true},
	    {"x.vbs", true},
	    {"x.vbe", true},
	    {"x.wsf", true},
	    {"x.wsh", true},
	    {"x.pif", true},
	    {"x.cmd", true},
	    {"x.exe/readme.txt", false},
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (scan_name_is_exec(t[i].name) != t[i].exec)
			fail_msg("%s: want %d", t[i].name, t[i].exec);
	assert_false(scan_name_is_exec(NULL));
}

static void
test_magic(void **unused)
{
	static const struct {
		const char *data;
		size_t n;
		bool exec;
	} t[] = {
	    {"MZ\x90", 3, true},
	    {"\x7f"
	     "ELF\x02",
	     5, true},
	    {"\xfe\xed\xfa\xce", 4, true},
	    {"\xfe\xed\xfa\xcf", 4, true},
	    {"\xca\xfe\xba\xbe", 4, true},
	    {"\xce\xfa\xed\xfe", 4, true},
	    {"\xcf\xfa\xed\xfe", 4, true},
	    {"#!/bin/sh", 9, true},
	    {"%PDF-1.7", 8, false},
	    {"M", 1, false},
	    {"", 0, false},
	    {"PK\x03\x04", 4, false},
	    {"\x7f"
	     "EL",
	     3, false},
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if ((scan_magic((const unsigned char *)t[i].data, t[i].n) != NULL) != t[i].exec)
			fail_msg("case %zu: want %d", i, t[i].exec);
}

static void
test_sanitize(void **unused)
{
	char out[16];

	scan_sanitize(out, sizeof(out), "a\"b\\c\r\n\xc3\xa9");
	assert_string_equal(out, "a?b?c????");
	scan_sanitize(out, sizeof(out), "averyveryverylongname.exe");
	assert_string_equal(out, "...longname.exe");
}

/* Archive building: entries (name, data, len) into a format. */
struct entry {
	const char *name;
	const char *data;
	size_t len;
};

static void
build(struct buf *out, int format, int filter, const struct entry *e, size_t n)
{
	static char mem[1 << 20];
	struct archive *a = archive_write_new();
	struct archive_entry *ae;
	size_t used = 0, i;

	assert_non_null(a);
	assert_int_equal(archive_write_set_format(a, format), ARCHIVE_OK);
	if (filter)
		assert_int_equal(archive_write_add_filter(a, filter), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, mem, sizeof(mem), &used), ARCHIVE_OK);
	for (i = 0; i < n; i++) {
		ae = archive_entry_new();
		archive_entry_set_pathname(ae, e[i].name);
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_perm(ae, 0644);
		archive_entry_set_size(ae, (la_int64_t)e[i].len);
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		assert_int_equal(archive_write_data(a, e[i].data, e[i].len), (la_ssize_t)e[i].len);
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	buf_init(out, 0);
	assert_int_equal(buf_set(out, mem, used), 0);
}

static int
inspect(const struct buf *b, const char *name, struct scan_verdict *v)
{
	struct scan_ctx c;

	assert_int_equal(scan_arc_load(), RES_OK);
	scan_ctx_init(&c, v);
	c.outer = name;
	return scan_archive(&c, (const unsigned char *)b->s, b->len, name, 1);
}

static void
test_archives(void **unused)
{
	static const struct entry ok[] = {{"a.txt", "hello", 5}, {"b.pdf", "%PDF-1.4", 8}};
	static const struct entry byname[] = {{"a.txt", "hello", 5}, {"docs/setup.exe", "x", 1}};
	static const struct entry bymagic[] = {{"readme.txt", "MZ\x90\x00", 4}};
	static const struct entry elf[] = {{"tool",
	                                    "\x7f"
	                                    "ELF\x02\x01",
	                                    6}};
	static const struct {
		int format, filter;
		const struct entry *e;
		size_t n;
		int stop;
		const char *name;
	} t[] = {
	    {ARCHIVE_FORMAT_ZIP, 0, ok, 2, 0, ""},
	    {ARCHIVE_FORMAT_ZIP, 0, byname, 2, 1, "docs/setup.exe"},
	    {ARCHIVE_FORMAT_ZIP, 0, bymagic, 1, 1, "readme.txt"},
	    {ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ARCHIVE_FILTER_GZIP, elf, 1, 1, "tool"},
	    {ARCHIVE_FORMAT_TAR_USTAR, ARCHIVE_FILTER_XZ, bymagic, 1, 1, "readme.txt"},
	    {ARCHIVE_FORMAT_7ZIP, 0, bymagic, 1, 1, "readme.txt"},
	    {ARCHIVE_FORMAT_CPIO_POSIX, ARCHIVE_FILTER_BZIP2, byname, 2, 1, "docs/setup.exe"},
	    {ARCHIVE_FORMAT_7ZIP, 0, ok, 2, 0, ""},
	};
	struct scan_verdict v;
	struct buf b;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		build(&b, t[i].format, t[i].filter, t[i].e, t[i].n);
		if (inspect(&b, "x.dat", &v) != t[i].stop || strcmp(v.name, t[i].name) != 0)
			fail_msg("case %zu: got kind %d name %s why %s", i, v.kind, v.name, v.why);
		if (t[i].stop)
			assert_string_equal(v.outer, "x.dat");
		buf_free(&b);
	}
}

static void
test_nested_and_compressed(void **unused)
{
	static const struct entry elf[] = {{"bin/tool",
	                                    "\x7f"
	                                    "ELF\x02\x01",
	                                    6}};
	struct entry outer[2] = {{"notes.txt", "hi", 2}, {"inner.zip", NULL, 0}};
	struct scan_verdict v;
	struct buf in, out, gz;
	int level;

	build(&in, ARCHIVE_FORMAT_ZIP, 0, elf, 1);
	outer[1].data = in.s;
	outer[1].len = in.len;
	build(&out, ARCHIVE_FORMAT_ZIP, 0, outer, 2);
	assert_int_equal(inspect(&out, "docs.zip", &v), 1);
	assert_int_equal(v.kind, SCAN_EXEC);
	assert_string_equal(v.name, "inner.zip/bin/tool");
	assert_string_equal(v.outer, "docs.zip");
	buf_free(&out);
	/* five levels: too deep to inspect */
	for (level = 0; level < 5; level++) {
		outer[1].data = in.s;
		outer[1].len = in.len;
		build(&out, ARCHIVE_FORMAT_ZIP, 0, &outer[1], 1);
		buf_free(&in);
		in = out;
	}
	assert_int_equal(inspect(&in, "deep.zip", &v), 1);
	assert_int_equal(v.kind, SCAN_UNINSPECTABLE);
	buf_free(&in);
	/* a lone gzip'd PE: the compressed file is checked */
	{
		static const struct entry pe[] = {{"data", "MZ\x90\x00", 4}};

		build(&gz, ARCHIVE_FORMAT_RAW, ARCHIVE_FILTER_GZIP, pe, 1);
		assert_int_equal(inspect(&gz, "report.gz", &v), 1);
		assert_string_equal(v.name, "report");
		buf_free(&gz);
	}
}

static void
test_not_archives(void **unused)
{
	static const char *const data[] = {"plain text\n", "%PDF-1.4 ...", "\x89PNG\r\n\x1a\n"};
	struct scan_verdict v;
	struct buf b;
	size_t i;

	for (i = 0; i < sizeof(data) / sizeof(data[0]); i++) {
		buf_init(&b, 0);
		assert_int_equal(buf_appends(&b, data[i]), 0);
		assert_int_equal(inspect(&b, "x", &v), 0);
		assert_int_equal(v.kind, SCAN_CLEAN);
		buf_free(&b);
	}
}

/* attach - a message with one base64 attachment of type, name */
static void
attach(struct buf *m, const char *type, const char *name, const void *data, size_t len)
{
	static unsigned char b64[1 << 16];
	int n;

	assert_true(len * 4 / 3 + 4 < sizeof(b64));
	n = EVP_EncodeBlock(b64, data, (int)len);
	assert_true(n >= 0);
	buf_init(m, 0);
	assert_int_equal(buf_printf(m,
	                            "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nhello\n"
	                            "--b\nContent-Type: %s; name=\"%s\"\n"
	                            "Content-Transfer-Encoding: base64\n\n%s\n--b--\n",
	                            type, name, (const char *)b64),
	                 0);
}

/* sealed - m's octets in a sealed memfd, mapped at *map, as the
 * receiver holds a message */
static int
sealed(const struct buf *m, const char **map)
{
	int fd;

	assert_int_equal(scan_memfd_new(&fd), QQ_OK);
	assert_int_equal(scan_memfd_append(fd, m->s, m->len), 0);
	assert_int_equal(scan_memfd_seal(fd, m->len, map), QQ_OK);
	return fd;
}

/* unsealed - sealed's memfd and mapping gone */
static void
unsealed(int fd, const char *map, size_t len)
{
	if (len > 0)
		assert_int_equal(munmap((void *)map, len), 0);
	assert_int_equal(close(fd), 0);
}

/* test_lazy - first of all: libarchive not loaded until a part may be an archive */
static void
test_lazy(void **unused)
{
	static const char plain[] = "Subject: x\n\nhello\nbeginning of a line\n";
	static const char utf8[] = "Gr\xc3\xbc\xc3\x9f\x65 \xe2\x82\xac\r\n\tok\n";
	static const char uu[] = "hi\nbegin 644 a.exe\nM\nend\n";
	static const struct entry exe[] = {{"a.txt", "hello", 5}, {"setup.exe", "x", 1}};
	static const struct {
		const char *type, *name, *data;
		size_t len; /* 0: strlen */
		int kind;
	} t[] = {
	    {"text/plain", "notes.txt", utf8, 0, SCAN_CLEAN},
	    {"text/plain", "notes.txt", uu, 0, SCAN_NEED_ARCHIVE},
	    {"text/plain", "notes.tar", "hello", 0, SCAN_NEED_ARCHIVE},
	    {"text/plain", "notes.txt", "!<arch>\n", 0, SCAN_NEED_ARCHIVE},
	    {"text/plain", "notes.txt", "BZh91AY&SY", 0, SCAN_NEED_ARCHIVE},
	    {"text/plain", "notes.txt", "a\x00b", 3, SCAN_NEED_ARCHIVE},
	    {"text/plain", "notes.txt", "(\xb5/\xfd", 0, SCAN_NEED_ARCHIVE},
	    {"image/png", "p.png", "\x89PNG", 0, SCAN_NEED_ARCHIVE},
	};
	struct scan_verdict v;
	struct buf m, z;
	const char *map;
	size_t i;
	int fd;

	assert_null(scan_arc);
	scan_message(plain, sizeof(plain) - 1, &v);
	assert_int_equal(v.kind, SCAN_CLEAN);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		attach(&m, t[i].type, t[i].name, t[i].data,
		       t[i].len ? t[i].len : strlen(t[i].data));
		scan_message(m.s, m.len, &v);
		if (v.kind != t[i].kind)
			fail_msg("case %zu: got kind %d why %s", i, v.kind, v.why);
		buf_free(&m);
	}
	assert_null(scan_arc);
	build(&z, ARCHIVE_FORMAT_ZIP, 0, exe, 2);
	attach(&m, "application/octet-stream", "docs.dat", z.s, z.len);
	scan_message(m.s, m.len, &v);
	assert_int_equal(v.kind, SCAN_NEED_ARCHIVE);
	assert_string_equal(v.name, "docs.dat");
	/* the whole way: a confined child asks, the parent loads, a fresh child finds it */
	fd = sealed(&m, &map);
	assert_int_equal(scan_isolated(fd, map, m.len, &v), RES_OK);
	assert_int_equal(v.kind, SCAN_EXEC);
	assert_string_equal(v.name, "setup.exe");
	assert_string_equal(v.outer, "docs.dat");
	assert_non_null(scan_arc);
	scan_inspector_stop();
	unsealed(fd, map, m.len);
	buf_free(&m);
	buf_free(&z);
}

/* fds_of - how many descriptors process pid holds */
static int
fds_of(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* A message held as the receiver holds it. */
struct held {
	struct buf b;
	const char *map;
	int fd;
};

/* verdict_of - scan_isolated's kind for m (-1: RES_TEMP) */
static int
verdict_of(const struct held *m)
{
	struct scan_verdict v;

	return scan_isolated(m->fd, m->map, m->b.len, &v) == RES_OK ? v.kind : -1;
}

static void
test_inspector_kept(void **unused)
{
	struct scan_verdict v;
	struct held clean, exe;
	pid_t first, second;
	unsigned i;

	attach(&clean.b, "text/plain", "notes.txt", "hello", 5);
	attach(&exe.b, "application/pdf", "report.pdf", "MZ\x90\x00", 4);
	clean.fd = sealed(&clean.b, &clean.map);
	exe.fd = sealed(&exe.b, &exe.map);
	assert_int_equal(scan_inspector_pid(), 0);
	/* clean, executable, clean: one child, which keeps no message open */
	assert_int_equal(verdict_of(&clean), SCAN_CLEAN);
	first = scan_inspector_pid();
	assert_true(first > 0);
	assert_int_equal(verdict_of(&exe), SCAN_EXEC);
	assert_int_equal(verdict_of(&clean), SCAN_CLEAN);
	assert_int_equal(scan_inspector_pid(), first);
	assert_int_equal(fds_of(first), 4); /* /dev/null on 0-2, its socket */
	/* killed while idle: that message is deferred, the next gets a fresh child */
	assert_int_equal(kill(first, SIGKILL), 0);
	assert_int_equal(verdict_of(&clean), -1);
	assert_int_equal(scan_inspector_pid(), 0);
	assert_int_equal(verdict_of(&exe), SCAN_EXEC);
	second = scan_inspector_pid();
	assert_true(second > 0 && second != first);
	/* its time ran out (the alarm it arms for each message): refused as
	 * too long to inspect, and replaced */
	assert_int_equal(kill(second, SIGALRM), 0);
	assert_int_equal(scan_isolated(clean.fd, clean.map, clean.b.len, &v), RES_OK);
	assert_int_equal(v.kind, SCAN_UNINSPECTABLE);
	assert_string_equal(v.why, "takes too long to inspect");
	assert_int_equal(scan_inspector_pid(), 0);
	/* a child serves SCAN_INSPECTOR_MESSAGES, then a fresh one */
	for (i = 0; i < SCAN_INSPECTOR_MESSAGES; i++) {
		assert_int_equal(verdict_of(i % 2 ? &exe : &clean), i % 2 ? SCAN_EXEC : SCAN_CLEAN);
		if (i == 0)
			first = scan_inspector_pid();
		assert_int_equal(scan_inspector_pid(), first);
	}
	assert_int_equal(verdict_of(&clean), SCAN_CLEAN);
	assert_true(scan_inspector_pid() != first);
	/* stopped: gone and reaped */
	second = scan_inspector_pid();
	scan_inspector_stop();
	assert_int_equal(scan_inspector_pid(), 0);
	assert_int_equal(kill(second, 0), -1);
	assert_int_equal(errno, ESRCH);
	unsealed(clean.fd, clean.map, clean.b.len);
	unsealed(exe.fd, exe.map, exe.b.len);
	buf_free(&clean.b);
	buf_free(&exe.b);
}

static void
test_message(void **unused)
{
	static const char clean[] = "Subject: x\n\nhello\n";
	static const char bad[] = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\ntext\n--b\n"
	                          "Content-Type: application/pdf; "
	                          "name=\"report.pdf\"\nContent-Transfer-Encoding: base64\n\n"
	                          "TVqQAAMAAAAEAAAA\n--b--\n";
	struct scan_verdict v;

	scan_message(clean, sizeof(clean) - 1, &v);
	assert_int_equal(v.kind, SCAN_CLEAN);
	scan_message(bad, sizeof(bad) - 1, &v);
	assert_int_equal(v.kind, SCAN_EXEC);
	assert_string_equal(v.name, "report.pdf");
	assert_string_equal(v.why, "PE executable");
}

static void
test_reply(void **unused)
{
	struct scan_verdict v;
	char line[512];
	struct buf n = BUF_INIT(0);
	const char *rcpts[] = {"a@example.org", "b@example.org"};
	static const char msg[] = "Subject: hi\nFrom: s@example.org\n\nSECRET BODY\n";

	memset(&v, 0, sizeof(v));
	v.kind = SCAN_EXEC;
	assert_int_equal(bounded_copy(v.name, sizeof(v.name), "invoice.pdf.exe"), 0);
	assert_int_equal(bounded_copy(v.outer, sizeof(v.outer), "docs.zip"), 0);
	assert_int_equal(scan_reply_line(&v, line, sizeof(line)), 0);
	assert_string_equal(line,
	                    "554 5.7.1 Attachment \"invoice.pdf.exe\" (inside \"docs.zip\") is "
	                    "an executable and is not accepted; send it as a link or ask your "
	                    "mail admin");
	assert_int_equal(scan_notification(&v, "relay.example.org", "0006445941624000.A7B2C3D4E5F6",
	                                   "s@example.org", rcpts, 2, msg, sizeof(msg) - 1, &n),
	                 0);
	assert_non_null(strstr(n.s, "To: <s@example.org>\n"));
	assert_non_null(strstr(n.s, "Auto-Submitted: auto-replied\n"));
	assert_non_null(strstr(n.s, "Final-Recipient: rfc822; b@example.org\n"));
	assert_non_null(strstr(n.s, "Content-Type: text/rfc822-headers\n\nSubject: hi\n"));
	assert_non_null(strstr(n.s, "invoice.pdf.exe"));
	assert_null(strstr(n.s, "SECRET BODY"));
	buf_free(&n);
}

/* confined_child - what the inspection child may no longer do */
static int
confined_child(void)
{
	char *const argv[] = {(char *)"/bin/true", NULL};
	static char secret[16] = "parent's secret", copy[16];
	struct iovec local = {copy, sizeof(copy)}, remote = {secret, sizeof(secret)};

	if (scan_confine() < 0)
		return 10;
	if (socket(AF_INET, SOCK_STREAM, 0) >= 0 || errno != EPERM)
		return 11;
	if (open("/dev/null", O_RDONLY) >= 0)
		return 12;
	if (open("scan-test-should-not-exist", O_WRONLY | O_CREAT, 0600) >= 0)
		return 13;
	execv(argv[0], argv);
	if (fork() == 0)
		_exit(99);
	if (kill(getppid(), 0) == 0 || errno != EPERM)
		return 14;
	if (syscall(SYS_tgkill, getppid(), getppid(), 0) == 0 || errno != EPERM)
		return 15;
	if (process_vm_readv(getppid(), &local, 1, &remote, 1, 0) >= 0 || errno != EPERM)
		return 16;
	return 0;
}

/* assert_child_passes - run child in a forked process: it exits 0 */
static void
assert_child_passes(int (*child)(void))
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_sandbox(void **unused)
{
	assert_child_passes(confined_child);
}

/* same_file - fd a is open on the file st describes */
static bool
same_file(int fd, const struct stat *st)
{
	struct stat f;

	return fstat(fd, &f) == 0 && f.st_dev == st->st_dev && f.st_ino == st->st_ino;
}

/* fds_child - scan_child_fds in a process that holds a socket, a file
 * and a pipe: 0 when only /dev/null on 0-2 and the pipe on 3 are left */
static int
fds_child(void)
{
	struct stat null, pipe_st;
	int sv[2], p[2], file, fd;

	if (stat("/dev/null", &null) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 ||
	    (file = open("/proc/self/status", O_RDONLY)) < 0 || pipe(p) < 0 ||
	    fstat(p[1], &pipe_st) < 0)
		return 20;
	/* a client connection on fd 2, as inetd hands over */
	if (dup2(sv[0], 2) < 0)
		return 21;
	if (scan_child_fds(p[1]) < 0)
		return 22;
	for (fd = 0; fd <= 2; fd++)
		if (!same_file(fd, &null))
			return 23 + fd;
	if (!same_file(3, &pipe_st))
		return 26;
	for (fd = 4; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			return 27;
	return write(2, "x", 1) == 1 ? 0 : 28; /* into /dev/null */
}

static void
test_child_fds(void **unused)
{
	assert_child_passes(fds_child);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lazy), /* first: before anything loads libarchive */
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_magic),
	    cmocka_unit_test(test_sanitize),
	    cmocka_unit_test(test_archives),
	    cmocka_unit_test(test_nested_and_compressed),
	    cmocka_unit_test(test_not_archives),
	    cmocka_unit_test(test_message),
	    cmocka_unit_test(test_reply),
	    cmocka_unit_test(test_inspector_kept),
	    cmocka_unit_test(test_sandbox),
	    cmocka_unit_test(test_child_fds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
