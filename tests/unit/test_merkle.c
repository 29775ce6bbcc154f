/*
 * Signature scheme ed25519-merkle (envelope.h, schemas/README.md "Batch
 * signatures"): batch signing, each message verifying alone, tampering,
 * malformed blobs, the per-thread cache of verified roots, threads.
 * Golden vectors: tests/vectors/envelope/merkle3-* (regenerate
 * deliberately with CISHARE_REGEN_VECTORS=1 after a contract change).
 */
#include "cishare/envelope.h"
#include "cishare/keys.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "envelope_fixture.h"

#define MERKLE CISHARE_SIG_ED25519_MERKLE

typedef struct batch_s {
    size_t n;
    cishare_envelope_t **envs;
    char **subjects;
    size_t *subject_lens;
    uint8_t **values;
    size_t *value_lens;
} batch_t;

/* The fixed envelope with id ending in i (hex). */
static void envelope_for(cishare_envelope_t *env, size_t i, unsigned salt)
{
    fixed_envelope(env);
    snprintf(env->id, sizeof(env->id), "0f8fad5b-d9cb-469f-a165-%012zx",
             (size_t)salt << 32 | i);
}

/* The fixed value with bytes 60..62 xor i and salt. */
static void value_for(uint8_t v[64], size_t i, unsigned salt)
{
    memcpy(v, value, 64);
    v[60] ^= (uint8_t)(i >> 8);
    v[61] ^= (uint8_t)i;
    v[62] ^= (uint8_t)salt;
}

/* n messages (subject, value and id differ with i and salt), unsigned. */
static void batch_make(batch_t *b, size_t n, unsigned salt)
{
    size_t i;

    b->n = n;
    b->envs = calloc(n, sizeof(*b->envs));
    b->subjects = calloc(n, sizeof(*b->subjects));
    b->subject_lens = calloc(n, sizeof(*b->subject_lens));
    b->values = calloc(n, sizeof(*b->values));
    b->value_lens = calloc(n, sizeof(*b->value_lens));
    assert_non_null(b->value_lens);
    for (i = 0; i < n; i++) {
        b->envs[i] = malloc(sizeof(cishare_envelope_t));
        b->subjects[i] = malloc(64);
        b->values[i] = malloc(64);
        assert_non_null(b->values[i]);
        envelope_for(b->envs[i], i, salt);
        snprintf(b->subjects[i], 64,
                 "indicator--6ba7b810-9dad-41d1-80b4-%012zx",
                 (size_t)salt << 32 | i);
        b->subject_lens[i] = strlen(b->subjects[i]);
        value_for(b->values[i], i, salt);
        b->value_lens[i] = 64;
    }
}

static cishare_err_t batch_sign(batch_t *b, const char *scheme)
{
    char err[256] = "";
    cishare_err_t e = cishare_envelope_sign_batch(
        b->envs, (const char *const *)b->subjects, b->subject_lens,
        (const uint8_t *const *)b->values, b->value_lens, b->n, &kp, scheme,
        err, sizeof(err));
    if (e)
        print_message("%% sign_batch: %s\n", err);
    return e;
}

static void batch_free(batch_t *b)
{
    size_t i;

    for (i = 0; i < b->n; i++) {
        free(b->envs[i]);
        free(b->subjects[i]);
        free(b->values[i]);
    }
    free(b->envs);
    free(b->subjects);
    free(b->subject_lens);
    free(b->values);
    free(b->value_lens);
}

static cishare_err_t verify_as(const batch_t *b, size_t i,
                               const cishare_envelope_t *env)
{
    return cishare_envelope_verify(env, b->subjects[i], b->subject_lens[i],
                                   b->values[i], b->value_lens[i],
                                   kp.ed25519_pk, NULL, 0);
}

static cishare_err_t verify_one(const batch_t *b, size_t i)
{
    return verify_as(b, i, b->envs[i]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* ---- reference tree, written from RFC 9162 2.1.1 independently ---- */

static void ref_hash(const char *prefix, const uint8_t *a, const uint8_t *b2,
                     uint8_t out[32])
{
    crypto_generichash_state st;

    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)prefix, strlen(prefix));
    crypto_generichash_update(&st, a, 32);
    if (b2)
        crypto_generichash_update(&st, b2, 32);
    crypto_generichash_final(&st, out, 32);
}

/* MTH(D[lo:hi]) over digests d. */
static void ref_mth(const uint8_t (*d)[32], size_t lo, size_t hi,
                    uint8_t out[32])
{
    uint8_t l[32], r[32];
    size_t k = 1;

    if (hi - lo == 1) {
        ref_hash("cishare/merkle/leaf/v1", d[lo], NULL, out);
        return;
    }
    while (2 * k < hi - lo)
        k *= 2;
    ref_mth(d, lo, lo + k, l);
    ref_mth(d, lo + k, hi, r);
    ref_hash("cishare/merkle/node/v1", l, r, out);
}

static size_t ref_path_len(size_t m, size_t n)
{
    size_t k = 1;

    if (n == 1)
        return 0;
    while (2 * k < n)
        k *= 2;
    return 1 + (m < k ? ref_path_len(m, k) : ref_path_len(m - k, n - k));
}

/* The root signature of message i signs "cishare/merkle/root/v1" || u32 n
 * || MTH of the batch's digests. */
static void check_against_reference(const batch_t *b)
{
    uint8_t(*d)[32] = malloc(b->n * 32), root[32], msg[22 + 4 + 32];
    size_t i;

    assert_non_null(d);
    for (i = 0; i < b->n; i++)
        cishare_envelope_digest(b->envs[i], b->subjects[i], b->subject_lens[i],
                                b->values[i], b->value_lens[i], d[i]);
    ref_mth((const uint8_t(*)[32])d, 0, b->n, root);
    memcpy(msg, "cishare/merkle/root/v1", 22);
    msg[22] = (uint8_t)(b->n >> 24);
    msg[23] = (uint8_t)(b->n >> 16);
    msg[24] = (uint8_t)(b->n >> 8);
    msg[25] = (uint8_t)b->n;
    memcpy(msg + 26, root, 32);
    for (i = 0; i < b->n; i++) {
        const cishare_envelope_t *e = b->envs[i];
        assert_string_equal(e->alg, MERKLE);
        assert_int_equal(e->sig_len, 72 + 32 * ref_path_len(i, b->n));
        assert_true(ref_path_len(i, b->n) <= CISHARE_MERKLE_MAX_DEPTH);
        assert_int_equal(be32(e->sig + 64), i);
        assert_int_equal(be32(e->sig + 68), b->n);
        assert_memory_equal(e->sig, b->envs[0]->sig, 64);
    }
    assert_int_equal(crypto_sign_verify_detached(b->envs[0]->sig, msg,
                                                 sizeof(msg), kp.ed25519_pk),
                     0);
    free(d);
}

/* ---- tests ---- */

static const size_t SIZES[] = {1, 2, 3, 5, 8, 100, 1024};

/* Every message of every batch size verifies alone, with a cold cache and
 * with a warm one; one Ed25519 verification per batch and thread. */
static void test_batch_sizes(void **state)
{
    size_t s, i;

    (void)state;
    for (s = 0; s < sizeof(SIZES) / sizeof(SIZES[0]); s++) {
        batch_t b;
        cishare_sig_stats_t st;

        batch_make(&b, SIZES[s], 1);
        assert_int_equal(batch_sign(&b, NULL), CISHARE_OK);
        check_against_reference(&b);
        for (i = 0; i<b.n; i += b.n> 100 ? 37 : 1) {
            cishare_sig_cache_clear();
            assert_int_equal(verify_one(&b, i), CISHARE_OK);
            cishare_sig_stats(&st);
            assert_int_equal(st.ed25519_verifies, 1);
            assert_int_equal(st.cache_hits, 0);
        }
        cishare_sig_cache_clear();
        for (i = 0; i < b.n; i++)
            assert_int_equal(verify_one(&b, i), CISHARE_OK);
        cishare_sig_stats(&st);
        assert_int_equal(st.ed25519_verifies, 1);
        assert_int_equal(st.cache_hits, b.n - 1);
        batch_free(&b);
    }
}

/* Path shape against the RFC recursion for every index of n = 1..70. */
static void test_tree_shapes(void **state)
{
    size_t n;

    (void)state;
    for (n = 1; n <= 70; n++) {
        batch_t b;
        size_t i;
        batch_make(&b, n, 2);
        assert_int_equal(batch_sign(&b, MERKLE), CISHARE_OK);
        check_against_reference(&b);
        for (i = 0; i < n; i++)
            assert_int_equal(verify_one(&b, i), CISHARE_OK);
        batch_free(&b);
    }
}

/* Flip every bit position class (0x01, 0x80) of every signature byte
 * (root signature, index, count, path) of every message: never verifies,
 * whether the batch's root is cached or not. */
static void test_tamper_sig_bytes(void **state)
{
    static const size_t sizes[] = {1, 2, 3, 5, 8};
    static const uint8_t masks[] = {0x01, 0x80};
    size_t s, i, k, m;
    cishare_envelope_t t;

    (void)state;
    for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        batch_t b;
        batch_make(&b, sizes[s], 3);
        assert_int_equal(batch_sign(&b, NULL), CISHARE_OK);
        for (i = 0; i < b.n; i++) {
            for (k = 0; k < b.envs[i]->sig_len; k++) {
                for (m = 0; m < sizeof(masks); m++) {
                    /* warm: the genuine root is in the cache */
                    assert_int_equal(verify_one(&b, i), CISHARE_OK);
                    t = *b.envs[i];
                    t.sig[k] ^= masks[m];
                    if (verify_as(&b, i, &t) == CISHARE_OK)
                        fail_msg("n=%zu msg %zu: byte %zu ^ %02x verified", b.n,
                                 i, k, masks[m]);
                    cishare_sig_cache_clear(); /* and cold */
                    assert_int_equal(verify_as(&b, i, &t),
                                     CISHARE_ERR_BAD_SIGNATURE);
                }
            }
            /* trailing byte, missing byte, one path hash more or less */
            t = *b.envs[i];
            t.sig[t.sig_len++] = 0;
            assert_int_equal(verify_as(&b, i, &t), CISHARE_ERR_BAD_SIGNATURE);
            t = *b.envs[i];
            t.sig_len--;
            assert_int_equal(verify_as(&b, i, &t), CISHARE_ERR_BAD_SIGNATURE);
            t = *b.envs[i];
            memset(t.sig + t.sig_len, 0, 32);
            t.sig_len += 32;
            assert_int_equal(verify_as(&b, i, &t), CISHARE_ERR_BAD_SIGNATURE);
            if (t.sig_len >= 72 + 64) {
                t.sig_len -= 64;
                assert_int_equal(verify_as(&b, i, &t),
                                 CISHARE_ERR_BAD_SIGNATURE);
            }
        }
        batch_free(&b);
    }
}

/* Every header text byte, the subject and every value byte of message i
 * changed: never verifies (a parse error counts as refused). */
static void test_tamper_headers_value(void **state)
{
    static const char *const names[] = {
        CISHARE_H_ID,     CISHARE_H_TYPE,    CISHARE_H_TLP,
        CISHARE_H_ORIGIN, CISHARE_H_SECTOR,  CISHARE_H_AUDIENCE,
        CISHARE_H_SCHEMA, CISHARE_H_CREATED, CISHARE_H_EXPIRES,
        CISHARE_H_KID,    CISHARE_H_ALG,     CISHARE_H_SIG,
    };
    size_t h, k, i;
    batch_t b;

    (void)state;
    batch_make(&b, 5, 4);
    assert_int_equal(batch_sign(&b, NULL), CISHARE_OK);
    for (i = 0; i < b.n; i += 2) {
        for (h = 0; h < sizeof(names) / sizeof(names[0]); h++) {
            char text[CISHARE_HEADER_VALUE_MAX + 1];
            size_t len = cishare_envelope_header_text(b.envs[i], names[h], 0,
                                                      text, sizeof(text));
            assert_true(len > 0 && len < sizeof(text));
            for (k = 0; k < len; k++) {
                rd_kafka_headers_t *hdrs = rd_kafka_headers_new(16);
                char orig = text[k], v[CISHARE_HEADER_VALUE_MAX + 1];
                cishare_envelope_t parsed;
                size_t j;
                /* another character of the same class, mostly parseable */
                text[k] = orig >= '0' && orig <= '8'   ? (char)(orig + 1)
                          : orig >= 'a' && orig <= 'e' ? (char)(orig + 1)
                          : orig == '9'                ? '0'
                                                       : 'a';
                if (text[k] == orig)
                    text[k] = 'b';
                for (j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
                    if (j == h) {
                        rd_kafka_header_add(hdrs, names[j], -1, text,
                                            (ssize_t)len);
                        continue;
                    }
                    size_t vl = cishare_envelope_header_text(
                        b.envs[i], names[j], 0, v, sizeof(v));
                    rd_kafka_header_add(hdrs, names[j], -1, v, (ssize_t)vl);
                }
                text[k] = orig;
                if (cishare_envelope_from_headers(hdrs, &parsed, NULL, 0) ==
                        CISHARE_OK &&
                    verify_as(&b, i, &parsed) == CISHARE_OK)
                    fail_msg("msg %zu: header %s byte %zu changed, verified", i,
                             names[h], k);
                rd_kafka_headers_destroy(hdrs);
            }
        }
        for (k = 0; k < b.value_lens[i]; k++) {
            b.values[i][k] ^= 0x01;
            assert_int_equal(verify_one(&b, i), CISHARE_ERR_BAD_SIGNATURE);
            b.values[i][k] ^= 0x01;
        }
        for (k = 0; k < b.subject_lens[i]; k++) {
            b.subjects[i][k] ^= 0x01;
            assert_int_equal(verify_one(&b, i), CISHARE_ERR_BAD_SIGNATURE);
            b.subjects[i][k] ^= 0x01;
        }
        assert_int_equal(verify_one(&b, i), CISHARE_OK);
    }
    batch_free(&b);
}

/* A genuine path of message i with message j's digest, with or without
 * its index changed to j; a blob of another batch; a blob whose count is
 * changed to another count of the same path length. */
static void test_wrong_proofs(void **state)
{
    batch_t a, o;
    cishare_envelope_t t;
    size_t i, j;

    (void)state;
    batch_make(&a, 8, 5);
    batch_make(&o, 8, 5); /* same messages ... */
    for (i = 0; i < o.n; i++)
        o.values[i][63] ^= 0x55; /* ... but other values */
    assert_int_equal(batch_sign(&a, NULL), CISHARE_OK);
    assert_int_equal(batch_sign(&o, NULL), CISHARE_OK);
    for (i = 0; i < a.n; i++) {
        assert_int_equal(verify_one(&a, i), CISHARE_OK); /* root cached */
        for (j = 0; j < a.n; j++) {
            if (i == j)
                continue;
            t = *a.envs[j];
            memcpy(t.sig, a.envs[i]->sig, a.envs[i]->sig_len);
            t.sig_len = a.envs[i]->sig_len;
            assert_int_equal(verify_as(&a, j, &t), CISHARE_ERR_BAD_SIGNATURE);
            t.sig[64 + 3] = (uint8_t)j; /* index j, path of i */
            assert_int_equal(verify_as(&a, j, &t), CISHARE_ERR_BAD_SIGNATURE);
        }
        /* other batch, same index: a valid blob, for another digest */
        assert_int_equal(verify_one(&o, i), CISHARE_OK);
        t = *a.envs[i];
        memcpy(t.sig, o.envs[i]->sig, o.envs[i]->sig_len);
        assert_int_equal(verify_as(&a, i, &t), CISHARE_ERR_BAD_SIGNATURE);
        /* n = 7 has paths of length 3 for indices 0-3 too */
        t = *a.envs[i];
        t.sig[71] = 7;
        assert_int_equal(verify_as(&a, i, &t), CISHARE_ERR_BAD_SIGNATURE);
    }
    batch_free(&a);
    batch_free(&o);
}

/* Malformed fields fail closed before any hashing matters. */
static void test_malformed(void **state)
{
    const cishare_sig_scheme_t *s = cishare_sig_scheme_find(MERKLE);
    uint8_t d[32] = {0}, sig[CISHARE_SIG_MAX_BYTES];
    size_t len = 0;
    batch_t b;

    (void)state;
    assert_non_null(s);
    assert_int_equal(s->max_sig_bytes, CISHARE_MERKLE_SIG_MAX);
    assert_true(CISHARE_MERKLE_SIG_MAX <= CISHARE_SIG_MAX_BYTES);
    /* single-digest sign = a batch of one */
    assert_int_equal(s->sign(d, &kp, sig, &len), CISHARE_OK);
    assert_int_equal(len, 72);
    assert_int_equal(s->verify(d, sig, len, kp.ed25519_pk), 0);
    assert_int_equal(s->verify(d, sig, len, kp2.ed25519_pk), -1);
    assert_int_equal(s->verify(d, sig, 71, kp.ed25519_pk), -1);
    assert_int_equal(s->verify(d, sig, 0, kp.ed25519_pk), -1);
    sig[71] = 0; /* n = 0 */
    assert_int_equal(s->verify(d, sig, len, kp.ed25519_pk), -1);
    sig[71] = 1;
    sig[67] = 1; /* index 1 >= n 1 */
    assert_int_equal(s->verify(d, sig, len, kp.ed25519_pk), -1);
    sig[67] = 0;
    assert_int_equal(s->verify(d, sig, len, kp.ed25519_pk), 0);
    /* n beyond the bound, with the path length it would have */
    memset(sig + 72, 0, 11 * 32);
    sig[70] = 0x04; /* n = 1025 */
    sig[71] = 0x01;
    assert_int_equal(s->verify(d, sig, 72 + 11 * 32, kp.ed25519_pk), -1);
    sig[64] = 0xff; /* index huge */
    assert_int_equal(s->verify(d, sig, 72 + 11 * 32, kp.ed25519_pk), -1);

    /* batches beyond the bound, or empty, are refused, never split */
    batch_make(&b, CISHARE_MERKLE_MAX_LEAVES + 1, 6);
    assert_int_equal(batch_sign(&b, MERKLE), CISHARE_ERR_TOO_LARGE);
    assert_int_equal(b.envs[0]->sig_len, 0);
    assert_int_equal(cishare_envelope_sign_batch(
                         b.envs, (const char *const *)b.subjects,
                         b.subject_lens, (const uint8_t *const *)b.values,
                         b.value_lens, 0, &kp, MERKLE, NULL, 0),
                     CISHARE_ERR_INVALID_ARG);
    /* an invalid envelope refuses the batch, naming it; none is signed */
    strcpy(b.envs[3]->origin, "Bad Origin");
    {
        char err[256] = "";
        assert_int_equal(cishare_envelope_sign_batch(
                             b.envs, (const char *const *)b.subjects,
                             b.subject_lens, (const uint8_t *const *)b.values,
                             b.value_lens, 10, &kp, MERKLE, err, sizeof(err)),
                         CISHARE_ERR_VALIDATION);
        assert_non_null(strstr(err, "batch message 3"));
        assert_int_equal(b.envs[0]->sig_len, 0);
    }
    /* two origins in one batch are refused */
    strcpy(b.envs[3]->origin, "op-power-b");
    assert_int_equal(cishare_envelope_sign_batch(
                         b.envs, (const char *const *)b.subjects,
                         b.subject_lens, (const uint8_t *const *)b.values,
                         b.value_lens, 10, &kp, MERKLE, NULL, 0),
                     CISHARE_ERR_INVALID_ARG);
    assert_int_equal(b.envs[0]->sig_len, 0);
    batch_free(&b);
}

/* The cache key includes the signature bytes and the key: a path leading
 * to a cached root, with other signature bytes or another key, fails. */
static void test_cache_is_exact(void **state)
{
    const cishare_sig_scheme_t *s = cishare_sig_scheme_find(MERKLE);
    cishare_envelope_t t;
    cishare_sig_stats_t st;
    uint8_t d1[32];
    batch_t b;
    size_t k;

    (void)state;
    batch_make(&b, 3, 7);
    assert_int_equal(batch_sign(&b, NULL), CISHARE_OK);
    cishare_sig_cache_clear();
    assert_int_equal(verify_one(&b, 0), CISHARE_OK); /* root cached */
    for (k = 0; k < 64; k++) {
        t = *b.envs[1];
        t.sig[k] ^= 0x20;
        assert_int_equal(verify_as(&b, 1, &t), CISHARE_ERR_BAD_SIGNATURE);
    }
    cishare_envelope_digest(b.envs[1], b.subjects[1], b.subject_lens[1],
                            b.values[1], b.value_lens[1], d1);
    assert_int_equal(
        s->verify(d1, b.envs[1]->sig, b.envs[1]->sig_len, kp.ed25519_pk), 0);
    /* the scheme alone (no key id check): another key misses the cache */
    assert_int_equal(
        s->verify(d1, b.envs[1]->sig, b.envs[1]->sig_len, kp2.ed25519_pk), -1);
    cishare_sig_stats(&st);
    assert_int_equal(st.ed25519_verifies, 1 + 64 + 1);
    assert_int_equal(verify_one(&b, 2), CISHARE_OK);
    cishare_sig_stats(&st);
    assert_int_equal(st.cache_hits, 2);
    batch_free(&b);
}

/* The tree cache: a batch verified in order costs about two hashes a
 * message (a full walk is 1 + L); in any order every answer is the full
 * walk's: a forged value, or any path hash that is not the signer's,
 * fails even when every node of its route is known. */
static void test_path_cache(void **state)
{
    static const size_t sizes[] = {3, 100, 256, 1024};
    size_t s, i, k;

    (void)state;
    for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        cishare_sig_stats_t st;
        batch_t b;
        size_t n = sizes[s];

        batch_make(&b, n, 40 + (unsigned)s);
        assert_int_equal(batch_sign(&b, NULL), CISHARE_OK);
        cishare_sig_cache_clear();
        for (i = 0; i < n; i++)
            assert_int_equal(verify_one(&b, i), CISHARE_OK);
        cishare_sig_stats(&st);
        assert_int_equal(st.ed25519_verifies, 1);
        assert_int_equal(st.cache_hits, n - 1);
        if (st.path_hashes > 2 * n + 10)
            fail_msg("n=%zu: %llu hashes in order", n,
                     (unsigned long long)st.path_hashes);
        /* warm: forged values and tampered path hashes of every message */
        for (i = 0; i<n; i += n> 100 ? 13 : 1) {
            cishare_envelope_t t = *b.envs[i];
            b.values[i][7] ^= 1;
            assert_int_equal(verify_one(&b, i), CISHARE_ERR_BAD_SIGNATURE);
            b.values[i][7] ^= 1;
            for (k = CISHARE_MERKLE_SIG_MIN; k < t.sig_len; k += 32) {
                t.sig[k + 31] ^= 0x40;
                assert_int_equal(verify_as(&b, i, &t),
                                 CISHARE_ERR_BAD_SIGNATURE);
                t.sig[k + 31] ^= 0x40;
            }
            assert_int_equal(verify_as(&b, i, &t), CISHARE_OK);
        }
        /* backwards, cold: still one Ed25519 check, fewer hashes than
         * walking every path */
        cishare_sig_cache_clear();
        for (i = n; i-- > 0;)
            assert_int_equal(verify_one(&b, i), CISHARE_OK);
        cishare_sig_stats(&st);
        assert_int_equal(st.ed25519_verifies, 1);
        if (n > 3 && st.path_hashes > 3 * n)
            fail_msg("n=%zu: %llu hashes backwards", n,
                     (unsigned long long)st.path_hashes);
        batch_free(&b);
    }
}

/* More batches than cache slots, interleaved: evictions never change an
 * answer. */
static void test_cache_eviction(void **state)
{
    enum { NB = 1100 }; /* more roots than the cache holds (1024) */
    batch_t b[NB];
    size_t i, round;
    cishare_sig_stats_t st;

    (void)state;
    cishare_sig_cache_clear();
    for (i = 0; i < NB; i++) {
        batch_make(&b[i], 2, 100 + (unsigned)i);
        assert_int_equal(batch_sign(&b[i], NULL), CISHARE_OK);
    }
    for (round = 0; round < 2; round++)
        for (i = 0; i < NB; i++) {
            assert_int_equal(verify_one(&b[i], round), CISHARE_OK);
            cishare_envelope_t t = *b[i].envs[round];
            t.sig[5] ^= 1;
            assert_int_equal(verify_as(&b[i], round, &t),
                             CISHARE_ERR_BAD_SIGNATURE);
        }
    cishare_sig_stats(&st);
    /* every check either verified or hit; the tampered ones always
     * verified (and failed) */
    assert_int_equal(st.cache_hits + st.ed25519_verifies, 4 * NB);
    assert_true(st.ed25519_verifies >= 2 * NB + NB);
    for (i = 0; i < NB; i++)
        batch_free(&b[i]);
}

/* Roots whose signatures share a first byte do not share a cache set: a
 * signer that grinds eight batches to the first byte of another origin's
 * root signature (with sets chosen by that byte, four evict it) leaves
 * that root cached. */
static void test_cache_grinding(void **state)
{
    enum { NG = 8 };
    batch_t v, g[NG];
    cishare_sig_stats_t st;
    unsigned salt = 5000;
    size_t k = 0;

    (void)state;
    batch_make(&v, 3, 4999);
    assert_int_equal(batch_sign(&v, NULL), CISHARE_OK);
    while (k < NG) {
        batch_make(&g[k], 2, salt++);
        assert_int_equal(batch_sign(&g[k], NULL), CISHARE_OK);
        if (g[k].envs[0]->sig[0] == v.envs[0]->sig[0])
            k++;
        else
            batch_free(&g[k]);
        assert_true(salt < 5000 + 256 * 64); /* ground long enough */
    }
    cishare_sig_cache_clear();
    assert_int_equal(verify_one(&v, 0), CISHARE_OK); /* v's root cached */
    for (k = 0; k < NG; k++)
        assert_int_equal(verify_one(&g[k], 0), CISHARE_OK);
    cishare_sig_stats(&st);
    assert_int_equal(st.ed25519_verifies, 1 + NG);
    /* the path cache holds the last two trees only: this is a root hit */
    assert_int_equal(verify_one(&v, 2), CISHARE_OK);
    cishare_sig_stats(&st);
    assert_int_equal(st.ed25519_verifies, 1 + NG);
    batch_free(&v);
    for (k = 0; k < NG; k++)
        batch_free(&g[k]);
}

/* Two threads verify the same batch at once (each its own cache), with a
 * tampered message mixed in. */
typedef struct thr_s {
    batch_t *b;
    cishare_envelope_t *bad;
    int wrong;
    cishare_sig_stats_t st;
} thr_t;

static void *thr_main(void *arg)
{
    thr_t *t = arg;
    size_t r, i;

    for (r = 0; r < 20; r++) {
        for (i = 0; i < t->b->n; i++) {
            if (verify_one(t->b, i) != CISHARE_OK)
                t->wrong++;
            if (i == 17 && verify_as(t->b, 17, t->bad) == CISHARE_OK)
                t->wrong++;
        }
    }
    cishare_sig_stats(&t->st);
    return NULL;
}

static void test_threads(void **state)
{
    batch_t b;
    cishare_envelope_t bad;
    pthread_t th[2];
    thr_t t[2];
    int k;

    (void)state;
    batch_make(&b, 100, 8);
    assert_int_equal(batch_sign(&b, NULL), CISHARE_OK);
    bad = *b.envs[17];
    bad.sig[10] ^= 1;
    for (k = 0; k < 2; k++) {
        t[k] = (thr_t){.b = &b, .bad = &bad};
        assert_int_equal(pthread_create(&th[k], NULL, thr_main, &t[k]), 0);
    }
    for (k = 0; k < 2; k++) {
        pthread_join(th[k], NULL);
        assert_int_equal(t[k].wrong, 0);
        /* per thread: the genuine root once, the bad one every round */
        assert_int_equal(t[k].st.ed25519_verifies, 1 + 20);
        assert_int_equal(t[k].st.cache_hits, 20 * 100 - 1);
    }
    batch_free(&b);
}

/* Scheme ed25519 through the batch entry point signs each alone. */
static void test_batch_plain_ed25519(void **state)
{
    batch_t b;
    size_t i;

    (void)state;
    batch_make(&b, 5, 9);
    assert_int_equal(batch_sign(&b, CISHARE_SIG_ED25519), CISHARE_OK);
    for (i = 0; i < b.n; i++) {
        assert_string_equal(b.envs[i]->alg, CISHARE_SIG_ED25519);
        assert_int_equal(b.envs[i]->sig_len, 64);
        assert_int_equal(verify_one(&b, i), CISHARE_OK);
    }
    /* the scheme is signed: relabelling a merkle message fails */
    assert_int_equal(batch_sign(&b, MERKLE), CISHARE_OK);
    strcpy(b.envs[0]->alg, CISHARE_SIG_ED25519);
    assert_int_equal(verify_one(&b, 0), CISHARE_ERR_BAD_SIGNATURE);
    /* a relay hop (plain ed25519) over a merkle-signed message */
    assert_int_equal(batch_sign(&b, MERKLE), CISHARE_OK);
    assert_int_equal(cishare_envelope_relay_sign(
                         b.envs[1], &kp2, "ceptoar-electricity",
                         CISHARE_TLP_AMBER, "sector:electricity",
                         1795676500000LL, b.subjects[1], b.subject_lens[1],
                         b.values[1], b.value_lens[1], NULL, 0),
                     CISHARE_OK);
    assert_string_equal(b.envs[1]->relay[0].alg, CISHARE_SIG_ED25519);
    assert_int_equal(verify_one(&b, 1), CISHARE_OK);
    assert_int_equal(cishare_envelope_relay_verify(
                         b.envs[1], 0, b.subjects[1], b.subject_lens[1],
                         b.values[1], b.value_lens[1], kp2.ed25519_pk, NULL, 0),
                     CISHARE_OK);
    batch_free(&b);
}

/* ---- golden vectors: a batch of 3 with the key of seed 01..20 ---- */

static void test_golden_vectors(void **state)
{
    static const char *const names[] = {
        CISHARE_H_ID,     CISHARE_H_TYPE,    CISHARE_H_TLP,
        CISHARE_H_ORIGIN, CISHARE_H_SECTOR,  CISHARE_H_AUDIENCE,
        CISHARE_H_SCHEMA, CISHARE_H_CREATED, CISHARE_H_EXPIRES,
        CISHARE_H_KID,    CISHARE_H_ALG,     CISHARE_H_SIG,
    };
    char *text = malloc(65536), *stored = malloc(65536),
         hv[CISHARE_HEADER_VALUE_MAX + 1], hex[2 * CISHARE_SIG_MAX_BYTES + 1];
    size_t tl = 0, i, h, m;
    uint8_t d[32];
    batch_t b;

    (void)state;
    assert_non_null(stored);
    /* the envelope, subject and value of the single-message vectors, with
     * id ...70867728950N and the value's last byte xor N, N = 0, 1, 2 */
    batch_make(&b, 3, 0);
    for (i = 0; i < 3; i++) {
        snprintf(b.envs[i]->id, sizeof(b.envs[i]->id),
                 "0f8fad5b-d9cb-469f-a165-70867728950%zu", i);
        strcpy(b.subjects[i], SUBJECT);
        b.subject_lens[i] = strlen(b.subjects[i]);
        value_for(b.values[i], 0, 0);
        b.values[i][63] ^= (uint8_t)i;
    }
    assert_int_equal(batch_sign(&b, MERKLE), CISHARE_OK);
    check_against_reference(&b);
    {
        uint8_t dd[3][32], root[32];
        for (i = 0; i < 3; i++)
            cishare_envelope_digest(b.envs[i], b.subjects[i], b.subject_lens[i],
                                    b.values[i], b.value_lens[i], dd[i]);
        ref_mth((const uint8_t(*)[32])dd, 0, 3, root);
        sodium_bin2hex(hex, sizeof(hex), root, 32);
        tl += (size_t)snprintf(text + tl, 65536 - tl,
                               "batch of 3, key of seed 01 02 .. 20\n"
                               "root: %s\nroot signature: ",
                               hex);
        sodium_bin2hex(hex, sizeof(hex), b.envs[0]->sig, 64);
        tl += (size_t)snprintf(text + tl, 65536 - tl, "%s\n", hex);
    }
    for (i = 0; i < 3; i++) {
        cishare_envelope_digest(b.envs[i], b.subjects[i], b.subject_lens[i],
                                b.values[i], b.value_lens[i], d);
        sodium_bin2hex(hex, sizeof(hex), d, 32);
        tl += (size_t)snprintf(text + tl, 65536 - tl,
                               "message %zu\ndigest: %s\n", i, hex);
        sodium_bin2hex(hex, sizeof(hex), b.envs[i]->sig, b.envs[i]->sig_len);
        tl += (size_t)snprintf(text + tl, 65536 - tl, "sig bytes: %s\n", hex);
        for (h = 0; h < sizeof(names) / sizeof(names[0]); h++) {
            cishare_envelope_header_text(b.envs[i], names[h], 0, hv,
                                         sizeof(hv));
            tl += (size_t)snprintf(text + tl, 65536 - tl, "%s: %s\n", names[h],
                                   hv);
        }
    }
    if (getenv("CISHARE_REGEN_VECTORS"))
        write_vec("merkle3.txt", text, tl);
    m = read_vec("merkle3.txt", stored, 65536);
    assert_int_equal(m, tl);
    assert_memory_equal(stored, text, tl);
    for (i = 0; i < 3; i++)
        assert_int_equal(verify_one(&b, i), CISHARE_OK);
    batch_free(&b);
    free(text);
    free(stored);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_sizes),
        cmocka_unit_test(test_tree_shapes),
        cmocka_unit_test(test_tamper_sig_bytes),
        cmocka_unit_test(test_tamper_headers_value),
        cmocka_unit_test(test_wrong_proofs),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_cache_is_exact),
        cmocka_unit_test(test_path_cache),
        cmocka_unit_test(test_cache_eviction),
        cmocka_unit_test(test_cache_grinding),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_batch_plain_ed25519),
        cmocka_unit_test(test_golden_vectors),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
