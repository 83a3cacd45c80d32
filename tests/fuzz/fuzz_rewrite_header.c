/*
 * fuzz_rewrite_header.c - libFuzzer target for header-field rewriting
 * as the receiver does it for rewrite = true (smtpd_data.c): the held
 * header section is cut between whole fields (field_cut_scan) and each
 * cut goes through smtpd_rewrite_fields, i.e. rewrite_header_field,
 * the table mailout-sendmail uses too.
 *
 * Input: one byte picks the size of the pieces the section arrives in,
 * the rest is canonical content, read up to the end of its header
 * section (a blank line).
 * Invariants: no crash or undefined behaviour; every cut falls at the
 * start of a field and never moves back; cutting in pieces gives what
 * rewriting the section at once gives; the output grows by at most one
 * address per rewritten address; it holds as many fields as the input,
 * each with the same name, and no new line starts; rewriting the
 * output again changes nothing.
 * Must never write files or talk to the network.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mail_rewrite.h"
#include "smtpd.h"

#define INPUT_MAX ((size_t)64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* no chains: no value is a key or in a local domain, so a second pass
 * has nothing left to do */
static const char MAP[] = "root admin@example.org\n"
                          "www-data@host.local webmaster@example.org\n"
                          "cron@elsewhere.test jobs@example.org\n";

/* field_start - a field starts at i: the first octet, or after a line
 * end, at an octet that does not continue the line before */
static bool
field_start(const char *s, size_t n, size_t i)
{
	if (i == 0 || i >= n)
		return i == 0;
	return s[i - 1] == '\n' && s[i] != ' ' && s[i] != '\t';
}

/* count_fields - field starts in s; the names (up to ':') must match
 * those of other (NULL: do not compare) */
static size_t
count_fields(const char *s, size_t n, const char *other, size_t on)
{
	size_t i, j = 0, k, fields = 0;

	for (i = 0; i < n; i++) {
		if (!field_start(s, n, i))
			continue;
		fields++;
		if (other == NULL)
			continue;
		while (j < on && !field_start(other, on, j))
			j++;
		for (k = 0; i + k < n && j + k < on && s[i + k] != ':' && s[i + k] != '\n'; k++)
			if (s[i + k] != other[j + k])
				__builtin_trap();
		j++;
	}
	return fields;
}

/* in_pieces - what the receiver sends: pieces held, whole fields cut
 * off and rewritten as they come, the rest at the end of the section */
static int
in_pieces(const struct rewrite *rw, const char *s, size_t n, size_t step, struct buf *out)
{
	struct field_cut fc;
	size_t got = 0, done = 0, cut, piece;
	int r, changed = 0;

	field_cut_init(&fc);
	while (got < n) {
		piece = n - got < step ? n - got : step;
		got += piece;
		cut = field_cut_scan(&fc, s + done, got - done);
		if (cut > got - done || !field_start(s, n, done + cut))
			__builtin_trap();
		if ((r = smtpd_rewrite_fields(rw, s + done, cut, out)) < 0)
			__builtin_trap();
		changed += r;
		field_cut_consume(&fc, cut);
		done += cut;
	}
	if ((r = smtpd_rewrite_fields(rw, s + done, n - done, out)) < 0)
		__builtin_trap();
	return changed + r;
}

/* section_len - the header section: up to and without its blank line */
static size_t
section_len(const char *s, size_t n)
{
	size_t i;

	if (n > 0 && s[0] == '\n')
		return 0;
	for (i = 1; i < n; i++)
		if (s[i] == '\n' && s[i - 1] == '\n')
			return i;
	return n;
}

/* check - the invariants for one section */
static void
check(const struct rewrite *rw, const char *s, size_t n, size_t step)
{
	struct buf whole = BUF_INIT(0), pieces = BUF_INIT(0), again = BUF_INIT(0);
	int changed, r;

	changed = smtpd_rewrite_fields(rw, s, n, &whole);
	if (changed < 0 || in_pieces(rw, s, n, step, &pieces) != changed)
		__builtin_trap();
	if (pieces.len != whole.len ||
	    memcmp(pieces.s ? pieces.s : "", whole.s ? whole.s : "", whole.len) != 0)
		__builtin_trap();
	if (whole.len > n + (size_t)changed * ADDR_PATH_MAX || (changed == 0 && whole.len != n))
		__builtin_trap();
	if (count_fields(whole.s, whole.len, s, n) != count_fields(s, n, NULL, 0))
		__builtin_trap();
	r = smtpd_rewrite_fields(rw, whole.s ? whole.s : "", whole.len, &again);
	if (r != 0 || again.len != whole.len ||
	    memcmp(again.s ? again.s : "", whole.s ? whole.s : "", whole.len) != 0)
		__builtin_trap();
	buf_free(&whole);
	buf_free(&pieces);
	buf_free(&again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rewrite rw;
	static bool ready;
	const char *s = (const char *)data + 1;

	if (size < 1 || size - 1 > INPUT_MAX)
		return 0;
	if (!ready) {
		rewrite_init(&rw);
		if (rewrite_set_domain(&rw, "example.org") < 0 ||
		    rewrite_add_host(&rw, "relay.test.example") < 0 ||
		    rewrite_map_parse(&rw, MAP, sizeof(MAP) - 1, "map", NULL) != 0)
			__builtin_trap();
		ready = true;
	}
	check(&rw, s, section_len(s, size - 1), (size_t)(data[0] % 61) + 1);
	return 0;
}
