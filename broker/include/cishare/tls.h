/*
 * cishare - preflight check of a client's TLS configuration.
 *
 * A cluster that cishare starts accepts only TLS connections that present
 * a client certificate issued by the cluster CA (mutual TLS); the Kafka
 * principal is taken from the certificate's subject:
 *
 *   CN=<participant id>,OU=participant,O=cishare  ->  User:<participant id>
 *   CN=<name>,OU=admin,O=cishare                  ->  User:<name>@cluster
 *   CN=<name>,OU=broker,O=cishare                 ->  User:broker@cluster
 *
 * When the broker refuses a certificate, librdkafka only sees a TLS alert
 * and retries. cishare_tls_preflight() finds the usual causes on the
 * client's side, before any client is created, and names the file and the
 * problem: no certificate, an unreadable or unparsable file, a key that
 * does not match, an expired certificate, another CA, a subject outside
 * the scheme, a participant that is not this client or not in the
 * directory.
 *
 * Uses libcrypto (OpenSSL 3.0), the library librdkafka itself uses for
 * TLS. Library code: it never prints.
 */
#ifndef CISHARE_TLS_H
#define CISHARE_TLS_H

#include "cishare/config.h"
#include "cishare/directory.h"
#include "cishare/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/** What the client's certificate says, for the caller to log. */
typedef struct cishare_tls_info_s {
    /** security.protocol is SSL or SASL_SSL; false: plaintext (the rest
     *  is empty), which the caller should warn about outside tests. */
    bool tls;
    /** A client certificate is presented (always with SSL; with SASL_SSL
     *  only when one is configured). */
    bool cert;
    char protocol[32]; /**< security.protocol as set ("plaintext" if not) */
    char subject[256]; /**< RFC 2253, e.g. "CN=op-power-a,OU=participant,
                            O=cishare" */
    char issuer[256];  /**< RFC 2253 */
    char role[16];     /**< "participant" or "admin" (the OU) */
    char name[128];    /**< the CN: participant id or admin name */
    /** Kafka principal: "User:op-power-a"; with SASL_SSL and no
     *  certificate "User:" and sasl.username (empty without one) */
    char principal[160];
    time_t not_after;       /**< end of validity (seconds since the epoch) */
    char not_after_str[32]; /**< the same, RFC 3339 UTC */
} cishare_tls_info_t;

/**
 * Check the TLS settings of a client configuration before connecting.
 *
 * With security.protocol SSL (any case): the client certificate
 * (ssl.certificate.location or .pem, or ssl.keystore.location), its key
 * (ssl.key.location or .pem, ssl.key.password) and the cluster CA
 * (ssl.ca.location or .pem) must be readable; the key must match the
 * certificate; the certificate must be valid at `now`, issued by a CA of
 * ssl.ca.location and usable by a client, and its subject must follow the
 * scheme above. A participant certificate must name `participant` (when
 * not NULL) and a participant of `dir` (when not NULL) whose principal is
 * the certificate's. An admin certificate skips both.
 *
 * With SASL_SSL (SCRAM over TLS, deploy/README.md) the login names the
 * principal and a client certificate is optional: when any of its keys
 * is set it is checked as with SSL; when none is, only the cluster CA is
 * checked, if configured (readable, a PEM certificate, valid at `now`),
 * info->cert is false and info->principal is "User:<sasl.username>".
 * With any other protocol nothing is checked and info->tls is false.
 *
 * @param conf        the client configuration (librdkafka keys)
 * @param dir         the verified directory, or NULL: no directory check
 * @param participant the participant this client acts as, or NULL
 * @param now         the time to check validity at; 0: the current time
 * @param info        receives what the certificate says (zeroed first);
 *                    may be NULL
 * @param errstr      on failure: one line naming the key or file and the
 *                    problem in plain words
 *
 * @returns CISHARE_OK; CISHARE_ERR_CONFIG for every refusal,
 *          CISHARE_ERR_NOMEM. Thread-safe; lends nothing.
 */
cishare_err_t cishare_tls_preflight(const cishare_config_t *conf,
                                    const cishare_directory_t *dir,
                                    const char *participant, time_t now,
                                    cishare_tls_info_t *info, char *errstr,
                                    size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * One line for the log: for TLS "TLS as User:op-power-a (certificate
 * CN=...,OU=participant,O=cishare, valid until 2027-01-01T00:00:00Z)";
 * for SASL_SSL without a certificate "TLS with a SASL login as
 * User:alice (no client certificate)"; for plaintext a warning that
 * nothing is encrypted and no certificate is presented. Returns buf.
 */
const char *cishare_tls_info_format(const cishare_tls_info_t *info, char *buf,
                                    size_t size);

/**
 * True when a plaintext configuration deserves a warning: info says
 * plaintext and bootstrap.servers names a host other than a loopback
 * address (the embedded mock cluster and local tests are plaintext on
 * loopback; anything else sends envelopes and payloads in clear text).
 */
bool cishare_tls_plaintext_warn(const cishare_config_t *conf,
                                const cishare_tls_info_t *info);

#endif
