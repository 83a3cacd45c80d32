/*
 * smtpd_main.c - mailout-smtpd: one SMTP session per process
 *
 *   mailout-smtpd [-c FILE] [-l LISTENER]
 *   mailout-smtpd --check-config [-c FILE]
 *   mailout-smtpd --explain CLIENT_IP [--helo H] [--tls] [--auth USER]
 *                 --from ADDR --rcpt ADDR...
 *
 * Started once per connection by systemd (Accept=yes: the connection
 * is fd 3, LISTEN_FDS=1), inetd, xinetd or tcpserver (the connection
 * is fd 0 and fd 1).  main() only parses options and loads the config;
 * the session lives in smtpd_proto.c.
 *
 * SECURITY: mailout-smtpd parses untrusted input from the network and
 * runs as an unprivileged user that cannot write the spool: a message
 * reaches the spool only through mailout-queue, which checks what it is
 * given.  Every client octet is held in a bounded buffer; every wait
 * has a deadline; message content is inspected (MIME, libarchive) only
 * in a seccomp-confined child forked from a process that holds no
 * secret (smtpd_inspect.c); a broken config refuses mail (421) rather than
 * accept it under unknown rules.  The environment is trusted only as
 * far as its invoker is: MAILOUT_CONFIG, MAILOUT_QUEUE,
 * CREDENTIALS_DIRECTORY, LISTEN_FDS and OPENSSL_CONF come from the
 * service manager;
 * TCPREMOTEIP is used only where the connection is not a socket
 * (tcpserver sets it; getpeername wins wherever it works), and
 * TCPREMOTEHOST is never used.
 *
 * Exit codes: 0 after a session (whatever its replies), 75 when the
 * config cannot be used, 64 on usage errors; --check-config and
 * --explain as documented there.
 */
#include "smtpd.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"
#include "log_journal.h"
#include "smtpd_explain.h"
#include "smtpd_passwd.h"

struct options {
	const char *config; /* -c */
	const char *listener; /* -l */
	bool check_config;
	bool explain;
};

/* usage - the command lines, on stderr */
static int
usage(void)
{
	fprintf(stderr, "usage: mailout-smtpd [-c FILE] [-l LISTENER]\n"
	                "       mailout-smtpd --check-config [-c FILE]\n"
	                "       mailout-smtpd [-c FILE] --explain CLIENT_IP [--helo H] [--tls] "
	                "[--auth USER] --from ADDR --rcpt ADDR...\n");
	return EX_USAGE;
}

/* explain_config - -c among --explain's options (from argv[i] on):
 * "--explain IP -c FILE" means FILE as much as "-c FILE --explain IP".
 * Options that take a value are stepped over, so "--helo -c" is a
 * HELO name; --rcpt's values never start with '-'. */
static void
explain_config(int argc, char **argv, int i, struct options *o)
{
	static const char *const with_value[] = {"--explain", "--helo", "--auth", "--from",
	                                         "-l",        "--rcpt", NULL};
	const char *const *w;

	for (; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			o->config = argv[++i];
			continue;
		}
		for (w = with_value; *w; w++)
			if (strcmp(argv[i], *w) == 0 && i + 1 < argc) {
				i++;
				break;
			}
	}
}

/* parse_options - -c and -l anywhere; after --explain the rest is
 * explain_main's, but -c there still names the config */
static int
parse_options(int argc, char **argv, struct options *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			o->config = argv[++i];
		else if (strcmp(argv[i], "-l") == 0 && i + 1 < argc)
			o->listener = argv[++i];
		else if (strcmp(argv[i], "--check-config") == 0)
			o->check_config = true;
		else if (strcmp(argv[i], "--explain") == 0) {
			o->explain = true;
			explain_config(argc, argv, i, o);
			return 0;
		} else
			return -1;
	}
	return 0;
}

/* check_config - --check-config: the config (conf_check: values, and
 * whether the auth files can be read), then the auth files' lines.  A
 * credential that only the service will see was noted by conf_check
 * and is not read here. */
static int
check_config(const char *path)
{
	struct config cfg;
	int rc = conf_check(path, stdout);

	if (rc != EX_OK)
		return rc;
	if (conf_load(path, &cfg, stdout) != RES_OK)
		return EX_CONFIG;
	if (conf_credential_unchecked(cfg.auth.passwd_file))
		cfg.auth.passwd_file[0] = '\0';
	if (conf_credential_unchecked(cfg.auth.sender_map))
		cfg.auth.sender_map[0] = '\0';
	if (auth_files_check(&cfg, stdout) > 0)
		rc = EX_CONFIG;
	conf_free(&cfg);
	return rc;
}

/* std_fds_open - fds 0-2 exist, so no pipe or file lands on them */
static void
std_fds_open(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

/* refuse - config trouble before the session: 421, never mail */
static int
refuse(int wfd, const char *why)
{
	static const char msg[] = "421 4.3.0 Service temporarily unavailable\r\n";

	log_warn("%s: refusing the session", why);
	if (write(wfd, msg, sizeof(msg) - 1) < 0) {
		/* the client may be gone already: nothing to add */
	}
	return EX_TEMPFAIL;
}

#define LISTEN_FDS_START 3 /* sd_listen_fds(3): the first passed fd */

/* env_number - a decimal environment value in [0, max], or -1 */
static long
env_number(const char *name, long max)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (v == NULL || *v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	return (errno || *end || n > max) ? -1 : n;
}

/* listen_vars - whether the environment holds a LISTEN_ variable: one
 * look at it, where two getenv and three unsetenv walked it in every
 * session that systemd did not start */
static bool
listen_vars(void)
{
	char **e;

	for (e = environ; *e; e++)
		if ((*e)[0] == 'L' && strncmp(*e, "LISTEN_", 7) == 0)
			return true;
	return false;
}

/* listen_fds - sd_listen_fds(3) without libsystemd (loading it cost
 * each session more than the session): the number of fds systemd
 * passed from fd 3 on, when LISTEN_PID names us; each is made
 * close-on-exec (mailout-queue must not inherit the connection) and the
 * variables are unset, as sd_listen_fds(1) does */
static int
listen_fds(void)
{
	long pid, n;
	int fd;

	if (!listen_vars())
		return 0;
	pid = env_number("LISTEN_PID", LONG_MAX);
	n = env_number("LISTEN_FDS", INT_MAX - LISTEN_FDS_START);
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_FDNAMES");
	if (pid != (long)getpid() || n <= 0)
		return 0;
	for (fd = LISTEN_FDS_START; fd < LISTEN_FDS_START + (int)n; fd++)
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
			return 0;
	return (int)n;
}

/* connection_fds - systemd Accept=yes hands over fd 3, else 0 and 1 */
static void
connection_fds(int *rfd, int *wfd)
{
	if (listen_fds() >= 1) {
		*rfd = *wfd = LISTEN_FDS_START;
		return;
	}
	*rfd = 0;
	*wfd = 1;
}

/* config_for_queue - pass -c on when a config was chosen explicitly */
static const char *
config_for_queue(const struct options *o, const char *path)
{
	const char *env = getenv("MAILOUT_CONFIG");

	return (o->config || (env && env[0])) ? path : NULL;
}

int
main(int argc, char **argv)
{
	static struct session s;
	static struct config cfg;
	const struct conf_listener *l;
	struct options o;
	const char *path;
	int rfd, wfd;

	log_init(argv[0]);
	log_journal_enable();
	std_fds_open();
	(void)signal(SIGPIPE, SIG_IGN); /* EPIPE is an error like any other */
	/* an inherited SIG_IGN would reap mailout-queue before we read its
	 * exit code (swaks --pipe does that) */
	(void)signal(SIGCHLD, SIG_DFL);
	if (parse_options(argc, argv, &o) < 0)
		return usage();
	path = conf_path(o.config);
	if (o.check_config)
		return check_config(path);
	if (o.explain) {
		if (conf_load(path, &cfg, stderr) != RES_OK)
			return EX_CONFIG;
		return explain_main(argc, argv, &cfg);
	}
	connection_fds(&rfd, &wfd);
	if (conf_load(path, &cfg, stderr) != RES_OK)
		return refuse(wfd, path);
	if ((l = conf_listener(&cfg, o.listener ? o.listener : "smtp")) == NULL)
		return refuse(wfd, "no such listener section in the config");
	smtpd_session_init(&s, &cfg, l, config_for_queue(&o, path), rfd, wfd);
	return smtpd_session_run(&s);
}
