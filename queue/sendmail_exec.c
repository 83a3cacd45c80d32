/*
 * sendmail_exec.c - the context of an injection, and the modes that are
 * other programs (-bp, -q, -bs)
 *
 * What it is for: who is injecting (uid, login name, full name), under
 * which host names, with which rewrite rules; and running mailout-spool
 * list for -bp/mailq, mailout-deliver --flush for -q, and mailout-smtpd
 * on stdin/stdout for -bs.  Sibling programs are looked for next to
 * this executable first (so a build tree or a relocated install works),
 * then in the compiled-in SBINDIR.
 * What it must never do: run anything named by the environment when it
 * runs set-id (secure_getenv), or pretend -bs comes from the network:
 * local SMTP is client 127.0.0.1 on listener "local" when the config
 * has one, else on "smtp", and the class covering 127.0.0.1 applies.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "sendmail.h"
#include "conf.h"
#include "log.h"

#ifndef MAILOUT_SBINDIR
#define MAILOUT_SBINDIR "/usr/local/sbin"
#endif

int
sm_program(const char *name, char *out, size_t outsize)
{
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			if (bounded_format(out, outsize, "%s/%s", self, name) == 0 &&
			    access(out, X_OK) == 0)
				return 0;
		}
	}
	return bounded_format(out, outsize, "%s/%s", MAILOUT_SBINDIR, name);
}

/* config_error - a value the context cannot use */
static int
config_error(const char *what)
{
	log_warn("configuration: %s", what);
	return EX_CONFIG;
}

/* local_part_ok - a login name usable as a local part as it is */
static bool
local_part_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= ADDR_LOCAL_MAX && strpbrk(s, " \t\"()<>@,;:\\[]") == NULL;
}

/* who - the invoking user: uid, login name, full name (gecos) */
static void
who(struct sm_context *c)
{
	struct passwd *pw;
	size_t n;

	c->uid = (unsigned long)getuid();
	c->user[0] = c->gecos[0] = '\0';
	if ((pw = getpwuid(getuid())) == NULL)
		return;
	if (local_part_ok(pw->pw_name))
		(void)bounded_copy(c->user, sizeof(c->user), pw->pw_name);
	if (pw->pw_gecos) {
		n = strcspn(pw->pw_gecos, ",");
		if (n < sizeof(c->gecos)) {
			memcpy(c->gecos, pw->pw_gecos, n);
			c->gecos[n] = '\0';
		}
	}
}

/* system_fqdn - gethostname, made canonical through the resolver */
static void
system_fqdn(char *out, size_t outsize)
{
	struct addrinfo hints, *ai = NULL;

	if (gethostname(out, outsize) < 0) {
		(void)bounded_copy(out, outsize, "localhost");
		return;
	}
	out[outsize - 1] = '\0';
	if (strchr(out, '.') != NULL)
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_CANONNAME;
	if (getaddrinfo(out, NULL, &hints, &ai) == 0 && ai && ai->ai_canonname)
		(void)bounded_copy(out, outsize, ai->ai_canonname);
	if (ai)
		freeaddrinfo(ai);
}

int
sm_context_init(struct sm_context *c, const struct sm_opts *o, const struct config *cfg)
{
	char sys[ADDR_DOMAIN_MAX + 1];
	const char *q;

	memset(c, 0, sizeof(*c));
	c->opts = o;
	c->config = o->config;
	who(c);
	system_fqdn(sys, sizeof(sys));
	if (bounded_copy(c->hostname, sizeof(c->hostname), conf_hostname(cfg)) < 0)
		return config_error("hostname too long");
	rewrite_init(&c->rw);
	if (rewrite_set_domain(&c->rw, cfg->rewrite.domain && cfg->rewrite.domain[0]
	                                   ? cfg->rewrite.domain
	                                   : c->hostname) < 0)
		return config_error("rewrite domain too long");
	(void)rewrite_add_host(&c->rw, c->hostname);
	(void)rewrite_add_host(&c->rw, sys);
	if (rewrite_map_load(&c->rw, cfg->rewrite.map, stderr) != RES_OK)
		return EX_TEMPFAIL;
	c->max_size = cfg->limits.message_size;
	c->max_hops = cfg->limits.hops;
	q = secure_getenv("MAILOUT_QUEUE");
	c->queue_path = q && q[0] ? q : MAILOUT_SBINDIR "/mailout-queue";
	/* an explicit queue program (a filter) runs first, as in mailout-smtpd */
	c->queue_socket = cfg->queue.socket && !(q && q[0]) ? cfg->queue.socket : "";
	return EX_OK;
}

/* smtp_env - -bs is a local client: 127.0.0.1 in UCSPI terms, and
 * nothing inherited may look like a socket-activated connection */
static int
smtp_env(void)
{
	struct passwd *pw = getpwuid(getuid());

	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDNAMES");
	if (setenv("PROTO", "TCP", 1) < 0 || setenv("TCPREMOTEIP", "127.0.0.1", 1) < 0 ||
	    setenv("TCPREMOTEPORT", "0", 1) < 0 || setenv("TCPLOCALIP", "127.0.0.1", 1) < 0 ||
	    setenv("TCPLOCALPORT", "0", 1) < 0 || setenv("TCPREMOTEHOST", "localhost", 1) < 0)
		return -1;
	if (pw && local_part_ok(pw->pw_name) && setenv("TCPREMOTEINFO", pw->pw_name, 1) < 0)
		return -1;
	return 0;
}

int
sm_run_program(const struct sm_opts *o, const struct config *cfg)
{
	const char *name, *argv[8];
	char path[PATH_MAX];
	int n = 0;

	name = o->mode == SM_MODE_MAILQ   ? "mailout-spool"
	       : o->mode == SM_MODE_FLUSH ? "mailout-deliver"
	                                  : "mailout-smtpd";
	if (sm_program(name, path, sizeof(path)) < 0)
		return config_error("program path too long");
	argv[n++] = path;
	if (o->config) {
		argv[n++] = "-c";
		argv[n++] = o->config;
	}
	if (o->mode == SM_MODE_MAILQ) {
		argv[n++] = "list";
	} else if (o->mode == SM_MODE_FLUSH) {
		argv[n++] = "--flush";
		if (o->verbose > 1)
			argv[n++] = "-v";
	} else {
		argv[n++] = "-l";
		argv[n++] = cfg && conf_listener(cfg, "local") ? "local" : "smtp";
		if (smtp_env() < 0)
			return EX_OSERR;
	}
	argv[n] = NULL;
	(void)execv(path, (char *const *)argv);
	log_warn_errno("unable to execute %s", path);
	return EX_UNAVAILABLE;
}

_Static_assert(RES_OK == 0, "RES_OK must be enum result's");
