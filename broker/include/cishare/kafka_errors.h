/*
 * cishare - Kafka errors in plain words.
 *
 * When Kafka refuses an operation, every cishare command says who was
 * refused what, e.g. "op-bank-a is not authorised to read
 * cishare.amber.electricity", never a raw error code. publish, feed and
 * provision share this one mapping.
 */
#ifndef CISHARE_KAFKA_ERRORS_H
#define CISHARE_KAFKA_ERRORS_H

#include "cishare/err.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>

/**
 * Describe a Kafka error for a human.
 *
 * @param err       the librdkafka or broker error
 * @param principal who acted: a participant id or user name ("op-bank-a");
 *                  NULL reads as "this client"
 * @param op        what it tried, as a verb phrase ("read", "write to",
 *                  "create topic"); NULL: a neutral default
 * @param resource  on what: a topic or group name; NULL: none
 * @param buf       receives the NUL-terminated text (truncated to size)
 *
 * @returns buf. Never prints; thread-safe.
 */
const char *cishare_kafka_describe_error(rd_kafka_resp_err_t err,
                                         const char *principal, const char *op,
                                         const char *resource, char *buf,
                                         size_t size);

/** CISHARE_ERR_AUTH for authentication and authorisation errors,
 *  CISHARE_OK for NO_ERROR, else CISHARE_ERR_KAFKA. */
cishare_err_t cishare_kafka_err(rd_kafka_resp_err_t err);

/** True for the errors that mean "this principal may not do that". */
int cishare_kafka_err_is_authz(rd_kafka_resp_err_t err);

/** Why a connection to a broker failed, as far as the text tells. */
typedef enum {
    CISHARE_KAFKA_CONN_OTHER = 0,        /**< not a connection error we know */
    CISHARE_KAFKA_CONN_UNREACHABLE,      /**< refused, resolve, timed out */
    CISHARE_KAFKA_CONN_BROKER_UNTRUSTED, /**< the broker's certificate */
    CISHARE_KAFKA_CONN_CLIENT_REFUSED,   /**< the broker refused ours */
    CISHARE_KAFKA_CONN_LOGIN_REFUSED,    /**< SASL: name or password */
    CISHARE_KAFKA_CONN_MISMATCH,         /**< TLS on one side, not the other */
    CISHARE_KAFKA_CONN_CLOSED,           /**< closed after the handshake */
    CISHARE_KAFKA_CONN_TLS_OTHER,        /**< any other TLS failure */
} cishare_kafka_conn_t;

/**
 * Explain a connection-level error in plain words: an error_cb event
 * (err, reason) or a consumer error (m->err, rd_kafka_message_errstr()).
 * buf receives the cause a user understands, then the raw text in
 * parentheses, e.g. "the broker refused this client's certificate: it
 * was not issued by the cluster CA (check ssl.certificate.location) (ssl://
 * 127.0.0.1:9093/bootstrap: Receive failed: ...alert unknown ca...)".
 * Errors it does not know read as cishare_kafka_describe_error() with the
 * raw text after it.
 *
 * @param principal who connects, for messages; NULL: "this client"
 * @returns the cause. Never prints; thread-safe.
 */
cishare_kafka_conn_t cishare_kafka_explain_conn(rd_kafka_resp_err_t err,
                                                const char *reason,
                                                const char *principal,
                                                char *buf, size_t size);

/**
 * The cause as a reason code of logs (log.h): "broker-unreachable",
 * "broker-untrusted", "client-refused", "login-refused", "tls-mismatch",
 * "connection-closed", "tls-error"; "kafka-error" for OTHER.
 */
const char *cishare_kafka_conn_code(cishare_kafka_conn_t cause);

/**
 * True for the causes that no retry fixes: the broker's certificate is
 * not trusted, the broker refused ours, the login was refused.
 */
int cishare_kafka_conn_is_refusal(cishare_kafka_conn_t cause);

/**
 * Watch the connection errors of one client (its error_cb events or its
 * consumer errors) to stop retrying when every broker is down and a
 * refusal (above) was seen: librdkafka would retry forever.
 */
typedef struct cishare_kafka_watch_s {
    int refused;    /**< a refusal was seen */
    int all_down;   /**< every broker was down (ALL_BROKERS_DOWN) */
    char text[768]; /**< the last refusal, explained */
} cishare_kafka_watch_t;

/**
 * Account one error event. Returns true once the client should give up
 * (w->text then says why); stays true.
 */
int cishare_kafka_watch_update(cishare_kafka_watch_t *w,
                               rd_kafka_resp_err_t err, const char *reason,
                               const char *principal);

#endif
