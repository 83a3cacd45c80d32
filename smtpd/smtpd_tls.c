/*
 * smtpd_tls.c - server-side TLS for the receiver (OpenSSL)
 *
 * What it is for: STARTTLS (RFC 3207) and implicit TLS (RFC 8314 3.3)
 * with the certificate and key from the config, read from the systemd
 * credentials directory when the configured name holds no '/'.  The
 * context is built only when a session asks for TLS.
 * What it must never do: offer a protocol below tls.min_version, log
 * key material, or let a failed handshake fall back to plain text.
 */
#include "smtpd_tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

_Static_assert(RES_OK == 0, "RES_OK must be enum result's");

static SSL_CTX *server_ctx;

bool
tls_configured(const struct config *cfg)
{
	return cfg->tls.cert && cfg->tls.cert[0] && cfg->tls.key && cfg->tls.key[0];
}

int
tls_credential_path(const char *name, char *out, size_t outsize)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");

	if (dir && dir[0] && strchr(name, '/') == NULL)
		return bounded_format(out, outsize, "%s/%s", dir, name);
	return bounded_copy(out, outsize, name);
}

/* tls_version_number - "TLSv1.2" -> TLS1_2_VERSION; 0 when unknown */
static int
tls_version_number(const char *v)
{
	static const struct {
		const char *name;
		int number;
	} tab[] = {{"TLSv1", TLS1_VERSION},
	           {"TLSv1.0", TLS1_VERSION},
	           {"TLSv1.1", TLS1_1_VERSION},
	           {"TLSv1.2", TLS1_2_VERSION},
	           {"TLSv1.3", TLS1_3_VERSION}};
	size_t i;

	if (v == NULL || v[0] == '\0')
		return TLS1_2_VERSION;
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(v, tab[i].name) == 0)
			return tab[i].number;
	return 0;
}

/* log_ssl_errors - drain OpenSSL's error queue into the log */
static void
log_ssl_errors(const char *what)
{
	unsigned long e;
	char msg[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, msg, sizeof(msg));
		log_warn("%s: %s", what, msg);
	}
}

/* ctx_load - certificate chain and key, by configured name */
static enum result
ctx_load(SSL_CTX *ctx, const struct config *cfg)
{
	char cert[4096], key[4096];

	if (tls_credential_path(cfg->tls.cert, cert, sizeof(cert)) < 0 ||
	    tls_credential_path(cfg->tls.key, key, sizeof(key)) < 0) {
		log_warn("TLS: certificate or key path too long");
		return RES_TEMP;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		log_ssl_errors(cert);
		return RES_TEMP;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_ssl_errors(key);
		return RES_TEMP;
	}
	return RES_OK;
}

enum result
tls_prepare(const struct config *cfg)
{
	SSL_CTX *ctx;
	int minv;

	if (server_ctx)
		return RES_OK;
	if (!tls_configured(cfg))
		return RES_TEMP;
	if ((minv = tls_version_number(cfg->tls.min_version)) == 0) {
		log_warn("TLS: unknown tls.min_version \"%s\"", cfg->tls.min_version);
		return RES_TEMP;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		log_ssl_errors("SSL_CTX_new");
		return RES_TEMP;
	}
	if (SSL_CTX_set_min_proto_version(ctx, minv) != 1 || ctx_load(ctx, cfg) != RES_OK) {
		SSL_CTX_free(ctx);
		return RES_TEMP;
	}
	/* one process per session: no session cache worth keeping */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* smtpd_io retries writes from a buffer that may have moved */
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	server_ctx = ctx;
	return RES_OK;
}

/* handshake - SSL_accept on non-blocking fds, bounded by the deadline */
static enum result
handshake(struct smtp_io *io, SSL *ssl, long long deadline)
{
	enum io_status st;
	int rc;

	for (;;) {
		rc = SSL_accept(ssl);
		if (rc == 1)
			return RES_OK;
		switch (SSL_get_error(ssl, rc)) {
		case SSL_ERROR_WANT_READ:
			st = io_wait(io->rfd, POLLIN, deadline);
			break;
		case SSL_ERROR_WANT_WRITE:
			st = io_wait(io->wfd, POLLOUT, deadline);
			break;
		default:
			log_ssl_errors("TLS handshake");
			return RES_PERM;
		}
		if (st != IO_OK) {
			log_warn("TLS handshake: %s", st == IO_TIMEOUT ? "timeout" : "I/O error");
			return RES_PERM;
		}
	}
}

enum result
tls_start(struct smtp_io *io, unsigned timeout, char *version, size_t vsize, char *cipher,
          size_t csize)
{
	SSL *ssl;

	if (server_ctx == NULL)
		return RES_TEMP;
	if ((ssl = SSL_new(server_ctx)) == NULL) {
		log_ssl_errors("SSL_new");
		return RES_TEMP;
	}
	if (SSL_set_rfd(ssl, io->rfd) != 1 || SSL_set_wfd(ssl, io->wfd) != 1) {
		log_ssl_errors("SSL_set_fd");
		SSL_free(ssl);
		return RES_TEMP;
	}
	if (handshake(io, ssl, io_now_ms() + (long long)timeout * 1000) != RES_OK) {
		SSL_free(ssl);
		return RES_PERM;
	}
	io->ssl = ssl;
	if (bounded_copy(version, vsize, SSL_get_version(ssl)) < 0 ||
	    bounded_copy(cipher, csize, SSL_get_cipher_name(ssl)) < 0)
		log_warn("TLS: version or cipher name truncated");
	return RES_OK;
}

void
tls_stop(struct smtp_io *io)
{
	if (io->ssl == NULL)
		return;
	/* one try at close_notify: the client may be gone already */
	if (SSL_shutdown(io->ssl) < 0)
		ERR_clear_error();
	SSL_free(io->ssl);
	io->ssl = NULL;
}
