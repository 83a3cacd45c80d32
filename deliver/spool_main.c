/*
 * spool_main.c - mailout-spool: the admin's view of the spool
 *
 * Usage: mailout-spool [-c FILE] list [--json]
 *        mailout-spool [-c FILE] show ID
 *        mailout-spool [-c FILE] delete|hold|release|retry ID...
 *        mailout-spool [-c FILE] stats [--json|--prometheus]
 *
 * Exit codes (sysexits.h): 0 done; 64 usage (also --help, checked
 * before the configuration or the spool is opened); 66 no such message;
 * 74 I/O error; 75 busy (being delivered) or the spool unreadable now;
 * 78 bad configuration.
 *
 * SECURITY: run by the admin (root or the spool's owner) and by
 * mailout-sendmail -bp; it is not set-id.  Everything it reads from the
 * spool is treated as untrusted text: IDs must match the queue-ID
 * syntax (no path can be named), files are opened with O_NOFOLLOW, and
 * strings are escaped before they reach JSON.  It changes the spool
 * only under mailout-deliver's per-message lock (see spool_act.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "log_journal.h"
#include "spool.h"

/* usage - exit 64 */
static int
usage(void)
{
	fprintf(stderr, "usage: mailout-spool [-c FILE] list [--json] | show ID | "
	                "delete|hold|release|retry ID... | stats [--json|--prometheus]\n");
	return EX_USAGE;
}

/* emit - write b to stdout and empty it */
static int
emit(struct buf *b)
{
	int r = b->len > 0 && fwrite(b->s, 1, b->len, stdout) != b->len ? -1 : 0;

	buf_reset(b);
	return r;
}

/* all_ids - every ID with its state, sorted by ID (time) */
struct entry {
	char *id;
	enum spool_state where;
};

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->id, ((const struct entry *)b)->id);
}

static int
all_ids(const struct spool_dirs *d, struct entry **out, size_t *n)
{
	struct entry *v = NULL, *nv;
	char **ids;
	size_t k, i, total = 0;
	int s;

	for (s = 0; s < SPOOL_NSTATES; s++) {
		if (spool_ids(d, (enum spool_state)s, &ids, &k) < 0)
			goto fail;
		if ((nv = realloc(v, (total + k + 1) * sizeof(*v))) == NULL) {
			spool_ids_free(ids, k);
			goto fail;
		}
		v = nv;
		for (i = 0; i < k; i++)
			v[total++] = (struct entry){ids[i], (enum spool_state)s};
		free(ids);
	}
	if (total > 0)
		qsort(v, total, sizeof(*v), entry_cmp);
	*out = v;
	*n = total;
	return 0;
fail:
	for (i = 0; i < total; i++)
		free(v[i].id);
	free(v);
	return -1;
}

/* walk - list or stats: every message loaded once */
static int
walk(const struct spool_dirs *d, int mode, int json, struct spool_stats *st)
{
	struct buf out = BUF_INIT(0);
	struct spool_msg m;
	struct entry *v;
	size_t n, i;
	int code = EX_OK;

	if (all_ids(d, &v, &n) < 0)
		return EX_TEMPFAIL;
	if (mode == 0 && !json && buf_appends(&out, spool_row_header()) < 0)
		code = EX_SOFTWARE;
	for (i = 0; i < n; i++) {
		enum result r = spool_msg_load(d, v[i].where, v[i].id, &m);

		if (r == RES_OK && mode == 0 &&
		    (json ? spool_format_json(&m, &out) : spool_format_row(&m, &out)) < 0)
			code = EX_SOFTWARE;
		if (r == RES_OK && mode == 1) {
			st->count[m.where]++;
			st->bytes += m.size;
			if (!m.bad && (st->oldest == 0 || m.env.queued_at < st->oldest))
				st->oldest = m.env.queued_at;
		}
		if (r == RES_TEMP)
			code = EX_TEMPFAIL;
		spool_msg_free(&m);
		free(v[i].id);
		if (emit(&out) < 0)
			code = EX_IOERR;
	}
	free(v);
	buf_free(&out);
	return code;
}

/* stats - counts, age, counters */
static int
stats(const struct spool_dirs *d, int json)
{
	struct spool_stats st;
	struct buf out = BUF_INIT(0);
	int code;

	memset(&st, 0, sizeof(st));
	code = walk(d, 1, json, &st);
	spool_counters_read(d, &st.counters);
	if (spool_format_stats(&st, (int64_t)time(NULL), json, &out) < 0 || emit(&out) < 0)
		code = EX_IOERR;
	buf_free(&out);
	return code;
}

/* show_rcpt - "Recipient-Status: <a> status reply", then, when known,
 * "Recipient-Relay: <a> host[addr]:port (gateway|local)" */
static int
show_rcpt(struct buf *out, const struct state_rcpt *r)
{
	if (buf_printf(out, "Recipient-Status: <%s> %s %s\n", r->addr, state_status_name(r->status),
	               r->reply) < 0)
		return -1;
	if (!r->relay[0] && r->origin == ORIGIN_UNKNOWN)
		return 0;
	return buf_printf(out, "Recipient-Relay: <%s> %s (%s)\n", r->addr,
	                  r->relay[0] ? r->relay : "none", state_origin_name(r->origin));
}

/* show - state, then the spool file as it is */
static int
show(const struct spool_dirs *d, const char *id)
{
	struct buf out = BUF_INIT(0);
	struct spool_msg m;
	enum spool_state where;
	size_t i;
	int code = EX_OK;

	if (spool_find(d, id, &where) < 0 || spool_msg_load(d, where, id, &m) != RES_OK) {
		log_warn("%s: no such message in the spool", id);
		return EX_NOINPUT;
	}
	if (buf_printf(&out, "State: %s\nAttempts: %u\nNext-Attempt: %lld\n",
	               spool_state_name(where), m.st.attempts, (long long)m.st.next_attempt) < 0)
		code = EX_SOFTWARE;
	for (i = 0; i < m.st.n_rcpts && code == EX_OK; i++)
		if (show_rcpt(&out, &m.st.rcpts[i]) < 0)
			code = EX_SOFTWARE;
	if (emit(&out) < 0 || fflush(stdout) != 0)
		code = EX_IOERR;
	spool_msg_free(&m);
	buf_free(&out);
	if (code == EX_OK && spool_cat(d, where, id, STDOUT_FILENO) < 0)
		code = EX_IOERR;
	return code;
}

/* act_all - one action on each ID; the worst exit code wins */
static int
act_all(const struct spool_dirs *d, enum spool_action a, char **ids, int n)
{
	char msg[256];
	int i, code, worst = EX_OK;

	for (i = 0; i < n; i++) {
		code = spool_act(d, a, ids[i], (int64_t)time(NULL), msg, sizeof(msg));
		if (code == EX_OK)
			printf("%s\n", msg);
		else
			log_warn("%s", msg);
		if (code > worst)
			worst = code;
	}
	return worst;
}

/* The command line, checked in full before the spool is opened, so a
 * mistyped command says "usage" (64) wherever it is run. */
enum command { CMD_LIST, CMD_STATS, CMD_SHOW, CMD_ACT };

struct cmdline {
	const char *conf; /* -c FILE, or NULL */
	enum command cmd;
	int format; /* list: 0 table, 1 JSON; stats: 0 text, 1 JSON, 2 Prometheus */
	enum spool_action act;
	char **ids; /* show, actions */
	int n_ids;
};

/* is_option - an argument that looks like an option ("-" alone is not) */
static bool
is_option(const char *a)
{
	return a[0] == '-' && a[1] != '\0';
}

/* parse_format - list/stats' one optional option; -1 when not known */
static int
parse_format(enum command cmd, int argc, char **argv)
{
	if (argc == 0)
		return 0;
	if (argc > 1)
		return -1;
	if (strcmp(argv[0], "--json") == 0)
		return 1;
	if (cmd == CMD_STATS && strcmp(argv[0], "--prometheus") == 0)
		return 2;
	return -1;
}

/* parse_command - the command and its arguments; -1: usage */
static int
parse_command(int argc, char **argv, struct cmdline *cl)
{
	static const struct {
		const char *name;
		enum spool_action a;
	} acts[] = {{"delete", ACT_DELETE},
	            {"hold", ACT_HOLD},
	            {"release", ACT_RELEASE},
	            {"retry", ACT_RETRY}};
	const char *cmd = argv[0];
	size_t i;
	int k;

	argc--, argv++;
	if (strcmp(cmd, "list") == 0 || strcmp(cmd, "stats") == 0) {
		cl->cmd = cmd[0] == 'l' ? CMD_LIST : CMD_STATS;
		return (cl->format = parse_format(cl->cmd, argc, argv)) < 0 ? -1 : 0;
	}
	for (k = 0; k < argc; k++)
		if (is_option(argv[k])) /* queue IDs never start with "-" */
			return -1;
	cl->ids = argv;
	cl->n_ids = argc;
	if (strcmp(cmd, "show") == 0) {
		cl->cmd = CMD_SHOW;
		return argc == 1 ? 0 : -1;
	}
	for (i = 0; i < sizeof(acts) / sizeof(acts[0]); i++)
		if (strcmp(cmd, acts[i].name) == 0) {
			cl->cmd = CMD_ACT;
			cl->act = acts[i].a;
			return argc >= 1 ? 0 : -1;
		}
	return -1;
}

/* parse_args - options, then the command; -1: usage (--help too) */
static int
parse_args(int argc, char **argv, struct cmdline *cl)
{
	int i = 1;

	memset(cl, 0, sizeof(*cl));
	while (i < argc && is_option(argv[i])) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			cl->conf = argv[i + 1], i += 2;
		else if (strncmp(argv[i], "-c", 2) == 0 && argv[i][2] != '\0')
			cl->conf = argv[i] + 2, i++;
		else
			return -1; /* --help, -h, anything unknown */
	}
	if (i >= argc)
		return -1;
	return parse_command(argc - i, argv + i, cl);
}

/* run - the checked command on the open spool */
static int
run(const struct spool_dirs *d, const struct cmdline *cl)
{
	switch (cl->cmd) {
	case CMD_LIST:
		return walk(d, 0, cl->format, NULL);
	case CMD_STATS:
		return stats(d, cl->format);
	case CMD_SHOW:
		return show(d, cl->ids[0]);
	case CMD_ACT:
		return act_all(d, cl->act, cl->ids, cl->n_ids);
	}
	return EX_SOFTWARE;
}

int
main(int argc, char **argv)
{
	struct cmdline cl;
	struct spool_dirs d;
	struct config cfg;
	enum result r;
	int code;

	log_init("mailout-spool");
	log_journal_enable();
	if (parse_args(argc, argv, &cl) < 0)
		return usage();
	if ((r = conf_load(conf_path(cl.conf), &cfg, stderr)) != RES_OK)
		return r == RES_PERM ? EX_CONFIG : EX_TEMPFAIL;
	if (spool_open(cfg.spool, &d) != RES_OK) {
		log_warn_errno("unable to open the spool %s", cfg.spool);
		conf_free(&cfg);
		return EX_TEMPFAIL;
	}
	code = run(&d, &cl);
	spool_close(&d);
	conf_free(&cfg);
	if (fflush(stdout) != 0 && code == EX_OK)
		code = EX_IOERR;
	return code;
}
