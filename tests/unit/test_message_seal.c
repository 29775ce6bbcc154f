/* Message build/decode with a publisher's sealer and a reader's unsealer
 * (seal.h v2 epochs, issue 17) on the example directory. */
#include "cishare/message.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixtures.h"

/* An AMBER+STRICT indicator of op-power-a to min-meti and nco (3
 * recipients with the origin), payload id n. */
static void build_strict(cishare_sealer_t *s, int n, cishare_msg_out_t *out)
{
    char text[1024], err[512] = "";
    cishare_keypair_t kp;
    json_error_t je;
    json_t *j;

    snprintf(text, sizeof(text),
             "{\"type\":\"indicator\",\"tlp\":\"amber+strict\",\"audience\":"
             "[\"participant:min-meti\",\"participant:nco\"],\"payload\":"
             "{\"id\":\"indicator--6d0f3c0e-2b52-4a39-9a4e-1f1f7b0e0a%02d\","
             "\"type\":\"ipv4\",\"value\":\"203.0.113.%d\",\"name\":\"C2\","
             "\"confidence\":80}}",
             n, n);
    j = json_loads(text, 0, &je);
    assert_non_null(j);
    load_kp("op-power-a", &kp);
    if (cishare_message_build_sealer(codec, dir, P("op-power-a"), &kp, j, -1,
                                     NULL, NOW + n, s, out, err, sizeof(err)))
        fail_msg("build: %s", err);
    assert_int_equal(cishare_envelope_sign(&out->env, &kp, NULL, out->key,
                                           out->key_len, out->value,
                                           out->value_len, err, sizeof(err)),
                     CISHARE_OK);
    cishare_keypair_wipe(&kp);
    json_decref(j);
}

/* verify + decode as `id` through u; the payload's value is 203.0.113.n */
static cishare_err_t decode_as(const char *id, cishare_unsealer_t *u,
                               const cishare_msg_out_t *out, int n)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(16);
    cishare_msg_in_t in;
    cishare_keypair_t kp;
    cishare_avro_buf_t line = {0};
    char err[512] = "", want[32];
    cishare_err_t e;

    memset(&in, 0, sizeof(in));
    assert_int_equal(cishare_envelope_to_headers(&out->env, h, NULL, 0),
                     CISHARE_OK);
    assert_int_equal(cishare_message_verify(dir, h, out->key, out->key_len,
                                            out->value, out->value_len, &in,
                                            err, sizeof(err)),
                     CISHARE_OK);
    load_kp(id, &kp);
    e = cishare_message_decode_unsealer(codec, &kp, u, out->key, out->key_len,
                                        out->value, out->value_len, &in, err,
                                        sizeof(err));
    if (!e) {
        snprintf(want, sizeof(want), "203.0.113.%d", n);
        assert_string_equal(
            json_string_value(json_object_get(in.payload, "value")), want);
        /* the line path reads it the same way */
        assert_int_equal(cishare_message_render_line_unsealer(
                             codec, &kp, u, out->key, out->key_len, out->value,
                             out->value_len, &in, &line, err, sizeof(err)),
                         CISHARE_OK);
        assert_non_null(memmem(line.buf, line.len, want, strlen(want)));
        free(line.buf);
    }
    cishare_keypair_wipe(&kp);
    cishare_msg_in_clear(&in);
    rd_kafka_headers_destroy(h);
    return e;
}

static void test_epochs_through_messages(void **state)
{
    cishare_sealer_t *s;
    cishare_unsealer_t *u;
    cishare_msg_out_t out[3];
    uint8_t ep[3][CISHARE_SEAL_EPOCH_ID_BYTES];
    uint64_t hits, opens;
    int i;

    (void)state;
    assert_int_equal(cishare_sealer_new(2, 1000, 3600000, &s, NULL, 0),
                     CISHARE_OK);
    assert_int_equal(cishare_unsealer_new(8, &u), CISHARE_OK);
    for (i = 0; i < 3; i++) {
        build_strict(s, i + 1, &out[i]);
        assert_int_equal(out[i].recipient_cnt, 3);
        assert_int_equal(
            cishare_seal_version(out[i].value, out[i].value_len, ep[i]), 2);
    }
    /* one epoch: the same id for the three messages */
    assert_memory_equal(ep[0], ep[1], sizeof(ep[0]));
    assert_memory_equal(ep[0], ep[2], sizeof(ep[0]));
    /* nco reads them opening one box (decode then render_line: 6 uses) */
    for (i = 0; i < 3; i++)
        assert_int_equal(decode_as("nco", u, &out[i], i + 1), CISHARE_OK);
    cishare_unsealer_stats(u, &hits, &opens);
    assert_int_equal(opens, 1);
    assert_int_equal(hits, 5);
    /* no unsealer: still read; a non-recipient is refused */
    assert_int_equal(decode_as("min-meti", NULL, &out[1], 2), CISHARE_OK);
    assert_int_equal(decode_as("op-power-b", u, &out[1], 2),
                     CISHARE_ERR_NOT_RECIPIENT);
    /* the seal is bound to its message: another message's value under
     * the same epoch does not pass for this one */
    {
        uint8_t *v = out[0].value;
        size_t l = out[0].value_len;
        out[0].value = out[1].value;
        out[0].value_len = out[1].value_len;
        out[1].value = v;
        out[1].value_len = l;
        /* re-sign so that only the seal's binding can refuse it */
        cishare_keypair_t kp;
        char err[256];
        load_kp("op-power-a", &kp);
        assert_int_equal(cishare_envelope_sign(
                             &out[0].env, &kp, NULL, out[0].key, out[0].key_len,
                             out[0].value, out[0].value_len, err, sizeof(err)),
                         CISHARE_OK);
        cishare_keypair_wipe(&kp);
        assert_int_equal(decode_as("nco", u, &out[0], 2), CISHARE_ERR_DECRYPT);
    }
    for (i = 0; i < 3; i++)
        cishare_msg_out_clear(&out[i]);
    cishare_sealer_destroy(s);

    /* a v1 publisher (cishare.seal.version=1): read through the unsealer */
    assert_int_equal(cishare_sealer_new(1, 1000, 3600000, &s, NULL, 0),
                     CISHARE_OK);
    build_strict(s, 4, &out[0]);
    assert_int_equal(cishare_seal_version(out[0].value, out[0].value_len, NULL),
                     1);
    assert_int_equal(decode_as("min-meti", u, &out[0], 4), CISHARE_OK);
    cishare_msg_out_clear(&out[0]);
    cishare_sealer_destroy(s);
    /* no sealer: v2 of its own epoch */
    build_strict(NULL, 5, &out[0]);
    assert_int_equal(cishare_seal_version(out[0].value, out[0].value_len, NULL),
                     2);
    assert_int_equal(decode_as("nco", u, &out[0], 5), CISHARE_OK);
    cishare_msg_out_clear(&out[0]);
    cishare_unsealer_destroy(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epochs_through_messages),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
