/*
 * cishare - the feed's archive: every message the feed delivers, in an
 * SQLite database (<state-dir>/archive.db), for `cishare incidents`,
 * `cishare receipts` and `cishare report`. Kafka is not read again for
 * them: the archive is the participant's durable record of what it
 * received and, through its own feed (the origin always receives its own
 * messages), what it sent.
 *
 * Commit order: the feed adds each delivered message in poll order
 * inside one transaction per batch and commits it after the sinks are
 * synced and before the dedup commit (dedup.h). Adding is idempotent by
 * (origin, message id), so a batch re-delivered after a crash between the
 * two commits changes nothing. Rows are keyed by origin as the seen set
 * is (dedup.h): message ids are chosen by their signers, and another
 * participant's message under the same id must not keep the genuine one
 * out of the archive.
 *
 * Tables (schema version 1; the `sqlite3` shell reads them):
 *   messages   one row per delivered message: envelope fields, the
 *              broker's append time and record position, `sent` (the
 *              origin is this participant), `revoked`, the payload JSON
 *   notices    incident notices: incident id, stage, category, impact,
 *              mode, legal basis, detection and report times, `flag`
 *              ("out-of-order ...": delivered, never dropped)
 *   receipts   receipts for messages of this participant:
 *              (receipt_of_origin, receipt_of, recipient) unique, so a
 *              receipt sent twice counts once
 *   sightings  sightings: sighted subject and origin, false positive
 *
 * Times are ms since the epoch (UTC).
 *
 * Threading: one archive handle per thread.
 */
#ifndef CISHARE_ARCHIVE_H
#define CISHARE_ARCHIVE_H

#include "cishare/config.h"
#include "cishare/directory.h"
#include "cishare/err.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cishare_archive_s cishare_archive_t;

/**
 * Open (and with create, create) the archive at path. Read-only opens
 * refuse a missing file with CISHARE_ERR_NOT_FOUND (errstr names it and
 * says that the feed writes it). A file that is not an archive, or of a
 * newer schema, is CISHARE_ERR_VALIDATION.
 */
cishare_err_t cishare_archive_open(const char *path, bool create,
                                   cishare_archive_t **ap, char *errstr,
                                   size_t errstr_size);
/** Roll back what is not committed, stop the checkpointer and close.
 *  NULL is a no-op. */
void cishare_archive_close(cishare_archive_t *a);

/** Checkpoints done by the background checkpointer so far (opened with
 *  create: a thread of its own copies the WAL into the database once it
 *  holds 1000 pages, so a commit never waits for that copy). */
uint64_t cishare_archive_checkpoints(cishare_archive_t *a);

/** A delivered message without its JSON tree: the envelope's fields and
 *  the JSON texts of the audience and payload (as in the feed's line,
 *  cishare_message_render_line_spans()). All borrowed. */
typedef struct cishare_archive_fields_s {
    const char *id, *type, *tlp, *origin, *sector;
    const char *subject;    /**< the Kafka key (the payload's subject) */
    const char *relayed_by; /**< the last relay hop; NULL: an original */
    int64_t created_ms;
    const char *audience; /**< JSON array text */
    size_t audience_len;
    const char *payload; /**< JSON object text */
    size_t payload_len;
} cishare_archive_fields_t;

/** A delivered message, as the feed saw it (all borrowed). */
typedef struct cishare_archive_rec_s {
    const json_t *msg; /**< the feed's JSON (cishare_message_to_json) */
    /** when msg is NULL: the same message as fields and texts (the
     *  payload is parsed only for the types whose rows read it) */
    const cishare_archive_fields_t *fields;
    const char *me;       /**< the feed's participant id */
    int64_t delivered_ms; /**< when the feed delivered it */
    int64_t appended_ms;  /**< the broker's append time; <= 0: unknown */
    const char *topic;    /**< where it was read; NULL: unknown */
    int partition;
    int64_t offset;
} cishare_archive_rec_t;

/**
 * Add one delivered message (idempotent by origin and message id) in the open
 * batch transaction (begun on the first add). A revocation marks what it
 * revokes (same origin, same subject) revoked. An incident notice that
 * does not follow its incident's earlier notices (an update or detailed
 * notice with no preliminary, a stage after closed or before one already
 * seen) is added with a flag: *flagp (when not NULL) receives a static
 * text saying why, or NULL. A receipt adds a row to `receipts`.
 *
 * Errors: CISHARE_ERR_VALIDATION (msg lacks an envelope field),
 * CISHARE_ERR_IO (SQLite; errstr names the file).
 */
cishare_err_t cishare_archive_add(cishare_archive_t *a,
                                  const cishare_archive_rec_t *rec,
                                  const char **flagp, char *errstr,
                                  size_t errstr_size);

/**
 * Write the open batch to the write-ahead log, not synced, if it was
 * begun 50 ms ago or more (else nothing): the feed calls it after each poll
 * batch, so that the durable commit has little left to write. A staged
 * batch is not durable until cishare_archive_commit(); if the feed stops
 * before, its rows stay (a crash may lose them) and the messages read
 * again are ignored as already archived.
 */
cishare_err_t cishare_archive_stage(cishare_archive_t *a, char *errstr,
                                    size_t errstr_size);

/** Commit the open batch and fsync the write-ahead log: every staged
 *  batch is durable. Nothing to commit: OK. */
cishare_err_t cishare_archive_commit(cishare_archive_t *a, char *errstr,
                                     size_t errstr_size);

/** Messages added (not ignored as already archived) since open. */
uint64_t cishare_archive_added(const cishare_archive_t *a);

/** The database handle, for queries (incidents, receipts, report). */
sqlite3 *cishare_archive_db(cishare_archive_t *a);
/** The file the archive was opened from. */
const char *cishare_archive_path(const cishare_archive_t *a);

/**
 * The archive file of a configuration: <cishare.state-dir>/archive.db,
 * or <out>/archive.db when the state dir is not set (as the feed does;
 * out NULL: "."). Writes into buf; false when it does not fit.
 */
bool cishare_archive_default_path(const cishare_config_t *conf, const char *out,
                                  char *buf, size_t size);

/**
 * For the commands that read the archive (cishare incidents, receipts,
 * report; consumers/cmd_archive.c): cishare.participant of conf (*mep, in
 * *dirp), the signed directory (*dirp; no secret key is loaded) and the
 * archive `archive` (NULL: cishare_archive_default_path()) opened
 * read-only (*ap). Errors are printed as "<cmd>: ...". The caller frees
 * *dirp and closes *ap whatever the result.
 * @returns CISHARE_EXIT_OK; CISHARE_EXIT_USAGE (participant, directory,
 *          configuration); CISHARE_EXIT_FAIL (the archive is missing or
 *          unreadable; out of memory).
 */
int cishare_archive_cli_open(const char *cmd, const cishare_config_t *conf,
                             const char *archive, cishare_directory_t **dirp,
                             const cishare_participant_t **mep,
                             cishare_archive_t **ap);

#endif
