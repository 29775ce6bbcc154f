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

#endif
