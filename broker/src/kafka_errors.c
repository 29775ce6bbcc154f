/*
 * Plain-words Kafka errors: see kafka_errors.h.
 */
#include "cishare/kafka_errors.h"

#include <stdio.h>
#include <string.h>

int cishare_kafka_err_is_authz(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_DELEGATION_TOKEN_AUTHORIZATION_FAILED:
        return 1;
    default:
        return 0;
    }
}

cishare_err_t cishare_kafka_err(rd_kafka_resp_err_t err)
{
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        return CISHARE_OK;
    if (cishare_kafka_err_is_authz(err) ||
        err == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED ||
        err == RD_KAFKA_RESP_ERR__AUTHENTICATION)
        return CISHARE_ERR_AUTH;
    return CISHARE_ERR_KAFKA;
}

const char *cishare_kafka_describe_error(rd_kafka_resp_err_t err,
                                         const char *principal, const char *op,
                                         const char *resource, char *buf,
                                         size_t size)
{
    const char *who = principal && *principal ? principal : "this client";
    const char *sp = resource && *resource ? " " : "";
    const char *res = resource ? resource : "";

    if (!buf || !size)
        return buf;
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        snprintf(buf, size, "success");
        break;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        snprintf(buf, size, "%s is not authorised to %s%s%s", who,
                 op ? op : "access topic", sp, res);
        break;
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
        snprintf(buf, size, "%s is not authorised to %s%s%s", who,
                 op ? op : "use consumer group", sp, res);
        break;
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
        snprintf(buf, size, "%s is not authorised to %s%s%s on the cluster",
                 who, op ? op : "perform this operation", sp, res);
        break;
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
        snprintf(buf, size, "%s is not authorised to use transactional id%s%s",
                 who, sp, res);
        break;
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
        snprintf(buf, size,
                 "%s could not log in to Kafka: user name or password "
                 "refused (check sasl.username and sasl.password)",
                 who);
        break;
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM:
        snprintf(buf, size,
                 "Kafka does not accept this SASL mechanism (check "
                 "sasl.mechanism)");
        break;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
        snprintf(buf, size,
                 "cannot reach the Kafka brokers (check bootstrap.servers "
                 "and security.protocol)");
        break;
    case RD_KAFKA_RESP_ERR__SSL:
        snprintf(buf, size,
                 "the TLS connection to the Kafka brokers failed (check "
                 "ssl.ca.location, ssl.certificate.location and "
                 "ssl.key.location)");
        break;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        if (op)
            snprintf(buf, size, "Kafka did not answer in time (%s%s%s)", op, sp,
                     res);
        else
            snprintf(buf, size, "Kafka did not answer in time");
        break;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
        snprintf(buf, size,
                 "topic%s%s does not exist (run 'cishare provision' for "
                 "this directory)",
                 sp, res);
        break;
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
        snprintf(buf, size, "topic%s%s already exists", sp, res);
        break;
    case RD_KAFKA_RESP_ERR_SECURITY_DISABLED:
        snprintf(buf, size,
                 "the Kafka cluster has no authorizer: ACLs cannot be "
                 "managed or enforced (set authorizer.class.name)");
        break;
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
        snprintf(buf, size,
                 "cannot %s%s%s: the replication factor is larger than "
                 "the number of brokers (set "
                 "cishare.provision.replication-factor)",
                 op ? op : "create topic", sp, res);
        break;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        snprintf(buf, size, "message too large for%s%s", *res ? " " : " Kafka",
                 res);
        break;
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
        snprintf(buf, size,
                 "cannot %s%s%s: fewer in-sync replicas than "
                 "min.insync.replicas",
                 op ? op : "write to", sp, res);
        break;
    default:
        /* librdkafka's text, never the numeric code. */
        if (op)
            snprintf(buf, size, "cannot %s%s%s: %s", op, sp, res,
                     rd_kafka_err2str(err));
        else if (*res)
            snprintf(buf, size, "%s: %s", res, rd_kafka_err2str(err));
        else
            snprintf(buf, size, "%s", rd_kafka_err2str(err));
        break;
    }
    return buf;
}

/*
 * Connection errors in plain words. librdkafka reports a failed
 * connection as text (its error code is mostly __TRANSPORT), so the
 * cause is found in the text: OpenSSL's reason strings, TLS alerts the
 * broker sent (with TLS 1.3 the broker checks the client's certificate
 * after the handshake, so its refusal arrives as a "Receive failed" on
 * the first request), librdkafka's own hints. First match wins.
 */
static const struct conn_cause {
    const char *text; /* case-insensitive substring of the raw reason */
    cishare_kafka_conn_t cause;
    const char *say;
} conn_causes[] = {
    {"hostname mismatch", CISHARE_KAFKA_CONN_BROKER_UNTRUSTED,
     "the broker's certificate is not trusted: the broker's address is not "
     "in its certificate (hostname verification)"},
    {"ip address mismatch", CISHARE_KAFKA_CONN_BROKER_UNTRUSTED,
     "the broker's certificate is not trusted: the broker's address is not "
     "in its certificate (hostname verification)"},
    {"certificate verify failed", CISHARE_KAFKA_CONN_BROKER_UNTRUSTED,
     "the broker's certificate is not trusted: it was not issued by the CA "
     "in ssl.ca.location, or the broker's address is not in its "
     "certificate (hostname verification)"},
    {"alert certificate required", CISHARE_KAFKA_CONN_CLIENT_REFUSED,
     "the broker refused this client: it requires a client certificate and "
     "none was presented (set ssl.certificate.location and "
     "ssl.key.location)"},
    {"alert unknown ca", CISHARE_KAFKA_CONN_CLIENT_REFUSED,
     "the broker refused this client's certificate: it was not issued by "
     "the cluster CA"},
    {"alert certificate expired", CISHARE_KAFKA_CONN_CLIENT_REFUSED,
     "the broker refused this client's certificate: it has expired"},
    {"alert certificate revoked", CISHARE_KAFKA_CONN_CLIENT_REFUSED,
     "the broker refused this client's certificate: it has been revoked"},
    {"alert bad certificate", CISHARE_KAFKA_CONN_CLIENT_REFUSED,
     "the broker refused this client's certificate (missing, from another "
     "CA, expired or revoked)"},
    {"alert certificate unknown", CISHARE_KAFKA_CONN_CLIENT_REFUSED,
     "the broker refused this client's certificate (missing, from another "
     "CA, expired or revoked)"},
    {"alert unsupported certificate", CISHARE_KAFKA_CONN_CLIENT_REFUSED,
     "the broker refused this client's certificate (missing, from another "
     "CA, expired or revoked)"},
    {"alert access denied", CISHARE_KAFKA_CONN_CLIENT_REFUSED,
     "the broker refused this client's certificate (missing, from another "
     "CA, expired or revoked)"},
    {"alert handshake failure", CISHARE_KAFKA_CONN_CLIENT_REFUSED,
     "the broker refused the TLS handshake: it refused this client's "
     "certificate (missing, from another CA, expired or revoked), or no "
     "TLS version and cipher are common to both"},
    {"alert protocol version", CISHARE_KAFKA_CONN_TLS_OTHER,
     "the broker and this client have no TLS version in common (the "
     "cluster needs TLS 1.2 or 1.3)"},
    {"Disconnected while requesting ApiVersion", CISHARE_KAFKA_CONN_MISMATCH,
     "the broker closed the connection before answering: most likely a "
     "TLS/plaintext mismatch (security.protocol does not match the "
     "broker's listener, e.g. a plaintext client on a TLS port)"},
    {"connecting to a PLAINTEXT broker listener", CISHARE_KAFKA_CONN_MISMATCH,
     "the broker closed the connection during the TLS handshake: most "
     "likely a TLS/plaintext mismatch (a TLS client on a plaintext port; "
     "check security.protocol and bootstrap.servers)"},
    {"SSL handshake failed: Disconnected", CISHARE_KAFKA_CONN_MISMATCH,
     "the broker closed the connection during the TLS handshake: most "
     "likely a TLS/plaintext mismatch (a TLS client on a plaintext port; "
     "check security.protocol and bootstrap.servers)"},
    {"wrong version number", CISHARE_KAFKA_CONN_MISMATCH,
     "the broker did not answer in TLS: most likely a TLS/plaintext "
     "mismatch (a TLS client on a plaintext port; check security.protocol "
     "and bootstrap.servers)"},
    {"packet length too long", CISHARE_KAFKA_CONN_MISMATCH,
     "the broker did not answer in TLS: most likely a TLS/plaintext "
     "mismatch (a TLS client on a plaintext port; check security.protocol "
     "and bootstrap.servers)"},
    {"unexpected eof while reading", CISHARE_KAFKA_CONN_CLOSED,
     "the broker closed the TLS connection before answering: it may have "
     "refused this client's certificate (missing, from another CA, expired "
     "or revoked), or it is shutting down"},
    {"SSL handshake failed", CISHARE_KAFKA_CONN_TLS_OTHER,
     "the TLS handshake with the broker failed (check ssl.ca.location, "
     "ssl.certificate.location and ssl.key.location)"},
    {"Connection refused", CISHARE_KAFKA_CONN_UNREACHABLE,
     "cannot reach the Kafka broker: nothing listens at that address "
     "(check bootstrap.servers; is the broker running?)"},
};

const char *cishare_kafka_conn_code(cishare_kafka_conn_t cause)
{
    static const char *const codes[] = {
        [CISHARE_KAFKA_CONN_OTHER] = "kafka-error",
        [CISHARE_KAFKA_CONN_UNREACHABLE] = "broker-unreachable",
        [CISHARE_KAFKA_CONN_BROKER_UNTRUSTED] = "broker-untrusted",
        [CISHARE_KAFKA_CONN_CLIENT_REFUSED] = "client-refused",
        [CISHARE_KAFKA_CONN_LOGIN_REFUSED] = "login-refused",
        [CISHARE_KAFKA_CONN_MISMATCH] = "tls-mismatch",
        [CISHARE_KAFKA_CONN_CLOSED] = "connection-closed",
        [CISHARE_KAFKA_CONN_TLS_OTHER] = "tls-error"};

    return (unsigned)cause < sizeof(codes) / sizeof(codes[0]) ? codes[cause]
                                                              : codes[0];
}

int cishare_kafka_conn_is_refusal(cishare_kafka_conn_t cause)
{
    return cause == CISHARE_KAFKA_CONN_BROKER_UNTRUSTED ||
           cause == CISHARE_KAFKA_CONN_CLIENT_REFUSED ||
           cause == CISHARE_KAFKA_CONN_LOGIN_REFUSED;
}

cishare_kafka_conn_t cishare_kafka_explain_conn(rd_kafka_resp_err_t err,
                                                const char *reason,
                                                const char *principal,
                                                char *buf, size_t size)
{
    const char *raw = reason && *reason ? reason : rd_kafka_err2str(err);
    cishare_kafka_conn_t cause = CISHARE_KAFKA_CONN_OTHER;
    char plain[512];
    size_t i;

    if (!buf || !size)
        return cause;
    for (i = 0; reason && i < sizeof(conn_causes) / sizeof(conn_causes[0]); i++)
        if (strcasestr(reason, conn_causes[i].text)) {
            snprintf(buf, size, "%s (%s)", conn_causes[i].say, raw);
            return conn_causes[i].cause;
        }
    switch (err) {
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
        cause = CISHARE_KAFKA_CONN_LOGIN_REFUSED;
        break;
    case RD_KAFKA_RESP_ERR__SSL:
        cause = CISHARE_KAFKA_CONN_TLS_OTHER;
        break;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
        cause = CISHARE_KAFKA_CONN_UNREACHABLE;
        break;
    default:
        break;
    }
    cishare_kafka_describe_error(err, principal, NULL, NULL, plain,
                                 sizeof(plain));
    snprintf(buf, size, "%s (%s)", plain, raw);
    return cause;
}

int cishare_kafka_watch_update(cishare_kafka_watch_t *w,
                               rd_kafka_resp_err_t err, const char *reason,
                               const char *principal)
{
    char text[sizeof(w->text)];

    if (cishare_kafka_conn_is_refusal(cishare_kafka_explain_conn(
            err, reason, principal, text, sizeof(text)))) {
        w->refused = 1;
        memcpy(w->text, text, sizeof(text));
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        w->all_down = 1;
    return w->refused && w->all_down;
}
