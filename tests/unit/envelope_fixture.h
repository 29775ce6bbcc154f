/*
 * The fixed message of the envelope tests (test_envelope.c,
 * test_envelope_v2.c, test_merkle.c): key pairs from fixed seeds (kp of
 * seed 01 02 .. 20, kp2 of seed 101 ..), the subject, value and envelope
 * of the golden vectors (kp, kp2 and value made by the group setup()),
 * and the golden vector files of tests/vectors/envelope/ (under
 * $CISHARE_VECTORS, else tests/vectors). Include after <cmocka.h>; pass
 * setup to cmocka_run_group_tests().
 */
#ifndef TEST_ENVELOPE_FIXTURE_H
#define TEST_ENVELOPE_FIXTURE_H

#include "cishare/envelope.h"
#include "cishare/keys.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static __attribute__((unused)) const char SUBJECT[] =
    "indicator--6ba7b810-9dad-41d1-80b4-00c04fd430c8";
static uint8_t value[64];
static cishare_keypair_t kp, kp2;

/* Fixed keys from fixed seeds: seed i = bytes (i, i+1, ..., i+31). */
static inline void seed_keypair(cishare_keypair_t *k, uint8_t first)
{
    uint8_t seed[32];
    int i;

    memset(k, 0, sizeof(*k));
    for (i = 0; i < 32; i++)
        seed[i] = (uint8_t)(first + i);
    crypto_sign_seed_keypair(k->ed25519_pk, k->ed25519_sk, seed);
    seed[0] ^= 0xff; /* a different seed for the X25519 key */
    crypto_box_seed_keypair(k->x25519_pk, k->x25519_sk, seed);
    cishare_key_id(k->ed25519_pk, k->key_id);
}

/* The envelope of the golden vectors, unsigned. */
static inline void fixed_envelope(cishare_envelope_t *env)
{
    cishare_envelope_init(env);
    strcpy(env->id, "0f8fad5b-d9cb-469f-a165-70867728950e");
    env->type = CISHARE_MSG_INDICATOR;
    env->tlp = CISHARE_TLP_AMBER;
    strcpy(env->origin, "op-power-a");
    strcpy(env->sector, "electricity");
    strcpy(env->audience, "participant:nco,sector:electricity");
    env->schema_fp = 0x1122334455667788ULL;
    env->created_ms = 1795676400123LL; /* 2026-11-26T07:00:00.123Z */
    env->expires_ms = 1798675200000LL; /* 2026-12-31T00:00:00.000Z */
}

static int setup(void **state)
{
    size_t i;

    (void)state;
    assert_int_equal(cishare_crypto_init(), CISHARE_OK);
    seed_keypair(&kp, 1);
    seed_keypair(&kp2, 101);
    value[0] = 0xC3;
    value[1] = 0x01;
    for (i = 0; i < 8; i++) /* fingerprint, little-endian */
        value[2 + i] = (uint8_t)(0x1122334455667788ULL >> (8 * i));
    for (i = 10; i < sizeof(value); i++)
        value[i] = (uint8_t)(i * 7);
    return 0;
}

/* env relayed once by ceptoar-electricity (kp2), over SUBJECT and value. */
static inline void relay_fixed(cishare_envelope_t *env)
{
    char err[256] = "";

    assert_int_equal(cishare_envelope_relay_sign(
                         env, &kp2, "ceptoar-electricity", CISHARE_TLP_AMBER,
                         "role:operator,sector:electricity", 1795676500000LL,
                         SUBJECT, strlen(SUBJECT), value, sizeof(value), err,
                         sizeof(err)),
                     CISHARE_OK);
}

/* The path of vector file `name` (a static buffer). */
static inline char *vec_path(const char *name)
{
    static char path[1024];
    const char *dir = getenv("CISHARE_VECTORS");

    snprintf(path, sizeof(path), "%s/envelope/%s", dir ? dir : "tests/vectors",
             name);
    return path;
}

/* At most size - 1 bytes of vector file `name` into buf, NUL-terminated
 * (so a text vector reads as a string); the number of bytes read. Fails
 * the test when the file is missing. */
static inline size_t read_vec(const char *name, void *buf, size_t size)
{
    FILE *fp = fopen(vec_path(name), "rb");
    size_t n;

    if (!fp)
        fail_msg("missing vector file %s", vec_path(name));
    n = fread(buf, 1, size - 1, fp);
    ((char *)buf)[n] = '\0';
    fclose(fp);
    return n;
}

/* Vector file `name` := the len bytes at buf (CISHARE_REGEN_VECTORS). */
static inline void write_vec(const char *name, const void *buf, size_t len)
{
    FILE *fp = fopen(vec_path(name), "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    fclose(fp);
}

#endif
