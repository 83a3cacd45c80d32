/*
 * log.c - logging to stderr, syslog or (structured) the journal
 *
 * What it is for: one line per event, in the shape admins know.  The
 * structured journal sink lives in log_journal.c (journald's native
 * protocol, without libsystemd) and is linked only into the programs
 * that call log_journal_enable(): the others' plain lines on stderr
 * still reach the journal as its stream.
 * What it must never do: log a password, or fail the caller when the
 * log itself cannot be written.
 */
#include "log.h"
#include "log_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include <sysexits.h>

#include "buf.h"

#define LOG_LINE_MAX 2048
#define LOG_FIELDS_MAX 16

static const char *progname = "mailout";
static int journal_mode = -1;
static int use_syslog;
static log_journal_sink journal_sink; /* NULL: plain lines only */

/* journal_stream - JOURNAL_STREAM's "DEVICE:INODE", as sscanf's
 * "%llu:%llu" reads it (without the cost of scanf, at every start under
 * systemd); -1 when it is not that */
static int
journal_stream(unsigned long long *dev, unsigned long long *ino)
{
	const char *js = getenv("JOURNAL_STREAM");
	char *end;

	if (!js)
		return -1;
	*dev = strtoull(js, &end, 10);
	if (end == js || *end != ':')
		return -1;
	js = end + 1;
	*ino = strtoull(js, &end, 10);
	return end == js ? -1 : 0;
}

/* stderr_is_client - inetd hands the connection over as fds 0, 1 and 2:
 * a log line on fd 2 would reach the client before the banner.  Then log
 * through syslog(3) (the journal's /dev/log on systemd hosts) and point
 * fd 2 at /dev/null so nothing else (a sanitizer report) can write there. */
static void
stderr_is_client(void)
{
	struct stat st;
	unsigned long long dev, ino;
	int fd;

	if (fstat(2, &st) < 0 || !S_ISSOCK(st.st_mode))
		return;
	if (journal_stream(&dev, &ino) == 0 && st.st_dev == dev && st.st_ino == ino)
		return;
	use_syslog = 1;
	openlog(progname, LOG_PID | LOG_NDELAY, LOG_MAIL);
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd >= 0 && dup2(fd, 2) < 0)
		syslog(LOG_WARNING, "unable to detach stderr from the client: %m");
	if (fd > 2)
		close(fd);
}

void
log_init(const char *name)
{
	const char *slash = strrchr(name, '/');

	progname = slash ? slash + 1 : name;
	stderr_is_client();
}

const char *
log_progname(void)
{
	return progname;
}

void
log_use_journal(int mode)
{
	journal_mode = mode;
}

void
log_set_journal_sink(log_journal_sink sink)
{
	journal_sink = sink;
}

/* stderr_is_journal - JOURNAL_STREAM names the device:inode of fd 2 */
static int
stderr_is_journal(void)
{
	unsigned long long dev, ino;
	struct stat st;

	if (journal_mode >= 0)
		return journal_mode;
	if (journal_stream(&dev, &ino) < 0)
		return journal_mode = 0;
	if (fstat(2, &st) < 0)
		return journal_mode = 0;
	journal_mode = (st.st_dev == dev && st.st_ino == ino);
	return journal_mode;
}

/* level_word - the "warning: " style prefix for stderr lines */
static const char *
level_word(int priority)
{
	switch (priority) {
	case LOG_CRIT:
		return "panic: ";
	case LOG_ERR:
		return "fatal: ";
	case LOG_WARNING:
		return "warning: ";
	default:
		return "";
	}
}

/* item_add - append s to a journal item, cut at LOG_LINE_MAX - 1 octets
 * as snprintf would cut it */
static void
item_add(struct iovec *v, const char *s)
{
	size_t len = strlen(s);

	if (len > LOG_LINE_MAX - 1 - v->iov_len)
		len = LOG_LINE_MAX - 1 - v->iov_len;
	memcpy((char *)v->iov_base + v->iov_len, s, len);
	v->iov_len += len;
}

/* item - "NAME=" a b into buf, as one journal item (b may be NULL); one
 * snprintf per item cost a session's log lines more than the lines */
static void
item(struct iovec *v, char *buf, const char *name_eq, const char *a, const char *b)
{
	v->iov_base = buf;
	v->iov_len = 0;
	item_add(v, name_eq);
	item_add(v, a);
	if (b)
		item_add(v, b);
}

/* emit - write one formatted line to the journal or stderr */
static void
emit(int priority, const struct log_field *fields, size_t nfields, const char *text)
{
	struct iovec iov[LOG_FIELDS_MAX + 3];
	char items[LOG_FIELDS_MAX + 3][LOG_LINE_MAX], prio[16];
	size_t n, i;

	if (use_syslog) {
		syslog(priority, "%s%s", level_word(priority), text);
		return;
	}
	if (journal_sink == NULL || !stderr_is_journal()) {
		fprintf(stderr, "%s: %s%s\n", progname, level_word(priority), text);
		return;
	}
	(void)snprintf(prio, sizeof(prio), "%d", priority);
	item(&iov[0], items[0], "MESSAGE=", level_word(priority), text);
	item(&iov[1], items[1], "PRIORITY=", prio, NULL);
	item(&iov[2], items[2], "SYSLOG_IDENTIFIER=", progname, NULL);
	for (n = 3, i = 0; i < nfields && i < LOG_FIELDS_MAX; i++) {
		if (fields[i].value == NULL)
			continue;
		item(&iov[n], items[n], fields[i].name, "=", fields[i].value);
		n++;
	}
	if (journal_sink(iov, (int)n) < 0)
		fprintf(stderr, "%s: %s%s\n", progname, level_word(priority), text);
}

static void
vlog(int priority, const struct log_field *fields, size_t nfields, const char *suffix,
     const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t len;

	vsnprintf(line, sizeof(line), fmt, ap);
	if (suffix) {
		len = strlen(line);
		snprintf(line + len, sizeof(line) - len, ": %s", suffix);
	}
	emit(priority, fields, nfields, line);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, NULL, 0, NULL, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, NULL, 0, NULL, fmt, ap);
	va_end(ap);
}

void
log_warn_errno(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vlog(LOG_WARNING, NULL, 0, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, NULL, 0, NULL, fmt, ap);
	va_end(ap);
	exit(EX_TEMPFAIL);
}

void
log_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, NULL, 0, NULL, fmt, ap);
	va_end(ap);
	exit(EX_SOFTWARE);
}

void
log_fields_text(int priority, const struct log_field *fields, size_t nfields, const char *text)
{
	char line[LOG_LINE_MAX];

	(void)bounded_copy(line, sizeof(line), text); /* cut where vlog cuts */
	emit(priority, fields, nfields, line);
}

void
log_fields(int priority, const struct log_field *fields, size_t nfields, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(priority, fields, nfields, NULL, fmt, ap);
	va_end(ap);
}
