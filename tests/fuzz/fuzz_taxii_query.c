/*
 * libFuzzer target: the TAXII 2.1 server's request parameters
 * (cishare_taxii_query_parse(): added_after, limit, next, match[type],
 * match[id], match[version], match[spec_version]), which come straight
 * from the URL of an authenticated client.
 *
 * Input: the first byte picks the endpoint (modulo 3, so '0' objects,
 * '1' manifest, '2' versions); then lines "name=value" (as libmicrohttpd hands
 * them, already unescaped; a value may hold any byte but NUL). A later line
 * with the same name wins, like a repeated parameter.
 * Properties: no crash, leak or UB; an error says why; an accepted
 * query is within the documented bounds.
 */
#include "taxii.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PARAMS_MAX 16

typedef struct {
    char *name[PARAMS_MAX], *value[PARAMS_MAX];
    size_t cnt;
} params_t;

static const char *get(void *opaque, const char *name)
{
    const params_t *p = opaque;
    size_t i = p->cnt;

    while (i--)
        if (!strcmp(p->name[i], name))
            return p->value[i];
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    params_t p = {{0}, {0}, 0};
    cishare_taxii_query_t q;
    cishare_taxii_kind_t kind;
    const uint8_t *s, *end = data + size, *nl, *eq;
    char errstr[512];
    size_t i;

    if (!size)
        return 0;
    kind = (cishare_taxii_kind_t)(data[0] % 3);
    for (s = data + 1; s < end && p.cnt < PARAMS_MAX; s = nl + 1) {
        if (!(nl = memchr(s, '\n', (size_t)(end - s))))
            nl = end;
        if (!(eq = memchr(s, '=', (size_t)(nl - s))))
            continue;
        p.name[p.cnt] = strndup((const char *)s, (size_t)(eq - s));
        p.value[p.cnt] = strndup((const char *)eq + 1, (size_t)(nl - eq - 1));
        if (!p.name[p.cnt] || !p.value[p.cnt])
            abort();
        p.cnt++;
    }
    errstr[0] = '\0';
    memset(&q, 0, sizeof(q));
    if (cishare_taxii_query_parse(&q, kind, get, &p, errstr, sizeof(errstr)) ==
        CISHARE_OK) {
        if (q.limit < 1 || q.limit > CISHARE_TAXII_LIMIT_MAX ||
            q.vmask & ~(CISHARE_TAXII_V_LAST | CISHARE_TAXII_V_FIRST |
                        CISHARE_TAXII_V_ALL))
            abort();
        if (kind == CISHARE_TAXII_VERSIONS && (q.types || q.ids))
            abort(); /* match[type] and match[id] are not read there */
    } else if (!errstr[0]) {
        abort();
    }
    cishare_taxii_query_clear(&q);
    for (i = 0; i < p.cnt; i++) {
        free(p.name[i]);
        free(p.value[i]);
    }
    return 0;
}
