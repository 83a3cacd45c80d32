/*
 * test_rewrite.c - unit tests for sender masquerading (lib/mail_rewrite.c):
 * local domains, the rewrite table, map file parsing, address lists and
 * header values rewritten in place.
 *
 * Must never depend on anything outside lib/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mail_rewrite.h"

static const char MAP[] = "# senders\n"
                          "\n"
                          "www-data            webmaster@example.org\n"
                          "  Nobody@Host.Local\tnoreply@example.org   # trailing comment\n"
                          "backup@elsewhere.net backup-admin@example.org\r\n"
                          "root                admin@example.org\n"
                          "root                second@example.org\n"
                          "@host.local         x@example.org\n"
                          "cron                not-an-address\n"
                          "lonely\n"
                          "a b c d\n";

/* setup_rw - domain example.org, host relay.test.example, the map */
static void
setup_rw(struct rewrite *rw, int *bad)
{
	rewrite_init(rw);
	assert_int_equal(rewrite_set_domain(rw, "Example.ORG."), 0);
	assert_int_equal(rewrite_add_local(rw, "relay.test.example"), 0);
	assert_int_equal(rewrite_add_local(rw, "relay"), 0);
	*bad = rewrite_map_parse(rw, MAP, sizeof(MAP) - 1, "senders", NULL);
}

static void
test_map_parse(void **state)
{
	struct rewrite rw;
	int bad;
	size_t i;

	(void)state;
	setup_rw(&rw, &bad);
	/* @host.local, not-an-address, lonely, "a b c d", duplicate root */
	assert_int_equal(bad, 5);
	assert_int_equal(rw.n_map, 4);
	for (i = 1; i < rw.n_map; i++)
		assert_true(strcmp(rw.map[i - 1].key, rw.map[i].key) < 0);
	assert_string_equal(rewrite_map_lookup(&rw, "ROOT"), "admin@example.org");
	assert_string_equal(rewrite_map_lookup(&rw, "nobody@host.local"), "noreply@example.org");
	assert_string_equal(rewrite_map_lookup(&rw, "backup@elsewhere.net"),
	                    "backup-admin@example.org");
	assert_null(rewrite_map_lookup(&rw, "cron"));
	assert_null(rewrite_map_lookup(&rw, "lonely"));
	rewrite_free(&rw);
}

static void
test_map_errors_reported(void **state)
{
	struct rewrite rw;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	rewrite_init(&rw);
	assert_int_equal(rewrite_map_parse(&rw, MAP, sizeof(MAP) - 1, "senders", f), 5);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(text, "senders:8: bad key"));
	assert_non_null(strstr(text, "senders:9: bad replacement"));
	assert_non_null(strstr(text, "senders:10: missing replacement"));
	assert_non_null(strstr(text, "senders:11: extra text"));
	assert_non_null(strstr(text, "senders:7: duplicate key \"root\""));
	free(text);
	rewrite_free(&rw);
}

static void
test_map_load(void **state)
{
	struct rewrite rw;
	char path[] = "/tmp/test_rewrite.XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, MAP, sizeof(MAP) - 1), (ssize_t)(sizeof(MAP) - 1));
	assert_int_equal(close(fd), 0);
	rewrite_init(&rw);
	assert_int_equal(rewrite_map_load(&rw, path, NULL), RES_OK);
	assert_int_equal(rw.n_map, 4);
	assert_int_equal(unlink(path), 0);
	/* missing: masquerading goes on without a map */
	assert_int_equal(rewrite_map_load(&rw, path, NULL), RES_OK);
	assert_int_equal(rewrite_map_load(&rw, "", NULL), RES_OK);
	/* a directory cannot be a map */
	assert_int_equal(rewrite_map_load(&rw, "/", NULL), RES_TEMP);
	rewrite_free(&rw);
}

static const struct {
	const char *domain;
	bool local;
} LOCALS[] = {
    {"", true},
    {"localhost", true},
    {"LOCALHOST.", true},
    {"localhost.localdomain", true},
    {"host.local", true},
    {"printer.lan.local", true},
    {"x.localdomain", true},
    {"relay.test.example", true},
    {"RELAY", true},
    {"[127.0.0.1]", true},
    {"[IPv6:::1]", true},
    {"example.org", false},
    {"local", false},
    {"notlocal", false},
    {"evil-local", false},
    {"relay.test.example.evil.net", false},
    {"[130.83.1.1]", false},
};

static void
test_domain_is_local(void **state)
{
	struct rewrite rw;
	int bad;
	size_t i;

	(void)state;
	setup_rw(&rw, &bad);
	for (i = 0; i < sizeof(LOCALS) / sizeof(LOCALS[0]); i++) {
		if (rewrite_domain_is_local(&rw, LOCALS[i].domain) != LOCALS[i].local)
			fail_msg("domain \"%s\": expected %s", LOCALS[i].domain,
			         LOCALS[i].local ? "local" : "not local");
	}
	rewrite_free(&rw);
}

static const struct {
	enum rewrite_mode mode;
	const char *in, *out;
	int changed;
} ADDRS[] = {
    {REWRITE_SENDER, "root", "admin@example.org", 1},
    {REWRITE_SENDER, "root@localhost", "admin@example.org", 1},
    {REWRITE_SENDER, "Root@relay.test.example", "admin@example.org", 1},
    {REWRITE_SENDER, "www-data@host.local", "webmaster@example.org", 1},
    {REWRITE_SENDER, "nobody@host.local", "noreply@example.org", 1},
    {REWRITE_SENDER, "nobody@other.local", "nobody@example.org", 1},
    {REWRITE_SENDER, "daemon", "daemon@example.org", 1},
    {REWRITE_SENDER, "daemon@relay", "daemon@example.org", 1},
    {REWRITE_SENDER, "backup@elsewhere.net", "backup-admin@example.org", 1},
    {REWRITE_SENDER, "alice@example.org", "alice@example.org", 0},
    {REWRITE_SENDER, "root@example.com", "root@example.com", 0},
    {REWRITE_SENDER, "", "", 0},
    {REWRITE_SENDER, "\"a@b\"", "\"a@b\"@example.org", 1},
    {REWRITE_SENDER, "\"x y\"@localhost", "\"x y\"@example.org", 1},
    {REWRITE_RECIPIENT, "root", "root@example.org", 1},
    {REWRITE_RECIPIENT, "www-data@localhost", "www-data@example.org", 1},
    {REWRITE_RECIPIENT, "bob@example.net", "bob@example.net", 0},
};

static void
test_rewrite_address(void **state)
{
	struct rewrite rw;
	char out[ADDR_PATH_MAX + 1];
	int bad, r;
	size_t i;

	(void)state;
	setup_rw(&rw, &bad);
	for (i = 0; i < sizeof(ADDRS) / sizeof(ADDRS[0]); i++) {
		r = rewrite_address(&rw, ADDRS[i].mode, ADDRS[i].in, out, sizeof(out));
		if (r != ADDRS[i].changed || strcmp(out, ADDRS[i].out) != 0)
			fail_msg("%s: got %d \"%s\", want %d \"%s\"", ADDRS[i].in, r, out,
			         ADDRS[i].changed, ADDRS[i].out);
	}
	/* too small for the result */
	assert_int_equal(rewrite_address(&rw, REWRITE_SENDER, "root", out, 5), -1);
	rewrite_free(&rw);
}

static const struct {
	const char *in;
	const char *want; /* addresses joined with '|', bad ones as "!raw" */
} LISTS[] = {
    {"alice@example.org", "alice@example.org"},
    {"Alice <alice@example.org>, bob@example.org", "alice@example.org|bob@example.org"},
    {"\"Doe, John\" <john@example.org>", "john@example.org"},
    {"root (Cron Daemon)", "root"},
    {"(comment) root@localhost (another)", "root@localhost"},
    {"team: a@example.org, b@example.org;, c@example.org",
     "a@example.org|b@example.org|c@example.org"},
    {"undisclosed-recipients:;", ""},
    {"<>", ""},
    {" , ,, ", ""},
    {"John Doe", "!John Doe"},
    {"john . doe @ example.org", "john.doe@example.org"},
    {"\"quoted local\"@example.org", "\"quoted local\"@example.org"},
    {"a@b,\n\tc@d", "a@b|c@d"},
    {"x <unterminated@example.org", "!unterminated@example.org"},
    {"<@route,@x:u@example.org>", "@route,@x:u@example.org"},
};

/* join_items - what addrlist_next yields, for comparison */
static void
join_items(const char *in, char *out, size_t outsize)
{
	struct addrlist_item it;
	size_t pos = 0, n = 0;
	int w;

	out[0] = '\0';
	while (addrlist_next(in, strlen(in), &pos, &it)) {
		assert_true(it.off + it.len <= strlen(in));
		if (it.bad)
			w = snprintf(out + n, outsize - n, "%s!%.*s", n ? "|" : "", (int)it.len,
			             in + it.off);
		else
			w = snprintf(out + n, outsize - n, "%s%s", n ? "|" : "", it.addr);
		assert_true(w >= 0 && (size_t)w < outsize - n);
		n += (size_t)w;
	}
}

static void
test_addrlist(void **state)
{
	char got[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(LISTS) / sizeof(LISTS[0]); i++) {
		join_items(LISTS[i].in, got, sizeof(got));
		if (strcmp(got, LISTS[i].want) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"", LISTS[i].in, got,
			         LISTS[i].want);
	}
}

static const struct {
	enum rewrite_mode mode;
	const char *in, *out;
	int changed;
} VALUES[] = {
    {REWRITE_SENDER, " root\n", " admin@example.org\n", 1},
    {REWRITE_SENDER, " Cron Daemon <root@localhost>\n", " Cron Daemon <admin@example.org>\n", 1},
    {REWRITE_SENDER, " daemon (System)\n", " daemon@example.org (System)\n", 1},
    {REWRITE_SENDER, " \"W, D\" <www-data@host.local>,\n\tbob@relay\n",
     " \"W, D\" <webmaster@example.org>,\n\tbob@example.org\n", 2},
    {REWRITE_SENDER, " Alice <alice@example.org>\n", " Alice <alice@example.org>\n", 0},
    {REWRITE_SENDER, " John Doe\n", " John Doe\n", 0},
    {REWRITE_RECIPIENT, " root, Bob <bob>\n", " root@example.org, Bob <bob@example.org>\n", 2},
};

static void
test_header_value(void **state)
{
	struct rewrite rw;
	struct buf out = BUF_INIT(0);
	int bad, r;
	size_t i;

	(void)state;
	setup_rw(&rw, &bad);
	for (i = 0; i < sizeof(VALUES) / sizeof(VALUES[0]); i++) {
		buf_reset(&out);
		r = rewrite_header_value(&rw, VALUES[i].mode, VALUES[i].in, strlen(VALUES[i].in),
		                         &out);
		if (r != VALUES[i].changed || strcmp(buf_cstr(&out), VALUES[i].out) != 0)
			fail_msg("\"%s\": got %d \"%s\"", VALUES[i].in, r, buf_cstr(&out));
	}
	buf_free(&out);
	rewrite_free(&rw);
}

/* the one table of fields both programs rewrite (rewrite_field_mode) */
static const struct {
	const char *in, *out;
	int changed;
} FIELDS[] = {
    {"From: root\n", "From: admin@example.org\n", 1},
    {"FROM : root (cron)\n", "FROM : admin@example.org (cron)\n", 1},
    {"from:\n\tDaemon <daemon>\n", "from:\n\tDaemon <daemon@example.org>\n", 1},
    {"To: root, www-data@localhost\n", "To: root@example.org, www-data@example.org\n", 2},
    {"cc:Team: root;\r\n", "cc:Team: root@example.org;\r\n", 1},
    {"Bcc: root\n", "Bcc: root\n", 0},
    {"Reply-To: root\n", "Reply-To: root\n", 0},
    {"Resent-From: root\n", "Resent-From: root\n", 0},
    {"Sender: root\n", "Sender: root\n", 0},
    {"Fromage: root\n", "Fromage: root\n", 0},
    {"Subject: From: root\n", "Subject: From: root\n", 0},
    {"no colon at all\n", "no colon at all\n", 0},
    {"From: admin@example.org\n", "From: admin@example.org\n", 0},
};

static void
test_header_field(void **state)
{
	static const char nul[] = "From: \"x\0y\"@localhost\n";
	struct rewrite rw;
	struct buf out = BUF_INIT(0), again = BUF_INIT(0);
	int bad, r;
	size_t i;

	(void)state;
	setup_rw(&rw, &bad);
	for (i = 0; i < sizeof(FIELDS) / sizeof(FIELDS[0]); i++) {
		buf_reset(&out);
		buf_reset(&again);
		r = rewrite_header_field(&rw, FIELDS[i].in, strlen(FIELDS[i].in), &out);
		if (r != FIELDS[i].changed || strcmp(buf_cstr(&out), FIELDS[i].out) != 0)
			fail_msg("\"%s\": got %d \"%s\"", FIELDS[i].in, r, buf_cstr(&out));
		/* what was rewritten stays as it is */
		assert_int_equal(rewrite_header_field(&rw, out.s, out.len, &again), 0);
		assert_string_equal(buf_cstr(&again), buf_cstr(&out));
	}
	/* a NUL inside an address: left alone, not cut short and rewritten */
	buf_reset(&out);
	assert_int_equal(rewrite_header_field(&rw, nul, sizeof(nul) - 1, &out), 0);
	assert_int_equal(out.len, sizeof(nul) - 1);
	assert_memory_equal(out.s, nul, sizeof(nul) - 1);
	buf_free(&out);
	buf_free(&again);
	rewrite_free(&rw);
}

static void
test_host_names(void **state)
{
	struct rewrite rw;
	size_t i;

	(void)state;
	rewrite_init(&rw);
	assert_int_equal(rewrite_add_host(&rw, "mx1.campus.example"), 0);
	assert_int_equal(rewrite_add_host(&rw, "plainhost"), 0);
	assert_int_equal(rewrite_add_host(&rw, ".odd"), 0);
	assert_int_equal(rewrite_add_host(&rw, NULL), -1);
	assert_true(rewrite_domain_is_local(&rw, "MX1.campus.example"));
	assert_true(rewrite_domain_is_local(&rw, "mx1"));
	assert_true(rewrite_domain_is_local(&rw, "plainhost"));
	assert_false(rewrite_domain_is_local(&rw, "campus.example"));
	for (i = rw.n_locals; i < REWRITE_LOCALS_MAX; i++)
		assert_int_equal(rewrite_add_local(&rw, "x.example"), 0);
	assert_int_equal(rewrite_add_host(&rw, "full.example"), -1);
	rewrite_free(&rw);
}

/* test_field_flags - one table says which fields are rewritten and
 * which sendmail -t takes recipients from: Bcc: only the latter (its
 * addresses never reach the gateway), From: only the former */
static void
test_field_flags(void **state)
{
	static const struct {
		const char *name;
		unsigned flags;
		enum rewrite_mode mode; /* when flags has REWRITE_FIELD_ADDRS */
	} cases[] = {
	    {"From", REWRITE_FIELD_ADDRS, REWRITE_SENDER},
	    {"from \t", REWRITE_FIELD_ADDRS, REWRITE_SENDER},
	    {"To", REWRITE_FIELD_ADDRS | REWRITE_FIELD_RCPT, REWRITE_RECIPIENT},
	    {"CC", REWRITE_FIELD_ADDRS | REWRITE_FIELD_RCPT, REWRITE_RECIPIENT},
	    {"Bcc", REWRITE_FIELD_RCPT, REWRITE_RECIPIENT},
	    {"bcc ", REWRITE_FIELD_RCPT, REWRITE_RECIPIENT},
	    {"Reply-To", 0, REWRITE_SENDER},
	    {"Sender", 0, REWRITE_SENDER},
	    {"Resent-To", 0, REWRITE_SENDER},
	    {"Froms", 0, REWRITE_SENDER},
	    {"T", 0, REWRITE_SENDER},
	    {"", 0, REWRITE_SENDER},
	};
	enum rewrite_mode mode;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mode = cases[i].mode == REWRITE_SENDER ? REWRITE_RECIPIENT : REWRITE_SENDER;
		assert_int_equal(rewrite_field_flags(cases[i].name, strlen(cases[i].name), &mode),
		                 cases[i].flags);
		if (cases[i].flags & REWRITE_FIELD_ADDRS)
			assert_int_equal(mode, cases[i].mode);
		assert_int_equal(rewrite_field_mode(cases[i].name, strlen(cases[i].name), &mode),
		                 (cases[i].flags & REWRITE_FIELD_ADDRS) != 0);
	}
	/* only n octets count: "To" of "Total" is To */
	assert_int_equal(rewrite_field_flags("Total", 2, &mode),
	                 REWRITE_FIELD_ADDRS | REWRITE_FIELD_RCPT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_map_parse),       cmocka_unit_test(test_map_errors_reported),
	    cmocka_unit_test(test_map_load),        cmocka_unit_test(test_domain_is_local),
	    cmocka_unit_test(test_rewrite_address), cmocka_unit_test(test_addrlist),
	    cmocka_unit_test(test_header_value),    cmocka_unit_test(test_header_field),
	    cmocka_unit_test(test_host_names),      cmocka_unit_test(test_field_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

_Static_assert(RES_OK == 0, "RES_OK must be enum result's");
