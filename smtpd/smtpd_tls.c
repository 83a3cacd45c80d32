/*
 * smtpd_tls.c - server-side TLS for the receiver (OpenSSL)
 *
 * What it is for: STARTTLS (RFC 3207) and implicit TLS (RFC 8314 3.3)
 * with the certificate and key from the config, read from the systemd
 * credentials directory when the configured name holds no '/'.  The
 * context is built only when a session asks for TLS (OpenSSL itself is
 * loaded only then: smtpd_ssl.h), and each part of
 * it only when needed: certificate and key are decoded for a full
 * handshake only (a resumed one never sends them).  Sessions resume
 * across our processes with RFC 5077 / RFC 8446 tickets whose keys all
 * processes share (lib/ticket_keys.h, in state_dir).
 * What it must never do: offer a protocol below tls.min_version, log
 * key material, let a failed handshake fall back to plain text, issue
 * tickets that no other process could decrypt, or fail a session
 * because the ticket keys cannot be had (then: full handshakes).
 */
#include "smtpd_tls.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "smtpd_ssl.h"
#include "ticket_keys.h"

_Static_assert(RES_OK == 0, "RES_OK must be enum result's");

#define PEM_BLOCKS_MAX 16 /* blocks looked at for the certificate or key */
#define TICKET_IV_LEN 16 /* AES-CBC */

static SSL_CTX *server_ctx;
/* the shared ticket keys, read once per process by tls_prepare */
static struct ticket_ring ring;
/* certificate and key: checked by tls_prepare, used by cert_cb */
static struct {
	char cert[4096], key[4096];
	char *key_name;
	unsigned char *key_der;
	long key_len;
} creds;

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
		smtpd_ssl_error_strings();
		ERR_error_string_n(e, msg, sizeof(msg));
		log_warn("%s: %s", what, msg);
	}
}

/* pem_find - the first PEM block of the file whose name want() accepts:
 * its name and DER bytes (OPENSSL_free them), or -1.  Cheap: base64
 * only; the DER is decoded when a handshake needs it. */
static int
pem_find(const char *path, bool (*want)(const char *), char **name, unsigned char **der, long *len)
{
	char *header = NULL;
	BIO *b;
	int i, found = -1;

	if ((b = BIO_new_file(path, "r")) == NULL) {
		log_ssl_errors(path);
		return -1;
	}
	for (i = 0; i < PEM_BLOCKS_MAX && found < 0; i++) {
		if (PEM_read_bio(b, name, &header, der, len) != 1)
			break;
		OPENSSL_free(header);
		if (want(*name)) {
			found = 0;
			break;
		}
		OPENSSL_free(*name);
		OPENSSL_clear_free(*der, (size_t)*len);
	}
	BIO_free(b);
	ERR_clear_error();
	if (found < 0)
		log_warn("TLS: %s: no usable PEM block", path);
	return found;
}

static bool
is_cert(const char *name)
{
	return strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_TRUSTED) == 0 ||
	       strcmp(name, PEM_STRING_X509_OLD) == 0;
}

/* is_key - a private key block we can use without a passphrase */
static bool
is_key(const char *name)
{
	size_t n = strlen(name);

	return n >= 11 && strcmp(name + n - 11, "PRIVATE KEY") == 0 &&
	       strcmp(name, PEM_STRING_PKCS8) != 0;
}

/* creds_read - check that cert and key are there and PEM, keep the
 * key's DER for the first full handshake (a resumed one needs neither) */
static enum result
creds_read(const struct config *cfg)
{
	unsigned char *der = NULL;
	char *name = NULL;
	long len = 0;

	if (tls_credential_path(cfg->tls.cert, creds.cert, sizeof(creds.cert)) < 0 ||
	    tls_credential_path(cfg->tls.key, creds.key, sizeof(creds.key)) < 0) {
		log_warn("TLS: certificate or key path too long");
		return RES_TEMP;
	}
	if (pem_find(creds.cert, is_cert, &name, &der, &len) < 0)
		return RES_TEMP;
	OPENSSL_free(name);
	OPENSSL_free(der);
	if (pem_find(creds.key, is_key, &creds.key_name, &creds.key_der, &creds.key_len) < 0)
		return RES_TEMP;
	return RES_OK;
}

/* key_decode - the private key from its DER.  The PEM name says the
 * structure and often the type, so OpenSSL tries one decoder instead
 * of all of them (a third of the cost of PEM_read_bio_PrivateKey). */
static EVP_PKEY *
key_decode(void)
{
	const char *structure = NULL, *type = NULL;
	const unsigned char *p = creds.key_der;
	size_t len = (size_t)creds.key_len;
	OSSL_DECODER_CTX *d;
	EVP_PKEY *pk = NULL;

	if (strcmp(creds.key_name, PEM_STRING_PKCS8INF) == 0)
		structure = "PrivateKeyInfo";
	else if (strcmp(creds.key_name, PEM_STRING_ECPRIVATEKEY) == 0)
		structure = "type-specific", type = "EC";
	else if (strcmp(creds.key_name, PEM_STRING_RSA) == 0)
		structure = "type-specific", type = "RSA";
	d = OSSL_DECODER_CTX_new_for_pkey(&pk, "DER", structure, type, EVP_PKEY_KEYPAIR, NULL,
	                                  NULL);
	if (d == NULL || OSSL_DECODER_from_data(d, &p, &len) != 1) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	OSSL_DECODER_CTX_free(d);
	return pk;
}

/* cert_cb - load certificate and key into a full handshake; OpenSSL
 * does not call it for a resumed one */
static int
cert_cb(SSL *ssl, void *arg)
{
	EVP_PKEY *pk;
	int ok;

	(void)arg;
	if (SSL_use_certificate_chain_file(ssl, creds.cert) != 1) {
		log_ssl_errors(creds.cert);
		return 0;
	}
	if ((pk = key_decode()) == NULL) {
		log_ssl_errors(creds.key);
		log_warn("TLS: %s: cannot decode the private key", creds.key);
		return 0;
	}
	/* SSL_use_PrivateKey checks the key against the certificate loaded
	 * above (X509_check_private_key): SSL_check_private_key would only
	 * do it again */
	ok = SSL_use_PrivateKey(ssl, pk) == 1;
	EVP_PKEY_free(pk);
	if (!ok)
		log_ssl_errors(creds.key);
	return ok;
}

/* ticket_mac_key - HMAC-SHA256 with k's key on the ticket's MAC context */
static int
ticket_mac_key(EVP_MAC_CTX *hctx, const struct ticket_key *k)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[3];

	params[0] =
	    OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac, sizeof(k->hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[2] = OSSL_PARAM_construct_end();
	return EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -1;
}

/* ticket_cb - RFC 5077 tickets with the keys all our processes share:
 * encrypt with the newest; decrypt with any key still retained (2:
 * "renew", when it is not the newest, and always in TLS 1.3); an
 * unknown or retired name is a full handshake (0) */
static int
ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx,
          int enc)
{
	const struct ticket_key *k;
	time_t now = time(NULL);

	if (enc) {
		k = &ring.keys[0];
		if (ring.n == 0 || !ticket_key_encrypts(k, now))
			return 0; /* no ticket this time */
		memcpy(name, k->name, TICKET_NAME_LEN);
		if (RAND_bytes(iv, TICKET_IV_LEN) != 1 ||
		    EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1 ||
		    ticket_mac_key(hctx, k) < 0)
			return -1;
		return 1;
	}
	if ((k = ticket_ring_find(&ring, name, now)) == NULL)
		return 0;
	if (ticket_mac_key(hctx, k) < 0 ||
	    EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1)
		return -1;
	/* TLS 1.3 clients use a ticket once (RFC 8446 C.4), and OpenSSL
	 * sends a resumed session a new one only when told to renew */
	if (SSL_version(ssl) >= TLS1_3_VERSION)
		return 2;
	return k == &ring.keys[0] && ticket_key_encrypts(k, now) ? 1 : 2;
}

/* tickets_setup - shared ticket keys from state_dir; without them no
 * tickets at all (another process could not decrypt ours), and the
 * session goes on with full handshakes */
static void
tickets_setup(SSL_CTX *ctx, const struct config *cfg)
{
	char why[512];

	if (ticket_keys_load(cfg->state_dir, time(NULL), &ring, why, sizeof(why)) != RES_OK) {
		log_warn("%s; TLS sessions are not resumed", why);
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		(void)SSL_CTX_set_num_tickets(ctx, 0);
		return;
	}
	if (ring.rotated)
		log_info("TLS: new session ticket key in %s/%s", cfg->state_dir, TICKET_FILE);
	if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) != 1) {
		log_ssl_errors("TLS: ticket callback");
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		(void)SSL_CTX_set_num_tickets(ctx, 0);
		return;
	}
	/* one TLS 1.3 ticket is all a client of one connection uses */
	(void)SSL_CTX_set_num_tickets(ctx, 1);
	/* a ticket lives as long as its key encrypts; retention covers it */
	(void)SSL_CTX_set_timeout(ctx, TICKET_ROTATE);
}

/* init_options - for OPENSSL_init_ssl, the first of all OpenSSL calls.
 * The process ends with the session: freeing OpenSSL's tables at exit
 * would only cost time.  The error strings are loaded only when an
 * error is logged (log_ssl_errors): loading them at the first use of
 * the error queue cost every session 1.05 M instructions.  openssl.cnf is not read (0.8 M
 * instructions, a twentieth of a resumed session) unless the service's environment names one in
 * OPENSSL_CONF: the receiver's TLS policy is tls.min_version on OpenSSL's built-in defaults
 * (Debian's openssl.cnf changes none of them). */
static uint64_t
init_options(void)
{
	uint64_t o = OPENSSL_INIT_NO_ATEXIT | OPENSSL_INIT_NO_LOAD_SSL_STRINGS |
	             OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS;

	if (secure_getenv("OPENSSL_CONF") == NULL)
		o |= OPENSSL_INIT_NO_LOAD_CONFIG;
	return o;
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
	if (smtpd_ssl_load() != RES_OK)
		return RES_TEMP;
	(void)OPENSSL_init_ssl(init_options(), NULL);
	if (creds_read(cfg) != RES_OK)
		return RES_TEMP;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		log_ssl_errors("SSL_CTX_new");
		return RES_TEMP;
	}
	if (SSL_CTX_set_min_proto_version(ctx, minv) != 1) {
		SSL_CTX_free(ctx);
		return RES_TEMP;
	}
	SSL_CTX_set_cert_cb(ctx, cert_cb, NULL);
	/* one process per session: no session cache worth keeping; tickets
	 * carry resumption from one process to the next */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* smtpd_io retries writes from a buffer that may have moved */
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	tickets_setup(ctx, cfg);
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
	if (handshake(io, ssl, mono_ms() + (long long)timeout * 1000) != RES_OK) {
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
