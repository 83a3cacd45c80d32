/*
 * scan_main.c - mailout-scan: keep executables out of the queue
 *
 * mailout-scan [-c FILE] [-i QUEUEID]
 *
 * A filter in the queue chain, as qmail's QMAILQUEUE scanners are: it
 * speaks the qmail-queue protocol (message on fd 0, envelope on fd 1)
 * and passes a clean message on to the real queue - $MAILOUT_SCAN_QUEUE,
 * else $MAILOUT_QUEUE (unless that names mailout-scan itself), else
 * mailout-queue --socket when queue.socket is set, else the compiled-in
 * SBINDIR/mailout-queue - with the same -c and -i, exiting with its
 * exit code (lib/mail_qclient.h makes the hand-off).  mailout-sendmail
 * runs it always: with the rule off it execs the queue program at once
 * (or passes the message over the socket uninspected).  mailout-smtpd
 * runs the same inspection and the same acting on it (scan_act.c) in
 * itself, not this program (unless it is named as its $MAILOUT_QUEUE).
 *
 * SECURITY: mailout-scan runs as its caller (mailout-smtpd's user, not
 * set-id) and can write nothing the caller could not.  It parses
 * nothing itself but its options and the envelope (lib/mail_spool.c);
 * the message is inspected in a forked child confined by seccomp (no
 * network, no exec, no file may be opened or changed), with bounded
 * CPU time and memory; the child's verdict is re-checked here.  The
 * message sits in a sealed memfd, so the bytes queued are exactly the
 * bytes inspected.  The reply line for the receiver goes to fd 3 only
 * if fd 3 is a pipe; fd 3 is close-on-exec for the queue program.
 *
 * Exit codes are qmail-queue's: 0 queued (or, with executable_action =
 * bounce, the notification queued); the queue program's own when it ran;
 * 31 refused for good (an executable; a message that cannot be
 * inspected within the bounds; a message over limits.message_size);
 * 51 out of memory; 53 write error; 54 read error (or no input for
 * 24h); 55 config unreadable; 71 temporary (the inspection or the
 * queue program could not run); 81 bad usage; 91 bad envelope (an
 * empty one, the caller's abort, is logged at info level).
 */
#include "scan.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mail_spool.h"

#define READ_TIMEOUT 86400 /* seconds, as qmail-queue */
#define ARGS_MAX 16

/* on_alarm - the caller stopped sending */
static void
on_alarm(int sig)
{
	(void)sig;
	_exit(QQ_READ);
}

/* setup_process - fds 0-2 open, fd 3 private, signals; -1 if not */
static int
setup_process(void)
{
	struct sigaction sa;
	int fd, fl;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (open("/dev/null", O_RDWR) != fd)
			return -1;
	}
	if ((fl = fcntl(3, F_GETFD)) >= 0 && fcntl(3, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		return -1;
	sa.sa_handler = on_alarm;
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		return -1;
	alarm(READ_TIMEOUT);
	return 0;
}

/* parse_args - -c FILE, -i ID; 0 or -1 */
static int
parse_args(int argc, char **argv, const char **cfile, const char **id)
{
	int c;

	if (argc > ARGS_MAX)
		return -1;
	while ((c = getopt(argc, argv, "+c:i:")) != -1) {
		switch (c) {
		case 'c':
			*cfile = optarg;
			break;
		case 'i':
			if (!queue_id_valid(optarg))
				return -1;
			*id = optarg;
			break;
		default:
			return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

int
main(int argc, char **argv)
{
	const char *cfile = NULL, *id = NULL;
	char *qargv[ARGS_MAX + 1];
	struct config cfg;
	int i, rc;

	log_init(argv[0]);
	if (setup_process() < 0)
		return QQ_BUG;
	if (parse_args(argc, argv, &cfile, &id) < 0) {
		log_warn("usage: mailout-scan [-c FILE] [-i QUEUEID]");
		return QQ_BUG;
	}
	if (conf_load(conf_path(cfile), &cfg, stderr) != RES_OK) {
		log_warn("%s: unable to load the configuration", id ? id : "NOQUEUE");
		return QQ_CONFIG;
	}
	if (cfg.content.block_executables) {
		rc = scan_filter(&cfg, cfile, id, true);
	} else if ((qargv[0] = (char *)scan_queue_program(&cfg)) != NULL) {
		/* nothing to do here: become the next program */
		for (i = 1; i < argc; i++)
			qargv[i] = argv[i];
		qargv[argc] = NULL;
		alarm(0);
		(void)signal(SIGPIPE, SIG_DFL); /* ignored signals survive exec */
		execv(qargv[0], qargv);
		log_warn_errno("unable to run %s", qargv[0]);
		rc = QQ_TEMP;
	} else {
		/* queue.socket: nothing to exec; read it all and pass it on */
		rc = scan_filter(&cfg, cfile, id, false);
	}
	conf_free(&cfg);
	return rc;
}
