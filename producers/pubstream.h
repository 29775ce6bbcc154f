/*
 * cishare - a stream of records into one publisher, for the long-running
 * producers (`publish --follow`, `misp-bridge`): records are held until a
 * batch is full or the oldest one has waited max_delay_ms, then submitted
 * together (so one Merkle signature covers the batch), and every entry's
 * final outcome is handed back in the order the entries were added, as
 * soon as it is known (its delivery reports are in). Records whose outcome
 * was handed back are forgotten, so memory stays bounded however long the
 * stream runs.
 *
 * Entries carry the caller's tag (an input line number, a Kafka message
 * number). Besides records, the caller adds issues (records refused or
 * skipped before publishing, e.g. by an importer) and marks: a mark's
 * outcome comes once every entry added before it has its outcome, which
 * is how the bridge knows that a whole MISP event was delivered.
 *
 * Threading: one thread, the publisher's (publisher.h).
 */
#ifndef CISHARE_PUBSTREAM_H
#define CISHARE_PUBSTREAM_H

#include "publisher.h"

#include "cishare/err.h"
#include "cishare/importer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CISHARE_PUBSTREAM_OK,       /**< delivered to every topic */
    CISHARE_PUBSTREAM_REJECTED, /**< refused: bad input or a sharing rule */
    CISHARE_PUBSTREAM_FAILED,   /**< not (surely) delivered: Kafka side */
    CISHARE_PUBSTREAM_SKIPPED,  /**< nothing to share in it (not an error) */
    CISHARE_PUBSTREAM_MARK      /**< every entry before it is done */
} cishare_pubstream_status_t;

/** The outcome of one entry; strings borrowed for the callback only. */
typedef struct cishare_pubstream_outcome_s {
    uint64_t tag;
    cishare_pubstream_status_t status;
    const char *record;  /**< the record's name ("" for a mark) */
    const char *subject; /**< OK: the subject id (Kafka key) */
    const char *msg_id;  /**< OK: the message id (cishare.id) */
    const char *tlp;     /**< OK: the label published */
    const char *reason;  /**< not OK: short category */
    const char *detail;  /**< not OK: the problem */
} cishare_pubstream_outcome_t;

typedef void(cishare_pubstream_cb)(void *opaque,
                                   const cishare_pubstream_outcome_t *o);

typedef struct cishare_pubstream_s cishare_pubstream_t;

/**
 * A stream into pub (borrowed; it must outlive the stream). tlp_override
 * and audience (copied; NULL: none) apply to every record as in
 * cishare_publisher_submit(). batch: records per submission (>= 1);
 * max_delay_ms: how long the oldest held record may wait for a batch to
 * fill. NULL when out of memory.
 */
cishare_pubstream_t *cishare_pubstream_new(cishare_publisher_t *pub,
                                           int tlp_override,
                                           const char *audience, size_t batch,
                                           int max_delay_ms);
/** Free the stream (what is held is dropped unsent). NULL is a no-op. */
void cishare_pubstream_destroy(cishare_pubstream_t *ps);

/**
 * Add everything an import produced, under one tag, in this order: its
 * rejected entries, then its records, then its skipped entries (each
 * gets its outcome: nothing is dropped unreported). The messages are
 * moved out of imp (left cleared).
 * CISHARE_ERR_NOMEM only.
 */
cishare_err_t cishare_pubstream_add_import(cishare_pubstream_t *ps,
                                           uint64_t tag,
                                           cishare_import_result_t *imp);

/** Add one issue (status REJECTED, FAILED or SKIPPED) under tag.
 *  CISHARE_ERR_NOMEM only. */
cishare_err_t cishare_pubstream_add_issue(cishare_pubstream_t *ps, uint64_t tag,
                                          cishare_pubstream_status_t status,
                                          const char *record,
                                          const char *reason,
                                          const char *detail);

/** Add a mark under tag. CISHARE_ERR_NOMEM only. */
cishare_err_t cishare_pubstream_add_mark(cishare_pubstream_t *ps, uint64_t tag);

/**
 * Submit what is held when the batch is full, the oldest held record is
 * max_delay_ms old, or flush is true; serve delivery reports (without
 * waiting); call fn for every entry whose outcome is final, in order; and
 * forget them.
 *
 * @returns CISHARE_OK and *next_ms: how long the caller may wait before
 *          calling again (-1: nothing outstanding, wait for input);
 *          CISHARE_ERR_NOMEM.
 */
cishare_err_t cishare_pubstream_run(cishare_pubstream_t *ps, bool flush,
                                    cishare_pubstream_cb *fn, void *opaque,
                                    int *next_ms);

/** Entries added whose outcome was not handed back yet. */
size_t cishare_pubstream_outstanding(const cishare_pubstream_t *ps);

/**
 * The end of a stream: submit what is held, wait up to timeout_ms for the
 * delivery reports (cishare_publisher_flush(): what is still outstanding
 * then fails), and hand back every outcome.
 */
cishare_err_t cishare_pubstream_finish(cishare_pubstream_t *ps, int timeout_ms,
                                       cishare_pubstream_cb *fn, void *opaque);

#endif
