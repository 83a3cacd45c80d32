/*
 * test_passwd.c - credentials and sender ownership (smtpd/smtpd_passwd.c)
 *
 * Table-driven: which strings are crypt hashes we accept (a plain-text
 * password is not), passwd file and sender map lines with their
 * FILE:LINE reports, checking passwords against real yescrypt,
 * sha512-crypt and bcrypt hashes made here, unknown users and broken
 * lines, and which addresses belong to a user (passwd file, sender
 * map, patterns; exact local part, any-case domain), for MAIL FROM and
 * the From: header.  Files live in a temporary directory.
 */
#include <crypt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "smtpd_auth.h"

static char dir[] = "/tmp/test_passwd.XXXXXX";
static char pw_path[256], map_path[256];

/* hash - a real crypt hash of pass with the method of prefix */
static const char *
hash(const char *prefix, const char *pass)
{
	static char out[8][CRYPT_OUTPUT_SIZE];
	static int next;
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	char *h;

	assert_non_null(crypt_gensalt_rn(prefix, strcmp(prefix, "$2b$") == 0 ? 5 : 0, NULL, 0,
	                                 setting, sizeof(setting)));
	h = crypt(pass, setting);
	assert_non_null(h);
	next = (next + 1) % 8;
	snprintf(out[next], sizeof(out[next]), "%s", h);
	return out[next];
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int
setup(void **state)
{
	char text[4096];

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(pw_path, sizeof(pw_path), "%s/passwd", dir);
	snprintf(map_path, sizeof(map_path), "%s/senders", dir);
	snprintf(text, sizeof(text),
	         "# comment\n"
	         "\n"
	         "alice:%s:alice@example.org, Alice.Smith@Example.ORG\n"
	         "bob:%s:\n"
	         "  carol:%s\n"
	         "mallory:hunter2:m@example.org\n",
	         hash("$6$", "secret"), hash("$2b$", "b0b"), hash("$y$", "c4rol"));
	write_file(pw_path, text);
	write_file(map_path, "# USER ADDR,ADDR\ncarol carol@lab.example.net,c.k@example.org\n"
	                     "dave   dave@example.org\n");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	auth_files_reset();
	unlink(pw_path);
	unlink(map_path);
	rmdir(dir);
	return 0;
}

static void
config(struct config *cfg, const char *pw, const char *map, char **patterns, size_t n)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->auth.passwd_file = (char *)pw;
	cfg->auth.pam_service = (char *)"";
	cfg->auth.sender_map = (char *)map;
	cfg->auth.sender_patterns.items = patterns;
	cfg->auth.sender_patterns.n = n;
	auth_files_reset();
}

static void
test_hash_ok(void **state)
{
	static const char *const bad[] = {
	    "hunter2",       "",  "$6$", "$6$salt",      "$6$salt$", "$1$abc$def",
	    "ab01234567890", "*", "!",   "$2b$05$short", "$y$j9T$",  "$unknown$a$b",
	};
	size_t i;

	(void)state;
	assert_true(passwd_hash_ok(hash("$6$", "x")));
	assert_true(passwd_hash_ok(hash("$y$", "x")));
	assert_true(passwd_hash_ok(hash("$2b$", "x")));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (passwd_hash_ok(bad[i]))
			fail_msg("%s taken for a hash", bad[i]);
}

static void
test_parse_lines(void **state)
{
	const char *text = "ok:$6$a$b:\n"
	                   "nocolon\n"
	                   "pt:secret:a@example.org\n"
	                   "addr:$6$a$b:not an address\n"
	                   "ok:$6$a$b:dup@example.org\n"
	                   "sp ace:$6$a$b:\n"
	                   "# fine\n"
	                   "last:$6$a$b:x@example.org";
	struct passwd_db db = {0};
	char *out = NULL;
	size_t outlen = 0;
	FILE *errs = open_memstream(&out, &outlen);

	(void)state;
	assert_non_null(errs);
	assert_int_equal(passwd_parse(&db, text, strlen(text), "pw", true, errs), 5);
	assert_int_equal(fclose(errs), 0);
	assert_non_null(strstr(out, "pw:2: expected user:crypt-hash"));
	assert_non_null(strstr(out, "pw:3: not a crypt hash"));
	assert_non_null(strstr(out, "pw:4: not a list of addresses"));
	assert_non_null(strstr(out, "pw:5: user given twice"));
	assert_non_null(strstr(out, "pw:6: bad user id"));
	assert_null(strstr(out, "pw:1:"));
	assert_null(strstr(out, "pw:8:"));
	assert_null(passwd_find(&db, "ok")->bad);
	assert_non_null(passwd_find(&db, "pt")->bad);
	assert_string_equal(passwd_find(&db, "last")->addrs, "x@example.org");
	assert_null(passwd_find(&db, "OK"));
	passwd_free(&db);
	free(out);
}

static void
test_parse_map(void **state)
{
	const char *text = "carol a@example.org, b@example.org\r\nlonely\nx bad\n";
	struct passwd_db db = {0};

	(void)state;
	assert_int_equal(passwd_parse(&db, text, strlen(text), "map", false, NULL), 2);
	assert_string_equal(passwd_find(&db, "carol")->addrs, "a@example.org,b@example.org");
	assert_non_null(passwd_find(&db, "x")->bad);
	passwd_free(&db);
}

static void
verify(const struct config *cfg, const char *u, const char *p, enum result want, int code)
{
	struct reply r;

	if (auth_verify(cfg, u, p, "127.0.0.2", &r) != want)
		fail_msg("user %s: unexpected result", u);
	if (want != RES_OK)
		assert_int_equal(r.code, code);
}

static void
test_verify(void **state)
{
	struct config cfg;

	(void)state;
	config(&cfg, pw_path, "", NULL, 0);
	verify(&cfg, "alice", "secret", RES_OK, 0);
	verify(&cfg, "alice", "Secret", RES_PERM, 535);
	verify(&cfg, "alice", "", RES_PERM, 535);
	verify(&cfg, "bob", "b0b", RES_OK, 0);
	verify(&cfg, "carol", "c4rol", RES_OK, 0);
	verify(&cfg, "carol", "secret", RES_PERM, 535);
	verify(&cfg, "nobody", "secret", RES_PERM, 535);
	verify(&cfg, "Alice", "secret", RES_PERM, 535);
	verify(&cfg, "mallory", "hunter2", RES_TEMP, 454); /* plain text: our trouble */
	verify(&cfg, "a:b", "x", RES_PERM, 535);
	config(&cfg, "/nonexistent/passwd", "", NULL, 0);
	verify(&cfg, "alice", "secret", RES_TEMP, 454);
}

static void
owned(const struct config *cfg, const char *user, const char *addr, enum result want)
{
	struct mail_addr a;
	struct reply r;

	assert_int_equal(addr_parse_mailbox(addr, strlen(addr), &a, &r), RES_OK);
	if (auth_sender_owned(cfg, user, &a, "Sender address", &r, NULL) != want)
		fail_msg("%s as %s: unexpected result", user, addr);
	if (want == RES_PERM)
		assert_int_equal(r.code, 553);
}

static void
test_owned(void **state)
{
	static char *patterns[] = {"%u@stud.example.org", "%u%%x@example.net"};
	struct config cfg;
	struct mail_addr null;
	struct reply r;

	(void)state;
	config(&cfg, pw_path, map_path, patterns, 2);
	owned(&cfg, "alice", "alice@example.org", RES_OK);
	owned(&cfg, "alice", "alice@EXAMPLE.ORG", RES_OK);
	owned(&cfg, "alice", "Alice.Smith@example.org", RES_OK);
	owned(&cfg, "alice", "alice.smith@example.org", RES_PERM); /* local part exact */
	owned(&cfg, "alice", "Alice@example.org", RES_PERM);
	owned(&cfg, "alice", "alice@stud.example.org", RES_OK);
	owned(&cfg, "alice", "alice@sub.stud.example.org", RES_PERM);
	owned(&cfg, "alice", "bob@stud.example.org", RES_PERM);
	owned(&cfg, "alice", "boss@example.org", RES_PERM);
	owned(&cfg, "carol", "c.k@example.org", RES_OK);
	owned(&cfg, "carol", "carol@Lab.Example.Net", RES_OK);
	owned(&cfg, "dave", "dave@example.org", RES_OK);
	owned(&cfg, "dave", "dave%x@example.net", RES_OK);
	owned(&cfg, "mallory", "m@example.org", RES_PERM); /* a broken line gives nothing */
	assert_int_equal(addr_parse_mailbox("boss@example.org", 16, &null, &r), RES_OK);
	assert_int_equal(auth_sender_owned(&cfg, "alice", &null, "Sender address", &r, NULL),
	                 RES_PERM);
	assert_string_equal(r.text, "Sender address <boss@example.org> is not owned by user "
	                            "alice; use alice@example.org");
	assert_int_equal(addr_parse_path("<>", 2, &null, NULL, &r), RES_OK);
	assert_int_equal(auth_sender_owned(&cfg, "alice", &null, "Sender address", &r, NULL),
	                 RES_OK);
	/* no file can be read: temporary */
	config(&cfg, pw_path, "/nonexistent/senders", NULL, 0);
	owned(&cfg, "alice", "alice@example.org", RES_TEMP);
}

static void
from(const struct config *cfg, const char *value, unsigned count, enum result want)
{
	struct reply r;

	if (auth_from_owned(cfg, "alice", value, strlen(value), count, false, &r) != want)
		fail_msg("From: %s: unexpected result", value);
	if (want != RES_OK)
		assert_int_equal(r.code, 553);
}

static void
test_from(void **state)
{
	struct config cfg;

	(void)state;
	config(&cfg, pw_path, map_path, NULL, 0);
	from(&cfg, "Alice <alice@example.org>", 1, RES_OK);
	from(&cfg, "alice@example.org (Alice)", 1, RES_OK);
	from(&cfg, "\"Boss\" <boss@example.org>", 1, RES_PERM);
	from(&cfg, "alice@example.org, boss@example.org", 1, RES_PERM);
	from(&cfg, "Alice <alice@example.org>", 2, RES_PERM);
	from(&cfg, "Just A Name", 1, RES_PERM);
	from(&cfg, "", 0, RES_OK);
}

static void
test_check_files(void **state)
{
	struct config cfg;
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);

	(void)state;
	config(&cfg, pw_path, map_path, NULL, 0);
	assert_int_equal(auth_files_check(&cfg, f), 1);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(out, ":6: not a crypt hash"));
	free(out);
	config(&cfg, "/nonexistent/passwd", "", NULL, 0);
	assert_int_equal(auth_files_check(&cfg, NULL), 1);
	assert_true(auth_configured(&cfg));
	config(&cfg, "", "", NULL, 0);
	assert_false(auth_configured(&cfg));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hash_ok),     cmocka_unit_test(test_parse_lines),
	    cmocka_unit_test(test_parse_map),   cmocka_unit_test(test_verify),
	    cmocka_unit_test(test_owned),       cmocka_unit_test(test_from),
	    cmocka_unit_test(test_check_files),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
