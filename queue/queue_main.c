/*
 * queue_main.c - mailout-queue: put one message into the spool
 *
 * mailout-queue [-c FILE] [-i QUEUEID]
 * mailout-queue --socket [-c FILE] [-t SECONDS]
 *
 * The qmail-queue protocol: the message on fd 0, read to EOF, then the
 * envelope on fd 1 (F<sender>\0T<rcpt>\0...\0), read to EOF.  With -i
 * the caller has chosen the queue ID (mailout-smtpd names it in the
 * Received: header before streaming the message); otherwise one is made.
 * It is the only program that writes a message into the spool.
 *
 * --socket: the same job for a client of a unix stream socket, for
 * services that cannot run a set-uid program (systemd's NoNewPrivileges=).
 * Two ways to run it:
 *   - one process per connection, which is fd 0 (inetd, systemd
 *     Accept=yes with StandardInput=socket, systemd-socket-activate
 *     --accept --inetd);
 *   - one service for all connections: the listening socket is fd 3
 *     (LISTEN_FDS=1: mailout-queue.socket with Accept=no,
 *     systemd-socket-activate -l) or fd 0.  It reads the config once,
 *     keeps a pool of workers, each doing for one connection after
 *     another exactly what the process per connection does, and exits
 *     after -t SECONDS (default 10; 0: never) without a job
 *     (queue_server.c).
 * The protocol, version 1:
 *
 *   client -> server  ONE sendmsg(2): the request line
 *                       "mailout-queue/1\n"  or  "mailout-queue/1 -i ID\n"
 *                     (at most 64 octets, nothing after the newline) with
 *                     SCM_RIGHTS carrying exactly two fds: the read end of
 *                     the message pipe (fd 0 of the classic mode) and the
 *                     read end of the envelope pipe (fd 1); both must be
 *                     pipes opened read-only.
 *   then              the client writes the message, closes it, writes the
 *                     envelope, closes it - exactly as for the classic mode
 *   server -> client  one octet: the exit code below; then it closes.
 *
 * A request that breaks any of these rules gets 81 and nothing is read.
 * A client that sees the connection close without the octet treats it as
 * a temporary failure.  -c is the service's own option, never the
 * client's: the request cannot name a config or a spool.
 *
 * SECURITY: mailout-queue may be installed set-id (to the spool's owner)
 * so that unprivileged callers - mailout-smtpd's user, local users via
 * mailout-sendmail - can queue mail without being able to touch the
 * spool.  Everything it reads is untrusted: the message is stored, never
 * interpreted; the envelope is checked (lengths, count, no control
 * characters or angle brackets) so it cannot break the spool's line
 * format; the queue ID from -i must match the ID syntax exactly, so it
 * cannot name a path.  When set-id (AT_SECURE) it ignores the whole
 * environment, MAILOUT_CONFIG included, and also ignores -c with a
 * warning: a caller must not pick a config whose spool points elsewhere.
 * With --socket the client is as untrusted as a set-id caller: the
 * request is checked byte for byte, only two read-only pipes are taken,
 * and the peer's uid and pid (SO_PEERCRED) are logged with failures.
 * The service's parent never reads from a client nor opens the spool;
 * a worker starts each job from fresh state (serve_connection) and
 * closes every fd the job opened, so no job sees another's fds or
 * data.  Set-id, it refuses to serve a listening socket: a caller has
 * no business starting a long-lived process as the spool's owner.
 * It makes sure fds 0-2 are open before opening anything, so a spool
 * file can never land on the caller's stderr; files are created 0640
 * with O_EXCL and committed with RENAME_NOREPLACE, so nothing existing
 * is ever replaced; SIGXFSZ is ignored so a caller's RLIMIT_FSIZE gives
 * a write error (53), not a half-written file.
 *
 * Spool commit states (as qmail's INTERNALS), and what a crash leaves:
 *
 *   state                          | crash leaves          | cleaned up by
 *   -------------------------------+-----------------------+----------------
 *   S1 reading; message in memory  | nothing (the scratch  | -
 *      or in an O_TMPFILE          | file has no name)     |
 *   S2 tmp/ID being written        | partial tmp/ID        | mailout-deliver
 *   S3 tmp/ID written, fsynced     | complete tmp/ID,      | removes tmp/
 *                                  | never delivered       | files > 36h old
 *   S4 renamed to new/ID, new/ not | new/ID, or tmp/ID,    | if new/ID: sent;
 *      yet fsynced                 | or both names (one    | the caller saw
 *                                  | inode)                | no 0: may resend
 *   S5 new/ fsynced, exit 0        | the queued message    | -
 *
 * Only S5 answers 0; so a caller reports success only for a message that
 * survives any crash.  A crash in S4 may give a duplicate (the caller
 * retries, the first copy survived): at-least-once, as qmail.
 *
 * Exit codes (qmail-queue's): 0 queued; 11 address too long; 31 refused
 * for good (message larger than limits.message_size + 64k); 51 out of
 * memory; 53 write error or disk full; 54 read error (fd 0/fd 1, or no
 * input for 24h); 55 config unreadable, spool missing or not writable;
 * 71 queue ID in use; 81 internal bug or bad usage (bad -i, unknown
 * option); 91 envelope format error.  11 and 31 are permanent, the rest
 * temporary.  On failure one log line names the queue ID: a warning,
 * except for an empty envelope (EOF on fd 1 before any octet), which is
 * how a caller aborts (its client went away, the message was refused):
 * still 91, as qmail-queue, but logged as "aborted by the client" at
 * info level.
 */
#include "conf.h"
#include "log.h"
#include "mail_spool.h"
#include "queue_sock.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#define USAGE                                                                                      \
	"usage: mailout-queue [-c FILE] [-i ID] | mailout-queue --socket [-c FILE] [-t SECONDS]"

/* The service on a listening socket: its config, read once at start. */
struct service {
	struct config cfg;
	int cfg_rc; /* QQ_OK, or what every job answers (55) */
	char cfg_why[QUEUE_WHY_MAX];
};

/* on_alarm - the caller stopped sending: give up (nothing is named yet) */
static void
on_alarm(int sig)
{
	(void)sig;
	sock_alarm_reply();
	_exit(QQ_READ);
}

/* setup_process - fds 0-2 open, umask, signals; -1 if impossible */
static int
setup_process(void)
{
	struct sigaction sa;
	int fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (open("/dev/null", O_RDWR) != fd)
			return -1;
	}
	(void)umask(027);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGXFSZ, &sa, NULL) < 0 || sigaction(SIGPIPE, &sa, NULL) < 0)
		return -1;
	sa.sa_handler = on_alarm;
	return sigaction(SIGALRM, &sa, NULL);
}

/* parse_idle - -t SECONDS: digits only, at most SERVER_IDLE_MAX */
static int
parse_idle(const char *arg, unsigned *idle)
{
	unsigned long v = 0;
	const char *p;

	for (p = arg; *p >= '0' && *p <= '9' && v <= SERVER_IDLE_MAX; p++)
		v = v * 10 + (unsigned long)(*p - '0');
	if (p == arg || *p != '\0' || v > SERVER_IDLE_MAX)
		return -1;
	*idle = (unsigned)v;
	return 0;
}

/* parse_args - -c FILE; -i ID (not with --socket: the request names
 * it); -t SECONDS (only with --socket); returns QQ_OK or QQ_BUG */
static int
parse_args(int argc, char **argv, bool sock, const char **cfile, unsigned *idle, struct qq_job *job)
{
	int c;

	optind = sock ? 2 : 1;
	while ((c = getopt(argc, argv, sock ? "c:t:" : "c:i:")) != -1) {
		switch (c) {
		case 'c':
			*cfile = optarg;
			break;
		case 'i':
			if (!queue_id_valid(optarg) ||
			    bounded_copy(job->id, sizeof(job->id), optarg) < 0)
				return queue_fail(job, QQ_BUG, 0, "invalid queue ID for -i");
			break;
		case 't':
			if (parse_idle(optarg, idle) < 0)
				return queue_fail(job, QQ_BUG, 0, "-t: seconds, 0 to %d",
				                  SERVER_IDLE_MAX);
			break;
		default:
			return queue_fail(job, QQ_BUG, 0, "%s", USAGE);
		}
	}
	if (optind != argc)
		return queue_fail(job, QQ_BUG, 0, "%s", USAGE);
	return QQ_OK;
}

/* use_config - the job's spool and size limit from a loaded config */
static void
use_config(const struct config *cfg, struct qq_job *job)
{
	job->spool = cfg->spool;
	if (cfg->limits.message_size > 0)
		job->max_size = cfg->limits.message_size + QUEUE_SIZE_SLACK;
}

/* load_config - the spool directory and size limit from the config */
static int
load_config(const char *cfile, struct config *cfg, struct qq_job *job)
{
	enum result res;

	if (getauxval(AT_SECURE) && cfile != NULL) {
		log_warn("set-id: -c %s ignored, using the compiled-in config", cfile);
		cfile = NULL;
	}
	res = conf_load(conf_path(cfile), cfg, stderr);
	if (res == RES_TEMP || res == RES_PERM)
		return queue_fail(job, QQ_CONFIG, 0, "unable to load the configuration");
	if (cfg->spool == NULL || cfg->spool[0] != '/')
		return queue_fail(job, QQ_CONFIG, 0, "spool is not an absolute path");
	use_config(cfg, job);
	return QQ_OK;
}

/* aborted - the caller closed both pipes without an envelope: its
 * client went away, or the message was refused (qmail-queue's way to
 * abort a transaction: exit 91 all the same) */
static bool
aborted(const struct qq_job *job, int rc)
{
	return rc == QQ_BAD_ENVELOPE && job->env.raw.len == 0 &&
	       strcmp(job->why, "envelope refused") == 0;
}

/* report - the one log line of a failure (with the socket client) */
static void
report(const struct qq_job *job, int rc, const struct sock_req *rq)
{
	const char *id = job->id[0] ? job->id : "NOQUEUE";
	struct log_field f[] = {{"QUEUE_ID", job->id[0] ? job->id : NULL}};

	if (aborted(job, rc))
		log_fields(LOG_INFO, f, 1, "%s: not queued: aborted by the client (exit %d)", id,
		           rc);
	else if (rq != NULL)
		log_fields(LOG_WARNING, f, 1,
		           "%s: not queued: %s (exit %d, %s; socket client uid %ld pid %ld)", id,
		           job->why, rc, qq_exit_text(rc), (long)(int)rq->peer.uid,
		           (long)rq->peer.pid);
	else
		log_fields(LOG_WARNING, f, 1, "%s: not queued: %s (exit %d, %s)", id, job->why, rc,
		           qq_exit_text(rc));
}

/* serve_connection - in a worker of the service: one client on fd 0,
 * with the service's config; what a process of its own would do.  All
 * of the job's state is on this stack frame, made here and freed here. */
static int
serve_connection(void *arg)
{
	const struct service *svc = arg;
	struct qq_job job;
	struct sock_req rq;
	int rc;

	qq_job_init(&job);
	sock_req_init(&rq);
	rc = sock_job(&rq, &job);
	if (rc == QQ_OK && svc->cfg_rc != QQ_OK)
		rc = queue_fail(&job, svc->cfg_rc, 0, "%s", svc->cfg_why);
	if (rc == QQ_OK) {
		use_config(&svc->cfg, &job);
		rc = queue_run(&job);
	}
	if (rc != QQ_OK)
		report(&job, rc, &rq);
	sock_done(&rq, rc);
	qq_job_free(&job);
	return rc;
}

/* serve - the service on listening socket lfd: the config once, then
 * the workers (queue_server.c).  A config that does not load is
 * logged once and answered 55 to every client, as a process per
 * connection would; the next start reads it again. */
static int
serve(int lfd, const char *cfile, unsigned idle)
{
	struct service svc;
	struct qq_job probe;
	int rc;

	memset(&svc, 0, sizeof(svc));
	qq_job_init(&probe);
	svc.cfg_rc = load_config(cfile, &svc.cfg, &probe);
	if (svc.cfg_rc != QQ_OK) {
		(void)bounded_copy(svc.cfg_why, sizeof(svc.cfg_why), probe.why);
		log_warn("--socket: %s: every client gets exit %d until a restart", probe.why,
		         svc.cfg_rc);
	}
	qq_job_free(&probe);
	/* the config's garbage consolidated once here, not in every worker */
	(void)malloc_trim(0);
	rc = server_run(lfd, idle, serve_connection, &svc);
	conf_free(&svc.cfg);
	return rc;
}

int
main(int argc, char **argv)
{
	struct qq_job job;
	struct config cfg;
	struct sock_req rq;
	const char *cfile = NULL;
	bool sock = argc > 1 && strcmp(argv[1], "--socket") == 0;
	unsigned idle = SERVER_IDLE_DEFAULT;
	int rc, lfd = -1;

	if (setup_process() < 0)
		return QQ_BUG;
	log_init(argv[0] ? argv[0] : "mailout-queue");
	memset(&cfg, 0, sizeof(cfg));
	qq_job_init(&job);
	sock_req_init(&rq);
	rc = parse_args(argc, argv, sock, &cfile, &idle, &job);
	if (rc == QQ_OK && sock)
		rc = server_listener(&lfd, &job);
	if (rc == QQ_OK && lfd >= 0) {
		qq_job_free(&job);
		return serve(lfd, cfile, idle);
	}
	if (rc == QQ_OK && sock)
		rc = sock_job(&rq, &job);
	if (rc == QQ_OK)
		rc = load_config(cfile, &cfg, &job);
	if (rc == QQ_OK)
		rc = queue_run(&job);
	if (rc != QQ_OK)
		report(&job, rc, sock ? &rq : NULL);
	if (sock)
		sock_done(&rq, rc);
	qq_job_free(&job);
	conf_free(&cfg);
	return rc;
}
