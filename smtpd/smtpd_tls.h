/*
 * smtpd_tls.h - the server side of TLS: STARTTLS (RFC 3207) and
 * implicit TLS (RFC 8314), with the context built only when needed
 */
#ifndef MAILOUT_SMTPD_TLS_H
#define MAILOUT_SMTPD_TLS_H

#include <fcntl.h>
#include <unistd.h>

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "mail_reply.h"
#include "smtpd_io.h"

/* tls_configured - are a certificate and a key named in the config?
 * (cheap: decides whether STARTTLS is offered; nothing is loaded) */
bool tls_configured(const struct config *cfg);
/* tls_credential_path - the configured name, or under
 * $CREDENTIALS_DIRECTORY when it holds no '/' (systemd LoadCredential=) */
int tls_credential_path(const char *name, char *out, size_t outsize);
/* tls_prepare - build the server context once (lazily: only sessions
 * that use TLS pay for it) and read the shared ticket keys; RES_TEMP
 * when cert or key are missing, not PEM, or the version is unknown
 * (the session then answers 454 4.7.0).  Certificate and key are
 * decoded during a full handshake only; one that does not decode or
 * match fails that handshake. */
enum result tls_prepare(const struct config *cfg);
/* tls_start - handshake on io within timeout seconds, with the prepared
 * context.  RES_OK: io->ssl is set, version and cipher filled.  RES_TEMP:
 * no context.  RES_PERM: the handshake failed; the connection is done. */
enum result tls_start(struct smtp_io *io, unsigned timeout, char *version, size_t vsize,
                      char *cipher, size_t csize);
/* tls_stop - best-effort close_notify, then free */
void tls_stop(struct smtp_io *io);

#endif
