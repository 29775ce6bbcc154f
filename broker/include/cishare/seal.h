/*
 * cishare - end-to-end encryption of payloads (TLP:RED, TLP:AMBER+STRICT).
 *
 * A random 32-byte content key encrypts the payload once with
 * XChaCha20-Poly1305 (IETF); the content key is wrapped for every
 * recipient's X25519 public key with a sealed box (crypto_box_seal).
 * Layout (all integers big-endian; contract, schemas/README.md):
 *
 *   +---------+-----------+---------+---------------------------------+
 *   | 0x01    | nonce     | count n | n entries, each 88 bytes:       |
 *   | version | 24 bytes  | 2 bytes | rkid (8) + sealed box (80)      |
 *   +---------+-----------+---------+---------------------------------+
 *   | AEAD ciphertext: len(plaintext) + 16-byte Poly1305 tag          |
 *   +-----------------------------------------------------------------+
 *
 * rkid = first 8 bytes of BLAKE2b-256(recipient X25519 public key): lets a
 * reader find its entry without trying all. The rkids of a value are
 * unique: a value that repeats one is malformed (CISHARE_ERR_PARSE), so a
 * reader opens at most one sealed box per value. The AEAD additional data is
 * "cishare/seal/v1" || every byte before the ciphertext || caller's ad
 * (the message module passes cishare_envelope_seal_ad()), so ciphertexts
 * cannot be spliced between messages nor entries swapped.
 *
 * Threading: reentrant; call cishare_crypto_init() first.
 */
#ifndef CISHARE_SEAL_H
#define CISHARE_SEAL_H

#include "cishare/err.h"
#include "cishare/keys.h"

#include <stddef.h>
#include <stdint.h>

#define CISHARE_SEAL_VERSION        1
#define CISHARE_SEAL_MAX_RECIPIENTS 1024
#define CISHARE_SEAL_RKID_BYTES     8
#define CISHARE_SEAL_NONCE_BYTES    24
#define CISHARE_SEAL_KEY_BYTES      32
#define CISHARE_SEAL_TAG_BYTES      16
/** sealed box of the content key: 48 overhead + 32 key */
#define CISHARE_SEAL_BOX_BYTES (48 + CISHARE_SEAL_KEY_BYTES)
#define CISHARE_SEAL_ENTRY_BYTES                                               \
    (CISHARE_SEAL_RKID_BYTES + CISHARE_SEAL_BOX_BYTES)               /* 88 */
#define CISHARE_SEAL_HEADER_BYTES (1 + CISHARE_SEAL_NONCE_BYTES + 2) /* 27 */
/** Largest plaintext accepted (also bounds untrusted ciphertexts). */
#define CISHARE_SEAL_MAX_PLAINTEXT (1024u * 1024u)

/** Recipient key id of an X25519 public key (8 bytes). */
void cishare_seal_rkid(const uint8_t pk[CISHARE_X25519_PK_BYTES],
                       uint8_t rkid[CISHARE_SEAL_RKID_BYTES]);

/**
 * Encrypt pt (len <= CISHARE_SEAL_MAX_PLAINTEXT) to n (1..1024) recipient
 * X25519 public keys (duplicates are written once; CISHARE_ERR_CRYPTO if
 * two distinct keys share a key id). *ctp receives a
 * malloc()ed buffer the caller frees, *ctlenp its length. The content key
 * is wiped before returning.
 */
cishare_err_t cishare_seal_encrypt(const uint8_t *pt, size_t len,
                                   const uint8_t (*recipient_pks)[32], size_t n,
                                   const uint8_t *ad, size_t adlen,
                                   uint8_t **ctp, size_t *ctlenp, char *errstr,
                                   size_t errstr_size);

/**
 * Decrypt ct (untrusted; only read) with the reader's X25519 key pair.
 * CISHARE_ERR_PARSE / _TRUNCATED / _TOO_LARGE for a malformed layout
 * (_PARSE also for a recipient key id listed twice: "duplicate recipient
 * key ids"), CISHARE_ERR_NOT_RECIPIENT when no entry carries kp's key id
 * or that one entry does not open with kp (no other entry is tried),
 * CISHARE_ERR_DECRYPT when the ciphertext, the layout or ad was altered.
 * On success *ptp is a malloc()ed plaintext the caller frees (wipe it with
 * sodium_memzero when done if sensitive) and *ptlenp its length; on
 * failure *ptp is NULL and nothing decrypted is left in memory.
 */
cishare_err_t
cishare_seal_decrypt(const uint8_t *ct, size_t len, const cishare_keypair_t *kp,
                     const uint8_t *ad, size_t adlen, uint8_t **ptp,
                     size_t *ptlenp, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * Recipient count of a sealed value (layout check only, duplicate key ids
 * included), or -1 when malformed. For inspect.
 */
long cishare_seal_recipient_cnt(const uint8_t *ct, size_t len);

#endif
