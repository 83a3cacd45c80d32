/*
 * fuzz_queue_request.c - libFuzzer target for the request line a client
 * of mailout-queue --socket sends (queue/queue_sock.c), untrusted: any
 * local user may connect to the queue socket
 *
 * Invariants: no crash or undefined behaviour on any input; a line is
 * accepted only as exactly "mailout-queue/1\n" (no ID) or
 * "mailout-queue/1 -i ID\n" with an ID of valid syntax, which is then
 * the ID handed back; whatever is refused hands back no ID.
 * Must never write files or talk to the network.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail_spool.h"
#include "queue_sock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char plain[] = SOCK_MAGIC "\n", with_id[] = SOCK_MAGIC " -i ";
	const char *l = (const char *)data;
	char id[QUEUE_ID_LEN + 1];
	int r;

	if (size > SOCK_REQ_MAX)
		return 0; /* sock_recv never hands over more */
	r = sock_request_parse(l, size, id);
	if (r != 0) {
		if (id[0] != '\0')
			abort();
		return 0;
	}
	if (id[0] == '\0') {
		if (size != sizeof(plain) - 1 || memcmp(l, plain, size) != 0)
			abort();
		return 0;
	}
	if (!queue_id_valid(id) || strlen(id) != QUEUE_ID_LEN ||
	    size != sizeof(with_id) - 1 + QUEUE_ID_LEN + 1 ||
	    memcmp(l, with_id, sizeof(with_id) - 1) != 0 ||
	    memcmp(l + sizeof(with_id) - 1, id, QUEUE_ID_LEN) != 0 || l[size - 1] != '\n')
		abort();
	return 0;
}
