/*
 * Fuzz the untrusted-input parsers of the envelope module: Kafka headers
 * (input lines "name=value", NUL-free: every cishare.* header, relay hops
 * included), the audience texts the feed parses next (the origin's and
 * each hop's, as cishare_message_verify() does) and the sealed-value
 * layout. Properties: no crash, no leak; a parsed envelope re-validates.
 */
#include "cishare/envelope.h"
#include "cishare/policy.h"
#include "cishare/seal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static cishare_keypair_t kp;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    rd_kafka_headers_t *h;
    cishare_envelope_t env;
    const uint8_t *p = data, *end = data + size, *nl, *eq;
    uint8_t *pt = NULL;
    size_t ptlen = 0;
    char name[128];

    if (!init) {
        cishare_crypto_init();
        cishare_keypair_generate(&kp);
        init = 1;
    }
    h = rd_kafka_headers_new(8);
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        eq = memchr(p, '=', (size_t)(nl - p));
        if (eq && (size_t)(eq - p) < sizeof(name)) {
            memcpy(name, p, (size_t)(eq - p));
            name[eq - p] = '\0';
            if (!memchr(name, '\0', (size_t)(eq - p)))
                rd_kafka_header_add(h, name, -1, eq + 1, nl - eq - 1);
        }
        p = nl + 1;
    }
    if (cishare_envelope_from_headers(h, &env, NULL, 0) == CISHARE_OK) {
        cishare_audience_t aud;
        size_t i;
        memset(&aud, 0, sizeof(aud));
        (void)cishare_audience_parse(env.audience, &aud, NULL, 0);
        cishare_audience_clear(&aud);
        for (i = 0; i < env.relay_cnt; i++) {
            (void)cishare_audience_parse(env.relay[i].audience, &aud, NULL, 0);
            cishare_audience_clear(&aud);
        }
        if (cishare_envelope_validate(&env, NULL, 0) != CISHARE_OK)
            abort();
        if (cishare_envelope_verify(&env, "k", 1, data, size, kp.ed25519_pk,
                                    NULL, 0) == CISHARE_OK)
            abort(); /* nobody signs with this random key */
    }
    rd_kafka_headers_destroy(h);
    if (cishare_seal_decrypt(data, size, &kp, NULL, 0, &pt, &ptlen, NULL, 0) ==
        CISHARE_OK)
        free(pt);
    return 0;
}
