/*
 * cishare - the message envelope: Kafka headers that carry everything
 * routing, filtering and verification need, and the signature over them.
 *
 * Header table, canonical signing input and encryption format are the
 * contract documented in schemas/README.md ("Envelope headers",
 * "Canonical signing input"). In short:
 *
 *   cishare.id        text  UUID text, 36 chars (derived from the record:
 *                           cishare_envelope_derive_id)
 *   cishare.type      text  indicator|incident|alert|sighting|revocation
 *   cishare.tlp       text  clear|green|amber|amber+strict|red
 *   cishare.origin    text  participant id
 *   cishare.sector    text  sector code the origin publishes for ("" none)
 *   cishare.audience  text  canonical audience (policy.h), comma-joined
 *   cishare.schema    text  16 hex: schema fingerprint as a number
 *   cishare.created   text  RFC 3339 UTC, "YYYY-MM-DDTHH:MM:SS.sssZ"
 *   cishare.expires   text  same; absent = never expires
 *   cishare.kid       text  16 hex: origin's Ed25519 key id
 *   cishare.alg       text  signature scheme id, "ed25519" or
 *                           "ed25519-merkle" (batch, see below)
 *   cishare.sig       text  standard base64 of the signature bytes
 *   cishare.enc       text  absent = plaintext value;
 * "x25519-xchacha20poly1305" = value is a seal.h envelope cishare.relay text
 * one per relay hop, in order (see below)
 *
 * That is header layout version 1 (still read; written with
 * cishare.envelope.version=1). Version 2, the default, carries the same
 * fields in two headers (schemas/README.md has the byte table):
 *
 *   cishare      text    "<type> <tlp> <origin>": what kcat users read
 *   cishare.env  binary  0x02, 2 length bytes, then COBS (no 0x00 byte:
 *                        kcat stops at one) of: scheme code, flags,
 *                        16-byte id, schema, created, [expires], 8-byte
 *                        kid, sector, audience, then the raw signature
 *                        (no base64)
 *
 * The canonical signing input (and so every signature) is the same in
 * both: the layout is only how the fields travel.
 *
 * Every version 1 value is printable ASCII so that kcat prints headers
 * intact. Parsing from Kafka is untrusted: each value is bounded by the
 * constants below, any cishare.* header other than cishare.relay may
 * appear at most once, an unknown cishare.* header is refused (it would be
 * unsigned), headers of both layouts in one message are refused, headers
 * other than "cishare" and the cishare. prefix are ignored.
 *
 * Signature: the scheme signs D = BLAKE2b-256(canonical input), where the
 * canonical input is a domain-separated, length-prefixed byte string of
 * every header above except cishare.sig and cishare.relay, the Kafka key
 * (subject) and BLAKE2b-256 of the value (cishare_envelope_signing_input).
 * Relay hops sign the previous signature and D plus their own fields, so
 * provenance is a chain that leaves the original signature intact. Relay
 * hops always use plain "ed25519" (one hop, one message).
 *
 * Scheme "ed25519-merkle" (schemas/README.md, "Batch signatures"): one
 * Ed25519 signature over the root of a Merkle tree of the digests D_0..
 * D_{n-1} of a batch (one origin, one key, 1 <= n <= 1024):
 *   leaf_i = H("cishare/merkle/leaf/v1" || D_i)
 *   node   = H("cishare/merkle/node/v1" || left || right)
 *   tree   = RFC 9162 section 2.1.1 shape: split at the largest power of
 *            two below n (no duplicated nodes)
 *   root signature = Ed25519("cishare/merkle/root/v1" || u32 n || root)
 *   cishare.sig = root signature (64) || u32 index || u32 n
 *                 || audit path of leaf `index`, nearest sibling first
 *                 (32 bytes each; its length follows from index and n,
 *                 at most 10 hashes)
 * u32 is big-endian, H is BLAKE2b-256. Each message verifies alone; a
 * per-thread cache of 1024 (public key, n, root, signature) entries that
 * verified (sets chosen by a keyed hash of the signature) lets the next
 * message of the same batch skip Ed25519.
 *
 * Threading: all functions are reentrant; call cishare_crypto_init() once
 * before signing or verifying.
 */
#ifndef CISHARE_ENVELOPE_H
#define CISHARE_ENVELOPE_H

#include "cishare/err.h"
#include "cishare/keys.h"
#include "cishare/types.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Size constants: *_LEN is a length without the NUL. */
#define CISHARE_MSG_ID_LEN        36   /**< UUID v4 text */
#define CISHARE_ENV_NAME_LEN      63   /**< origin, sector, relay id */
#define CISHARE_AUDIENCE_TEXT_LEN 4095 /**< canonical audience text */
#define CISHARE_SIG_ALG_LEN       31   /**< scheme id text */
#define CISHARE_SIG_MAX_BYTES                                                  \
    1024                            /**< signature blob (room for a            \
                                       batch scheme's proof) */
#define CISHARE_ENC_LEN         31  /**< cishare.enc text */
#define CISHARE_TIME_TEXT_LEN   24  /**< YYYY-MM-DDTHH:MM:SS.sssZ */
#define CISHARE_RELAY_MAX       4   /**< relay hops kept */
#define CISHARE_SUBJECT_MAX_LEN 255 /**< Kafka key bound */
#define CISHARE_ENV_MAX_HEADERS 64  /**< headers looked at, in total */
/** Longest header value accepted from Kafka (a relay hop line). */
#define CISHARE_HEADER_VALUE_MAX 6144
/** BLAKE2b-256 digest size used throughout. */
#define CISHARE_DIGEST_BYTES 32
/** Encryption scheme id written in cishare.enc. */
#define CISHARE_ENC_SEAL_V1 "x25519-xchacha20poly1305"
/** Per-message signature scheme (relay hops; cishare_envelope_sign's
 *  default). */
#define CISHARE_SIG_ED25519 "ed25519"
/** Batch scheme: one Ed25519 signature over a Merkle root of digests. */
#define CISHARE_SIG_ED25519_MERKLE "ed25519-merkle"
/** Largest batch of the Merkle scheme, and its deepest audit path. */
#define CISHARE_MERKLE_MAX_LEAVES 1024
#define CISHARE_MERKLE_MAX_DEPTH  10
/** Merkle signature blob: root signature, index, count, path. */
#define CISHARE_MERKLE_SIG_MIN (64 + 4 + 4)
#define CISHARE_MERKLE_SIG_MAX                                                 \
    (CISHARE_MERKLE_SIG_MIN + CISHARE_MERKLE_MAX_DEPTH * CISHARE_DIGEST_BYTES)

/* Header names (contract). */
#define CISHARE_H_ID       "cishare.id"
#define CISHARE_H_TYPE     "cishare.type"
#define CISHARE_H_TLP      "cishare.tlp"
#define CISHARE_H_ORIGIN   "cishare.origin"
#define CISHARE_H_SECTOR   "cishare.sector"
#define CISHARE_H_AUDIENCE "cishare.audience"
#define CISHARE_H_SCHEMA   "cishare.schema"
#define CISHARE_H_CREATED  "cishare.created"
#define CISHARE_H_EXPIRES  "cishare.expires"
#define CISHARE_H_KID      "cishare.kid"
#define CISHARE_H_ALG      "cishare.alg"
#define CISHARE_H_SIG      "cishare.sig"
#define CISHARE_H_ENC      "cishare.enc"
#define CISHARE_H_RELAY    "cishare.relay"
/* Version 2 (compact) layout: two headers instead of the twelve above,
 * plus the same cishare.relay hops (schemas/README.md, "Envelope
 * headers"). */
#define CISHARE_H_LABEL "cishare"     /**< text "<type> <tlp> <origin>" */
#define CISHARE_H_ENV   "cishare.env" /**< binary: every other field */
/** Header layouts: 1 = one text header per field (still read), 2 = the
 *  compact layout, what writers write by default. */
#define CISHARE_ENV_WIRE_V1      1
#define CISHARE_ENV_WIRE_V2      2
#define CISHARE_ENV_WIRE_DEFAULT CISHARE_ENV_WIRE_V2
/** First byte of a cishare.env value. */
#define CISHARE_ENV_V2_TAG 0x02

/**
 * One relay hop. Header cishare.relay, 7 fields separated by one space:
 *   "<by> <tlp> <created> <kid> <alg> <audience> <base64 sig>"
 * tlp/audience are the relayed copy's label and audience (never looser
 * than the original; the policy module checks that).
 */
typedef struct cishare_relay_hop_s {
    char by[CISHARE_ENV_NAME_LEN + 1];
    cishare_tlp_t tlp;
    int64_t created_ms;
    char key_id[CISHARE_KEY_ID_LEN + 1];
    char alg[CISHARE_SIG_ALG_LEN + 1];
    char audience[CISHARE_AUDIENCE_TEXT_LEN + 1];
    uint8_t sig[CISHARE_SIG_MAX_BYTES];
    size_t sig_len;
} cishare_relay_hop_t;

/**
 * The envelope of one message. Plain data with fixed-size fields: copy it
 * by assignment; nothing to free. Strings are NUL-terminated.
 */
typedef struct cishare_envelope_s {
    char id[CISHARE_MSG_ID_LEN + 1];
    cishare_msgtype_t type;
    cishare_tlp_t tlp;
    char origin[CISHARE_ENV_NAME_LEN + 1];
    char sector[CISHARE_ENV_NAME_LEN + 1]; /**< "" when none */
    char audience[CISHARE_AUDIENCE_TEXT_LEN + 1];
    uint64_t schema_fp; /**< Avro fingerprint, as a number */
    int64_t created_ms; /**< ms since the Unix epoch */
    int64_t expires_ms; /**< 0: never expires */
    char key_id[CISHARE_KEY_ID_LEN + 1];
    char alg[CISHARE_SIG_ALG_LEN + 1]; /**< "" before signing */
    uint8_t sig[CISHARE_SIG_MAX_BYTES];
    size_t sig_len;                /**< 0: unsigned */
    char enc[CISHARE_ENC_LEN + 1]; /**< "" plaintext, else CISHARE_ENC_* */
    /** Header layout: 0 = the writer's default (CISHARE_ENV_WIRE_DEFAULT),
     *  1 or 2. cishare_envelope_from_headers sets the version it read, so
     *  a relayed copy keeps the original's layout. Not signed: both
     *  layouts carry the same fields and the same signature. */
    uint8_t wire_version;
    cishare_relay_hop_t relay[CISHARE_RELAY_MAX];
    size_t relay_cnt;
} cishare_envelope_t;

/** Empty the envelope (no id, no signature, no relay hops): every field is
 *  zeroed except the relay hop slots, which are zeroed when a hop is added
 *  (no slot at or past relay_cnt is read). */
void cishare_envelope_init(cishare_envelope_t *env);

/** Fresh random message id (UUID v4 text) into env->id. */
void cishare_envelope_new_id(cishare_envelope_t *env);

/**
 * Deterministic message id (schemas/README.md, "Message ids"): the same
 * record version published again (a re-run after a crash) gets the same
 * id, so every feed's seen set (keyed by origin and id) drops the copy.
 *
 *   H  = BLAKE2b-128(CISHARE_MSGID_DOMAIN || f(origin) || f(type name)
 *        || f(subject) || f(record_id) || f(version) || f(tlp name)
 *        || f(audience)),  f(x) = u32 big-endian length || x
 *   id = H as UUID text with version 8 (RFC 9562, name-based custom) and
 *        the RFC 4122 variant bits set.
 *
 * subject is the Kafka key, record_id the payload's own id (a sighting's,
 * revocation's or receipt's id differs from its subject), version the
 * record's "modified" time as canonical ms text for types that have one,
 * "" for the immutable types (sighting, revocation, receipt: a new
 * sighting is a new record id). The label and audience are in: the same
 * record re-shared wider or at another label is a different message.
 * The created time and expiry are not: a re-run stamps them anew.
 * NULL strings count as "".
 */
void cishare_envelope_derive_id(cishare_envelope_t *env, const char *origin,
                                cishare_msgtype_t type, const char *subject,
                                size_t subject_len, const char *record_id,
                                const char *version, cishare_tlp_t tlp,
                                const char *audience);

/** Domain of cishare_envelope_derive_id's hash. */
#define CISHARE_MSGID_DOMAIN "cishare/msgid/v1"

/**
 * Name-based UUID text (36 chars + NUL): BLAKE2b-128 of domain followed by
 * each field as u32 big-endian length || bytes, version 8 and RFC 4122
 * variant bits set. lens NULL: each field is a C string; a NULL field is
 * "". Same inputs, same UUID; used for message ids and receipt ids.
 */
void cishare_uuid_name(char out[37], const char *domain,
                       const char *const *fields, const size_t *lens, size_t n);

/** True when the envelope says the value is encrypted (env->enc set). */
static inline bool cishare_envelope_encrypted(const cishare_envelope_t *env)
{
    return env->enc[0] != '\0';
}

/* ------------------------------------------------------------------ */
/* Signature schemes                                                   */
/* ------------------------------------------------------------------ */

/**
 * A signature scheme signs and verifies the 32-byte message digest D
 * (never the raw headers), so that a scheme signing one batch of many
 * digests is another entry, without changing any caller.
 * Filled with designated initialisers; see cishare_sig_scheme_find().
 */
typedef struct cishare_sig_scheme_s {
    const char *name;     /**< cishare.alg value, e.g. "ed25519" */
    size_t max_sig_bytes; /**< <= CISHARE_SIG_MAX_BYTES */
    /** Sign digest with kp; writes *sig_lenp bytes into sig. */
    cishare_err_t (*sign)(const uint8_t digest[CISHARE_DIGEST_BYTES],
                          const cishare_keypair_t *kp, uint8_t *sig,
                          size_t *sig_lenp);
    /** 0 when sig is a valid signature of digest by pk, else -1. */
    int (*verify)(const uint8_t digest[CISHARE_DIGEST_BYTES],
                  const uint8_t *sig, size_t sig_len,
                  const uint8_t pk[CISHARE_ED25519_PK_BYTES]);
    /** Optional (NULL: each digest is signed alone): sign n digests at
     *  once, 1 <= n <= max_batch; sigs[i] has room for max_sig_bytes. */
    cishare_err_t (*sign_batch)(const uint8_t (*digests)[CISHARE_DIGEST_BYTES],
                                size_t n, const cishare_keypair_t *kp,
                                uint8_t *const *sigs, size_t *sig_lens);
    size_t max_batch; /**< largest n of sign_batch (0: no sign_batch) */
} cishare_sig_scheme_t;

/** The scheme named `name`, or NULL when unknown (refuse the message). */
const cishare_sig_scheme_t *cishare_sig_scheme_find(const char *name);

/* ------------------------------------------------------------------ */
/* Signing                                                             */
/* ------------------------------------------------------------------ */

/**
 * Canonical signing input of env + subject + value (schemas/README.md).
 * Writes at most `size` bytes into buf (buf may be NULL with size 0) and
 * returns the full length, like snprintf. The value enters as its length
 * and BLAKE2b-256 digest.
 */
size_t cishare_envelope_signing_input(const cishare_envelope_t *env,
                                      const char *subject, size_t subject_len,
                                      const uint8_t *value, size_t value_len,
                                      uint8_t *buf, size_t size);

/** D = BLAKE2b-256(canonical signing input): what the scheme signs. */
void cishare_envelope_digest(const cishare_envelope_t *env, const char *subject,
                             size_t subject_len, const uint8_t *value,
                             size_t value_len,
                             uint8_t digest[CISHARE_DIGEST_BYTES]);

/**
 * Sign: sets env->key_id from kp, env->alg to `scheme` (NULL = ed25519)
 * and env->sig. Every other field must be final (encrypt first: the value
 * signed is the value sent). The envelope fields must be valid
 * (CISHARE_ERR_VALIDATION otherwise).
 */
cishare_err_t cishare_envelope_sign(cishare_envelope_t *env,
                                    const cishare_keypair_t *kp,
                                    const char *scheme, const char *subject,
                                    size_t subject_len, const uint8_t *value,
                                    size_t value_len, char *errstr,
                                    size_t errstr_size);

/**
 * Sign n envelopes as one batch with `scheme` (NULL = ed25519-merkle):
 * for each i, like cishare_envelope_sign(envs[i], kp, scheme,
 * subjects[i], subject_lens[i], values[i], value_lens[i]), but a batch
 * scheme computes every digest first and signs them with one signature.
 * All envelopes must be of the same origin and kp its key. 1 <= n <=
 * the scheme's max_batch (CISHARE_MERKLE_MAX_LEAVES): larger batches are
 * refused (CISHARE_ERR_TOO_LARGE), never split. A scheme without a batch
 * form signs each envelope alone. On failure no envelope is left signed
 * (sig_len 0) and errstr names the first bad envelope by index and id.
 */
cishare_err_t cishare_envelope_sign_batch(
    cishare_envelope_t *const *envs, const char *const *subjects,
    const size_t *subject_lens, const uint8_t *const *values,
    const size_t *value_lens, size_t n, const cishare_keypair_t *kp,
    const char *scheme, char *errstr, size_t errstr_size);

/** Counters of this thread's signature verifications (Merkle scheme). */
typedef struct cishare_sig_stats_s {
    uint64_t ed25519_verifies; /**< root signatures checked by Ed25519 */
    uint64_t cache_hits;       /**< roots found in the verified cache, or a path
                                    joining a verified tree's known nodes */
    uint64_t path_hashes;      /**< leaf and node hashes computed */
} cishare_sig_stats_t;

/** This thread's counters since it started (or the last clear). */
void cishare_sig_stats(cishare_sig_stats_t *out);

/** Empty this thread's cache of verified Merkle roots and zero its
 *  counters (tests; a verifier never needs to). */
void cishare_sig_cache_clear(void);

/**
 * Verify the origin's signature with the origin's Ed25519 public key
 * (looked up by the caller from env->origin / env->key_id). Fails closed:
 * missing signature, unknown scheme, invalid envelope fields or a wrong
 * signature are all CISHARE_ERR_BAD_SIGNATURE. Does not check relay hops.
 */
cishare_err_t cishare_envelope_verify(
    const cishare_envelope_t *env, const char *subject, size_t subject_len,
    const uint8_t *value, size_t value_len,
    const uint8_t pk[CISHARE_ED25519_PK_BYTES], char *errstr,
    size_t errstr_size) __attribute__((warn_unused_result));

/** Same as cishare_envelope_verify (the name used by the signing API). */
cishare_err_t cishare_sig_verify(const cishare_envelope_t *env,
                                 const char *subject, size_t subject_len,
                                 const uint8_t *value, size_t value_len,
                                 const uint8_t pk[CISHARE_ED25519_PK_BYTES],
                                 char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * Relay: append a hop signed by relay key kp for participant `by`, with
 * the relayed copy's label and canonical audience text. The envelope must
 * already carry the origin's signature (which is kept). At most
 * CISHARE_RELAY_MAX hops (CISHARE_ERR_TOO_LARGE).
 */
cishare_err_t cishare_envelope_relay_sign(
    cishare_envelope_t *env, const cishare_keypair_t *kp, const char *by,
    cishare_tlp_t tlp, const char *audience, int64_t now_ms,
    const char *subject, size_t subject_len, const uint8_t *value,
    size_t value_len, char *errstr, size_t errstr_size);

/**
 * Verify relay hop `i` (< env->relay_cnt) with the relay's Ed25519 public
 * key. The hop's signature covers D, the previous signature in the chain
 * (the origin's for hop 0) and the hop's own fields; the caller verifies
 * the origin signature and every hop 0..relay_cnt-1.
 */
cishare_err_t cishare_envelope_relay_verify(
    const cishare_envelope_t *env, size_t i, const char *subject,
    size_t subject_len, const uint8_t *value, size_t value_len,
    const uint8_t pk[CISHARE_ED25519_PK_BYTES], char *errstr,
    size_t errstr_size) __attribute__((warn_unused_result));

/**
 * Additional data that binds an encrypted value to its message (for
 * seal.h): "cishare/seal-ad/v1" then length-prefixed id, origin, type, tlp,
 * subject and the 8-byte fingerprint. Returns the full length (snprintf
 * semantics); CISHARE_SEAL_AD_MAX bytes always suffice.
 */
#define CISHARE_SEAL_AD_MAX 512
size_t cishare_envelope_seal_ad(const cishare_envelope_t *env,
                                const char *subject, size_t subject_len,
                                uint8_t *buf, size_t size);

/**
 * Check that a (plaintext, single-object encoded) value carries the
 * fingerprint of env->schema_fp. CISHARE_ERR_VALIDATION otherwise.
 */
cishare_err_t cishare_envelope_check_fingerprint(const cishare_envelope_t *env,
                                                 const uint8_t *value,
                                                 size_t value_len, char *errstr,
                                                 size_t errstr_size)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ */
/* Headers                                                             */
/* ------------------------------------------------------------------ */

/**
 * Check the envelope's fields (lengths, charset, labels). Used before
 * signing and after parsing.
 */
cishare_err_t cishare_envelope_validate(const cishare_envelope_t *env,
                                        char *errstr, size_t errstr_size);

/**
 * Add the envelope's headers to hdrs (an rd_kafka_headers_new() list the
 * caller owns), in the layout env->wire_version names (0: version 2).
 * The envelope must be signed; version 2 also needs a scheme it has a
 * code for (ed25519, ed25519-merkle) and a UUID message id.
 */
cishare_err_t cishare_envelope_to_headers(const cishare_envelope_t *env,
                                          rd_kafka_headers_t *hdrs,
                                          char *errstr, size_t errstr_size);

/**
 * Parse headers received from Kafka (untrusted; only read) into env, in
 * either layout (env->wire_version says which). Refuses oversized
 * values, duplicate or unknown cishare.* headers, missing required
 * headers, headers of both layouts in one message and malformed values
 * (CISHARE_ERR_PARSE, CISHARE_ERR_TOO_LARGE, CISHARE_ERR_VALIDATION),
 * naming the header. A version 1 message without cishare.sig is not a
 * parse error: sig_len is 0 and verification fails. hdrs may be NULL
 * (then: missing headers).
 */
cishare_err_t cishare_envelope_from_headers(const rd_kafka_headers_t *hdrs,
                                            cishare_envelope_t *env,
                                            char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * Length of the layout 2 cishare.env value that starts at p (at most
 * `avail` bytes readable), from its own fields: the value is
 * self-delimiting, so a reader of text that embeds it raw (kcat's %h) can
 * find its end whatever bytes it holds. 0 when it is not a well-formed
 * start of one (wrong tag, unknown scheme, bad batch fields, truncated).
 * Only lengths are checked; cishare_envelope_from_headers checks the rest.
 */
size_t cishare_envelope_env_len(const uint8_t *p, size_t avail);

/**
 * The message id and origin one header claims, for logs of a message
 * that may not parse (unverified): cishare.id / cishare.origin (version
 * 1), cishare.env / cishare (version 2). Fills id or origin (when the
 * header carries it and it fits) and leaves the other alone.
 */
void cishare_envelope_claims(const char *name, const void *val, size_t len,
                             char id[CISHARE_MSG_ID_LEN + 1],
                             char origin[CISHARE_ENV_NAME_LEN + 1]);

/**
 * Text value of one (version 1) header of env into buf (snprintf semantics,
 * returns the full length, 0 when the header is absent for this envelope).
 * `name` is one of CISHARE_H_*; for CISHARE_H_RELAY, hop `idx`.
 */
size_t cishare_envelope_header_text(const cishare_envelope_t *env,
                                    const char *name, size_t idx, char *buf,
                                    size_t size);

/**
 * JSON view for feeds and inspect: message_id, type, tlp, origin, sector,
 * audience (array of items), schema (hex), created, expires (RFC 3339;
 * absent when never), key_id, sig_alg, encrypted (bool) and, when relayed,
 * relayed_by (array of ids) and relay (array of hop objects). New
 * reference; NULL on allocation failure.
 */
json_t *cishare_envelope_to_json(const cishare_envelope_t *env);

/** ms -> "YYYY-MM-DDTHH:MM:SS.sssZ" (the header form). */
void cishare_envelope_time_format(int64_t ms,
                                  char out[CISHARE_TIME_TEXT_LEN + 1]);
/** Strict parse of exactly the header form. */
bool cishare_envelope_time_parse(const char *text, size_t len, int64_t *msp);

#endif
