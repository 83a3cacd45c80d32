/*
 * deliver_tls.c - TLS towards the gateway (OpenSSL)
 *
 * What it is for: the client side of STARTTLS and implicit TLS, with
 * the checks gateway.tls asks for: verify and implicit check the chain
 * against gateway.ca_file and the host name (SSL_set1_host), sending
 * SNI; encrypt and may only encrypt; gateway.fingerprints pins the
 * certificate's SHA-256 digest instead of the CA check.
 * What it must never do: report success for a handshake whose checks
 * failed (the caller would then send mail in the clear or to the wrong
 * host), or keep bytes received before the handshake.
 */
#include "deliver.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* tls_verifies - does this mode check the CA chain and name? */
static bool
tls_verifies(const struct config *cfg)
{
	return (cfg->gateway.tls == GATEWAY_TLS_VERIFY ||
	        cfg->gateway.tls == GATEWAY_TLS_IMPLICIT) &&
	       cfg->gateway.fingerprints.n == 0;
}

SSL_CTX *
conn_tls_ctx(const struct config *cfg, char *why, size_t whysize)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	const char *ca = cfg->gateway.ca_file;

	if (!ctx) {
		(void)bounded_copy(why, whysize, "cannot create a TLS context");
		return NULL;
	}
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (!tls_verifies(cfg)) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	if ((ca && *ca) ? SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1
	                : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		(void)bounded_format(why, whysize, "cannot load gateway.ca_file %s", ca ? ca : "");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

/* hexval - one hex digit, or -1 */
static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* pin_matches - "sha256:HEX" (colons allowed) equals the digest? */
static bool
pin_matches(const char *pin, const unsigned char *md, unsigned mdlen)
{
	unsigned i = 0;

	if (strncasecmp(pin, "sha256:", 7) != 0)
		return false;
	for (pin += 7; *pin; pin++) {
		int hi, lo;

		if (*pin == ':')
			continue;
		hi = hexval(pin[0]);
		lo = pin[1] ? hexval(pin[1]) : -1;
		if (hi < 0 || lo < 0 || i >= mdlen || md[i] != (unsigned char)(hi * 16 + lo))
			return false;
		i++;
		pin++;
	}
	return i == mdlen;
}

/* check_pins - the peer certificate against gateway.fingerprints */
static int
check_pins(struct conn *c, const struct config *cfg)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	X509 *cert = SSL_get1_peer_certificate(c->ssl);
	int ok;

	if (!cert) {
		(void)bounded_copy(c->err, sizeof(c->err), "TLS: the gateway sent no certificate");
		return -1;
	}
	ok = X509_digest(cert, EVP_sha256(), md, &mdlen) == 1;
	X509_free(cert);
	for (size_t i = 0; ok && i < cfg->gateway.fingerprints.n; i++)
		if (pin_matches(cfg->gateway.fingerprints.items[i], md, mdlen))
			return 0;
	(void)bounded_copy(c->err, sizeof(c->err),
	                   "TLS: certificate fingerprint matches no gateway.fingerprints pin");
	return -1;
}

/* set_peer_name - SNI and the name (or address) to verify */
static int
set_peer_name(SSL *ssl, const char *host, bool verify)
{
	unsigned char tmp[16];
	bool literal = inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;

	if (!literal && SSL_set_tlsext_host_name(ssl, host) != 1)
		return -1;
	if (!verify)
		return 0;
	if (literal)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 ? 0 : -1;
	return SSL_set1_host(ssl, host) == 1 ? 0 : -1;
}

/* handshake - drive SSL_connect to the end or the deadline */
static int
handshake(struct conn *c, time_t deadline)
{
	for (;;) {
		int rc = SSL_connect(c->ssl), e;
		struct pollfd p = {.fd = c->fd};
		time_t now = time(NULL);

		if (rc == 1)
			return 0;
		e = SSL_get_error(c->ssl, rc);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			return -1;
		if (deliver_stop || now >= deadline) {
			(void)bounded_copy(c->err, sizeof(c->err), "TLS: handshake timeout");
			return -2;
		}
		p.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		(void)poll(&p, 1, (int)(deadline - now) * 1000);
	}
}

int
conn_starttls(struct conn *c, const struct deliver_ctx *ctx, const char *host, unsigned timeout)
{
	bool verify = tls_verifies(ctx->cfg);
	long vr;
	int rc;

	/* anything the gateway sent before the handshake is not to be trusted */
	buf_reset(&c->in);
	if (!ctx->ssl || !(c->ssl = SSL_new(ctx->ssl)) || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    set_peer_name(c->ssl, host, verify) < 0) {
		(void)bounded_copy(c->err, sizeof(c->err), "TLS: cannot set up the session");
		return -1;
	}
	ERR_clear_error();
	rc = handshake(c, time(NULL) + timeout);
	if (rc == -1) {
		vr = SSL_get_verify_result(c->ssl);
		if (vr != X509_V_OK)
			(void)bounded_format(c->err, sizeof(c->err),
			                     "TLS: certificate verification failed: %s",
			                     X509_verify_cert_error_string(vr));
		else
			(void)bounded_format(c->err, sizeof(c->err), "TLS: handshake failed: %s",
			                     ERR_reason_error_string(ERR_peek_last_error())
			                         ? ERR_reason_error_string(ERR_peek_last_error())
			                         : "connection closed");
	}
	if (rc < 0)
		return -1;
	if (ctx->cfg->gateway.fingerprints.n > 0 && check_pins(c, ctx->cfg) < 0)
		return -1;
	c->tls = true;
	(void)bounded_format(c->tls_info, sizeof(c->tls_info), "%s %s", SSL_get_version(c->ssl),
	                     SSL_get_cipher_name(c->ssl));
	return 0;
}
