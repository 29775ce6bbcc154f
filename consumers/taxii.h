/*
 * cishare - the TAXII 2.1 index of `cishare serve`: what a participant's
 * feed delivered, as STIX 2.1 objects (the STIX sink's mapping,
 * sinks/stix.h), in <state-dir>/taxii.db, and the queries of the TAXII
 * objects, manifest and versions endpoints.
 *
 * Source of truth: the feed's archive (archive.h), opened read-only; the
 * feed keeps writing it (WAL: readers run beside the writer). Kafka is
 * never read again. The index tails the archive's `messages` by rowid
 * (meta key archive_rowid), so a restart or new feed output costs only
 * the new rows.
 *
 * Table objects (seq INTEGER PRIMARY KEY, id, type, version, date_added,
 * tlp, json), one row per object version, UNIQUE(id, version):
 *   version     the object's `modified` (`created` for markings)
 *   date_added  ms: the delivery time of the message it came from, never
 *               before an earlier seq's (the feed's clock may step back),
 *               so paging by seq and filtering by date_added agree
 *   tlp         the message's label; "" for the objects every collection
 *               holds (identities, the TLP extension-definition)
 * A marking-definition is added (tlp = its own label) when its label is
 * first used. A revocation adds, for every object of the revoked subject
 * (same origin), a new version with "revoked": true and a `modified`
 * 1 ms after its latest version (or the revocation's time if later), so
 * a client that pulled the object learns that it is revoked. A copy of
 * a revoked subject delivered after the revocation is revoked again.
 *
 * Threading: one handle per thread. The writer (update) and readers may
 * be separate handles on the same file.
 */
#ifndef CISHARE_TAXII_H
#define CISHARE_TAXII_H

#include "cishare/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cishare_taxii_s cishare_taxii_t;

/** Most objects one response holds (a larger `limit` is cut to it). */
#define CISHARE_TAXII_LIMIT_MAX 1000
/** Objects of a response without `limit`. */
#define CISHARE_TAXII_LIMIT_DEFAULT 100

/**
 * Open the index at path. writer: create it and tail the archive at
 * archive_path (opened read-only); else only read the index (archive_path
 * unused). CISHARE_ERR_NOT_FOUND: no archive (errstr says the feed writes
 * it), CISHARE_ERR_IO: SQLite (errstr names the file).
 */
cishare_err_t cishare_taxii_open(const char *path, const char *archive_path,
                                 bool writer, cishare_taxii_t **tp,
                                 char *errstr, size_t errstr_size);
/** Close. NULL is a no-op. */
void cishare_taxii_close(cishare_taxii_t *t);

/**
 * Writer: add the archive's messages not indexed yet, in transactions of
 * at most a few thousand messages. *messagesp (may be NULL) receives the
 * messages read, *objectsp the object versions added.
 */
cishare_err_t cishare_taxii_update(cishare_taxii_t *t, uint64_t *messagesp,
                                   uint64_t *objectsp, char *errstr,
                                   size_t errstr_size);

/** Object versions in the index, of label tlp (NULL: all). */
uint64_t cishare_taxii_count(cishare_taxii_t *t, const char *tlp);

/** The TLP labels of indexed objects, in TLP order, as a new JSON array
 *  of strings (caller decrefs; NULL: out of memory or SQLite error). */
json_t *cishare_taxii_labels(cishare_taxii_t *t);

/** match[version] terms (a bit set) */
#define CISHARE_TAXII_V_LAST  1u
#define CISHARE_TAXII_V_FIRST 2u
#define CISHARE_TAXII_V_ALL   4u

/** A parsed request: filters and paging. */
typedef struct cishare_taxii_query_s {
    const char *tlp;     /**< collection label; NULL: the feed (all) */
    int64_t added_after; /**< ms; -1: none */
    int64_t after_seq;   /**< from `next`; 0: from the start */
    size_t limit;
    json_t *types;    /**< match[type] strings; NULL: any */
    json_t *ids;      /**< match[id] strings; NULL: any */
    unsigned vmask;   /**< CISHARE_TAXII_V_*; 0: only `versions` */
    json_t *versions; /**< match[version] times (strings as stored) */
} cishare_taxii_query_t;

/** Which endpoint answers */
typedef enum {
    CISHARE_TAXII_OBJECTS,  /**< envelope of objects */
    CISHARE_TAXII_MANIFEST, /**< manifest of object records */
    CISHARE_TAXII_VERSIONS  /**< versions of one object (ids[0]) */
} cishare_taxii_kind_t;

/**
 * Parse the request parameters of endpoint kind into *q: get(opaque,
 * name) returns the value of query parameter name or NULL. Defaults:
 * limit CISHARE_TAXII_LIMIT_DEFAULT (cut to CISHARE_TAXII_LIMIT_MAX),
 * match[version] "last" (objects, manifest) or "all" (versions).
 * CISHARE_ERR_VALIDATION with errstr naming the parameter and the
 * problem (the server answers 400). The caller frees with
 * cishare_taxii_query_clear() whatever the result.
 */
cishare_err_t
cishare_taxii_query_parse(cishare_taxii_query_t *q, cishare_taxii_kind_t kind,
                          const char *(*get)(void *opaque, const char *name),
                          void *opaque, char *errstr, size_t errstr_size);
void cishare_taxii_query_clear(cishare_taxii_query_t *q);

/** The result of cishare_taxii_query(). */
typedef struct cishare_taxii_page_s {
    char *body;       /**< the JSON body, malloc()ed (caller frees) */
    size_t len;       /**< its length */
    size_t count;     /**< records in it */
    int64_t first_ms; /**< date_added of the first record; 0: none */
    int64_t last_ms;  /**< ... of the last */
    bool more;
} cishare_taxii_page_t;

/**
 * Answer query q as endpoint kind. CISHARE_ERR_IO for SQLite errors,
 * CISHARE_ERR_NOMEM.
 */
cishare_err_t cishare_taxii_query(cishare_taxii_t *t,
                                  const cishare_taxii_query_t *q,
                                  cishare_taxii_kind_t kind,
                                  cishare_taxii_page_t *page, char *errstr,
                                  size_t errstr_size);

/** "YYYY-MM-DDTHH:MM:SS.sssZ" of ms (TAXII timestamps), out >= 32. */
void cishare_taxii_time(int64_t ms, char out[32]);

#endif
