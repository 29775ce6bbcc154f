/*
 * cishare - end-to-end encryption of payloads (TLP:RED, TLP:AMBER+STRICT).
 *
 * A 32-byte content key encrypts the payload with XChaCha20-Poly1305
 * (IETF); the content key is wrapped for every recipient's X25519 public
 * key with a sealed box (crypto_box_seal). Two layouts (all integers
 * big-endian; contract, schemas/README.md "Encryption format"):
 *
 * Version 1 (read; written only with cishare.seal.version=1): a fresh
 * content key per value.
 *
 *   +---------+-----------+---------+---------------------------------+
 *   | 0x01    | nonce     | count n | n entries, each 88 bytes:       |
 *   | version | 24 bytes  | 2 bytes | rkid (8) + sealed box (80)      |
 *   +---------+-----------+---------+---------------------------------+
 *   | AEAD ciphertext: len(plaintext) + 16-byte Poly1305 tag          |
 *   +-----------------------------------------------------------------+
 *
 * Version 2 (written by default): the content key belongs to an epoch of
 * a publisher (cishare_sealer_t): wrapped once per recipient when the
 * epoch starts, the same entries then head every value of the epoch.
 *
 *   +---------+----------+----------+---------+----------------------+
 *   | 0x02    | epoch id | nonce    | count n | n entries, 88 bytes  |
 *   | version | 16 bytes | 24 bytes | 2 bytes | each, as in v1       |
 *   +---------+----------+----------+---------+----------------------+
 *   | AEAD ciphertext: len(plaintext) + 16-byte Poly1305 tag          |
 *   +-----------------------------------------------------------------+
 *
 * Epoch rules (v2): an epoch is (content key, random epoch id, recipient
 * set); it ends after cishare.seal.epoch-messages values or
 * cishare.seal.epoch-seconds, and a different recipient set is a different
 * epoch, so a recipient that joins later holds no entry of an earlier
 * epoch and one that leaves none of a later one. The nonce is random per
 * value (192 bits: no collision worry within an epoch). Every value
 * carries its epoch's entries: it decrypts alone, in any order, from any
 * offset. A reader's cishare_unsealer_t remembers opened boxes so that it
 * opens one sealed box per epoch, not per value.
 *
 * rkid = first 8 bytes of BLAKE2b-256(recipient X25519 public key): lets a
 * reader find its entry without trying all. The rkids of a value are
 * unique: a value that repeats one is malformed (CISHARE_ERR_PARSE), so a
 * reader opens at most one sealed box per value. The AEAD additional data is
 * "cishare/seal/v1" (v2: "cishare/seal/v2") || every byte before the
 * ciphertext || caller's ad (the message module passes
 * cishare_envelope_seal_ad()), so ciphertexts cannot be spliced between
 * messages nor entries swapped, nor an epoch id or nonce altered.
 *
 * Threading: the functions are reentrant, a sealer and an unsealer are
 * thread-safe (internally locked); call cishare_crypto_init() first.
 */
#ifndef CISHARE_SEAL_H
#define CISHARE_SEAL_H

#include "cishare/err.h"
#include "cishare/keys.h"

#include <stddef.h>
#include <stdint.h>

#define CISHARE_SEAL_VERSION        1 /* layout v1 */
#define CISHARE_SEAL_VERSION_2      2 /* layout v2 (epochs) */
#define CISHARE_SEAL_MAX_RECIPIENTS 1024
#define CISHARE_SEAL_RKID_BYTES     8
#define CISHARE_SEAL_NONCE_BYTES    24
#define CISHARE_SEAL_KEY_BYTES      32
#define CISHARE_SEAL_TAG_BYTES      16
/** sealed box of the content key: 48 overhead + 32 key */
#define CISHARE_SEAL_BOX_BYTES (48 + CISHARE_SEAL_KEY_BYTES)
#define CISHARE_SEAL_ENTRY_BYTES                                               \
    (CISHARE_SEAL_RKID_BYTES + CISHARE_SEAL_BOX_BYTES)                 /* 88 */
#define CISHARE_SEAL_HEADER_BYTES   (1 + CISHARE_SEAL_NONCE_BYTES + 2) /* 27 */
#define CISHARE_SEAL_EPOCH_ID_BYTES 16
#define CISHARE_SEAL_V2_HEADER_BYTES                                           \
    (1 + CISHARE_SEAL_EPOCH_ID_BYTES + CISHARE_SEAL_NONCE_BYTES + 2) /* 43 */
/** Defaults of cishare.seal.epoch-messages / cishare.seal.epoch-seconds */
#define CISHARE_SEAL_EPOCH_MESSAGES 10000
#define CISHARE_SEAL_EPOCH_SECONDS  3600
/** Default capacity of an unsealer (epochs remembered) */
#define CISHARE_UNSEALER_EPOCHS 4096
/** Largest plaintext accepted (also bounds untrusted ciphertexts). */
#define CISHARE_SEAL_MAX_PLAINTEXT (1024u * 1024u)

/** Recipient key id of an X25519 public key (8 bytes). */
void cishare_seal_rkid(const uint8_t pk[CISHARE_X25519_PK_BYTES],
                       uint8_t rkid[CISHARE_SEAL_RKID_BYTES]);

/**
 * Encrypt pt as a version 1 value (a fresh content key, wrapped for every
 * recipient: one X25519 operation per recipient). Encrypt pt (len <=
 * CISHARE_SEAL_MAX_PLAINTEXT) to n (1..1024) recipient X25519 public keys
 * (duplicates are written once; CISHARE_ERR_CRYPTO if two distinct keys share a
 * key id). *ctp receives a malloc()ed buffer the caller frees, *ctlenp its
 * length. The content key is wiped before returning.
 */
cishare_err_t cishare_seal_encrypt(const uint8_t *pt, size_t len,
                                   const uint8_t (*recipient_pks)[32], size_t n,
                                   const uint8_t *ad, size_t adlen,
                                   uint8_t **ctp, size_t *ctlenp, char *errstr,
                                   size_t errstr_size);

/**
 * Decrypt a version 1 or 2 value ct (untrusted; only read) with the
 * reader's X25519 key pair. CISHARE_ERR_PARSE / _TRUNCATED / _TOO_LARGE
 * for a malformed layout (_PARSE also for a recipient key id listed twice:
 * "duplicate recipient key ids"), CISHARE_ERR_NOT_RECIPIENT when no entry
 * carries kp's key id or that one entry does not open with kp (no other entry
 * is tried), CISHARE_ERR_DECRYPT when the ciphertext, the layout or ad was
 * altered. On success *ptp is a malloc()ed plaintext the caller frees (wipe it
 * with sodium_memzero when done if sensitive) and *ptlenp its length; on
 * failure *ptp is NULL and nothing decrypted is left in memory.
 */
cishare_err_t
cishare_seal_decrypt(const uint8_t *ct, size_t len, const cishare_keypair_t *kp,
                     const uint8_t *ad, size_t adlen, uint8_t **ptp,
                     size_t *ptlenp, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * Recipient count of a sealed value (v1 or v2) (layout check only, duplicate
 * key ids included), or -1 when malformed. For inspect.
 */
long cishare_seal_recipient_cnt(const uint8_t *ct, size_t len);

/**
 * Layout version (1 or 2) of a sealed value, or -1 when malformed; for a
 * v2 value epoch_id (if non-NULL) receives its epoch id. For inspect.
 */
int cishare_seal_version(const uint8_t *ct, size_t len,
                         uint8_t epoch_id[CISHARE_SEAL_EPOCH_ID_BYTES]);

/* ---- publisher side: epochs ---- */

/** A publisher's epochs, one current epoch per recipient set (opaque). */
typedef struct cishare_sealer_s cishare_sealer_t;

/**
 * New sealer: an epoch ends after epoch_messages values (>= 1) or when
 * epoch_ms (>= 1) have passed since it started. version 2 writes v2
 * values; version 1 writes v1 values (a fresh key per value, epochs
 * unused: for readers that predate v2). Free with cishare_sealer_destroy().
 */
cishare_err_t cishare_sealer_new(int version, uint64_t epoch_messages,
                                 int64_t epoch_ms, cishare_sealer_t **sp,
                                 char *errstr, size_t errstr_size);

/** Wipe every content key and free. NULL is a no-op. */
void cishare_sealer_destroy(cishare_sealer_t *s);

/** Layout version the sealer writes (1 or 2); NULL: 2. */
int cishare_sealer_version(const cishare_sealer_t *s);

/**
 * Whether a message built with this v2 sealer is sealed per topic
 * (message.h cishare_msg_topic_t; cishare.seal.per-topic). Default on;
 * NULL: off. Set before the sealer is shared between threads.
 */
void cishare_sealer_set_per_topic(cishare_sealer_t *s, int on);
int cishare_sealer_per_topic(const cishare_sealer_t *s);

/**
 * cishare_seal_encrypt() in the sealer's version: for v2 under the
 * current epoch of the recipient set (the set of distinct keys, in any
 * order), which starts a new epoch when it has none, when it is full
 * (epoch_messages) or old (epoch_ms at now_ms; a clock that went back
 * also ends it). s NULL: a v2 value of its own one-value epoch. Errors as
 * cishare_seal_encrypt().
 */
cishare_err_t cishare_sealer_encrypt(cishare_sealer_t *s, int64_t now_ms,
                                     const uint8_t *pt, size_t len,
                                     const uint8_t (*recipient_pks)[32],
                                     size_t n, const uint8_t *ad, size_t adlen,
                                     uint8_t **ctp, size_t *ctlenp,
                                     char *errstr, size_t errstr_size);

/**
 * Test vectors only: a v2 value under the given content key, epoch id
 * and nonce (the sealed boxes stay random: libsodium draws their
 * ephemeral keys). Never for real traffic: a reused nonce breaks the AEAD.
 */
cishare_err_t cishare_seal_encrypt_v2_fixed(
    const uint8_t key[CISHARE_SEAL_KEY_BYTES],
    const uint8_t epoch_id[CISHARE_SEAL_EPOCH_ID_BYTES],
    const uint8_t nonce[CISHARE_SEAL_NONCE_BYTES], const uint8_t *pt,
    size_t len, const uint8_t (*recipient_pks)[32], size_t n, const uint8_t *ad,
    size_t adlen, uint8_t **ctp, size_t *ctlenp, char *errstr,
    size_t errstr_size);

/* ---- reader side: opened epochs ---- */

/**
 * A reader's memory of opened epochs (opaque): (epoch id, the reader's
 * X25519 public key, its 80-byte sealed box) -> content key, least
 * recently used evicted, keys wiped on eviction and destroy. A value hits
 * only when all three are byte-identical to an opened one (opening the
 * same box with the same key gives the same content key), so a forged
 * value that reuses an epoch id with another box is opened as if new.
 */
typedef struct cishare_unsealer_s cishare_unsealer_t;

/** New unsealer remembering up to capacity (>= 1) epochs. */
cishare_err_t cishare_unsealer_new(size_t capacity, cishare_unsealer_t **up);

/** Wipe and free. NULL is a no-op. */
void cishare_unsealer_destroy(cishare_unsealer_t *u);

/** Boxes found remembered (hits) and opened (opens) so far. */
void cishare_unsealer_stats(const cishare_unsealer_t *u, uint64_t *hits,
                            uint64_t *opens);

/**
 * cishare_seal_decrypt() (same errors and results) through u: a v2 value
 * of a remembered epoch opens no sealed box. u NULL: no memory.
 */
cishare_err_t cishare_unsealer_decrypt(cishare_unsealer_t *u, const uint8_t *ct,
                                       size_t len, const cishare_keypair_t *kp,
                                       const uint8_t *ad, size_t adlen,
                                       uint8_t **ptp, size_t *ptlenp,
                                       char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

#endif
