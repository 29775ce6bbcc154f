/* End-to-end encryption: recipients, outsiders, tampering, splicing. */
#include "cishare/keys.h"
#include "cishare/seal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define NREC 5
#include "seal_fixture.h"

static const uint8_t pt[] = "TLP:RED incident details: 198.51.100.7 beacon";
static const uint8_t ad[] = "message-id-1|op-power-a|incident|red";
static const uint8_t ad2[] = "message-id-2|op-power-a|incident|red";

static void seal(uint8_t **ct, size_t *len)
{
    char err[256] = "";

    assert_int_equal(cishare_seal_encrypt(pt, sizeof(pt), pks, NREC, ad,
                                          sizeof(ad), ct, len, err,
                                          sizeof(err)),
                     CISHARE_OK);
}

static void test_each_recipient(void **state)
{
    uint8_t *ct, *out;
    size_t len, olen;
    char err[256];
    int i;

    (void)state;
    seal(&ct, &len);
    assert_int_equal(len, CISHARE_SEAL_HEADER_BYTES +
                              NREC * CISHARE_SEAL_ENTRY_BYTES + sizeof(pt) +
                              CISHARE_SEAL_TAG_BYTES);
    assert_int_equal(cishare_seal_recipient_cnt(ct, len), NREC);
    /* the plaintext does not appear in the ciphertext */
    assert_null(memmem(ct, len, "198.51.100.7", 12));
    for (i = 0; i < NREC; i++) {
        assert_int_equal(cishare_seal_decrypt(ct, len, &rec[i], ad, sizeof(ad),
                                              &out, &olen, err, sizeof(err)),
                         CISHARE_OK);
        assert_int_equal(olen, sizeof(pt));
        assert_memory_equal(out, pt, olen);
        free(out);
    }
    free(ct);
}

static void test_outsider(void **state)
{
    uint8_t *ct, *out = (uint8_t *)1;
    size_t len, olen = 99;
    char err[256] = "";
    cishare_keypair_t mixed;

    (void)state;
    seal(&ct, &len);
    assert_int_equal(cishare_seal_decrypt(ct, len, &outsider, ad, sizeof(ad),
                                          &out, &olen, err, sizeof(err)),
                     CISHARE_ERR_NOT_RECIPIENT);
    assert_null(out);
    assert_int_equal(olen, 0);
    assert_non_null(strstr(err, "not addressed"));
    /* a recipient's public key with someone else's secret: rkid matches,
     * the box does not open */
    mixed = outsider;
    memcpy(mixed.x25519_pk, rec[0].x25519_pk, 32);
    assert_int_equal(cishare_seal_decrypt(ct, len, &mixed, ad, sizeof(ad), &out,
                                          &olen, NULL, 0),
                     CISHARE_ERR_NOT_RECIPIENT);
    free(ct);
}

/* Every byte of the output, flipped, is detected. */
static void test_flip_every_byte(void **state)
{
    uint8_t *ct, *out;
    size_t len, olen, i;
    cishare_err_t e;

    (void)state;
    seal(&ct, &len);
    for (i = 0; i < len; i++) {
        ct[i] ^= 0x01;
        e = cishare_seal_decrypt(ct, len, &rec[2], ad, sizeof(ad), &out, &olen,
                                 NULL, 0);
        ct[i] ^= 0x01;
        if (e == CISHARE_OK)
            fail_msg("byte %zu flipped still decrypts", i);
        if (i >= CISHARE_SEAL_HEADER_BYTES && e != CISHARE_ERR_DECRYPT &&
            e != CISHARE_ERR_NOT_RECIPIENT)
            fail_msg("byte %zu: unexpected error %d", i, e);
        if (i >= CISHARE_SEAL_HEADER_BYTES + NREC * CISHARE_SEAL_ENTRY_BYTES &&
            e != CISHARE_ERR_DECRYPT)
            fail_msg("ciphertext byte %zu: error %d, not DECRYPT", i, e);
        assert_null(out);
    }
    free(ct);
}

static void test_splice_and_truncate(void **state)
{
    uint8_t *ct, *ct2, *out, *mix;
    size_t len, len2, olen, head;

    (void)state;
    seal(&ct, &len);
    /* another message's AD */
    assert_int_equal(cishare_seal_decrypt(ct, len, &rec[0], ad2, sizeof(ad2),
                                          &out, &olen, NULL, 0),
                     CISHARE_ERR_DECRYPT);
    assert_int_equal(
        cishare_seal_decrypt(ct, len, &rec[0], NULL, 0, &out, &olen, NULL, 0),
        CISHARE_ERR_DECRYPT);
    /* entries of message 1 with the ciphertext of message 2 (same length,
     * same recipients, another content key and nonce) */
    assert_int_equal(cishare_seal_encrypt(pt, sizeof(pt), pks, NREC, ad,
                                          sizeof(ad), &ct2, &len2, NULL, 0),
                     CISHARE_OK);
    head = CISHARE_SEAL_HEADER_BYTES + NREC * CISHARE_SEAL_ENTRY_BYTES;
    mix = malloc(len);
    memcpy(mix, ct, head);
    memcpy(mix + head, ct2 + head, len - head);
    assert_int_equal(cishare_seal_decrypt(mix, len, &rec[0], ad, sizeof(ad),
                                          &out, &olen, NULL, 0),
                     CISHARE_ERR_DECRYPT);
    free(mix);
    /* truncated at every length */
    for (olen = 0; olen < len; olen++) {
        cishare_err_t e = cishare_seal_decrypt(
            ct, olen, &rec[0], ad, sizeof(ad), &out, &len2, NULL, 0);
        if (e == CISHARE_OK)
            fail_msg("truncated to %zu still decrypts", olen);
    }
    /* bad version (2 is the epoch layout, seal.h), zero and oversized
     * counts */
    ct[0] = 3;
    assert_int_equal(cishare_seal_decrypt(ct, len, &rec[0], ad, sizeof(ad),
                                          &out, &olen, NULL, 0),
                     CISHARE_ERR_PARSE);
    ct[0] = 1;
    ct[25] = 0;
    ct[26] = 0;
    assert_int_equal(cishare_seal_decrypt(ct, len, &rec[0], ad, sizeof(ad),
                                          &out, &olen, NULL, 0),
                     CISHARE_ERR_TOO_LARGE);
    ct[25] = 0xff;
    assert_int_equal(cishare_seal_decrypt(ct, len, &rec[0], ad, sizeof(ad),
                                          &out, &olen, NULL, 0),
                     CISHARE_ERR_TOO_LARGE);
    ct[25] = 0x03; /* 1000 recipients: longer than the buffer */
    ct[26] = 0xe8;
    assert_int_equal(cishare_seal_decrypt(ct, len, &rec[0], ad, sizeof(ad),
                                          &out, &olen, NULL, 0),
                     CISHARE_ERR_TRUNCATED);
    free(ct);
    free(ct2);
}

static void test_limits_and_dups(void **state)
{
    uint8_t(*many)[32], *ct, *out;
    size_t len, olen, i;
    uint8_t dup[3][32];

    (void)state;
    assert_int_not_equal(cishare_seal_encrypt(pt, sizeof(pt), pks, 0, ad,
                                              sizeof(ad), &ct, &len, NULL, 0),
                         CISHARE_OK);
    many = calloc(CISHARE_SEAL_MAX_RECIPIENTS + 1, 32);
    for (i = 0; i <= CISHARE_SEAL_MAX_RECIPIENTS; i++)
        memcpy(many[i], pks[i % NREC], 32);
    assert_int_not_equal(cishare_seal_encrypt(pt, sizeof(pt), many,
                                              CISHARE_SEAL_MAX_RECIPIENTS + 1,
                                              ad, sizeof(ad), &ct, &len, NULL,
                                              0),
                         CISHARE_OK);
    free(many);
    /* duplicates are written once */
    memcpy(dup[0], pks[1], 32);
    memcpy(dup[1], pks[3], 32);
    memcpy(dup[2], pks[1], 32);
    assert_int_equal(cishare_seal_encrypt(pt, sizeof(pt), dup, 3, ad,
                                          sizeof(ad), &ct, &len, NULL, 0),
                     CISHARE_OK);
    assert_int_equal(cishare_seal_recipient_cnt(ct, len), 2);
    assert_int_equal(cishare_seal_decrypt(ct, len, &rec[3], ad, sizeof(ad),
                                          &out, &olen, NULL, 0),
                     CISHARE_OK);
    free(out);
    assert_int_equal(cishare_seal_decrypt(ct, len, &rec[0], ad, sizeof(ad),
                                          &out, &olen, NULL, 0),
                     CISHARE_ERR_NOT_RECIPIENT);
    free(ct);
    /* empty plaintext is fine */
    assert_int_equal(
        cishare_seal_encrypt(NULL, 0, pks, 1, NULL, 0, &ct, &len, NULL, 0),
        CISHARE_OK);
    assert_int_equal(
        cishare_seal_decrypt(ct, len, &rec[0], NULL, 0, &out, &olen, NULL, 0),
        CISHARE_OK);
    assert_int_equal(olen, 0);
    free(out);
    free(ct);
}

/* A value whose entries repeat a recipient key id (issue 12, finding 2):
 * key ids are public, so a sender could make every reader try up to 1024
 * sealed boxes. Encryption writes one entry per key, so a repeated id is
 * refused as malformed, before any box is opened, whoever reads.
 * Before the fix: the value with one entry copied gave CISHARE_ERR_DECRYPT
 * (0xc != 0x4 at the first assert), and the 1024-entry value
 * CISHARE_ERR_NOT_RECIPIENT after trying all 1024 boxes. */
static void test_duplicate_rkids(void **state)
{
    uint8_t *ct, *out = (uint8_t *)1, *big, *e;
    size_t len, olen = 99, big_len, tail, i;
    char err[256] = "";
    const size_t n = CISHARE_SEAL_MAX_RECIPIENTS;

    (void)state;
    seal(&ct, &len);
    /* entry 3 carries entry 1's key id (and box): refused for everyone,
     * including the recipient whose id is repeated */
    e = ct + CISHARE_SEAL_HEADER_BYTES;
    memcpy(e + 3 * CISHARE_SEAL_ENTRY_BYTES, e + 1 * CISHARE_SEAL_ENTRY_BYTES,
           CISHARE_SEAL_ENTRY_BYTES);
    for (i = 0; i < NREC; i++) {
        err[0] = '\0';
        assert_int_equal(cishare_seal_decrypt(ct, len, &rec[i], ad, sizeof(ad),
                                              &out, &olen, err, sizeof(err)),
                         CISHARE_ERR_PARSE);
        assert_null(out);
        assert_int_equal(olen, 0);
        assert_non_null(strstr(err, "duplicate recipient"));
    }
    assert_int_equal(cishare_seal_recipient_cnt(ct, len), -1);

    /* the reported attack: 1024 entries, all with rec[0]'s key id and a
     * box that does not open, then the genuine ciphertext */
    tail = len - CISHARE_SEAL_HEADER_BYTES - NREC * CISHARE_SEAL_ENTRY_BYTES;
    big_len = CISHARE_SEAL_HEADER_BYTES + n * CISHARE_SEAL_ENTRY_BYTES + tail;
    big = malloc(big_len);
    assert_non_null(big);
    memcpy(big, ct, CISHARE_SEAL_HEADER_BYTES);
    big[25] = (uint8_t)(n >> 8);
    big[26] = (uint8_t)n;
    for (i = 0; i < n; i++) {
        e = big + CISHARE_SEAL_HEADER_BYTES + i * CISHARE_SEAL_ENTRY_BYTES;
        cishare_seal_rkid(rec[0].x25519_pk, e);
        memset(e + CISHARE_SEAL_RKID_BYTES, (int)(i & 0xff),
               CISHARE_SEAL_BOX_BYTES);
    }
    memcpy(big + CISHARE_SEAL_HEADER_BYTES + n * CISHARE_SEAL_ENTRY_BYTES,
           ct + len - tail, tail);
    err[0] = '\0';
    assert_int_equal(cishare_seal_decrypt(big, big_len, &rec[0], ad, sizeof(ad),
                                          &out, &olen, err, sizeof(err)),
                     CISHARE_ERR_PARSE);
    assert_null(out);
    assert_non_null(strstr(err, "duplicate recipient"));
    assert_int_equal(cishare_seal_recipient_cnt(big, big_len), -1);
    /* the same with distinct key ids is a well-formed value not for us */
    for (i = 0; i < n; i++) {
        e = big + CISHARE_SEAL_HEADER_BYTES + i * CISHARE_SEAL_ENTRY_BYTES;
        e[0] ^= 0x80; /* not rec[0]'s id any more */
        e[1] = (uint8_t)(i >> 8);
        e[2] = (uint8_t)i;
    }
    assert_int_equal(cishare_seal_recipient_cnt(big, big_len), (long)n);
    assert_int_equal(cishare_seal_decrypt(big, big_len, &rec[0], ad, sizeof(ad),
                                          &out, &olen, NULL, 0),
                     CISHARE_ERR_NOT_RECIPIENT);
    free(big);
    free(ct);
}

static void test_timing(void **state)
{
    uint8_t *ct, *out, val[512];
    size_t len, olen;
    struct timespec a, b;
    int i, iters = 500;

    (void)state;
    memset(val, 'x', sizeof(val));
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (i = 0; i < iters; i++) {
        assert_int_equal(cishare_seal_encrypt(val, sizeof(val), pks, 3, ad,
                                              sizeof(ad), &ct, &len, NULL, 0),
                         CISHARE_OK);
        free(ct);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%% seal encrypt (512 B, 3 recipients): %.1f us\n",
           ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 /
               iters);
    assert_int_equal(cishare_seal_encrypt(val, sizeof(val), pks, 3, ad,
                                          sizeof(ad), &ct, &len, NULL, 0),
                     CISHARE_OK);
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (i = 0; i < iters; i++) {
        assert_int_equal(cishare_seal_decrypt(ct, len, &rec[2], ad, sizeof(ad),
                                              &out, &olen, NULL, 0),
                         CISHARE_OK);
        free(out);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%% seal decrypt (512 B, 3 recipients): %.1f us\n",
           ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 /
               iters);
    free(ct);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_recipient),
        cmocka_unit_test(test_outsider),
        cmocka_unit_test(test_flip_every_byte),
        cmocka_unit_test(test_splice_and_truncate),
        cmocka_unit_test(test_limits_and_dups),
        cmocka_unit_test(test_duplicate_rkids),
        cmocka_unit_test(test_timing),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
