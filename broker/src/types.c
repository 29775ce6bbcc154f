#include "cishare/types.h"

#include <string.h>
#include <strings.h>

static const char *const tlp_names[CISHARE_TLP__CNT] = {
    "clear", "green", "amber", "amber+strict", "red"};
static const char *const tlp_topic_names[CISHARE_TLP__CNT] = {
    "clear", "green", "amber", "amber-strict", "red"};
static const char *const msgtype_names[CISHARE_MSG__CNT] = {
    "indicator", "incident", "alert", "sighting", "revocation", "receipt"};
static const char *const role_names[CISHARE_ROLE__CNT] = {"operator",
                                                          "ceptoar",
                                                          "ceptoar-council",
                                                          "ministry",
                                                          "coordination-office",
                                                          "security-org"};

const char *cishare_tlp_name(cishare_tlp_t tlp)
{
    return (unsigned)tlp < CISHARE_TLP__CNT ? tlp_names[tlp] : "?";
}

const char *cishare_tlp_topic_name(cishare_tlp_t tlp)
{
    return (unsigned)tlp < CISHARE_TLP__CNT ? tlp_topic_names[tlp] : "?";
}

bool cishare_tlp_parse(const char *text, cishare_tlp_t *tlpp)
{
    int i;

    if (!text)
        return false;
    if (!strncasecmp(text, "TLP:", 4))
        text += 4;
    if (!strcasecmp(text, "white")) {
        *tlpp = CISHARE_TLP_CLEAR;
        return true;
    }
    for (i = 0; i < CISHARE_TLP__CNT; i++) {
        if (!strcasecmp(text, tlp_names[i]) ||
            !strcasecmp(text, tlp_topic_names[i])) {
            *tlpp = (cishare_tlp_t)i;
            return true;
        }
    }
    return false;
}

const char *cishare_msgtype_name(cishare_msgtype_t type)
{
    return (unsigned)type < CISHARE_MSG__CNT ? msgtype_names[type] : "?";
}

bool cishare_msgtype_parse(const char *text, cishare_msgtype_t *typep)
{
    int i;

    for (i = 0; text && i < CISHARE_MSG__CNT; i++) {
        if (!strcmp(text, msgtype_names[i])) {
            *typep = (cishare_msgtype_t)i;
            return true;
        }
    }
    return false;
}

const char *cishare_role_name(cishare_role_t role)
{
    return (unsigned)role < CISHARE_ROLE__CNT ? role_names[role] : "?";
}

bool cishare_role_parse(const char *text, cishare_role_t *rolep)
{
    int i;

    for (i = 0; text && i < CISHARE_ROLE__CNT; i++) {
        if (!strcmp(text, role_names[i])) {
            *rolep = (cishare_role_t)i;
            return true;
        }
    }
    return false;
}
