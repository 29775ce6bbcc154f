/*
 * cishare - the feed's de-duplication store and commit log.
 *
 * The set of message ids a feed has delivered (and of the places of the
 * records it quarantined: cishare_dedup_record_key), kept in memory in a Robin
 * Hood hash table of whole 16-byte ids (idset.h: 20 bytes per id after
 * open, which sizes the table once for the log's ids; 18-27 while it grows
 * by adds) and on disk in an append-only log. Each committed batch also
 * records the sinks' "marks" (for the JSONL sink: the file length after
 * the batch), so the log is the feed's single commit point.
 *
 * THE INVARIANT (exactly-once delivery on top of at-least-once reading)
 * --------------------------------------------------------------------
 * For each batch the feed does, in this order:
 *   1. sinks write the batch and sync it (fsync): the batch is PREPARED;
 *   2. cishare_dedup_commit(): ids + sink marks appended, one fsync: the
 *      batch is COMMITTED (a torn or missing batch record = not committed);
 *   3. Kafka offsets committed.
 * After a crash at any point, Kafka re-reads from the last committed
 * offset, which is at or before the first uncommitted message. A re-read
 * message is "seen" iff its batch reached step 2, i.e. iff it was
 * delivered; seen messages are skipped, the others delivered again.
 * A crash between 1 and 2 leaves prepared but uncommitted sink output:
 * sinks that append (JSONL) truncate back to the committed mark on open;
 * sinks that keep state by subject (STIX, blocklists) are idempotent and
 * simply re-apply the re-read messages.
 *
 * LOG FORMAT (little-endian)
 * --------------------------
 *   file header  "CSDEDUP1"                                    8 bytes
 *   batch        +--------+-------+---------+--------+
 *                | "BTCH" | n_ids | n_marks | crc32c |   16 bytes
 *                +--------+-------+---------+--------+
 *                n_ids   x 16-byte id
 *                n_marks x (24-byte NUL-padded name, u64 value)
 * crc32c covers the header's first 12 bytes and the body. A short or
 * bad batch at the end is a torn write: it and everything after it is cut
 * off on open. Compaction rewrites the log as one batch (more when there
 * are more than 2^26 ids, the most a batch may hold; marks in the last),
 * streamed from the table (temp file, fsync, rename, fsync of the folder).
 *
 * Threading: one thread at a time per store.
 */
#ifndef CISHARE_DEDUP_H
#define CISHARE_DEDUP_H

#include "cishare/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CISHARE_DEDUP_ID_BYTES  16
#define CISHARE_DEDUP_MARK_NAME 24 /**< mark name bound incl. NUL */
#define CISHARE_DEDUP_MAX_MARKS 16

typedef struct cishare_dedup_s cishare_dedup_t;

/**
 * Open (or create) the store at `path`, load every committed batch, and
 * cut off a torn tail. On success *dp is a new store the caller frees with
 * cishare_dedup_close().
 * @returns CISHARE_OK, CISHARE_ERR_IO, CISHARE_ERR_VALIDATION (not a dedup
 *          log), CISHARE_ERR_NOMEM.
 */
cishare_err_t cishare_dedup_open(const char *path, cishare_dedup_t **dp,
                                 char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/** Close the store (pending adds are lost). NULL is a no-op. */
void cishare_dedup_close(cishare_dedup_t *d);

/**
 * A message id as text -> 16 bytes: a UUID ("8-4-4-4-12") or 32 hex
 * digits give their bytes; any other text is hashed (BLAKE2b-128).
 */
void cishare_dedup_id_from_text(const char *text,
                                uint8_t id[CISHARE_DEDUP_ID_BYTES]);

/**
 * The feed's de-duplication key of a verified message: BLAKE2b-128 of
 * "cishare/dedup/v1", the origin, a NUL and the message id. The id alone
 * is chosen by whoever signs a message, so another participant could
 * publish its own signed message under a genuine message's id and have
 * the genuine one dropped as a duplicate; keyed by origin too, it cannot.
 * Relayed copies keep the origin, so they stay duplicates.
 */
void cishare_dedup_key(const char *origin, const char *id,
                       uint8_t key[CISHARE_DEDUP_ID_BYTES]);

/**
 * The key of a record the feed quarantined: BLAKE2b-128 of
 * "cishare/dedup/record/v1", the topic, a NUL, the partition and the
 * offset (big-endian 4 and 8 bytes). A quarantined record may claim no
 * id, or a forged one; its place in the log is what makes it the same
 * record when it is read again (a commit refused in a rebalance).
 */
void cishare_dedup_record_key(const char *topic, int32_t partition,
                              int64_t offset,
                              uint8_t key[CISHARE_DEDUP_ID_BYTES]);

/** True if id was committed or added in the pending batch. */
bool cishare_dedup_seen(const cishare_dedup_t *d,
                        const uint8_t id[CISHARE_DEDUP_ID_BYTES]);

/**
 * Add id to the pending batch (visible to _seen() at once, durable only
 * after _commit()). Returns CISHARE_OK (also when already present) or
 * CISHARE_ERR_NOMEM.
 */
cishare_err_t cishare_dedup_add(cishare_dedup_t *d,
                                const uint8_t id[CISHARE_DEDUP_ID_BYTES]);

/** Set a sink mark for the pending batch (name < CISHARE_DEDUP_MARK_NAME). */
cishare_err_t cishare_dedup_set_mark(cishare_dedup_t *d, const char *name,
                                     uint64_t value);

/** The last value of mark `name` (committed or pending); false if none. */
bool cishare_dedup_get_mark(const cishare_dedup_t *d, const char *name,
                            uint64_t *valuep);

/**
 * Append the pending batch (ids and marks) and fsync: the commit point.
 * A no-op when nothing is pending. Compacts the log when batch overhead
 * exceeds the ids themselves. After a failure the store must be closed.
 */
cishare_err_t cishare_dedup_commit(cishare_dedup_t *d, char *errstr,
                                   size_t errstr_size)
    __attribute__((warn_unused_result));

/** Rewrite the log as one batch (atomic). Pending adds must be committed. */
cishare_err_t cishare_dedup_compact(cishare_dedup_t *d, char *errstr,
                                    size_t errstr_size)
    __attribute__((warn_unused_result));

/** Number of ids (committed and pending). */
size_t cishare_dedup_count(const cishare_dedup_t *d);
/** Bytes of memory the store holds (table, pending batch, struct). */
size_t cishare_dedup_memory(const cishare_dedup_t *d);
/** Bytes cut off the log's tail on open (a torn batch), for reports. */
uint64_t cishare_dedup_torn_bytes(const cishare_dedup_t *d);

#endif
