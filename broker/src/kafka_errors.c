/*
 * Plain-words Kafka errors: see kafka_errors.h.
 */
#include "cishare/kafka_errors.h"

#include <stdio.h>

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
