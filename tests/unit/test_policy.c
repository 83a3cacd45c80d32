/*
 * test_policy.c - the receiver's policy: client classes by longest
 * prefix (IPv4, IPv6, IPv4-mapped), TLS and AUTH before MAIL, and the
 * relay table, including every relay trick
 *
 * The configuration is built by hand, so these tests do not depend on
 * the config loader.  Must never touch the network or the file system.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <cmocka.h>

#include "smtpd_explain.h"
#include "smtpd_policy.h"
#include "smtpd_policy_int.h"

#define MAX_NETS 4

struct fixture {
	struct config cfg;
	struct conf_client clients[4];
	struct cidr nets[4][MAX_NETS];
	struct conf_listener listeners[2];
};

static char *example_org[] = {"example.org"};
static char *lab_domains[] = {"lab.example.net", "example.com"};

/* add_class - a client class with its networks */
static void
add_class(struct fixture *f, const char *name, int line, bool tls, char **relay, size_t nrelay,
          const char *const *nets)
{
	struct conf_client *cl = &f->clients[f->cfg.n_clients];
	const char *why;
	size_t i;

	memset(cl, 0, sizeof(*cl));
	cl->name = (char *)name;
	cl->line = line;
	cl->require_tls = tls;
	cl->relay_domains.items = relay;
	cl->relay_domains.n = nrelay;
	cl->networks = f->nets[f->cfg.n_clients];
	for (i = 0; nets[i]; i++) {
		assert_true(i < MAX_NETS);
		if (cidr_parse(nets[i], &cl->networks[i], &why) < 0)
			fail_msg("%s: %s", nets[i], why);
	}
	cl->n_networks = i;
	f->cfg.n_clients++;
}

static int
setup(void **state)
{
	static struct fixture f;
	static const char *const campus[] = {"130.83.0.0/16", "2001:db8::/32", NULL};
	static const char *const printers[] = {"130.83.12.34/32", NULL};
	static const char *const lab[] = {"130.83.12.0/24", "2001:db8:1::/48", NULL};
	static const char *const closed[] = {"130.83.99.0/24", NULL};

	memset(&f, 0, sizeof(f));
	f.cfg.file = (char *)"test.conf";
	f.cfg.clients = f.clients;
	add_class(&f, "campus", 10, true, example_org, 1, campus);
	add_class(&f, "legacy-printers", 20, false, example_org, 1, printers);
	add_class(&f, "lab", 30, false, lab_domains, 2, lab);
	add_class(&f, "closed", 40, false, NULL, 0, closed);
	f.listeners[0] = (struct conf_listener){(char *)"smtp", LISTENER_TLS_STARTTLS,
	                                        LISTENER_AUTH_OPTIONAL, 1};
	f.listeners[1] = (struct conf_listener){(char *)"submission", LISTENER_TLS_STARTTLS,
	                                        LISTENER_AUTH_REQUIRED, 2};
	f.cfg.listeners = f.listeners;
	f.cfg.n_listeners = 2;
	*state = &f;
	return 0;
}

/* client - a policy_client from an address string, connected */
static enum result
client(struct fixture *f, int listener, const char *ip, struct policy_client *c, struct reply *r)
{
	struct net_addr a;

	assert_int_equal(net_addr_parse(ip, &a), 0);
	policy_client_init(c, &f->cfg, &f->listeners[listener], &a);
	return policy_connect(c, r);
}

/* addr - parse a path that must be valid */
static struct mail_addr
addr(const char *path)
{
	struct mail_addr a;
	struct reply r;

	if (addr_parse_path(path, strlen(path), &a, NULL, &r) != RES_OK)
		fail_msg("%s: %s", path, r.text);
	return a;
}

/* expect - the formatted reply starts with want ("550 5.7.1") */
static void
expect(const struct reply *r, const char *want)
{
	char line[REPLY_TEXT_MAX + 32];

	assert_int_equal(reply_format(r, line, sizeof(line)), 0);
	if (strncmp(line, want, strlen(want)) != 0)
		fail_msg("got \"%s\", want \"%s...\"", line, want);
}

struct class_case {
	const char *ip, *class, *net;
};

static const struct class_case classes[] = {
    {"130.83.1.2", "campus", "130.83.0.0/16"},
    {"130.83.12.34", "legacy-printers", "130.83.12.34/32"},
    {"::ffff:130.83.12.34", "legacy-printers", "130.83.12.34/32"},
    {"130.83.12.35", "lab", "130.83.12.0/24"},
    {"::ffff:130.83.12.1", "lab", "130.83.12.0/24"},
    {"130.83.255.255", "campus", "130.83.0.0/16"},
    {"2001:db8::25", "campus", "2001:db8::/32"},
    {"2001:db8:1::25", "lab", "2001:db8:1::/48"},
    {"2001:db8:2::25", "campus", "2001:db8::/32"},
};

static void
test_longest_prefix(void **state)
{
	struct fixture *f = *state;
	struct policy_client c;
	struct reply r;
	char net[64];
	size_t i;

	for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		assert_int_equal(client(f, 0, classes[i].ip, &c, &r), RES_OK);
		assert_non_null(c.class);
		if (strcmp(c.class->name, classes[i].class) != 0)
			fail_msg("%s: class %s, want %s", classes[i].ip, c.class->name,
			         classes[i].class);
		cidr_format(c.matched, net, sizeof(net));
		assert_string_equal(net, classes[i].net);
		assert_int_equal(r.code, 220);
	}
}

static void
test_no_class(void **state)
{
	static const char *const outside[] = {"10.1.2.3", "130.84.0.1", "::1", "2001:db9::1",
	                                      "::130.83.1.2"};
	struct fixture *f = *state;
	struct policy_client c;
	struct reply r;
	size_t i;

	for (i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		assert_int_equal(client(f, 0, outside[i], &c, &r), RES_PERM);
		expect(&r, "554 5.7.1 Client ");
		assert_non_null(strstr(r.text, outside[i]));
		assert_non_null(strstr(r.text, "client class"));
		assert_null(c.class);
	}
}

static void
test_require_tls(void **state)
{
	struct fixture *f = *state;
	struct mail_addr from = addr("<cron@example.org>");
	struct policy_client c;
	struct reply r;

	assert_int_equal(client(f, 0, "130.83.1.2", &c, &r), RES_OK);
	assert_int_equal(policy_mail(&c, &from, &r), RES_PERM);
	expect(&r, "530 5.7.0 Must issue a STARTTLS command first");
	c.tls = true;
	assert_int_equal(policy_mail(&c, &from, &r), RES_OK);
	expect(&r, "250 2.1.0");
	/* a legacy printer in the same /16 need not */
	assert_int_equal(client(f, 0, "130.83.12.34", &c, &r), RES_OK);
	assert_int_equal(policy_mail(&c, &from, &r), RES_OK);
	expect(&r, "250 2.1.0");
}

#define OK_RCPT "250 2.1.5"
#define DENIED "550 5.7.1 Relay access denied"

struct relay_case {
	const char *rcpt;
	const char *want; /* a client in class legacy-printers */
	const char *want_auth; /* an authenticated user */
};

static const struct relay_case relay_table[] = {
    {"<a@example.org>", OK_RCPT, OK_RCPT},
    {"<a@sub.example.org>", OK_RCPT, OK_RCPT},
    {"<a@A.Deep.Sub.EXAMPLE.ORG>", OK_RCPT, OK_RCPT},
    {"<\"a b\"@example.org>", OK_RCPT, OK_RCPT},
    {"<a@evil-example.org>", DENIED, OK_RCPT},
    {"<a@example.org.evil.net>", DENIED, OK_RCPT},
    {"<a@example.net>", DENIED, OK_RCPT},
    /* relay tricks: refused for everyone */
    {"<a%b@example.org>", DENIED, DENIED},
    {"<@x,@y:a@example.org>", DENIED, DENIED},
    {"<@relay.example.org:a@example.org>", DENIED, DENIED},
    {"<\"a@b\"@example.org>", DENIED, DENIED},
    {"<\"a%b\"@example.org>", DENIED, DENIED},
    {"<a@[130.83.1.1]>", DENIED, DENIED},
    {"<a@[IPv6:2001:db8::1]>", DENIED, DENIED},
    {"<a!b@example.org>", DENIED, DENIED},
    {"<postmaster>", DENIED, DENIED},
};

/* run_relay_table - every case against one connected client */
static void
run_relay_table(struct policy_client *c, bool auth)
{
	struct mail_addr from = addr("<printer@example.org>");
	struct mail_addr to;
	struct reply r;
	size_t i;

	for (i = 0; i < sizeof(relay_table) / sizeof(relay_table[0]); i++) {
		const char *want = auth ? relay_table[i].want_auth : relay_table[i].want;
		enum result res;

		to = addr(relay_table[i].rcpt);
		memset(&r, 0, sizeof(r));
		res = policy_rcpt(c, &from, &to, &r);
		if (res != (want[0] == '2' ? RES_OK : RES_PERM) || res != reply_result(&r))
			fail_msg("%s: result %d, code %d", relay_table[i].rcpt, res, r.code);
		expect(&r, want);
	}
}

static void
test_relay_table(void **state)
{
	struct fixture *f = *state;
	struct policy_client c;
	struct reply r;

	assert_int_equal(client(f, 0, "130.83.12.34", &c, &r), RES_OK);
	run_relay_table(&c, false);
	/* the refusal names the domains and the class to change */
	{
		struct mail_addr from = addr("<p@example.org>"), to = addr("<x@evil-example.org>");

		assert_int_equal(policy_rcpt(&c, &from, &to, &r), RES_PERM);
		assert_non_null(strstr(r.text, "x@evil-example.org"));
		assert_non_null(strstr(r.text, "(example.org)"));
		assert_non_null(strstr(r.text, "legacy-printers"));
	}
}

static void
test_authenticated(void **state)
{
	struct fixture *f = *state;
	struct mail_addr from = addr("<alice@example.org>");
	struct policy_client c;
	struct reply r;

	/* submission: any address may connect, nothing before AUTH */
	assert_int_equal(client(f, 1, "10.9.8.7", &c, &r), RES_OK);
	assert_null(c.class);
	assert_int_equal(policy_mail(&c, &from, &r), RES_PERM);
	expect(&r, "530 5.7.0 Authentication required");
	assert_non_null(strstr(r.text, "STARTTLS"));
	c.tls = true;
	assert_int_equal(policy_mail(&c, &from, &r), RES_PERM);
	expect(&r, "530 5.7.0 Authentication required");
	c.auth_user = "alice";
	assert_int_equal(policy_mail(&c, &from, &r), RES_OK);
	run_relay_table(&c, true);
	/* a campus client that authenticated on port 25 may relay too */
	assert_int_equal(client(f, 0, "130.83.12.34", &c, &r), RES_OK);
	c.tls = true;
	c.auth_user = "alice";
	run_relay_table(&c, true);
}

static void
test_other_classes(void **state)
{
	struct fixture *f = *state;
	struct mail_addr from = addr("<lab@lab.example.net>");
	struct mail_addr ok = addr("<x@example.com>"), bad = addr("<x@example.org>");
	struct policy_client c;
	struct reply r;

	assert_int_equal(client(f, 0, "130.83.12.200", &c, &r), RES_OK);
	assert_int_equal(policy_rcpt(&c, &from, &ok, &r), RES_OK);
	assert_int_equal(policy_rcpt(&c, &from, &bad, &r), RES_PERM);
	assert_non_null(strstr(r.text, "(lab.example.net, example.com)"));
	/* a class without relay_domains relays nowhere */
	assert_int_equal(client(f, 0, "130.83.99.1", &c, &r), RES_OK);
	assert_int_equal(policy_rcpt(&c, &from, &ok, &r), RES_PERM);
	expect(&r, "550 5.7.1");
	assert_non_null(strstr(r.text, "(none)"));
}

static void
test_senders(void **state)
{
	struct fixture *f = *state;
	struct mail_addr null = addr("<>"), pm = addr("<postmaster>");
	struct mail_addr routed = addr("<@a.example:bounce@example.org>");
	struct policy_client c;
	struct reply r;

	assert_int_equal(client(f, 0, "130.83.12.34", &c, &r), RES_OK);
	assert_int_equal(policy_mail(&c, &null, &r), RES_OK);
	assert_int_equal(policy_mail(&c, &routed, &r), RES_OK);
	assert_int_equal(policy_mail(&c, &pm, &r), RES_PERM);
	expect(&r, "501 5.1.7");
	/* <> is never a recipient */
	assert_int_equal(policy_rcpt(&c, &pm, &null, &r), RES_PERM);
	expect(&r, "501 5.1.3");
}

static void
test_explanation(void **state)
{
	struct fixture *f = *state;
	struct mail_addr from = addr("<p@example.org>"), to = addr("<a@sub.example.org>");
	struct buf why = BUF_INIT(4096);
	struct policy_client c;
	struct reply r;

	assert_int_equal(client(f, 0, "130.83.12.34", &c, &r), RES_OK);
	c.why = &why;
	assert_int_equal(policy_connect(&c, &r), RES_OK);
	assert_string_equal(buf_cstr(&why),
	                    "class legacy-printers (test.conf:20), network 130.83.12.34/32");
	buf_reset(&why);
	assert_int_equal(policy_mail(&c, &from, &r), RES_OK);
	assert_string_equal(buf_cstr(&why),
	                    "TLS not required by class legacy-printers (test.conf:20)");
	buf_reset(&why);
	assert_int_equal(policy_rcpt(&c, &from, &to, &r), RES_OK);
	assert_non_null(strstr(buf_cstr(&why), "sub.example.org in relay_domains (example.org)"));
	buf_free(&why);
}

/* explain - run --explain with argv into a string; returns the exit code */
static int
explain(struct fixture *f, char **argv, char **text)
{
	size_t len = 0;
	FILE *out;
	int argc, rc;

	for (argc = 0; argv[argc]; argc++)
		;
	*text = NULL;
	out = open_memstream(text, &len);
	assert_non_null(out);
	rc = explain_run(argc, argv, &f->cfg, out);
	assert_int_equal(fclose(out), 0);
	return rc;
}

/* has - the report contains this text */
static void
has(const char *text, const char *want)
{
	if (!strstr(text, want))
		fail_msg("report lacks \"%s\":\n%s", want, text);
}

static void
test_explain_printer(void **state)
{
	char *argv[] = {"mailout-smtpd", "--explain",           "130.83.12.34",
	                "--from",        "printer@example.org", "--rcpt",
	                "a@example.org", "<b@sub.example.org>", NULL};
	char *text;

	assert_int_equal(explain(*state, argv, &text), EX_OK);
	has(text, "connect   client 130.83.12.34: class legacy-printers (test.conf:20), network "
	          "130.83.12.34/32 -> 220 accepted\n");
	has(text, "mail      <printer@example.org>: TLS not required by class legacy-printers "
	          "(test.conf:20) -> 250 2.1.0 Ok\n");
	has(text, "rcpt      <a@example.org>: example.org in relay_domains (example.org) of class "
	          "legacy-printers (test.conf:20) -> 250 2.1.5 Ok\n");
	has(text, "rcpt      <b@sub.example.org>: sub.example.org in relay_domains");
	free(text);
}

static void
test_explain_refusals(void **state)
{
	struct fixture *f = *state;
	char *outside[] = {"x",  "--explain", "10.1.2.3",      "--from",
	                   "<>", "--rcpt",    "a@example.org", NULL};
	char *notls[] = {"x",      "--explain",     "130.83.1.2", "--from", "a@example.org",
	                 "--rcpt", "a@example.org", NULL};
	char *relay[] = {"x",      "--explain",       "130.83.1.2",    "--tls",
	                 "--from", "<a@example.org>", "--rcpt",        "a@example.org",
	                 "--rcpt", "a%b@example.org", "x@example.net", NULL};
	char *text;

	assert_int_equal(explain(f, outside, &text), EX_UNAVAILABLE);
	has(text, "connect   client 10.1.2.3: in no client class");
	has(text, "-> 554 5.7.1 Client 10.1.2.3 is not in a campus network");
	assert_null(strstr(text, "rcpt "));
	free(text);
	assert_int_equal(explain(f, notls, &text), EX_UNAVAILABLE);
	has(text, "class campus (test.conf:10) requires TLS, session is not in TLS -> 530 5.7.0");
	free(text);
	assert_int_equal(explain(f, relay, &text), EX_UNAVAILABLE);
	has(text, "rcpt      <a@example.org>: example.org in relay_domains");
	has(text, "rcpt      <a%b@example.org>: recipient uses a %-hack");
	has(text, "-> 550 5.7.1 Relay access denied: recipient <a%b@example.org> was given with a "
	          "%-hack");
	has(text, "rcpt      <x@example.net>: example.net not in relay_domains of class campus "
	          "(test.conf:10) (example.org) -> 550 5.7.1");
	free(text);
}

static void
test_explain_auth_and_limits(void **state)
{
	struct fixture *f = *state;
	char *sub[] = {"x",          "-c",
	               "some.conf",  "-l",
	               "submission", "--explain",
	               "10.9.8.7",   "--tls",
	               "--auth",     "alice",
	               "--from",     "alice@example.org",
	               "--rcpt",     "bob@example.net",
	               NULL};
	char *plain[] = {
	    "x",     "-l",     "submission",        "--explain", "10.9.8.7",        "--auth",
	    "alice", "--from", "alice@example.org", "--rcpt",    "bob@example.net", NULL};
	char *many[] = {"x",      "--explain",     "130.83.12.34",  "--from", "p@example.org",
	                "--rcpt", "a@example.org", "b@example.org", NULL};
	char *text;

	assert_int_equal(explain(f, sub, &text), EX_OK);
	has(text, "listener submission requires AUTH");
	has(text, "authenticated as alice: any domain -> 250 2.1.5 Ok");
	free(text);
	assert_int_equal(explain(f, plain, &text), EX_UNAVAILABLE);
	has(text, "auth      alice: AUTH outside TLS (add --tls) -> 538 5.7.11");
	has(text, "-> 530 5.7.0 Authentication required");
	free(text);
	f->cfg.limits.recipients = 1;
	assert_int_equal(explain(f, many, &text), EX_TEMPFAIL);
	has(text, "rcpt      <b@example.org>: more than limits.recipients = 1");
	has(text, "-> 452 4.5.3 Too many recipients");
	free(text);
}

static void
test_explain_usage(void **state)
{
	struct fixture *f = *state;
	char *noip[] = {"x", "--explain", NULL};
	char *norcpt[] = {"x", "--explain", "130.83.1.2", "--from", "a@example.org", NULL};
	char *badip[] = {"x", "--explain", "130.83.1", "--from", "a@b", "--rcpt", "a@b", NULL};
	char *badopt[] = {"x", "--explain", "130.83.1.2", "--frm", "a@b", "--rcpt", "a@b", NULL};
	char *nolistener[] = {"x",      "-l",  "nope",   "--explain", "130.83.1.2",
	                      "--from", "a@b", "--rcpt", "a@b",       NULL};
	char *badaddr[] = {"x",
	                   "--explain",
	                   "130.83.12.34",
	                   "--from",
	                   "a@example.org",
	                   "--rcpt",
	                   "a b@example.org",
	                   NULL};
	char *text;

	assert_int_equal(explain(f, noip, &text), EX_USAGE);
	free(text);
	assert_int_equal(explain(f, norcpt, &text), EX_USAGE);
	free(text);
	assert_int_equal(explain(f, badip, &text), EX_USAGE);
	free(text);
	assert_int_equal(explain(f, badopt, &text), EX_USAGE);
	free(text);
	assert_int_equal(explain(f, nolistener, &text), EX_USAGE);
	free(text);
	assert_int_equal(explain(f, badaddr, &text), EX_UNAVAILABLE);
	has(text, "address syntax -> 501 5.1.3 Bad address syntax");
	free(text);
}

struct from_case {
	const char *value;
	size_t n;
	const char *addr0, *domain0, *domain1;
};

/* From: values (RFC 5322 3.4) and the addresses policy_data_end checks */
static const struct from_case from_cases[] = {
    {"printer@example.org", 1, "printer@example.org", "example.org", NULL},
    {"Printer 3 <printer@Lab.Example.ORG>", 1, "printer@Lab.Example.ORG", "lab.example.org", NULL},
    {"\"Doe, John\" <john@example.org>", 1, "john@example.org", "example.org", NULL},
    {"john@example.org (John Doe)", 1, "john@example.org", "example.org", NULL},
    {"(comment (nested) ) <a@b.example> (after)", 1, "a@b.example", "b.example", NULL},
    {"a@x.example, B <b@y.example>", 2, "a@x.example", "x.example", "y.example"},
    {"Team: a@x.example, b@y.example;", 2, "a@x.example", "x.example", "y.example"},
    {"undisclosed-recipients:;", 0, NULL, NULL, NULL},
    {"<@relay.example:user@z.example>", 1, "user@z.example", "z.example", NULL},
    {"\"quoted@at\"@q.example", 1, "\"quoted@at\"@q.example", "q.example", NULL},
    {"root", 1, "root", "", NULL},
    {"a@example.org.", 1, "a@example.org.", "example.org", NULL},
    {"", 0, NULL, NULL, NULL},
    {"<a@b.example> trailing", 0, NULL, NULL, NULL}, /* junk after <...>: refused */
};

static void
test_from_parse(void **state)
{
	struct from_addrs fa;
	char many[2048];
	size_t i, used = 0;

	(void)state;
	for (i = 0; i < sizeof(from_cases) / sizeof(from_cases[0]); i++) {
		const struct from_case *c = &from_cases[i];

		policy_from_parse(c->value, &fa);
		if (fa.n != c->n)
			fail_msg("%s: %zu addresses, want %zu", c->value, fa.n, c->n);
		if (c->addr0)
			assert_string_equal(fa.addr[0], c->addr0);
		if (c->domain0)
			assert_string_equal(fa.domain[0], c->domain0);
		if (c->domain1)
			assert_string_equal(fa.domain[1], c->domain1);
	}
	policy_from_parse(NULL, &fa);
	assert_int_equal(fa.n, 0);
	for (i = 0; i < 20; i++)
		used +=
		    (size_t)snprintf(many + used, sizeof(many) - used, "u%zu@d%zu.example, ", i, i);
	policy_from_parse(many, &fa);
	assert_int_equal(fa.n, FROM_ADDRS_MAX);
	assert_true(fa.more);
	/* unbalanced everything: bounded, no crash */
	policy_from_parse("((((((\"<<<<@@@,,,;;;:::", &fa);
	assert_true(fa.n <= FROM_ADDRS_MAX);
}

static char *own_domains[] = {"example.org"};

/* sender_domains at MAIL and on the From: header; no DNS asked */
static void
test_sender_domains(void **state)
{
	struct fixture *f = *state;
	struct policy_client c;
	struct mail_addr from;
	struct reply r;

	f->clients[2].sender_domains.items = own_domains; /* class lab */
	f->clients[2].sender_domains.n = 1;
	assert_int_equal(client(f, 0, "130.83.12.35", &c, &r), RES_OK);
	from = addr("<scanner@lab.example.org>");
	assert_int_equal(policy_mail(&c, &from, &r), RES_OK);
	from = addr("<scanner@evil-example.org>");
	assert_int_equal(policy_mail(&c, &from, &r), RES_PERM);
	expect(&r, "553 5.7.1");
	assert_non_null(strstr(r.text, "example.org"));
	from = addr("<>");
	assert_int_equal(policy_mail(&c, &from, &r), RES_OK);
	assert_int_equal(policy_data_end(&c, "Scanner <scanner@example.org>", &r), RES_OK);
	expect(&r, "250 2.0.0");
	assert_int_equal(policy_data_end(&c, "a@example.org, b@example.net", &r), RES_PERM);
	expect(&r, "550 5.7.1");
	assert_non_null(strstr(r.text, "b@example.net"));
	assert_int_equal(policy_data_end(&c, NULL, &r), RES_OK);
	/* authenticated users are bound by their own sender rules */
	c.auth_user = "alice";
	from = addr("<alice@example.net>");
	assert_int_equal(policy_mail(&c, &from, &r), RES_OK);
	/* a class without sender rules checks nothing at end of DATA */
	assert_int_equal(client(f, 0, "130.83.1.2", &c, &r), RES_OK);
	assert_int_equal(policy_data_end(&c, "x@anywhere.example", &r), RES_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_longest_prefix, setup),
	    cmocka_unit_test_setup(test_no_class, setup),
	    cmocka_unit_test_setup(test_require_tls, setup),
	    cmocka_unit_test_setup(test_relay_table, setup),
	    cmocka_unit_test_setup(test_authenticated, setup),
	    cmocka_unit_test_setup(test_other_classes, setup),
	    cmocka_unit_test_setup(test_senders, setup),
	    cmocka_unit_test_setup(test_explanation, setup),
	    cmocka_unit_test_setup(test_explain_printer, setup),
	    cmocka_unit_test_setup(test_explain_refusals, setup),
	    cmocka_unit_test_setup(test_explain_auth_and_limits, setup),
	    cmocka_unit_test_setup(test_explain_usage, setup),
	    cmocka_unit_test(test_from_parse),
	    cmocka_unit_test_setup(test_sender_domains, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
