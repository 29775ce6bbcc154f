/*
 * cishare - participant key pairs.
 *
 * Every participant holds an Ed25519 key (signing) and an X25519 key
 * (receiving encrypted payloads). The secret key file is text, mode 0600:
 *
 *   # cishare secret key file: keep private
 *   ed25519-secret: <base64 of the 64-byte libsodium Ed25519 secret key>
 *   x25519-secret: <base64 of the 32-byte X25519 secret key>
 *
 * Lines starting with '#' are comments. Public keys are written as standard
 * base64 (with padding) wherever they appear (directory, root.pub).
 * The key id of an Ed25519 public key is the first 8 bytes of
 * BLAKE2b-256(pk), as 16 lowercase hex characters.
 */
#ifndef CISHARE_KEYS_H
#define CISHARE_KEYS_H

#include "cishare/err.h"

#include <sodium.h>
#include <stdint.h>

#define CISHARE_ED25519_PK_BYTES crypto_sign_PUBLICKEYBYTES /* 32 */
#define CISHARE_ED25519_SK_BYTES crypto_sign_SECRETKEYBYTES /* 64 */
#define CISHARE_X25519_PK_BYTES  crypto_box_PUBLICKEYBYTES  /* 32 */
#define CISHARE_X25519_SK_BYTES  crypto_box_SECRETKEYBYTES  /* 32 */
#define CISHARE_KEY_ID_LEN       16 /* hex chars, without NUL */
/* Base64 text of a 32-byte key, with NUL. */
#define CISHARE_PK_B64_SIZE                                                    \
    sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)

typedef struct cishare_keypair_s {
    uint8_t ed25519_pk[CISHARE_ED25519_PK_BYTES];
    uint8_t ed25519_sk[CISHARE_ED25519_SK_BYTES];
    uint8_t x25519_pk[CISHARE_X25519_PK_BYTES];
    uint8_t x25519_sk[CISHARE_X25519_SK_BYTES];
    char key_id[CISHARE_KEY_ID_LEN + 1]; /**< of ed25519_pk */
} cishare_keypair_t;

/** sodium_init() once; safe to call many times. */
cishare_err_t cishare_crypto_init(void);

/** Fresh random key pairs. */
cishare_err_t cishare_keypair_generate(cishare_keypair_t *kp);

/**
 * Write kp's secrets to a new file `path` with mode 0600. Refuses
 * (CISHARE_ERR_EXISTS) to overwrite an existing file. `comment` (may be
 * NULL) is written as extra '#' lines at the top.
 */
cishare_err_t cishare_keypair_save(const cishare_keypair_t *kp,
                                   const char *path, const char *comment,
                                   char *errstr, size_t errstr_size);

/** Load a secret key file; public keys are derived from the secrets. */
cishare_err_t cishare_keypair_load(cishare_keypair_t *kp, const char *path,
                                   char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/** Wipe the secrets (sodium_memzero). */
void cishare_keypair_wipe(cishare_keypair_t *kp);

/** key id (16 hex + NUL) of an Ed25519 public key. */
void cishare_key_id(const uint8_t pk[CISHARE_ED25519_PK_BYTES],
                    char out[CISHARE_KEY_ID_LEN + 1]);

/** Encode a 32-byte public key as base64 into out (CISHARE_PK_B64_SIZE). */
void cishare_pk_to_base64(const uint8_t pk[32], char *out, size_t out_size);

/**
 * Decode base64 text into exactly `len` bytes. Returns
 * CISHARE_ERR_VALIDATION if the text is not base64 or decodes to another
 * length (the message says how many bytes it had).
 */
cishare_err_t cishare_base64_decode_exact(const char *text, uint8_t *out,
                                          size_t len, char *errstr,
                                          size_t errstr_size);

/** Read a root.pub style file: one base64 Ed25519 public key. */
cishare_err_t cishare_pubkey_load(const char *path,
                                  uint8_t pk[CISHARE_ED25519_PK_BYTES],
                                  char *errstr, size_t errstr_size);

#endif
