/*
 * libFuzzer target: the participant directory (YAML through libyaml, its
 * validation, and the "# cishare-signature:" lines), as a feed or
 * provision reads a directory it was handed.
 *
 * One input is one directory file. It goes through:
 *   1. cishare_directory_verify_buf() against a fixed root key: the
 *      signature lines, parsed before any YAML;
 *   2. cishare_directory_load_buf() without a key: the content;
 *   3. signed with that root key (cishare_directory_sign_buf(), which
 *      strips trailing signature lines) and loaded with the key: the
 *      parser behind a valid signature, where an attacker cannot reach
 *      unless they hold the root key, but an operator's typo can.
 * Properties: no crash, leak or UB; errors carry a message; a directory
 * that loads answers its accessors for every participant.
 */
#include "cishare/directory.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cishare_keypair_t root;

static void walk(const cishare_directory_t *dir)
{
    size_t i, n = cishare_directory_participant_cnt(dir);
    char errstr[256];

    for (i = 0; i < n; i++) {
        const cishare_participant_t *p = cishare_directory_participant(dir, i);
        if (!p || cishare_directory_find(dir, p->id) != p ||
            !cishare_directory_find_key(dir, p->key_id))
            abort();
    }
    for (i = 0; i < cishare_directory_sector_cnt(dir); i++)
        if (!cishare_directory_sector(dir, i))
            abort();
    (void)cishare_directory_check_expiry(dir, "fuzz", 0, errstr,
                                         sizeof(errstr));
}

static void load(const char *buf, size_t len, const uint8_t *pk)
{
    cishare_directory_t *dir = NULL;
    char errstr[2048];

    errstr[0] = '\0';
    if (cishare_directory_load_buf("fuzz.yaml", buf, len, pk, &dir, errstr,
                                   sizeof(errstr)) == CISHARE_OK) {
        walk(dir);
        cishare_directory_destroy(dir);
    } else if (dir || !errstr[0]) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    const char *buf = (const char *)data;
    char errstr[512], *signed_buf = NULL;
    size_t signed_len = 0;

    if (!init) {
        /* a fixed root key: signatures (ed25519) are deterministic */
        uint8_t seed[crypto_sign_SEEDBYTES];
        cishare_crypto_init();
        memset(seed, 0x5a, sizeof(seed));
        crypto_sign_seed_keypair(root.ed25519_pk, root.ed25519_sk, seed);
        cishare_key_id(root.ed25519_pk, root.key_id);
        init = 1;
    }
    (void)cishare_directory_verify_buf("fuzz.yaml", buf, size, root.ed25519_pk,
                                       errstr, sizeof(errstr));
    load(buf, size, NULL);
    if (cishare_directory_sign_buf(buf, size, &root, &signed_buf, &signed_len,
                                   errstr, sizeof(errstr)) == CISHARE_OK) {
        if (cishare_directory_verify_buf("fuzz.yaml", signed_buf, signed_len,
                                         root.ed25519_pk, errstr,
                                         sizeof(errstr)) != CISHARE_OK)
            abort(); /* what we just signed must verify */
        load(signed_buf, signed_len, root.ed25519_pk);
        free(signed_buf);
    }
    return 0;
}
