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

#endif
