/*
 * cishare - the feed's quarantine: messages that cannot be delivered
 * because they are invalid (bad or missing signature, unknown origin or
 * key, malformed, addressed to us but impossible to decrypt).
 *
 * <out>/quarantine.jsonl gets one JSON object per message:
 *   {"time": "...Z", "topic": "...", "partition": N, "offset": N,
 *    "reason": "<code>", "detail": "<text>",
 *    "headers": [{"name": "...", "text": "..."} | {"name", "base64"} |
 *                {"name", "null": true}, ...],
 *    "key": {"text": "..."} | {"base64": "..."} | null,
 *    "value_base64": "..."}
 * Header values and the key are text when they are valid UTF-8 without
 * NUL bytes, else base64; the raw value is always base64, so the exact
 * bytes can be re-examined.
 *
 * Durability follows the JSONL sink: sync() fsyncs and returns the file
 * length as the mark the feed records in the dedup log; open() cuts the
 * file back to the committed mark.
 *
 * Threading: one thread at a time.
 */
#ifndef CISHARE_QUARANTINE_H
#define CISHARE_QUARANTINE_H

#include "cishare/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cishare_quarantine_s cishare_quarantine_t;

typedef struct cishare_qheader_s {
    const char *name;
    const void *value; /**< NULL: a header without value */
    size_t len;
} cishare_qheader_t;

/** One invalid message; everything is borrowed for the call. */
typedef struct cishare_quarantine_rec_s {
    int64_t time_ms; /**< when it was quarantined (0: now) */
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *reason; /**< stable code, e.g. "bad-signature" */
    const char *detail; /**< human text, may be NULL */
    const cishare_qheader_t *headers;
    size_t header_cnt;
    const void *key; /**< NULL: no key */
    size_t key_len;
    const void *value;
    size_t value_len;
} cishare_quarantine_rec_t;

/**
 * Open (create) the quarantine file `path`. When has_mark, a longer file
 * is cut back to `mark` (lines of a batch never committed). *qp receives
 * a new writer the caller frees with cishare_quarantine_close().
 */
cishare_err_t cishare_quarantine_open(const char *path, bool has_mark,
                                      uint64_t mark, cishare_quarantine_t **qp,
                                      char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/** Append one record (buffered until sync). */
cishare_err_t cishare_quarantine_add(cishare_quarantine_t *q,
                                     const cishare_quarantine_rec_t *rec,
                                     char *errstr, size_t errstr_size);

/** Flush and fsync; *markp (may be NULL) receives the file length. */
cishare_err_t cishare_quarantine_sync(cishare_quarantine_t *q, uint64_t *markp,
                                      char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/** Records added since open. */
uint64_t cishare_quarantine_count(const cishare_quarantine_t *q);

/** Close (without sync). NULL is a no-op. */
void cishare_quarantine_close(cishare_quarantine_t *q);

#endif
