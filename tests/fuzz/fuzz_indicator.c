/*
 * libFuzzer target: the blocklist validator (cishare_indicator_check()),
 * which decides whether a shared value may reach a resolver's RPZ or a
 * firewall's set.
 *
 * Input: the first byte picks the type ('0' ipv4 ... '8' sha512 in the
 * order of types[], '9' a type that is not listable), the rest is the value (up
 * to its first NUL, as a C string). Properties: no crash, leak or UB; a reason
 * that has a name; an accepted value's normal form fits the list's bound and is
 * accepted again as itself (the lists are written from it and read back).
 */
#include "cishare/indicator.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const types[] = {"ipv4", "ipv6", "domain", "url",    "email",
                                    "md5",  "sha1", "sha256", "sha512", "asn"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char norm[CISHARE_INDICATOR_VALUE_MAX + 1];
    static char again[CISHARE_INDICATOR_VALUE_MAX + 1];
    const char *type, *detail = NULL;
    cishare_indicator_reason_t r;
    char *value;

    if (!size)
        return 0;
    type =
        types[(unsigned)(data[0] - '0') % (sizeof(types) / sizeof(types[0]))];
    if (!(value = strndup((const char *)data + 1, size - 1)))
        abort();
    r = cishare_indicator_check(type, value, norm, sizeof(norm), &detail);
    if (r >= CISHARE_INDICATOR__CNT || !cishare_indicator_reason_name(r))
        abort();
    if (r == CISHARE_INDICATOR_OK) {
        if (!cishare_indicator_listable(type) ||
            strlen(norm) > CISHARE_INDICATOR_VALUE_MAX)
            abort();
        if (cishare_indicator_check(type, norm, again, sizeof(again),
                                    &detail) != CISHARE_INDICATOR_OK ||
            strcmp(norm, again))
            abort(); /* the normal form is a fixed point */
    }
    (void)cishare_indicator_check_label(value, &detail);
    free(value);
    return 0;
}
