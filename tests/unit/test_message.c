/* Message build/open on the example directory (deploy/examples). */
#include "cishare/message.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fixtures.h"

static json_t *msg_json(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);

    if (!j)
        fail_msg("bad test JSON: %s", je.text);
    return j;
}

#define INDICATOR                                                              \
    "{\"type\":\"indicator\",%s\"payload\":{\"id\":\"indicator--6d0f3c0e-"     \
    "2b52-4a39-9a4e-1f1f7b0e0a01\",\"type\":\"ipv4\",\"value\":\"203.0.113."   \
    "45\",\"name\":\"C2\",\"confidence\":80}}"

static cishare_err_t build(const char *as, const char *extra, int tlp,
                           const char *aud, cishare_msg_out_t *out, char *err,
                           size_t errsize)
{
    char text[2048];
    cishare_keypair_t kp;
    cishare_err_t e;
    json_t *j;

    snprintf(text, sizeof(text), INDICATOR, extra);
    j = msg_json(text);
    load_kp(as, &kp);
    e = cishare_message_build(codec, dir, P(as), &kp, j, tlp, aud, NOW, out,
                              err, errsize);
    cishare_keypair_wipe(&kp);
    json_decref(j);
    return e;
}

static rd_kafka_headers_t *headers(const cishare_envelope_t *env)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(16);
    assert_int_equal(cishare_envelope_to_headers(env, h, NULL, 0), CISHARE_OK);
    return h;
}

static cishare_err_t open_as(const char *id, const cishare_msg_out_t *out,
                             const rd_kafka_headers_t *h, cishare_msg_in_t *in,
                             char *err, size_t errsize)
{
    cishare_keypair_t kp, *kpp = NULL;
    cishare_err_t e;

    if (id) {
        load_kp(id, &kp);
        kpp = &kp;
    }
    e = cishare_message_open(codec, dir, kpp, h, out->key, out->key_len,
                             out->value, out->value_len, in, err, errsize);
    if (kpp)
        cishare_keypair_wipe(&kp);
    return e;
}

static void test_green_roundtrip(void **state)
{
    cishare_msg_out_t out;
    cishare_msg_in_t in;
    cishare_policy_msg_t pm;
    rd_kafka_headers_t *h;
    char err[512] = "";

    (void)state;
    assert_int_equal(build("op-power-a", "", -1, NULL, &out, err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(out.env.tlp, CISHARE_TLP_GREEN);
    assert_string_equal(out.env.audience, "all");
    assert_string_equal(out.env.sector, "electricity");
    assert_string_equal(out.key,
                        "indicator--6d0f3c0e-2b52-4a39-9a4e-1f1f7b0e0a01");
    assert_int_equal(out.recipient_cnt, 0);
    assert_false(cishare_envelope_encrypted(&out.env));
    h = headers(&out.env);
    assert_int_equal(open_as("jpcert", &out, h, &in, err, sizeof(err)),
                     CISHARE_OK);
    assert_true(in.verified);
    assert_ptr_equal(in.origin, P("op-power-a"));
    assert_non_null(in.payload);
    assert_string_equal(json_string_value(json_object_get(in.payload, "value")),
                        "203.0.113.45");
    cishare_message_policy_msg(&in, &pm);
    assert_true(cishare_policy_decide(dir, &pm, P("jpcert"), NOW).deliver);
    cishare_msg_in_clear(&in);
    /* no key needed for plaintext */
    assert_int_equal(open_as(NULL, &out, h, &in, err, sizeof(err)), CISHARE_OK);
    assert_non_null(in.payload);
    cishare_msg_in_clear(&in);
    rd_kafka_headers_destroy(h);
    cishare_msg_out_clear(&out);
}

static void test_amber_default_audience(void **state)
{
    cishare_msg_out_t out;
    char err[512] = "";

    (void)state;
    assert_int_equal(build("op-bank-a", "\"tlp\":\"amber\",", -1, NULL, &out,
                           err, sizeof(err)),
                     CISHARE_OK);
    assert_string_equal(out.env.audience, "sector:finance");
    assert_false(cishare_envelope_encrypted(&out.env));
    cishare_msg_out_clear(&out);
    /* override beats the message */
    assert_int_equal(build("op-bank-a", "\"tlp\":\"amber\",", CISHARE_TLP_GREEN,
                           "sector:gas,all", &out, err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(out.env.tlp, CISHARE_TLP_GREEN);
    assert_string_equal(out.env.audience, "all,sector:gas");
    cishare_msg_out_clear(&out);
}

static void test_red_recipients(void **state)
{
    cishare_msg_out_t out;
    cishare_msg_in_t in;
    rd_kafka_headers_t *h;
    char err[512] = "";

    (void)state;
    assert_int_equal(build("nco",
                           "\"tlp\":\"red\",\"audience\":[\"participant:"
                           "ceptoar-electricity\"],",
                           -1, NULL, &out, err, sizeof(err)),
                     CISHARE_OK);
    assert_true(cishare_envelope_encrypted(&out.env));
    assert_int_equal(out.recipient_cnt, 2); /* named + origin */
    assert_null(memmem(out.value, out.value_len, "203.0.113.45", 12));
    h = headers(&out.env);
    /* named recipient and origin decrypt */
    assert_int_equal(
        open_as("ceptoar-electricity", &out, h, &in, err, sizeof(err)),
        CISHARE_OK);
    assert_non_null(in.payload);
    cishare_msg_in_clear(&in);
    assert_int_equal(open_as("nco", &out, h, &in, err, sizeof(err)),
                     CISHARE_OK);
    assert_non_null(in.payload);
    cishare_msg_in_clear(&in);
    /* anyone else: verified, not a recipient */
    assert_int_equal(open_as("op-power-a", &out, h, &in, err, sizeof(err)),
                     CISHARE_ERR_NOT_RECIPIENT);
    assert_true(in.verified);
    assert_null(in.payload);
    cishare_msg_in_clear(&in);
    /* verify only */
    assert_int_equal(open_as(NULL, &out, h, &in, err, sizeof(err)), CISHARE_OK);
    assert_true(in.verified);
    assert_true(in.encrypted);
    assert_null(in.payload);
    cishare_msg_in_clear(&in);
    rd_kafka_headers_destroy(h);
    cishare_msg_out_clear(&out);
}

static void test_amber_strict_members(void **state)
{
    cishare_msg_out_t out;
    cishare_msg_in_t in;
    rd_kafka_headers_t *h;
    char err[512] = "";
    static const char *const yes[] = {"min-meti", "nco", "op-power-a"};
    static const char *const no[] = {"op-power-b", "ceptoar-electricity",
                                     "jpcert", "min-fsa"};
    size_t i;

    (void)state;
    assert_int_equal(build("op-power-a",
                           "\"tlp\":\"amber+strict\",\"audience\":["
                           "\"participant:min-meti\",\"participant:nco\"],",
                           -1, NULL, &out, err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(out.recipient_cnt, 3);
    h = headers(&out.env);
    for (i = 0; i < 3; i++) {
        assert_int_equal(open_as(yes[i], &out, h, &in, err, sizeof(err)),
                         CISHARE_OK);
        cishare_msg_in_clear(&in);
    }
    for (i = 0; i < 4; i++) {
        assert_int_equal(open_as(no[i], &out, h, &in, err, sizeof(err)),
                         CISHARE_ERR_NOT_RECIPIENT);
        cishare_msg_in_clear(&in);
    }
    rd_kafka_headers_destroy(h);
    cishare_msg_out_clear(&out);
}

static void test_build_refusals(void **state)
{
    cishare_msg_out_t out;
    cishare_keypair_t kp;
    char err[512] = "";
    json_t *j;

    (void)state;
    /* RED with a sector audience */
    assert_int_equal(build("nco",
                           "\"tlp\":\"red\",\"audience\":[\"sector:gas\"],", -1,
                           NULL, &out, err, sizeof(err)),
                     CISHARE_ERR_POLICY);
    assert_null(out.value);
    /* unknown top-level field */
    assert_int_equal(
        build("nco", "\"origin\":\"nco\",", -1, NULL, &out, err, sizeof(err)),
        CISHARE_ERR_VALIDATION);
    assert_non_null(strstr(err, "message.origin"));
    /* expired already */
    assert_int_equal(build("nco", "\"expires\":\"2020-01-01T00:00:00Z\",", -1,
                           NULL, &out, err, sizeof(err)),
                     CISHARE_ERR_VALIDATION);
    /* bad label */
    assert_int_equal(
        build("nco", "\"tlp\":\"purple\",", -1, NULL, &out, err, sizeof(err)),
        CISHARE_ERR_VALIDATION);
    /* signing as someone else */
    j = msg_json("{\"type\":\"indicator\",\"payload\":{\"type\":\"ipv4\","
                 "\"value\":\"192.0.2.1\",\"name\":\"x\"}}");
    load_kp("op-power-b", &kp);
    assert_int_equal(cishare_message_build(codec, dir, P("op-power-a"), &kp, j,
                                           -1, NULL, NOW, &out, err,
                                           sizeof(err)),
                     CISHARE_ERR_UNKNOWN_KEY);
    /* payload errors name the field */
    cishare_keypair_wipe(&kp);
    load_kp("op-power-a", &kp);
    json_object_set_new(json_object_get(j, "payload"), "confidence",
                        json_string("high"));
    assert_int_not_equal(cishare_message_build(codec, dir, P("op-power-a"), &kp,
                                               j, -1, NULL, NOW, &out, err,
                                               sizeof(err)),
                         CISHARE_OK);
    assert_non_null(strstr(err, "confidence"));
    cishare_keypair_wipe(&kp);
    json_decref(j);
}

/* Replace one header's value in a copy of h. */
static rd_kafka_headers_t *with(const rd_kafka_headers_t *h, const char *name,
                                const char *val)
{
    rd_kafka_headers_t *c = rd_kafka_headers_copy(h);
    rd_kafka_header_remove(c, name);
    rd_kafka_header_add(c, name, -1, val, -1);
    return c;
}

static void test_open_refusals(void **state)
{
    cishare_msg_out_t out, red;
    cishare_msg_in_t in;
    rd_kafka_headers_t *h, *t;
    char err[512] = "";
    uint8_t *v;

    (void)state;
    assert_int_equal(build("op-power-a", "\"tlp\":\"amber\",", -1, NULL, &out,
                           err, sizeof(err)),
                     CISHARE_OK);
    /* layout 1 (still read): its text headers are easy to swap one by one
     * (test_envelope.c tampers with layout 2 byte by byte) */
    out.env.wire_version = CISHARE_ENV_WIRE_V1;
    h = headers(&out.env);
    /* label changed */
    t = with(h, CISHARE_H_TLP, "green");
    assert_int_equal(cishare_message_open(codec, dir, NULL, t, out.key,
                                          out.key_len, out.value, out.value_len,
                                          &in, err, sizeof(err)),
                     CISHARE_ERR_BAD_SIGNATURE);
    assert_false(in.verified);
    cishare_msg_in_clear(&in);
    rd_kafka_headers_destroy(t);
    /* unknown origin */
    t = with(h, CISHARE_H_ORIGIN, "op-nobody");
    assert_int_equal(cishare_message_open(codec, dir, NULL, t, out.key,
                                          out.key_len, out.value, out.value_len,
                                          &in, err, sizeof(err)),
                     CISHARE_ERR_UNKNOWN_KEY);
    cishare_msg_in_clear(&in);
    rd_kafka_headers_destroy(t);
    /* key id of another participant */
    t = with(h, CISHARE_H_KID, P("op-power-b")->key_id);
    assert_int_equal(cishare_message_open(codec, dir, NULL, t, out.key,
                                          out.key_len, out.value, out.value_len,
                                          &in, err, sizeof(err)),
                     CISHARE_ERR_UNKNOWN_KEY);
    cishare_msg_in_clear(&in);
    rd_kafka_headers_destroy(t);
    /* origin claims another participant with that participant's kid */
    t = with(h, CISHARE_H_ORIGIN, "op-power-b");
    rd_kafka_header_remove(t, CISHARE_H_KID);
    rd_kafka_header_add(t, CISHARE_H_KID, -1, P("op-power-b")->key_id, -1);
    assert_int_equal(cishare_message_open(codec, dir, NULL, t, out.key,
                                          out.key_len, out.value, out.value_len,
                                          &in, err, sizeof(err)),
                     CISHARE_ERR_BAD_SIGNATURE);
    cishare_msg_in_clear(&in);
    rd_kafka_headers_destroy(t);
    /* value byte, key */
    v = malloc(out.value_len);
    memcpy(v, out.value, out.value_len);
    v[out.value_len - 1] ^= 1;
    assert_int_equal(cishare_message_open(codec, dir, NULL, h, out.key,
                                          out.key_len, v, out.value_len, &in,
                                          err, sizeof(err)),
                     CISHARE_ERR_BAD_SIGNATURE);
    cishare_msg_in_clear(&in);
    free(v);
    assert_int_equal(cishare_message_open(codec, dir, NULL, h, "indicator--x",
                                          12, out.value, out.value_len, &in,
                                          err, sizeof(err)),
                     CISHARE_ERR_BAD_SIGNATURE);
    cishare_msg_in_clear(&in);
    /* oversized key and value are refused before parsing */
    {
        static char bigkey[CISHARE_SUBJECT_MAX_LEN + 2];
        memset(bigkey, 'k', sizeof(bigkey) - 1);
        assert_int_equal(cishare_message_open(
                             codec, dir, NULL, h, bigkey, sizeof(bigkey) - 1,
                             out.value, out.value_len, &in, err, sizeof(err)),
                         CISHARE_ERR_TOO_LARGE);
        cishare_msg_in_clear(&in);
        assert_int_equal(cishare_message_open(codec, dir, NULL, h, out.key,
                                              out.key_len, out.value,
                                              CISHARE_MESSAGE_MAX_VALUE + 1,
                                              &in, err, sizeof(err)),
                         CISHARE_ERR_TOO_LARGE);
        cishare_msg_in_clear(&in);
    }
    rd_kafka_headers_destroy(h);

    /* A legitimate participant re-signs another message's ciphertext as
     * its own: the seal is bound to id/origin, so it does not open. */
    assert_int_equal(build("nco",
                           "\"tlp\":\"red\",\"audience\":[\"participant:"
                           "op-power-a\"],",
                           -1, NULL, &red, err, sizeof(err)),
                     CISHARE_OK);
    {
        cishare_keypair_t kp;
        cishare_envelope_t env = red.env;
        load_kp("op-power-a", &kp);
        strcpy(env.origin, "op-power-a");
        cishare_envelope_new_id(&env);
        assert_int_equal(cishare_envelope_sign(&env, &kp, NULL, red.key,
                                               red.key_len, red.value,
                                               red.value_len, NULL, 0),
                         CISHARE_OK);
        h = headers(&env);
        assert_int_equal(cishare_message_open(
                             codec, dir, &kp, h, red.key, red.key_len,
                             red.value, red.value_len, &in, err, sizeof(err)),
                         CISHARE_ERR_DECRYPT);
        assert_true(in.verified);
        cishare_msg_in_clear(&in);
        rd_kafka_headers_destroy(h);
        cishare_keypair_wipe(&kp);
    }
    cishare_msg_out_clear(&red);
    cishare_msg_out_clear(&out);
}

/* A relay hop cannot widen who receives a message: the feed's decision
 * for a relayed copy applies the re-sharing rules of its relay against the
 * origin's own label and audience (found in review: an operator with no
 * clients re-published AMBER to `all`, and every feed delivered it). */
static void test_relay_reshare_rules(void **state)
{
    cishare_msg_out_t out;
    cishare_msg_in_t in;
    cishare_keypair_t rk;
    rd_kafka_headers_t *h;
    char err[512] = "";

    (void)state;
    assert_int_equal(build("op-power-a", "\"tlp\":\"amber\",", -1, NULL, &out,
                           err, sizeof(err)),
                     CISHARE_OK);
    /* op-power-b received it (sector:electricity) but has no clients */
    load_kp("op-power-b", &rk);
    assert_int_equal(cishare_envelope_relay_sign(
                         &out.env, &rk, "op-power-b", CISHARE_TLP_AMBER, "all",
                         NOW + 1000, out.key, out.key_len, out.value,
                         out.value_len, err, sizeof(err)),
                     CISHARE_OK);
    h = headers(&out.env);
    assert_int_equal(open_as("op-bank-a", &out, h, &in, err, sizeof(err)),
                     CISHARE_OK);
    assert_true(in.verified);
    /* the hop's own audience (`all`) would deliver; the rules do not */
    assert_false(cishare_message_decide(dir, &in, P("op-bank-a"), NOW).deliver);
    assert_int_equal(
        cishare_message_decide(dir, &in, P("op-bank-a"), NOW).reason,
        CISHARE_REASON_NOT_RELAY_CLIENT);
    assert_false(cishare_message_decide(dir, &in, P("jpcert"), NOW).deliver);
    /* those who could receive it anyway still do: the relay, the origin */
    assert_true(cishare_message_decide(dir, &in, P("op-power-b"), NOW).deliver);
    assert_true(cishare_message_decide(dir, &in, P("op-power-a"), NOW).deliver);
    cishare_msg_in_clear(&in);
    rd_kafka_headers_destroy(h);
    cishare_keypair_wipe(&rk);

    /* a second hop: the second relay did not receive it directly */
    load_kp("ceptoar-electricity", &rk);
    assert_int_equal(
        cishare_envelope_relay_sign(&out.env, &rk, "ceptoar-electricity",
                                    CISHARE_TLP_AMBER, "sector:electricity",
                                    NOW + 2000, out.key, out.key_len, out.value,
                                    out.value_len, err, sizeof(err)),
        CISHARE_OK);
    h = headers(&out.env);
    assert_int_equal(open_as("op-power-b", &out, h, &in, err, sizeof(err)),
                     CISHARE_OK);
    assert_false(
        cishare_message_decide(dir, &in, P("op-power-b"), NOW).deliver);
    cishare_msg_in_clear(&in);
    rd_kafka_headers_destroy(h);
    cishare_keypair_wipe(&rk);
    cishare_msg_out_clear(&out);
}

static void test_relay(void **state)
{
    cishare_msg_out_t out;
    cishare_msg_in_t in;
    cishare_policy_msg_t pm;
    cishare_keypair_t rk;
    rd_kafka_headers_t *h;
    char err[512] = "";
    json_t *j;

    (void)state;
    assert_int_equal(build("op-power-a", "\"tlp\":\"green\",", -1, NULL, &out,
                           err, sizeof(err)),
                     CISHARE_OK);
    load_kp("ceptoar-electricity", &rk);
    /* tightened to AMBER for its members */
    assert_int_equal(
        cishare_envelope_relay_sign(&out.env, &rk, "ceptoar-electricity",
                                    CISHARE_TLP_AMBER, "sector:electricity",
                                    NOW + 1000, out.key, out.key_len, out.value,
                                    out.value_len, err, sizeof(err)),
        CISHARE_OK);
    h = headers(&out.env);
    assert_int_equal(open_as("op-power-b", &out, h, &in, err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(in.tlp, CISHARE_TLP_AMBER);
    assert_ptr_equal(in.relay[0], P("ceptoar-electricity"));
    cishare_message_policy_msg(&in, &pm);
    assert_true(cishare_policy_decide(dir, &pm, P("op-power-b"), NOW).deliver);
    assert_false(cishare_policy_decide(dir, &pm, P("jpcert"), NOW).deliver);
    /* a CEPTOAR's members are its clients: the relayed copy reaches them */
    assert_true(cishare_message_decide(dir, &in, P("op-power-b"), NOW).deliver);
    assert_false(cishare_message_decide(dir, &in, P("jpcert"), NOW).deliver);
    j = cishare_message_to_json(&in);
    assert_string_equal(json_string_value(json_object_get(j, "tlp")), "amber");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(j, "relayed_by"), 0)),
        "ceptoar-electricity");
    json_decref(j);
    cishare_msg_in_clear(&in);
    rd_kafka_headers_destroy(h);
    /* a second hop that loosens the label is refused */
    assert_int_equal(
        cishare_envelope_relay_sign(&out.env, &rk, "ceptoar-electricity",
                                    CISHARE_TLP_GREEN, "all", NOW + 2000,
                                    out.key, out.key_len, out.value,
                                    out.value_len, err, sizeof(err)),
        CISHARE_OK);
    h = headers(&out.env);
    assert_int_equal(open_as("op-power-b", &out, h, &in, err, sizeof(err)),
                     CISHARE_ERR_POLICY);
    assert_false(in.verified);
    cishare_msg_in_clear(&in);
    rd_kafka_headers_destroy(h);
    cishare_keypair_wipe(&rk);
    cishare_msg_out_clear(&out);
}

/* The feed's line written directly equals json_dumps of the JSON tree
 * (cishare_message_to_json, compact, sorted keys) that it replaces; and
 * it refuses what decode refuses. */
static void same_line(const char *reader, const cishare_msg_out_t *out,
                      const rd_kafka_headers_t *h)
{
    cishare_avro_buf_t line = {0};
    cishare_msg_in_t in;
    cishare_keypair_t kp;
    char err[512] = "", *dump;
    json_t *j;

    load_kp(reader, &kp);
    assert_int_equal(cishare_message_verify(dir, h, out->key, out->key_len,
                                            out->value, out->value_len, &in,
                                            err, sizeof(err)),
                     CISHARE_OK);
    cishare_line_spans_t sp;
    char *aud, *pay;

    if (cishare_message_render_line_spans(
            codec, &kp, NULL, out->key, out->key_len, out->value,
            out->value_len, &in, &line, &sp, err, sizeof(err)))
        fail_msg("render: %s", err);
    assert_null(in.payload);
    assert_int_equal(cishare_message_decode(codec, &kp, out->key, out->key_len,
                                            out->value, out->value_len, &in,
                                            err, sizeof(err)),
                     CISHARE_OK);
    j = cishare_message_to_json(&in);
    dump = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    if (line.len != strlen(dump) || memcmp(line.buf, dump, line.len))
        fail_msg("\n jansson %s\n direct  %.*s", dump, (int)line.len,
                 (const char *)line.buf);
    /* the spans the archive stores: the tree's audience and payload */
    aud = json_dumps(json_object_get(j, "audience"),
                     JSON_COMPACT | JSON_SORT_KEYS);
    pay = json_dumps(json_object_get(j, "payload"),
                     JSON_COMPACT | JSON_SORT_KEYS);
    assert_int_equal(sp.audience_len, strlen(aud));
    assert_memory_equal(line.buf + sp.audience_off, aud, sp.audience_len);
    assert_int_equal(sp.payload_len, strlen(pay));
    assert_memory_equal(line.buf + sp.payload_off, pay, sp.payload_len);
    free(aud);
    free(pay);
    /* a key that is not the payload's subject: refused (not the subject;
     * not the sealed value's additional data), buffer restored */
    line.len = 0;
    assert_int_equal(
        cishare_message_render_line(codec, &kp, out->key, out->key_len - 1,
                                    out->value, out->value_len, &in, &line, err,
                                    sizeof(err)),
        in.encrypted ? CISHARE_ERR_DECRYPT : CISHARE_ERR_VALIDATION);
    assert_int_equal(line.len, 0);
    free(dump);
    json_decref(j);
    free(line.buf);
    cishare_keypair_wipe(&kp);
    cishare_msg_in_reset(&in);
    cishare_msg_in_clear(&in);
}

static void test_render_line(void **state)
{
    static const char *const types[] = {"indicator", "incident", "alert",
                                        "sighting", "revocation"};
    cishare_msg_out_t out;
    cishare_keypair_t kp, rk;
    rd_kafka_headers_t *h;
    char err[512] = "", path[1024];
    json_error_t je;
    size_t i;

    (void)state;
    /* every example message, GREEN with an expiry */
    load_kp("op-power-a", &kp);
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        json_t *m;
        snprintf(path, sizeof(path), "%s/schemas/examples/%s-example.json",
                 src(), types[i]);
        if (!(m = json_load_file(path, 0, &je)))
            fail_msg("%s: %s", path, je.text);
        json_object_set_new(m, "expires", json_string("2027-01-02T03:04:05Z"));
        if (cishare_message_build(codec, dir, P("op-power-a"), &kp, m,
                                  CISHARE_TLP_GREEN, "all", NOW, &out, err,
                                  sizeof(err)))
            fail_msg("%s: %s", types[i], err);
        h = headers(&out.env);
        same_line("jpcert", &out, h);
        rd_kafka_headers_destroy(h);
        cishare_msg_out_clear(&out);
        json_decref(m);
    }
    cishare_keypair_wipe(&kp);
    /* unicode and control characters in the payload, no expiry */
    load_kp("op-power-a", &kp);
    {
        json_t *m = msg_json(
            "{\"type\":\"indicator\",\"payload\":{\"id\":\"indicator--1\","
            "\"type\":\"domain\",\"value\":\"\\u65e5\\u672c.example\","
            "\"description\":\"a\\\"b\\\\c\\n\\t\\u0001\\u001f\\u007f "
            "\\ud83d\\ude00 </script>\",\"labels\":[\"z\",\"a\"],"
            "\"confidence\":0,\"valid_until\":\"2027-01-01T00:00:00.5Z\"}}");
        assert_int_equal(cishare_message_build(codec, dir, P("op-power-a"), &kp,
                                               m, -1, NULL, NOW, &out, err,
                                               sizeof(err)),
                         CISHARE_OK);
        h = headers(&out.env);
        same_line("op-power-b", &out, h);
        /* relayed: effective label and audience, relay hops */
        load_kp("ceptoar-electricity", &rk);
        assert_int_equal(cishare_envelope_relay_sign(
                             &out.env, &rk, "ceptoar-electricity",
                             CISHARE_TLP_AMBER, "sector:electricity,sector:gas",
                             NOW + 1000, out.key, out.key_len, out.value,
                             out.value_len, err, sizeof(err)),
                         CISHARE_OK);
        rd_kafka_headers_destroy(h);
        h = headers(&out.env);
        same_line("op-power-b", &out, h);
        cishare_keypair_wipe(&rk);
        rd_kafka_headers_destroy(h);
        cishare_msg_out_clear(&out);
        json_decref(m);
    }
    cishare_keypair_wipe(&kp);
    /* encrypted (AMBER+STRICT) */
    assert_int_equal(build("op-power-a",
                           "\"tlp\":\"amber+strict\",\"audience\":["
                           "\"participant:min-meti\",\"participant:nco\"],",
                           -1, NULL, &out, err, sizeof(err)),
                     CISHARE_OK);
    h = headers(&out.env);
    same_line("nco", &out, h);
    rd_kafka_headers_destroy(h);
    cishare_msg_out_clear(&out);
}

static void test_timing(void **state)
{
    cishare_msg_out_t out;
    cishare_msg_in_t in;
    rd_kafka_headers_t *h;
    struct timespec a, b;
    char err[512];
    int i, iters = 300;
    const char *extra[] = {"\"tlp\":\"green\",",
                           "\"tlp\":\"red\",\"audience\":[\"participant:"
                           "ceptoar-electricity\"],"};
    int k;

    (void)state;
    for (k = 0; k < 2; k++) {
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (i = 0; i < iters; i++) {
            assert_int_equal(
                build("nco", extra[k], -1, NULL, &out, err, sizeof(err)),
                CISHARE_OK);
            if (i < iters - 1)
                cishare_msg_out_clear(&out);
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("%% build %s (incl. key file load): %.1f us\n",
               k ? "red" : "green",
               ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 /
                   iters);
        h = headers(&out.env);
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (i = 0; i < iters; i++) {
            assert_int_equal(
                cishare_message_verify(dir, h, out.key, out.key_len, out.value,
                                       out.value_len, &in, err, sizeof(err)),
                CISHARE_OK);
            cishare_msg_in_clear(&in);
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("%% verify %s (headers+sig): %.1f us\n", k ? "red" : "green",
               ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 /
                   iters);
        rd_kafka_headers_destroy(h);
        cishare_msg_out_clear(&out);
    }
}

/* Fixtures for tests/cli/inspect.sh, written only with
 * CISHARE_REGEN_VECTORS=1: {"key", "headers": [[n, v]...], "value_b64"}. */
static void write_fixture(const char *name, const cishare_msg_out_t *out)
{
    rd_kafka_headers_t *h = headers(&out->env);
    json_t *o = json_object(), *ha = json_array();
    const char *n;
    const void *v;
    size_t size, i;
    char path[1024], *b64;

    for (i = 0; !rd_kafka_header_get_all(h, i, &n, &v, &size); i++)
        json_array_append_new(ha,
                              json_pack("[s s%]", n, (const char *)v, size));
    b64 = malloc(sodium_base64_ENCODED_LEN(out->value_len,
                                           sodium_base64_VARIANT_ORIGINAL));
    sodium_bin2base64(b64,
                      sodium_base64_ENCODED_LEN(out->value_len,
                                                sodium_base64_VARIANT_ORIGINAL),
                      out->value, out->value_len,
                      sodium_base64_VARIANT_ORIGINAL);
    json_object_set_new(o, "key", json_stringn(out->key, out->key_len));
    json_object_set_new(o, "headers", ha);
    json_object_set_new(o, "value_b64", json_string(b64));
    snprintf(path, sizeof(path), "%s/tests/vectors/message/%s.json", src(),
             name);
    assert_int_equal(json_dump_file(o, path, JSON_INDENT(1)), 0);
    free(b64);
    json_decref(o);
    rd_kafka_headers_destroy(h);
}

/* cishare_message_build_receipt() (the feed's receipts, no JSON tree)
 * gives the bytes and id of the JSON path, with and without an append
 * time, a fraction of a ms or none, a negative partition, a large offset
 * and a UTF-8 subject; a subject that is not UTF-8 is refused. */
static void test_receipt_direct(void **state)
{
    static const struct {
        int64_t created, appended;
        int partition;
        int64_t offset;
        const char *subject;
    } cases[] = {
        {NOW + 123, NOW - 5000, 3, 1234567, "incident--0001"},
        {NOW, -1, -1, -1, "\xe4\xba\x8b\xe6\xa1\x88-2026"},
        {NOW + 999, NOW, 0, (int64_t)1 << 40, "indicator--x"},
    };
    cishare_keypair_t kp;
    size_t i;

    (void)state;
    load_kp("op-gas-a", &kp);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cishare_receipt_fields_t r = {
            .id = "receipt--3b0c6a52-1d9e-8f00-8a11-000000000001",
            .created_ms = cases[i].created,
            .of_id = "4f1b2c3d-0000-4000-8000-00000000000a",
            .of_origin = "nco",
            .of_type = CISHARE_MSG_INCIDENT,
            .of_subject = cases[i].subject,
            .of_tlp = CISHARE_TLP_AMBER_STRICT,
            .delivered_ms = cases[i].created,
            .appended_ms = cases[i].appended,
            .topic = "cishare.amber-strict.gas",
            .partition = cases[i].partition,
            .offset = cases[i].offset,
        };
        cishare_msg_out_t a, b;
        char err[512];
        json_t *m = json_pack("{s:s, s:s, s:[s], s:o}", "type", "receipt",
                              "tlp", "amber", "audience", "participant:nco",
                              "payload", cishare_receipt_payload_json(&r));

        assert_non_null(m);
        assert_int_equal(cishare_message_build_unsigned(
                             codec, dir, P("op-gas-a"), &kp, m, -1, NULL,
                             cases[i].created, &a, err, sizeof(err)),
                         CISHARE_OK);
        assert_int_equal(cishare_message_build_receipt(
                             codec, dir, P("op-gas-a"), &kp, &r,
                             cases[i].created, &b, err, sizeof(err)),
                         CISHARE_OK);
        assert_int_equal(a.value_len, b.value_len);
        assert_memory_equal(a.value, b.value, a.value_len);
        assert_int_equal(a.key_len, b.key_len);
        assert_memory_equal(a.key, b.key, a.key_len);
        assert_string_equal(a.env.id, b.env.id);
        assert_string_equal(a.env.audience, b.env.audience);
        assert_string_equal(a.env.origin, b.env.origin);
        assert_string_equal(a.env.sector, b.env.sector);
        assert_int_equal(a.env.tlp, b.env.tlp);
        assert_int_equal(a.env.type, b.env.type);
        assert_true(a.env.schema_fp == b.env.schema_fp);
        assert_true(a.env.created_ms == b.env.created_ms);
        assert_int_equal(a.audience.cnt, b.audience.cnt);
        cishare_msg_out_clear(&a);
        cishare_msg_out_clear(&b);
        json_decref(m);
    }
    {
        cishare_receipt_fields_t r = {.id = "receipt--x",
                                      .of_id = "m",
                                      .of_origin = "nco",
                                      .of_subject = "bad \xff",
                                      .appended_ms = -1};
        cishare_msg_out_t b;
        char err[512];
        assert_int_equal(
            cishare_message_build_receipt(codec, dir, P("op-gas-a"), &kp, &r,
                                          NOW, &b, err, sizeof(err)),
            CISHARE_ERR_VALIDATION);
        assert_non_null(strstr(err, "UTF-8"));
        assert_null(b.value);
    }
    cishare_keypair_wipe(&kp);
}

static void test_fixtures(void **state)
{
    cishare_msg_out_t out;
    cishare_keypair_t rk;
    char err[512] = "";

    (void)state;
    if (!getenv("CISHARE_REGEN_VECTORS"))
        skip();
    assert_int_equal(build("op-power-a", "\"tlp\":\"amber\",", -1, NULL, &out,
                           err, sizeof(err)),
                     CISHARE_OK);
    write_fixture("amber", &out);
    load_kp("ceptoar-electricity", &rk);
    assert_int_equal(cishare_envelope_relay_sign(
                         &out.env, &rk, "ceptoar-electricity",
                         CISHARE_TLP_AMBER, "role:operator,sector:electricity",
                         NOW + 1000, out.key, out.key_len, out.value,
                         out.value_len, err, sizeof(err)),
                     CISHARE_OK);
    cishare_keypair_wipe(&rk);
    write_fixture("amber-relayed", &out);
    cishare_msg_out_clear(&out);
    assert_int_equal(build("nco",
                           "\"tlp\":\"red\",\"audience\":[\"participant:"
                           "ceptoar-electricity\"],",
                           -1, NULL, &out, err, sizeof(err)),
                     CISHARE_OK);
    write_fixture("red", &out);
    cishare_msg_out_clear(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_green_roundtrip),
        cmocka_unit_test(test_amber_default_audience),
        cmocka_unit_test(test_red_recipients),
        cmocka_unit_test(test_amber_strict_members),
        cmocka_unit_test(test_build_refusals),
        cmocka_unit_test(test_open_refusals),
        cmocka_unit_test(test_relay),
        cmocka_unit_test(test_relay_reshare_rules),
        cmocka_unit_test(test_render_line),
        cmocka_unit_test(test_timing),
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_receipt_direct),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
