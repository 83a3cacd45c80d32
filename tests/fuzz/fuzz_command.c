/*
 * fuzz_command.c - libFuzzer target for the receiver's command parsing
 *
 * The input is a client's byte stream.  It is cut into command lines
 * with smtp_line_take (the first byte of the input picks the piece size
 * the stream arrives in, so the line state is fuzzed across pieces),
 * and every line goes through the verb parser and, by verb, the MAIL,
 * RCPT and BDAT parsers and the sanitiser.
 * Invariants: no crash or undefined behaviour; a line is at most
 * SMTP_LINE_MAX octets and holds no LF; every octet is used exactly
 * once; arguments lie inside their line; a refusal always has a 5xx
 * code; sanitised text is visible ASCII only.
 * Must never write files or talk to the network.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_reply - a refusal carries a permanent code and a status code */
static void
check_reply(enum result res, const struct reply *r)
{
	if (res == RES_OK)
		return;
	if (res != RES_PERM || r->code < 500 || r->code > 599 || r->esc == NULL)
		abort();
}

/* one_line - every parser over one command line */
static void
one_line(const char *line, size_t len)
{
	struct smtp_cmd c;
	struct mail_addr a;
	struct mail_params p;
	struct reply r;
	uint64_t n;
	bool last;
	char out[SMTP_LINE_MAX];
	size_t i;

	if (len > SMTP_LINE_MAX || memchr(line, '\n', len) != NULL)
		abort();
	smtp_cmd_parse(line, len, &c);
	if (c.arg < line || c.arg + c.arg_len > line + len)
		abort();
	if (c.verb == V_MAIL || c.verb == V_UNKNOWN)
		check_reply(smtp_parse_mail(c.arg, c.arg_len, &a, &p, &r), &r);
	if (c.verb == V_RCPT || c.verb == V_UNKNOWN)
		check_reply(smtp_parse_rcpt(c.arg, c.arg_len, &a, &r), &r);
	if (c.verb == V_BDAT || c.verb == V_UNKNOWN)
		check_reply(smtp_parse_bdat(c.arg, c.arg_len, &n, &last, &r), &r);
	smtp_sanitize(line, len, out, sizeof(out));
	for (i = 0; out[i]; i++)
		if (out[i] < 0x21 || out[i] > 0x7e)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct line_state st = {false};
	const char *in;
	size_t off = 0, avail, len, used, piece, total = 0;
	enum line_status ls;

	if (size == 0)
		return 0;
	piece = (size_t)data[0] + 1;
	in = (const char *)data + 1;
	size--;
	avail = 0;
	while (off < size) {
		/* the client's octets arrive piece by piece */
		avail = avail + piece < size - off ? avail + piece : size - off;
		ls = smtp_line_take(&st, in + off, avail, SMTP_LINE_MAX, &len, &used);
		if (used > avail)
			abort();
		if (ls == LINE_OK)
			one_line(in + off, len);
		off += used;
		avail -= used;
		total += used;
		if (used == 0 && ls == LINE_MORE && avail == size - off)
			break; /* an unfinished last line */
	}
	if (total > size)
		abort();
	return 0;
}
