/*
 * sendmail_main.c - mailout-sendmail: sendmail-compatible local injection
 *
 * Usage: mailout-sendmail [-c F] [-t] [-i] [-f ADDR] [-F NAME] [RCPT...]
 *        mailout-sendmail -bp | -q | -bs     (also installed as sendmail, mailq)
 *
 * Reads a message on stdin and hands it to mailout-queue, exiting 0
 * once it is durably in the spool; exit codes per sysexits.h (64 usage,
 * 65 bad address or content, 69 refused, 75 try again, 78 config).
 *
 * SECURITY: runs as the invoking user and is not set-id; if installed
 * set-id by mistake it drops the privilege first thing (as Postfix's
 * sendmail does).  Everything on stdin and on the command line is
 * untrusted: it is bounded (header section, pieces of lines, message
 * size) and addresses are checked by mail_addr before they reach the
 * envelope.  It never opens the spool: mailout-queue writes it.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "log_journal.h"
#include "sendmail.h"

/* std_fds - fds 0-2 open, so no pipe ends up as stdin by accident */
static int
std_fds(void)
{
	struct stat st;
	int fd;

	for (fd = 0; fd < 3; fd++)
		if (fstat(fd, &st) < 0 && open("/dev/null", O_RDWR) != fd)
			return -1;
	return 0;
}

/* drop_setid - this program must not run with privileges it was not
 * meant to have */
static int
drop_setid(void)
{
	if (getegid() != getgid() && setresgid(getgid(), getgid(), getgid()) < 0)
		return -1;
	if (geteuid() != getuid() && setresuid(getuid(), getuid(), getuid()) < 0)
		return -1;
	return 0;
}

/* enqueue - the default mode, with its configuration */
static int
enqueue(const struct sm_opts *o)
{
	struct config cfg;
	struct sm_context c;
	enum result r;
	int code;

	r = conf_load(conf_path(o->config), &cfg, stderr);
	if (r != RES_OK)
		return r == RES_PERM ? EX_CONFIG : EX_TEMPFAIL;
	if (o->mode == SM_MODE_SMTP) {
		code = sm_run_program(o, &cfg);
		conf_free(&cfg);
		return code;
	}
	if ((code = sm_context_init(&c, o, &cfg)) == EX_OK) {
		(void)signal(SIGPIPE, SIG_IGN);
		code = sm_enqueue(&c);
	}
	rewrite_free(&c.rw);
	conf_free(&cfg);
	return code;
}

int
main(int argc, char **argv)
{
	struct sm_opts o;
	char err[256];

	log_init(argc > 0 ? argv[0] : "mailout-sendmail");
	log_journal_enable();
	if (std_fds() < 0 || drop_setid() < 0)
		return EX_OSERR;
	(void)umask(022);
	if (sm_parse_args(argc, argv, &o, err, sizeof(err)) < 0) {
		log_warn("%s", err);
		fprintf(stderr,
		        "usage: %s [-c FILE] [-t] [-i] [-f SENDER] [-F NAME] "
		        "[RECIPIENT...] | -bp | -q | -bs\n",
		        log_progname());
		return EX_USAGE;
	}
	switch (o.mode) {
	case SM_MODE_NOOP:
		return EX_OK;
	case SM_MODE_MAILQ:
	case SM_MODE_FLUSH:
		return sm_run_program(&o, NULL);
	default:
		return enqueue(&o);
	}
}

_Static_assert(RES_OK == 0, "RES_OK must be enum result's");
