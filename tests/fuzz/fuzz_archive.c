/*
 * fuzz_archive.c - libFuzzer target for the archive inspection
 * (smtpd/scan_archive.c, through libarchive)
 *
 * Input: arbitrary bytes, taken as an attachment.  Invariants: no crash
 * or undefined behaviour; a verdict is one of the known kinds with
 * NUL-terminated, printable names; the decompression budget never goes
 * below zero and the entry count stays within SCAN_ENTRIES_MAX + 1.
 * libarchive is loaded once at start (the program links it too).
 * Must never write files or talk to the network.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LLVMFuzzerInitialize - libarchive into scan_arc (scan_arcload.c), as
 * mailout-scan's parent does before its second inspector */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (scan_arc_load() != RES_OK)
		abort();
	return 0;
}

/* printable - sanitised as scan_sanitize promises */
static int
printable(const char *s, size_t max)
{
	size_t n = strnlen(s, max), i;

	if (n == max)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '"')
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scan_verdict v;
	struct scan_ctx c;

	scan_ctx_init(&c, &v);
	c.outer = "fuzz.bin";
	(void)scan_archive(&c, data, size, "fuzz.bin", 1);
	if (v.kind < SCAN_CLEAN || v.kind > SCAN_TROUBLE || c.budget > SCAN_BUDGET ||
	    c.entries > SCAN_ENTRIES_MAX + 1 || !printable(v.name, sizeof(v.name)) ||
	    !printable(v.outer, sizeof(v.outer)) || !printable(v.why, sizeof(v.why)))
		abort();
	return 0;
}
