/*
 * cishare - the one place that turns a native JSON message into a signed
 * (and, for TLP:RED and TLP:AMBER+STRICT, encrypted) Kafka message, and a
 * received Kafka message back into a verified envelope and payload.
 *
 *   build: JSON -> audience (directory) -> Avro (codec) -> seal to every
 *          member of the audience + origin (policy, seal.h) -> sign
 *   open:  headers -> origin and key (directory) -> verify (+ relay hops)
 *          -> [policy decision by the caller] -> decrypt -> check
 *          fingerprint -> decode
 *
 * open is split so that a feed verifies every message but decrypts and
 * decodes only those its policy delivers:
 *   cishare_message_verify()  headers + signature, no payload work
 *   cishare_message_decode()  decrypt if needed, fingerprint, decode
 *   cishare_message_open()    both
 *
 * Threading: a codec is single-threaded (codec.h); everything else is
 * reentrant on a shared, immutable directory.
 */
#ifndef CISHARE_MESSAGE_H
#define CISHARE_MESSAGE_H

#include "cishare/codec.h"
#include "cishare/directory.h"
#include "cishare/envelope.h"
#include "cishare/err.h"
#include "cishare/keys.h"
#include "cishare/policy.h"
#include "cishare/seal.h"
#include "cishare/topics.h"
#include "cishare/types.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Largest Kafka value accepted: a maximal payload sealed to the maximal
 *  number of recipients. Anything longer is refused before parsing. */
#define CISHARE_MESSAGE_MAX_VALUE                                              \
    (CISHARE_CODEC_MAX_MSG_SIZE + CISHARE_SEAL_V2_HEADER_BYTES +               \
     CISHARE_SEAL_MAX_RECIPIENTS * CISHARE_SEAL_ENTRY_BYTES +                  \
     CISHARE_SEAL_TAG_BYTES)

/**
 * One topic's copy of an encrypted message (cishare_message_build_sealer):
 * the same plaintext, envelope and id, sealed to only the recipients whose
 * feed reads the topic (cishare_routing_feed_topics), so that a record
 * carries the key wraps of its own readers, not of every recipient. Its
 * value differs from the other topics', so it is signed on its own:
 * a copy of the message's envelope signed over this value.
 */
typedef struct cishare_msg_topic_s {
    char topic[CISHARE_TOPIC_MAX];
    uint8_t *value; /**< sealed value */
    size_t value_len;
    size_t recipient_cnt; /**< key wraps in value */
} cishare_msg_topic_t;

/** A message ready to produce. Owned; free with cishare_msg_out_clear(). */
typedef struct cishare_msg_out_s {
    cishare_envelope_t env; /**< signed; to_headers() it */
    char *key;              /**< subject (Kafka key), NUL-terminated */
    size_t key_len;
    uint8_t *value; /**< Avro bytes or sealed value */
    size_t value_len;
    cishare_audience_t audience; /**< resolved, for routing to topics */
    size_t recipient_cnt;        /**< encryption recipients (0: clear) */
    /** Per-topic copies (cishare_message_build_sealer() of an encrypted
     *  message), one per topic of cishare_routing_topics(), in its order;
     *  NULL/0: value goes to every topic. */
    cishare_msg_topic_t *topics;
    size_t topic_cnt;
} cishare_msg_out_t;

/** Free what out owns and empty it (cishare_msg_out_init()). NULL is a
 *  no-op. */
void cishare_msg_out_clear(cishare_msg_out_t *out);

/** Empty out without freeing: every field zero except the envelope's
 *  relay hop slots past relay_cnt (0), which nothing reads. */
void cishare_msg_out_init(cishare_msg_out_t *out);

/**
 * Build a signed message from native JSON (codec.h / schemas/README.md):
 * {"type", "tlp"?, "audience"?, "expires"?, "payload"}. Unknown top-level
 * keys are refused. msg is only read (defaults such as payload.id are
 * filled into a copy). The message id is derived from the record
 * (cishare_envelope_derive_id(): origin, type, subject, payload id,
 * payload "modified" for the types that have it, label, audience), so
 * building the same record version again gives the same id.
 *
 * @param tlp_override       >= 0: use this label (--tlp), ignoring
 *                           msg.tlp; -1: msg.tlp, else GREEN
 * @param audience_override  non-NULL: audience text ("a,b" items),
 *                           ignoring msg.audience; NULL: msg.audience,
 *                           else the label's default (policy.h)
 * @param kp                 the origin's key pair; its key id must be the
 *                           origin's key in the directory
 * @param out                on success filled (caller clears); on failure
 *                           zeroed
 *
 * Errors: CISHARE_ERR_PARSE / _VALIDATION (message, payload field),
 * CISHARE_ERR_POLICY (audience), CISHARE_ERR_UNKNOWN_KEY (kp is not the
 * origin's key), CISHARE_ERR_TOO_LARGE, CISHARE_ERR_NOMEM.
 */
cishare_err_t cishare_message_build(
    cishare_codec_t *codec, const cishare_directory_t *dir,
    const cishare_participant_t *origin, const cishare_keypair_t *kp,
    const json_t *msg, int tlp_override, const char *audience_override,
    int64_t now_ms, cishare_msg_out_t *out, char *errstr, size_t errstr_size);

/**
 * cishare_message_build() without the signature: everything is final
 * (encrypted when the label says so) but out->env carries no signature
 * yet. The caller signs, possibly on another thread, with
 * cishare_envelope_sign(&out->env, kp, NULL, out->key, out->key_len,
 * out->value, out->value_len, ...) before producing. This lets a
 * publisher sign message k on one core while it builds message k+1.
 */
cishare_err_t cishare_message_build_unsigned(
    cishare_codec_t *codec, const cishare_directory_t *dir,
    const cishare_participant_t *origin, const cishare_keypair_t *kp,
    const json_t *msg, int tlp_override, const char *audience_override,
    int64_t now_ms, cishare_msg_out_t *out, char *errstr, size_t errstr_size);

/**
 * cishare_message_build_unsigned() of a receipt (TLP:AMBER, audience
 * participant:<r->of_origin>, key r->of_id) from its fields, without a
 * JSON tree: the same bytes and message id as building
 * {"type":"receipt","tlp":"amber","audience":[...],
 *  "payload":cishare_receipt_payload_json(r)}. The caller signs. Errors
 * as cishare_message_build_unsigned().
 */
cishare_err_t cishare_message_build_receipt(
    cishare_codec_t *codec, const cishare_directory_t *dir,
    const cishare_participant_t *origin, const cishare_keypair_t *kp,
    const cishare_receipt_fields_t *r, int64_t now_ms, cishare_msg_out_t *out,
    char *errstr, size_t errstr_size);

/**
 * cishare_message_build_unsigned() with the publisher's sealer (seal.h):
 * an encrypted message is sealed under the sealer's current epoch of its
 * recipient set, so that the recipients' keys are wrapped once per epoch,
 * not once per message. sealer NULL: as cishare_message_build_unsigned()
 * (a v2 value of its own one-message epoch).
 *
 * With a v2 sealer that seals per topic (cishare_sealer_per_topic(): the
 * default, cishare.seal.per-topic), an encrypted message also gets
 * out->topics:
 * one copy per topic it routes to, sealed under the epoch of that topic's
 * readers among the recipients (a topic no recipient reads gets the full
 * set). The caller signs a copy of out->env over each copy's value and
 * produces copy i with it to topics[i].topic; out->value stays the copy for
 * every recipient (a dry run, or a caller that produces one value).
 */
cishare_err_t cishare_message_build_sealer(
    cishare_codec_t *codec, const cishare_directory_t *dir,
    const cishare_participant_t *origin, const cishare_keypair_t *kp,
    const json_t *msg, int tlp_override, const char *audience_override,
    int64_t now_ms, cishare_sealer_t *sealer, cishare_msg_out_t *out,
    char *errstr, size_t errstr_size);

/** A received message. Owned; free with cishare_msg_in_clear(). */
typedef struct cishare_msg_in_s {
    cishare_envelope_t env;
    const cishare_participant_t *origin; /**< in dir; NULL if unknown */
    bool verified;  /**< origin signature and every relay hop verified */
    bool encrypted; /**< value is sealed (env.enc) */
    /** Effective label and audience: the last relay hop's when relayed,
     *  else the origin's. Parsed from headers (syntax only). */
    cishare_tlp_t tlp;
    cishare_audience_t audience;
    /** Relay hops' participants, in order (in dir). */
    const cishare_participant_t *relay[CISHARE_RELAY_MAX];
    json_t *payload; /**< decoded payload object; NULL if not decoded */
    cishare_msgtype_t payload_type;
} cishare_msg_in_t;

/** Free what in owns and zero it. NULL is a no-op. */
void cishare_msg_in_clear(cishare_msg_in_t *in);

/**
 * Free what in owns, ready for the next cishare_message_verify(), without
 * zeroing the (large, plain data) envelope: what a loop over many
 * messages calls. NULL is a no-op.
 */
void cishare_msg_in_reset(cishare_msg_in_t *in);

/**
 * Parse and verify without touching the payload: headers (bounded), key
 * (<= CISHARE_SUBJECT_MAX_LEN), value length (<= CISHARE_MESSAGE_MAX_VALUE),
 * origin and key id in the directory, origin signature, every relay hop
 * (relay known, its key, its signature, label never loosened). For a
 * plaintext value also the fingerprint header against the value.
 * On success in->verified is true. On failure in->env holds what was
 * parsed (for quarantine reports) and in->verified is false.
 *
 * Errors: CISHARE_ERR_PARSE / _VALIDATION / _TOO_LARGE (malformed),
 * CISHARE_ERR_UNKNOWN_KEY (origin, relay or key id not in the directory),
 * CISHARE_ERR_BAD_SIGNATURE (missing or wrong signature),
 * CISHARE_ERR_POLICY (a relay hop loosened the label).
 */
cishare_err_t
cishare_message_verify(const cishare_directory_t *dir,
                       const rd_kafka_headers_t *hdrs, const char *key,
                       size_t key_len, const uint8_t *value, size_t len,
                       cishare_msg_in_t *in, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * What the broker says about a record, beyond its bytes: its
 * LogAppendTime, which the signer cannot choose (cishare provision creates
 * topics with message.timestamp.type=LogAppendTime).
 */
typedef struct cishare_verify_ctx_s {
    int64_t append_ms;       /**< the broker's append time; <= 0: unknown */
    int64_t append_grace_ms; /**< how long after a key's revocation time a
                                message signed before it may still reach
                                Kafka (queues, retries) */
} cishare_verify_ctx_t;

/** Default of cishare_verify_ctx_t.append_grace_ms: 5 minutes. */
#define CISHARE_REVOCATION_GRACE_MS (5 * 60 * 1000)

/**
 * cishare_message_verify(), and when ctx gives the append time: a message
 * whose last signer's key was revoked at T and that reached Kafka after
 * T + append_grace_ms is refused (CISHARE_ERR_UNKNOWN_KEY), whatever
 * created time it claims: a thief of the key can backdate `created`, not
 * the broker's clock. ctx NULL: same as cishare_message_verify().
 */
cishare_err_t cishare_message_verify_ctx(
    const cishare_directory_t *dir, const rd_kafka_headers_t *hdrs,
    const char *key, size_t key_len, const uint8_t *value, size_t len,
    const cishare_verify_ctx_t *ctx, cishare_msg_in_t *in, char *errstr,
    size_t errstr_size) __attribute__((warn_unused_result));

/**
 * Decrypt (when sealed) with kp, check the fingerprint and that the
 * payload's type and subject match the envelope and key, decode into
 * in->payload. Requires a verified `in` from cishare_message_verify() on
 * the same key and value (CISHARE_ERR_INVALID_ARG otherwise).
 * kp may be NULL for plaintext values. Errors: CISHARE_ERR_NOT_RECIPIENT
 * (sealed and kp NULL or not a recipient), CISHARE_ERR_DECRYPT, codec
 * errors, CISHARE_ERR_VALIDATION (type, subject or fingerprint mismatch).
 * Decrypted plaintext is wiped after decoding.
 */
cishare_err_t
cishare_message_decode(cishare_codec_t *codec, const cishare_keypair_t *kp,
                       const char *key, size_t key_len, const uint8_t *value,
                       size_t len, cishare_msg_in_t *in, char *errstr,
                       size_t errstr_size) __attribute__((warn_unused_result));

/**
 * cishare_message_decode() through the reader's unsealer (seal.h): a v2
 * value of an epoch it opened before opens no sealed box. unsealer NULL:
 * cishare_message_decode().
 */
cishare_err_t cishare_message_decode_unsealer(
    cishare_codec_t *codec, const cishare_keypair_t *kp,
    cishare_unsealer_t *unsealer, const char *key, size_t key_len,
    const uint8_t *value, size_t len, cishare_msg_in_t *in, char *errstr,
    size_t errstr_size) __attribute__((warn_unused_result));

/**
 * verify + decode. With kp NULL a sealed payload is left undecoded
 * (in->payload NULL) and the result is CISHARE_OK when verified ("verify
 * only"); with kp set, NOT_RECIPIENT / DECRYPT are returned (in->verified
 * stays true so the caller can tell the two apart).
 */
cishare_err_t
cishare_message_open(cishare_codec_t *codec, const cishare_directory_t *dir,
                     const cishare_keypair_t *kp,
                     const rd_kafka_headers_t *hdrs, const char *key,
                     size_t key_len, const uint8_t *value, size_t len,
                     cishare_msg_in_t *in, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * cishare_message_decode() and cishare_message_to_json() in one, without
 * JSON trees: decrypt when sealed, check the fingerprint, decode the Avro
 * payload straight to JSON text, check its type and subject against the
 * envelope and key (same checks and errors as cishare_message_decode()),
 * and append to *out the message's JSON line: exactly
 * json_dumps(cishare_message_to_json(in'), JSON_COMPACT | JSON_SORT_KEYS)
 * for in' = in with the payload decoded (no newline, no NUL). `in` is
 * only read (in->payload is not set). On error out->len is unchanged.
 */
cishare_err_t cishare_message_render_line(
    cishare_codec_t *codec, const cishare_keypair_t *kp, const char *key,
    size_t key_len, const uint8_t *value, size_t len,
    const cishare_msg_in_t *in, cishare_avro_buf_t *out, char *errstr,
    size_t errstr_size) __attribute__((warn_unused_result));

/** cishare_message_render_line() through the reader's unsealer (as
 *  cishare_message_decode_unsealer()). */
cishare_err_t cishare_message_render_line_unsealer(
    cishare_codec_t *codec, const cishare_keypair_t *kp,
    cishare_unsealer_t *unsealer, const char *key, size_t key_len,
    const uint8_t *value, size_t len, const cishare_msg_in_t *in,
    cishare_avro_buf_t *out, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/** Where the JSON values of "audience" and "payload" lie in a rendered
 *  line (offsets into out->buf): the feed's archive stores those texts
 *  without a JSON tree. */
typedef struct cishare_line_spans_s {
    size_t audience_off, audience_len;
    size_t payload_off, payload_len;
} cishare_line_spans_t;

/** cishare_message_render_line_unsealer() that also says where the
 *  audience and the payload are (spans may be NULL). */
cishare_err_t cishare_message_render_line_spans(
    cishare_codec_t *codec, const cishare_keypair_t *kp,
    cishare_unsealer_t *unsealer, const char *key, size_t key_len,
    const uint8_t *value, size_t len, const cishare_msg_in_t *in,
    cishare_avro_buf_t *out, cishare_line_spans_t *spans, char *errstr,
    size_t errstr_size) __attribute__((warn_unused_result));

/**
 * The delivery decision for participant p of a verified message. First
 * the publish rules (policy.h P1-P8, cishare_policy_check_publish()) on
 * the message as its origin signed it: a message its origin should never
 * have published is withheld from everyone, the origin included, with the
 * rule's reason (P7, the mandatory incident notice, and P8, anonymise,
 * are judged only when in->payload is decoded: cishare_message_decode()
 * first; a relayed incident notice needs it too, for its consent to
 * forward, and is withheld "no-consent-forward" without it). Then the
 * direct rules for an original; for a relayed copy also the re-sharing
 * rules (policy.h a-h) of its relay, against the origin's own label and
 * audience, so that a hop cannot widen who receives a message. A copy
 * relayed more than once is withheld: only the first relay received the
 * message directly (rule d).
 */
cishare_decision_t cishare_message_decide(const cishare_directory_t *dir,
                                          const cishare_msg_in_t *in,
                                          const cishare_participant_t *p,
                                          int64_t now_ms);

/** What the policy needs (borrowed from in; effective label/audience;
 *  consent from in->payload for an incident notice, UNKNOWN when it is
 *  not decoded). */
void cishare_message_policy_msg(const cishare_msg_in_t *in,
                                cishare_policy_msg_t *pm);

/** What the policy rules read from a payload (policy.h P7, P8, b, i). */
typedef struct cishare_payload_flags_s {
    int mandatory; /**< P7: incident with legal_basis "mandatory": 1/0/-1 */
    int anonymise; /**< P8: payload anonymise true: 1/0/-1 */
    cishare_consent_t consent; /**< rules b, i (incident notices) */
} cishare_payload_flags_t;

/**
 * The one reading of the payload fields the policy needs, for the
 * publisher (before it publishes) and the feed (before it decides).
 * `payload` is the decoded payload of a message of type `type`, or NULL
 * when it is not decoded (sealed for someone else): then the fields the
 * type can carry are unknown (-1, CISHARE_CONSENT_UNKNOWN) and the rules
 * that need them are not judged, or fail closed (consent). A field the
 * payload omits takes its schema default (false). Borrows payload.
 */
void cishare_message_payload_flags(cishare_msgtype_t type,
                                   const json_t *payload,
                                   cishare_payload_flags_t *f);

/**
 * The feed's JSON line: {"message_id", "type", "tlp", "audience",
 * "origin", "sector", "created", "expires"?, "key_id", "relayed_by"?,
 * "encrypted", "payload"} (payload null when not decoded). New reference.
 */
json_t *cishare_message_to_json(const cishare_msg_in_t *in);

#endif
