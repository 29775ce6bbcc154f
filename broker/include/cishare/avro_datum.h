/*
 * cishare - schema-driven Avro binary codec over jansson values.
 *
 * A schema (JSON text) is compiled once into a tree of nodes; encode walks
 * a JSON value against it and writes Avro binary, decode walks untrusted
 * Avro binary against it and builds JSON. This replaces avro-c for the
 * datum: every varint, length and item count read from the input is
 * checked against the bytes left and against the caller's bounds before
 * use, and nesting is bounded, so hostile input is an error, not a crash.
 *
 * JSON mapping ("native form"): null, boolean, int/long (integers), float/
 * double (numbers), string; bytes and fixed as strings of code points
 * U+0000-U+00FF (the Avro JSON convention); enum as its symbol; array;
 * map as object; record as object (unknown members are errors, missing
 * members take the field default or are errors); union as the plain value
 * of the first branch that accepts it (null for null). Longs with
 * logicalType timestamp-millis are RFC 3339 strings (input also accepts
 * integer milliseconds).
 *
 * Threading: a compiled schema is immutable; encode and decode keep no
 * state in it.
 */
#ifndef CISHARE_AVRO_DATUM_H
#define CISHARE_AVRO_DATUM_H

#include "cishare/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cishare_avro_schema_s cishare_avro_schema_t;

/** Output buffer; encode appends. Free buf with free(). `max` (0 = none)
 *  bounds len: exceeding it is CISHARE_ERR_TOO_LARGE. */
typedef struct cishare_avro_buf_s {
    uint8_t *buf;
    size_t len, cap, max;
} cishare_avro_buf_t;

/** Decoding bounds for untrusted input. */
typedef struct cishare_avro_limits_s {
    size_t max_items; /**< array items + map entries, in total */
    int max_depth;    /**< nesting of records, arrays, maps, unions */
} cishare_avro_limits_t;

/**
 * Compile a schema. The caller owns *schemap (free with
 * cishare_avro_schema_destroy()). Errors: CISHARE_ERR_PARSE (not JSON),
 * CISHARE_ERR_VALIDATION (not a valid schema, bad default).
 */
cishare_err_t cishare_avro_schema_new(const char *schema_json,
                                      cishare_avro_schema_t **schemap,
                                      char *errstr, size_t errstr_size);
void cishare_avro_schema_destroy(cishare_avro_schema_t *schema);

/** Full name of the top-level named type (e.g. "jp.cishare.v1.Indicator"),
 *  or the type name ("string", "array", ...). Owned by the schema. */
const char *cishare_avro_schema_name(const cishare_avro_schema_t *schema);

/**
 * Append the binary encoding of `value` to `out`. `label` names the value
 * in error messages ("payload" gives "payload.title: missing required
 * field"). On error out->len is unspecified (the caller discards it).
 */
cishare_err_t cishare_avro_encode(const cishare_avro_schema_t *schema,
                                  const json_t *value, const char *label,
                                  cishare_avro_buf_t *out, char *errstr,
                                  size_t errstr_size);

/**
 * cishare_avro_encode() of a record value as if the members of `extra`
 * (an object, or NULL) were set in it where its own top-level field is
 * missing or null: a publisher's defaults, without copying the value.
 */
cishare_err_t cishare_avro_encode_with(const cishare_avro_schema_t *schema,
                                       const json_t *value, const json_t *extra,
                                       const char *label,
                                       cishare_avro_buf_t *out, char *errstr,
                                       size_t errstr_size);

/**
 * Decode exactly one datum that must fill buf[0..len) completely. On
 * success *valuep is a new reference. Errors: CISHARE_ERR_TRUNCATED,
 * CISHARE_ERR_TRAILING, CISHARE_ERR_TOO_LARGE, CISHARE_ERR_PARSE (bad
 * varint, negative length, bad index, invalid UTF-8, non-finite number),
 * each naming the field.
 */
cishare_err_t cishare_avro_decode(const cishare_avro_schema_t *schema,
                                  const uint8_t *buf, size_t len,
                                  const cishare_avro_limits_t *limits,
                                  const char *label, json_t **valuep,
                                  char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * A field of the root record as cishare_avro_decode_text() read it, so
 * that the caller can check it without a JSON tree. Scalars only: other
 * types (and enums) are CISHARE_AVRO_VIEW_OTHER; a union field is its
 * branch's value.
 */
typedef enum {
    CISHARE_AVRO_VIEW_OTHER = 0,
    CISHARE_AVRO_VIEW_NULL,
    CISHARE_AVRO_VIEW_LONG,  /**< int or long (timestamp-millis too) */
    CISHARE_AVRO_VIEW_STRING /**< valid UTF-8, may contain NUL */
} cishare_avro_view_kind_t;

typedef struct cishare_avro_view_s {
    cishare_avro_view_kind_t kind;
    int64_t l;     /**< LONG */
    const char *s; /**< STRING: its bytes, inside the decoded buffer */
    size_t len;    /**< STRING: length */
} cishare_avro_view_t;

/** Fields of the root record (0 when the root is not a record). */
size_t cishare_avro_schema_field_cnt(const cishare_avro_schema_t *schema);
/** Index of root record field `name`, or -1. */
int cishare_avro_schema_field_index(const cishare_avro_schema_t *schema,
                                    const char *name);

/**
 * cishare_avro_decode() straight to JSON text, without a JSON tree: the
 * same checks and errors, and exactly the bytes
 * json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS) gives for the value
 * cishare_avro_decode() returns (tests/unit/test_codec.c compares them).
 * The text (no NUL) is appended to *out (out->max bounds it:
 * CISHARE_ERR_TOO_LARGE); on error out->len is restored. views, when not
 * NULL, receives view_cnt root record fields (by schema index).
 */
cishare_err_t cishare_avro_decode_text(
    const cishare_avro_schema_t *schema, const uint8_t *buf, size_t len,
    const cishare_avro_limits_t *limits, const char *label,
    cishare_avro_buf_t *out, cishare_avro_view_t *views, size_t view_cnt,
    char *errstr, size_t errstr_size) __attribute__((warn_unused_result));

/** True when p[0..n) is UTF-8 as jansson accepts it (NUL allowed). */
bool cishare_avro_utf8_valid(const void *p, size_t n);

/** Append n bytes: 0, or -1 when out of memory (or beyond out->max). */
int cishare_avro_buf_put(cishare_avro_buf_t *out, const void *p, size_t n);

/** Avro's zig-zag varint of v into out; returns its length (1-10). */
size_t cishare_avro_zigzag(int64_t v, uint8_t out[10]);

/**
 * Append n bytes of valid UTF-8 as a JSON string (quotes included),
 * escaped as jansson's dump escapes it. 0, or -1 when out of memory (or
 * beyond out->max).
 */
int cishare_avro_json_string(cishare_avro_buf_t *out, const void *p, size_t n);

/**
 * Avro schema resolution: `value`, as cishare_avro_decode() returned it
 * for the writer's schema, rewritten into the reader's shape (a new
 * reference in *valuep). Records match fields by name or the reader
 * field's aliases: a reader field the writer lacks takes its default, a
 * writer field the reader lacks is dropped. Named types match by full or
 * unqualified name or a reader alias. Promotions int -> long -> float ->
 * double and string <-> bytes. Enum symbols resolve by name; an unknown
 * one becomes the reader enum's "default" or is an error. Unions: the
 * writer's branch is the first that accepts the value (as encode
 * chooses); a reader union takes the first branch of the same type, else
 * the first the writer's type promotes to. CISHARE_ERR_VALIDATION naming
 * the field when the value cannot be resolved.
 */
cishare_err_t cishare_avro_resolve(const cishare_avro_schema_t *writer,
                                   const cishare_avro_schema_t *reader,
                                   const json_t *value, const char *label,
                                   json_t **valuep, char *errstr,
                                   size_t errstr_size)
    __attribute__((warn_unused_result));

/**
 * Whether every value of the writer's schema resolves to the reader's
 * (the rules of cishare_avro_resolve(), every branch of a writer union
 * included): "new readers read old data", Confluent's BACKWARD check for
 * one pair. CISHARE_ERR_VALIDATION names the first field that does not.
 */
cishare_err_t cishare_avro_compatible(const cishare_avro_schema_t *writer,
                                      const cishare_avro_schema_t *reader,
                                      char *errstr, size_t errstr_size);

#endif
