/*
 * smtpd_ssl.c - libssl and libcrypto, loaded when a session first needs TLS
 *
 * What it is for: keeping OpenSSL out of mailout-smtpd's start-up (see
 * smtpd_ssl.h): STARTTLS or an implicit-TLS listener calls
 * smtpd_ssl_load() from tls_prepare(), which dlopens libssl (with
 * libcrypto behind it) and resolves every function of the table at the
 * symbol version of the headers the program was built with; and
 * OpenSSL's error strings, loaded only when an error is to be logged.
 * What it must never do: load a library named by the environment or
 * the config (the soname is fixed at build time and found by the
 * dynamic linker's own rules), publish a half-filled table (every
 * function resolves, then the table is made read-only, then it is
 * published; or the load fails and nothing is), or leave function
 * pointers writable that every TLS session calls through.
 */
#define SMTPD_SSL_LOADER
#include "smtpd_ssl.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "smtpd_dl.h"

const struct smtpd_ssl_fns *smtpd_ssl;
static void *ssl_lib; /* the handle behind smtpd_ssl */

/* OpenSSL 3.0's loaders of each library's error strings (deprecated,
 * so looked for by name: a missing one is skipped).  What they leave
 * out (the providers' and the decoders' own reasons) is logged as
 * reason(N) after the error's code, which `openssl errstr` reads. */
static const char *const error_string_loaders[] = {
    "ERR_load_SSL_strings",    "ERR_load_ERR_strings",    "ERR_load_CRYPTO_strings",
    "ERR_load_ASN1_strings",   "ERR_load_BIO_strings",    "ERR_load_BN_strings",
    "ERR_load_BUF_strings",    "ERR_load_CONF_strings",   "ERR_load_DH_strings",
    "ERR_load_DSA_strings",    "ERR_load_EC_strings",     "ERR_load_EVP_strings",
    "ERR_load_KDF_strings",    "ERR_load_OBJ_strings",    "ERR_load_PEM_strings",
    "ERR_load_PKCS12_strings", "ERR_load_RAND_strings",   "ERR_load_RSA_strings",
    "ERR_load_X509_strings",   "ERR_load_X509V3_strings", "ERR_load_ASYNC_strings",
};

/* fill - every function of the table from lib; 0 or -1 (logged) */
static int
fill(void *lib, struct smtpd_ssl_fns *t)
{
#define SSL_FN(name)                                                                               \
	if (dl_resolve(lib, SMTPD_SSL_LIBRARY, #name, SMTPD_SSL_VERSION, &t->name,                 \
	               sizeof(t->name)) < 0)                                                       \
		return -1;
	SMTPD_SSL_FUNCTIONS
#undef SSL_FN
	return 0;
}

enum result
smtpd_ssl_load(void)
{
	struct smtpd_ssl_fns *t;
	void *lib;

	if (smtpd_ssl != NULL)
		return RES_OK;
	if ((lib = dl_load("TLS", SMTPD_SSL_LIBRARY)) == NULL)
		return RES_TEMP;
	/* a page of its own, so that it can be made read-only */
	t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED) {
		log_warn_errno("TLS: mmap");
		(void)dlclose(lib);
		return RES_TEMP;
	}
	if (fill(lib, t) < 0 || mprotect(t, sizeof(*t), PROT_READ) < 0) {
		log_warn("TLS: %s not usable: TLS not available", SMTPD_SSL_LIBRARY);
		(void)munmap(t, sizeof(*t));
		(void)dlclose(lib);
		return RES_TEMP;
	}
	ssl_lib = lib;
	smtpd_ssl = t;
	return RES_OK;
}

void
smtpd_ssl_error_strings(void)
{
	static bool loaded;
	int (*load)(void);
	void *p;
	size_t i;

	if (loaded || ssl_lib == NULL)
		return;
	loaded = true;
	for (i = 0; i < sizeof(error_string_loaders) / sizeof(error_string_loaders[0]); i++) {
		p = dlvsym(ssl_lib, error_string_loaders[i], SMTPD_SSL_VERSION);
		if (p == NULL)
			continue;
		memcpy(&load, &p, sizeof(load));
		(void)load();
	}
}
