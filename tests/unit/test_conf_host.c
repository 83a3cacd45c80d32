/*
 * test_conf_host.c - unit tests for conf_hostname() (conf/conf_host.c)
 *
 * The host's own name is looked for only when a program first asks for
 * it, never by loading the config, and only once per process.  This
 * program stands in for gethostname(2) to count the calls and to give
 * a name with dots (so the resolver is never asked: nothing leaves the
 * machine).  Must never depend on the real host's name.
 */
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "conf.h"

static unsigned gethostname_calls;

/* gethostname - this program's stand-in for the system's */
int
gethostname(char *name, size_t len)
{
	gethostname_calls++;
	return bounded_copy(name, len, "Relay.Example.TEST.") < 0 ? -1 : 0;
}

/* load - the config text, which must be valid */
static void
load(const char *text, struct config *c)
{
	assert_int_equal(conf_load_text(text, strlen(text), "test", c, stderr), RES_OK);
}

static void
test_set_is_used_as_is(void **state)
{
	struct config c;

	(void)state;
	load("hostname = \"MX.Example.ORG.\"\n", &c);
	assert_string_equal(conf_hostname(&c), "mx.example.org");
	assert_int_equal(gethostname_calls, 0);
	conf_free(&c);
}

static void
test_unset_found_on_first_use_once(void **state)
{
	struct config c;

	(void)state;
	load("", &c);
	/* loading the config does not look for the name */
	assert_string_equal(c.hostname, "");
	assert_int_equal(gethostname_calls, 0);
	/* the first use does, made a valid domain as a set one would be */
	assert_string_equal(conf_hostname(&c), "relay.example.test");
	assert_int_equal(gethostname_calls, 1);
	assert_string_equal(conf_hostname(&c), "relay.example.test");
	conf_free(&c);
	/* and it is kept for the process, whatever is loaded next */
	load("spool = \"/var/spool/elsewhere\"\n", &c);
	assert_string_equal(conf_hostname(&c), "relay.example.test");
	assert_int_equal(gethostname_calls, 1);
	conf_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_set_is_used_as_is),
	    cmocka_unit_test(test_unset_found_on_first_use_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
