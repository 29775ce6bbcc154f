/*
 * Envelope: headers, canonical signing input, signatures, relay chain.
 * Golden vectors: tests/vectors/envelope/ (regenerate deliberately with
 * CISHARE_REGEN_VECTORS=1 after a contract change, and say so).
 */
#include "cishare/envelope.h"
#include "cishare/keys.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "envelope_fixture.h"

static void signed_envelope(cishare_envelope_t *env)
{
    char err[256] = "";

    fixed_envelope(env);
    assert_int_equal(cishare_envelope_sign(env, &kp, NULL, SUBJECT,
                                           strlen(SUBJECT), value,
                                           sizeof(value), err, sizeof(err)),
                     CISHARE_OK);
}

static cishare_err_t verify(const cishare_envelope_t *env, const char *subj,
                            const uint8_t *v, size_t len)
{
    return cishare_envelope_verify(env, subj, strlen(subj), v, len,
                                   kp.ed25519_pk, NULL, 0);
}

static void test_sign_verify(void **state)
{
    cishare_envelope_t env;
    char err[256] = "";

    (void)state;
    signed_envelope(&env);
    assert_string_equal(env.alg, "ed25519");
    assert_int_equal(env.sig_len, 64);
    assert_string_equal(env.key_id, kp.key_id);
    assert_int_equal(cishare_envelope_verify(&env, SUBJECT, strlen(SUBJECT),
                                             value, sizeof(value),
                                             kp.ed25519_pk, err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(cishare_sig_verify(&env, SUBJECT, strlen(SUBJECT), value,
                                        sizeof(value), kp.ed25519_pk, NULL, 0),
                     CISHARE_OK);
}

/* Every signed field, changed one at a time, breaks verification. */
static void test_tamper_fields(void **state)
{
    cishare_envelope_t env, t;
    int field;

    (void)state;
    signed_envelope(&env);
    for (field = 0; field < 14; field++) {
        t = env;
        switch (field) {
        case 0:
            t.tlp = CISHARE_TLP_GREEN;
            break;
        case 1:
            strcpy(t.audience, "all");
            break;
        case 2:
            strcpy(t.origin, "op-power-b");
            break;
        case 3:
            t.type = CISHARE_MSG_INCIDENT;
            break;
        case 4:
            t.expires_ms += 1;
            break;
        case 5:
            t.expires_ms = 0;
            break;
        case 6:
            strcpy(t.sector, "gas");
            break;
        case 7:
            t.schema_fp ^= 1;
            break;
        case 8:
            strcpy(t.key_id, kp2.key_id);
            break;
        case 9:
            t.id[0] = t.id[0] == '0' ? '1' : '0';
            break;
        case 10:
            t.created_ms += 1;
            break;
        case 11:
            strcpy(t.enc, CISHARE_ENC_SEAL_V1);
            break;
        case 12:
            strcpy(t.alg, "ed448");
            break;
        case 13:
            t.tlp = CISHARE_TLP_RED;
            break;
        }
        if (verify(&t, SUBJECT, value, sizeof(value)) !=
            CISHARE_ERR_BAD_SIGNATURE)
            fail_msg("tampered field %d still verifies", field);
    }
    /* subject */
    assert_int_equal(verify(&env, "indicator--other", value, sizeof(value)),
                     CISHARE_ERR_BAD_SIGNATURE);
}

static void test_tamper_value(void **state)
{
    cishare_envelope_t env;
    uint8_t v[sizeof(value) + 1];
    size_t i;

    (void)state;
    signed_envelope(&env);
    for (i = 0; i < sizeof(value); i++) {
        memcpy(v, value, sizeof(value));
        v[i] ^= 0x01;
        if (verify(&env, SUBJECT, v, sizeof(value)) !=
            CISHARE_ERR_BAD_SIGNATURE)
            fail_msg("value byte %zu flipped still verifies", i);
    }
    memcpy(v, value, sizeof(value));
    v[sizeof(value)] = 0;
    assert_int_equal(verify(&env, SUBJECT, v, sizeof(value) + 1),
                     CISHARE_ERR_BAD_SIGNATURE);
    assert_int_equal(verify(&env, SUBJECT, v, sizeof(value) - 1),
                     CISHARE_ERR_BAD_SIGNATURE);
}

static void test_wrong_key_missing_sig(void **state)
{
    cishare_envelope_t env, t;
    char err[256] = "";
    size_t i;

    (void)state;
    signed_envelope(&env);
    /* wrong key (key id mismatch) */
    assert_int_equal(cishare_envelope_verify(&env, SUBJECT, strlen(SUBJECT),
                                             value, sizeof(value),
                                             kp2.ed25519_pk, err, sizeof(err)),
                     CISHARE_ERR_BAD_SIGNATURE);
    /* wrong key even when the key id header names it */
    t = env;
    strcpy(t.key_id, kp2.key_id);
    assert_int_equal(cishare_envelope_verify(&t, SUBJECT, strlen(SUBJECT),
                                             value, sizeof(value),
                                             kp2.ed25519_pk, NULL, 0),
                     CISHARE_ERR_BAD_SIGNATURE);
    /* missing signature */
    t = env;
    t.sig_len = 0;
    assert_int_equal(verify(&t, SUBJECT, value, sizeof(value)),
                     CISHARE_ERR_BAD_SIGNATURE);
    /* every signature byte */
    for (i = 0; i < env.sig_len; i++) {
        t = env;
        t.sig[i] ^= 0x80;
        if (verify(&t, SUBJECT, value, sizeof(value)) !=
            CISHARE_ERR_BAD_SIGNATURE)
            fail_msg("signature byte %zu flipped still verifies", i);
    }
    /* truncated / extended signature */
    t = env;
    t.sig_len = 63;
    assert_int_equal(verify(&t, SUBJECT, value, sizeof(value)),
                     CISHARE_ERR_BAD_SIGNATURE);
    t.sig_len = 65;
    assert_int_equal(verify(&t, SUBJECT, value, sizeof(value)),
                     CISHARE_ERR_BAD_SIGNATURE);
    /* NULL arguments fail closed */
    assert_int_equal(cishare_envelope_verify(&env, SUBJECT, strlen(SUBJECT),
                                             NULL, sizeof(value), kp.ed25519_pk,
                                             NULL, 0),
                     CISHARE_ERR_BAD_SIGNATURE);
    assert_int_equal(cishare_envelope_verify(&env, SUBJECT, strlen(SUBJECT),
                                             value, sizeof(value), NULL, NULL,
                                             0),
                     CISHARE_ERR_BAD_SIGNATURE);
}

/* ---- headers ---------------------------------------------------- */

typedef struct {
    char name[64];
    char val[CISHARE_HEADER_VALUE_MAX + 2];
} pair_t;

/* Layout 1 text headers of env (these pair tests are of layout 1, still
 * read; the layout 2 tests below work on bytes). */
static size_t to_pairs(const cishare_envelope_t *env, pair_t *pairs)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(16);
    static cishare_envelope_t v1;
    const char *name;
    const void *val;
    size_t size, i;

    v1 = *env;
    v1.wire_version = CISHARE_ENV_WIRE_V1;
    assert_int_equal(cishare_envelope_to_headers(&v1, h, NULL, 0), CISHARE_OK);
    for (i = 0; !rd_kafka_header_get_all(h, i, &name, &val, &size); i++) {
        snprintf(pairs[i].name, sizeof(pairs[i].name), "%s", name);
        assert_true(size < sizeof(pairs[i].val));
        memcpy(pairs[i].val, val, size);
        pairs[i].val[size] = '\0';
    }
    rd_kafka_headers_destroy(h);
    return i;
}

static cishare_err_t from_pairs(const pair_t *pairs, size_t n,
                                cishare_envelope_t *env, char *err,
                                size_t errsize)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(n + 1);
    cishare_err_t e;
    size_t i;

    for (i = 0; i < n; i++)
        rd_kafka_header_add(h, pairs[i].name, -1, pairs[i].val, -1);
    e = cishare_envelope_from_headers(h, env, err, errsize);
    rd_kafka_headers_destroy(h);
    return e;
}

static void test_headers_roundtrip(void **state)
{
    cishare_envelope_t env, back;
    pair_t pairs[32];
    char err[256] = "";
    size_t n, i;

    (void)state;
    signed_envelope(&env);
    n = to_pairs(&env, pairs);
    assert_int_equal(n, 12); /* no cishare.enc: plaintext */
    for (i = 0; i < n; i++) {
        const char *c;
        for (c = pairs[i].val; *c; c++) /* kcat prints them intact */
            assert_true(*c >= 0x20 && *c < 0x7f);
    }
    assert_int_equal(from_pairs(pairs, n, &back, err, sizeof(err)), CISHARE_OK);
    assert_string_equal(back.id, env.id);
    assert_int_equal(back.type, env.type);
    assert_int_equal(back.tlp, env.tlp);
    assert_string_equal(back.origin, env.origin);
    assert_string_equal(back.sector, env.sector);
    assert_string_equal(back.audience, env.audience);
    assert_true(back.schema_fp == env.schema_fp);
    assert_true(back.created_ms == env.created_ms);
    assert_true(back.expires_ms == env.expires_ms);
    assert_string_equal(back.key_id, env.key_id);
    assert_string_equal(back.alg, env.alg);
    assert_int_equal(back.sig_len, env.sig_len);
    assert_memory_equal(back.sig, env.sig, env.sig_len);
    assert_int_equal(verify(&back, SUBJECT, value, sizeof(value)), CISHARE_OK);
}

/* On the wire: replacing any signed header's value (with another valid
 * value) or dropping it makes the message fail to verify or to parse. */
static void test_headers_tamper_loop(void **state)
{
    static const struct {
        const char *name, *alt;
    } alts[] = {
        {CISHARE_H_ID, "1f8fad5b-d9cb-469f-a165-70867728950e"},
        {CISHARE_H_TYPE, "incident"},
        {CISHARE_H_TLP, "green"},
        {CISHARE_H_ORIGIN, "op-power-b"},
        {CISHARE_H_SECTOR, "gas"},
        {CISHARE_H_AUDIENCE, "all"},
        {CISHARE_H_SCHEMA, "1122334455667789"},
        {CISHARE_H_CREATED, "2026-11-26T07:00:00.124Z"},
        {CISHARE_H_EXPIRES, "2027-12-31T00:00:00.000Z"},
        {CISHARE_H_KID, NULL}, /* filled with kp2's id */
        {CISHARE_H_ALG, "ed25519ph"},
    };
    cishare_envelope_t env, back;
    pair_t pairs[32], t[32];
    size_t n, i, j;
    cishare_err_t e;

    (void)state;
    signed_envelope(&env);
    n = to_pairs(&env, pairs);
    for (i = 0; i < sizeof(alts) / sizeof(alts[0]); i++) {
        bool found = false;
        for (j = 0; j < n; j++) {
            if (strcmp(pairs[j].name, alts[i].name))
                continue;
            memcpy(t, pairs, sizeof(pairs));
            snprintf(t[j].val, sizeof(t[j].val), "%s",
                     alts[i].alt ? alts[i].alt : kp2.key_id);
            found = true;
            e = from_pairs(t, n, &back, NULL, 0);
            if (e == CISHARE_OK &&
                verify(&back, SUBJECT, value, sizeof(value)) == CISHARE_OK)
                fail_msg("header %s changed still verifies", alts[i].name);
            /* dropping the header */
            memcpy(t, pairs, sizeof(pairs));
            memmove(&t[j], &t[j + 1], (n - j - 1) * sizeof(t[0]));
            e = from_pairs(t, n - 1, &back, NULL, 0);
            if (e == CISHARE_OK &&
                verify(&back, SUBJECT, value, sizeof(value)) == CISHARE_OK)
                fail_msg("header %s dropped still verifies", alts[i].name);
        }
        if (!found)
            fail_msg("header %s not written", alts[i].name);
    }
    /* adding cishare.enc to a plaintext message */
    memcpy(t, pairs, sizeof(pairs));
    strcpy(t[n].name, CISHARE_H_ENC);
    strcpy(t[n].val, CISHARE_ENC_SEAL_V1);
    assert_int_equal(from_pairs(t, n + 1, &back, NULL, 0), CISHARE_OK);
    assert_int_equal(verify(&back, SUBJECT, value, sizeof(value)),
                     CISHARE_ERR_BAD_SIGNATURE);
    /* dropping cishare.sig parses but does not verify */
    for (j = 0; j < n; j++)
        if (!strcmp(pairs[j].name, CISHARE_H_SIG))
            break;
    memcpy(t, pairs, sizeof(pairs));
    memmove(&t[j], &t[j + 1], (n - j - 1) * sizeof(t[0]));
    assert_int_equal(from_pairs(t, n - 1, &back, NULL, 0), CISHARE_OK);
    assert_int_equal(back.sig_len, 0);
    assert_int_equal(verify(&back, SUBJECT, value, sizeof(value)),
                     CISHARE_ERR_BAD_SIGNATURE);
}

static void test_headers_refused(void **state)
{
    cishare_envelope_t env, back;
    pair_t pairs[80], t[80];
    char err[256];
    size_t n, i;

    (void)state;
    signed_envelope(&env);
    n = to_pairs(&env, pairs);

    /* duplicate of every header */
    for (i = 0; i < n; i++) {
        memcpy(t, pairs, sizeof(t[0]) * n);
        t[n] = pairs[i];
        err[0] = '\0';
        if (from_pairs(t, n + 1, &back, err, sizeof(err)) == CISHARE_OK)
            fail_msg("duplicate %s accepted", pairs[i].name);
        assert_non_null(strstr(err, "duplicate"));
    }
    /* unknown cishare.* header refused; foreign headers ignored */
    memcpy(t, pairs, sizeof(t[0]) * n);
    strcpy(t[n].name, "cishare.extra");
    strcpy(t[n].val, "x");
    assert_int_equal(from_pairs(t, n + 1, &back, err, sizeof(err)),
                     CISHARE_ERR_VALIDATION);
    strcpy(t[n].name, "traceparent");
    assert_int_equal(from_pairs(t, n + 1, &back, err, sizeof(err)), CISHARE_OK);
    /* oversized value */
    memcpy(t, pairs, sizeof(t[0]) * n);
    strcpy(t[n].name, "cishare.audience");
    memset(t[n].val, 'a', CISHARE_HEADER_VALUE_MAX + 1);
    t[n].val[CISHARE_HEADER_VALUE_MAX + 1] = '\0';
    assert_int_equal(from_pairs(t, n + 1, &back, err, sizeof(err)),
                     CISHARE_ERR_TOO_LARGE);
    /* too many headers */
    memcpy(t, pairs, sizeof(t[0]) * n);
    for (i = n; i < 70; i++) {
        strcpy(t[i].name, "x-other");
        strcpy(t[i].val, "1");
    }
    assert_int_equal(from_pairs(t, 70, &back, err, sizeof(err)),
                     CISHARE_ERR_TOO_LARGE);
    /* malformed values */
    {
        static const struct {
            const char *name, *val;
        } bad[] = {
            {CISHARE_H_TLP, "AMBER"},
            {CISHARE_H_TLP, "amber-strict"},
            {CISHARE_H_TYPE, "Indicator"},
            {CISHARE_H_ID, "0F8FAD5B-D9CB-469F-A165-70867728950E"},
            {CISHARE_H_CREATED, "2026-11-26T07:00:00Z"},
            {CISHARE_H_CREATED, "2026-02-30T07:00:00.000Z"},
            {CISHARE_H_SCHEMA, "112233445566778"},
            {CISHARE_H_KID, "XYZ"},
            {CISHARE_H_SIG, "not base64!"},
            {CISHARE_H_ORIGIN, "Op Power"},
            {CISHARE_H_AUDIENCE, "sector:gas;all"},
            {CISHARE_H_ENC, "rot13"},
            {CISHARE_H_RELAY, "only three fields"},
        };
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            size_t j, m = n;
            memcpy(t, pairs, sizeof(t[0]) * n);
            for (j = 0; j < n && strcmp(t[j].name, bad[i].name); j++)
                ;
            if (j == n)
                m++;
            strcpy(t[j].name, bad[i].name);
            strcpy(t[j].val, bad[i].val);
            if (from_pairs(t, m, &back, err, sizeof(err)) == CISHARE_OK)
                fail_msg("%s: '%s' accepted", bad[i].name, bad[i].val);
        }
    }
    /* missing required header, and no headers at all */
    assert_int_not_equal(from_pairs(pairs + 1, n - 1, &back, err, sizeof(err)),
                         CISHARE_OK);
    assert_non_null(strstr(err, "cishare.id"));
    assert_int_not_equal(cishare_envelope_from_headers(NULL, &back, NULL, 0),
                         CISHARE_OK);
}

/* ---- relay chain ------------------------------------------------ */

static void test_relay_chain(void **state)
{
    cishare_envelope_t env, t, back;
    pair_t pairs[32];
    char err[256] = "";
    size_t n;

    (void)state;
    signed_envelope(&env);
    relay_fixed(&env);
    assert_int_equal(env.relay_cnt, 1);
    /* original signature still verifies, and the hop */
    assert_int_equal(verify(&env, SUBJECT, value, sizeof(value)), CISHARE_OK);
    assert_int_equal(cishare_envelope_relay_verify(
                         &env, 0, SUBJECT, strlen(SUBJECT), value,
                         sizeof(value), kp2.ed25519_pk, err, sizeof(err)),
                     CISHARE_OK);
    /* through headers */
    n = to_pairs(&env, pairs);
    assert_int_equal(n, 13);
    assert_int_equal(from_pairs(pairs, n, &back, err, sizeof(err)), CISHARE_OK);
    assert_int_equal(back.relay_cnt, 1);
    assert_int_equal(cishare_envelope_relay_verify(
                         &back, 0, SUBJECT, strlen(SUBJECT), value,
                         sizeof(value), kp2.ed25519_pk, err, sizeof(err)),
                     CISHARE_OK);
    /* tampering with the hop's label, audience, relay id; wrong key */
    t = env;
    t.relay[0].tlp = CISHARE_TLP_GREEN;
    assert_int_equal(
        cishare_envelope_relay_verify(&t, 0, SUBJECT, strlen(SUBJECT), value,
                                      sizeof(value), kp2.ed25519_pk, NULL, 0),
        CISHARE_ERR_BAD_SIGNATURE);
    t = env;
    strcpy(t.relay[0].audience, "all");
    assert_int_equal(
        cishare_envelope_relay_verify(&t, 0, SUBJECT, strlen(SUBJECT), value,
                                      sizeof(value), kp2.ed25519_pk, NULL, 0),
        CISHARE_ERR_BAD_SIGNATURE);
    t = env;
    strcpy(t.relay[0].by, "ceptoar-gas");
    assert_int_equal(
        cishare_envelope_relay_verify(&t, 0, SUBJECT, strlen(SUBJECT), value,
                                      sizeof(value), kp2.ed25519_pk, NULL, 0),
        CISHARE_ERR_BAD_SIGNATURE);
    assert_int_equal(
        cishare_envelope_relay_verify(&env, 0, SUBJECT, strlen(SUBJECT), value,
                                      sizeof(value), kp.ed25519_pk, NULL, 0),
        CISHARE_ERR_BAD_SIGNATURE);
    /* the hop is bound to the original signature and to the value */
    t = env;
    t.sig[5] ^= 1;
    assert_int_equal(
        cishare_envelope_relay_verify(&t, 0, SUBJECT, strlen(SUBJECT), value,
                                      sizeof(value), kp2.ed25519_pk, NULL, 0),
        CISHARE_ERR_BAD_SIGNATURE);
    assert_int_equal(cishare_envelope_relay_verify(
                         &env, 0, SUBJECT, strlen(SUBJECT), value,
                         sizeof(value) - 1, kp2.ed25519_pk, NULL, 0),
                     CISHARE_ERR_BAD_SIGNATURE);
    /* out of range hop */
    assert_int_equal(
        cishare_envelope_relay_verify(&env, 1, SUBJECT, strlen(SUBJECT), value,
                                      sizeof(value), kp2.ed25519_pk, NULL, 0),
        CISHARE_ERR_BAD_SIGNATURE);
}

/* ---- misc ------------------------------------------------------- */

static void test_ids_times_json(void **state)
{
    cishare_envelope_t env, e2;
    char t[CISHARE_TIME_TEXT_LEN + 1];
    int64_t ms;
    json_t *j;

    (void)state;
    cishare_envelope_init(&env);
    cishare_envelope_new_id(&env);
    cishare_envelope_new_id(&e2);
    assert_int_equal(strlen(env.id), 36);
    assert_int_equal(env.id[14], '4');
    assert_string_not_equal(env.id, e2.id);

    cishare_envelope_time_format(1795676400123LL, t);
    assert_string_equal(t, "2026-11-26T07:00:00.123Z");
    assert_true(cishare_envelope_time_parse(t, strlen(t), &ms));
    assert_true(ms == 1795676400123LL);
    assert_true(
        cishare_envelope_time_parse("2024-02-29T23:59:59.999Z", 24, &ms));
    assert_false(
        cishare_envelope_time_parse("2023-02-29T00:00:00.000Z", 24, &ms));

    signed_envelope(&env);
    j = cishare_envelope_to_json(&env);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "tlp")), "amber");
    assert_int_equal(json_array_size(json_object_get(j, "audience")), 2);
    assert_string_equal(json_string_value(json_object_get(j, "expires")),
                        "2026-12-31T00:00:00.000Z");
    assert_string_equal(json_string_value(json_object_get(j, "schema")),
                        "1122334455667788");
    json_decref(j);

    assert_int_equal(
        cishare_envelope_check_fingerprint(&env, value, sizeof(value), NULL, 0),
        CISHARE_OK);
    env.schema_fp ^= 0x100;
    assert_int_equal(
        cishare_envelope_check_fingerprint(&env, value, sizeof(value), NULL, 0),
        CISHARE_ERR_VALIDATION);
    assert_int_equal(
        cishare_envelope_check_fingerprint(&env, value, 9, NULL, 0),
        CISHARE_ERR_VALIDATION);
}

/* ---- golden vectors --------------------------------------------- */

static void test_golden_vectors(void **state)
{
    cishare_envelope_t env;
    uint8_t input[8192], stored[8192], d[32];
    char hex[256], text[8192], hv[CISHARE_HEADER_VALUE_MAX + 1];
    size_t n, m, i, tl = 0;
    static const char *const names[] = {
        CISHARE_H_ID,     CISHARE_H_TYPE,    CISHARE_H_TLP,
        CISHARE_H_ORIGIN, CISHARE_H_SECTOR,  CISHARE_H_AUDIENCE,
        CISHARE_H_SCHEMA, CISHARE_H_CREATED, CISHARE_H_EXPIRES,
        CISHARE_H_KID,    CISHARE_H_ALG,     CISHARE_H_SIG,
    };

    (void)state;
    signed_envelope(&env);
    n = cishare_envelope_signing_input(&env, SUBJECT, strlen(SUBJECT), value,
                                       sizeof(value), input, sizeof(input));
    assert_true(n < sizeof(input));
    cishare_envelope_digest(&env, SUBJECT, strlen(SUBJECT), value,
                            sizeof(value), d);
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        cishare_envelope_header_text(&env, names[i], 0, hv, sizeof(hv));
        tl += (size_t)snprintf(text + tl, sizeof(text) - tl, "%s: %s\n",
                               names[i], hv);
    }
    if (getenv("CISHARE_REGEN_VECTORS")) {
        write_vec("signing-input.bin", input, n);
        sodium_bin2hex(hex, sizeof(hex), d, 32);
        write_vec("digest.hex", hex, 64);
        write_vec("value.bin", value, sizeof(value));
        sodium_bin2hex(hex, sizeof(hex), env.sig, env.sig_len);
        write_vec("signature.hex", hex, 128);
        write_vec("headers.txt", text, tl);
        cishare_pk_to_base64(kp.ed25519_pk, hex, sizeof(hex));
        write_vec("origin.pub", hex, strlen(hex));
    }
    /* the value and key are what we think they are */
    m = read_vec("value.bin", stored, sizeof(stored));
    assert_int_equal(m, sizeof(value));
    assert_memory_equal(stored, value, m);
    m = read_vec("origin.pub", stored, sizeof(stored));
    cishare_pk_to_base64(kp.ed25519_pk, hex, sizeof(hex));
    assert_int_equal(m, strlen(hex));
    assert_memory_equal(stored, hex, m);
    /* canonical input byte by byte */
    m = read_vec("signing-input.bin", stored, sizeof(stored));
    assert_int_equal(m, n);
    assert_memory_equal(stored, input, n);
    m = read_vec("digest.hex", stored, sizeof(stored));
    sodium_bin2hex(hex, sizeof(hex), d, 32);
    assert_int_equal(m, 64);
    assert_memory_equal(stored, hex, 64);
    /* Ed25519 is deterministic: the signature is fixed too */
    m = read_vec("signature.hex", stored, sizeof(stored));
    sodium_bin2hex(hex, sizeof(hex), env.sig, env.sig_len);
    assert_int_equal(m, 128);
    assert_memory_equal(stored, hex, 128);
    m = read_vec("headers.txt", stored, sizeof(stored));
    assert_int_equal(m, tl);
    assert_memory_equal(stored, text, tl);
    /* and the stored signature verifies over the stored bytes */
    assert_int_equal(crypto_sign_verify_detached(env.sig, d, 32, kp.ed25519_pk),
                     0);
}

static void test_timing(void **state)
{
    cishare_envelope_t env;
    struct timespec a, b;
    int i, iters = 2000;
    double us;

    (void)state;
    signed_envelope(&env);
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (i = 0; i < iters; i++)
        assert_int_equal(cishare_envelope_sign(&env, &kp, NULL, SUBJECT,
                                               strlen(SUBJECT), value,
                                               sizeof(value), NULL, 0),
                         CISHARE_OK);
    clock_gettime(CLOCK_MONOTONIC, &b);
    us = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / iters;
    printf("%% envelope sign:   %.1f us/message\n", us);
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (i = 0; i < iters; i++)
        assert_int_equal(verify(&env, SUBJECT, value, sizeof(value)),
                         CISHARE_OK);
    clock_gettime(CLOCK_MONOTONIC, &b);
    us = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / iters;
    printf("%% envelope verify: %.1f us/message\n", us);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_tamper_fields),
        cmocka_unit_test(test_tamper_value),
        cmocka_unit_test(test_wrong_key_missing_sig),
        cmocka_unit_test(test_headers_roundtrip),
        cmocka_unit_test(test_headers_tamper_loop),
        cmocka_unit_test(test_headers_refused),
        cmocka_unit_test(test_relay_chain),
        cmocka_unit_test(test_ids_times_json),
        cmocka_unit_test(test_golden_vectors),
        cmocka_unit_test(test_timing),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
