/*
 * The recipients of the seal tests: NREC fresh key pairs (rec, and their
 * X25519 public keys in pks) and one outsider, made by the group setup().
 * Define NREC, then include after <cmocka.h>.
 */
#ifndef TEST_SEAL_FIXTURE_H
#define TEST_SEAL_FIXTURE_H

#include "cishare/keys.h"
#include "cishare/seal.h"

#include <string.h>

static cishare_keypair_t rec[NREC], outsider;
static uint8_t pks[NREC][32];

static int setup(void **state)
{
    int i;

    (void)state;
    assert_int_equal(cishare_crypto_init(), CISHARE_OK);
    for (i = 0; i < NREC; i++) {
        assert_int_equal(cishare_keypair_generate(&rec[i]), CISHARE_OK);
        memcpy(pks[i], rec[i].x25519_pk, 32);
    }
    assert_int_equal(cishare_keypair_generate(&outsider), CISHARE_OK);
    return 0;
}

#endif
