/*
 * conf_prescan.c - the raw text of a configuration, before libconfuse
 * sees it: comments, blanks, ${VAR}, what libconfuse 3.3 miscounts
 *
 * What it is for: libconfuse counts a line comment as three lines and
 * accepts a section or a string left open at the end of the file; it
 * also puts the environment into the config wherever it meets ${VAR}.
 * So the text is handed to it without comments (each becomes one
 * space; the newlines of a block comment stay, so FILE:LINE stays
 * right), ${VAR} outside single quotes is refused, and what is left
 * open at the end is reported with the line where it began.  Runs of
 * blanks outside strings become one space too: libconfuse's lexer
 * costs per octet, and the commented example config is three quarters
 * comments and indentation.
 * What it must never do: change a token.  Strings are copied as they
 * are (escapes included), and a token is never joined to its
 * neighbour: whatever separated two tokens still does, as one space.
 */
#include "conf_int.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Where the pre-scan is in the text. */
struct scan {
	char q; /* inside '"', '\'', '#' (to end of line), '*' (block comment) */
	int line, qline; /* now; where q began */
	int depth, open[16]; /* braces, and the lines of the open ones */
	char *w; /* where the next octet kept goes (never past the one read) */
	const char *start; /* the text's first octet */
};

/* The octets that end a run of plain text (outside strings and
 * comments), the end of the text among them.  A loop over this table
 * costs less than strcspn for the short runs a config is made of. */
static const bool plain_stop[256] = {
    [0] = true,   [' '] = true, ['\t'] = true, ['\n'] = true, ['"'] = true, ['\''] = true,
    ['#'] = true, ['/'] = true, ['$'] = true,  ['{'] = true,  ['}'] = true,
};

/* put - keep one octet */
static void
put(struct scan *sc, char c)
{
	*sc->w++ = c;
}

/* put_space - a separator, unless one was just kept */
static void
put_space(struct scan *sc)
{
	if (sc->w == sc->start || sc->w[-1] != ' ')
		*sc->w++ = ' ';
}

/* scan_brace - count braces outside strings and comments; remember the
 * lines of top-level '{' (where sections start) */
static void
scan_brace(struct scan *sc, char c, struct parse_ctx *ctx)
{
	int *n;

	if (c == '}' && sc->depth > 0) {
		sc->depth--;
		return;
	}
	if (c != '{')
		return;
	if (sc->depth < 16)
		sc->open[sc->depth] = sc->line;
	if (sc->depth++ > 0)
		return;
	if (ctx->n_opens == ctx->cap_opens) {
		size_t cap = ctx->cap_opens ? ctx->cap_opens * 2 : 16;

		n = reallocarray(ctx->opens, cap, sizeof(*n));
		if (!n)
			return; /* lines of sections get less precise, nothing worse */
		ctx->opens = n;
		ctx->cap_opens = cap;
	}
	ctx->opens[ctx->n_opens++] = sc->line;
}

/* scan_end - what is still open at the end of the text */
static void
scan_end(const struct scan *sc, struct parse_ctx *ctx)
{
	if (sc->q == '"' || sc->q == '\'')
		ctx_error(ctx, sc->qline, "string never closed (missing %c)", sc->q);
	else if (sc->q == '*')
		ctx_error(ctx, sc->qline, "comment never closed (missing */)");
	else if (sc->depth > 0)
		ctx_error(ctx, sc->open[sc->depth > 16 ? 15 : sc->depth - 1],
		          "'{' never closed (missing '}')");
}

/* begin - a string or a comment starts at r; returns where its inside
 * starts.  A comment leaves one space in its place. */
static const char *
begin(struct scan *sc, const char *r)
{
	size_t len = *r == '/' ? 2 : 1;

	sc->qline = sc->line;
	if (*r == '"' || *r == '\'') {
		sc->q = *r;
		put(sc, *r);
		return r + 1;
	}
	sc->q = *r == '#' || r[1] == '/' ? '#' : '*';
	put_space(sc); /* after the last look at r: it may write there */
	return r + len;
}

/* plain - outside strings and comments: a run of ordinary octets, a run
 * of blanks (one space), or one octet that matters */
static const char *
plain(struct scan *sc, const char *r, struct parse_ctx *ctx)
{
	if (!plain_stop[(unsigned char)*r]) {
		do
			put(sc, *r++);
		while (!plain_stop[(unsigned char)*r]);
		return r;
	}
	switch (*r) {
	case ' ':
	case '\t':
		put_space(sc);
		while (*r == ' ' || *r == '\t')
			r++;
		return r;
	case '"':
	case '\'':
	case '#':
		return begin(sc, r);
	case '/':
		if (r[1] == '/' || r[1] == '*')
			return begin(sc, r);
		break;
	case '$':
		if (r[1] == '{')
			ctx_error(ctx, sc->line,
			          "${...} (environment substitution) is not allowed");
		break;
	case '\n':
		sc->line++;
		break;
	default: /* '{', '}' */
		scan_brace(sc, *r, ctx);
		break;
	}
	put(sc, *r);
	return r + 1;
}

/* comment - inside a comment, which keeps only its newlines; a line
 * comment ends before its newline, which plain() then keeps */
static const char *
comment(struct scan *sc, const char *r)
{
	const char *nl;

	if (sc->q == '#') {
		if ((nl = strchr(r, '\n')) == NULL)
			return r + strlen(r);
		sc->q = 0;
		return nl;
	}
	for (; *r; r++) {
		if (*r == '\n') {
			sc->line++;
			put(sc, '\n');
		} else if (r[0] == '*' && r[1] == '/') {
			sc->q = 0;
			return r + 2;
		}
	}
	return r;
}

/* quoted - inside a string (begin() just kept its quote), copied as it
 * is: an escaped octet (but an escaped newline) is stepped over, so it
 * cannot end the string.  A double-quoted string without '\\', '\''
 * or '$' means the same in single quotes, where libconfuse's lexer takes
 * it in runs instead of one rule per octet: it is handed over so. */
static const char *
quoted(struct scan *sc, const char *r, struct parse_ctx *ctx)
{
	char *open = sc->w - 1;
	bool requote = sc->q == '"';

	for (; *r && *r != sc->q; r++) {
		if (*r == '\\' || *r == '\'' || *r == '$')
			requote = false;
		if (*r == '\\' && r[1] && r[1] != '\n') {
			put(sc, *r++);
		} else if (*r == '\n') {
			sc->line++;
		} else if (*r == '$' && r[1] == '{' && sc->q == '"') {
			ctx_error(ctx, sc->line,
			          "${...} (environment substitution) is not allowed");
		}
		put(sc, *r);
	}
	if (*r) {
		sc->q = 0;
		if (requote)
			*open = '\'';
		put(sc, requote ? '\'' : *r);
		r++;
	}
	return r;
}

void
conf_prescan(char *s, struct parse_ctx *ctx)
{
	struct scan sc = {0, 1, 0, 0, {0}, s, s};
	const char *r = s;

	while (*r) {
		if (sc.q == 0)
			r = plain(&sc, r, ctx);
		else if (sc.q == '#' || sc.q == '*')
			r = comment(&sc, r);
		else
			r = quoted(&sc, r, ctx);
	}
	*sc.w = '\0';
	scan_end(&sc, ctx);
}
