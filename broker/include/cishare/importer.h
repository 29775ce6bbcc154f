/*
 * cishare - importers: STIX 2.1 bundles, MISP events, CSV, free text and
 * native JSON, all turned into native JSON messages (the form `publish
 * --format json` reads: {"type", "tlp"?, "audience"?, "expires"?,
 * "payload"}).
 *
 * An import never drops anything silently. Every input object ends up in
 * exactly one of three lists:
 *
 *   recs      messages to publish;
 *   rejected  records that should have been importable but are bad
 *             (invalid timestamp, unknown TLP tag, missing field); publish
 *             reports them and exits non-zero;
 *   skipped   objects that are not shareable as a cishare message
 *             (identity, malware, relationship, marking-definition, a
 *             MISP comment attribute, ...); counted and reported, not an
 *             error.
 *
 * A file that cannot be read or parsed at all (not JSON, unknown shape) is
 * an error of cishare_import_file() itself, with a message naming the
 * file (and line and column for JSON).
 *
 * The mapping of every format is documented in producers/importers/README.md.
 */
#ifndef CISHARE_IMPORTER_H
#define CISHARE_IMPORTER_H

#include "cishare/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/** Input bound: larger files are refused (CISHARE_ERR_TOO_LARGE). */
#define CISHARE_IMPORT_MAX_SIZE (64u * 1024u * 1024u)

/** One imported message. */
typedef struct cishare_import_rec_s {
    json_t *msg;  /**< native JSON message (owned); "tlp" is set when the
                       input carried a label, absent otherwise */
    char *record; /**< names the input record, e.g.
                       "apt1.json: indicator--031778a4-..." or
                       "list.csv:12" (owned) */
} cishare_import_rec_t;

/** One record that was not imported. */
typedef struct cishare_import_issue_s {
    char *record; /**< as in cishare_import_rec_t (owned) */
    char *reason; /**< short stable category used for counts, e.g.
                       "not a shareable object", "invalid timestamp" */
    char *detail; /**< the specific problem (owned; may equal "") */
} cishare_import_issue_t;

typedef struct cishare_import_result_s {
    cishare_import_rec_t *recs;
    size_t cnt;
    cishare_import_issue_t *rejected;
    size_t rejected_cnt;
    cishare_import_issue_t *skipped;
    size_t skipped_cnt;
    size_t recs_size_, rejected_size_, skipped_size_; /* private */
} cishare_import_result_t;

/** Formats; CISHARE_IMPORT_AUTO detects from the name and content. */
typedef enum {
    CISHARE_IMPORT_AUTO = 0,
    CISHARE_IMPORT_JSON, /**< native JSON: one message, an array, JSON Lines */
    CISHARE_IMPORT_STIX,
    CISHARE_IMPORT_MISP,
    CISHARE_IMPORT_CSV,
    CISHARE_IMPORT_TEXT, /**< free text: one or more observables a line */
} cishare_import_format_t;

/** Parse "json", "stix", "misp", "csv", "text" (or "auto"). */
bool cishare_import_format_parse(const char *text,
                                 cishare_import_format_t *fmtp);
const char *cishare_import_format_name(cishare_import_format_t fmt);

/** Zero a result before first use. */
void cishare_import_result_init(cishare_import_result_t *res);
/** Free everything a result holds and zero it. NULL is a no-op. */
void cishare_import_result_clear(cishare_import_result_t *res);

/**
 * Import one file ("-" = stdin) and APPEND what it holds to `res` (so one
 * result can collect several files). `fmt` AUTO detects: .csv -> CSV,
 * .txt -> text, otherwise JSON content: a bundle (or an object carrying
 * STIX "objects") -> STIX; {"Event"}, {"response"}, a bare event, a feed
 * manifest -> MISP; {"type","payload"}, an array of those, JSON Lines ->
 * native JSON. A .json file that is not valid JSON is an error.
 *
 * @param res   receives records, rejected and skipped entries; on error
 *              nothing of this file is appended
 * @returns CISHARE_OK (even when records were rejected: see res);
 *          CISHARE_ERR_IO, CISHARE_ERR_TOO_LARGE, CISHARE_ERR_PARSE (not
 *          JSON / malformed CSV), CISHARE_ERR_VALIDATION (unrecognised
 *          shape), CISHARE_ERR_NOMEM; errstr names the file.
 */
cishare_err_t cishare_import_file(const char *path, cishare_import_format_t fmt,
                                  cishare_import_result_t *res, char *errstr,
                                  size_t errstr_size);

/**
 * A file opened for import, read a chunk at a time (cishare publish).
 * JSON Lines of native messages are parsed as they are asked for, so that
 * publishing starts with the first records, overlaps the parsing, and
 * memory stays bounded by a chunk; every other input is imported whole by
 * cishare_import_open() and handed out at once.
 */
typedef struct cishare_import_src_s cishare_import_src_t;

/**
 * Read path ("-" = stdin) and check it as cishare_import_file() does:
 * every error that refuses the whole file (cannot read, too large, not
 * JSON, unrecognised shape) is returned here, so a caller that opens all
 * its files first sends nothing from a bad set. Errors as
 * cishare_import_file(); *srcp is NULL on error.
 */
cishare_err_t cishare_import_open(const char *path, cishare_import_format_t fmt,
                                  cishare_import_src_t **srcp, char *errstr,
                                  size_t errstr_size);

/** The most records plus rejections src can still yield (for reserving
 *  room for their outcomes before the first is sent). */
size_t cishare_import_bound(const cishare_import_src_t *src);

/**
 * APPEND to `res` the next records of src, up to `max` of them
 * (with the rejections and skipped objects met on the way, in input
 * order); *donep is true once src has nothing more.
 * @returns CISHARE_OK or CISHARE_ERR_NOMEM (errstr names the file; what
 *          was appended before stays in res).
 */
cishare_err_t cishare_import_next(cishare_import_src_t *src, size_t max,
                                  cishare_import_result_t *res, bool *donep,
                                  char *errstr, size_t errstr_size);

/** Where src stands, e.g. "list.jsonl:1201" (the next unread line), for
 *  naming what was not read. */
const char *cishare_import_where(cishare_import_src_t *src);

/** Free src (NULL is a no-op). */
void cishare_import_close(cishare_import_src_t *src);

/** Free the records and rejections of res (handed on to a publisher),
 *  keeping its skipped entries (for the summary) and its room. */
void cishare_import_result_drop_handled(cishare_import_result_t *res);

/**
 * Same on a buffer already in memory; `name` labels records and errors
 * (its extension is used for detection like a path's). The buffer is only
 * read during the call.
 */
cishare_err_t cishare_import_buf(const char *name, const char *buf, size_t len,
                                 cishare_import_format_t fmt,
                                 cishare_import_result_t *res, char *errstr,
                                 size_t errstr_size);

/**
 * Count issues by reason: calls fn(reason, count, opaque) once per
 * distinct reason, in order of first appearance.
 */
void cishare_import_count_reasons(
    const cishare_import_issue_t *issues, size_t cnt,
    void (*fn)(const char *reason, size_t count, void *opaque), void *opaque);

#endif
