/*
 * cishare - the vocabulary shared by every module: TLP labels, message
 * types, participant roles. Text forms are the wire forms (headers, topic
 * names, JSON) and are part of the contract.
 */
#ifndef CISHARE_TYPES_H
#define CISHARE_TYPES_H

#include <stdbool.h>
#include <stddef.h>

/** TLP 2.0 labels, ordered from least to most restrictive. */
typedef enum {
    CISHARE_TLP_CLEAR = 0,
    CISHARE_TLP_GREEN,
    CISHARE_TLP_AMBER,
    CISHARE_TLP_AMBER_STRICT,
    CISHARE_TLP_RED,
    CISHARE_TLP__CNT
} cishare_tlp_t;

/** Header/JSON form: "clear", "green", "amber", "amber+strict", "red". */
const char *cishare_tlp_name(cishare_tlp_t tlp);
/** Topic-name form: "clear", "green", "amber", "amber-strict", "red". */
const char *cishare_tlp_topic_name(cishare_tlp_t tlp);
/**
 * Parse a label as users write it: case-insensitive, optional "TLP:"
 * prefix, "white" reads as clear, "amber-strict" as amber+strict.
 * Returns false if the text is not a label.
 */
bool cishare_tlp_parse(const char *text, cishare_tlp_t *tlpp);
/** True when label b is at least as restrictive as label a. */
static inline bool cishare_tlp_at_least(cishare_tlp_t b, cishare_tlp_t a)
{
    return b >= a;
}
/** True for the labels whose payload is encrypted end to end. */
static inline bool cishare_tlp_encrypted(cishare_tlp_t tlp)
{
    return tlp == CISHARE_TLP_AMBER_STRICT || tlp == CISHARE_TLP_RED;
}

typedef enum {
    CISHARE_MSG_INDICATOR = 0,
    CISHARE_MSG_INCIDENT,
    CISHARE_MSG_ALERT,
    CISHARE_MSG_SIGHTING,
    CISHARE_MSG_REVOCATION,
    CISHARE_MSG_RECEIPT,
    CISHARE_MSG__CNT
} cishare_msgtype_t;

/** "indicator", "incident", "alert", "sighting", "revocation",
 *  "receipt". */
const char *cishare_msgtype_name(cishare_msgtype_t type);
bool cishare_msgtype_parse(const char *text, cishare_msgtype_t *typep);

typedef enum {
    CISHARE_ROLE_OPERATOR = 0,
    CISHARE_ROLE_CEPTOAR,
    CISHARE_ROLE_CEPTOAR_COUNCIL,
    CISHARE_ROLE_MINISTRY,
    CISHARE_ROLE_COORDINATION_OFFICE,
    CISHARE_ROLE_SECURITY_ORG,
    CISHARE_ROLE__CNT
} cishare_role_t;

/** "operator", "ceptoar", "ceptoar-council", "ministry",
 *  "coordination-office", "security-org". */
const char *cishare_role_name(cishare_role_t role);
bool cishare_role_parse(const char *text, cishare_role_t *rolep);

#endif
