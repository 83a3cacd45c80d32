/*
 * deliver.h - mailout-deliver's modules and what they share
 *
 *   deliver_run.c      the run: scan the spool, workers, watchdog
 *   deliver_msg.c      one message: lock, attempt, record, move
 *   deliver_bounce.c   bounces and delay warnings through mailout-queue
 *   deliver_smtp.c     the SMTP dialogue with the gateway
 *   deliver_conn.c     a connection: sockets, TLS, timeouts
 *   deliver_dns.c      finding the gateway's addresses (MX, A, AAAA; lib/dns.h)
 */
#ifndef MAILOUT_DELIVER_H
#define MAILOUT_DELIVER_H

#include <netdb.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "buf.h"
#include "conf.h"
#include "mail_dsn.h"
#include "mail_spool_read.h"
#include "mail_state.h"
#include "result.h"
#include "smtp_client.h"

/* RFC 5321 4.5.3.2 timeouts, seconds, scaled from gateway.command_timeout */
struct deliver_timeouts {
	unsigned connect; /* not in the RFC; Postfix's 30s */
	unsigned greeting, ehlo, mail, rcpt, data_init, data_block, data_done;
};

struct deliver_ctx {
	const struct config *cfg;
	bool flush, verbose;
	int spool, dir_new, dir_deferred, dir_hold, dir_state, dir_tmp;
	time_t deadline; /* watchdog: take no new message after this */
	struct deliver_timeouts to;
	SSL_CTX *ssl; /* NULL when gateway.tls = none */
	char password[512]; /* gateway.password_file's first line */
	bool password_ok;
	struct mail_counters tally; /* outcomes not yet added to SPOOL/counters */
	time_t tally_time; /* when they were last added */
};

extern volatile sig_atomic_t deliver_stop; /* SIGTERM/SIGINT seen */

/* deliver_run - attempt every due message; returns an exit code */
int deliver_run(struct deliver_ctx *ctx);
/* deliver_tally_flush - add ctx->tally to SPOOL/counters (every few
 * seconds, or now when force); a failure is logged and kept for later */
void deliver_tally_flush(struct deliver_ctx *ctx, bool force);
/* mailout-deliver's run limit: no new message is taken after it */
#define DELIVER_RUN_LIMIT 3600
/* deliver_timeouts_init - RFC 5321 4.5.3.2's values, scaled from base
 * (gateway.command_timeout, the RFC's 5 minutes) */
void deliver_timeouts_init(struct deliver_timeouts *to, unsigned base);

/* --- deliver_conn.c --- */
struct conn {
	int fd;
	SSL *ssl;
	struct buf in, out;
	bool tls;
	char tls_info[128]; /* "TLSv1.3 TLS_AES_256_GCM_SHA384" */
	char err[256]; /* why the last operation failed */
};

void conn_init(struct conn *c);
void conn_close(struct conn *c);
/* conn_connect - TCP connect with a timeout; -1 with c->err */
int conn_connect(struct conn *c, const struct sockaddr *sa, socklen_t len, unsigned timeout);
/* conn_flush - write c->out; -1 with c->err */
int conn_flush(struct conn *c, unsigned timeout);
/* conn_reply - read one reply; -1 with c->err (timeout, EOF, garbage) */
int conn_reply(struct conn *c, struct smtp_reply *r, unsigned timeout);
/* conn_starttls - handshake as a client; checks per ctx->cfg; -1 with c->err */
int conn_starttls(struct conn *c, const struct deliver_ctx *ctx, const char *host,
                  unsigned timeout);
/* conn_tls_ctx - the SSL_CTX for gateway.tls; NULL with why on error */
SSL_CTX *conn_tls_ctx(const struct config *cfg, char *why, size_t whysize);

/* --- deliver_dns.c --- */
#define GW_ADDRS_MAX 16
struct gw_addr {
	char host[256]; /* the name we connect to (MX exchange or server) */
	struct sockaddr_storage sa;
	socklen_t salen;
};

/* dns_resolve - the addresses of one gateway server, in order; RES_TEMP
 * with a reason when none (DNS trouble is never permanent) */
enum result dns_resolve(const struct config *cfg, const struct conf_server *srv,
                        struct gw_addr *out, size_t max, size_t *n, char *why, size_t whysize);

/* --- deliver_smtp.c --- */
struct gw_session {
	struct conn c;
	bool up; /* connected, greeted, ready for MAIL */
	bool dead; /* every server failed in this run: defer at once */
	struct smtp_ext ext;
	char host[256]; /* Remote-MTA */
	char relay[320]; /* "host[addr]:port" for logs */
	char why[STATE_REPLY_MAX]; /* "451 4.4.1 ..." when not up */
	unsigned sent; /* transactions on this connection */
};

/* one recipient in an attempt */
struct rcpt_try {
	const char *addr;
	enum rcpt_status status;
	char reply[STATE_REPLY_MAX];
	bool remote; /* the reply came from the gateway */
	char relay[STATE_RELAY_MAX]; /* the session's gateway; "none" or "": none */
};

struct msg_job {
	char id[QUEUE_ID_LEN + 1];
	const char *data; /* the whole spool file (mapped) */
	size_t size;
	struct spool_envelope env;
	const char *body; /* the message, LF line endings */
	size_t body_len;
};

void gw_session_init(struct gw_session *s);
/* gw_open - connect to the first gateway server that works */
enum result gw_open(struct gw_session *s, struct deliver_ctx *ctx);
/* gw_send - one transaction; fills t[i].status, reply, remote, relay */
void gw_send(struct gw_session *s, struct deliver_ctx *ctx, const struct msg_job *m,
             struct rcpt_try *t, size_t n);
/* gw_cmd - queue one command line; gw_exchange - flush, read a reply */
int gw_cmd(struct gw_session *s, const char *line);
int gw_exchange(struct gw_session *s, struct smtp_reply *r, unsigned timeout);
/* gw_close - QUIT and close */
void gw_close(struct gw_session *s, struct deliver_ctx *ctx);

/* --- deliver_msg.c --- */
enum msg_outcome { MSG_SKIPPED, MSG_DONE, MSG_DEFERRED, MSG_ERROR };
/* deliver_message - attempt one message found in dir ("new"/"deferred") */
enum msg_outcome deliver_message(struct deliver_ctx *ctx, struct gw_session *s, int dirfd,
                                 const char *dirname, const char *id);
/* deliver_backoff - next attempt delay after attempts tries (RFC 5321
 * 4.5.4.1): min(retry_max, retry_min * 2^(attempts-1)) */
unsigned deliver_backoff(const struct config *cfg, unsigned attempts);

/* --- deliver_bounce.c --- */
/* bounce_queue - build a DSN and hand it to mailout-queue; RES_OK when queued */
enum result bounce_queue(struct deliver_ctx *ctx, const struct msg_job *m,
                         const struct dsn_rcpt *rcpts, size_t n, enum dsn_kind kind,
                         const char *to);

#endif
