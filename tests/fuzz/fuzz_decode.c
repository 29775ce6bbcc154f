/*
 * libFuzzer target: untrusted Kafka values through the payload codec.
 * Every input must give OK or an error, never a crash, leak or UB; a
 * decoded payload must re-encode to exactly the input bytes.
 */
#include "cishare/codec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cishare_codec_t *codec;
    cishare_msgtype_t type;
    json_t *payload = NULL;
    uint8_t *again;
    size_t len;
    char err[256];

    if (!codec && cishare_codec_new(&codec, err, sizeof(err)))
        abort();
    if (cishare_codec_decode(codec, data, size, &type, &payload, err,
                             sizeof(err)) == CISHARE_OK) {
        /* Canonical encodings round-trip; non-minimal varints or
         * negative block counts legitimately re-encode shorter, so only
         * check that re-encoding succeeds and decodes to the same JSON. */
        json_t *back = NULL;
        if (cishare_codec_encode(codec, type, payload, &again, &len, err,
                                 sizeof(err)))
            abort();
        if (cishare_codec_decode(codec, again, len, &type, &back, err,
                                 sizeof(err)) ||
            !json_equal(back, payload))
            abort();
        json_decref(back);
        free(again);
        json_decref(payload);
    }
    return 0;
}
