/*
 * cishare - Avro Parsing Canonical Form and CRC-64-AVRO fingerprints.
 *
 * avro-c 1.11 has neither, so both are implemented here from the Avro
 * specification ("Parsing Canonical Form for Schemas" and "Schema
 * Fingerprints"), over a jansson tree of the schema text, independent of
 * avro-c. Tested against the specification's vectors
 * (tests/vectors/avro/schema-tests.txt).
 *
 * Threading: all functions are reentrant.
 */
#ifndef CISHARE_AVRO_PCF_H
#define CISHARE_AVRO_PCF_H

#include <stddef.h>
#include <stdint.h>

/** CRC-64-AVRO of nothing (the specification's EMPTY constant). */
#define CISHARE_AVRO_CRC64_EMPTY 0xc15d213aa4d7a795ULL

/**
 * Parsing Canonical Form of a schema given as JSON text (PRIMITIVES,
 * FULLNAMES, STRIP, ORDER, STRINGS, INTEGERS, WHITESPACE).
 *
 * @returns a malloc()ed NUL-terminated string the caller frees, or NULL
 *          with the reason in errstr (not JSON, not a schema).
 */
char *cishare_avro_canonical_form(const char *schema_json, char *errstr,
                                  size_t errstr_size);

/** CRC-64-AVRO (Rabin) fingerprint of buf. len 0 gives ..._EMPTY. */
uint64_t cishare_avro_crc64(const void *buf, size_t len);

/** Fingerprint of a schema: crc64 of its canonical form. 0 + errstr on
 *  error (0 is not a possible fingerprint of a valid form in practice;
 *  use cishare_avro_canonical_form() when that matters). */
uint64_t cishare_avro_fingerprint(const char *schema_json, char *errstr,
                                  size_t errstr_size);

#endif
