/*
 * smtpd_ssl.h - OpenSSL in mailout-smtpd, loaded when a session needs TLS
 *
 * mailout-smtpd is one process per connection, linked with -z now, and
 * most sessions never start TLS: linking libssl and libcrypto cost each
 * of them the relocations of both.  The program links neither;
 * smtpd_ssl_load() dlopens libssl (libcrypto comes as its dependency)
 * and fills one table with every OpenSSL function mailout-smtpd calls,
 * each resolved at the symbol version of the headers it was built
 * with, then makes the table read-only.
 *
 * Below the table, each of those names is defined as its entry, so
 * the code reads as plain OpenSSL: SSL_new(ctx), and OpenSSL's own
 * macros too (SSL_CTX_set_min_proto_version expands to SSL_CTX_ctrl,
 * which is in the table).  Each entry has the type the headers declare
 * (__typeof__), so a mismatch does not compile, and a function missing
 * from the table is a link error (no OpenSSL is linked).  Rules:
 * include this header instead of any <openssl/...> header, only in
 * mailout-smtpd's TLS code (smtpd_tls.c, smtpd_io.c); call nothing of
 * OpenSSL before smtpd_ssl_load() returned RES_OK.
 */
#ifndef MAILOUT_SMTPD_SSL_H
#define MAILOUT_SMTPD_SSL_H

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "result.h"

/* the soname of the libssl the headers are from ("libssl.so.3"), and
 * the symbol version of its functions ("OPENSSL_3.0.0") */
#define SMTPD_SSL_STR(x) #x
#define SMTPD_SSL_XSTR(x) SMTPD_SSL_STR(x)
#define SMTPD_SSL_LIBRARY "libssl.so." SMTPD_SSL_XSTR(OPENSSL_SHLIB_VERSION)
#define SMTPD_SSL_VERSION "OPENSSL_" SMTPD_SSL_XSTR(OPENSSL_VERSION_MAJOR) ".0.0"

/* Every OpenSSL function mailout-smtpd calls, directly or through an
 * OpenSSL macro. */
#define SMTPD_SSL_FUNCTIONS                                                                        \
	SSL_FN(BIO_free)                                                                           \
	SSL_FN(BIO_new_file)                                                                       \
	SSL_FN(CRYPTO_clear_free)                                                                  \
	SSL_FN(CRYPTO_free)                                                                        \
	SSL_FN(ERR_clear_error)                                                                    \
	SSL_FN(ERR_error_string_n)                                                                 \
	SSL_FN(ERR_get_error)                                                                      \
	SSL_FN(EVP_DecryptInit_ex)                                                                 \
	SSL_FN(EVP_EncryptInit_ex)                                                                 \
	SSL_FN(EVP_MAC_CTX_set_params)                                                             \
	SSL_FN(EVP_PKEY_free)                                                                      \
	SSL_FN(EVP_aes_256_cbc)                                                                    \
	SSL_FN(OPENSSL_init_ssl)                                                                   \
	SSL_FN(OSSL_DECODER_CTX_free)                                                              \
	SSL_FN(OSSL_DECODER_CTX_new_for_pkey)                                                      \
	SSL_FN(OSSL_DECODER_from_data)                                                             \
	SSL_FN(OSSL_PARAM_construct_end)                                                           \
	SSL_FN(OSSL_PARAM_construct_octet_string)                                                  \
	SSL_FN(OSSL_PARAM_construct_utf8_string)                                                   \
	SSL_FN(PEM_read_bio)                                                                       \
	SSL_FN(RAND_bytes)                                                                         \
	SSL_FN(SSL_CIPHER_get_name)                                                                \
	SSL_FN(SSL_CTX_callback_ctrl)                                                              \
	SSL_FN(SSL_CTX_ctrl)                                                                       \
	SSL_FN(SSL_CTX_free)                                                                       \
	SSL_FN(SSL_CTX_new)                                                                        \
	SSL_FN(SSL_CTX_set_cert_cb)                                                                \
	SSL_FN(SSL_CTX_set_num_tickets)                                                            \
	SSL_FN(SSL_CTX_set_options)                                                                \
	SSL_FN(SSL_CTX_set_timeout)                                                                \
	SSL_FN(SSL_CTX_set_tlsext_ticket_key_evp_cb)                                               \
	SSL_FN(SSL_accept)                                                                         \
	SSL_FN(SSL_free)                                                                           \
	SSL_FN(SSL_get_current_cipher)                                                             \
	SSL_FN(SSL_get_error)                                                                      \
	SSL_FN(SSL_get_version)                                                                    \
	SSL_FN(SSL_new)                                                                            \
	SSL_FN(SSL_read)                                                                           \
	SSL_FN(SSL_set_rfd)                                                                        \
	SSL_FN(SSL_set_wfd)                                                                        \
	SSL_FN(SSL_shutdown)                                                                       \
	SSL_FN(SSL_use_PrivateKey)                                                                 \
	SSL_FN(SSL_use_certificate_chain_file)                                                     \
	SSL_FN(SSL_version)                                                                        \
	SSL_FN(SSL_write)                                                                          \
	SSL_FN(TLS_server_method)

struct smtpd_ssl_fns {
#define SSL_FN(name) __typeof__(&name) name;
	SMTPD_SSL_FUNCTIONS
#undef SSL_FN
};

/* smtpd_ssl - the loaded table (read-only), NULL until smtpd_ssl_load */
extern const struct smtpd_ssl_fns *smtpd_ssl;

/* smtpd_ssl_load - load libssl and fill the table, once per process;
 * RES_OK, or RES_TEMP (logged with the dynamic linker's words) when
 * the library or one of its functions cannot be had */
enum result smtpd_ssl_load(void);

/* smtpd_ssl_error_strings - load OpenSSL's error strings, once per
 * process, for an error about to be formatted: tls_prepare() tells
 * OpenSSL not to load them (1 M instructions of every TLS session),
 * and OpenSSL's own loading, once declined, cannot be asked for again */
void smtpd_ssl_error_strings(void);

/* The names the code calls, mapped onto the table (not in the loader,
 * which needs the names themselves). */
#ifndef SMTPD_SSL_LOADER
#define BIO_free (smtpd_ssl->BIO_free)
#define BIO_new_file (smtpd_ssl->BIO_new_file)
#define CRYPTO_clear_free (smtpd_ssl->CRYPTO_clear_free)
#define CRYPTO_free (smtpd_ssl->CRYPTO_free)
#define ERR_clear_error (smtpd_ssl->ERR_clear_error)
#define ERR_error_string_n (smtpd_ssl->ERR_error_string_n)
#define ERR_get_error (smtpd_ssl->ERR_get_error)
#define EVP_DecryptInit_ex (smtpd_ssl->EVP_DecryptInit_ex)
#define EVP_EncryptInit_ex (smtpd_ssl->EVP_EncryptInit_ex)
#define EVP_MAC_CTX_set_params (smtpd_ssl->EVP_MAC_CTX_set_params)
#define EVP_PKEY_free (smtpd_ssl->EVP_PKEY_free)
#define EVP_aes_256_cbc (smtpd_ssl->EVP_aes_256_cbc)
#define OPENSSL_init_ssl (smtpd_ssl->OPENSSL_init_ssl)
#define OSSL_DECODER_CTX_free (smtpd_ssl->OSSL_DECODER_CTX_free)
#define OSSL_DECODER_CTX_new_for_pkey (smtpd_ssl->OSSL_DECODER_CTX_new_for_pkey)
#define OSSL_DECODER_from_data (smtpd_ssl->OSSL_DECODER_from_data)
#define OSSL_PARAM_construct_end (smtpd_ssl->OSSL_PARAM_construct_end)
#define OSSL_PARAM_construct_octet_string (smtpd_ssl->OSSL_PARAM_construct_octet_string)
#define OSSL_PARAM_construct_utf8_string (smtpd_ssl->OSSL_PARAM_construct_utf8_string)
#define PEM_read_bio (smtpd_ssl->PEM_read_bio)
#define RAND_bytes (smtpd_ssl->RAND_bytes)
#define SSL_CIPHER_get_name (smtpd_ssl->SSL_CIPHER_get_name)
#define SSL_CTX_callback_ctrl (smtpd_ssl->SSL_CTX_callback_ctrl)
#define SSL_CTX_ctrl (smtpd_ssl->SSL_CTX_ctrl)
#define SSL_CTX_free (smtpd_ssl->SSL_CTX_free)
#define SSL_CTX_new (smtpd_ssl->SSL_CTX_new)
#define SSL_CTX_set_cert_cb (smtpd_ssl->SSL_CTX_set_cert_cb)
#define SSL_CTX_set_num_tickets (smtpd_ssl->SSL_CTX_set_num_tickets)
#define SSL_CTX_set_options (smtpd_ssl->SSL_CTX_set_options)
#define SSL_CTX_set_timeout (smtpd_ssl->SSL_CTX_set_timeout)
#define SSL_CTX_set_tlsext_ticket_key_evp_cb (smtpd_ssl->SSL_CTX_set_tlsext_ticket_key_evp_cb)
#define SSL_accept (smtpd_ssl->SSL_accept)
#define SSL_free (smtpd_ssl->SSL_free)
#define SSL_get_current_cipher (smtpd_ssl->SSL_get_current_cipher)
#define SSL_get_error (smtpd_ssl->SSL_get_error)
#define SSL_get_version (smtpd_ssl->SSL_get_version)
#define SSL_new (smtpd_ssl->SSL_new)
#define SSL_read (smtpd_ssl->SSL_read)
#define SSL_set_rfd (smtpd_ssl->SSL_set_rfd)
#define SSL_set_wfd (smtpd_ssl->SSL_set_wfd)
#define SSL_shutdown (smtpd_ssl->SSL_shutdown)
#define SSL_use_PrivateKey (smtpd_ssl->SSL_use_PrivateKey)
#define SSL_use_certificate_chain_file (smtpd_ssl->SSL_use_certificate_chain_file)
#define SSL_version (smtpd_ssl->SSL_version)
#define SSL_write (smtpd_ssl->SSL_write)
#define TLS_server_method (smtpd_ssl->TLS_server_method)
#endif

#endif
