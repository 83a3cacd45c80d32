/*
 * conf_files.c - --check-config: can the files the config names be read?
 *
 * What it is for: an admin who runs --check-config learns, as
 * "FILE:LINE: ..." like every other problem, that auth.passwd_file or
 * auth.sender_map names a file that cannot be read, before the first
 * AUTH fails with 454.  A value without '/' is a systemd credential
 * (LoadCredential=): read from $CREDENTIALS_DIRECTORY when that is
 * set (as in ExecStartPre= of the unit), else only noted, since the
 * file the service will see exists only inside the service.
 *
 * What it must never do: run on a normal load (only conf_check asks),
 * print a file's contents, or fail a config for a credential that
 * only the service manager can provide.
 */
#include "conf_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define FILE_PATH_MAX 4096

/* seen_line - the first line where a dotted key was set, 0 if never */
static int
seen_line(const struct parse_ctx *ctx, const char *key)
{
	size_t i;

	for (i = 0; i < ctx->n_seen; i++)
		if (strcmp(ctx->seen[i].key, key) == 0)
			return ctx->seen[i].line;
	return 0;
}

/* check_one - one file key: a note, an error, or nothing */
static void
check_one(struct parse_ctx *ctx, const char *key, const char *value, FILE *notes)
{
	char path[FILE_PATH_MAX];
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	int line = seen_line(ctx, key);
	int fd;

	if (!value || !value[0])
		return;
	if (strchr(value, '/') == NULL) {
		if (!dir || !dir[0]) {
			fprintf(notes,
			        "%s:%d: note: %s '%s' is a systemd credential; not checked here\n",
			        ctx->file, line, key, value);
			return;
		}
		if (bounded_format(path, sizeof(path), "%s/%s", dir, value) < 0) {
			ctx_error(ctx, line, "%s: $CREDENTIALS_DIRECTORY/%s: path too long", key,
			          value);
			return;
		}
	} else if (bounded_copy(path, sizeof(path), value) < 0) {
		ctx_error(ctx, line, "%s: path too long", key);
		return;
	}
	/* open, not access(): what the receiver will do, with our uid */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
		ctx_error(ctx, line, "%s: cannot read %s: %s", key, path, strerror(errno));
		return;
	}
	(void)close(fd);
}

void
conf_check_files(struct parse_ctx *ctx, const struct config *cfg, FILE *notes)
{
	check_one(ctx, "auth.passwd_file", cfg->auth.passwd_file, notes);
	check_one(ctx, "auth.sender_map", cfg->auth.sender_map, notes);
}

bool
conf_credential_unchecked(const char *value)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");

	return value && value[0] && strchr(value, '/') == NULL && (!dir || !dir[0]);
}
