/* Per-topic sealed copies (message.h cishare_msg_topic_t, issue 17): an
 * encrypted message built with a v2 sealer carries one copy per topic,
 * sealed to the recipients whose feed reads that topic, on the example
 * directory. */
#include "cishare/message.h"
#include "cishare/routing.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixtures.h"

#define AUD "sector:electricity,sector:gas,sector:finance"

/* An indicator of `as` at label tlp to aud, payload id n, unsigned
 * (each copy is signed on its own). */
static void build_as(const char *as, const char *aud, cishare_sealer_t *s,
                     int n, const char *tlp, cishare_msg_out_t *out)
{
    char text[1024], err[512] = "";
    cishare_keypair_t kp;
    json_error_t je;
    json_t *j;

    snprintf(text, sizeof(text),
             "{\"type\":\"indicator\",\"tlp\":\"%s\",\"payload\":"
             "{\"id\":\"indicator--6d0f3c0e-2b52-4a39-9a4e-1f1f7b0e0a%02d\","
             "\"type\":\"ipv4\",\"value\":\"203.0.113.%d\",\"name\":\"C2\","
             "\"confidence\":80}}",
             tlp, n, n);
    j = json_loads(text, 0, &je);
    assert_non_null(j);
    load_kp(as, &kp);
    if (cishare_message_build_sealer(codec, dir, P(as), &kp, j, -1, aud,
                                     NOW + n, s, out, err, sizeof(err)))
        fail_msg("build: %s", err);
    cishare_keypair_wipe(&kp);
    json_decref(j);
}

/* Sign env over value as nco, then verify and decode it as `id`. */
static cishare_err_t open_as(const char *id, cishare_envelope_t *env,
                             const cishare_msg_out_t *out, const uint8_t *value,
                             size_t len)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(16);
    cishare_msg_in_t in;
    cishare_keypair_t kp;
    char err[512] = "";
    cishare_err_t e;

    memset(&in, 0, sizeof(in));
    load_kp("nco", &kp);
    assert_int_equal(cishare_envelope_sign(env, &kp, NULL, out->key,
                                           out->key_len, value, len, err,
                                           sizeof(err)),
                     CISHARE_OK);
    cishare_keypair_wipe(&kp);
    assert_int_equal(cishare_envelope_to_headers(env, h, NULL, 0), CISHARE_OK);
    if (cishare_message_verify(dir, h, out->key, out->key_len, value, len, &in,
                               err, sizeof(err)))
        fail_msg("verify: %s", err);
    load_kp(id, &kp);
    e = cishare_message_decode(codec, &kp, out->key, out->key_len, value, len,
                               &in, err, sizeof(err));
    cishare_keypair_wipe(&kp);
    cishare_msg_in_clear(&in);
    rd_kafka_headers_destroy(h);
    return e;
}

static bool feed_reads(const cishare_participant_t *p, const char *topic)
{
    cishare_strlist_t l = {0};
    bool r;

    assert_int_equal(cishare_routing_feed_topics(p, &l), CISHARE_OK);
    r = cishare_strlist_has(&l, topic);
    cishare_strlist_clear(&l);
    return r;
}

static void test_copies_per_topic(void **state)
{
    cishare_sealer_t *s;
    cishare_msg_out_t out[2];
    cishare_strlist_t topics = {0};
    uint8_t ep[2][8][CISHARE_SEAL_EPOCH_ID_BYTES];
    size_t i, j, k, readers;

    (void)state;
    assert_int_equal(cishare_sealer_new(2, 1000, 3600000, &s, NULL, 0),
                     CISHARE_OK);
    for (k = 0; k < 2; k++)
        build_as("nco", AUD, s, (int)k + 1, "amber+strict", &out[k]);
    /* one copy per topic of the routing, in its order */
    assert_int_equal(cishare_routing_topics(dir, P("nco"), out[0].env.tlp,
                                            &out[0].audience, &topics, NULL, 0),
                     CISHARE_OK);
    assert_int_equal(out[0].topic_cnt, topics.cnt);
    assert_true(topics.cnt >= 4 && topics.cnt <= 8);
    for (k = 0; k < 2; k++)
        for (j = 0; j < topics.cnt; j++) {
            const cishare_msg_topic_t *mt = &out[k].topics[j];
            assert_string_equal(mt->topic, topics.items[j]);
            assert_int_equal(
                cishare_seal_version(mt->value, mt->value_len, ep[k][j]), 2);
            assert_int_equal(
                cishare_seal_recipient_cnt(mt->value, mt->value_len),
                (long)mt->recipient_cnt);
            /* fewer key wraps than the value for every recipient */
            assert_true(mt->recipient_cnt < out[k].recipient_cnt);
            assert_true(mt->value_len < out[k].value_len);
        }
    /* one epoch per topic's readers, kept across messages */
    for (j = 0; j < topics.cnt; j++) {
        assert_memory_equal(ep[0][j], ep[1][j], CISHARE_SEAL_EPOCH_ID_BYTES);
        for (i = 0; i < j; i++)
            assert_memory_not_equal(ep[0][i], ep[0][j],
                                    CISHARE_SEAL_EPOCH_ID_BYTES);
    }
    /* Each participant reads a copy exactly when it reads the topic and
     * is a recipient of the message (reads the value for everyone); no
     * one else does, and every recipient reads a copy. */
    for (i = 0; i < cishare_directory_participant_cnt(dir); i++) {
        const cishare_participant_t *p = cishare_directory_participant(dir, i);
        cishare_envelope_t env = out[0].env;
        bool rcpt = open_as(p->id, &env, &out[0], out[0].value,
                            out[0].value_len) == CISHARE_OK;
        size_t got = 0;

        for (j = 0; j < topics.cnt; j++) {
            cishare_msg_topic_t *mt = &out[0].topics[j];
            cishare_err_t e;

            env = out[0].env; /* each copy signs the message's envelope */
            e = open_as(p->id, &env, &out[0], mt->value, mt->value_len);
            if (rcpt && feed_reads(p, mt->topic)) {
                assert_int_equal(e, CISHARE_OK);
                got++;
            } else {
                assert_int_equal(e, CISHARE_ERR_NOT_RECIPIENT);
            }
        }
        assert_true(rcpt ? got > 0 : got == 0);
    }
    /* the counts of the example directory: electricity has four readers
     * among the recipients, finance and gas three, nco's inbox one */
    for (readers = j = 0; j < topics.cnt; j++)
        readers += out[0].topics[j].recipient_cnt;
    assert_int_equal(out[0].recipient_cnt, 10);
    assert_int_equal(readers, 11);
    for (k = 0; k < 2; k++)
        cishare_msg_out_clear(&out[k]);
    cishare_strlist_clear(&topics);
    cishare_sealer_destroy(s);
}

static void test_no_copies(void **state)
{
    cishare_sealer_t *s;
    cishare_msg_out_t out;

    (void)state;
    /* a v1 publisher writes one value for every topic */
    assert_int_equal(cishare_sealer_new(1, 1000, 3600000, &s, NULL, 0),
                     CISHARE_OK);
    build_as("nco", AUD, s, 1, "amber+strict", &out);
    assert_int_equal(out.topic_cnt, 0);
    assert_null(out.topics);
    cishare_msg_out_clear(&out);
    cishare_sealer_destroy(s);
    /* no sealer, and a clear message */
    build_as("nco", AUD, NULL, 2, "amber+strict", &out);
    assert_int_equal(out.topic_cnt, 0);
    cishare_msg_out_clear(&out);
    assert_int_equal(cishare_sealer_new(2, 1000, 3600000, &s, NULL, 0),
                     CISHARE_OK);
    build_as("nco", AUD, s, 3, "amber", &out);
    assert_int_equal(out.topic_cnt, 0);
    assert_int_equal(out.recipient_cnt, 0);
    cishare_msg_out_clear(&out);
    /* one topic, read by every recipient: the value is the copy */
    build_as("op-power-a", "sector:electricity", s, 4, "amber+strict", &out);
    assert_int_equal(out.recipient_cnt, 4);
    assert_int_equal(out.topic_cnt, 0);
    assert_null(out.topics);
    cishare_msg_out_clear(&out);
    /* cishare.seal.per-topic=0: one value for every topic */
    assert_int_equal(cishare_sealer_per_topic(s), 1);
    cishare_sealer_set_per_topic(s, 0);
    build_as("nco", AUD, s, 5, "amber+strict", &out);
    assert_int_equal(out.recipient_cnt, 10);
    assert_int_equal(out.topic_cnt, 0);
    cishare_msg_out_clear(&out);
    cishare_sealer_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copies_per_topic),
        cmocka_unit_test(test_no_copies),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
