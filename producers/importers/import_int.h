/*
 * cishare importers - helpers shared by the format importers (private).
 */
#ifndef CISHARE_IMPORT_INT_H
#define CISHARE_IMPORT_INT_H

#include "cishare/importer.h"
#include "cishare/types.h"

#include <stdint.h>

/* Per-file context: the file's base name labels every record. */
typedef struct import_ctx_s {
    const char *name; /* base name of the input */
    cishare_import_result_t *res;
    cishare_err_t err; /* first allocation failure, sticky */
    /* time of a record that carries none (Unix seconds): the input file's
     * modification time, so that importing the same file again yields
     * the same record versions and message ids (schemas/README.md,
     * "Message ids"); 0 = the time of the import (stdin, a buffer) */
    int64_t default_time;
} import_ctx_t;

/* One JSON object or array at buf (after white space), read as
 * json_loadb(buf, len, JSON_DISABLE_EOF_CHECK) reads it, *usedp the bytes
 * it took; NULL for anything but the common case (\u escapes, reals, huge
 * integers, deep nesting, invalid JSON): then ask jansson (import_json.c). */
json_t *import_json_fast(const char *buf, size_t len, size_t *usedp);

/* Append a message (steals `msg`); record is printf-formatted. */
void import_add(import_ctx_t *ctx, json_t *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Append a rejected / skipped entry. */
void import_reject(import_ctx_t *ctx, const char *record, const char *reason,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void import_skip(import_ctx_t *ctx, const char *record, const char *reason,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Normalise an RFC 3339 / ISO 8601 timestamp ("2015-05-15T09:12:16.432678Z",
 * "+09:00" offsets, a bare date) into "YYYY-MM-DDTHH:MM:SS.sssZ" (UTC).
 * out must hold 25 bytes. False when the text is not a valid timestamp.
 */
bool import_time_norm(const char *text, char out[32]);
/* Unix seconds (MISP "timestamp") -> same form. */
void import_time_from_unix(int64_t secs, char out[32]);
/* A record's time when the input gives none (ctx->default_time, else
 * now), in the same form. */
void import_time_default(const import_ctx_t *ctx, char out[32]);

/* A stable id "<prefix>--<uuid-shaped BLAKE2b of the parts>". */
void import_stable_id(const char *prefix, const char *part1, const char *part2,
                      char out[64]);

/* Classify a bare observable (free text, CSV cells): "ipv4", "ipv6",
 * "domain", "url", "email", "md5", "sha1", "sha256", "sha512", "cve",
 * "asn", or NULL. */
const char *import_classify(const char *value);

/* Lower-case hex (hash values are normalised to lower case). */
void import_lower(char *s);

/* A new native message {"type": type, "payload": {}}; returns payload. */
json_t *import_msg_new(const char *type, json_t **payloadp);
/* Set "tlp" on a message. */
void import_msg_set_tlp(json_t *msg, cishare_tlp_t tlp);

/* The format importers. Each returns CISHARE_OK or a file-level error. */
cishare_err_t import_stix(import_ctx_t *ctx, json_t *root, char *errstr,
                          size_t errstr_size);
cishare_err_t import_misp(import_ctx_t *ctx, json_t *root, const char *dir,
                          char *errstr, size_t errstr_size);
cishare_err_t import_csv(import_ctx_t *ctx, const char *buf, size_t len,
                         char *errstr, size_t errstr_size);
cishare_err_t import_text(import_ctx_t *ctx, const char *buf, size_t len,
                          char *errstr, size_t errstr_size);

/* Map a MISP attribute type to a cishare observable type, or NULL when it
 * has no observable mapping. *partp receives which '|' part holds the
 * observable (0 or 1) for composite types. */
const char *import_misp_type(const char *misp_type, int *partp);

/* True when the detector should read this JSON object as a MISP document. */
bool import_misp_detect(json_t *root);
/* True when it looks like a STIX bundle or a STIX object. */
bool import_stix_detect(json_t *root);

#endif
