/*
 * Envelope header layout 2 ("cishare" + binary "cishare.env"): round trip,
 * strict parsing byte by byte, refusals, golden vectors, and layout 1
 * (the golden vectors of tests/vectors/envelope/) still read and
 * verified. Regenerate tests/vectors/envelope/v2/ deliberately with
 * CISHARE_REGEN_VECTORS=1 after a contract change, and say so.
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

#include <cmocka.h>

#include "envelope_fixture.h"

static void sign_env(cishare_envelope_t *env, const char *scheme)
{
    char err[256] = "";

    assert_int_equal(cishare_envelope_sign(env, &kp, scheme, SUBJECT,
                                           strlen(SUBJECT), value,
                                           sizeof(value), err, sizeof(err)),
                     CISHARE_OK);
}

static cishare_err_t verify(const cishare_envelope_t *env, const uint8_t *v,
                            size_t len)
{
    return cishare_envelope_verify(env, SUBJECT, strlen(SUBJECT), v, len,
                                   kp.ed25519_pk, NULL, 0);
}

/* A header list by hand: names and (binary) values with lengths. */
typedef struct {
    const char *name;
    const void *val;
    size_t len;
} hv_t;

static cishare_err_t parse(const hv_t *h, size_t n, cishare_envelope_t *env,
                           char *err, size_t errsize)
{
    rd_kafka_headers_t *hs = rd_kafka_headers_new(n + 1);
    cishare_err_t e;
    size_t i;

    for (i = 0; i < n; i++)
        rd_kafka_header_add(hs, h[i].name, -1, h[i].val, (ssize_t)h[i].len);
    if (err)
        err[0] = '\0';
    e = cishare_envelope_from_headers(hs, env, err, errsize);
    rd_kafka_headers_destroy(hs);
    return e;
}

/* Layout 2 of env: the label text and the cishare.env bytes. */
static void encode(const cishare_envelope_t *env, char *label, size_t *ll,
                   uint8_t *blob, size_t *bl)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(8);
    const char *name;
    const void *val;
    size_t sz;

    assert_int_equal(cishare_envelope_to_headers(env, h, NULL, 0), CISHARE_OK);
    assert_int_equal(rd_kafka_header_get_all(h, 0, &name, &val, &sz), 0);
    assert_string_equal(name, CISHARE_H_LABEL);
    memcpy(label, val, sz);
    label[sz] = '\0';
    *ll = sz;
    assert_int_equal(rd_kafka_header_get_all(h, 1, &name, &val, &sz), 0);
    assert_string_equal(name, CISHARE_H_ENV);
    memcpy(blob, val, sz);
    *bl = sz;
    /* nothing else but relay hops */
    if (!rd_kafka_header_get_all(h, 2, &name, &val, &sz))
        assert_string_equal(name, CISHARE_H_RELAY);
    rd_kafka_headers_destroy(h);
}

static void assert_same(const cishare_envelope_t *a,
                        const cishare_envelope_t *b)
{
    assert_string_equal(a->id, b->id);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->tlp, b->tlp);
    assert_string_equal(a->origin, b->origin);
    assert_string_equal(a->sector, b->sector);
    assert_string_equal(a->audience, b->audience);
    assert_true(a->schema_fp == b->schema_fp);
    assert_true(a->created_ms == b->created_ms);
    assert_true(a->expires_ms == b->expires_ms);
    assert_string_equal(a->key_id, b->key_id);
    assert_string_equal(a->alg, b->alg);
    assert_string_equal(a->enc, b->enc);
    assert_int_equal(a->sig_len, b->sig_len);
    assert_memory_equal(a->sig, b->sig, a->sig_len);
}

/* cishare.env framing, written here apart from envelope.c (an independent
 * reading of schemas/README.md): tag 0x02, 2 length bytes (0x80 | 7
 * bits, most significant first) of the COBS bytes, then COBS(body). */
static size_t pack(const uint8_t *body, size_t n, uint8_t *blob)
{
    size_t o = 3, i = 0;

    while (i <= n) {
        /* a block: up to 254 bytes before the next zero (or the end) */
        size_t k = 0;
        while (i + k < n && body[i + k] && k < 254)
            k++;
        blob[o++] = (uint8_t)(k + 1);
        memcpy(blob + o, body + i, k);
        o += k;
        i += k;
        if (k == 254 && i < n)
            continue; /* a full block: no zero consumed */
        i++;          /* the zero (or the end) */
    }
    blob[0] = 0x02;
    blob[1] = (uint8_t)(0x80 | (o - 3) >> 7);
    blob[2] = (uint8_t)(0x80 | ((o - 3) & 0x7f));
    return o;
}

static size_t unpack(const uint8_t *blob, size_t bl, uint8_t *body)
{
    size_t i = 3, o = 0;

    assert_true(bl >= 3);
    assert_int_equal(blob[0], 0x02);
    assert_int_equal(((size_t)(blob[1] & 0x7f) << 7 | (blob[2] & 0x7f)),
                     bl - 3);
    while (i < bl) {
        uint8_t c = blob[i++];
        assert_true(c != 0 && i + c - 1 <= bl);
        memcpy(body + o, blob + i, c - 1u);
        o += c - 1u;
        i += c - 1u;
        if (i < bl && c != 0xff)
            body[o++] = 0;
    }
    return o;
}

/* Every variant round-trips through two headers and still verifies. */
static void test_v2_roundtrip(void **state)
{
    static cishare_envelope_t env, back;
    char label[256], err[256];
    uint8_t blob[CISHARE_HEADER_VALUE_MAX], blob2[CISHARE_HEADER_VALUE_MAX];
    size_t ll, bl, bl2;
    int variant;

    (void)state;
    for (variant = 0; variant < 7; variant++) {
        hv_t h[2];
        fixed_envelope(&env);
        if (variant == 1)
            env.expires_ms = 0;
        if (variant == 2)
            env.sector[0] = '\0';
        if (variant == 3)
            strcpy(env.enc, CISHARE_ENC_SEAL_V1);
        if (variant >= 5) { /* runs past 254 non-zero bytes: full blocks */
            memset(env.audience, 'a', sizeof(env.audience) - 1);
            memcpy(env.audience, "sector:", 7);
            env.audience[variant == 5 ? 300 : 4095] = '\0';
        }
        sign_env(&env, variant == 4 ? CISHARE_SIG_ED25519_MERKLE : NULL);
        encode(&env, label, &ll, blob, &bl);
        assert_string_equal(label, "indicator amber op-power-a");
        /* no NUL (kcat prints a value up to its first NUL), and the
         * framing is what the spec says */
        assert_null(memchr(blob, 0, bl));
        {
            uint8_t body[CISHARE_HEADER_VALUE_MAX],
                again[CISHARE_HEADER_VALUE_MAX];
            size_t n = unpack(blob, bl, body);
            assert_int_equal(pack(body, n, again), bl);
            assert_memory_equal(again, blob, bl);
            assert_int_equal(cishare_envelope_env_len(blob, bl), bl);
            assert_int_equal(cishare_envelope_env_len(blob, bl - 1), 0);
        }
        h[0] = (hv_t){CISHARE_H_LABEL, label, ll};
        h[1] = (hv_t){CISHARE_H_ENV, blob, bl};
        assert_int_equal(parse(h, 2, &back, err, sizeof(err)), CISHARE_OK);
        assert_int_equal(back.wire_version, CISHARE_ENV_WIRE_V2);
        assert_same(&env, &back);
        assert_int_equal(verify(&back, value, sizeof(value)), CISHARE_OK);
        /* the same bytes again (a relay re-encodes verbatim) */
        encode(&back, label, &ll, blob2, &bl2);
        assert_int_equal(bl2, bl);
        assert_memory_equal(blob2, blob, bl);
    }
    /* layout 2 is smaller than layout 1 for the same envelope */
    {
        rd_kafka_headers_t *hs = rd_kafka_headers_new(16);
        const char *name;
        const void *val;
        size_t sz, i, v1 = 0;
        fixed_envelope(&env);
        sign_env(&env, CISHARE_SIG_ED25519_MERKLE);
        encode(&env, label, &ll, blob, &bl);
        env.wire_version = CISHARE_ENV_WIRE_V1;
        assert_int_equal(cishare_envelope_to_headers(&env, hs, NULL, 0),
                         CISHARE_OK);
        for (i = 0; !rd_kafka_header_get_all(hs, i, &name, &val, &sz); i++)
            v1 += strlen(name) + sz;
        rd_kafka_headers_destroy(hs);
        print_message(
            "%% merkle batch of 1: layout 1 %zu header bytes, "
            "layout 2 %zu\n",
            v1, strlen(CISHARE_H_LABEL) + ll + strlen(CISHARE_H_ENV) + bl);
        assert_true(strlen(CISHARE_H_LABEL) + ll + strlen(CISHARE_H_ENV) + bl <
                    v1 / 2);
    }
    /* a scheme without a layout 2 code is refused by the writer */
    fixed_envelope(&env);
    sign_env(&env, NULL);
    strcpy(env.alg, "ed25519ph");
    {
        rd_kafka_headers_t *hs = rd_kafka_headers_new(4);
        assert_int_equal(
            cishare_envelope_to_headers(&env, hs, err, sizeof(err)),
            CISHARE_ERR_INVALID_ARG);
        assert_non_null(strstr(err, "ed25519ph"));
        rd_kafka_headers_destroy(hs);
    }
}

/* Any change of any byte of cishare.env, and any truncation or extra
 * byte, fails to parse or fails to verify: never a different message
 * that verifies. */
static void test_v2_every_byte(void **state)
{
    static cishare_envelope_t env, back;
    static const uint8_t masks[] = {0x01, 0x80, 0xff};
    char label[256];
    uint8_t blob[CISHARE_HEADER_VALUE_MAX + 1], t[CISHARE_HEADER_VALUE_MAX + 1];
    size_t ll, bl, i, m;
    int scheme;

    (void)state;
    for (scheme = 0; scheme < 2; scheme++) {
        fixed_envelope(&env);
        sign_env(&env, scheme ? CISHARE_SIG_ED25519_MERKLE : NULL);
        encode(&env, label, &ll, blob, &bl);
        for (i = 0; i < bl; i++)
            for (m = 0; m < sizeof(masks); m++) {
                hv_t h[2] = {{CISHARE_H_LABEL, label, ll},
                             {CISHARE_H_ENV, t, bl}};
                memcpy(t, blob, bl);
                t[i] ^= masks[m];
                if (parse(h, 2, &back, NULL, 0) == CISHARE_OK &&
                    verify(&back, value, sizeof(value)) == CISHARE_OK)
                    fail_msg("byte %zu ^ 0x%02x still verifies", i, masks[m]);
            }
        /* the same on the decoded body, framed again: the field parser */
        {
            uint8_t body[CISHARE_HEADER_VALUE_MAX],
                b2[CISHARE_HEADER_VALUE_MAX];
            size_t n = unpack(blob, bl, body), j;
            for (j = 0; j < n; j++)
                for (m = 0; m < sizeof(masks); m++) {
                    hv_t h[2] = {{CISHARE_H_LABEL, label, ll},
                                 {CISHARE_H_ENV, t, 0}};
                    memcpy(b2, body, n);
                    b2[j] ^= masks[m];
                    h[1].len = pack(b2, n, t);
                    if (parse(h, 2, &back, NULL, 0) == CISHARE_OK &&
                        verify(&back, value, sizeof(value)) == CISHARE_OK)
                        fail_msg("body byte %zu ^ 0x%02x still verifies", j,
                                 masks[m]);
                }
            /* and every shorter or longer body */
            for (j = 0; j <= n + 1; j++) {
                hv_t h[2] = {{CISHARE_H_LABEL, label, ll},
                             {CISHARE_H_ENV, t, 0}};
                if (j == n)
                    continue;
                memcpy(b2, body, n);
                b2[n] = 0x41;
                h[1].len = pack(b2, j, t);
                if (parse(h, 2, &back, NULL, 0) == CISHARE_OK)
                    fail_msg("body of %zu bytes (of %zu) accepted", j, n);
            }
        }
        for (i = 0; i <= bl + 1; i++) {
            hv_t h[2] = {{CISHARE_H_LABEL, label, ll}, {CISHARE_H_ENV, t, i}};
            char err[256];
            if (i == bl)
                continue;
            memcpy(t, blob, bl);
            t[bl] = 0;
            if (parse(h, 2, &back, err, sizeof(err)) == CISHARE_OK)
                fail_msg("cishare.env of %zu bytes (of %zu) accepted", i, bl);
            assert_non_null(strstr(err, CISHARE_H_ENV));
        }
    }
    /* the label: another valid one does not verify, a malformed one does
     * not parse */
    {
        static const char *const other[] = {
            "indicator green op-power-a",
            "incident amber op-power-a",
            "indicator amber op-power-b",
        };
        static const char *const bad[] = {
            "indicator  amber op-power-a",  "indicator amber",
            "indicator amber op-power-a x", "Indicator amber op-power-a",
            "indicator AMBER op-power-a",   "indicator amber op-power-a ",
            " indicator amber op-power-a",  "",
            "indicator amber Op",
        };
        fixed_envelope(&env);
        sign_env(&env, NULL);
        encode(&env, label, &ll, blob, &bl);
        for (i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
            hv_t h[2] = {{CISHARE_H_LABEL, other[i], strlen(other[i])},
                         {CISHARE_H_ENV, blob, bl}};
            assert_int_equal(parse(h, 2, &back, NULL, 0), CISHARE_OK);
            assert_int_equal(verify(&back, value, sizeof(value)),
                             CISHARE_ERR_BAD_SIGNATURE);
        }
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            hv_t h[2] = {{CISHARE_H_LABEL, bad[i], strlen(bad[i])},
                         {CISHARE_H_ENV, blob, bl}};
            char err[256];
            if (parse(h, 2, &back, err, sizeof(err)) == CISHARE_OK)
                fail_msg("label '%s' accepted", bad[i]);
            assert_non_null(strstr(err, "header cishare"));
        }
    }
}

static void expect_refused(const hv_t *h, size_t n, const char *what,
                           const char *in_err)
{
    static cishare_envelope_t back;
    char err[256];

    if (parse(h, n, &back, err, sizeof(err)) == CISHARE_OK)
        fail_msg("%s accepted", what);
    if (in_err && !strstr(err, in_err))
        fail_msg("%s: error '%s' does not say '%s'", what, err, in_err);
}

static void test_v2_refusals(void **state)
{
    static cishare_envelope_t env, back;
    char label[256];
    uint8_t blob[CISHARE_HEADER_VALUE_MAX], t[CISHARE_HEADER_VALUE_MAX];
    size_t ll, bl, so;

    (void)state;
    fixed_envelope(&env);
    sign_env(&env, NULL);
    encode(&env, label, &ll, blob, &bl);
    {
        hv_t h[4] = {{CISHARE_H_LABEL, label, ll},
                     {CISHARE_H_ENV, blob, bl},
                     {CISHARE_H_LABEL, label, ll},
                     {CISHARE_H_ENV, blob, bl}};
        hv_t x[3] = {{CISHARE_H_LABEL, label, ll}, {CISHARE_H_ENV, blob, bl}};
        expect_refused(h, 3, "duplicate cishare", "cishare: duplicate");
        expect_refused(h + 1, 3, "duplicate cishare.env",
                       "cishare.env: duplicate");
        expect_refused(h, 1, "cishare alone", "cishare.env: missing");
        expect_refused(h + 1, 1, "cishare.env alone", "cishare: missing");
        /* one layout per message, either order */
        x[2] = (hv_t){CISHARE_H_TLP, "green", 5};
        expect_refused(x, 3, "layout 1 header after layout 2", "cishare.tlp");
        x[2] = (hv_t){CISHARE_H_SIG, "AAAA", 4};
        expect_refused(x, 3, "cishare.sig with layout 2", "cishare.sig");
        x[0] = (hv_t){CISHARE_H_ID, env.id, strlen(env.id)};
        x[1] = (hv_t){CISHARE_H_ENV, blob, bl};
        expect_refused(x, 2, "cishare.env after layout 1", "cishare.env");
        /* other names: ignored, or unknown (refused) */
        x[0] = (hv_t){CISHARE_H_LABEL, label, ll};
        x[2] = (hv_t){"cisharex", "1", 1};
        assert_int_equal(parse(x, 3, &back, NULL, 0), CISHARE_OK);
        x[2] = (hv_t){"traceparent", "1", 1};
        assert_int_equal(parse(x, 3, &back, NULL, 0), CISHARE_OK);
        x[2] = (hv_t){"cishare.envx", "1", 1};
        expect_refused(x, 3, "cishare.envx", "unknown cishare header");
    }
    /* the frame */
    {
        hv_t h[2] = {{CISHARE_H_LABEL, label, ll}, {CISHARE_H_ENV, t, bl}};
        memcpy(t, blob, bl);
        t[0] = 0x03;
        expect_refused(h, 2, "version 3", "version 3 not supported");
        memcpy(t, blob, bl);
        t[2] ^= 1; /* length off by one */
        expect_refused(h, 2, "wrong length", "length");
        memcpy(t, blob, bl);
        t[1] &= 0x7f; /* a length byte without its high bit */
        expect_refused(h, 2, "length byte < 0x80", "length");
        memcpy(t, blob, bl);
        t[bl / 2] = 0; /* a NUL: never written */
        expect_refused(h, 2, "NUL in the value", "NUL");
        memcpy(t, blob, bl);
        t[3] = 0xff; /* a COBS code past the end */
        expect_refused(h, 2, "overrunning COBS code", "COBS");
    }
    /* non-canonical COBS: a body of 254 non-zero bytes is one full block
     * (0xff, 254 bytes); with an empty block after it, it decodes the same
     * but is refused */
    {
        uint8_t body[300];
        size_t n;
        hv_t h[2] = {{CISHARE_H_LABEL, label, ll}, {CISHARE_H_ENV, t, 0}};
        memset(body, 0x41, 254);
        n = pack(body, 254, t);
        assert_int_equal(n, 3 + 255);
        assert_int_equal(t[3], 0xff);
        t[n] = 0x01;
        t[1] = (uint8_t)(0x80 | (n + 1 - 3) >> 7);
        t[2] = (uint8_t)(0x80 | ((n + 1 - 3) & 0x7f));
        h[1].len = n + 1;
        expect_refused(h, 2, "COBS with an empty last block", "COBS");
    }
    /* body bytes, one field at a time */
    {
        uint8_t body[CISHARE_HEADER_VALUE_MAX], b2[CISHARE_HEADER_VALUE_MAX];
        size_t n = unpack(blob, bl, body);
        hv_t h[2] = {{CISHARE_H_LABEL, label, ll}, {CISHARE_H_ENV, t, 0}};
#define REPACK()  (memcpy(b2, body, n), b2)
#define SEND(cnt) (h[1].len = pack(b2, (cnt), t))
        REPACK()[0] = 0;
        SEND(n);
        expect_refused(h, 2, "scheme code 0", "scheme code 0");
        REPACK()[0] = 3;
        SEND(n);
        expect_refused(h, 2, "scheme code 3", "scheme code 3");
        REPACK()[1] |= 0x08;
        SEND(n);
        expect_refused(h, 2, "flag bit 3", "flags");
        REPACK()[1] |= 0x04; /* encryption code 2: none such */
        SEND(n);
        expect_refused(h, 2, "encryption code 2", "flags");
        /* sector: length byte at 2+16+8+6+6+8 = 46, then "electricity" */
        so = 46;
        assert_int_equal(body[so], 11);
        REPACK()[so + 3] = '\0';
        SEND(n);
        expect_refused(h, 2, "NUL in sector", "sector");
        REPACK()[so + 1] = 'E';
        SEND(n);
        expect_refused(h, 2, "upper case sector", "sector");
        REPACK()[so + 1 + 11] = 0;
        b2[so + 1 + 11 + 1] = 0; /* audience of length 0 */
        SEND(n);
        expect_refused(h, 2, "empty audience", "audience");
        REPACK()[1] &= (uint8_t)~0x01; /* expires flag off: fields shift */
        SEND(n);
        expect_refused(h, 2, "expires flag dropped", NULL);
        REPACK();
        memset(b2 + 26, 0xff, 6); /* created past 9999 */
        SEND(n);
        expect_refused(h, 2, "created out of range", "created");
        REPACK();
        memset(b2 + 32, 0, 6); /* expires 0 with the flag */
        SEND(n);
        expect_refused(h, 2, "expires 0", "expires");
        REPACK();
        SEND(n - 1);
        expect_refused(h, 2, "signature one byte short", "63 bytes");
        REPACK()[n] = 0;
        SEND(n + 1);
        expect_refused(h, 2, "a trailing byte", "65 bytes");
#undef REPACK
#undef SEND
    }
    /* a merkle signature with index >= count, or count 0 */
    {
        uint8_t body[CISHARE_HEADER_VALUE_MAX];
        size_t n;
        hv_t h[2] = {{CISHARE_H_LABEL, label, ll}, {CISHARE_H_ENV, t, 0}};
        fixed_envelope(&env);
        sign_env(&env, CISHARE_SIG_ED25519_MERKLE);
        encode(&env, label, &ll, blob, &bl);
        h[0].len = ll;
        n = unpack(blob, bl, body);
        /* batch of one: the last 4 bytes are index 0, count 1 */
        assert_int_equal(body[n - 1], 1);
        body[n - 3] = 1; /* index 1 of 1 */
        h[1].len = pack(body, n, t);
        expect_refused(h, 2, "index 1 of 1", "out of range");
        body[n - 3] = 0;
        body[n - 1] = 0;
        h[1].len = pack(body, n, t);
        expect_refused(h, 2, "count 0", "out of range");
        body[n - 1] = 2; /* batch of 2 needs one path hash */
        h[1].len = pack(body, n, t);
        expect_refused(h, 2, "count 2 without a path", "needs");
    }
}

/* A relayed copy: the hop header follows the layout 2 pair; the original
 * signature and the hop both verify after parsing. */
static void test_v2_relay(void **state)
{
    static cishare_envelope_t env, back;
    rd_kafka_headers_t *hs = rd_kafka_headers_new(8);
    const char *name;
    const void *val;
    size_t sz;
    char err[256] = "";

    (void)state;
    fixed_envelope(&env);
    sign_env(&env, CISHARE_SIG_ED25519_MERKLE);
    relay_fixed(&env);
    assert_int_equal(cishare_envelope_to_headers(&env, hs, NULL, 0),
                     CISHARE_OK);
    assert_int_equal(rd_kafka_header_get_all(hs, 2, &name, &val, &sz), 0);
    assert_string_equal(name, CISHARE_H_RELAY);
    assert_int_equal(cishare_envelope_from_headers(hs, &back, err, sizeof(err)),
                     CISHARE_OK);
    assert_int_equal(back.wire_version, CISHARE_ENV_WIRE_V2);
    assert_int_equal(back.relay_cnt, 1);
    assert_int_equal(verify(&back, value, sizeof(value)), CISHARE_OK);
    assert_int_equal(cishare_envelope_relay_verify(
                         &back, 0, SUBJECT, strlen(SUBJECT), value,
                         sizeof(value), kp2.ed25519_pk, err, sizeof(err)),
                     CISHARE_OK);
    rd_kafka_headers_destroy(hs);
}

/* ---- golden vectors --------------------------------------------- */

/* "cishare: <text>\ncishare.env: <hex>\n" of one message. */
static size_t vec_text(const cishare_envelope_t *env, char *out, size_t size)
{
    char label[256], hex[2 * CISHARE_HEADER_VALUE_MAX + 1];
    uint8_t blob[CISHARE_HEADER_VALUE_MAX];
    size_t ll, bl;

    encode(env, label, &ll, blob, &bl);
    sodium_bin2hex(hex, sizeof(hex), blob, bl);
    return (size_t)snprintf(out, size, "%s: %s\n%s: %s\n", CISHARE_H_LABEL,
                            label, CISHARE_H_ENV, hex);
}

/* Parse the header lines of a vector file from `p` (either layout: the
 * text of every header, cishare.env in hex) until a line that is not a
 * "cishare" header. */
static cishare_err_t parse_vec(const char **pp, cishare_envelope_t *env,
                               char *err, size_t errsize)
{
    static uint8_t bins[16][CISHARE_HEADER_VALUE_MAX];
    char names[16][64];
    hv_t h[16];
    size_t n = 0;
    const char *p = *pp;

    while (!strncmp(p, "cishare", 7) && n < 16) {
        const char *colon = strstr(p, ": "), *eol = strchr(p, '\n');
        size_t nl = (size_t)(colon - p), vl;
        assert_non_null(colon);
        assert_non_null(eol);
        vl = (size_t)(eol - colon - 2);
        snprintf(names[n], sizeof(names[n]), "%.*s", (int)nl, p);
        if (!strcmp(names[n], CISHARE_H_ENV)) {
            size_t bl = 0;
            assert_int_equal(sodium_hex2bin(bins[n], sizeof(bins[n]), colon + 2,
                                            vl, NULL, &bl, NULL),
                             0);
            h[n] = (hv_t){names[n], bins[n], bl};
        } else {
            memcpy(bins[n], colon + 2, vl);
            h[n] = (hv_t){names[n], bins[n], vl};
        }
        n++;
        p = eol + 1;
    }
    *pp = p;
    return parse(h, n, env, err, errsize);
}

static void test_v2_vectors(void **state)
{
    static cishare_envelope_t env, back, b[3];
    static char text[65536], stored[65536], v1[65536];
    cishare_envelope_t *envs[3];
    const char *subj[3];
    const uint8_t *vals[3];
    uint8_t v[3][sizeof(value)];
    size_t sl[3], vl[3], tl = 0, i;
    const char *p;
    char err[256] = "";

    (void)state;
    /* single ed25519 */
    fixed_envelope(&env);
    sign_env(&env, NULL);
    tl = vec_text(&env, text, sizeof(text));
    if (getenv("CISHARE_REGEN_VECTORS"))
        write_vec("v2/headers.txt", text, tl);
    assert_int_equal(read_vec("v2/headers.txt", stored, sizeof(stored)), tl);
    assert_memory_equal(stored, text, tl);
    p = stored;
    assert_int_equal(parse_vec(&p, &back, err, sizeof(err)), CISHARE_OK);
    assert_same(&env, &back);
    assert_int_equal(verify(&back, value, sizeof(value)), CISHARE_OK);

    /* the merkle3 batch of tests/vectors/envelope/merkle3.txt */
    for (i = 0; i < 3; i++) {
        fixed_envelope(&b[i]);
        b[i].id[35] = (char)('0' + i);
        memcpy(v[i], value, sizeof(value));
        v[i][sizeof(value) - 1] ^= (uint8_t)i;
        envs[i] = &b[i];
        subj[i] = SUBJECT;
        sl[i] = strlen(SUBJECT);
        vals[i] = v[i];
        vl[i] = sizeof(value);
    }
    assert_int_equal(cishare_envelope_sign_batch(
                         envs, subj, sl, vals, vl, 3, &kp,
                         CISHARE_SIG_ED25519_MERKLE, err, sizeof(err)),
                     CISHARE_OK);
    tl = 0;
    for (i = 0; i < 3; i++) {
        tl +=
            (size_t)snprintf(text + tl, sizeof(text) - tl, "message %zu\n", i);
        tl += vec_text(&b[i], text + tl, sizeof(text) - tl);
    }
    if (getenv("CISHARE_REGEN_VECTORS"))
        write_vec("v2/merkle3.txt", text, tl);
    assert_int_equal(read_vec("v2/merkle3.txt", stored, sizeof(stored)), tl);
    assert_memory_equal(stored, text, tl);
    /* decoded from the stored bytes: verifies, and carries exactly the
     * signature bytes of the layout 1 vector (the same signature) */
    read_vec("merkle3.txt", v1, sizeof(v1));
    p = stored;
    for (i = 0; i < 3; i++) {
        char hex[2 * CISHARE_SIG_MAX_BYTES + 1], want[64];
        const char *q;
        p = strchr(p, '\n') + 1; /* "message i" */
        assert_int_equal(parse_vec(&p, &back, err, sizeof(err)), CISHARE_OK);
        assert_same(&b[i], &back);
        assert_int_equal(cishare_envelope_verify(
                             &back, SUBJECT, strlen(SUBJECT), v[i],
                             sizeof(value), kp.ed25519_pk, err, sizeof(err)),
                         CISHARE_OK);
        snprintf(want, sizeof(want), "message %zu\n", i);
        q = strstr(v1, want);
        assert_non_null(q);
        q = strstr(q, "sig bytes: ");
        assert_non_null(q);
        sodium_bin2hex(hex, sizeof(hex), back.sig, back.sig_len);
        assert_memory_equal(q + 11, hex, strlen(hex));
        assert_int_equal(q[11 + strlen(hex)], '\n');
    }
}

/* Layout 1, as older releases wrote it (the golden vectors), is still
 * read, verified and written back byte for byte (a relay keeps it). */
static void test_v1_vectors_still_read(void **state)
{
    static cishare_envelope_t back;
    static char stored[65536];
    uint8_t v[sizeof(value)];
    const char *p;
    char err[256] = "";
    size_t i;

    (void)state;
    read_vec("headers.txt", stored, sizeof(stored));
    p = stored;
    assert_int_equal(parse_vec(&p, &back, err, sizeof(err)), CISHARE_OK);
    assert_int_equal(back.wire_version, CISHARE_ENV_WIRE_V1);
    assert_int_equal(verify(&back, value, sizeof(value)), CISHARE_OK);
    {
        /* written again: layout 1, the same text */
        static const char *const names[] = {
            CISHARE_H_ID,     CISHARE_H_TYPE,    CISHARE_H_TLP,
            CISHARE_H_ORIGIN, CISHARE_H_SECTOR,  CISHARE_H_AUDIENCE,
            CISHARE_H_SCHEMA, CISHARE_H_CREATED, CISHARE_H_EXPIRES,
            CISHARE_H_KID,    CISHARE_H_ALG,     CISHARE_H_SIG};
        rd_kafka_headers_t *hs = rd_kafka_headers_new(16);
        const char *name;
        const void *val;
        size_t sz, k, off = 0;
        assert_int_equal(cishare_envelope_to_headers(&back, hs, NULL, 0),
                         CISHARE_OK);
        for (k = 0; !rd_kafka_header_get_all(hs, k, &name, &val, &sz); k++) {
            size_t nl = strlen(names[k]);
            assert_string_equal(name, names[k]);
            assert_memory_equal(stored + off, name, nl);
            assert_memory_equal(stored + off + nl + 2, val, sz);
            off += nl + 2 + sz + 1;
        }
        assert_int_equal(k, 12);
        rd_kafka_headers_destroy(hs);
    }
    /* and the layout 1 merkle batch, each message alone */
    read_vec("merkle3.txt", stored, sizeof(stored));
    p = stored;
    for (i = 0; i < 3; i++) {
        p = strstr(p, "sig bytes: ");
        assert_non_null(p);
        p = strchr(p, '\n') + 1;
        assert_int_equal(parse_vec(&p, &back, err, sizeof(err)), CISHARE_OK);
        assert_int_equal(back.wire_version, CISHARE_ENV_WIRE_V1);
        memcpy(v, value, sizeof(value));
        v[sizeof(value) - 1] ^= (uint8_t)i;
        assert_int_equal(verify(&back, v, sizeof(v)), CISHARE_OK);
    }
}

/* What a feed logs of a message that may not parse. */
static void test_claims(void **state)
{
    static cishare_envelope_t env;
    char label[256],
        id[CISHARE_MSG_ID_LEN + 1] = "", origin[CISHARE_ENV_NAME_LEN + 1] = "";
    uint8_t blob[CISHARE_HEADER_VALUE_MAX];
    size_t ll, bl;

    (void)state;
    fixed_envelope(&env);
    sign_env(&env, NULL);
    encode(&env, label, &ll, blob, &bl);
    cishare_envelope_claims(CISHARE_H_ENV, blob, bl, id, origin);
    cishare_envelope_claims(CISHARE_H_LABEL, label, ll, id, origin);
    assert_string_equal(id, env.id);
    assert_string_equal(origin, "op-power-a");
    id[0] = origin[0] = '\0';
    cishare_envelope_claims(CISHARE_H_ENV, blob, 10, id, origin);
    cishare_envelope_claims(CISHARE_H_LABEL, "indicator amber", 15, id, origin);
    cishare_envelope_claims(CISHARE_H_ORIGIN, "op-x", 4, id, origin);
    cishare_envelope_claims(CISHARE_H_ID, "abc", 3, id, origin);
    assert_string_equal(id, "abc");
    assert_string_equal(origin, "op-x");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v2_roundtrip),
        cmocka_unit_test(test_v2_every_byte),
        cmocka_unit_test(test_v2_refusals),
        cmocka_unit_test(test_v2_relay),
        cmocka_unit_test(test_v2_vectors),
        cmocka_unit_test(test_v1_vectors_still_read),
        cmocka_unit_test(test_claims),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
