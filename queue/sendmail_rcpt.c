/*
 * sendmail_rcpt.c - mailout-sendmail's recipients: arguments and -t
 *
 * What it is for: turning "root", "alice@example.org, bob" and the
 * To:/Cc:/Bcc: headers (-t) into a checked, qualified, duplicate-free
 * recipient list.  Like Postfix, each argument is parsed as an address
 * list, since some programs pass "a@x, b@y" or "Name <a@x>".
 * What it must never do: pass an address mail_addr does not accept, or
 * one the spool cannot carry (addr_fits_envelope), to the queue, or
 * leave a Bcc: header in a message sent with -t.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sendmail.h"

void
sm_rcpts_free(struct sm_rcpts *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->v[i]);
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

/* sm_check_address - -1: not a qualified address; -2: an address, but
 * the spool cannot carry it (addr_fits_envelope: a quoted local part
 * with < or >), which mailout-queue would refuse only at the end */
int
sm_check_address(const char *addr)
{
	struct mail_addr a;
	struct reply err;

	if (addr_parse_mailbox(addr, strlen(addr), &a, &err) != RES_OK)
		return -1;
	if (a.null || a.domain[0] == '\0')
		return -1;
	return addr_fits_envelope(&a) ? 0 : -2;
}

/* rcpt_add - append unless already there (domains are case-insensitive,
 * and so, in practice, are local parts) */
static enum result
rcpt_add(struct sm_rcpts *r, const char *addr, char *err, size_t errsize)
{
	char **nv;
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcasecmp(r->v[i], addr) == 0)
			return RES_OK;
	if (r->n >= SM_RCPT_MAX) {
		(void)bounded_format(err, errsize, "more than %d recipients", SM_RCPT_MAX);
		return RES_PERM;
	}
	if ((nv = realloc(r->v, (r->n + 1) * sizeof(*r->v))) == NULL)
		return RES_TEMP;
	r->v = nv;
	if ((r->v[r->n] = strdup(addr)) == NULL)
		return RES_TEMP;
	r->n++;
	return RES_OK;
}

enum result
sm_add_recipients(const struct rewrite *rw, const char *list, size_t len, struct sm_rcpts *r,
                  char *err, size_t errsize)
{
	struct addrlist_item it;
	char q[ADDR_PATH_MAX + 1];
	size_t pos = 0;
	enum result res;
	int rc = 0;

	while (addrlist_next(list, len, &pos, &it)) {
		if (it.bad || rewrite_address(rw, REWRITE_RECIPIENT, it.addr, q, sizeof(q)) < 0 ||
		    (rc = sm_check_address(q)) < 0) {
			(void)bounded_format(
			    err, errsize, "%s: %.*s",
			    rc == -2 ? "recipient address not accepted (a local part with < or > "
			               "cannot be queued)"
			             : "bad recipient address",
			    (int)(it.len > 200 ? 200 : it.len), list + it.off);
			return RES_PERM;
		}
		if ((res = rcpt_add(r, q, err, errsize)) != RES_OK)
			return res;
	}
	return RES_OK;
}

enum result
sm_extract_recipients(const struct rewrite *rw, struct sm_message *m, struct sm_rcpts *r, char *err,
                      size_t errsize)
{
	struct sm_field *f;
	enum rewrite_mode mode;
	enum result res;
	unsigned flags;
	size_t i;

	for (i = 0; i < m->nf; i++) {
		f = &m->f[i];
		flags = rewrite_field_flags(m->hdr.s + f->off, f->name_len, &mode);
		if ((flags & REWRITE_FIELD_RCPT) == 0)
			continue;
		res = sm_add_recipients(rw, m->hdr.s + f->off + f->name_len + 1,
		                        f->len - f->name_len - 1, r, err, errsize);
		if (res != RES_OK)
			return res;
		/* Bcc: names recipients the others must not see */
		if ((flags & REWRITE_FIELD_ADDRS) == 0)
			f->drop = true;
	}
	return RES_OK;
}

_Static_assert(RES_OK == 0, "RES_OK must be enum result's");
