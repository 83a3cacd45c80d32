/*
 * test_conf.c - unit tests for the configuration loader (conf/)
 *
 * Table-driven: value syntax (durations, sizes, rates, domains, gateway
 * servers), whole files that must load, and broken files that must be
 * refused with the exact "FILE:LINE:" of the problem and exit code 78.
 * Must never read the environment's real configuration, or leave
 * temporary files behind.
 */
#include <fcntl.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "conf_int.h" /* conf_not_implemented */

/* temp_conf - write text to a new temporary file; its path into path */
static void
temp_conf(const char *text, char *path, size_t pathsize)
{
	const char *dir = getenv("TMPDIR");
	size_t len = strlen(text);
	int fd;

	assert_true(snprintf(path, pathsize, "%s/test_conf.XXXXXX", dir && *dir ? dir : "/tmp") <
	            (int)pathsize);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* check_text - conf_check on text; returns the exit code, output in out */
static int
check_text(const char *text, char *path, size_t pathsize, char **out)
{
	size_t outlen;
	FILE *f;
	int rc;

	temp_conf(text, path, pathsize);
	f = open_memstream(out, &outlen);
	assert_non_null(f);
	rc = conf_check(path, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(unlink(path), 0);
	return rc;
}

/* load_ok - load text that must be valid */
static void
load_ok(const char *text, struct config *cfg)
{
	char path[256];
	enum result r;

	temp_conf(text, path, sizeof(path));
	r = conf_load(path, cfg, stderr);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(r, RES_OK);
}

static void
test_durations(void **state)
{
	static const struct {
		const char *in;
		int rc;
		unsigned out;
	} t[] = {
	    {"0", 0, 0},           {"90", 0, 90},    {"90s", 0, 90},
	    {"5m", 0, 300},        {"4h", 0, 14400}, {"5d", 0, 432000},
	    {"", -1, 0},           {"m", -1, 0},     {"5x", -1, 0},
	    {"5mm", -1, 0},        {"-5", -1, 0},    {" 5", -1, 0},
	    {"5 m", -1, 0},        {"1.5h", -1, 0},  {"99999999d", -1, 0},
	    {"4294967296", -1, 0}, {"5M", -1, 0},    {"2147483647", 0, 2147483647},
	};
	size_t i;
	unsigned v;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		v = 12345;
		assert_int_equal(conf_parse_duration(t[i].in, &v), t[i].rc);
		if (t[i].rc == 0)
			assert_int_equal(v, t[i].out);
	}
}

static void
test_sizes(void **state)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t out;
	} t[] = {
	    {"1024", 0, 1024},
	    {"10k", 0, 10240},
	    {"10K", 0, 10240},
	    {"25M", 0, 26214400},
	    {"1G", 0, 1073741824},
	    {"0", 0, 0},
	    {"", -1, 0},
	    {"M", -1, 0},
	    {"25MB", -1, 0},
	    {"25m", -1, 0},
	    {"-1", -1, 0},
	    {"1T", -1, 0},
	    {"18446744073709551615", 0, UINT64_MAX},
	    {"18446744073709551616", -1, 0},
	    {"17179869184G", -1, 0},
	};
	size_t i;
	uint64_t v;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		v = 1;
		assert_int_equal(conf_parse_size(t[i].in, &v), t[i].rc);
		if (t[i].rc == 0)
			assert_true(v == t[i].out);
	}
}

static void
test_rates(void **state)
{
	static const struct {
		const char *in;
		int rc;
		unsigned count, period;
	} t[] = {
	    {"600/h", 0, 600, 3600},    {"10/m", 0, 10, 60}, {"1/s", 0, 1, 1},
	    {"1000/d", 0, 1000, 86400}, {"", 0, 0, 0},       {"0", 0, 0, 0},
	    {"600", -1, 0, 0},          {"600/", -1, 0, 0},  {"600/x", -1, 0, 0},
	    {"0/h", -1, 0, 0},          {"/h", -1, 0, 0},    {"600/hh", -1, 0, 0},
	    {"600 /h", -1, 0, 0},
	};
	size_t i;
	unsigned c, p;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		c = p = 7;
		assert_int_equal(conf_parse_rate(t[i].in, &c, &p), t[i].rc);
		if (t[i].rc == 0) {
			assert_int_equal(c, t[i].count);
			assert_int_equal(p, t[i].period);
		}
	}
}

static void
test_domains(void **state)
{
	static const struct {
		const char *in;
		const char *out; /* NULL: refused */
	} t[] = {
	    {"example.org", "example.org"},
	    {"Example.ORG.", "example.org"},
	    {"localhost", "localhost"},
	    {"a-b.x1.example.org", "a-b.x1.example.org"},
	    {"xn--bcher-kva.example", "xn--bcher-kva.example"},
	    {"", NULL},
	    {".", NULL},
	    {"example..org", NULL},
	    {".example.org", NULL},
	    {"example.org..", NULL},
	    {"exa mple.org", NULL},
	    {"user@example.org", NULL},
	    {"-example.org", NULL},
	    {"example-.org", NULL},
	    {"exam_ple.org", NULL},
	    {"130.83.1.2", NULL},
	    {"b\xc3\xbc"
	     "cher.example",
	     NULL},
	    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.org", NULL},
	};
	char out[256];
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		why = NULL;
		if (t[i].out) {
			assert_int_equal(conf_parse_domain(t[i].in, out, sizeof(out), &why), 0);
			assert_string_equal(out, t[i].out);
		} else {
			assert_int_equal(conf_parse_domain(t[i].in, out, sizeof(out), &why), -1);
			assert_non_null(why);
		}
	}
}

static void
test_servers(void **state)
{
	static const struct {
		const char *in;
		const char *host; /* NULL: refused */
		unsigned port;
		bool mx;
	} t[] = {
	    {"[mail.example.org]:25", "mail.example.org", 25, false},
	    {"[mail.example.org]", "mail.example.org", 0, false},
	    {"mail.example.org:587", "mail.example.org", 587, true},
	    {"Mail.Example.org", "mail.example.org", 0, true},
	    {"[2001:db8::1]:25", "2001:db8::1", 25, false},
	    {"[2001:db8::1]", "2001:db8::1", 0, false},
	    {"[127.0.0.1]:10025", "127.0.0.1", 10025, false},
	    {"127.0.0.1:10025", "127.0.0.1", 10025, false},
	    {"2001:db8::1", NULL, 0, false},
	    {"2001:db8::1:25", NULL, 0, false},
	    {"", NULL, 0, false},
	    {"[]:25", NULL, 0, false},
	    {"[mail.example.org", NULL, 0, false},
	    {"[mail.example.org]25", NULL, 0, false},
	    {"mail.example.org:", NULL, 0, false},
	    {"mail.example.org:0", NULL, 0, false},
	    {"mail.example.org:65536", NULL, 0, false},
	    {"mail.example.org:25x", NULL, 0, false},
	    {"mail example.org:25", NULL, 0, false},
	    {"user@mail.example.org", NULL, 0, false},
	};
	struct conf_server s;
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (!t[i].host) {
			assert_int_equal(conf_parse_server(t[i].in, &s, &why), -1);
			assert_null(s.host);
			continue;
		}
		assert_int_equal(conf_parse_server(t[i].in, &s, &why), 0);
		assert_string_equal(s.host, t[i].host);
		assert_int_equal(s.port, t[i].port);
		assert_int_equal(s.mx, t[i].mx);
		free(s.host);
	}
}

static const char valid_conf[] =
    "# a complete campus relay\n"
    "hostname = \"Relay.Example.ORG.\"\n"
    "spool = \"/var/spool/mailout-test\"\n"
    "tls { cert = \"/etc/c.pem\" key = \"/etc/k.pem\" min_version = \"TLSv1.3\" }\n"
    "listener smtp { tls = \"none\" }\n"
    "listener smtps { }\n"
    "listener submission { auth = \"optional\" }\n"
    "client campus {\n"
    "    networks = { \"130.83.0.0/16\", \"2001:db8::/32\" }\n"
    "    require_dns = true\n"
    "    relay_domains = { \"Example.org\" }\n"
    "    rate = \"600/h\"\n"
    "}\n"
    "client printers {\n"
    "    networks = { \"130.83.12.34\" }\n"
    "    require_tls = false\n"
    "}\n"
    "limits { message_size = \"10M\" recipients = 5 data_timeout = \"90\" }\n"
    "gateway {\n"
    "    servers = { \"[gw.example.org]\", \"backup.example.org:2525\" }\n"
    "    tls = \"implicit\"\n"
    "    fingerprints = { \"sha256:"
    "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\" }\n"
    "}\n"
    "queue { retry_min = \"1m\" retry_max = \"2h\" postmaster = \"pm@example.org\" }\n";

static void
test_valid_file(void **state)
{
	struct config c;
	const struct conf_listener *l;

	(void)state;
	load_ok(valid_conf, &c);
	assert_string_equal(c.hostname, "relay.example.org");
	assert_string_equal(c.spool, "/var/spool/mailout-test");
	assert_string_equal(c.tls.min_version, "TLSv1.3");
	assert_int_equal(c.n_listeners, 3);
	l = conf_listener(&c, "smtp");
	assert_non_null(l);
	assert_int_equal(l->tls, LISTENER_TLS_NONE);
	assert_int_equal(l->auth, LISTENER_AUTH_OPTIONAL);
	assert_int_equal(l->line, 5);
	l = conf_listener(&c, "smtps");
	assert_non_null(l);
	assert_int_equal(l->tls, LISTENER_TLS_IMPLICIT);
	assert_int_equal(l->auth, LISTENER_AUTH_REQUIRED);
	l = conf_listener(&c, "submission");
	assert_int_equal(l->tls, LISTENER_TLS_STARTTLS);
	assert_int_equal(l->auth, LISTENER_AUTH_OPTIONAL);
	assert_null(conf_listener(&c, "nosuch"));
	assert_int_equal(c.n_clients, 2);
	assert_string_equal(c.clients[0].name, "campus");
	assert_int_equal(c.clients[0].line, 8);
	assert_int_equal(c.clients[0].n_networks, 2);
	assert_true(c.clients[0].require_tls);
	assert_true(c.clients[0].require_dns);
	assert_false(c.clients[0].verify_sender);
	assert_int_equal(c.clients[0].relay_domains.n, 1);
	assert_string_equal(c.clients[0].relay_domains.items[0], "example.org");
	assert_int_equal(c.clients[0].rate_count, 600);
	assert_int_equal(c.clients[0].rate_period, 3600);
	assert_false(c.clients[1].require_tls);
	assert_int_equal(c.clients[1].networks[0].prefix, 128);
	assert_true(c.limits.message_size == 10 * 1024 * 1024);
	assert_int_equal(c.limits.recipients, 5);
	assert_int_equal(c.limits.data_timeout, 90);
	assert_int_equal(c.limits.command_timeout, 300);
	assert_int_equal(c.limits.hops, 100);
	assert_int_equal(c.gateway.tls, GATEWAY_TLS_IMPLICIT);
	assert_int_equal(c.gateway.n_hosts, 2);
	assert_string_equal(c.gateway.hosts[0].host, "gw.example.org");
	assert_int_equal(c.gateway.hosts[0].port, 465);
	assert_false(c.gateway.hosts[0].mx);
	assert_int_equal(c.gateway.hosts[1].port, 2525);
	assert_true(c.gateway.hosts[1].mx);
	assert_int_equal(c.gateway.connections, 4);
	assert_int_equal(c.queue.retry_min, 60);
	assert_int_equal(c.queue.lifetime, 5 * 86400);
	assert_string_equal(c.queue.postmaster, "pm@example.org");
	assert_true(c.content.block_executables);
	assert_int_equal(c.auth.max_failures, 10);
	assert_int_equal(c.auth.failure_window, 900);
	conf_free(&c);
}

static void
test_defaults(void **state)
{
	struct config c;

	(void)state;
	load_ok("", &c);
	assert_string_equal(c.hostname, ""); /* conf_hostname() finds it */
	assert_true(conf_hostname(&c)[0] != '\0');
	assert_int_equal(c.n_listeners, 3);
	assert_int_equal(conf_listener(&c, "smtp")->auth, LISTENER_AUTH_OPTIONAL);
	assert_int_equal(conf_listener(&c, "submission")->auth, LISTENER_AUTH_REQUIRED);
	assert_int_equal(conf_listener(&c, "smtps")->tls, LISTENER_TLS_IMPLICIT);
	assert_int_equal(c.n_clients, 0);
	assert_true(c.limits.message_size == 25 * 1024 * 1024);
	assert_int_equal(c.limits.recipients, 100);
	assert_int_equal(c.limits.command_timeout, 300);
	assert_int_equal(c.limits.data_timeout, 600);
	assert_int_equal(c.limits.errors, 10);
	assert_int_equal(c.limits.pregreet_wait, 0);
	assert_int_equal(c.queue.retry_max, 3600);
	assert_int_equal(c.queue.delay_warning, 4 * 3600);
	assert_int_equal(c.gateway.command_timeout, 300);
	assert_int_equal(c.gateway.tls, GATEWAY_TLS_VERIFY);
	assert_string_equal(c.gateway.ca_file, "/etc/ssl/certs/ca-certificates.crt");
	assert_string_equal(c.tls.min_version, "TLSv1.2");
	assert_int_equal(c.content.executable_action, EXEC_REJECT);
	assert_string_equal(c.resolver.nameserver, "");
	assert_string_equal(c.tls.cert, "");
	conf_free(&c);
}

/* Broken files: the first line of the output must be "FILE:LINE: ..."
 * naming the right line and containing the right words. */
static const struct {
	const char *text;
	int line;
	const char *words;
} bad[] = {
    {"spool = \"/x\"\nfoo = 1\n", 2, "unknown key 'foo'"},
    {"limits {\n\n  bogus = 1\n}\n", 3, "unknown key 'limits.bogus'"},
    {"# c\n# c\nlimits { message_size = \"25X\" }\n", 3, "limits.message_size"},
    {"limits {\n command_timeout = \"5 minutes\"\n}\n", 2, "not a duration"},
    {"limits { recipients = 0 }\n", 1, "between 1 and"},
    {"limits { data_timeout = \"0\" }\n", 1, "more than zero"},
    {"listener smtp {\n tls = \"starttls\"\n auth = \"maybe\"\n}\n", 3, "listener smtp: auth"},
    {"listener smtp { tls = \"ssl\" }\n", 1, "\"starttls\", \"implicit\" or \"none\""},
    {"gateway { tls = \"on\" }\n", 1, "gateway.tls"},
    {"content { executable_action = \"drop\" }\n", 1, "\"reject\" or \"bounce\""},
    {"tls { min_version = \"TLSv1.1\" }\n", 1, "TLSv1.2"},
    {"client a {\n networks = { \"10.0.0.0/8\",\n \"10.0.0.1/8\" }\n}\n", 3, "host bits"},
    {"client a {\n networks = { \"10.0.0.0/33\" }\n}\n", 2, "prefix"},
    {"client a {\n networks = { \"campus\" }\n}\n", 2, "not an IP address"},
    {"client a {\n networks = { \"10.0.0.0/8\" }\n relay_domains = { \"a..b\" }\n}\n", 3,
     "empty label"},
    {"client a {\n networks = { \"10.0.0.0/8\" }\n relay_domains = { \"@example.org\" }\n}\n", 3,
     "'@'"},
    {"client a {\n networks = { \"10.0.0.0/8\" }\n rate = \"600/week\"\n}\n", 3, "not a rate"},
    {"\nclient a {\n require_tls = false\n}\n", 2, "client a: no networks"},
    {"client a {\n networks = { \"10.0.0.0/8\" }\n}\nclient b {\n networks = { \"10.0.0.0/8\" "
     "}\n}\n",
     4, "client b: network 10.0.0.0/8 is also in client a"},
    {"client a { networks = { \"::1/128\" } }\nclient a { networks = { \"::2/128\" } }\n", 2,
     "duplicate"},
    {"client a {\n networks = { \"10.0.0.0/8\" }\n require_tls = perhaps\n}\n", 3, "boolean"},
    {"gateway {\n servers = { \"[gw.example.org]:25\", \"2001:db8::1\" }\n}\n", 2, "brackets"},
    {"gateway {\n servers = { \"gw.example.org:99999\" }\n}\n", 2, "port"},
    {"gateway {\n fingerprints = { \"md5:00\" }\n}\n", 2, "sha256"},
    {"gateway {\n user = \"relay\"\n}\n", 2, "password_file"},
    {"gateway {\n command_timeout = \"0\"\n}\n", 2, "more than zero"},
    {"gateway {\n\n command_timeout = \"16m\"\n}\n", 3, "longer than 15m"},
    {"queue {\n retry_min = \"2h\"\n retry_max = \"1h\"\n}\n", 2, "retry_min"},
    {"queue { postmaster = \"postmaster\" }\n", 1, "not an address"},
    {"spool = \"var/spool\"\n", 1, "absolute"},
    {"hostname = \"relay example.org\"\n", 1, "white space"},
    {"tls {\n cert = \"/etc/c.pem\"\n}\n", 2, "cert and key"},
    {"resolver { nameserver = \"dns.example.org\" }\n", 1, "nameserver"},
    {"auth { sender_patterns = { \"user@example.org\" } }\n", 1, "%u"},
    {"spool = \"${HOME}/spool\"\n", 1, "environment"},
    {"spool = \"/x\"\nlimits {\n", 2, "'{' never closed"},
    {"\nspool = \"/x\n", 2, "string never closed"},
    {"spool = \"/x\" /* comment\n", 1, "comment never closed"},
    {"\n\nspool = \"/x\"\n}\n", 4, "closing brace"},
    {"tls { }\ntls|cert = \"c.pem\"\n", 2, "\"section|key\" is not allowed"},
};

static void
test_bad_files(void **state)
{
	char path[256], prefix[300];
	char *out = NULL;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = check_text(bad[i].text, path, sizeof(path), &out);
		assert_true(snprintf(prefix, sizeof(prefix), "%s:%d: ", path, bad[i].line) <
		            (int)sizeof(prefix));
		if (rc != 78 || strncmp(out, prefix, strlen(prefix)) != 0 ||
		    !strstr(out, bad[i].words))
			fail_msg("case %zu: rc %d, want prefix \"%s\" and \"%s\", got:\n%s", i, rc,
			         prefix, bad[i].words, out);
		free(out);
		out = NULL;
	}
}

/* Every bad value is reported in one run, each with its own line. */
static void
test_all_errors_reported(void **state)
{
	static const char text[] = "limits {\n"
	                           "  message_size = \"big\"\n"
	                           "  recipients = -1\n"
	                           "  command_timeout = \"soon\"\n"
	                           "}\n"
	                           "client a {\n"
	                           "  networks = { \"10.0.0.0/8\", \"300.0.0.0/8\" }\n"
	                           "  relay_domains = { \"ok.example\", \"not ok\" }\n"
	                           "}\n"
	                           "client b {\n"
	                           "  networks = { \"10.0.0.0/8\" }\n"
	                           "}\n";
	static const int lines[] = {2, 3, 4, 7, 8, 10};
	char path[256], want[300];
	char *out = NULL;
	size_t i;

	(void)state;
	assert_int_equal(check_text(text, path, sizeof(path), &out), 78);
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		assert_true(snprintf(want, sizeof(want), "%s:%d: ", path, lines[i]) <
		            (int)sizeof(want));
		if (!strstr(out, want))
			fail_msg("no error at line %d in:\n%s", lines[i], out);
	}
	free(out);
}

static const char notes_text[] = "spool = \"/var/spool/mailout\"\n"
                                 "content {\n"
                                 "  block_executables = true\n"
                                 "  executable_action = \"bounce\"\n"
                                 "}\n"
                                 "client a {\n"
                                 "  networks = { \"10.0.0.0/8\" }\n"
                                 "  rate = \"10/m\"\n"
                                 "  rewrite = true\n"
                                 "}\n"
                                 "rewrite { domain = \"example.org\" }\n"
                                 "gateway {\n"
                                 "  servers = { \"[gw.example.org]:25\" }\n"
                                 "  command_timeout = \"2m\"\n"
                                 "}\n"
                                 "queue { lifetime = \"1d\" }\n";

/* every key is implemented: a config that sets the keys once listed
 * (content, rewrite, client.rewrite) gets no note */
static void
test_check_notes_none(void **state)
{
	char path[256];
	char *out = NULL;

	(void)state;
	assert_null(conf_not_implemented[0]);
	assert_int_equal(check_text(notes_text, path, sizeof(path), &out), 0);
	assert_null(strstr(out, "note:"));
	assert_null(strstr(out, "not implemented"));
	free(out);
}

/* the mechanism, with a table of the test's own: a section entry
 * covers its keys, a key entry its own key, nothing else is noted */
static void
test_check_notes(void **state)
{
	static const char *const fake[] = {"content", "client.rewrite", NULL};
	const char *const *saved = conf_not_implemented;
	char path[256], want[300];
	char *out = NULL;
	int rc;

	(void)state;
	conf_not_implemented = fake;
	rc = check_text(notes_text, path, sizeof(path), &out);
	conf_not_implemented = saved;
	assert_int_equal(rc, 0);
	assert_true(
	    snprintf(want, sizeof(want),
	             "%s:3: note: content.block_executables is accepted but not implemented "
	             "yet\n",
	             path) < (int)sizeof(want));
	assert_non_null(strstr(out, want));
	assert_true(snprintf(want, sizeof(want),
	                     "%s:4: note: content.executable_action is accepted but not "
	                     "implemented yet\n",
	                     path) < (int)sizeof(want));
	assert_non_null(strstr(out, want));
	assert_true(snprintf(want, sizeof(want),
	                     "%s:9: note: client.rewrite is accepted but not implemented yet\n",
	                     path) < (int)sizeof(want));
	assert_non_null(strstr(out, want));
	assert_null(strstr(out, "rewrite.domain is accepted"));
	assert_null(strstr(out, "client.rate is accepted"));
	assert_null(strstr(out, "gateway.servers is accepted"));
	assert_null(strstr(out, "gateway.command_timeout is accepted"));
	assert_null(strstr(out, "queue.lifetime is accepted"));
	assert_null(strstr(out, "spool is accepted"));
	assert_null(strstr(out, "networks is accepted"));
	free(out);
}

static void
test_valid_check_is_silent(void **state)
{
	char path[256];
	char *out = NULL;

	(void)state;
	assert_int_equal(check_text(valid_conf, path, sizeof(path), &out), 0);
	assert_null(strstr(out, "error"));
	assert_null(strstr(out, "note: hostname"));
	free(out);
}

static void
test_example_conf(void **state)
{
	struct config c;
	char *out = NULL;
	size_t outlen;
	FILE *f;

	(void)state;
	/* the tests run from the top of the source tree */
	assert_int_equal(conf_load("conf/mailout.conf", &c, stderr), RES_OK);
	assert_int_equal(c.n_clients, 2);
	assert_string_equal(c.clients[0].name, "campus");
	assert_int_equal(c.clients[1].n_networks, 1);
	assert_int_equal(c.n_listeners, 3);
	assert_int_equal(c.gateway.n_hosts, 2);
	conf_free(&c);
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	assert_int_equal(conf_check("conf/mailout.conf", f), 0);
	assert_int_equal(fclose(f), 0);
	assert_null(strstr(out, "unknown"));
	free(out);
}

static void
test_builtin_default(void **state)
{
	const char *text = conf_builtin_text();
	struct config c;
	struct net_addr a;

	(void)state;
	assert_non_null(strstr(text, "client local"));
	assert_null(strstr(text, "@LOCALSTATEDIR@"));
	assert_int_equal(conf_load_text(text, strlen(text), "(built-in default)", &c, stderr),
	                 RES_OK);
	assert_string_equal(c.file, "(built-in default)");
	assert_int_equal(c.n_clients, 1);
	assert_false(c.clients[0].require_tls);
	assert_int_equal(c.clients[0].n_networks, 2);
	assert_int_equal(net_addr_parse("127.0.0.1", &a), 0);
	assert_true(cidr_contains(&c.clients[0].networks[0], &a));
	assert_int_equal(net_addr_parse("130.83.1.1", &a), 0);
	assert_false(cidr_contains(&c.clients[0].networks[0], &a));
	assert_false(cidr_contains(&c.clients[0].networks[1], &a));
	assert_true(c.clients[0].relay_domains.n > 0);
	assert_int_equal(c.gateway.n_hosts, 1);
	assert_int_equal(c.gateway.tls, GATEWAY_TLS_MAY);
	assert_non_null(conf_listener(&c, "smtp"));
	assert_true(c.spool[0] == '/');
	conf_free(&c);
	/* at the compiled-in path, a missing file means the built-in default */
	if (access(conf_default_path(), F_OK) != 0) {
		assert_int_equal(conf_load(conf_default_path(), &c, stderr), RES_OK);
		assert_string_equal(c.file, "(built-in default)");
		conf_free(&c);
	}
}

static void
test_paths(void **state)
{
	struct config c;
	char path[256];
	char *out = NULL;
	size_t outlen;
	FILE *f;

	(void)state;
	assert_int_equal(unsetenv("MAILOUT_CONFIG"), 0);
	assert_string_equal(conf_path(NULL), conf_default_path());
	assert_non_null(strstr(conf_default_path(), "/mailout/mailout.conf"));
	assert_int_equal(setenv("MAILOUT_CONFIG", "/tmp/from-env.conf", 1), 0);
	assert_string_equal(conf_path(NULL), "/tmp/from-env.conf");
	assert_string_equal(conf_path("/tmp/from-option.conf"), "/tmp/from-option.conf");
	/* conf_load(NULL) reads what MAILOUT_CONFIG names */
	temp_conf("hostname = \"env.example.org\"\n", path, sizeof(path));
	assert_int_equal(setenv("MAILOUT_CONFIG", path, 1), 0);
	assert_int_equal(conf_load(NULL, &c, stderr), RES_OK);
	assert_string_equal(c.hostname, "env.example.org");
	assert_string_equal(c.file, path);
	conf_free(&c);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(unsetenv("MAILOUT_CONFIG"), 0);
	/* a missing file elsewhere is temporary trouble, and exit 78 for --check-config */
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	assert_int_equal(conf_load("/nonexistent/mailout.conf", &c, f), RES_TEMP);
	assert_int_equal(conf_check("/nonexistent/mailout.conf", f), 78);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(out, "/nonexistent/mailout.conf: No such file"));
	free(out);
}

static void
test_odd_input(void **state)
{
	static const char nul[] = "spool = \"/x\"\0junk";
	struct config c;
	char *out = NULL;
	size_t outlen;
	FILE *f;

	(void)state;
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	assert_int_equal(conf_load_text(nul, sizeof(nul) - 1, "t.conf", &c, f), RES_PERM);
	assert_int_equal(conf_load_text("\"", 1, "t.conf", &c, f), RES_PERM);
	assert_int_equal(conf_load_text("spool = \"/a\nb\"", 14, "t.conf", &c, f), RES_PERM);
	assert_int_equal(conf_load_text("{}{}", 4, "t.conf", &c, f), RES_PERM);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(out, "t.conf: contains a NUL byte"));
	assert_non_null(strstr(out, "control character"));
	free(out);
	/* comments of every kind keep the line numbers right */
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	assert_int_equal(conf_load_text("# a\n// b\n/* c\n d */ spool = 'x' # e\n",
	                                strlen("# a\n// b\n/* c\n d */ spool = 'x' # e\n"),
	                                "t.conf", &c, f),
	                 RES_PERM);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(out, "t.conf:4: spool = \"x\": must be an absolute path"));
	free(out);
}

/* The pre-scan hands libconfuse each comment and each run of blanks as
 * one space: two tokens with only a comment between stay two, strings
 * keep every octet (blanks, comment openers), and lines still count right. */
#define PRESCAN_TEXT(recipients)                                                                   \
	"\t  spool   =\t/var/x/* a */state_dir = /run/y# b\n"                                      \
	"blocklist_message = \"a  # b /* c */  d\\\"  e\"\n"                                       \
	"gateway { ca_file = '/u  // v   #w' } queue { postmaster = \"o'brien@example.org\" }\n"   \
	"/* c\n\n */ limits {   /* d\n */\n"                                                       \
	"\t\trecipients = " recipients " }\n"

static void
test_prescan_compacts(void **state)
{
	static const char bad_text[] = PRESCAN_TEXT("0"), ok_text[] = PRESCAN_TEXT("7");
	struct config c;
	char *out = NULL;
	size_t outlen;
	FILE *f;

	(void)state;
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	assert_int_equal(conf_load_text(bad_text, strlen(bad_text), "t.conf", &c, f), RES_PERM);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(out, "t.conf:8: limits.recipients = 0"));
	free(out);
	assert_int_equal(conf_load_text(ok_text, strlen(ok_text), "t.conf", &c, stderr), RES_OK);
	assert_string_equal(c.spool, "/var/x");
	assert_string_equal(c.state_dir, "/run/y");
	assert_string_equal(c.blocklist_message, "a  # b /* c */  d\"  e");
	assert_string_equal(c.gateway.ca_file, "/u  // v   #w");
	assert_string_equal(c.queue.postmaster, "o'brien@example.org");
	assert_int_equal(c.limits.recipients, 7);
	conf_free(&c);
}

/* A section given twice is one section: the second adds to the first
 * (libconfuse makes no defaults, conf_build reads them from the schema,
 * so a second "tls {" must not reset what the first set), and what
 * neither sets keeps its default. */
static void
test_sections_twice(void **state)
{
	static const char text[] = "tls { cert = \"/a.pem\" }\n"
	                           "hostname = \"h.example.org\"\n"
	                           "tls { key = \"/a.key\" }\n"
	                           "limits { recipients = 5 }\n"
	                           "limits { errors = 3 recipients = 7 }\n"
	                           "gateway { servers = { \"[a.example]:25\" } }\n"
	                           "gateway { servers += { \"[b.example]:26\" } tls = \"none\" }\n"
	                           "client b { networks = { \"::1\" } networks += { \"::2\" } }\n";
	struct config c;

	(void)state;
	assert_int_equal(conf_load_text(text, strlen(text), "t.conf", &c, stderr), RES_OK);
	assert_string_equal(c.tls.cert, "/a.pem");
	assert_string_equal(c.tls.key, "/a.key");
	assert_string_equal(c.tls.min_version, "TLSv1.2");
	assert_int_equal(c.limits.recipients, 7);
	assert_int_equal(c.limits.errors, 3);
	assert_int_equal(c.limits.hops, 100);
	assert_int_equal(c.limits.data_timeout, 600);
	assert_int_equal(c.gateway.n_hosts, 2);
	assert_int_equal(c.gateway.hosts[1].port, 26);
	assert_int_equal(c.gateway.tls, GATEWAY_TLS_NONE);
	assert_int_equal(c.gateway.connections, 4);
	assert_string_equal(c.gateway.ca_file, "/etc/ssl/certs/ca-certificates.crt");
	assert_int_equal(c.clients[0].n_networks, 2);
	assert_true(c.clients[0].require_tls);
	assert_int_equal(c.clients[0].rate_count, 0);
	conf_free(&c);
}

/* Every later place of a network is reported, in the file's order, with
 * the class where it was first; a class may repeat its own network. */
static void
test_duplicate_networks(void **state)
{
	static const char text[] =
	    "client a { networks = { \"10.0.0.0/8\", \"10.1.0.0/16\" } }\n"
	    "client b { networks = { \"10.1.0.0/16\", \"10.0.0.0/8\", \"::1\", \"10.0.0.0/8\" } }\n"
	    "client c { networks = { \"::1/128\", \"10.0.0.0/9\", \"::1\" } }\n";
	static const char *const want[] = {
	    "t.conf:2: client b: network 10.1.0.0/16 is also in client a\n",
	    "t.conf:2: client b: network 10.0.0.0/8 is also in client a\n",
	    "t.conf:2: client b: network 10.0.0.0/8 is also in client a\n",
	    "t.conf:3: client c: network ::1/128 is also in client b\n",
	    "t.conf:3: client c: network ::1/128 is also in client b\n",
	};
	struct config c;
	char *out = NULL;
	const char *p;
	size_t outlen, i;
	FILE *f;

	(void)state;
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	assert_int_equal(conf_load_text(text, strlen(text), "t.conf", &c, f), RES_PERM);
	assert_int_equal(fclose(f), 0);
	for (p = out, i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (strncmp(p, want[i], strlen(want[i])) != 0)
			fail_msg("report %zu: want \"%s\", got:\n%s", i, want[i], out);
		p += strlen(want[i]);
	}
	assert_string_equal(p, "");
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_durations),
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_rates),
	    cmocka_unit_test(test_domains),
	    cmocka_unit_test(test_servers),
	    cmocka_unit_test(test_valid_file),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_bad_files),
	    cmocka_unit_test(test_all_errors_reported),
	    cmocka_unit_test(test_check_notes_none),
	    cmocka_unit_test(test_check_notes),
	    cmocka_unit_test(test_valid_check_is_silent),
	    cmocka_unit_test(test_example_conf),
	    cmocka_unit_test(test_builtin_default),
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_odd_input),
	    cmocka_unit_test(test_prescan_compacts),
	    cmocka_unit_test(test_sections_twice),
	    cmocka_unit_test(test_duplicate_networks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
