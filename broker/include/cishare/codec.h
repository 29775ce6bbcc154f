/*
 * cishare - the payload codec: native JSON <-> Avro single-object encoding.
 *
 * Every Kafka value is one Avro single-object-encoded datum:
 *
 *   +------+------+-------------------------------+----------------------+
 *   | 0xC3 | 0x01 | CRC-64-AVRO fingerprint (8 B, | Avro binary datum of |
 *   |      |      | little-endian) of the schema's| the record           |
 *   |      |      | Parsing Canonical Form        |                      |
 *   +------+------+-------------------------------+----------------------+
 *
 * The schemas are schemas/<Type>.avsc, compiled into the library. The
 * binary datum is written and read by cishare's own schema-driven codec
 * (avro_datum.h), never by avro-c: every length, count and varint of
 * untrusted bytes is checked against the bytes remaining and against the
 * bounds below before anything is allocated, so hostile input yields an
 * error, never a crash (avro-c 1.11 has known crashes on such input).
 *
 * Payload JSON ("native form", see schemas/README.md): an object with the
 * record's fields; timestamp-millis fields are RFC 3339 UTC strings (input
 * also accepts integer milliseconds); nullable fields may be omitted or
 * null; fields with a default may be omitted; enums are symbol strings.
 * Unknown fields are errors. Decoding yields every field of the record
 * (nulls and defaults included), so decode(encode(x)) is x with defaults
 * filled in, and encode(decode(b)) == b (for b of the current version;
 * an older version's b decodes into the current shape, see below).
 *
 * Errors name the field: "payload.confidence: expected int 0-100, got
 * string", "payload.type: 'foo' is not one of ipv4, ipv6, ...",
 * "payload.title: missing required field".
 *
 * Threading: a codec is immutable after cishare_codec_new() except for
 * scratch buffers, so one codec instance must be used by one thread at a
 * time (create one per worker thread; creation costs a few hundred µs).
 * Functions without a codec argument are reentrant. avro-c is not used
 * at run time, so its global, thread-unsafe avro_strerror() state is
 * never involved.
 */
#ifndef CISHARE_CODEC_H
#define CISHARE_CODEC_H

#include "cishare/avro_datum.h"
#include "cishare/err.h"
#include "cishare/types.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Single-object encoding marker bytes and header length. */
#define CISHARE_CODEC_MAGIC0     0xC3
#define CISHARE_CODEC_MAGIC1     0x01
#define CISHARE_CODEC_HEADER_LEN 10
/** Untrusted-input bounds: a whole message, and array/map items in total. */
#define CISHARE_CODEC_MAX_MSG_SIZE (1024u * 1024u)
#define CISHARE_CODEC_MAX_ITEMS    65536u
/** Nesting bound of the datum (arrays, maps, records, unions). */
#define CISHARE_CODEC_MAX_DEPTH 32

typedef struct cishare_codec_s cishare_codec_t;

/**
 * Compile the embedded schemas (cishare_embedded_schemas[]), compute their
 * canonical forms and fingerprints. The caller owns *codecp and frees it
 * with cishare_codec_destroy().
 */
cishare_err_t cishare_codec_new(cishare_codec_t **codecp, char *errstr,
                                size_t errstr_size);

/** Free a codec. NULL is a no-op. */
void cishare_codec_destroy(cishare_codec_t *codec);

/** Fingerprint (CRC-64-AVRO of the canonical form) of the schema encode
 *  writes for type (the current one), as a number; on the wire it is
 *  written little-endian. */
uint64_t cishare_codec_fingerprint(const cishare_codec_t *codec,
                                   cishare_msgtype_t type);

/*
 * Older versions (schemas/history/<Type>.v<N>.avsc, embedded): decode and
 * decode_text accept their fingerprints too and resolve the datum to the
 * current schema (Avro schema resolution, cishare_avro_resolve()), so
 * callers only ever see current-shape payloads. cishare_codec_new() fails
 * when a history file is misnamed, shares a fingerprint, or does not
 * resolve to the current schema (schemas/README.md, "Schema evolution
 * rules").
 */

/** Number of older versions of type's schema. */
size_t cishare_codec_version_cnt(const cishare_codec_t *codec,
                                 cishare_msgtype_t type);

/** Older version i of type: its file ("history/Indicator.v1.avsc", owned
 *  by the codec) and, if fingerprintp, its fingerprint; NULL past the
 *  end. */
const char *cishare_codec_version(const cishare_codec_t *codec,
                                  cishare_msgtype_t type, size_t i,
                                  uint64_t *fingerprintp);

/**
 * For tests only: make encode (and cishare_codec_fingerprint()) write type
 * with the older version of that fingerprint, as a participant that has
 * not upgraded would; 0 or the current fingerprint: the current schema
 * again. CISHARE_ERR_UNKNOWN_SCHEMA if no version has it. A writer
 * always writes the current version otherwise.
 */
cishare_err_t cishare_codec_set_write_version(cishare_codec_t *codec,
                                              cishare_msgtype_t type,
                                              uint64_t fingerprint);

/** Full name, e.g. "jp.cishare.v1.Indicator". Owned by the codec. */
const char *cishare_codec_schema_name(const cishare_codec_t *codec,
                                      cishare_msgtype_t type);

/** Parsing Canonical Form of type's schema. Owned by the codec. */
const char *cishare_codec_canonical_form(const cishare_codec_t *codec,
                                         cishare_msgtype_t type);

/** The schema text as shipped (schemas/<file>) and its file name. Owned by
 *  the codec. */
const char *cishare_codec_schema_json(const cishare_codec_t *codec,
                                      cishare_msgtype_t type);
const char *cishare_codec_schema_file(const cishare_codec_t *codec,
                                      cishare_msgtype_t type);

/**
 * Encode a payload object (native JSON form) of `type` into single-object
 * bytes. The payload is only read. On success *outp receives a malloc()ed
 * buffer the caller frees and *lenp its length. On failure
 * CISHARE_ERR_VALIDATION (or _TOO_LARGE) with "payload.<field>: ..." in
 * errstr, and *outp is NULL.
 */
cishare_err_t cishare_codec_encode(cishare_codec_t *codec,
                                   cishare_msgtype_t type,
                                   const json_t *payload, uint8_t **outp,
                                   size_t *lenp, char *errstr,
                                   size_t errstr_size);

/** cishare_codec_encode() with the members of `extra` (an object, or NULL)
 *  standing in for the payload's missing or null top-level fields
 *  (cishare_payload_defaults()): the payload itself is not copied. */
cishare_err_t cishare_codec_encode_with(cishare_codec_t *codec,
                                        cishare_msgtype_t type,
                                        const json_t *payload,
                                        const json_t *extra, uint8_t **outp,
                                        size_t *lenp, char *errstr,
                                        size_t errstr_size);

/** A receipt's payload (schemas/Receipt.avsc), all borrowed. */
typedef struct cishare_receipt_fields_s {
    const char *id;        /**< "receipt--<uuid>" */
    int64_t created_ms;    /**< when the receipt was made */
    const char *of_id;     /**< receipt_of: the message's id */
    const char *of_origin; /**< receipt_of_origin */
    cishare_msgtype_t of_type;
    const char *of_subject; /**< the message's Kafka key */
    cishare_tlp_t of_tlp;   /**< its effective label as delivered */
    int64_t delivered_ms;   /**< delivered_at */
    int64_t appended_ms;    /**< appended_at; < 0: null (no LogAppendTime) */
    const char *topic;      /**< where it was read */
    int partition;
    int64_t offset;
} cishare_receipt_fields_t;

/** The receipt payload as JSON (codec.h's native form; NULL: out of
 *  memory or text that is not UTF-8). */
json_t *cishare_receipt_payload_json(const cishare_receipt_fields_t *r);

/**
 * cishare_codec_encode() of cishare_receipt_payload_json(r), written
 * directly (a feed sends one receipt per RED or AMBER+STRICT message: the
 * JSON tree and its encoding were a fifth of such a feed's work). With
 * another write version set (cishare_codec_set_write_version()) it goes
 * through JSON. Errors: CISHARE_ERR_VALIDATION (a text that is not
 * UTF-8), CISHARE_ERR_NOMEM.
 */
cishare_err_t cishare_codec_encode_receipt(cishare_codec_t *codec,
                                           const cishare_receipt_fields_t *r,
                                           uint8_t **outp, size_t *lenp,
                                           char *errstr, size_t errstr_size);

/**
 * Decode single-object bytes (untrusted; only read). On success *typep is
 * the message type and *payloadp a new JSON object reference the caller
 * json_decref()s. Errors: CISHARE_ERR_PARSE (bad magic, bad varint, bad
 * UTF-8, bad union or enum index), CISHARE_ERR_UNKNOWN_SCHEMA (fingerprint
 * not known), CISHARE_ERR_TRUNCATED, CISHARE_ERR_TRAILING,
 * CISHARE_ERR_TOO_LARGE (message, length or item count beyond a bound),
 * CISHARE_ERR_VALIDATION (well-formed but refused by the checks encode
 * makes, e.g. confidence outside 0-100);
 * *payloadp is NULL then.
 */
cishare_err_t cishare_codec_decode(cishare_codec_t *codec, const uint8_t *buf,
                                   size_t len, cishare_msgtype_t *typep,
                                   json_t **payloadp, char *errstr,
                                   size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * cishare_codec_decode() straight to JSON text: appends to *out exactly
 * json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS) of the payload
 * cishare_codec_decode() would return, with the same checks and errors,
 * without building a JSON tree (the feed's JSON Lines path). On success
 * *subjectp / *subject_lenp are the payload's subject id (the field
 * cishare_payload_subject() reads; bytes inside buf, or for an older
 * version inside the codec until its next call, not NUL-terminated;
 * NULL when absent). On error out->len is unchanged.
 */
cishare_err_t cishare_codec_decode_text(
    cishare_codec_t *codec, const uint8_t *buf, size_t len,
    cishare_msgtype_t *typep, cishare_avro_buf_t *out, const char **subjectp,
    size_t *subject_lenp, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * Read only the 10-byte header: the type whose fingerprint it carries.
 * CISHARE_ERR_TRUNCATED, CISHARE_ERR_PARSE (bad magic) or
 * CISHARE_ERR_UNKNOWN_SCHEMA. Does not look at the datum.
 */
cishare_err_t cishare_codec_peek_type(const cishare_codec_t *codec,
                                      const uint8_t *buf, size_t len,
                                      cishare_msgtype_t *typep)
    __attribute__((warn_unused_result));

/** Subject id prefix of a type: "indicator", "incident", "alert",
 *  "sighting", "revocation" (ids are "<prefix>--<uuid>"). */
const char *cishare_payload_id_prefix(cishare_msgtype_t type);

/**
 * Fill publish-time defaults into a payload object (modified in place):
 * "id" = "<prefix>--<random uuid v4>" when missing or null; "created" and
 * (types that have it) "modified" = now_ms when missing or null
 * (as RFC 3339 strings). CISHARE_ERR_VALIDATION if payload is not an
 * object.
 */
cishare_err_t cishare_payload_fill_defaults(cishare_msgtype_t type,
                                            json_t *payload, int64_t now_ms,
                                            char *errstr, size_t errstr_size);

/**
 * The defaults cishare_payload_fill_defaults() would fill in, as a new
 * object in *extrap (NULL when the payload lacks none), the payload left
 * as it is: for cishare_codec_encode_with().
 */
cishare_err_t cishare_payload_defaults(cishare_msgtype_t type,
                                       const json_t *payload, int64_t now_ms,
                                       json_t **extrap, char *errstr,
                                       size_t errstr_size);

/**
 * Subject id, the Kafka key: payload.id for indicator, incident, alert;
 * payload.sighting_of for sighting; payload.revokes for revocation. NULL
 * when absent or not a string. Borrowed from payload.
 */
const char *cishare_payload_subject(cishare_msgtype_t type,
                                    const json_t *payload);

/** cishare_payload_subject() and its length in *lenp (a JSON string may
 *  contain NUL). */
const char *cishare_payload_subject_len(cishare_msgtype_t type,
                                        const json_t *payload, size_t *lenp);

/** Random UUID v4 as 36 lowercase characters + NUL (libsodium RNG; call
 *  cishare_crypto_init() first). */
void cishare_uuid_v4(char out[37]);

/**
 * RFC 3339 date-time -> milliseconds since the Unix epoch (UTC). Accepts
 * "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" (t/z lowercase too;
 * fractions beyond milliseconds are truncated). Years 0001-9999. Returns
 * false if text is not such a time.
 */
bool cishare_time_parse(const char *text, int64_t *msp);

/** Times RFC 3339 can write: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z
 */
#define CISHARE_TIME_MIN_MS (-62135596800000LL)
#define CISHARE_TIME_MAX_MS (253402300799999LL)
bool cishare_time_in_range(int64_t ms);

/** ms -> "YYYY-MM-DDTHH:MM:SSZ", or "...SS.sssZ" when ms % 1000 != 0.
 *  Outside the range above: the decimal number of ms (decode then yields
 *  a JSON integer instead, which encode accepts). */
void cishare_time_format(int64_t ms, char out[32]);

/** Days from 1970-01-01 to the proleptic Gregorian date y-m-d (m 1..12);
 *  negative before 1970. */
int64_t cishare_time_days_from_civil(int64_t y, unsigned m, unsigned d);

/** Current time in ms since the epoch (CLOCK_REALTIME). */
int64_t cishare_time_now_ms(void);

/** A monotonic clock in µs (CLOCK_MONOTONIC): for intervals and
 *  deadlines, which a clock step must not move. */
int64_t cishare_time_mono_us(void);

#endif
