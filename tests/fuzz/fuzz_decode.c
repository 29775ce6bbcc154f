/*
 * libFuzzer target: untrusted Kafka values through the payload codec.
 * Every input must give OK or an error, never a crash, leak or UB; a
 * decoded payload must re-encode to exactly the input bytes.
 * The feed's JSON Lines path (cishare_codec_decode_text(), no JSON tree)
 * must agree with it: the same verdict, and on success exactly the
 * compact sorted dump of the decoded payload. Every message type goes
 * through here, receipts included (seeded from tests/vectors/codec).
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
    cishare_avro_buf_t text = {NULL, 0, 0, 0};
    cishare_msgtype_t ttype;
    const char *subject;
    size_t subject_len;
    cishare_err_t terr;

    if (!codec && cishare_codec_new(&codec, err, sizeof(err)))
        abort();
    terr = cishare_codec_decode_text(codec, data, size, &ttype, &text, &subject,
                                     &subject_len, err, sizeof(err));
    if (cishare_codec_decode(codec, data, size, &type, &payload, err,
                             sizeof(err)) != CISHARE_OK) {
        if (terr == CISHARE_OK)
            abort(); /* the text path accepted what the tree path refused */
    } else {
        char *dump = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
        if (terr != CISHARE_OK || ttype != type || !dump ||
            strlen(dump) != text.len || memcmp(dump, text.buf, text.len))
            abort();
        free(dump);
        {
            /* and the same subject (the Kafka key it is checked against) */
            size_t slen = 0;
            const char *subj =
                cishare_payload_subject_len(type, payload, &slen);
            if (!subj != !subject ||
                (subj && (slen != subject_len || memcmp(subj, subject, slen))))
                abort();
        }
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
    free(text.buf);
    return 0;
}
