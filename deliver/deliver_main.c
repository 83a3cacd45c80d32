/*
 * deliver_main.c - mailout-deliver: drain the spool to the gateway
 *
 *   mailout-deliver [-c FILE] [--flush] [-v]
 *
 * Attempts every message that is due, then exits: everything in new/,
 * and what in deferred/ has reached its next attempt time (--flush:
 * all of deferred/; hold/ never).  Run by the .timer and .path units,
 * from cron, or by hand.
 *
 * Time: every wait on the gateway has a deadline (RFC 5321 4.5.3.2,
 * scaled from gateway.command_timeout); a run takes no new message
 * after DELIVER_RUN_LIMIT (an hour), and a worker still busy
 * 2 x command_timeout + 60 s after that is ended by SIGALRM, so a run
 * lasts at most 71 minutes with the default 5m (91 with the largest,
 * 15m).  A service manager's own limit must be longer than that.
 *
 * SECURITY: runs as the spool user.  It reads the spool and the
 * gateway's password, writes only deferred/, state/ and removes
 * finished messages; bounces go through mailout-queue like any other
 * message.  It talks to the configured gateway only, and never sends
 * a password outside TLS unless gateway.tls = none.  Everything read
 * from the gateway is untrusted and parsed with bounds
 * (lib/smtp_client.c).
 *
 * Exit codes (sysexits.h): 0 the run completed (deferrals are normal);
 * 64 usage; 75 temporary trouble (spool unreadable, state not
 * writable, TLS setup); 78 configuration error.
 */
#include "conf.h"
#include "deliver.h"
#include "log.h"
#include "log_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

/* on_stop - SIGTERM/SIGINT: finish the current wait, take no more */
static void
on_stop(int sig)
{
	(void)sig;
	deliver_stop = 1;
}

/* usage - the command line, then exit 64 */
static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr, "usage: mailout-deliver [-c FILE] [--flush] [-v]\n");
	exit(EX_USAGE);
}

/* open_dir - a spool subdirectory; mine (deferred, hold, state) are made */
static int
open_dir(int spool, const char *name, bool make)
{
	int fd = openat(spool, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT && make && mkdirat(spool, name, 0750) == 0 &&
	    fsync(spool) == 0)
		fd = openat(spool, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		log_fatal("unable to open %s/: %s", name, strerror(errno));
	return fd;
}

/* read_password - first line of gateway.password_file; a relative path
 * is looked up in $CREDENTIALS_DIRECTORY (systemd LoadCredential=) */
static void
read_password(struct deliver_ctx *ctx)
{
	const char *file = ctx->cfg->gateway.password_file, *cred = getenv("CREDENTIALS_DIRECTORY");
	char path[4096];
	FILE *f;

	if (!ctx->cfg->gateway.user || !*ctx->cfg->gateway.user || !file || !*file)
		return;
	if (file[0] != '/' && cred && *cred)
		(void)bounded_format(path, sizeof(path), "%s/%s", cred, file);
	else
		(void)bounded_copy(path, sizeof(path), file);
	if (!(f = fopen(path, "re"))) {
		log_warn_errno("unable to read gateway.password_file %s", path);
		return;
	}
	if (fgets(ctx->password, sizeof(ctx->password), f)) {
		ctx->password[strcspn(ctx->password, "\r\n")] = '\0';
		ctx->password_ok = true;
	}
	fclose(f);
}

/* setup - signals, spool directories, TLS context, credentials */
static void
setup(struct deliver_ctx *ctx)
{
	struct sigaction sa = {.sa_handler = on_stop};
	char why[256];

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	ctx->spool = open(ctx->cfg->spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ctx->spool < 0)
		log_fatal("unable to open the spool %s: %s", ctx->cfg->spool, strerror(errno));
	ctx->dir_new = open_dir(ctx->spool, "new", false);
	ctx->dir_deferred = open_dir(ctx->spool, "deferred", true);
	ctx->dir_hold = open_dir(ctx->spool, "hold", true);
	ctx->dir_state = open_dir(ctx->spool, "state", true);
	ctx->dir_tmp = openat(ctx->spool, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	deliver_timeouts_init(&ctx->to, ctx->cfg->gateway.command_timeout);
	ctx->deadline = time(NULL) + DELIVER_RUN_LIMIT;
	if (ctx->cfg->gateway.tls != GATEWAY_TLS_NONE &&
	    !(ctx->ssl = conn_tls_ctx(ctx->cfg, why, sizeof(why))))
		log_fatal("%s", why);
	read_password(ctx);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {{"flush", no_argument, NULL, 'f'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {NULL, 0, NULL, 0}};
	struct deliver_ctx ctx;
	struct config cfg;
	const char *cfile = NULL;
	enum result r;
	int c, rc;

	log_init(argv[0]);
	log_journal_enable();
	memset(&ctx, 0, sizeof(ctx));
	while ((c = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
		if (c == 'c')
			cfile = optarg;
		else if (c == 'f')
			ctx.flush = true;
		else if (c == 'v')
			ctx.verbose = true;
		else
			usage();
	}
	if (optind != argc)
		usage();
	r = conf_load(conf_path(cfile), &cfg, stderr);
	if (r != RES_OK)
		return r == RES_PERM ? EX_CONFIG : EX_TEMPFAIL;
	ctx.cfg = &cfg;
	setup(&ctx);
	rc = deliver_run(&ctx);
	explicit_bzero(ctx.password, sizeof(ctx.password));
	if (ctx.ssl)
		SSL_CTX_free(ctx.ssl);
	conf_free(&cfg);
	return rc;
}
