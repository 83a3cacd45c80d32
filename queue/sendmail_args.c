/*
 * sendmail_args.c - mailout-sendmail's command line, sendmail-compatible
 *
 * What it is for: accepting what cron, mail(1), PHP, mutt and forty
 * years of scripts pass to /usr/sbin/sendmail.  The option letters and
 * which of them take an argument follow Postfix's sendmail, so that
 * "-oem -odi -B8BITMIME -FCronDaemon -i root" parses the same way;
 * legacy options that mean nothing here are accepted and ignored.
 * Options end at the first argument that is not one (as sendmail).
 * What it must never do: treat an option's argument as a recipient, or
 * accept a mode it cannot carry out without saying so.
 */
#include <stdio.h>
#include <string.h>

#include "sendmail.h"

/* Letters that take an argument (attached "-fX" or the next "-f X"). */
#define SM_WITH_ARG "ABCDFLMNORXbcefhoprq"
/* Letters whose argument can only be attached ("-V", "-Vxy", "-d0.1"). */
#define SM_ATTACHED_ONLY "Vdq"

/* set_err - usage error message */
static int
set_err(char *err, size_t errsize, const char *what, char letter, const char *arg)
{
	if (snprintf(err, errsize, "%s: -%c%s", what, letter, arg ? arg : "") < 0)
		err[0] = '\0';
	return -1;
}

/* opt_b - -bm -bp -bs -bi; daemon and test modes are not ours */
static int
opt_b(struct sm_opts *o, const char *arg, char *err, size_t errsize)
{
	switch (arg[0]) {
	case 'm':
		o->mode = SM_MODE_ENQUEUE;
		return 0;
	case 'p':
		o->mode = SM_MODE_MAILQ;
		return 0;
	case 's':
		o->mode = SM_MODE_SMTP;
		return 0;
	case 'i':
		o->mode = SM_MODE_NOOP;
		return 0;
	case 'd':
		return set_err(
		    err, errsize,
		    "no daemon mode: mailout-smtpd runs from systemd, inetd or tcpserver", 'b',
		    arg);
	default:
		return set_err(err, errsize, "unsupported mode", 'b', arg);
	}
}

/* opt_q - "-q" runs delivery; "-q30m" (a daemon's interval) is
 * ignored as Postfix does; "-qRsite" flushes (everything goes to one
 * gateway anyway) */
static int
opt_q(struct sm_opts *o, const char *arg, char *err, size_t errsize)
{
	if (arg[0] == '\0' || (arg[0] == 'R' && arg[1] != '\0')) {
		o->mode = SM_MODE_FLUSH;
		return 0;
	}
	if (arg[0] >= '0' && arg[0] <= '9') {
		if (o->mode == SM_MODE_ENQUEUE)
			o->mode = SM_MODE_NOOP;
		return 0;
	}
	return set_err(err, errsize, "not implemented", 'q', arg);
}

/* opt_arg - one option with its argument */
static int
opt_arg(struct sm_opts *o, char c, const char *arg, char *err, size_t errsize)
{
	switch (c) {
	case 'b':
		return opt_b(o, arg, err, errsize);
	case 'q':
		return opt_q(o, arg, err, errsize);
	case 'c':
		o->config = arg;
		return 0;
	case 'f':
	case 'r':
		o->sender = arg;
		return 0;
	case 'F':
		o->fullname = arg;
		return 0;
	case 'o':
		if (strcmp(arg, "i") == 0)
			o->dot_ends = false;
		return 0;
	default: /* -B -C -h -N -O -R -X -L -V ...: ignored */
		return 0;
	}
}

/* opt_flag - one option without an argument */
static void
opt_flag(struct sm_opts *o, char c)
{
	switch (c) {
	case 't':
		o->extract = true;
		break;
	case 'i':
		o->dot_ends = false;
		break;
	case 'v':
		o->verbose++;
		break;
	case 'I':
		o->mode = SM_MODE_NOOP;
		break;
	default: /* -G -U -m -n -x and unknown letters: ignored */
		break;
	}
}

/* opt_cluster - "-ti", "-fADDR", "-f ADDR"; *i advances past what was
 * used */
static int
opt_cluster(struct sm_opts *o, int argc, char **argv, int *i, char *err, size_t errsize)
{
	const char *p = argv[*i] + 1;
	char c;

	for (; (c = *p) != '\0'; p++) {
		if (strchr(SM_WITH_ARG, c) == NULL) {
			opt_flag(o, c);
			continue;
		}
		if (p[1] != '\0' || strchr(SM_ATTACHED_ONLY, c) != NULL)
			return opt_arg(o, c, p + 1, err, errsize);
		if (*i + 1 >= argc)
			return set_err(err, errsize, "option requires an argument", c, NULL);
		(*i)++;
		return opt_arg(o, c, argv[*i], err, errsize);
	}
	return 0;
}

/* mode_from_name - mailq and newaliases are sendmail by another name */
static enum sm_mode
mode_from_name(const char *argv0)
{
	const char *base = argv0 ? strrchr(argv0, '/') : NULL;

	base = base ? base + 1 : (argv0 ? argv0 : "");
	if (strcmp(base, "mailq") == 0)
		return SM_MODE_MAILQ;
	if (strcmp(base, "newaliases") == 0)
		return SM_MODE_NOOP;
	return SM_MODE_ENQUEUE;
}

int
sm_parse_args(int argc, char **argv, struct sm_opts *o, char *err, size_t errsize)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->dot_ends = true;
	o->mode = mode_from_name(argc > 0 ? argv[0] : NULL);
	for (i = 1; i < argc; i++) {
		if (argv[i][0] != '-' || argv[i][1] == '\0')
			break;
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (opt_cluster(o, argc, argv, &i, err, errsize) < 0)
			return -1;
	}
	o->rcpts = argv + i;
	o->n_rcpts = argc - i;
	if (o->extract && o->mode != SM_MODE_ENQUEUE)
		return set_err(err, errsize, "only in delivery mode", 't', NULL);
	if (o->n_rcpts > 0 && o->mode != SM_MODE_ENQUEUE && o->mode != SM_MODE_NOOP)
		return set_err(err, errsize, "this mode takes no recipients", 'b', NULL);
	return 0;
}

_Static_assert(RES_OK == 0, "RES_OK must be enum result's");
